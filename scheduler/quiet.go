package scheduler

import (
	"fmt"
	"hash/fnv"
	"os"
	"slices"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// QuietInstances remembers the instances a leader's round planned nothing
// for, so that later rounds skip them until something they depend on
// changes. Without it every round plans every running instance: at
// thousands of instances waiting on long steps that was most of a round,
// and every step of every other instance waited for it.
//
// What planning such an instance reads is its own record, its steps'
// records, the members, and the time; a round remembers it only when that
// is all it read, which the round knows (round.plan). Reading anything
// else (placing a step, which reads the load, the permits and the
// signals; a loop, which reads its children) makes the instance volatile:
// it is planned every round. A remembered instance is planned again when
//   - the write feed (fsm.State.InstancesWritten) lists a write to its
//     record or one of its steps, or its record is another;
//   - the members, their tags or the grace for the dead change;
//   - the earliest time it waited for (a timeout, a retry, a node's grace)
//     comes;
//   - the round's state is a speculation that wrote it.
//
// One planning loop owns it; it is not safe for concurrent rounds.
type QuietInstances struct {
	replaced <-chan struct{}
	pos      fsm.FeedPos
	// asOf is the index of the state the feed has been read up to;
	// members is the fingerprint of the members the memos hold for.
	asOf    uint64
	members uint64
	m       map[fsm.InstanceKey]quietMemo
	rounds  uint64
	skips   int // instances skipped, for tests
	// Verify plans every instance a round skips as well, and panics if
	// that plans anything or waits for another time: a check for tests
	// (BATON_VERIFY_QUIET=1 sets it in agents).
	Verify bool
}

type quietMemo struct {
	inst *statepb.Instance
	// wake is the earliest time the instance waits for; zero if none.
	wake time.Time
}

// NewQuietInstances returns an empty QuietInstances, verifying when the
// environment asks for it.
func NewQuietInstances() *QuietInstances {
	return &QuietInstances{m: map[fsm.InstanceKey]quietMemo{}, Verify: os.Getenv("BATON_VERIFY_QUIET") == "1"}
}

// sweepEvery is how many rounds apart the memos of instances that ended or
// went away are dropped; until then they only take memory.
const sweepEvery = 64

// begin starts a round on s with the given members' fingerprint; false
// means the round may neither skip nor remember (s is older than what the
// memos hold).
func (q *QuietInstances) begin(s *fsm.State, members uint64) bool {
	if q == nil {
		return false
	}
	if q.replaced != s.Replaced() {
		clear(q.m)
		q.replaced = s.Replaced()
		q.pos, q.asOf = fsm.FeedPos{}, 0
	}
	if s.Applied() < q.asOf {
		return false
	}
	keys, next, ok := s.InstancesWritten(q.pos)
	if !ok {
		clear(q.m)
	}
	for _, k := range keys {
		delete(q.m, k)
	}
	q.pos, q.asOf = next, s.Applied()
	if members != q.members {
		clear(q.m)
		q.members = members
	}
	q.rounds++
	if q.rounds%sweepEvery == 0 {
		for k, e := range q.m {
			if s.Instance(nil, k.WorkflowID, k.InstanceID) != e.inst {
				delete(q.m, k)
			}
		}
	}
	return true
}

// quiet reports whether inst may be skipped at now, and the time it waits
// for.
func (q *QuietInstances) quiet(s *fsm.State, inst *statepb.Instance, now time.Time) (time.Time, bool) {
	k := fsm.KeyOfInstance(inst)
	e, ok := q.m[k]
	if !ok || e.inst != inst || (!e.wake.IsZero() && !now.Before(e.wake)) || s.Speculated(k) {
		return time.Time{}, false
	}
	return e.wake, true
}

// remember records that planning inst at this round's state planned
// nothing and waits for wake.
func (q *QuietInstances) remember(inst *statepb.Instance, wake time.Time) {
	q.m[fsm.KeyOfInstance(inst)] = quietMemo{inst: inst, wake: wake}
}

// membersPrint is a fingerprint of what planning a quiet instance reads of
// the members: their names, tags and suspicion, and when a missing one may
// be declared dead.
func membersPrint(members []Member, deadAfter time.Time) uint64 {
	var sum uint64
	for _, m := range members {
		h := fnv.New64a()
		fmt.Fprintf(h, "%s\x00%t", m.Name, m.Suspect)
		keys := make([]string, 0, len(m.Tags))
		for k := range m.Tags {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			fmt.Fprintf(h, "\x00%s=%s", k, m.Tags[k])
		}
		// Order-free: the members come in any order.
		sum += h.Sum64()
	}
	return sum ^ uint64(deadAfter.UnixNano())
}

// plan plans one admitted instance and reports whether the round ends it,
// skipping it when an earlier round planned nothing for it and nothing it
// read has changed (QuietInstances).
func (r *round) plan(inst *statepb.Instance) bool {
	if r.quiet != nil {
		if wake, ok := r.quiet.quiet(r.in.State, inst, r.in.Now); ok {
			if r.quiet.Verify {
				r.verifyQuiet(inst, wake)
			}
			r.quiet.skips++
			r.in.Views.keep(fsm.KeyOfInstance(inst))
			if !wake.IsZero() {
				r.wakeAt(wake)
			}
			return false
		}
	}
	outer, before := r.wake, len(r.actions)
	r.wake, r.volatile = time.Time{}, false
	ended := r.instance(inst)
	wake := r.wake
	r.wake = outer
	if !wake.IsZero() {
		r.wakeAt(wake)
	}
	if r.quiet != nil && len(r.actions) == before && !r.volatile && inst.StartTime != nil &&
		!r.in.State.Speculated(fsm.KeyOfInstance(inst)) {
		r.quiet.remember(inst, wake)
	}
	return ended
}

// verifyQuiet plans a skipped instance on a round of its own and panics if
// that round would plan something, or wait for another time: then planning
// read something QuietInstances does not watch.
func (r *round) verifyQuiet(inst *statepb.Instance, wake time.Time) {
	p := &round{in: r.in, now: r.now, ring: r.ring, member: r.member}
	p.instance(inst)
	if len(p.actions) > 0 || p.volatile || !p.wake.Equal(wake) {
		panic(fmt.Sprintf("scheduler: instance %s/%d was skipped as quiet, but planning it gives %d actions (volatile %t), waking at %v; remembered waking at %v",
			inst.WorkflowId, inst.InstanceId, len(p.actions), p.volatile, p.wake, wake))
	}
}
