package scheduler

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/storage"
)

// fakeLeader records results and answers Assignments from its own FSM.
type fakeLeader struct {
	f       *fsm.FSM
	mu      sync.Mutex
	results []*statepb.ReportResult
	got     chan struct{}
}

func (l *fakeLeader) ReportResult(_ context.Context, r *statepb.ReportResult) (bool, string, error) {
	l.mu.Lock()
	l.results = append(l.results, proto.Clone(r).(*statepb.ReportResult))
	l.mu.Unlock()
	select {
	case l.got <- struct{}{}:
	default:
	}
	return true, "", nil
}

func (l *fakeLeader) Assignments(_ context.Context, node string) ([]*statepb.Step, error) {
	var out []*statepb.Step
	for _, st := range l.f.State().StepsOnNode(nil, node) {
		if st.Status == fsm.StepRunning {
			out = append(out, st)
		}
	}
	return out, nil
}

func (l *fakeLeader) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.results)
}

// placed returns a fixture whose step "a" (of the given type and params) is
// RUNNING on node n1.
func placed(t *testing.T, stepJSON string) *planFixture {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": `+stepJSON+`}]}}`)
	px.members = []Member{{Name: "n1"}}
	// Runtimes measure sleeps from the attempt's start, so start it now.
	px.now = time.Now()
	px.round()
	if st := px.step("a"); st.Status != fsm.StepRunning || st.Node != "n1" {
		t.Fatalf("a is %s on %q", st.Status, st.Node)
	}
	return px
}

func startWorker(t *testing.T, replica *fsm.FSM, leader Reporter) *Worker {
	t.Helper()
	data, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	w := &Worker{Node: "n1", State: replica, Reporter: leader, Data: data, Now: time.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Verify: true}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

func waitResult(t *testing.T, l *fakeLeader) *statepb.ReportResult {
	t.Helper()
	select {
	case <-l.got:
	case <-time.After(10 * time.Second):
		t.Fatal("no result reported")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.results[0]
}

func TestWorkerRunsWhatItsReplicaAssigns(t *testing.T) {
	px := placed(t, `{"id": "a", "type": "NoOp"}`)
	leader := &fakeLeader{f: px.f, got: make(chan struct{}, 1)}
	startWorker(t, px.f, leader)
	r := waitResult(t, leader)
	a := px.step("a").Attempts[0]
	if r.Outcome != fsm.AttemptSucceeded || r.Generation != a.Generation || r.AttemptNumber != 1 || r.Node != "n1" {
		t.Fatalf("result %+v for attempt %+v", r, a)
	}
}

// A poke makes the worker fetch and start an attempt its replica has not
// applied yet, and the replica's lag does not cancel it.
func TestWorkerStartsPokedAttemptBeforeItsReplicaHasIt(t *testing.T) {
	px := placed(t, `{"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 1}}}`)
	leader := &fakeLeader{f: px.f, got: make(chan struct{}, 1)}
	// The node's replica has only the entries before the assignment.
	replica := fsm.New()
	replica.ApplyLocal(1, &statepb.PushWorkflow{WorkflowId: "other", Definition: "{}", Digest: "x", Now: px.ts()})
	w := startWorker(t, replica, leader)
	w.Poke()
	r := waitResult(t, leader)
	if r.Outcome != fsm.AttemptSucceeded || r.Generation != px.step("a").Attempts[0].Generation {
		t.Fatalf("poked attempt reported %+v", r)
	}
}

// An attempt the state no longer wants (stopped, fenced) is cancelled and
// reports nothing.
func TestWorkerStopsFencedAttempt(t *testing.T) {
	px := placed(t, `{"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 60}}}`)
	leader := &fakeLeader{f: px.f, got: make(chan struct{}, 1)}
	w := startWorker(t, px.f, leader)
	running := func() int {
		w.init()
		w.mu.Lock()
		defer w.mu.Unlock()
		return len(w.running)
	}
	deadline := time.Now().Add(10 * time.Second)
	for running() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the attempt never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: px.inst, Reason: "test", Now: px.ts()})
	deadline = time.Now().Add(10 * time.Second)
	for running() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the stopped attempt kept running")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := leader.count(); n != 0 {
		t.Fatalf("a stopped attempt reported %d results", n)
	}
}

// Steps handed over with a poke start without a fetch and before the
// replica has them; steps placed on another node are ignored.
func TestWorkerStartsAcceptedStepsWithoutFetching(t *testing.T) {
	px := placed(t, `{"id": "a", "type": "NoOp"}`)
	leader := &fakeLeader{f: px.f, got: make(chan struct{}, 1)}
	replica := fsm.New()
	replica.ApplyLocal(1, &statepb.PushWorkflow{WorkflowId: "other", Definition: "{}", Digest: "x", Now: px.ts()})
	// A Reporter whose Assignments fails: a fetch would find nothing.
	w := startWorker(t, replica, &noFetch{leader})
	elsewhere := proto.Clone(px.step("a")).(*statepb.Step)
	elsewhere.Attempts[0].Node, elsewhere.Attempts[0].AttemptId, elsewhere.StepId = "n2", "wf/1/b/1", "b"
	w.Accept([]*statepb.Step{elsewhere, px.step("a")})
	w.mu.Lock()
	_, tookB := w.pushed[elsewhere.Attempts[0].AttemptId]
	w.mu.Unlock()
	if tookB {
		t.Fatal("the worker took an attempt placed on n2")
	}
	r := waitResult(t, leader)
	if r.StepId != "a" || r.Outcome != fsm.AttemptSucceeded || r.Generation != px.step("a").Attempts[0].Generation {
		t.Fatalf("accepted attempt reported %+v", r)
	}
}

type noFetch struct{ *fakeLeader }

func (noFetch) Assignments(context.Context, string) ([]*statepb.Step, error) {
	return nil, context.DeadlineExceeded
}
