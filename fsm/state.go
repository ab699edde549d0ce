package fsm

import (
	"fmt"
	"math"
	"slices"

	"github.com/hashicorp/go-memdb"

	"github.com/batonhq/baton/fsm/statepb"
)

// State is a read-only, point-in-time view of the state store. Records it
// returns are shared with the store and must not be modified.
type State struct {
	txn     *memdb.Txn
	abandon <-chan struct{}
	// applied is the index of the newest committed entry the view holds.
	applied uint64
	// feed lists what committed entries wrote (InstancesWritten); spec is
	// the speculation a speculative view reads (Speculated).
	feed *writeFeed
	spec *Speculation
}

// Applied is the Raft index of the newest committed entry in the view. A
// speculation's view holds records written after it too: those carry the
// next index (Step.ModifyIndex above Applied) until the entry commits.
func (s *State) Applied() uint64 { return s.applied }

// Replaced returns a channel closed when the store this view reads is
// replaced by a snapshot restore: what was read from it before says
// nothing about the new store.
func (s *State) Replaced() <-chan struct{} { return s.abandon }

// WatchSet collects channels that fire when anything read through a State
// with it changes, or when the store is replaced by a snapshot restore.
type WatchSet = memdb.WatchSet

func (s *State) watch(ws WatchSet, ch <-chan struct{}) {
	if ws != nil {
		ws.Add(ch)
		ws.Add(s.abandon)
	}
}

func (s *State) first(ws WatchSet, table, index string, args ...any) any {
	ch, obj, err := s.txn.FirstWatch(table, index, args...)
	if err != nil {
		return nil
	}
	s.watch(ws, ch)
	return obj
}

func (s *State) iter(ws WatchSet, table, index string, args ...any) memdb.ResultIterator {
	it, err := s.txn.Get(table, index, args...)
	if err != nil {
		return emptyIterator{}
	}
	s.watch(ws, it.WatchCh())
	return it
}

type emptyIterator struct{}

func (emptyIterator) WatchCh() <-chan struct{} { return nil }
func (emptyIterator) Next() any                { return nil }

// Workflow returns a workflow record, or nil.
func (s *State) Workflow(ws WatchSet, id string) *statepb.Workflow {
	w, _ := s.first(ws, tableWorkflows, "id", id).(*statepb.Workflow)
	return w
}

// Workflows returns every workflow ordered by id.
func (s *State) Workflows(ws WatchSet) []*statepb.Workflow {
	var out []*statepb.Workflow
	it := s.iter(ws, tableWorkflows, "id_prefix")
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Workflow))
	}
	return out
}

// Version returns one version of a workflow, or nil.
func (s *State) Version(ws WatchSet, workflowID string, version int64) *statepb.WorkflowVersion {
	v, _ := s.first(ws, tableVersions, "id", workflowID, version).(*statepb.WorkflowVersion)
	return v
}

// Versions returns every version of a workflow, oldest first.
func (s *State) Versions(ws WatchSet, workflowID string) []*statepb.WorkflowVersion {
	var out []*statepb.WorkflowVersion
	it := s.iter(ws, tableVersions, "id_prefix", workflowID)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.WorkflowVersion))
	}
	return out
}

// Instance returns an instance, or nil.
func (s *State) Instance(ws WatchSet, workflowID string, instanceID int64) *statepb.Instance {
	i, _ := s.first(ws, tableInstances, "id", workflowID, instanceID).(*statepb.Instance)
	return i
}

// InstanceByRequest returns the instance a Start request id created, or nil.
func (s *State) InstanceByRequest(requestID string) *statepb.Instance {
	i, _ := s.first(nil, tableInstances, "request", requestID).(*statepb.Instance)
	return i
}

// ActionByRequest returns the event an operator action with this request id
// left in the instance's timeline, or nil.
func (s *State) ActionByRequest(workflowID string, instanceID int64, requestID string) *statepb.Event {
	if requestID == "" {
		return nil
	}
	e, _ := s.first(nil, tableEvents, "request", workflowID, instanceID, requestID).(*statepb.Event)
	return e
}

// RestartedSteps returns the steps a restart (its action event, as
// ActionByRequest finds it) set back to run again, read from the events it
// left at the same Raft index: what a repeat of the restart answers.
func (s *State) RestartedSteps(restart *statepb.Event) []string {
	var out []string
	it, err := s.txn.LowerBound(tableEvents, "id", restart.WorkflowId, restart.InstanceId, restart.Seq+1)
	if err != nil {
		return nil
	}
	for o := it.Next(); o != nil; o = it.Next() {
		e := o.(*statepb.Event)
		if e.WorkflowId != restart.WorkflowId || e.InstanceId != restart.InstanceId || e.Index != restart.Index {
			break
		}
		if e.StepId != "" && e.Status == StepNotCreated {
			out = append(out, e.StepId)
		}
	}
	return out
}

// Instances returns the instances of a workflow, newest first, at most limit
// of them (all when limit <= 0).
func (s *State) Instances(ws WatchSet, workflowID string, limit int) []*statepb.Instance {
	var out []*statepb.Instance
	it, err := s.txn.GetReverse(tableInstances, "id_prefix", workflowID)
	if err != nil {
		return nil
	}
	s.watch(ws, it.WatchCh())
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Instance))
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// InstancePage selects a page of one workflow's instances, newest first.
type InstancePage struct {
	WorkflowID string
	// Before, above 0, lists only the instances numbered below it.
	Before int64
	// Statuses, when not empty, lists only the instances in one of them.
	Statuses []string
	// Limit is how many at most; 0 means all.
	Limit int
}

// InstancesPage returns the instances p selects, newest first, and whether
// an older instance matches too (the next page's Before is then the last
// one's id). It reads the instances newer than Before, and with a status
// filter every one it passes over: bounded by what retention keeps.
func (s *State) InstancesPage(p InstancePage) (list []*statepb.Instance, more bool) {
	it := s.newestFirst(tableInstances, p.WorkflowID, p.Before)
	if it == nil {
		return nil, false
	}
	for o := it.Next(); o != nil; o = it.Next() {
		inst := o.(*statepb.Instance)
		if inst.WorkflowId != p.WorkflowID {
			break // past the workflow's first instance, into the id before it
		}
		if len(p.Statuses) > 0 && !slices.Contains(p.Statuses, inst.Status) {
			continue
		}
		if p.Limit > 0 && len(list) == p.Limit {
			return list, true
		}
		list = append(list, inst)
	}
	return list, false
}

// newestFirst iterates a table whose id is (owner, number) from the newest
// row numbered below before (the newest of all when before is 0) down. It
// does not stop at the owner's first row: the caller stops where the owner
// changes. Nil when the table cannot be read.
func (s *State) newestFirst(table, owner string, before int64) memdb.ResultIterator {
	var it memdb.ResultIterator
	var err error
	if before > 0 {
		it, err = s.txn.ReverseLowerBound(table, "id", owner, before-1)
	} else {
		it, err = s.txn.GetReverse(table, "id_prefix", owner)
	}
	if err != nil {
		return nil
	}
	return it
}

// InstancesThrough returns the instances of a workflow numbered through or
// lower, oldest first.
func (s *State) InstancesThrough(workflowID string, through int64) []*statepb.Instance {
	var out []*statepb.Instance
	it := s.iter(nil, tableInstances, "id_prefix", workflowID)
	for o := it.Next(); o != nil; o = it.Next() {
		inst := o.(*statepb.Instance)
		if inst.InstanceId > through {
			break
		}
		out = append(out, inst)
	}
	return out
}

// ActiveInstances returns every unfinished instance.
func (s *State) ActiveInstances(ws WatchSet) []*statepb.Instance {
	var out []*statepb.Instance
	it := s.iter(ws, tableInstances, "active_prefix")
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Instance))
	}
	return out
}

// ActiveInstancesBut returns the unfinished instances, as ActiveInstances
// does, but for those of the workflows in skip, which it passes over
// without visiting: a round that skips whole workflows (the scheduler's
// quiet workflows) then pays for the ones it plans.
func (s *State) ActiveInstancesBut(skip map[string]bool) []*statepb.Instance {
	if len(skip) == 0 {
		return s.ActiveInstances(nil)
	}
	var out []*statepb.Instance
	it, err := s.txn.LowerBound(tableInstances, "active")
	for err == nil {
		o := it.Next()
		if o == nil {
			break
		}
		inst := o.(*statepb.Instance)
		if !skip[inst.WorkflowId] {
			out = append(out, inst)
			continue
		}
		// Every key of the workflow starts with its id and a NUL byte, and
		// ids have no control characters: the next workflow's keys start
		// at or after the id followed by \x01.
		it, err = s.txn.LowerBound(tableInstances, "active", inst.WorkflowId+"\x01")
	}
	if err != nil {
		// The arguments match the index's parts: an error is a bug here.
		panic(fmt.Sprintf("unfinished instances: %v", err))
	}
	return out
}

// UnfinishedInstancesOf returns the unfinished instances of a workflow, in
// id order.
func (s *State) UnfinishedInstancesOf(workflowID string) []*statepb.Instance {
	var out []*statepb.Instance
	it := s.iter(nil, tableInstances, "active_prefix", workflowID)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Instance))
	}
	return out
}

// HasUnfinished reports whether the workflow has an unfinished instance.
func (s *State) HasUnfinished(ws WatchSet, workflowID string) bool {
	return s.first(ws, tableInstances, "active_prefix", workflowID) != nil
}

// Step returns one step of an instance, or nil.
func (s *State) Step(ws WatchSet, workflowID string, instanceID int64, stepID string) *statepb.Step {
	st, _ := s.first(ws, tableSteps, "id", workflowID, instanceID, stepID).(*statepb.Step)
	return st
}

// Steps returns the steps of an instance ordered by step id.
func (s *State) Steps(ws WatchSet, workflowID string, instanceID int64) []*statepb.Step {
	var out []*statepb.Step
	it := s.iter(ws, tableSteps, "id_prefix", workflowID, instanceID)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// StepsWrittenAfter returns the tracked steps (TrackWritesFrom) of an
// instance that entries after index wrote (ModifyIndex above index), in
// the order they were written. A step deleted since is not among them:
// steps are deleted only with their instance.
func (s *State) StepsWrittenAfter(workflowID string, instanceID int64, index uint64) []*statepb.Step {
	if index == math.MaxUint64 {
		return nil
	}
	it, err := s.txn.LowerBound(tableSteps, "written", workflowID, instanceID, index+1)
	if err != nil {
		// The arguments match the index's parts: an error is a bug here.
		panic(fmt.Sprintf("steps written after %d: %v", index, err))
	}
	var out []*statepb.Step
	for o := it.Next(); o != nil; o = it.Next() {
		st := o.(*statepb.Step)
		if st.WorkflowId != workflowID || st.InstanceId != instanceID {
			break
		}
		out = append(out, st)
	}
	return out
}

// StepsOnNode returns the steps whose current attempt is placed on node.
func (s *State) StepsOnNode(ws WatchSet, node string) []*statepb.Step {
	var out []*statepb.Step
	it := s.iter(ws, tableSteps, "node_prefix", node)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// InstanceStepsOnNode returns the steps of instance k whose current attempt
// is placed on node.
func (s *State) InstanceStepsOnNode(node string, k InstanceKey) []*statepb.Step {
	var out []*statepb.Step
	it := s.iter(nil, tableSteps, "node_prefix", node, k.WorkflowID, k.InstanceID)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// RunningSteps returns every step whose current attempt runs on a node.
func (s *State) RunningSteps() []*statepb.Step {
	var out []*statepb.Step
	it := s.iter(nil, tableSteps, "node_prefix")
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// RunningCounts returns how many attempts run on each node.
func (s *State) RunningCounts() map[string]int {
	counts := map[string]int{}
	it := s.iter(nil, tableSteps, "node_prefix")
	for o := it.Next(); o != nil; o = it.Next() {
		counts[o.(*statepb.Step).Node]++
	}
	return counts
}

// Events returns the timeline events of an instance with seq > afterSeq.
//
// It seeks to the first event after afterSeq rather than walking the
// timeline from its start: a Watch reads the new events on every change, and
// on a long instance the walk made each read cost as much as the whole
// timeline. The seek's iterator cannot be watched, so ws watches the
// timeline's prefix, which fires on any new event of the instance.
func (s *State) Events(ws WatchSet, workflowID string, instanceID, afterSeq int64) []*statepb.Event {
	if ws != nil {
		s.iter(ws, tableEvents, "id_prefix", workflowID, instanceID)
	}
	if afterSeq == math.MaxInt64 {
		return nil
	}
	it, err := s.txn.LowerBound(tableEvents, "id", workflowID, instanceID, max(afterSeq, 0)+1)
	if err != nil {
		return nil
	}
	var out []*statepb.Event
	for o := it.Next(); o != nil; o = it.Next() {
		e := o.(*statepb.Event)
		if e.WorkflowId != workflowID || e.InstanceId != instanceID {
			break
		}
		out = append(out, e)
	}
	return out
}

// OldestEventSeq is the number of the oldest event kept on a timeline (an
// instance's, or with instanceID 0 the workflow's own), 0 when it has none.
// It reads one record.
func (s *State) OldestEventSeq(workflowID string, instanceID int64) int64 {
	it, err := s.txn.LowerBound(tableEvents, "id", workflowID, instanceID, int64(0))
	if err != nil {
		return 0
	}
	if o := it.Next(); o != nil {
		if e := o.(*statepb.Event); e.WorkflowId == workflowID && e.InstanceId == instanceID {
			return e.Seq
		}
	}
	return 0
}

// Children returns the child instances a step started, by workflow id and
// instance id.
func (s *State) Children(ws WatchSet, workflowID string, instanceID int64, stepID string) []*statepb.Instance {
	st := s.Step(ws, workflowID, instanceID, stepID)
	if st == nil {
		return nil
	}
	return children(st, func(index string, args ...any) memdb.ResultIterator {
		return s.iter(ws, tableInstances, index, args...)
	})
}

// children lists the instances st started, reading the instances table
// through get: a subworkflow's from the parent index, and a loop's
// iterations as the instances of the loop's own workflow id. (A subworkflow
// step's Loop names the one instance it started; an iteration loop's names
// none, since its iterations are numbered from 1.)
func children(st *statepb.Step, get func(index string, args ...any) memdb.ResultIterator) []*statepb.Instance {
	var out []*statepb.Instance
	it := get("parent_prefix", st.WorkflowId, st.InstanceId, st.StepId)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Instance))
	}
	if l := st.Loop; l == nil || l.ChildWorkflowId == "" || l.ChildInstanceId != 0 {
		return out
	}
	it = get("id_prefix", st.Loop.ChildWorkflowId)
	for o := it.Next(); o != nil; o = it.Next() {
		i := o.(*statepb.Instance)
		if p := i.Parent; i.DefinitionWorkflowId != "" && p != nil &&
			p.WorkflowId == st.WorkflowId && p.InstanceId == st.InstanceId && p.StepId == st.StepId {
			out = append(out, i)
		}
	}
	return out
}

// LatestFinished returns the newest finished instance of a workflow with an
// id below beforeID, or nil. It walks back from beforeID and stops at the
// first finished one, so it costs the number of unfinished instances passed.
func (s *State) LatestFinished(workflowID string, beforeID int64) *statepb.Instance {
	it, err := s.txn.GetReverse(tableInstances, "id_prefix", workflowID)
	if err != nil {
		return nil
	}
	for o := it.Next(); o != nil; o = it.Next() {
		inst := o.(*statepb.Instance)
		if inst.InstanceId < beforeID && InstanceTerminal(inst.Status) {
			return inst
		}
	}
	return nil
}

// Triggers returns the time triggers of a workflow; all when workflowID is "".
func (s *State) Triggers(ws WatchSet, workflowID string) []*statepb.Trigger {
	var out []*statepb.Trigger
	var it memdb.ResultIterator
	if workflowID == "" {
		it = s.iter(ws, tableTriggers, "id_prefix")
	} else {
		it = s.iter(ws, tableTriggers, "id_prefix", workflowID)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Trigger))
	}
	return out
}

// Signals returns the signals of a name, newest first, at most limit (all
// when limit <= 0).
func (s *State) Signals(name string, limit int) []*statepb.Signal {
	list, _ := s.SignalsPage(name, 0, max(limit, 0))
	return list
}

// SignalsPage returns the signals of a name numbered below before (all
// when before is 0), newest first, at most limit (all when limit is 0),
// and whether an older one is kept too (the next page's before is then
// the last one's number).
func (s *State) SignalsPage(name string, before int64, limit int) (list []*statepb.Signal, more bool) {
	it := s.newestFirst(tableSignals, name, before)
	if it == nil {
		return nil, false
	}
	for o := it.Next(); o != nil; o = it.Next() {
		sg := o.(*statepb.Signal)
		if sg.Name != name {
			break // past the name's first signal
		}
		if limit > 0 && len(list) == limit {
			return list, true
		}
		list = append(list, sg)
	}
	return list, false
}

// SignalsAfter returns the signals of a name numbered above afterSeq, oldest
// first, at most limit (all when limit <= 0).
func (s *State) SignalsAfter(ws WatchSet, name string, afterSeq int64, limit int) []*statepb.Signal {
	var out []*statepb.Signal
	it, err := s.txn.LowerBound(tableSignals, "id", name, afterSeq+1)
	if err != nil {
		return nil
	}
	s.watch(ws, it.WatchCh())
	for o := it.Next(); o != nil; o = it.Next() {
		sg := o.(*statepb.Signal)
		if sg.Name != name {
			break
		}
		out = append(out, sg)
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out
}

// SignalRange is the numbers of a signal name's kept signals: Oldest
// through Latest, with no gap (retention deletes the oldest).
type SignalRange struct {
	Name           string
	Oldest, Latest int64
}

// SignalRanges returns the ranges of at most limit signal names, in order,
// from the name from on ("" for the first), and the name to go on from
// ("" after the last). It visits two records per name, not every signal.
func (s *State) SignalRanges(from string, limit int) ([]SignalRange, string) {
	var out []SignalRange
	it, err := s.txn.LowerBound(tableSignals, "id", from, int64(math.MinInt64))
	for err == nil {
		o := it.Next()
		if o == nil {
			break
		}
		sg := o.(*statepb.Signal)
		if len(out) == limit {
			return out, sg.Name
		}
		r := SignalRange{Name: sg.Name, Oldest: sg.Seq, Latest: s.LatestSignalSeq(sg.Name)}
		out = append(out, r)
		if r.Latest == math.MaxInt64 {
			break // no number comes after it; a pass ends here
		}
		it, err = s.txn.LowerBound(tableSignals, "id", sg.Name, r.Latest+1)
	}
	return out, ""
}

// Signal returns one signal, or nil.
func (s *State) Signal(name string, seq int64) *statepb.Signal {
	sg, _ := s.first(nil, tableSignals, "id", name, seq).(*statepb.Signal)
	return sg
}

// LatestSignalSeq returns the number of the newest signal of a name, 0 when
// there is none.
func (s *State) LatestSignalSeq(name string) int64 {
	if l := s.Signals(name, 1); len(l) == 1 {
		return l[0].Seq
	}
	return 0
}

// Breakpoints returns a workflow's breakpoints ordered by step, version and
// instance; only stepID's when it is not "".
func (s *State) Breakpoints(ws WatchSet, workflowID, stepID string) []*statepb.Breakpoint {
	var out []*statepb.Breakpoint
	var it memdb.ResultIterator
	if stepID == "" {
		it = s.iter(ws, tableBreakpoints, "id_prefix", workflowID)
	} else {
		it = s.iter(ws, tableBreakpoints, "id_prefix", workflowID, stepID)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Breakpoint))
	}
	return out
}

// Breakpoint returns one breakpoint, or nil.
func (s *State) Breakpoint(workflowID, stepID string, version, instanceID int64) *statepb.Breakpoint {
	b, _ := s.first(nil, tableBreakpoints, "id", workflowID, stepID, version, instanceID).(*statepb.Breakpoint)
	return b
}

// StepsPausedAt returns the steps a breakpoint (by key) holds PAUSED.
func (s *State) StepsPausedAt(ws WatchSet, key string) []*statepb.Step {
	var out []*statepb.Step
	it := s.iter(ws, tableSteps, "paused_at_prefix", key)
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// VersionByRequest returns the version a push request id created, or nil.
func (s *State) VersionByRequest(requestID string) *statepb.WorkflowVersion {
	if requestID == "" {
		return nil
	}
	v, _ := s.first(nil, tableVersions, "request", requestID).(*statepb.WorkflowVersion)
	return v
}
