package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/fsm/statepb"
)

// soleLeader runs a one-server Raft in memory and waits until it leads.
func soleLeader(t *testing.T, f raft.FSM) *raft.Raft {
	t.Helper()
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.HeartbeatTimeout, conf.ElectionTimeout, conf.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	conf.LogOutput = nil
	conf.LogLevel = "ERROR"
	store := raft.NewInmemStore()
	addr, trans := raft.NewInmemTransport("")
	r, err := raft.NewRaft(conf, f, store, store, raft.NewInmemSnapshotStore(), trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: conf.LocalID, Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the sole server to lead", func() bool { return r.State() == raft.Leader })
	return r
}

// A caller whose time is up gets an error and nothing is appended: Raft
// would read the spent deadline as no deadline and wait for ever.
func TestProposeOutOfTimeAppendsNothing(t *testing.T) {
	f := &countFSM{}
	r := soleLeader(t, f)
	n := &Node{raft: r, cfg: Config{ApplyTimeout: 10 * time.Second}}
	cmd := &statepb.PushWorkflow{WorkflowId: "wf"}
	if _, err := n.Apply(context.Background(), cmd); err != nil {
		t.Fatalf("apply in time: %v", err)
	}
	before := r.LastIndex()
	past, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := n.Apply(past, cmd); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("apply past its deadline: %v, want the deadline's error", err)
	}
	canceled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if _, err := n.Apply(canceled, cmd); !errors.Is(err, context.Canceled) {
		t.Errorf("apply of a canceled call: %v, want context.Canceled", err)
	}
	if err := r.Barrier(5 * time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	if got := r.LastIndex(); got != before+1 {
		t.Errorf("log went from %d to %d: only the barrier should be appended", before, got)
	}
}

// Commands a shutting-down server drops may have been replicated: their
// callers are told the outcome is unknown, not that nothing was written.
func TestCommandsFailedByShutdownHaveUnknownOutcome(t *testing.T) {
	_, err := applied(failedFuture{raft.ErrRaftShutdown})
	if !errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("shutdown: %v, want ErrOutcomeUnknown", err)
	}
	if _, err := applied(failedFuture{raft.ErrEnqueueTimeout}); errors.Is(err, ErrOutcomeUnknown) {
		t.Errorf("a command never enqueued is reported as maybe written: %v", err)
	}
}

type failedFuture struct{ err error }

func (f failedFuture) Error() error  { return f.err }
func (f failedFuture) Response() any { return nil }
func (f failedFuture) Index() uint64 { return 0 }
