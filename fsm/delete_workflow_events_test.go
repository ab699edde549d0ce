package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func deleteWorkflowEventsAct(workflowID string, through int64) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_DeleteWorkflowEvents{
		DeleteWorkflowEvents: &statepb.DeleteWorkflowEvents{WorkflowId: workflowID, ThroughSeq: through}}}
}

func eventSeqs(s *State, workflowID string, instanceID int64) []int64 {
	var out []int64
	for _, e := range s.Events(nil, workflowID, instanceID, 0) {
		out = append(out, e.Seq)
	}
	return out
}

// Retention deletes the oldest actions on a workflow's own timeline with
// their request ids, and nothing else: not the workflow's instances'
// timelines, nor another workflow's whose id starts the same. Numbering
// goes on past them, and a copy of a deleted action is judged anew.
func TestDeleteWorkflowEvents(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	applyAs[*PushResult](x, pushCmd("etl2", `{"workflow":{"id":"etl2","steps":["a"]}}`, 3))
	toggle := func(workflowID string, i int) *statepb.WorkflowAction {
		action := WorkflowDisableTriggers
		if i%2 == 1 {
			action = WorkflowEnableTriggers
		}
		c := workflowAction(action, true, false, "", 10+i)
		c.WorkflowId, c.RequestId = workflowID, fmt.Sprintf("%s-%d", workflowID, i)
		return c
	}
	for i := range 6 {
		applyAs[*WorkflowActionResult](x, toggle(wfETL, i))
	}
	for i := range 2 {
		applyAs[*WorkflowActionResult](x, toggle("etl2", i))
	}
	instanceEvents := eventSeqs(x.state(), wfETL, 1)
	if len(instanceEvents) == 0 {
		t.Fatal("the running instance has no events")
	}
	if got := x.state().OldestEventSeq(wfETL, 0); got != 1 {
		t.Fatalf("oldest action of etl: %d, want 1", got)
	}

	if res := x.plan(30, deleteWorkflowEventsAct(wfETL, 4)); res.Applied != 1 {
		t.Fatalf("delete etl's actions through 4: %+v", res)
	}
	if got := eventSeqs(x.state(), wfETL, 0); !slices.Equal(got, []int64{5, 6}) {
		t.Fatalf("etl's actions after deleting through 4: %v, want [5 6]", got)
	}
	if got := x.state().OldestEventSeq(wfETL, 0); got != 5 {
		t.Errorf("oldest action of etl: %d, want 5", got)
	}
	if got := eventSeqs(x.state(), "etl2", 0); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("etl2's actions: %v, want [1 2]", got)
	}
	if got := eventSeqs(x.state(), wfETL, 1); !slices.Equal(got, instanceEvents) {
		t.Errorf("instance 1's timeline: %v, want %v", got, instanceEvents)
	}
	if e := x.state().ActionByRequest(wfETL, 0, "etl-1"); e != nil {
		t.Errorf("the request id of a deleted action still finds %+v", e)
	}
	if e := x.state().ActionByRequest(wfETL, 0, "etl-5"); e == nil || e.Seq != 6 {
		t.Errorf("the request id of a kept action finds %+v, want event 6", e)
	}

	// Nothing left to delete, or no such workflow: the actions change
	// nothing.
	if res := x.plan(31, deleteWorkflowEventsAct(wfETL, 4), deleteWorkflowEventsAct("nope", 9), deleteWorkflowEventsAct("etl2", 0)); res.Applied != 0 || res.Skipped != 3 {
		t.Fatalf("deletions with nothing to delete: %+v, want 3 skipped", res)
	}

	// Numbering goes on from the newest, and the copy of a deleted
	// action is a new action (here refused by the state it finds).
	next := applyAs[*WorkflowActionResult](x, toggle(wfETL, 6))
	if got := eventSeqs(x.state(), wfETL, 0); !slices.Equal(got, []int64{5, 6, 7}) || next.Repeated {
		t.Fatalf("etl's actions after one more: %v (repeated %v), want [5 6 7]", got, next.Repeated)
	}
	x.refusedWithoutChange(toggle(wfETL, 2), RejectFailedPrecondition, "already has its time triggers disabled")

	// Past the newest, everything goes; the workflow numbers on.
	if res := x.plan(40, deleteWorkflowEventsAct(wfETL, 99)); res.Applied != 1 {
		t.Fatalf("delete etl's actions through 99: %+v", res)
	}
	if got := eventSeqs(x.state(), wfETL, 0); len(got) != 0 {
		t.Fatalf("etl's actions after deleting through 99: %v, want none", got)
	}
	applyAs[*WorkflowActionResult](x, toggle(wfETL, 7))
	if got := eventSeqs(x.state(), wfETL, 0); !slices.Equal(got, []int64{8}) {
		t.Fatalf("etl's actions after one more: %v, want [8]", got)
	}
}
