package scheduler

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// instanceIDs lists the ids of a workflow's instances, oldest first.
func instanceIDs(px *planFixture, workflowID string) []int64 {
	var out []int64
	for _, inst := range px.f.State().InstancesThrough(workflowID, 1<<62) {
		out = append(out, inst.InstanceId)
	}
	return out
}

// A deleted workflow's finished instances and own actions go oldest first,
// a limit at a time, whatever the retention policy; a workflow pushed
// again under the id keeps its own. The leader's pass goes on at once
// while anything is left, and the policy's own deletions wait for it.
func TestLeaderPurgesDeletedWorkflows(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.stopQueued(px.inst)
	for _, req := range []string{"r2", "r3"} {
		px.stopQueued(px.startAnother(req))
	}
	switchTriggers(px, "wf", 0, 3)
	res := px.apply(&statepb.DeleteWorkflow{WorkflowId: "wf", Now: px.ts()}).(*fsm.DeleteWorkflowResult)
	if res.Instances != 3 {
		t.Fatalf("deletion: %+v", res)
	}

	instances, actions := PruneDeleted(px.f.State(), 2)
	if got := deleted(instances); !slices.Equal(got, []int64{1, 2}) || len(actions) != 0 {
		t.Fatalf("first 2: instances %v and %d action deletions, want [1 2] only", got, len(actions))
	}
	instances, actions = PruneDeleted(px.f.State(), 3)
	if got := deleted(instances); !slices.Equal(got, []int64{1, 2, 3}) || describeActionDeletions(actions) != "" {
		t.Fatalf("limit 3: %v %s", got, describeActionDeletions(actions))
	}
	instances, actions = PruneDeleted(px.f.State(), 5)
	if got := deleted(instances); !slices.Equal(got, []int64{1, 2, 3}) || describeActionDeletions(actions) != "wf<=2" {
		t.Fatalf("limit 5: %v %s, want [1 2 3] wf<=2", got, describeActionDeletions(actions))
	}

	// Pushed again before the leader got to it: instance 4 and action 4
	// are the new workflow's.
	px.apply(&statepb.PushWorkflow{WorkflowId: "wf", Definition: `{"workflow":{"id":"wf","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`,
		Digest: "again", Now: px.ts()})
	px.stopQueued(px.startAnother("r4"))
	switchTriggers(px, "wf", 4, 5)
	if got := instanceIDs(px, "wf"); !slices.Equal(got, []int64{1, 2, 3, 4}) || keptActions(px, "wf") != "1,2,3,4" {
		t.Fatalf("before the purge: instances %v, actions %s", got, keptActions(px, "wf"))
	}
	l := &Leader{State: px.f, Apply: &fsmApplier{f: px.f, index: px.index}, Now: func() time.Time { return px.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: Retention{KeepPerWorkflow: 1}}
	if !l.prune(context.Background()) {
		t.Fatal("a pass that purged asks for no other")
	}
	if got := instanceIDs(px, "wf"); !slices.Equal(got, []int64{4}) || keptActions(px, "wf") != "4" {
		t.Fatalf("after the purge: instances %v, actions %s, want [4] and 4", got, keptActions(px, "wf"))
	}
	if l.prune(context.Background()) {
		t.Error("a pass with nothing left to delete asks for another at once")
	}
	if px.f.State().DeletedWorkflow("wf") == nil {
		t.Error("the record of the deleted numbers went")
	}
}

// A subworkflow instance started by another instance's step stays with that
// instance; one started detached is an instance in its own right and goes.
func TestPurgedWithWorkflowLeavesSubworkflowInstances(t *testing.T) {
	d := &statepb.DeletedWorkflow{WorkflowId: "child", LastInstanceId: 5}
	for _, tc := range []struct {
		inst *statepb.Instance
		want bool
	}{
		{&statepb.Instance{WorkflowId: "child", InstanceId: 5}, true},
		{&statepb.Instance{WorkflowId: "child", InstanceId: 6}, false},
		{&statepb.Instance{WorkflowId: "child2", InstanceId: 1}, false},
		{&statepb.Instance{WorkflowId: "child", InstanceId: 2, Parent: &statepb.ParentRef{WorkflowId: "p", InstanceId: 1, StepId: "s"}}, false},
		{&statepb.Instance{WorkflowId: "child", InstanceId: 3, Parent: &statepb.ParentRef{WorkflowId: "p", InstanceId: 1, StepId: "s", Detached: true}}, true},
	} {
		if got := fsm.PurgedWithWorkflow(d, tc.inst); got != tc.want {
			t.Errorf("%s/%d (parent %v): purged %v, want %v", tc.inst.WorkflowId, tc.inst.InstanceId, tc.inst.Parent, got, tc.want)
		}
	}
}
