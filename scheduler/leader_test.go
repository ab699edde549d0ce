package scheduler

import (
	"io"
	"log/slog"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// planAhead plans on its own decisions: one round starts a foreach's
// iterations and places their steps; the next, given the steps' results,
// ends those iterations and starts the next ones — work that takes a round
// per stage without speculation. Committed as chained entries, the plans
// leave the real state exactly where the speculation did.
func TestPlanAheadChainsStagesInOneRound(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "loop", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2, 3, 4]}}}},
	    "concurrency": 2, "steps": [{"step": {"id": "work", "type": "NoOp"}}]}}]}}`)
	l := &Leader{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	in := Input{Now: px.now, Members: px.members, Defs: px.defs}
	commit := func(out Output, carry []*pendingResult) {
		t.Helper()
		plan := &statepb.ApplyPlan{Now: timestamppb.New(px.now), Actions: out.Actions, Chained: true}
		for _, p := range carry {
			plan.Results = append(plan.Results, p.r)
		}
		res := px.apply(plan).(*fsm.PlanResult)
		if res.Dropped || res.Skipped != 0 || res.Applied != len(out.Actions) {
			t.Fatalf("committing the speculated plan: %+v", res)
		}
	}
	running := func() []*statepb.Step {
		var out []*statepb.Step
		for _, st := range px.f.State().RunningSteps() {
			if st.StepId == "work" {
				out = append(out, st)
			}
		}
		return out
	}

	out, _ := l.planAhead(px.f.Speculate(), in, nil)
	commit(out, nil)
	if n := len(running()); n != 2 {
		t.Fatalf("after one round %d iteration steps run, want 2 (concurrency 2): the loop step, its children and their steps in one round", n)
	}

	var taken []*pendingResult
	for _, st := range running() {
		a := st.Attempts[0]
		taken = append(taken, &pendingResult{r: &statepb.ReportResult{WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
			AttemptNumber: 1, Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(), Executions: 1},
			done: make(chan struct{})})
	}
	b := NewResults()
	for _, p := range taken {
		p.inbox = b
	}
	out, carry := l.planAhead(px.f.Speculate(), in, taken)
	if len(carry) != 2 {
		t.Fatalf("%d results carried, want 2", len(carry))
	}
	commit(out, carry)
	next := running()
	if len(next) != 2 {
		t.Fatalf("after the results' round %d steps run, want the next 2 iterations'", len(next))
	}
	for _, st := range next {
		for _, p := range taken {
			if st.WorkflowId == p.r.WorkflowId && st.InstanceId == p.r.InstanceId {
				t.Fatalf("iteration %s/%d runs again", st.WorkflowId, st.InstanceId)
			}
		}
	}
	if opensWork([]*statepb.PlanAction{{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{Node: "n1"}}}}) {
		t.Error("placing a plain step needs no further pass")
	}
}

// Rounds skip triggers only while nothing they read changed, none is due,
// and the last look is recent.
func TestTriggerMemoSkip(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := triggerMemo{valid: true, epoch: 7, wake: t0.Add(time.Minute), at: t0}
	for _, c := range []struct {
		epoch uint64
		now   time.Time
		want  bool
	}{
		{7, t0.Add(time.Second), true},
		{8, t0.Add(time.Second), false},                       // a workflow, trigger or signal changed
		{7, t0.Add(time.Minute), false},                       // a trigger is due
		{7, t0.Add(triggersRefresh), false},                   // look again now and then
		{7, t0.Add(triggersRefresh - time.Millisecond), true}, // not yet
	} {
		if got := m.skip(c.epoch, c.now); got != c.want {
			t.Errorf("epoch %d at +%s: skip %v, want %v", c.epoch, c.now.Sub(t0), got, c.want)
		}
	}
	if (&triggerMemo{}).skip(0, t0) {
		t.Error("no memo yet: must plan triggers")
	}
}

// A round that skips triggers fires none, even a due one; one that plans
// them reports when the next is due. Pushing a workflow moves the epoch;
// an attempt result does not.
func TestSkipTriggersAndEpoch(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "cron", "time_triggers": [{"type": "CRON", "cron": "*/2 * * * * ?", "timezone": "UTC"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	before := px.f.TriggerEpoch()
	px.round() // sets the trigger's first time
	if px.f.TriggerEpoch() == before {
		t.Fatal("setting a trigger did not move the epoch")
	}
	px.now = px.now.Add(10 * time.Second)
	out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, SkipTriggers: true})
	if len(out.Actions) != 0 || out.TriggersPlanned {
		t.Fatalf("a round skipping triggers planned %d actions (triggers planned %v)", len(out.Actions), out.TriggersPlanned)
	}
	out = Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs})
	if !out.TriggersPlanned || out.TriggersWakeAt.IsZero() || !out.TriggersWakeAt.After(px.now) {
		t.Fatalf("round planning triggers: planned %v, next due %v (now %v)", out.TriggersPlanned, out.TriggersWakeAt, px.now)
	}
	fires := 0
	for _, a := range out.Actions {
		if a.GetFireTrigger() != nil {
			fires++
		}
	}
	if fires == 0 {
		t.Fatal("the due trigger did not fire")
	}
}
