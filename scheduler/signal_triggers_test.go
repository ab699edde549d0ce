package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// sendSignal records a signal as the API would, typed like its values.
func (px *planFixture) sendSignal(name string, params map[string]any) int64 {
	px.t.Helper()
	cmd := &statepb.SendSignal{Name: name, Now: px.ts(), Source: "api", Params: map[string]*statepb.Param{}}
	for k, v := range params {
		var val workflow.Value
		switch x := v.(type) {
		case int:
			val = workflow.Value{Type: workflow.Long, Raw: int64(x)}
		case string:
			val = workflow.Value{Type: workflow.String, Raw: x}
		default:
			px.t.Fatalf("signal param %s: %T", k, v)
		}
		p, err := ParamFromValue(val)
		if err != nil {
			px.t.Fatal(err)
		}
		cmd.Params[k] = p
	}
	return px.apply(cmd).(*fsm.SignalResult).Signal.Seq
}

// started describes the workflow's instances, oldest first, by the signals
// that started them.
func (px *planFixture) started() string {
	var out []string
	list := px.f.State().Instances(nil, px.wf, 0)
	for i := len(list) - 1; i >= 0; i-- {
		si := list[i].SignalInitiator
		if si == nil {
			out = append(out, fmt.Sprintf("%d:manual", list[i].InstanceId))
			continue
		}
		var sigs []string
		for _, name := range []string{"orders", "prices", "solo"} {
			if sg := si.Signals[name]; sg != nil {
				sigs = append(sigs, fmt.Sprintf("%s#%d", name, sg.Seq))
			}
		}
		out = append(out, fmt.Sprintf("%d:%s", list[i].InstanceId, strings.Join(sigs, ",")))
	}
	return strings.Join(out, " ")
}

func (px *planFixture) signalTrigger() *statepb.Trigger {
	px.t.Helper()
	for _, tr := range px.f.State().Triggers(nil, px.wf) {
		if strings.HasPrefix(tr.TriggerId, "signal-") {
			return tr
		}
	}
	return nil
}

const joinedTrigger = `{"properties": {"owner": "t", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 50}},
  "workflow": {"id": "feed",
  "signal_triggers": [{
    "definitions": {
      "orders": {"match_params": {"region": {"value": "eu"}}, "join_keys": ["day"]},
      "prices": {"match_params": {"version": {"value": 2, "operator": ">="}}, "join_keys": ["date"]}},
    "condition": "day > 100",
    "params": {"source": {"type": "STRING", "value": "feeds"},
               "tag": {"type": "STRING", "expression": "'d' + day"}}}],
  "steps": [{"step": {"id": "report", "type": "NoOp", "params": {
    "day": {"type": "LONG", "expression": "params.getFromSignal('orders', 'day')"},
    "source": {"type": "STRING", "expression": "params.getFromSignal('source')"},
    "tag": {"type": "STRING", "expression": "params.getFromSignal('tag')"}}}}]}}`

// A trigger on two joined signals starts one instance per match, each
// signal consumed once; signals sent before the trigger existed, signals
// that do not match their name's match_params and signals whose join
// values differ start nothing; the instance's steps read the signals.
func TestSignalTriggerFiresOncePerJoinedMatch(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	px.sendSignal("orders", map[string]any{"day": 200, "region": "eu"})
	px.sendSignal("prices", map[string]any{"date": 200, "version": 3})
	px.round()
	tr := px.signalTrigger()
	if tr == nil || tr.Checkpoints["orders"] != 1 || tr.Checkpoints["prices"] != 1 {
		t.Fatalf("a new trigger starts after the signals sent before it: %v", tr)
	}
	px.round()
	if got := px.started(); got != "" {
		t.Fatalf("signals sent before the trigger existed started %s", got)
	}

	px.sendSignal("orders", map[string]any{"day": 300, "region": "us"})  // #2: region does not match
	px.sendSignal("orders", map[string]any{"day": 300, "region": "eu"})  // #3
	px.sendSignal("prices", map[string]any{"date": 300, "version": 1})   // #2: version too low
	px.sendSignal("prices", map[string]any{"date": 301, "version": 2})   // #3: other day
	px.sendSignal("orders", map[string]any{"day": 301, "region": "eu"})  // #4
	px.sendSignal("prices", map[string]any{"date": "300", "version": 5}) // #4: "300" joins 300
	px.round()
	// orders #3 joins prices #4; that moves the prices checkpoint past #3,
	// which orders #4 would have joined: older signals are passed over.
	if got := px.started(); got != "1:orders#3,prices#4" {
		t.Fatalf("started %q", got)
	}
	px.sendSignal("prices", map[string]any{"date": 301, "version": 2}) // #5
	px.round()
	if got := px.started(); got != "1:orders#3,prices#4 2:orders#4,prices#5" {
		t.Fatalf("started %q", got)
	}
	tr = px.signalTrigger()
	if tr.Checkpoints["orders"] != 4 || tr.Checkpoints["prices"] != 5 || tr.Fires != 2 {
		t.Fatalf("trigger after two fires: %v", tr)
	}
	// Nothing is left to match, however often planning runs.
	px.round()
	px.round()
	if n := len(px.f.State().Instances(nil, px.wf, 0)); n != 2 {
		t.Fatalf("%d instances after more rounds, want 2", n)
	}

	// The instance's step reads the signals and the trigger's params.
	px.inst = 1
	px.round()
	params := px.step("report").Attempts[0].Params
	for name, want := range map[string]any{"day": int64(300), "source": "feeds", "tag": "d300"} {
		v, err := ValueFromParam(params[name])
		if err != nil || v.Raw != want {
			t.Errorf("report param %s = %v (%v), want %v", name, v.Raw, err, want)
		}
	}
}

// A match is consumed even when it starts nothing: when its condition is
// false, or when its dedup key started an instance before.
func TestSignalTriggerConditionAndDedup(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "feed",
	  "signal_triggers": [{"definitions": {"solo": {}}, "condition": "n > 0", "dedup_expr": "'key-' + (n % 2)"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	px.sendSignal("solo", map[string]any{"n": 0}) // condition false
	px.sendSignal("solo", map[string]any{"n": 1}) // key-1
	px.sendSignal("solo", map[string]any{"n": 3}) // key-1 again
	px.sendSignal("solo", map[string]any{"n": 2}) // key-0
	px.round()
	if got := px.started(); got != "1:solo#2 2:solo#4" {
		t.Fatalf("started %q", got)
	}
	tr := px.signalTrigger()
	if tr.Checkpoints["solo"] != 4 || tr.Fires != 4 || tr.Skipped != 2 {
		t.Fatalf("trigger: %v", tr)
	}
	if !strings.HasPrefix(tr.LastSkipReason, "dedup key already started instance 1") {
		t.Fatalf("last skip reason %q", tr.LastSkipReason)
	}
	// A condition that cannot be evaluated consumes the match too.
	px.sendSignal("solo", map[string]any{"m": 1})
	px.round()
	if tr := px.signalTrigger(); tr.Checkpoints["solo"] != 5 || !strings.HasPrefix(tr.LastSkipReason, "condition: ") {
		t.Fatalf("trigger after a condition error: %v", tr)
	}
}

// The fire and the instance are one entry: a plan made before a leader
// change and applied again after it, or computed again by a new leader
// from the state, neither loses nor doubles a fire.
func TestSignalTriggerFireSurvivesLeaderChange(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "feed",
	  "signal_triggers": [{"definitions": {"solo": {}}}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	px.sendSignal("solo", nil)
	px.sendSignal("solo", nil)
	old := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs})
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: old.Actions})
	// The old leader's plan arrives again, and a new leader (its own
	// caches) plans from the state.
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: old.Actions})
	px.defs = NewDefinitionCache()
	px.round()
	if got := px.started(); got != "1:solo#1 2:solo#2" {
		t.Fatalf("started %q", got)
	}
	if tr := px.signalTrigger(); tr.Fires != 2 || tr.Skipped != 0 || tr.Checkpoints["solo"] != 2 {
		t.Fatalf("trigger after the replayed plan: %v", tr)
	}
	px.sendSignal("solo", nil)
	px.round()
	if got := px.started(); got != "1:solo#1 2:solo#2 3:solo#3" {
		t.Fatalf("after one more signal, started %q", got)
	}
}

// Switched off by the definition, by an operator or by deactivation, a
// signal trigger consumes nothing; switched on again it is fired by the
// signals sent from then on only.
func TestSignalTriggerStopsWhenSwitchedOff(t *testing.T) {
	px := triggerFixture(t, `{"properties": {"owner": "t", "signal_trigger_disabled": true}, "workflow": {"id": "feed",
	  "signal_triggers": [{"definitions": {"solo": {}}}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	if tr := px.signalTrigger(); tr != nil {
		t.Fatalf("a trigger the definition disables has a record: %v", tr)
	}
	px.push(`{"workflow":{"id":"feed","signal_triggers":[{"definitions":{"solo":{}}}],"steps":[{"step":{"id":"a","type":"NoOp"}}]}}`)
	px.round()
	px.sendSignal("solo", nil)
	px.round()
	if got := px.started(); got != "1:solo#1" {
		t.Fatalf("started %q", got)
	}

	for _, off := range []struct {
		name string
		off  *statepb.WorkflowAction
		on   *statepb.ActivateWorkflow
	}{
		{"operator", &statepb.WorkflowAction{Action: fsm.WorkflowDisableTriggers, SignalTriggers: true}, nil},
		{"deactivate", &statepb.WorkflowAction{Action: fsm.WorkflowDeactivate}, &statepb.ActivateWorkflow{WorkflowId: "feed", Version: 2}},
	} {
		before := len(px.f.State().Instances(nil, px.wf, 0))
		off.off.WorkflowId, off.off.Now = px.wf, px.ts()
		px.apply(off.off)
		px.round()
		if tr := px.signalTrigger(); tr != nil {
			t.Fatalf("%s: the trigger kept its record: %v", off.name, tr)
		}
		px.sendSignal("solo", nil)
		px.round()
		if n := len(px.f.State().Instances(nil, px.wf, 0)); n != before {
			t.Fatalf("%s: %d instances while off, want %d", off.name, n, before)
		}
		if off.on != nil {
			off.on.Now = px.ts()
			px.apply(off.on)
		} else {
			px.apply(&statepb.WorkflowAction{WorkflowId: px.wf, Action: fsm.WorkflowEnableTriggers, SignalTriggers: true, Now: px.ts()})
		}
		px.round()
		px.round()
		if n := len(px.f.State().Instances(nil, px.wf, 0)); n != before {
			t.Fatalf("%s: a signal sent while off fired the trigger once on again", off.name)
		}
		seq := px.sendSignal("solo", nil)
		px.round()
		list := px.f.State().Instances(nil, px.wf, 1)
		if len(list) != 1 || list[0].SignalInitiator.GetSignals()["solo"].GetSeq() != seq {
			t.Fatalf("%s: after switching on, the next signal started %v", off.name, list)
		}
	}
}

// An operator's switch stops time triggers as the definition's property
// does; switched back on, the schedule restarts from the next time.
func TestTimeTriggerStopsWhenSwitchedOff(t *testing.T) {
	px := triggerFixture(t, everyFiveSeconds)
	px.round()
	px.apply(&statepb.WorkflowAction{WorkflowId: px.wf, Action: fsm.WorkflowDisableTriggers, TimeTriggers: true, Now: px.ts()})
	px.round()
	if tr := px.f.State().Triggers(nil, px.wf); len(tr) != 0 {
		t.Fatalf("switched-off time trigger kept its record: %v", tr)
	}
	px.now = px.now.Add(time.Minute)
	px.round()
	if got := px.fired(); len(got) != 0 {
		t.Fatalf("fired while switched off: %v", got)
	}
	px.apply(&statepb.WorkflowAction{WorkflowId: px.wf, Action: fsm.WorkflowEnableTriggers, TimeTriggers: true, Now: px.ts()})
	out := px.round()
	next := time.Date(2026, 1, 2, 3, 5, 5, 0, time.UTC)
	if !out.WakeAt.Equal(next) {
		t.Fatalf("wake at %v, want the first time after switching on, %v", out.WakeAt, next)
	}
	px.now = next
	px.round()
	if got := px.fired(); len(got) != 1 {
		t.Fatalf("after switching on: %v", got)
	}
}

// A deactivated workflow's instances run on under its latest version's run
// strategy rather than falling back to SEQUENTIAL.
func TestDeactivatedWorkflowKeepsItsRunStrategy(t *testing.T) {
	px := strategyFixture(t, workflow.RunParallel)
	second := px.startAnother("r2")
	px.apply(&statepb.WorkflowAction{WorkflowId: px.wf, Action: fsm.WorkflowDeactivate, Now: px.ts()})
	px.round()
	if got := px.statusesOf(px.inst, second); got != "IN_PROGRESS IN_PROGRESS" {
		t.Fatalf("instances of a deactivated PARALLEL workflow: %s", got)
	}
}

const waitsForSignal = `{"workflow": {"id": "wf", "steps": [
  {"step": {"id": "wait", "type": "NoOp",
    "signal_dependencies": [{"name": "ready", "match_params": {"day": {"value": 5, "operator": ">="}}}],
    "params": {"got": {"type": "LONG", "expression": "params.getFromSignalDependency('0', 'day')"}}}}]}}`

// A step's params read the signal that matched its dependency; a bypassed
// step runs without one.
func TestSignalDependencyParamsAndBypass(t *testing.T) {
	px := newPlanFixture(t, waitsForSignal)
	px.round()
	px.expect("wait:WAITING_FOR_SIGNALS", "wait")
	px.sendSignal("ready", map[string]any{"day": 4})
	px.sendSignal("ready", map[string]any{"day": 7})
	px.round()
	px.expect("wait:RUNNING", "wait")
	if v, err := ValueFromParam(px.step("wait").Attempts[0].Params["got"]); err != nil || v.Raw != int64(7) {
		t.Fatalf("got = %v (%v), want the matching signal's 7", v.Raw, err)
	}

	px = newPlanFixture(t, strings.Replace(waitsForSignal, `"params": {"got": {"type": "LONG", "expression": "params.getFromSignalDependency('0', 'day')"}}`, `"params": {}`, 1))
	px.round()
	px.expect("wait:WAITING_FOR_SIGNALS", "wait")
	px.apply(&statepb.Action{WorkflowId: px.wf, InstanceId: px.inst, StepId: "wait", Action: "BYPASS_SIGNALS", Now: px.ts()})
	px.round()
	px.expect("wait:RUNNING", "wait")
}

// A breakpoint pauses a step's attempt before it starts; a resume lets
// that attempt run, and the breakpoint catches the step's next attempt.
func TestBreakpointPausesEachAttemptUntilResumed(t *testing.T) {
	px := newPlanFixture(t, diamond(`"retry_policy": {"error_retry_limit": 1, "backoff": {"type": "FIXED_BACKOFF", "error_retry_backoff_in_secs": 1}}`))
	px.apply(&statepb.SetBreakpoint{WorkflowId: px.wf, StepId: "b", Now: px.ts()})
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("b:PAUSED c:RUNNING", "b", "c")
	if st := px.step("b"); st.PausedAt != "wf/b" || !strings.Contains(st.Reason, "attempt 1 paused at breakpoint wf/b") {
		t.Fatalf("paused step: %v", st)
	}
	px.round()
	px.expect("b:PAUSED", "b")

	px.apply(&statepb.Action{WorkflowId: px.wf, InstanceId: px.inst, StepId: "b", Action: "RESUME", Now: px.ts()})
	px.round()
	px.expect("b:RUNNING", "b")
	px.finish("b", fsm.AttemptUserFailed, 1)
	px.round()
	px.now = px.now.Add(2 * time.Second)
	px.round()
	if st := px.step("b"); st.Status != fsm.StepPaused || !strings.Contains(st.Reason, "attempt 2") {
		t.Fatalf("the retry was not held: %v", st)
	}
	// Deleting the breakpoint resumes it; the instance finishes.
	px.apply(&statepb.DeleteBreakpoint{WorkflowId: px.wf, StepId: "b", Now: px.ts()})
	px.round()
	px.finish("b", fsm.AttemptSucceeded, 0)
	px.finish("c", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("d", fsm.AttemptSucceeded, 0)
	px.round()
	if st := px.instance().Status; st != fsm.InstanceSucceeded {
		t.Fatalf("instance %s", st)
	}
}

// A breakpoint limited to an instance or a version holds only that one; a
// breakpoint on a step nested in a foreach holds it in every iteration.
func TestBreakpointScopes(t *testing.T) {
	px := newPlanFixture(t, `{"properties": {"owner": "t", "run_strategy": "PARALLEL"}, "workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "each", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2]}}}},
	    "steps": [{"step": {"id": "inner", "type": "NoOp"}}]}},
	  {"step": {"id": "solo", "type": "NoOp"}}]}}`)
	second := px.startAnother("r2")
	px.apply(&statepb.SetBreakpoint{WorkflowId: px.wf, StepId: "solo", InstanceId: second, Now: px.ts()})
	px.apply(&statepb.SetBreakpoint{WorkflowId: px.wf, StepId: "inner", Version: 1, Now: px.ts()})
	for range 4 {
		px.round()
	}
	if got := px.f.State().Step(nil, px.wf, px.inst, "solo").Status; got != fsm.StepRunning {
		t.Fatalf("solo of instance %d (not the breakpoint's) is %s", px.inst, got)
	}
	if got := px.f.State().Step(nil, px.wf, second, "solo").Status; got != fsm.StepPaused {
		t.Fatalf("solo of instance %d is %s, want PAUSED", second, got)
	}
	for _, top := range []int64{px.inst, second} {
		child := workflow.InlineWorkflowID(px.wf, top, "each")
		for iter := int64(1); iter <= 2; iter++ {
			st := px.f.State().Step(nil, child, iter, "inner")
			if st == nil || st.Status != fsm.StepPaused || st.PausedAt != "wf/inner@v1" {
				t.Fatalf("inner of %s iteration %d: %v", child, iter, st)
			}
		}
	}
}
