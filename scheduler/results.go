package scheduler

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// ErrNotPlanning means no scheduling loop runs on this node (it is not the
// leader, or not yet): the caller applies the result itself.
var ErrNotPlanning = errors.New("no scheduling loop runs on this node")

// Results is where the leader's API hands attempt results to the scheduling
// loop, which commits them in the same entry as the steps they let start.
// Results that arrive while an entry is in flight share the next one.
type Results struct {
	mu      sync.Mutex
	active  bool
	pending []*pendingResult
	// unanswered are the results taken or pending, by attempt.
	unanswered map[string]*pendingResult
	wake       chan struct{}
}

type pendingResult struct {
	inbox    *Results
	key      string
	r        *statepb.ReportResult
	senders  int // how many Submits wait for it
	done     chan struct{}
	accepted bool
	reason   string
	err      error
}

// NewResults returns an inbox no loop drains yet.
func NewResults() *Results {
	return &Results{wake: make(chan struct{}, 1), unanswered: map[string]*pendingResult{}}
}

func resultKey(r *statepb.ReportResult) string {
	return fmt.Sprintf("%s/%d/%s/%d@%d", r.WorkflowId, r.InstanceId, r.StepId, r.AttemptNumber, r.Generation)
}

// Submit hands r to the scheduling loop and waits until the entry carrying
// it committed. It answers as the FSM did (accepted, or fenced with the
// reason), ErrNotPlanning when no loop runs here, or the commit's error (a
// cluster.ErrOutcomeUnknown among them).
func (b *Results) Submit(ctx context.Context, r *statepb.ReportResult) (bool, string, error) {
	outs, err := b.SubmitAll(ctx, []*statepb.ReportResult{r})
	if err != nil {
		return false, "", err
	}
	return outs[0].Accepted, outs[0].Reason, outs[0].Err
}

// ResultOutcome is what became of one result SubmitAll handed on.
type ResultOutcome struct {
	Accepted bool
	Reason   string
	Err      error
}

// SubmitAll hands several results to the scheduling loop at once and waits
// until the entries carrying them committed, answering each as Submit
// does. It fails as a whole only with ErrNotPlanning, or when ctx ends.
func (b *Results) SubmitAll(ctx context.Context, rs []*statepb.ReportResult) ([]ResultOutcome, error) {
	waiting := make([]*pendingResult, len(rs))
	b.mu.Lock()
	if !b.active {
		b.mu.Unlock()
		return nil, ErrNotPlanning
	}
	for i, r := range rs {
		// A worker that timed out and sent the same result again waits
		// for the first copy: the second would only be fenced by the
		// first, and cost the entry carrying it its plan.
		key := resultKey(r)
		p := b.unanswered[key]
		if p != nil && !proto.Equal(p.r, r) {
			p = nil
		}
		if p == nil {
			p = &pendingResult{inbox: b, key: key, r: r, done: make(chan struct{})}
			if _, taken := b.unanswered[key]; !taken {
				b.unanswered[key] = p
			}
			b.pending = append(b.pending, p)
		}
		p.senders++
		waiting[i] = p
	}
	select {
	case b.wake <- struct{}{}:
	default:
	}
	b.mu.Unlock()
	outs := make([]ResultOutcome, len(rs))
	for i, p := range waiting {
		select {
		case <-p.done:
			outs[i] = ResultOutcome{Accepted: p.accepted, Reason: p.reason, Err: p.err}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return outs, nil
}

// open starts taking results; close stops, failing those not taken with
// ErrNotPlanning so their senders apply them another way.
func (b *Results) open() {
	b.mu.Lock()
	b.active = true
	b.mu.Unlock()
}

func (b *Results) close() {
	b.mu.Lock()
	pending := b.pending
	b.pending, b.active = nil, false
	b.mu.Unlock()
	for _, p := range pending {
		p.finish(false, "", ErrNotPlanning)
	}
}

// take returns the results waiting for an entry.
func (b *Results) take() []*pendingResult {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.pending
	b.pending = nil
	return p
}

func (p *pendingResult) finish(accepted bool, reason string, err error) {
	p.accepted, p.reason, p.err = accepted, reason, err
	b := p.inbox
	b.mu.Lock()
	if b.unanswered[p.key] == p {
		delete(b.unanswered, p.key)
	}
	b.mu.Unlock()
	close(p.done)
}

// answer tells each sender what the FSM made of its result.
func answer(pending []*pendingResult, outcomes []any) {
	for i, p := range pending {
		if i >= len(outcomes) {
			p.finish(false, "", fmt.Errorf("no outcome for the result of attempt %d of %s", p.r.AttemptNumber, p.r.StepId))
			continue
		}
		switch o := outcomes[i].(type) {
		case *fsm.ReportResultOutcome:
			p.finish(o.Accepted, o.Reason, nil)
		case *fsm.Rejection:
			p.finish(false, "", o)
		default:
			p.finish(false, "", fmt.Errorf("unexpected outcome %T", o))
		}
	}
}
