package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// describeActionDeletions lists deletions as workflow<=seq, in order.
func describeActionDeletions(actions []*statepb.PlanAction) string {
	var out []string
	for _, a := range actions {
		d := a.GetDeleteWorkflowEvents()
		out = append(out, fmt.Sprintf("%s<=%d", d.WorkflowId, d.ThroughSeq))
	}
	return strings.Join(out, " ")
}

// keptActions lists the numbers of the actions on a workflow's own timeline.
func keptActions(px *planFixture, workflowID string) string {
	var out []string
	for _, e := range px.f.State().Events(nil, workflowID, 0, 0) {
		out = append(out, fmt.Sprint(e.Seq))
	}
	return strings.Join(out, ",")
}

// switchTriggers switches a workflow's time triggers off and on again,
// switches from to to-1 of its series (even ones off), each with its own
// request id.
func switchTriggers(px *planFixture, workflowID string, from, to int) {
	px.t.Helper()
	for i := from; i < to; i++ {
		action := fsm.WorkflowDisableTriggers
		if i%2 == 1 {
			action = fsm.WorkflowEnableTriggers
		}
		px.apply(&statepb.WorkflowAction{WorkflowId: workflowID, Action: action, TimeTriggers: true,
			RequestId: fmt.Sprintf("%s-%d", workflowID, i), Now: px.ts()})
	}
}

// By count, each workflow keeps its newest actions; the deletions are
// bounded by the limit, oldest first. An empty policy keeps all.
func TestPruneWorkflowActions(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.apply(&statepb.PushWorkflow{WorkflowId: "wf2", Definition: `{"workflow":{"id":"wf2","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`,
		Digest: "2", Now: px.ts()})
	switchTriggers(px, "wf", 0, 7)
	switchTriggers(px, "wf2", 0, 3)
	r := Retention{ActionsPerWorkflow: 3}
	acts, n := PruneWorkflowActions(px.f.State(), r, 100)
	if got := describeActionDeletions(acts); got != "wf<=4" || n != 4 {
		t.Fatalf("deletions %q (%d actions), want wf<=4 (4): wf2 has 3", got, n)
	}
	acts, n = PruneWorkflowActions(px.f.State(), r, 2)
	if got := describeActionDeletions(acts); got != "wf<=2" || n != 2 {
		t.Fatalf("deletions with limit 2 %q (%d), want wf<=2 (2)", got, n)
	}
	if none, _ := PruneWorkflowActions(px.f.State(), Retention{}, 100); none != nil {
		t.Fatalf("an empty policy deleted actions: %s", describeActionDeletions(none))
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: acts})
	// A limit that ends in one workflow's actions, and the next pass from
	// what is left.
	switchTriggers(px, "wf2", 3, 6) // wf2: 1-6
	r.ActionsPerWorkflow = 1
	acts, n = PruneWorkflowActions(px.f.State(), r, 8)
	if got := describeActionDeletions(acts); got != "wf<=6 wf2<=4" || n != 8 {
		t.Fatalf("deletions with limit 8 %q (%d), want wf<=6 wf2<=4 (8)", got, n)
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: acts})
	acts, n = PruneWorkflowActions(px.f.State(), r, 8)
	if got := describeActionDeletions(acts); got != "wf2<=5" || n != 1 {
		t.Fatalf("the next pass %q (%d), want wf2<=5 (1)", got, n)
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: acts})
	if got := keptActions(px, "wf") + " " + keptActions(px, "wf2"); got != "7 6" {
		t.Fatalf("actions kept %q, want 7 6", got)
	}
	if acts, n := PruneWorkflowActions(px.f.State(), r, 8); acts != nil || n != 0 {
		t.Fatalf("a pass with nothing beyond the count deletes %s (%d)", describeActionDeletions(acts), n)
	}
}

// The leader deletes workflows' actions only once every server applies
// protocol 5: an older server would skip the action and keep them.
func TestLeaderPrunesWorkflowActionsFromProtocol5(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	switchTriggers(px, "wf", 0, 5)
	protocol := 4
	l := &Leader{State: px.f, Apply: &fsmApplier{f: px.f, index: px.index}, Now: func() time.Time { return px.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: Retention{ActionsPerWorkflow: 2},
		Protocol: func() int { return protocol }}
	if l.prune(context.Background()) || keptActions(px, "wf") != "1,2,3,4,5" {
		t.Fatalf("protocol 4 deleted actions: kept %s", keptActions(px, "wf"))
	}
	protocol = 5
	if l.prune(context.Background()) || keptActions(px, "wf") != "4,5" {
		t.Fatalf("protocol 5 kept %s, want 4,5", keptActions(px, "wf"))
	}
	if l.prune(context.Background()) {
		t.Error("a pass with nothing to delete asks for another at once")
	}
}
