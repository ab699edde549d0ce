package scheduler

import (
	"fmt"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// treeKey names the instance at the top of an instance tree.
type treeKey = fsm.InstanceKey

// treeOf is the top of inst's tree: instance_step_concurrency counts the
// leaf steps of an instance together with its iterations and subworkflows.
func treeOf(inst *statepb.Instance) treeKey {
	if p := inst.Parent; p != nil {
		return treeKey{WorkflowID: p.RootWorkflowId, InstanceID: p.RootInstanceId}
	}
	return fsm.KeyOfInstance(inst)
}

// definitionWorkflow is the workflow whose properties govern inst: its own,
// or for an iteration the workflow the loop is defined in.
func definitionWorkflow(inst *statepb.Instance) string {
	if inst.DefinitionWorkflowId != "" {
		return inst.DefinitionWorkflowId
	}
	return inst.WorkflowId
}

// countPermits counts the running leaf steps (those placed on a node) by
// workflow and by instance tree, with the ones the round assigned so far.
// It runs on the first check of a limit: most rounds check none, and
// counting visits every running step.
func (r *round) countPermits() {
	if r.byWorkflow != nil {
		return
	}
	r.byWorkflow = map[string]int64{}
	r.byTree = map[treeKey]int64{}
	seen := map[fsm.InstanceKey]*statepb.Instance{}
	for _, st := range r.in.State.RunningSteps() {
		k := fsm.InstanceKey{WorkflowID: st.WorkflowId, InstanceID: st.InstanceId}
		inst, ok := seen[k]
		if !ok {
			inst = r.in.State.Instance(nil, st.WorkflowId, st.InstanceId)
			seen[k] = inst
		}
		if inst == nil {
			continue
		}
		r.count(inst)
	}
	for _, inst := range r.taken {
		r.count(inst)
	}
	r.taken = nil
}

// take counts a leaf step the round assigns to inst.
func (r *round) take(inst *statepb.Instance) {
	if r.byWorkflow == nil {
		r.taken = append(r.taken, inst)
		return
	}
	r.count(inst)
}

func (r *round) count(inst *statepb.Instance) {
	r.byWorkflow[definitionWorkflow(inst)]++
	r.byTree[treeOf(inst)]++
}

// permit says why a leaf step of inst may not start now, or "" when it may.
func (r *round) permit(inst *statepb.Instance, def *workflow.Definition) string {
	wf := definitionWorkflow(inst)
	if p := def.Properties; p != nil && p.StepConcurrency != nil && *p.StepConcurrency > 0 {
		r.countPermits()
		if n := r.byWorkflow[wf]; n >= *p.StepConcurrency {
			return fmt.Sprintf("step_concurrency %d of workflow %s reached (%d running)", *p.StepConcurrency, wf, n)
		}
	}
	root := treeOf(inst)
	if limit := r.treeLimit(root); limit > 0 {
		r.countPermits()
		if n := r.byTree[root]; n >= limit {
			return fmt.Sprintf("instance_step_concurrency %d of %s %d reached (%d running in its tree)", limit, root.WorkflowID, root.InstanceID, n)
		}
	}
	return ""
}

// treeLimit is the instance_step_concurrency of the definition at the top of
// a tree; 0 when unset.
func (r *round) treeLimit(root treeKey) int64 {
	if limit, ok := r.treeLimits[root]; ok {
		return limit
	}
	limit := int64(0)
	if inst := r.in.State.Instance(nil, root.WorkflowID, root.InstanceID); inst != nil {
		def, _, err := InstanceDefinition(r.in.State, r.in.Defs, inst)
		if err == nil && def.Workflow.InstanceStepConcurrency != nil {
			limit = *def.Workflow.InstanceStepConcurrency
		}
	}
	if r.treeLimits == nil {
		r.treeLimits = map[treeKey]int64{}
	}
	r.treeLimits[root] = limit
	return limit
}
