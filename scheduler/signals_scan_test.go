package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// roundsUntil plans rounds until cond holds, at most max of them, and
// returns how many it took; it fails the test when cond never holds.
func (px *planFixture) roundsUntil(max int, what string, cond func() bool) int {
	px.t.Helper()
	for n := 1; n <= max; n++ {
		px.round()
		if cond() {
			return n
		}
	}
	px.t.Fatalf("%s: not after %d rounds (started %q, trigger %v)", what, max, px.started(), px.signalTrigger())
	return 0
}

// Any number of signals that do not match a trigger's match_params never
// hide a later one that does: rounds that fire nothing move the
// checkpoint past them, a window at a time, and never past a signal that
// matches.
func TestSignalTriggerPassesOverSignalsThatCannotFireIt(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "feed",
	  "signal_triggers": [{"definitions": {"solo": {"match_params": {"name": {"value": "orders"}}}}}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	for range maxSignalsScanned {
		px.sendSignal("solo", map[string]any{"name": "other"})
	}
	first := px.sendSignal("solo", map[string]any{"name": "orders"})
	px.roundsUntil(3, "the matching signal after 1,000 others fires", func() bool {
		return px.started() == fmt.Sprintf("1:solo#%d", first)
	})
	if tr := px.signalTrigger(); tr.Checkpoints["solo"] != first || tr.Fires != 1 {
		t.Fatalf("trigger after the fire: %v", tr)
	}

	// Many more, one matching signal among them: the checkpoint, moved
	// without a fire, is where a new leader (its own caches) goes on, and
	// it stops right before the matching signal.
	for range 2*maxSignalsScanned + 500 {
		px.sendSignal("solo", map[string]any{"name": "other"})
	}
	second := px.sendSignal("solo", map[string]any{"name": "orders"})
	for range 10 {
		px.sendSignal("solo", map[string]any{"name": "other"})
	}
	third := px.sendSignal("solo", map[string]any{"name": "orders"})
	px.round()
	if tr := px.signalTrigger(); tr.Checkpoints["solo"] != first+maxSignalsScanned || tr.Fires != 1 {
		t.Fatalf("after a round of non-matching signals the trigger is %v, want checkpoint %d", tr, first+maxSignalsScanned)
	}
	px.defs = NewDefinitionCache()
	want := fmt.Sprintf("1:solo#%d 2:solo#%d 3:solo#%d", first, second, third)
	px.roundsUntil(4, "both matching signals fire", func() bool { return px.started() == want })
	px.round()
	if got := px.started(); got != want {
		t.Fatalf("started %q, want %q", got, want)
	}
}

// A trigger that joins two names passes over signals that cannot fire it,
// but never one that could once its partner arrives.
func TestJoinedSignalTriggerKeepsSignalsThatCanStillMatch(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	px.round()
	px.sendSignal("orders", map[string]any{"day": 200, "region": "eu"}) // #1, waits for its price
	for range 2*maxSignalsScanned + 200 {
		px.sendSignal("orders", map[string]any{"day": 200, "region": "us"})
		px.sendSignal("prices", map[string]any{"date": 200, "version": 1})
	}
	for range 3 {
		px.round()
	}
	if got := px.started(); got != "" {
		t.Fatalf("started %q without a matching price", got)
	}
	tr := px.signalTrigger()
	if tr.Checkpoints["orders"] != 0 || tr.Checkpoints["prices"] != 2*maxSignalsScanned+200 {
		t.Fatalf("checkpoints %v: orders must stay before #1, prices past every one", tr.Checkpoints)
	}
	price := px.sendSignal("prices", map[string]any{"date": 200, "version": 2})
	px.round()
	if got, want := px.started(), fmt.Sprintf("1:orders#1,prices#%d", price); got != want {
		t.Fatalf("started %q, want %q", got, want)
	}
}

// While a joined trigger's oldest waiting signals fill its window without
// a match, a match among the newest signals fires all the same (and, as
// any fire does, passes over the older ones).
func TestJoinedSignalTriggerFiresPastSignalsWaitingForPartners(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	px.round()
	for day := range maxSignalsScanned + 500 {
		px.sendSignal("orders", map[string]any{"day": 1000 + day, "region": "eu"})
	}
	order := px.sendSignal("orders", map[string]any{"day": 5000, "region": "eu"})
	price := px.sendSignal("prices", map[string]any{"date": 5000, "version": 2})
	px.roundsUntil(2, "the new match fires", func() bool {
		return px.started() == fmt.Sprintf("1:orders#%d,prices#%d", order, price)
	})
}

// A step finds the signal that matches its dependency however many
// non-matching ones of the name arrived after it (up to
// maxSignalsSearched).
func TestSignalDependencyFindsMatchBehindNewerSignals(t *testing.T) {
	px := newPlanFixture(t, waitsForSignal)
	px.round()
	px.expect("wait:WAITING_FOR_SIGNALS", "wait")
	px.sendSignal("ready", map[string]any{"day": 6})
	px.sendSignal("ready", map[string]any{"day": 9})
	for range 3*maxSignalsScanned + 100 {
		px.sendSignal("ready", map[string]any{"day": 1})
	}
	px.round()
	px.expect("wait:RUNNING", "wait")
	if v, err := ValueFromParam(px.step("wait").Attempts[0].Params["got"]); err != nil || v.Raw != int64(9) {
		t.Fatalf("got = %v (%v), want the newest matching signal's 9", v.Raw, err)
	}

	// Beyond the bound, as documented, the step waits.
	px = newPlanFixture(t, waitsForSignal)
	px.sendSignal("ready", map[string]any{"day": 9})
	for range maxSignalsSearched {
		px.sendSignal("ready", map[string]any{"day": 1})
	}
	px.round()
	px.expect("wait:WAITING_FOR_SIGNALS", "wait")
}

// A foreach step restarted runs its iterations again under the same ids;
// their steps' signal_outputs are sent again, not taken for the first
// run's.
func TestRestartedIterationSendsItsSignalsAgain(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "loop", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1]}}}},
	    "steps": [{"step": {"id": "emit", "type": "NoOp", "signal_outputs": [{"name": "done", "params": {"i": {"type": "LONG", "expression": "i"}}}]}},
	              {"step": {"id": "hold", "type": "NoOp"}}]}}]}}`)
	child := workflow.InlineWorkflowID(px.wf, px.inst, "loop")
	finishEmit := func() {
		t.Helper()
		for range 10 {
			px.round()
			st := px.f.State().Step(nil, child, 1, "emit")
			if st != nil && st.Status == fsm.StepRunning {
				a := st.Attempts[len(st.Attempts)-1]
				px.apply(&statepb.ReportResult{WorkflowId: child, InstanceId: 1, StepId: "emit", AttemptNumber: a.AttemptNumber,
					Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(), Executions: 1})
				px.round()
				return
			}
		}
		t.Fatalf("the iteration's emit step never ran")
	}
	sent := func() []string {
		var out []string
		for _, sg := range px.f.State().Signals("done", 0) {
			out = append(out, fmt.Sprintf("#%d from %s", sg.Seq, sg.Source))
		}
		return out
	}

	finishEmit()
	if got := sent(); len(got) != 1 {
		t.Fatalf("after the first run, signals %v, want one", got)
	}
	px.apply(&statepb.StopInstance{WorkflowId: px.wf, InstanceId: px.inst, Reason: "stop", Now: px.ts()})
	px.round()
	px.apply(&statepb.Action{WorkflowId: px.wf, InstanceId: px.inst, StepId: "loop", Action: "RESTART",
		RestartPolicy: "RESTART_FROM_SPECIFIC", ResetSteps: []string{"loop"}, Now: px.ts()})
	finishEmit()
	if st := px.f.State().Step(nil, child, 1, "emit"); !st.SignalsEmitted {
		t.Fatalf("emit of the restarted iteration did not emit: %v", st)
	}
	if got := sent(); len(got) != 2 || !strings.Contains(got[0], child+"/1/emit") {
		t.Fatalf("after the restarted run, signals %v, want two from the iteration's emit", got)
	}
}
