package scheduler

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// retentionFixture has instances 1..n of the fixture workflow; the ones in
// done ended at the given times, the rest are still running.
func retentionFixture(t *testing.T, n int, done map[int64]time.Duration) *planFixture {
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 100}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	for i := 2; i <= n; i++ {
		px.startAnother(fmt.Sprintf("r%d", i))
	}
	start := px.now
	px.round()
	ids := make([]int64, 0, len(done))
	for id := range done {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return done[ids[i]] < done[ids[j]] })
	for _, id := range ids {
		px.inst = id
		px.now = start.Add(done[id])
		px.finish("a", fsm.AttemptSucceeded, 0)
		px.round()
	}
	return px
}

func deleted(actions []*statepb.PlanAction) []int64 {
	var out []int64
	for _, a := range actions {
		out = append(out, a.GetDeleteInstance().InstanceId)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func TestPruneKeepsNewestFinishedPerWorkflow(t *testing.T) {
	px := retentionFixture(t, 6, map[int64]time.Duration{1: time.Minute, 2: 2 * time.Minute, 3: 3 * time.Minute, 5: 4 * time.Minute})
	got := deleted(Prune(px.f.State(), px.now, Retention{KeepPerWorkflow: 2}, 100))
	// Finished: 1, 2, 3, 5; the two newest ids (5, 3) stay; 4 and 6 still run.
	if fmt.Sprint(got) != "[1 2]" {
		t.Fatalf("deleted %v, want [1 2]", got)
	}
	if got := deleted(Prune(px.f.State(), px.now, Retention{KeepPerWorkflow: 2}, 1)); len(got) != 1 {
		t.Fatalf("limit 1 gave %d deletions", len(got))
	}
	if got := Prune(px.f.State(), px.now, Retention{}, 100); got != nil {
		t.Fatalf("an empty policy deleted %v", deleted(got))
	}
	// Applying the deletions removes the instances with their steps and events.
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: Prune(px.f.State(), px.now, Retention{KeepPerWorkflow: 2}, 100)})
	st := px.f.State()
	for _, id := range []int64{1, 2} {
		if st.Instance(nil, "wf", id) != nil || len(st.Steps(nil, "wf", id)) != 0 || len(st.Events(nil, "wf", id, 0)) != 0 {
			t.Errorf("instance %d left rows behind", id)
		}
	}
	for _, id := range []int64{3, 4, 5, 6} {
		if st.Instance(nil, "wf", id) == nil || len(st.Steps(nil, "wf", id)) != 1 {
			t.Errorf("instance %d was deleted or lost its steps", id)
		}
	}
}

func TestPruneByAgeNeverTouchesRunningInstances(t *testing.T) {
	px := retentionFixture(t, 3, map[int64]time.Duration{1: time.Minute, 2: 10 * time.Minute})
	now := px.now.Add(time.Hour)
	got := deleted(Prune(px.f.State(), now, Retention{MaxAge: 65 * time.Minute}, 100))
	if fmt.Sprint(got) != "[1]" {
		t.Fatalf("deleted %v, want [1] (ended 69m ago; 2 ended 60m ago, 3 runs)", got)
	}
	// The FSM refuses to delete an unfinished instance even if asked.
	res := px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: []*statepb.PlanAction{{Action: &statepb.PlanAction_DeleteInstance{
		DeleteInstance: &statepb.DeleteInstance{WorkflowId: "wf", InstanceId: 3}}}}}).(*fsm.PlanResult)
	if res.Applied != 0 || px.f.State().Instance(nil, "wf", 3) == nil {
		t.Fatal("a running instance was deleted")
	}
}
