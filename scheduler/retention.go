package scheduler

import (
	"math"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// Retention says how much finished history to keep, so that the state (and
// with it snapshots and restarts) stays bounded however long a cluster runs.
type Retention struct {
	// KeepPerWorkflow keeps this many newest finished instances of each
	// workflow; 0 keeps all.
	KeepPerWorkflow int
	// MaxAge deletes finished instances that ended longer ago; 0 keeps all.
	MaxAge time.Duration
	// SignalsPerName keeps this many newest signals of each name; 0 keeps
	// all. Older ones go once every signal trigger naming them has
	// consumed or passed over them.
	SignalsPerName int
	// SignalMaxAge deletes signals sent longer ago, consumed or not; 0
	// keeps all.
	SignalMaxAge time.Duration
	// VersionsPerWorkflow keeps this many newest versions of each
	// workflow, besides its active one and those its kept instances run;
	// 0 keeps all.
	VersionsPerWorkflow int
	// ActionsPerWorkflow keeps this many newest operator actions on each
	// workflow's own timeline (activate, deactivate, trigger switches,
	// unblock, breakpoints) with their request ids; 0 keeps all.
	ActionsPerWorkflow int
}

// DefaultRetention keeps the newest 1,000 finished instances and the newest
// 1,000 operator actions per workflow, and the newest 10,000 signals of each
// name. It keeps every version: a subworkflow step may name one by number,
// which no pass can see.
var DefaultRetention = Retention{KeepPerWorkflow: 1000, SignalsPerName: 10000, ActionsPerWorkflow: 1000}

// Prune returns the deletions the retention policy asks for, at most limit of
// them. Unfinished instances are never chosen; the FSM checks again. Nor is
// a finished instance a STRICT_SEQUENTIAL queue depends on (queueKeeps):
// history is deleted to bound the state, never to change what runs next.
func Prune(st *fsm.State, now time.Time, r Retention, limit int) []*statepb.PlanAction {
	if r.KeepPerWorkflow <= 0 && r.MaxAge <= 0 {
		return nil
	}
	workflows := st.Workflows(nil)
	lists := make([][]*statepb.Instance, len(workflows))
	keep := &queueKeeps{st: st, defs: NewDefinitionCache()}
	// Every workflow first: a queue may depend on a subworkflow instance,
	// which goes with the tree of another workflow's instance.
	for i, wf := range workflows {
		// Newest first, so the ones kept by count are the most recent.
		lists[i] = st.Instances(nil, wf.WorkflowId, 0)
		keep.add(wf, lists[i])
	}
	var out []*statepb.PlanAction
	for i := range workflows {
		finished := 0
		for _, inst := range lists[i] {
			if !fsm.InstanceTerminal(inst.Status) {
				continue
			}
			if inst.Parent != nil && !inst.Parent.Detached {
				continue // goes with the instance at the top of its tree
			}
			finished++
			tooMany := r.KeepPerWorkflow > 0 && finished > r.KeepPerWorkflow
			tooOld := r.MaxAge > 0 && inst.EndTime != nil && now.Sub(inst.EndTime.AsTime()) > r.MaxAge
			if !tooMany && !tooOld {
				continue
			}
			if keep.held(inst) {
				continue
			}
			out = append(out, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{
				DeleteInstance: &statepb.DeleteInstance{WorkflowId: inst.WorkflowId, InstanceId: inst.InstanceId},
			}})
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// PruneVersions returns the deletions of workflow versions the retention
// policy asks for, at most limit: beyond the newest VersionsPerWorkflow of
// a workflow, those that are neither its active one nor run by an instance
// the state keeps (the FSM checks both again). A kept instance may be
// restarted, and its steps read its version's definition.
func PruneVersions(st *fsm.State, r Retention, limit int) []*statepb.PlanAction {
	if r.VersionsPerWorkflow <= 0 {
		return nil
	}
	var out []*statepb.PlanAction
	for _, w := range st.Workflows(nil) {
		if w.LatestVersion <= int64(r.VersionsPerWorkflow) {
			continue // numbered 1 to latest: nothing is beyond the count
		}
		versions := st.Versions(nil, w.WorkflowId) // oldest first
		cut := w.LatestVersion - int64(r.VersionsPerWorkflow)
		if len(versions) == 0 || versions[0].Version > cut {
			continue
		}
		used := map[int64]bool{w.ActiveVersion: true}
		for _, inst := range st.Instances(nil, w.WorkflowId, 0) {
			if inst.DefinitionWorkflowId == "" {
				used[inst.WorkflowVersion] = true
			}
		}
		for _, v := range versions {
			if v.Version > cut {
				break
			}
			if used[v.Version] {
				continue
			}
			out = append(out, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteVersion{
				DeleteVersion: &statepb.DeleteVersion{WorkflowId: w.WorkflowId, Version: v.Version},
			}})
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}

// PruneWorkflowActions returns the deletions of operator actions on
// workflows' own timelines the retention policy asks for, and how many
// actions they delete: at most limit. Each workflow keeps its newest
// ActionsPerWorkflow; numbering goes on from Workflow.LastEventSeq, so two
// records per workflow say what is beyond the count.
func PruneWorkflowActions(st *fsm.State, r Retention, limit int) ([]*statepb.PlanAction, int) {
	if r.ActionsPerWorkflow <= 0 {
		return nil, 0
	}
	var out []*statepb.PlanAction
	deleted := 0
	for _, w := range st.Workflows(nil) {
		through := w.LastEventSeq - int64(r.ActionsPerWorkflow)
		if through <= 0 {
			continue
		}
		oldest := st.OldestEventSeq(w.WorkflowId, 0)
		if oldest == 0 || oldest > through {
			continue
		}
		through = min(through, oldest-1+int64(limit-deleted))
		out = append(out, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteWorkflowEvents{
			DeleteWorkflowEvents: &statepb.DeleteWorkflowEvents{WorkflowId: w.WorkflowId, ThroughSeq: through},
		}})
		// Numbers are given out one by one and deleted oldest first, so
		// the timeline holds every number from oldest to the last.
		if deleted += int(through - oldest + 1); deleted >= limit {
			return out, deleted
		}
	}
	return out, deleted
}

// PruneDeleted returns the deletions that finish what deleting workflows
// began, at most limit rows: their finished instances, oldest first (but
// not a subworkflow instance started by another instance's step, which
// goes with that instance), then the operator actions on their own
// timelines. A workflow pushed again under a deleted id numbers on past
// what is deleted here, so its own instances and actions are left alone.
func PruneDeleted(st *fsm.State, limit int) (instances, actions []*statepb.PlanAction) {
	n := 0
	for _, d := range st.DeletedWorkflows() {
		for _, inst := range st.InstancesThrough(d.WorkflowId, d.LastInstanceId) {
			if !fsm.PurgedWithWorkflow(d, inst) {
				continue
			}
			instances = append(instances, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{
				DeleteInstance: &statepb.DeleteInstance{WorkflowId: inst.WorkflowId, InstanceId: inst.InstanceId},
			}})
			if n++; n >= limit {
				return instances, actions
			}
		}
		oldest := st.OldestEventSeq(d.WorkflowId, 0)
		if oldest == 0 || oldest > d.LastEventSeq {
			continue
		}
		through := min(d.LastEventSeq, oldest-1+int64(limit-n))
		actions = append(actions, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteWorkflowEvents{
			DeleteWorkflowEvents: &statepb.DeleteWorkflowEvents{WorkflowId: d.WorkflowId, ThroughSeq: through},
		}})
		if n += int(through - oldest + 1); n >= limit {
			return instances, actions
		}
	}
	return instances, actions
}

// PruneSignals returns the deletions of signals the retention policy asks
// for, and how many signals they delete: at most limit. It looks at at most
// maxNames signal names, from the name from on ("" for the first), and
// returns the name the next pass goes on from ("" once it looked at the
// last), so that a state with very many names is gone through a part at a
// time rather than in one long stall of the planning loop.
//
// Each name keeps its newest signal whatever the policy (the FSM checks
// again), so numbering goes on from it. By count, a signal newer than the
// checkpoint of a signal trigger that names it is kept: the trigger has yet
// to consume it or pass it over, and a fire it was due must not be missed.
// By age, a signal goes consumed or not: that is what an age limit asks
// for.
func PruneSignals(st *fsm.State, now time.Time, r Retention, limit int, from string, maxNames int) ([]*statepb.PlanAction, int, string) {
	if r.SignalsPerName <= 0 && r.SignalMaxAge <= 0 {
		return nil, 0, ""
	}
	// The lowest checkpoint of any trigger, per signal name.
	held := map[string]int64{}
	for _, w := range st.Workflows(nil) {
		for _, t := range st.Triggers(nil, w.WorkflowId) {
			for name, cp := range t.Checkpoints {
				if cur, ok := held[name]; !ok || cp < cur {
					held[name] = cp
				}
			}
		}
	}
	ranges, next := st.SignalRanges(from, maxNames)
	var out []*statepb.PlanAction
	deleted := 0
	for _, sr := range ranges {
		through := sr.Oldest - 1
		if r.SignalsPerName > 0 {
			through = sr.Latest - int64(r.SignalsPerName)
			if cp, ok := held[sr.Name]; ok {
				through = min(through, cp)
			}
		}
		if r.SignalMaxAge > 0 {
			cutoff := now.Add(-r.SignalMaxAge)
			// Oldest first, up to the first one sent within the age (a
			// leader's clock may have been behind an earlier one's).
			for _, sg := range st.SignalsAfter(nil, sr.Name, max(through, sr.Oldest-1), limit-deleted) {
				if sg.Time == nil || !sg.Time.AsTime().Before(cutoff) {
					break
				}
				through = sg.Seq
			}
		}
		through = min(through, sr.Latest-1, sr.Oldest-1+int64(limit-deleted))
		if through < sr.Oldest {
			continue
		}
		out = append(out, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteSignals{
			DeleteSignals: &statepb.DeleteSignals{Name: sr.Name, ThroughSeq: through},
		}})
		if deleted += int(through - sr.Oldest + 1); deleted >= limit {
			// Full: the next pass goes on from this name, which may have
			// more to delete.
			return out, deleted, sr.Name
		}
	}
	return out, deleted, next
}

// queueKeeps finds the finished instances that STRICT_SEQUENTIAL queues
// depend on. Such a queue decides whether it is blocked from the newest
// finished instance before its next one (State.LatestFinished, holdsQueue),
// so deleting that instance would let the lookup find an older one: a
// FAILED instance nobody restarted or unblocked would stop holding the queue,
// or, past a STOPPED one, an older FAILED one would start to.
type queueKeeps struct {
	st   *fsm.State
	defs Definitions
	// roots maps the instance whose deletion would take a depended-on
	// instance with it (itself, or the top of its tree) to the workflows
	// whose queue depends on it.
	roots map[fsm.InstanceKey][]string
	// strict caches, per workflow, whether it runs STRICT_SEQUENTIAL: read
	// only for an instance retention would otherwise delete, since it
	// parses the definition.
	strict map[string]bool
}

// add records what the queue of workflow w depends on; list is all its
// instances, newest first.
func (k *queueKeeps) add(w *statepb.Workflow, list []*statepb.Instance) {
	// Two lookups matter: the one for the oldest queued instance (the one
	// the run strategy admits next), and the one for an instance started
	// after every existing one, which reads the newest finished instance.
	next := int64(math.MaxInt64)
	for _, inst := range list {
		if inst.Status == fsm.InstanceCreated && inst.DefinitionWorkflowId == "" {
			next = inst.InstanceId
		}
	}
	k.protect(w, dependency(w, list, next))
	if next != math.MaxInt64 {
		k.protect(w, dependency(w, list, math.MaxInt64))
	}
}

// dependency returns the finished instance below id before that retention
// must keep so that the queue's decision for before stays what it is, or
// nil: the newest one (the one the lookup finds), if it or any older one
// holds the queue. While it holds the queue, deleting it would unblock the
// queue; while it does not, deleting it could let an older one that does
// become the newest. With it kept, deleting older ones changes nothing.
func dependency(w *statepb.Workflow, list []*statepb.Instance, before int64) *statepb.Instance {
	var newest *statepb.Instance
	for _, inst := range list {
		if inst.InstanceId >= before || !fsm.InstanceTerminal(inst.Status) {
			continue
		}
		if newest == nil {
			newest = inst
		}
		if holdsQueue(w, inst) {
			return newest
		}
	}
	return nil
}

// protect keeps inst by keeping what retention would delete it with: a
// synchronous subworkflow or loop iteration goes with its parent's tree.
func (k *queueKeeps) protect(w *statepb.Workflow, inst *statepb.Instance) {
	if inst == nil {
		return
	}
	root := inst
	for root.Parent != nil && !root.Parent.Detached {
		p := k.st.Instance(nil, root.Parent.WorkflowId, root.Parent.InstanceId)
		if p == nil {
			break
		}
		root = p
	}
	if k.roots == nil {
		k.roots = map[fsm.InstanceKey][]string{}
	}
	key := fsm.KeyOfInstance(root)
	k.roots[key] = append(k.roots[key], w.WorkflowId)
}

// held reports whether retention must keep inst: a STRICT_SEQUENTIAL queue
// depends on it or on an instance of its tree.
func (k *queueKeeps) held(inst *statepb.Instance) bool {
	for _, wf := range k.roots[fsm.KeyOfInstance(inst)] {
		strict, ok := k.strict[wf]
		if !ok {
			rule, _ := runStrategy(k.st, k.defs, wf)
			strict = rule == workflow.RunStrictSequential
			if k.strict == nil {
				k.strict = map[string]bool{}
			}
			k.strict[wf] = strict
		}
		if strict {
			return true
		}
	}
	return false
}
