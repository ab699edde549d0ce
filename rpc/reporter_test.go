package rpc

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

// fakeLeaderCalls answers result calls as a leader would, holding each
// ReportResults call until release is closed, and records the calls.
type fakeLeaderCalls struct {
	release chan struct{}
	noBatch bool // answer ReportResults as a build that lacks it
	// hold, if set, picks the results whose calls wait for release; unset,
	// every call does.
	hold func(*statepb.ReportResult) bool

	mu      sync.Mutex
	batches []int // results per ReportResults call
	singles int
}

func outcomeFor(r *statepb.ReportResult) *clusterv1.ReportResultOutcome {
	switch r.StepId {
	case "gone":
		return &clusterv1.ReportResultOutcome{Refused: "no step gone"}
	case "fenced":
		return &clusterv1.ReportResultOutcome{Reason: "attempt 1 is not current"}
	}
	return &clusterv1.ReportResultOutcome{Accepted: true, Reason: r.StepId}
}

func (f *fakeLeaderCalls) ReportResults(ctx context.Context, req *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error) {
	if f.noBatch {
		return nil, connect.NewError(connect.CodeUnimplemented, errors.New("not implemented"))
	}
	f.mu.Lock()
	f.batches = append(f.batches, len(req.Msg.Results))
	f.mu.Unlock()
	held := f.hold == nil
	for _, r := range req.Msg.Results {
		held = held || f.hold(r)
	}
	if held {
		<-f.release
	}
	out := &clusterv1.ReportResultsResponse{}
	for _, r := range req.Msg.Results {
		out.Outcomes = append(out.Outcomes, outcomeFor(r))
	}
	return connect.NewResponse(out), nil
}

func (f *fakeLeaderCalls) ReportResult(ctx context.Context, req *connect.Request[clusterv1.ReportResultRequest]) (*connect.Response[clusterv1.ReportResultResponse], error) {
	f.mu.Lock()
	f.singles++
	f.mu.Unlock()
	o := outcomeFor(req.Msg.Result)
	if o.Refused != "" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New(o.Refused))
	}
	return connect.NewResponse(&clusterv1.ReportResultResponse{Accepted: o.Accepted, Reason: o.Reason}), nil
}

func (f *fakeLeaderCalls) Assignments(context.Context, *connect.Request[clusterv1.AssignmentsRequest]) (*connect.Response[clusterv1.AssignmentsResponse], error) {
	return nil, errors.New("not used")
}

type reportAnswer struct {
	accepted bool
	reason   string
	err      error
}

// reportAll reports results for the given step ids at once and returns
// each caller's answer.
func reportAll(r *Reporter, ids []string) []reportAnswer {
	out := make([]reportAnswer, len(ids))
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, reason, err := r.ReportResult(context.Background(), &statepb.ReportResult{WorkflowId: "wf", InstanceId: 1, StepId: id, AttemptNumber: 1})
			out[i] = reportAnswer{a, reason, err}
		}()
	}
	wg.Wait()
	return out
}

func checkAnswers(t *testing.T, ids []string, got []reportAnswer) {
	t.Helper()
	for i, id := range ids {
		want := reportAnswer{accepted: true, reason: id}
		switch id {
		case "gone":
			want = reportAnswer{reason: "no step gone"}
		case "fenced":
			want = reportAnswer{reason: "attempt 1 is not current"}
		}
		if got[i].accepted != want.accepted || got[i].err != nil || (got[i].reason != want.reason && !(id == "gone" && got[i].reason != "")) {
			t.Errorf("result %s answered %+v, want %+v", id, got[i], want)
		}
	}
}

// Results reported while the node's calls are in flight share the next
// call, and each caller gets its own result's answer.
func TestReporterSendsResultsThatWaitTogether(t *testing.T) {
	defer func(d time.Duration) { reportStall = d }(reportStall)
	reportStall = time.Hour // no call counts as stalled here
	f := &fakeLeaderCalls{release: make(chan struct{})}
	r := &Reporter{client: f}
	ids := []string{"gone", "fenced"}
	for i := range 60 {
		ids = append(ids, fmt.Sprintf("s%d", i))
	}
	answers := make(chan []reportAnswer, 1)
	go func() { answers <- reportAll(r, ids) }()
	// Hold the first calls until all the results are queued behind them.
	for {
		r.mu.Lock()
		queued, flying := len(r.queue), r.inFlight
		r.mu.Unlock()
		f.mu.Lock()
		sent := 0
		for _, n := range f.batches {
			sent += n
		}
		calls := len(f.batches)
		f.mu.Unlock()
		if flying > maxReportCalls {
			t.Fatalf("%d calls in flight, at most %d allowed", flying, maxReportCalls)
		}
		if calls == flying && sent+queued == len(ids) {
			break
		}
		runtime.Gosched()
	}
	close(f.release)
	checkAnswers(t, ids, <-answers)
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.batches) > maxReportCalls+1 || f.singles != 0 {
		t.Fatalf("%d results took calls of %v and %d single calls; want at most %d calls", len(ids), f.batches, f.singles, maxReportCalls+1)
	}
	// The senders go once nothing is queued (a test timeout if not).
	for {
		r.mu.Lock()
		flying, queued := r.inFlight, len(r.queue)
		r.mu.Unlock()
		if queued != 0 {
			t.Fatalf("after the answers %d results are queued", queued)
		}
		if flying == 0 {
			break
		}
		runtime.Gosched()
	}
}

// A leader that does not know ReportResults (an older build) gets every
// result in a call of its own, and the node stops trying batches for a
// while.
func TestReporterFallsBackToOneResultACall(t *testing.T) {
	f := &fakeLeaderCalls{release: make(chan struct{}), noBatch: true}
	close(f.release)
	r := &Reporter{client: f}
	ids := []string{"a", "gone", "fenced", "b"}
	checkAnswers(t, ids, reportAll(r, ids))
	checkAnswers(t, []string{"c"}, reportAll(r, []string{"c"}))
	if f.singles != 5 || r.oneByOneUntil.IsZero() {
		t.Fatalf("%d single calls for 5 results (one by one until %v)", f.singles, r.oneByOneUntil)
	}
	// Once the leader knows ReportResults (upgraded, or another server
	// leads), batches come back after a while.
	f.noBatch = false
	r.oneByOneUntil = time.Now()
	checkAnswers(t, []string{"d"}, reportAll(r, []string{"d"}))
	if f.singles != 5 || len(f.batches) != 1 {
		t.Fatalf("after the one-by-one spell: %d single calls, batches %v", f.singles, f.batches)
	}
}

// A call can hang (its leader died with the connection open). Results that
// finish while every call hangs go in a call of their own once the calls
// count as stalled, and are answered though the others still hang.
func TestReporterSendsPastStalledCalls(t *testing.T) {
	defer func(d time.Duration) { reportStall = d }(reportStall)
	reportStall = 20 * time.Millisecond
	f := &fakeLeaderCalls{release: make(chan struct{}), hold: func(r *statepb.ReportResult) bool {
		return strings.HasPrefix(r.StepId, "stuck")
	}}
	r := &Reporter{client: f}
	stuck := make(chan []reportAnswer, maxReportCalls)
	for i := range maxReportCalls {
		go func() { stuck <- reportAll(r, []string{fmt.Sprintf("stuck%d", i)}) }()
		for { // one call each
			f.mu.Lock()
			n := len(f.batches)
			f.mu.Unlock()
			if n == i+1 {
				break
			}
			runtime.Gosched()
		}
	}
	fresh := make(chan []reportAnswer, 1)
	go func() { fresh <- reportAll(r, []string{"fresh"}) }()
	select {
	case got := <-fresh:
		checkAnswers(t, []string{"fresh"}, got)
	case <-time.After(time.Minute):
		t.Fatal("a result waited behind calls that hang")
	}
	close(f.release)
	for range maxReportCalls {
		got := <-stuck
		if !got[0].accepted || got[0].err != nil {
			t.Fatalf("a held result, once its call returned: %+v", got[0])
		}
	}
}
