package scheduler

import (
	"fmt"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// blockedStrictFixture is a STRICT_SEQUENTIAL workflow whose instance 1
// failed and holds instance 2 queued.
func blockedStrictFixture(t *testing.T) *planFixture {
	t.Helper()
	px := strategyFixture(t, "STRICT_SEQUENTIAL")
	px.startAnother("r2")
	px.round()
	px.finishIn(1, "a", fsm.AttemptUserFailed)
	px.round()
	px.round()
	if got := px.statusesOf(1, 2); got != "FAILED CREATED" {
		t.Fatalf("setup: %s, want FAILED CREATED", got)
	}
	return px
}

// prune applies what Prune chooses and returns the deleted ids.
func (px *planFixture) prune(r Retention, limit int) []int64 {
	px.t.Helper()
	actions := Prune(px.f.State(), px.now, r, limit)
	if len(actions) > 0 {
		px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: actions})
	}
	return deleted(actions)
}

func (px *planFixture) stopQueued(id int64) {
	px.t.Helper()
	px.apply(&statepb.StopInstance{WorkflowId: px.wf, InstanceId: id, Reason: "not needed", Now: px.ts()})
	if got := px.instanceStatus(id); got != fsm.InstanceStopped {
		px.t.Fatalf("stopped queued instance %d is %s", id, got)
	}
}

// Retention by age keeps the failed instance that blocks the queue: deleting
// it would start the next one though nobody restarted it or unblocked the
// workflow. Once unblocked, it goes like any other.
func TestPruneByAgeKeepsTheInstanceBlockingAStrictQueue(t *testing.T) {
	px := blockedStrictFixture(t)
	px.now = px.now.Add(2 * time.Hour)
	pruned := px.prune(Retention{MaxAge: time.Hour}, 100)
	px.round()
	if st := px.f.State().Instance(nil, px.wf, 2); st.Status != fsm.InstanceCreated {
		t.Fatalf("after retention deleted %v, instance 2 is %s: the queue was unblocked", pruned, st.Status)
	}
	if len(pruned) != 0 {
		t.Fatalf("deleted %v: the instance holding the queue went", pruned)
	}
	px.apply(&statepb.UnblockWorkflow{WorkflowId: px.wf, Now: px.ts()})
	px.round()
	if got := px.statusesOf(2); got != fsm.InstanceInProgress {
		t.Fatalf("after unblock: %s", got)
	}
	if got := px.prune(Retention{MaxAge: time.Hour}, 100); fmt.Sprint(got) != "[1]" {
		t.Fatalf("after unblock deleted %v, want [1]", got)
	}
}

// The count limit must not delete it either, however many newer finished
// instances there are (here queued ones that were stopped).
func TestPruneByCountKeepsTheInstanceBlockingAStrictQueue(t *testing.T) {
	px := blockedStrictFixture(t)
	for _, req := range []string{"r3", "r4"} {
		px.stopQueued(px.startAnother(req))
	}
	// Finished, newest first: 4 (kept by count), 3, 1 (holds 2's queue).
	pruned := px.prune(Retention{KeepPerWorkflow: 1}, 100)
	px.round()
	if st := px.f.State().Instance(nil, px.wf, 2); st.Status != fsm.InstanceCreated {
		t.Fatalf("after retention deleted %v, instance 2 is %s: the queue was unblocked", pruned, st.Status)
	}
	if fmt.Sprint(pruned) != "[3]" {
		t.Fatalf("deleted %v, want [3]", pruned)
	}
}

// Nor may retention block a queue that is open: when the newest finished
// instance is a stopped one, an older failed one below it would hold the
// queue if the stopped one went first.
func TestPruneNeverExposesAnOlderBlockingInstance(t *testing.T) {
	px := blockedStrictFixture(t)
	px.stopQueued(2)
	px.now = px.now.Add(2 * time.Hour)
	// One deletion at a time, newest first, as a backlog is pruned.
	pruned := px.prune(Retention{MaxAge: time.Hour}, 1)
	third := px.startAnother("r3")
	px.round()
	if got := px.statusesOf(third); got == fsm.InstanceCreated {
		t.Fatalf("after retention deleted %v, a new instance is %s (%s), want it to run as before retention",
			pruned, got, px.f.State().Instance(nil, px.wf, third).Reason)
	}
	if fmt.Sprint(pruned) != "[1]" {
		t.Fatalf("deleted %v, want [1] (2 is what a new instance reads)", pruned)
	}
}

// Other strategies do not depend on finished instances: their failures go
// by age like anything else.
func TestPruneDeletesFailuresOfOtherStrategies(t *testing.T) {
	px := strategyFixture(t, "SEQUENTIAL")
	px.round()
	px.finishIn(1, "a", fsm.AttemptUserFailed)
	px.round()
	px.now = px.now.Add(2 * time.Hour)
	if got := px.prune(Retention{MaxAge: time.Hour}, 100); fmt.Sprint(got) != "[1]" {
		t.Fatalf("deleted %v, want [1]", got)
	}
}

// A synchronous subworkflow instance is deleted with its parent's tree, so
// retention keeps the parent while the child holds its own workflow's
// STRICT_SEQUENTIAL queue.
func TestPruneKeepsTheTreeOfABlockingSubworkflowInstance(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"subworkflow": {"id": "call",
	  "params": {"subworkflow_id": {"type": "STRING", "value": "child"}}}}]}}`)
	child := `{"properties": {"run_strategy": "STRICT_SEQUENTIAL"},
	  "workflow": {"id": "child", "steps": [{"step": {"id": "w", "type": "NoOp", "retry_policy": {"error_retry_limit": 0}}}]}}`
	px.apply(&statepb.PushWorkflow{WorkflowId: "child", Definition: child, Digest: "child-1", Now: px.ts()})
	for range 3 {
		px.round()
	}
	px.wf = "child"
	if got := px.statusesOf(1); got != fsm.InstanceInProgress {
		t.Fatalf("child 1 is %s (%s); call %v", got, px.f.State().Instance(nil, "child", 1).Reason, px.f.State().Step(nil, "wf", 1, "call"))
	}
	px.finishIn(1, "w", fsm.AttemptUserFailed)
	px.wf = "wf"
	for range 3 {
		px.round()
	}
	second := px.startAnother("r2")
	for range 3 {
		px.round()
	}
	if got := px.statusesOf(1, second); got != "FAILED IN_PROGRESS" {
		t.Fatalf("parents: %s, want FAILED IN_PROGRESS", got)
	}
	px.wf = "child"
	if got := px.statusesOf(1, 2); got != "FAILED CREATED" {
		t.Fatalf("children: %s, want FAILED CREATED (blocked)", got)
	}
	px.now = px.now.Add(2 * time.Hour)
	pruned := px.prune(Retention{MaxAge: time.Hour}, 100)
	px.round()
	if st := px.f.State().Instance(nil, "child", 2); st.Status != fsm.InstanceCreated {
		t.Fatalf("after retention deleted %v, child 2 is %s: its queue was unblocked", pruned, st.Status)
	}
	if len(pruned) != 0 {
		t.Fatalf("deleted %v: the tree holding child's queue went", pruned)
	}
}
