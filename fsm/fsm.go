// Package fsm is Baton's replicated state machine: the state store, the
// commands that change it, and Raft snapshots of it. Apply is deterministic:
// times and ids travel inside commands, chosen by the leader.
package fsm

import (
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
)

// FSM implements raft.FSM, and raft.BatchingFSM (batch.go), over a go-memdb
// state store.
type FSM struct {
	mu      sync.RWMutex
	db      *memdb.MemDB
	abandon chan struct{}
	// applied is the Raft index of the newest entry applied or restored.
	applied uint64
	// changed is closed (and replaced) whenever an entry changes the state.
	changed chan struct{}
	// triggerEpoch counts the changes to what triggers are planned from.
	triggerEpoch uint64
	writes       *writeFeed
}

var _ raft.FSM = (*FSM)(nil)

// New returns an empty FSM.
func New() *FSM {
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		// The schema is a constant of this package; it cannot be invalid at run time.
		panic(fmt.Sprintf("state store schema: %v", err))
	}
	return &FSM{db: db, abandon: make(chan struct{}), changed: make(chan struct{}), writes: &writeFeed{}}
}

// State returns a point-in-time read view.
func (f *FSM) State() *State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &State{txn: f.db.Txn(false), abandon: f.abandon, applied: f.applied, feed: f.writes}
}

// Changed returns a channel that is closed at the next change of the state.
// Take it before reading State so that no change is missed.
func (f *FSM) Changed() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

func (f *FSM) notifyLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// AppliedIndex returns the index of the newest entry reflected in the state.
func (f *FSM) AppliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// Apply applies one Raft entry. Its return value is one of the *Result types
// of this package, or a *Rejection.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	m, err := Decode(l.Data)
	if err != nil {
		// Skipping an entry would silently diverge from the other nodes.
		panic(fmt.Sprintf("raft log index %d: %v", l.Index, err))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	if m == nil {
		return nil
	}
	return f.applyLocked(l.Index, m)
}

// applyLocked applies one command in a transaction of its own, which it
// aborts if the command wrote nothing (a rejection writes nothing).
func (f *FSM) applyLocked(index uint64, m proto.Message) any {
	a := &applier{txn: f.db.Txn(true), index: index}
	if sharesTxn(m) {
		a.db = f.db
	}
	res := a.apply(m)
	if !wrote(res) && !a.committed {
		a.txn.Abort()
		return res
	}
	a.txn.Commit()
	f.writes.add(index, a.touched)
	if a.triggerInputs {
		f.triggerEpoch++
	}
	f.notifyLocked()
	return res
}

// TriggerEpoch changes whenever an entry changes the workflows, versions,
// triggers or signals: while it stays the same, planning triggers again
// finds nothing new until one of them is due.
func (f *FSM) TriggerEpoch() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.triggerEpoch
}

// ApplyLocal applies a command outside Raft at the given index. Tests use it
// to drive the state machine without a log.
func (f *FSM) ApplyLocal(index uint64, m proto.Message) any {
	data, err := Encode(m)
	if err != nil {
		return &Rejection{Code: RejectInvalid, Msg: err.Error()}
	}
	return f.Apply(&raft.Log{Index: index, Type: raft.LogCommand, Data: data})
}

// Snapshot captures the state at this moment; Persist may run concurrently
// with later Applies.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &snapshot{db: f.db.Snapshot(), index: f.applied}, nil
}

// Restore replaces all state with a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, index, err := ReadSnapshot(rc)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	old := f.abandon
	f.db = db
	f.applied = index
	f.triggerEpoch++
	f.writes.reset()
	f.abandon = make(chan struct{})
	f.notifyLocked()
	f.mu.Unlock()
	// Readers blocked on the old store wake up and re-read the new one.
	close(old)
	return nil
}

// wrote reports whether an Apply result changed the state. Waking watchers
// for a no-op would make the scheduler re-plan the same round forever.
func wrote(res any) bool {
	switch r := res.(type) {
	case *Rejection:
		return false
	case *PlanResult:
		return r.wrote()
	case *ReportResultOutcome:
		return r.Accepted
	case *PushResult:
		return r.Created
	case *StartResult:
		return r.Created
	case *BreakpointResult:
		return r.Created || r.Deleted || r.recorded
	case *StopResult:
		return !r.Repeated
	case *ActionResult:
		return !r.Repeated
	case *WorkflowActionResult:
		return !r.Repeated
	case *ActivateResult:
		return !r.Repeated
	case *UnblockResult:
		return !r.Repeated
	}
	return true
}
