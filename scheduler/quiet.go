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
// A workflow whose every instance is quiet is passed over whole, without
// listing its instances (quietGroup), so that a round costs what changed
// rather than what waits.
//
// One planning loop owns it; it is not safe for concurrent rounds.
type QuietInstances struct {
	replaced <-chan struct{}
	pos      fsm.FeedPos
	// asOf is the index of the state the feed has been read up to;
	// members is the fingerprint of the members the memos hold for.
	asOf    uint64
	members uint64
	// m holds the memos by the instance record they were made on (a
	// write replaces the record), byKey the record of each memo by id.
	m     map[*statepb.Instance]quietMemo
	byKey map[fsm.InstanceKey]*statepb.Instance
	// sweepAt is how many memos make the next round look for stale ones.
	sweepAt int
	skips   int // instances skipped, for tests
	passes  int // groups passed over, for tests
	// load is the attempts running on each node in the committed state
	// as of asOf, and running each instance's share of it, kept from the
	// write feed so that a round that places a step does not count every
	// running attempt (round.loads). stale lists the instances written
	// since their share was read; loadKept is false until a first count.
	load     map[string]int
	running  map[fsm.InstanceKey]*runningShare
	stale    map[fsm.InstanceKey]bool
	loadKept bool
	// groups are the workflows a round may pass over without listing
	// their instances (quietGroup); passed, with Verify, the ones this
	// round passed over, for settle to check.
	groups map[string]quietGroup
	passed map[string]quietGroup
	// Verify plans every instance a round skips as well, and panics if
	// that plans anything or waits for another time: a check for tests
	// (BATON_VERIFY_QUIET=1 sets it in agents).
	Verify bool
}

// quietGroup is a workflow whose every unfinished instance the last round
// that listed it skipped or remembered as quiet, and whose run strategy
// left them all running. Rounds pass over it without listing it: what
// ends that is what would make one of its instances be planned (the feed
// or a speculation writing an instance of the workflow, a new one
// included; the members; the earliest wake among them), or a change of
// its strategy, which a push makes without writing an instance.
type quietGroup struct {
	n     int       // its unfinished instances
	wake  time.Time // the earliest time one of them waits for; zero if none
	views []*instanceSteps
	// iterations is true for a loop's iterations, which no run strategy
	// governs; rule and conc are the strategy otherwise.
	iterations bool
	rule       string
	conc       int64
}

type quietMemo struct {
	// wake is the earliest time the instance waits for; zero if none.
	wake time.Time
	// view is the instance's kept step records (StepViews), if any: a
	// skip keeps them for the next round that plans it.
	view *instanceSteps
}

// NewQuietInstances returns an empty QuietInstances, verifying when the
// environment asks for it.
func NewQuietInstances() *QuietInstances {
	q := &QuietInstances{Verify: os.Getenv("BATON_VERIFY_QUIET") == "1"}
	q.clear()
	return q
}

// clear forgets every memo.
func (q *QuietInstances) clear() {
	q.m = map[*statepb.Instance]quietMemo{}
	q.byKey = map[fsm.InstanceKey]*statepb.Instance{}
	q.groups = map[string]quietGroup{}
}

// forget drops the memo of instance k, if any, and its workflow's group:
// k may be an instance the group does not have yet.
func (q *QuietInstances) forget(k fsm.InstanceKey) {
	delete(q.groups, k.WorkflowID)
	if inst, ok := q.byKey[k]; ok {
		delete(q.m, inst)
		delete(q.byKey, k)
	}
}

// sweepEvery is how many rounds apart StepViews forgets the instances no
// round planned.
const sweepEvery = 64

// sweepFrom is how many memos QuietInstances holds before it first looks
// for stale ones (sweepAt).
const sweepFrom = 1024

// begin starts a round on s with the given members' fingerprint; false
// means the round may neither skip nor remember (s is older than what the
// memos hold).
func (q *QuietInstances) begin(s *fsm.State, members uint64) bool {
	if q == nil {
		return false
	}
	if q.replaced != s.Replaced() {
		q.clear()
		q.loadKept = false
		q.replaced = s.Replaced()
		q.pos, q.asOf = fsm.FeedPos{}, 0
	}
	if s.Applied() < q.asOf {
		return false
	}
	keys, next, ok := s.InstancesWritten(q.pos)
	if !ok {
		q.clear()
		q.loadKept = false
	}
	for _, k := range keys {
		q.forget(k)
		if q.loadKept {
			q.stale[k] = true
		}
	}
	q.pos, q.asOf = next, s.Applied()
	if members != q.members {
		q.clear()
		q.members = members
	}
	// What a speculation wrote may never commit: those instances are
	// planned, and remembered again once committed.
	for _, k := range s.SpeculatedInstances() {
		q.forget(k)
	}
	// The feed forgets the memo of every instance written or deleted, so
	// a stale memo is a bug's leak, not the rule: look for them only as
	// the memos double, which costs each memo made a lookup at most.
	if len(q.byKey) >= q.sweepAt {
		for k, inst := range q.byKey {
			if s.Instance(nil, k.WorkflowID, k.InstanceID) != inst {
				q.forget(k)
			}
		}
		q.sweepAt = max(2*len(q.byKey), sweepFrom)
	}
	return true
}

// quiet returns inst's memo if it may be skipped at now.
func (q *QuietInstances) quiet(inst *statepb.Instance, now time.Time) (quietMemo, bool) {
	e, ok := q.m[inst]
	if !ok || (!e.wake.IsZero() && !now.Before(e.wake)) {
		return quietMemo{}, false
	}
	return e, true
}

// list returns the unfinished instances round r plans, passing over the
// quiet groups it may skip: their wake and kept step records count as if
// each instance had been skipped.
func (q *QuietInstances) list(r *round) []*statepb.Instance {
	var skip map[string]bool
	for wf, g := range q.groups {
		if !g.wake.IsZero() && !r.in.Now.Before(g.wake) {
			continue
		}
		if !g.iterations {
			if rule, conc := r.strategy(wf); rule != g.rule || conc != g.conc {
				continue
			}
		}
		if skip == nil {
			skip = map[string]bool{}
		}
		skip[wf] = true
		if !g.wake.IsZero() {
			r.wakeAt(g.wake)
		}
		if r.in.Views.sweeping() {
			for _, v := range g.views {
				r.in.Views.keep(v)
			}
		}
		q.skips += g.n
		q.passes++
		if q.Verify {
			if q.passed == nil {
				q.passed = map[string]quietGroup{}
			}
			q.passed[wf] = g
		}
	}
	return r.in.State.ActiveInstancesBut(skip)
}

// settle records, after round r planned the instances listed, which of
// their workflows are quiet groups: every instance of it is quiet now and
// was admitted (none waits in the queue), and all are a loop's iterations
// or none. With Verify it then checks the groups the round passed over.
func (q *QuietInstances) settle(r *round, listed []*statepb.Instance, admitted map[*statepb.Instance]bool) {
	// listed is in the order of the index of unfinished instances: each
	// workflow's instances come together.
	for i := 0; i < len(listed); {
		wf := listed[i].WorkflowId
		g := quietGroup{iterations: listed[i].DefinitionWorkflowId != ""}
		ok := true
		for ; i < len(listed) && listed[i].WorkflowId == wf; i++ {
			if !ok {
				continue
			}
			inst := listed[i]
			memo, quiet := q.quiet(inst, r.in.Now)
			iterations := inst.DefinitionWorkflowId != ""
			if !quiet || iterations != g.iterations || (!iterations && (!admitted[inst] || inst.Status == fsm.InstanceCreated)) {
				ok = false
				continue
			}
			g.n++
			if !memo.wake.IsZero() && (g.wake.IsZero() || memo.wake.Before(g.wake)) {
				g.wake = memo.wake
			}
			if memo.view != nil {
				g.views = append(g.views, memo.view)
			}
		}
		if !ok {
			delete(q.groups, wf)
			continue
		}
		if !g.iterations {
			g.rule, g.conc = r.strategy(wf)
		}
		q.groups[wf] = g
	}
	for wf, g := range q.passed {
		r.verifyGroup(wf, g)
	}
	q.passed = nil
}

// verifyGroup plans the instances of a group round r passed over, each on
// a round of its own, and admits them under their strategy; it panics
// unless the group still holds: the same instances, each quiet, none
// queued, the same earliest wake, and an admission that changes nothing.
func (r *round) verifyGroup(wf string, g quietGroup) {
	list := r.in.State.UnfinishedInstancesOf(wf)
	fail := func(format string, args ...any) {
		panic(fmt.Sprintf("scheduler: workflow %s was passed over as quiet (%d instances, waking at %v), but ", wf, g.n, g.wake) + fmt.Sprintf(format, args...))
	}
	if len(list) != g.n {
		fail("it has %d unfinished instances", len(list))
	}
	var wake time.Time
	for _, inst := range list {
		memo, ok := r.quiet.quiet(inst, r.in.Now)
		if !ok {
			fail("instance %d is not quiet", inst.InstanceId)
		}
		if (inst.DefinitionWorkflowId != "") != g.iterations || (!g.iterations && inst.Status == fsm.InstanceCreated) {
			fail("instance %d is %s (iteration %t)", inst.InstanceId, inst.Status, inst.DefinitionWorkflowId != "")
		}
		r.verifyQuiet(inst, memo.wake)
		if !memo.wake.IsZero() && (wake.IsZero() || memo.wake.Before(wake)) {
			wake = memo.wake
		}
	}
	if !wake.Equal(g.wake) {
		fail("its instances wait until %v", wake)
	}
	if !g.iterations {
		p := &round{in: r.in, now: r.now, ring: r.ring, member: r.member}
		if admitted := p.admit(wf, list); len(p.actions) > 0 || len(admitted) != len(list) {
			fail("its strategy admits %d and plans %d actions", len(admitted), len(p.actions))
		}
	}
}

// remember records that planning inst, as s shows it, planned nothing and
// waits for wake; view is its kept step records, if any.
func (q *QuietInstances) remember(s *fsm.State, inst *statepb.Instance, wake time.Time, view *instanceSteps) {
	k := fsm.KeyOfInstance(inst)
	if s.Speculated(k) {
		return
	}
	q.forget(k)
	q.m[inst] = quietMemo{wake: wake, view: view}
	q.byKey[k] = inst
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
		if memo, ok := r.quiet.quiet(inst, r.in.Now); ok {
			if r.quiet.Verify {
				r.verifyQuiet(inst, memo.wake)
			}
			r.quiet.skips++
			r.in.Views.keep(memo.view)
			if !memo.wake.IsZero() {
				r.wakeAt(memo.wake)
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
	if r.quiet != nil && len(r.actions) == before && !r.volatile && inst.StartTime != nil {
		r.quiet.remember(r.in.State, inst, wake, r.in.Views.kept(fsm.KeyOfInstance(inst)))
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

// runningShare is one instance's running attempts: the node of each step
// that has one, as of the entry asOf. A tracked instance's
// (fsm.TrackWritesFrom) is brought up to date from the steps written since;
// a smaller one's is read whole.
type runningShare struct {
	created int64 // the instance's create time: the same id may be reused
	asOf    uint64
	tracked bool
	nodes   []stepNode
}

type stepNode struct{ step, node string }

// loads returns the attempts running on each member in s: the counts kept
// for the committed state, brought up to date with the instances written
// since, and with the ones s's speculation wrote.
func (q *QuietInstances) loads(s *fsm.State, member map[string]bool) map[string]int {
	base := s.Committed()
	if !q.loadKept || len(q.stale) > len(q.running) {
		// Most of it changed: counting afresh visits fewer records.
		q.load = map[string]int{}
		q.running = map[fsm.InstanceKey]*runningShare{}
		q.stale = map[fsm.InstanceKey]bool{}
		for _, st := range base.RunningSteps() {
			q.stale[fsm.InstanceKey{WorkflowID: st.WorkflowId, InstanceID: st.InstanceId}] = true
		}
		q.loadKept = true
	}
	for k := range q.stale {
		q.setShare(k, q.share(base, k, q.running[k]))
	}
	clear(q.stale)
	out := make(map[string]int, len(member))
	for name := range member {
		out[name] = q.load[name]
	}
	for _, k := range s.SpeculatedInstances() {
		was := q.running[k]
		if was != nil {
			for _, sn := range was.nodes {
				out[sn.node]--
			}
		}
		if now := q.share(s, k, was); now != nil {
			for _, sn := range now.nodes {
				out[sn.node]++
			}
		}
	}
	for name := range out {
		if !member[name] {
			delete(out, name)
		}
	}
	return out
}

// share reads instance k's running attempts on s, from was (its share as
// of an earlier entry) and the steps written since when it is tracked; nil
// if it has none and is not tracked.
func (q *QuietInstances) share(s *fsm.State, k fsm.InstanceKey, was *runningShare) *runningShare {
	if was != nil && was.tracked {
		inst := s.Instance(nil, k.WorkflowID, k.InstanceID)
		if inst == nil {
			return nil
		}
		if created := inst.GetCreateTime().AsTime().UnixNano(); created == was.created {
			e := &runningShare{created: created, asOf: s.Applied(), tracked: true, nodes: slices.Clone(was.nodes)}
			for _, st := range s.StepsWrittenAfter(k.WorkflowID, k.InstanceID, was.asOf) {
				e.nodes = slices.DeleteFunc(e.nodes, func(sn stepNode) bool { return sn.step == st.StepId })
				if st.Node != "" {
					e.nodes = append(e.nodes, stepNode{st.StepId, st.Node})
				}
			}
			return e
		}
	}
	e := &runningShare{asOf: s.Applied()}
	for _, st := range s.Steps(nil, k.WorkflowID, k.InstanceID) {
		e.tracked = e.tracked || st.ModifyIndex != 0
		if st.Node != "" {
			e.nodes = append(e.nodes, stepNode{st.StepId, st.Node})
		}
	}
	if e.tracked {
		inst := s.Instance(nil, k.WorkflowID, k.InstanceID)
		if inst == nil {
			return nil
		}
		e.created = inst.GetCreateTime().AsTime().UnixNano()
	} else if len(e.nodes) == 0 {
		return nil
	}
	return e
}

// setShare replaces instance k's share of the kept counts.
func (q *QuietInstances) setShare(k fsm.InstanceKey, e *runningShare) {
	if was := q.running[k]; was != nil {
		for _, sn := range was.nodes {
			q.load[sn.node]--
		}
	}
	if e == nil {
		delete(q.running, k)
		return
	}
	q.running[k] = e
	for _, sn := range e.nodes {
		q.load[sn.node]++
	}
}

// verifyLoads panics unless the kept load matches a count of every running
// attempt.
func (r *round) verifyLoads() {
	for name := range r.member {
		want := 0
		for _, st := range r.in.State.RunningSteps() {
			if st.Node == name {
				want++
			}
		}
		if got := r.load[name]; got != want {
			panic(fmt.Sprintf("scheduler: %d attempts kept as running on %s, but %d run there", got, name, want))
		}
	}
}
