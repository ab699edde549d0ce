package scheduler

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

type submitted struct {
	accepted bool
	reason   string
	err      error
}

func submitAsync(b *Results, ctx context.Context, r *statepb.ReportResult) <-chan submitted {
	ch := make(chan submitted, 1)
	go func() {
		a, why, err := b.Submit(ctx, r)
		ch <- submitted{a, why, err}
	}()
	return ch
}

// takeN waits until the inbox holds n results and takes them; the wake
// channel says when one arrived.
func takeN(t *testing.T, b *Results, n int) []*pendingResult {
	t.Helper()
	var got []*pendingResult
	for len(got) < n {
		select {
		case <-b.wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("inbox holds %d results, want %d", len(got), n)
		}
		got = append(got, b.take()...)
	}
	return got
}

func TestResultsInbox(t *testing.T) {
	b := NewResults()
	r1 := &statepb.ReportResult{WorkflowId: "w", InstanceId: 1, StepId: "a", AttemptNumber: 1, Generation: 7, Outcome: fsm.AttemptSucceeded}
	r2 := &statepb.ReportResult{WorkflowId: "w", InstanceId: 1, StepId: "b", AttemptNumber: 1, Generation: 8, Outcome: fsm.AttemptSucceeded}
	ctx := context.Background()

	if _, _, err := b.Submit(ctx, r1); !errors.Is(err, ErrNotPlanning) {
		t.Fatalf("submit with no loop: %v, want ErrNotPlanning", err)
	}

	b.open()
	first := submitAsync(b, ctx, r1)
	taken := takeN(t, b, 1)
	// The same result sent again while the first is in flight joins it.
	again := submitAsync(b, ctx, proto.Clone(r1).(*statepb.ReportResult))
	for senders := 0; senders < 2; {
		time.Sleep(time.Millisecond) // until the resend has joined; nothing else to wait on
		b.mu.Lock()
		senders = taken[0].senders
		b.mu.Unlock()
	}
	other := submitAsync(b, ctx, r2)
	taken = append(taken, takeN(t, b, 1)...)
	if len(taken) != 2 || taken[0].r != r1 || taken[1].r != r2 {
		t.Fatalf("taken %d results, want r1 then r2 (a resent r1 joins the first)", len(taken))
	}
	select {
	case s := <-again:
		t.Fatalf("resent r1 answered before r1 was: %+v", s)
	default:
	}
	answer(taken, []any{&fsm.ReportResultOutcome{Accepted: true}, &fsm.ReportResultOutcome{Reason: "fenced"}})
	for name, ch := range map[string]<-chan submitted{"first": first, "again": again} {
		if s := <-ch; !s.accepted || s.err != nil {
			t.Errorf("%s r1: %+v, want accepted", name, s)
		}
	}
	if s := <-other; s.accepted || s.reason != "fenced" || s.err != nil {
		t.Errorf("r2: %+v, want fenced", s)
	}

	// A rejection comes back as the error; an unanswered result when the
	// loop stops as ErrNotPlanning, so its sender applies it itself.
	rej := submitAsync(b, ctx, r2)
	answer(takeN(t, b, 1), []any{&fsm.Rejection{Code: fsm.RejectNotFound, Msg: "no step"}})
	if s := <-rej; !errors.As(s.err, new(*fsm.Rejection)) {
		t.Errorf("rejected: %+v, want the rejection", s)
	}
	left := submitAsync(b, ctx, r1)
	for {
		b.mu.Lock()
		n := len(b.pending)
		b.mu.Unlock()
		if n == 1 {
			break
		}
		<-b.wake
		b.mu.Lock()
		n = len(b.pending)
		b.mu.Unlock()
		if n == 1 {
			break
		}
	}
	b.close()
	if s := <-left; !errors.Is(s.err, ErrNotPlanning) {
		t.Errorf("left in the inbox at close: %+v, want ErrNotPlanning", s)
	}

	// A sender that gives up gets its context's error.
	b.open()
	cctx, cancel := context.WithCancel(ctx)
	gaveUp := submitAsync(b, cctx, r2)
	takeN(t, b, 1)
	cancel()
	if s := <-gaveUp; !errors.Is(s.err, context.Canceled) {
		t.Errorf("canceled sender: %+v", s)
	}
}
