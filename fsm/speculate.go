package fsm

import (
	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
)

// Speculation is the state as it would be after commands that are not
// committed yet. The leader plans on it, so that one entry carries attempt
// results, the steps they let start, and what those lead to in turn: one
// commit per step of a chain instead of two, and one round per foreach
// iteration instead of four.
//
// It lives on a copy-on-write snapshot of the store, in a write transaction
// that is never committed: the FSM does not change and no watcher wakes.
// It writes no timeline events (planning reads none), so the instances'
// LastEventSeq and the events table stay as they were; everything else is
// as the entry will leave it.
type Speculation struct {
	txn     *memdb.Txn
	base    *memdb.Txn // the snapshot's committed state, without the writes
	a       *applier
	abandon chan struct{}
	index   uint64
	feed    *writeFeed
	// written holds the instances the speculation wrote, from the
	// applier's list up to seen.
	written map[InstanceKey]bool
	seen    int
}

// Speculate starts a speculation from the current state.
func (f *FSM) Speculate() *Speculation {
	f.mu.RLock()
	db := f.db.Snapshot()
	index := f.applied
	abandon := f.abandon
	f.mu.RUnlock()
	txn := db.Txn(true)
	return &Speculation{txn: txn, base: db.Txn(false), a: &applier{txn: txn, index: index + 1, noTimeline: true, shared: true}, abandon: abandon, index: index, feed: f.writes}
}

// writtenKeys returns the instances the speculation wrote or deleted records
// of, in the order it first did.
func (s *Speculation) writtenKeys() []InstanceKey {
	seen := map[InstanceKey]bool{}
	var out []InstanceKey
	for _, k := range s.a.touched {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// wrote reports whether the speculation wrote or deleted the instance k's
// record or one of its steps.
func (s *Speculation) wrote(k InstanceKey) bool {
	if s.seen < len(s.a.touched) {
		if s.written == nil {
			s.written = map[InstanceKey]bool{}
		}
		for _, t := range s.a.touched[s.seen:] {
			s.written[t] = true
		}
		s.seen = len(s.a.touched)
	}
	return s.written[k]
}

// Base is the index of the newest entry in the state the speculation
// started from (FSM.AppliedIndex then).
func (s *Speculation) Base() uint64 { return s.index }

// State reads the speculated state.
func (s *Speculation) State() *State {
	return &State{txn: s.txn, abandon: s.abandon, applied: s.index, feed: s.feed, spec: s}
}

// Results applies attempt results and returns the outcome each would have
// (a *ReportResultOutcome or a *Rejection).
func (s *Speculation) Results(results []*statepb.ReportResult) []any {
	outs := make([]any, len(results))
	for i, r := range results {
		s.a.now = r.EndTime
		outs[i] = s.a.reportResult(r)
	}
	return outs
}

// Plan applies actions as an ApplyPlan entry would and returns those that
// applied, in order; the others would change nothing.
func (s *Speculation) Plan(now *timestamppb.Timestamp, actions []*statepb.PlanAction) []*statepb.PlanAction {
	s.a.now = now
	var applied []*statepb.PlanAction
	for _, act := range actions {
		if s.a.planAction(act) {
			applied = append(applied, act)
		}
	}
	return applied
}
