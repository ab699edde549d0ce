package fsm

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// refusedWithoutChange applies m and fails the test unless it is refused with code and
// leaves the state as it was, without waking watchers.
func (x *fixture) refusedWithoutChange(m proto.Message, code RejectCode, wantMsg string) {
	x.t.Helper()
	before := contents(x.t, x.fsm)
	changed := x.fsm.Changed()
	rej := x.reject(m, code)
	if !strings.Contains(rej.Msg, wantMsg) {
		x.t.Fatalf("apply %T refused with %q, want it to say %q", m, rej.Msg, wantMsg)
	}
	if !bytes.Equal(before, contents(x.t, x.fsm)) {
		x.t.Fatalf("refused %T changed the state", m)
	}
	if fired(changed) {
		x.t.Fatalf("refused %T woke watchers", m)
	}
}

func workflowAction(action string, timeTriggers, signalTriggers bool, reason string, now int) *statepb.WorkflowAction {
	return &statepb.WorkflowAction{WorkflowId: wfETL, Action: action, TimeTriggers: timeTriggers, SignalTriggers: signalTriggers,
		Actor: "anonymous", Reason: reason, Now: at(now)}
}

// workflowEvents is the workflow's own timeline: the events of instance 0.
func (x *fixture) workflowEvents() []string {
	var out []string
	for _, e := range x.state().Events(nil, wfETL, 0, 0) {
		out = append(out, e.Action+" "+e.Actor+" "+e.Message)
	}
	return out
}

func TestWorkflowActions(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 1))

	res := applyAs[*WorkflowActionResult](x, workflowAction(WorkflowDeactivate, false, false, "migrating", 2))
	if w := res.Workflow; w.ActiveVersion != 0 || w.LatestVersion != 1 ||
		w.InactiveReason != "deactivated by anonymous at 2026-03-01T12:00:02Z: migrating" {
		t.Fatalf("after deactivate: %v", w)
	}
	x.refusedWithoutChange(workflowAction(WorkflowDeactivate, false, false, "", 3), RejectFailedPrecondition,
		`workflow "etl" is already inactive (deactivated by anonymous at 2026-03-01T12:00:02Z: migrating)`)

	// An operator's activation is audited and clears the reason; an entry
	// without an actor (written before activations were audited) is not.
	act := applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(4), Actor: "anonymous", Reason: "done"})
	if act.Workflow.ActiveVersion != 1 || act.Workflow.InactiveReason != "" {
		t.Fatalf("after activate: %v", act.Workflow)
	}
	applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(5)})

	x.refusedWithoutChange(workflowAction(WorkflowDisableTriggers, false, false, "", 6), RejectInvalid, "name the triggers: time, signal or both")
	w := applyAs[*WorkflowActionResult](x, workflowAction(WorkflowDisableTriggers, true, false, "noisy", 7)).Workflow
	if !w.TimeTriggersDisabled || w.SignalTriggersDisabled {
		t.Fatalf("after disabling time triggers: %v", w)
	}
	x.refusedWithoutChange(workflowAction(WorkflowDisableTriggers, true, false, "", 8), RejectFailedPrecondition,
		`workflow "etl" already has its time triggers disabled`)
	// Naming both changes the one that is not off yet.
	w = applyAs[*WorkflowActionResult](x, workflowAction(WorkflowDisableTriggers, true, true, "", 9)).Workflow
	if !w.TimeTriggersDisabled || !w.SignalTriggersDisabled {
		t.Fatalf("after disabling both: %v", w)
	}
	w = applyAs[*WorkflowActionResult](x, workflowAction(WorkflowEnableTriggers, false, true, "", 10)).Workflow
	if !w.TimeTriggersDisabled || w.SignalTriggersDisabled {
		t.Fatalf("after enabling signal triggers: %v", w)
	}
	x.refusedWithoutChange(workflowAction("ERASE", false, false, "", 11), RejectInvalid, `unknown workflow action "ERASE"`)
	missing := workflowAction(WorkflowDeactivate, false, false, "", 12)
	missing.WorkflowId = "nope"
	x.refusedWithoutChange(missing, RejectNotFound, `workflow "nope" not found`)

	want := []string{
		"DEACTIVATE anonymous version 1 migrating",
		"ACTIVATE anonymous version 1 done",
		"DISABLE_TRIGGERS anonymous time triggers noisy",
		"DISABLE_TRIGGERS anonymous time and signal triggers",
		"ENABLE_TRIGGERS anonymous signal triggers",
	}
	if got := x.workflowEvents(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("workflow timeline:\n got %q\nwant %q", got, want)
	}
	if w := x.state().Workflow(nil, wfETL); w.LastEventSeq != int64(len(want)) {
		t.Fatalf("last_event_seq %d, want %d", w.LastEventSeq, len(want))
	}

	// A push activates the new version and ends the inactive state.
	applyAs[*WorkflowActionResult](x, workflowAction(WorkflowDeactivate, false, false, "", 13))
	if p := applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 14)); p.Workflow.ActiveVersion != 2 || p.Workflow.InactiveReason != "" {
		t.Fatalf("push after deactivate: %v", p.Workflow)
	}
}

func setBreakpoint(step string, version, instance int64, now int) *statepb.SetBreakpoint {
	return &statepb.SetBreakpoint{WorkflowId: wfETL, StepId: step, Version: version, InstanceId: instance, Actor: "anonymous", Now: at(now)}
}

func deleteBreakpoint(step string, version, instance int64, keep bool, now int) *statepb.DeleteBreakpoint {
	return &statepb.DeleteBreakpoint{WorkflowId: wfETL, StepId: step, Version: version, InstanceId: instance, KeepPaused: keep, Actor: "anonymous", Now: at(now)}
}

func pauseAt(instance int64, step, from, key string) *statepb.PlanAction {
	a := stepAct(wfETL, instance, step, from, StepPaused, "paused at "+key)
	a.GetStepStatus().Breakpoint = key
	return a
}

func TestBreakpoints(t *testing.T) {
	x := newFixture(t)
	x.runningInstance() // instance 1: extract RUNNING, load NOT_CREATED
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
	x.plan(4, instanceAct(wfETL, 2, InstanceCreated, InstanceInProgress, ""))

	// Bad targets are refused precisely and change nothing.
	x.refusedWithoutChange(setBreakpoint("", 0, 0, 5), RejectInvalid, "needs a workflow id and a step id")
	x.refusedWithoutChange(setBreakpoint("load", 7, 0, 5), RejectNotFound, `workflow "etl" has no version 7 (latest is 1)`)
	x.refusedWithoutChange(setBreakpoint("load", 0, 9, 5), RejectNotFound, `workflow "etl" has no instance 9`)
	x.refusedWithoutChange(setBreakpoint("load", -1, 0, 5), RejectInvalid, "version -1")
	applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 5))
	x.refusedWithoutChange(setBreakpoint("load", 2, 1, 6), RejectInvalid, "instance etl/1 runs version 1, not 2")
	x.refusedWithoutChange(deleteBreakpoint("load", 0, 0, false, 6), RejectNotFound, `workflow "etl" has no breakpoint etl/load`)

	if r := applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 7)); !r.Created || BreakpointKey(r.Breakpoint) != "etl/load" {
		t.Fatalf("set: %+v", r)
	}
	// Setting it again writes nothing.
	before := contents(t, x.fsm)
	if r := applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 8)); r.Created {
		t.Fatalf("set again: %+v", r)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) {
		t.Fatal("setting an existing breakpoint changed the state")
	}
	if r := applyAs[*BreakpointResult](x, setBreakpoint("load", 1, 2, 9)); BreakpointKey(r.Breakpoint) != "etl/load@v1#2" {
		t.Fatalf("key of a limited breakpoint: %s", BreakpointKey(r.Breakpoint))
	}

	// The scheduler pauses both instances' load at the breakpoints.
	if res := x.plan(10, pauseAt(1, "load", StepNotCreated, "etl/load"), pauseAt(2, "load", StepNotCreated, "etl/load@v1#2")); res.Applied != 2 {
		t.Fatalf("pauses: %+v", res)
	}
	if held := x.state().StepsPausedAt(nil, "etl/load"); len(held) != 1 || held[0].InstanceId != 1 {
		t.Fatalf("steps held by etl/load: %v", held)
	}
	// A pause at a breakpoint that no longer exists, or not to PAUSED, does nothing.
	if res := x.plan(11, pauseAt(2, "extract", StepNotCreated, "etl/gone")); res.Applied != 0 {
		t.Fatalf("pause at a missing breakpoint applied: %+v", res)
	}
	bad := pauseAt(2, "extract", StepNotCreated, "etl/load")
	bad.GetStepStatus().Status = StepCreated
	if res := x.plan(11, bad); res.Applied != 0 {
		t.Fatalf("a breakpoint on a non-pause applied: %+v", res)
	}

	// Deleting resumes what it holds, on the record, and lets that attempt past.
	del := deleteBreakpoint("load", 0, 0, false, 12)
	del.Reason = "debugged"
	if r := applyAs[*BreakpointResult](x, del); r.Resumed != 1 || !r.Deleted {
		t.Fatalf("delete: %+v", r)
	}
	load := x.state().Step(nil, wfETL, 1, "load")
	if load.Status != StepNotCreated || load.BreakpointPassed != 1 || load.PausedAt != "" {
		t.Fatalf("load after delete: %v", load)
	}
	events := x.state().Events(nil, wfETL, 1, 0)
	if e := events[len(events)-2]; e.Action != "RESUME" || e.StepId != "load" || e.Message != "breakpoint etl/load deleted: debugged" {
		t.Fatalf("resume on the record: %v", e)
	}
	// A stale pause of the attempt a resume let past does nothing.
	applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 13))
	if res := x.plan(14, pauseAt(1, "load", StepNotCreated, "etl/load")); res.Applied != 0 {
		t.Fatalf("re-paused a resumed attempt: %+v", res)
	}

	// Deleting with keep_paused leaves the held step paused.
	if r := applyAs[*BreakpointResult](x, deleteBreakpoint("load", 1, 2, true, 15)); r.Resumed != 0 {
		t.Fatalf("delete keep_paused: %+v", r)
	}
	if st := x.state().Step(nil, wfETL, 2, "load"); st.Status != StepPaused {
		t.Fatalf("held step after delete --keep-paused: %v", st)
	}
	// Resume lets the attempt past any breakpoint.
	applyAs[*ActionResult](x, &statepb.Action{WorkflowId: wfETL, InstanceId: 2, StepId: "load", Action: "RESUME", Now: at(16)})
	if st := x.state().Step(nil, wfETL, 2, "load"); st.Status != StepNotCreated || st.BreakpointPassed != 1 {
		t.Fatalf("after resume: %v", st)
	}
	want := []string{"SET_BREAKPOINT anonymous etl/load", "SET_BREAKPOINT anonymous etl/load@v1#2",
		"DELETE_BREAKPOINT anonymous etl/load (resumed 1 paused steps) debugged", "SET_BREAKPOINT anonymous etl/load",
		"DELETE_BREAKPOINT anonymous etl/load@v1#2 (paused steps kept paused)"}
	if got := x.workflowEvents(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("workflow timeline:\n got %q\nwant %q", got, want)
	}
}

func TestBreakpointMatches(t *testing.T) {
	b := &statepb.Breakpoint{WorkflowId: "wf", StepId: "s", Version: 2}
	for _, tc := range []struct {
		wf, step      string
		version, inst int64
		want          bool
	}{
		{"wf", "s", 2, 7, true},
		{"wf", "s", 3, 7, false},
		{"wf", "t", 2, 7, false},
		{"other", "s", 2, 7, false},
	} {
		if got := BreakpointMatches(b, tc.wf, tc.step, tc.version, tc.inst); got != tc.want {
			t.Errorf("%v matches %+v: %v, want %v", b, tc, got, tc.want)
		}
	}
	b = &statepb.Breakpoint{WorkflowId: "wf", StepId: "s", InstanceId: 7}
	if !BreakpointMatches(b, "wf", "s", 9, 7) || BreakpointMatches(b, "wf", "s", 9, 8) {
		t.Error("an instance breakpoint matches by instance, any version")
	}
}

func TestStepBypassAndRestartActions(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	action := func(step, act string, now int) *statepb.Action {
		return &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: step, Action: act, Actor: "anonymous", Reason: "why", Now: at(now)}
	}
	// Bypass is for a step waiting for signals only.
	x.refusedWithoutChange(action("load", "BYPASS_SIGNALS", 3), RejectFailedPrecondition,
		"step load is NOT_CREATED; bypass-signals is allowed when it is WAITING_FOR_SIGNALS")
	x.plan(4, stepAct(wfETL, 1, "load", StepNotCreated, StepWaitingForSignals, "waiting for signals: x"))
	r := applyAs[*ActionResult](x, action("load", "BYPASS_SIGNALS", 5))
	if r.Step.Status != StepCreated || !r.Step.SignalsBypassed || !strings.Contains(r.Step.Reason, "BYPASS_SIGNALS by anonymous: why") {
		t.Fatalf("after bypass: %v", r.Step)
	}

	// Restart while the instance runs: only a step that ended unsuccessfully.
	x.refusedWithoutChange(action("extract", "RESTART", 6), RejectFailedPrecondition,
		"step extract is RUNNING; restart is allowed when it is FATALLY_FAILED, TIMED_OUT, STOPPED while its instance runs, or once the instance has ended FAILED, STOPPED, TIMED_OUT")
	applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptFatallyFailed, 7))
	x.plan(8, stepAct(wfETL, 1, "extract", StepUserFailed, StepFatallyFailed, "exit 1"))
	r = applyAs[*ActionResult](x, action("extract", "RESTART", 9))
	if st := r.Step; st.Status != StepNotCreated || st.AttemptsBeforeRestart != 1 || len(st.Attempts) != 1 || st.EndTime != nil {
		t.Fatalf("after restart of a failed step: %v", st)
	}
	if r.Instance.Status != InstanceInProgress {
		t.Fatalf("instance after a step restart: %s", r.Instance.Status)
	}

	// Restart of an ended instance restarts it from the steps the leader listed.
	x.apply(stopCmd(wfETL, 1, "", 10))
	restart := action("load", "RESTART", 11)
	restart.RestartPolicy, restart.ResetSteps = "RESTART_FROM_SPECIFIC", []string{"load"}
	r = applyAs[*ActionResult](x, restart)
	if r.Instance.Status != InstanceCreated {
		t.Fatalf("instance after a step restart of a stopped instance: %v", r.Instance)
	}
	if st := x.state().Step(nil, wfETL, 1, "load"); st.Status != StepNotCreated || st.SignalsBypassed {
		t.Fatalf("load after the restart: %v", st)
	}
	if st := x.state().Step(nil, wfETL, 1, "extract"); st.Status != StepNotCreated || st.AttemptsBeforeRestart != 1 {
		t.Fatalf("extract, not listed, changed: %v", st)
	}
	var acts []string
	for _, e := range x.state().Events(nil, wfETL, 1, 0) {
		if e.Action != "" {
			acts = append(acts, e.Action+" "+e.StepId)
		}
	}
	if got := strings.Join(acts, ", "); got != "BYPASS_SIGNALS load, RESTART extract, STOP , RESTART load" {
		t.Fatalf("actions on record: %s", got)
	}
	x.refusedWithoutChange(action("load", "JUMP", 12), RejectInvalid, `unknown step action "JUMP"`)
	// Of an ended instance too, an unknown action is named as such rather
	// than refused for the instance's state.
	x.apply(stopCmd(wfETL, 1, "", 12))
	x.refusedWithoutChange(action("load", "JUMP", 13), RejectInvalid, `unknown step action "JUMP"`)
}

// signalTriggerFixture pushes etl and sets up trigger signal-0 on signals
// a and b, with two signals of each recorded.
func signalTriggerFixture(t *testing.T) *fixture {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 1))
	for i, name := range []string{"a", "b", "a", "b"} {
		applyAs[*SignalResult](x, &statepb.SendSignal{Name: name, Now: at(2 + i), Params: map[string]*statepb.Param{"k": param("LONG", float64(i))}})
	}
	if res := x.plan(10, setSignalTriggerAct(1, map[string]int64{"a": 0, "b": 0})); res.Applied != 1 {
		t.Fatalf("set up the trigger: %+v", res)
	}
	return x
}

func setSignalTriggerAct(version int64, checkpoints map[string]int64) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_SetSignalTrigger{SetSignalTrigger: &statepb.SetSignalTrigger{
		WorkflowId: wfETL, TriggerId: "signal-0", Version: version, Spec: `{"definitions":{"a":{},"b":{}}}`, Checkpoints: checkpoints,
	}}}
}

func fireAct(a, b int64, requestID string) *statepb.PlanAction {
	f := &statepb.FireSignalTrigger{WorkflowId: wfETL, TriggerId: "signal-0", Version: 1, Signals: map[string]int64{"a": a, "b": b}}
	if requestID != "" {
		f.Start = startCmd(wfETL, requestID, 1, 0)
		f.Start.Now = nil
		f.Start.SignalInitiator = &statepb.SignalInitiator{TriggerId: "signal-0", Signals: map[string]*statepb.Signal{
			"a": {Name: "a", Seq: a}, "b": {Name: "b", Seq: b}}}
	} else {
		f.SkipReason = "condition is false"
	}
	return &statepb.PlanAction{Action: &statepb.PlanAction_FireSignalTrigger{FireSignalTrigger: f}}
}

func TestSignalTriggerConsumesEachSignalOnce(t *testing.T) {
	x := signalTriggerFixture(t)
	if res := x.plan(11, fireAct(1, 2, "signal:etl:signal-0:a=1,b=2")); res.Applied != 1 {
		t.Fatalf("first fire: %+v", res)
	}
	inst := x.state().Instance(nil, wfETL, 1)
	if inst == nil || inst.SignalInitiator.GetTriggerId() != "signal-0" || inst.SignalInitiator.Signals["b"].GetSeq() != 2 {
		t.Fatalf("instance of the fire: %v", inst)
	}
	if ev := x.state().Events(nil, wfETL, 1, 0); ev[0].Message != "started by signal trigger signal-0 (a #1, b #2)" {
		t.Fatalf("creation event: %v", ev[0])
	}
	tr := x.state().Triggers(nil, wfETL)[0]
	if tr.Checkpoints["a"] != 1 || tr.Checkpoints["b"] != 2 || tr.Fires != 1 || tr.Skipped != 0 {
		t.Fatalf("trigger after the fire: %v", tr)
	}

	// The same fire again (a plan made from stale state, a new leader
	// replaying its round), one at or below a checkpoint, one of another
	// version or of a signal that does not exist: nothing happens.
	for name, act := range map[string]*statepb.PlanAction{
		"repeat":         fireAct(1, 2, "signal:etl:signal-0:a=1,b=2"),
		"b consumed":     fireAct(3, 2, "other"),
		"no such signal": fireAct(3, 9, "other"),
	} {
		before := contents(t, x.fsm)
		if res := x.plan(12, act); res.Applied != 0 {
			t.Fatalf("%s: applied %+v", name, res)
		}
		if !bytes.Equal(before, contents(t, x.fsm)) {
			t.Fatalf("%s: changed the state", name)
		}
	}
	stale := fireAct(3, 4, "other")
	stale.GetFireSignalTrigger().Version = 2
	if res := x.plan(12, stale); res.Applied != 0 {
		t.Fatalf("fire of another version applied: %+v", res)
	}

	// A match whose condition is false is consumed without an instance.
	applyAs[*SignalResult](x, &statepb.SendSignal{Name: "b", Now: at(13)})
	if res := x.plan(14, fireAct(2, 3, "")); res.Applied != 1 {
		t.Fatalf("fire without a start: %+v", res)
	}
	tr = x.state().Triggers(nil, wfETL)[0]
	if tr.Checkpoints["a"] != 2 || tr.Checkpoints["b"] != 3 || tr.Fires != 2 || tr.Skipped != 1 || tr.LastSkipReason != "condition is false" {
		t.Fatalf("trigger after a false condition: %v", tr)
	}
	if w := x.state().Workflow(nil, wfETL); w.LastInstanceId != 1 {
		t.Fatalf("a false condition started an instance: %v", w)
	}

	// A dedup key that started an instance before starts none, and the
	// signals are consumed.
	applyAs[*SignalResult](x, &statepb.SendSignal{Name: "a", Now: at(15)})
	applyAs[*SignalResult](x, &statepb.SendSignal{Name: "b", Now: at(15)})
	if res := x.plan(16, fireAct(3, 4, "signal:etl:signal-0:a=1,b=2")); res.Applied != 1 {
		t.Fatalf("fire with a used key: %+v", res)
	}
	tr = x.state().Triggers(nil, wfETL)[0]
	if tr.Checkpoints["a"] != 3 || tr.Skipped != 2 || tr.LastSkipReason != "dedup key already started instance 1" {
		t.Fatalf("trigger after a used dedup key: %v", tr)
	}
	if w := x.state().Workflow(nil, wfETL); w.LastInstanceId != 1 {
		t.Fatalf("a used dedup key started another instance: %v", w)
	}

	// The same spec never moves checkpoints back; a new version keeps them.
	x.plan(17, setSignalTriggerAct(2, map[string]int64{"a": 0, "b": 9}))
	tr = x.state().Triggers(nil, wfETL)[0]
	if tr.Version != 2 || tr.Checkpoints["a"] != 3 || tr.Checkpoints["b"] != 9 {
		t.Fatalf("trigger after a stale set: %v", tr)
	}
	if res := x.plan(18, setSignalTriggerAct(2, map[string]int64{"a": 1})); res.Applied != 0 {
		t.Fatalf("a set that changes nothing applied: %+v", res)
	}
}

// A fire planned before the workflow was deactivated, or its triggers of
// that kind switched off, applies after them and fires nothing.
func TestFiresPlannedBeforeASwitchDoNothing(t *testing.T) {
	x := signalTriggerFixture(t)
	x.plan(10, &statepb.PlanAction{Action: &statepb.PlanAction_SetTrigger{SetTrigger: &statepb.SetTrigger{
		WorkflowId: wfETL, TriggerId: "time-0", Version: 1, Spec: `{"type":"CRON"}`, Next: at(60),
	}}})
	timeFire := &statepb.PlanAction{Action: &statepb.PlanAction_FireTrigger{FireTrigger: &statepb.FireTrigger{
		WorkflowId: wfETL, TriggerId: "time-0", Version: 1, Scheduled: at(60), Next: at(120), Start: startCmd(wfETL, "req-time", 1, 0),
	}}}
	for _, off := range []*statepb.WorkflowAction{
		workflowAction(WorkflowDisableTriggers, true, true, "", 11),
		workflowAction(WorkflowDeactivate, false, false, "", 12),
	} {
		applyAs[*WorkflowActionResult](x, off)
		if res := x.plan(61, fireAct(1, 1, "req-sig"), timeFire); res.Applied != 0 {
			t.Fatalf("after %s: %+v applied", off.Action, res)
		}
		if off.Action == WorkflowDisableTriggers {
			applyAs[*WorkflowActionResult](x, workflowAction(WorkflowEnableTriggers, true, true, "", 11))
		}
	}
	applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(13)})
	if res := x.plan(61, fireAct(1, 1, "req-sig"), timeFire); res.Applied != 2 {
		t.Fatalf("once on again: %+v", res)
	}
}

// Breakpoints, held steps, signal trigger checkpoints and the workflow's
// own timeline survive a snapshot and restore.
func TestSnapshotRoundTripsOperatorState(t *testing.T) {
	x := signalTriggerFixture(t)
	x.plan(11, fireAct(1, 2, "req-fire"))
	x.plan(12, instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""))
	applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 13))
	x.plan(14, pauseAt(1, "load", StepNotCreated, "etl/load"))
	applyAs[*WorkflowActionResult](x, workflowAction(WorkflowDisableTriggers, true, false, "", 15))
	data := snapshotBytes(t, x.fsm)

	y := newFixture(t)
	restore(t, y.fsm, data)
	if got := snapshotBytes(t, y.fsm); !bytes.Equal(got, data) {
		t.Fatal("restored state snapshots differently")
	}
	st := y.state()
	if b := st.Breakpoints(nil, wfETL, ""); len(b) != 1 || BreakpointKey(b[0]) != "etl/load" {
		t.Fatalf("breakpoints after restore: %v", b)
	}
	if held := st.StepsPausedAt(nil, "etl/load"); len(held) != 1 {
		t.Fatalf("held steps after restore: %v (the paused_at index was not rebuilt)", held)
	}
	if tr := st.Triggers(nil, wfETL); len(tr) != 1 || tr[0].Checkpoints["b"] != 2 {
		t.Fatalf("signal trigger after restore: %v", tr)
	}
	if i := st.Instance(nil, wfETL, 1); i.SignalInitiator.GetSignals()["a"].GetSeq() != 1 {
		t.Fatalf("instance initiator after restore: %v", i)
	}
	if w := st.Workflow(nil, wfETL); !w.TimeTriggersDisabled || w.LastEventSeq != 2 || len(st.Events(nil, wfETL, 0, 0)) != 2 {
		t.Fatalf("workflow after restore: %v", w)
	}
	// The restored FSM goes on exactly like its source.
	y.next = x.next
	for _, f := range []*fixture{x, y} {
		applyAs[*BreakpointResult](f, deleteBreakpoint("load", 0, 0, false, 20))
	}
	if !bytes.Equal(snapshotBytes(t, x.fsm), snapshotBytes(t, y.fsm)) {
		t.Fatal("source and restored FSM diverged on the next entry")
	}
}

// repeatedWithoutChange applies m, an action whose request id was already
// applied, and fails the test unless it does nothing and says so.
func (x *fixture) repeatedWithoutChange(m proto.Message) any {
	x.t.Helper()
	before := contents(x.t, x.fsm)
	res := x.apply(m)
	repeated := false
	switch r := res.(type) {
	case *StopResult:
		repeated = r.Repeated
	case *ActionResult:
		repeated = r.Repeated
	case *WorkflowActionResult:
		repeated = r.Repeated
	case *ActivateResult:
		repeated = r.Repeated
	case *UnblockResult:
		repeated = r.Repeated
	case *BreakpointResult:
		repeated = r.Repeated
	default:
		x.t.Fatalf("apply %T: %#v, want it answered as a repeat", m, res)
	}
	if !repeated {
		x.t.Fatalf("apply %T with a used request id was not marked repeated", m)
	}
	if !bytes.Equal(before, contents(x.t, x.fsm)) {
		x.t.Fatalf("repeated %T changed the state", m)
	}
	return res
}

func TestActionRequestIDs(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	stop := stopCmd(wfETL, 1, "enough", 3)
	stop.RequestId = "stop-1"
	if r := applyAs[*StopResult](x, stop); r.Repeated || r.Instance.Status != InstanceStopped {
		t.Fatalf("first stop: %+v", r)
	}
	// The stop sent again, while the instance is stopped: a repeat, not a
	// refusal for the instance's status.
	if r := x.repeatedWithoutChange(stop).(*StopResult); r.Instance.Status != InstanceStopped {
		t.Fatalf("repeated stop answered %v", r.Instance)
	}

	restart := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, Action: "RESTART", RestartPolicy: "RESTART_FROM_INCOMPLETE",
		ResetSteps: []string{"extract", "load"}, Actor: "anonymous", RequestId: "restart-1", Now: at(4)}
	if r := applyAs[*ActionResult](x, restart); r.Repeated || r.Instance.Status != InstanceCreated {
		t.Fatalf("restart: %+v", r)
	}
	// A copy of the first stop arriving late must not stop the restarted
	// instance, nor a copy of the restart restart it twice.
	if r := x.repeatedWithoutChange(stop).(*StopResult); r.Instance.Status != InstanceCreated {
		t.Fatalf("late stop answered %v", r.Instance)
	}
	x.repeatedWithoutChange(restart)
	// A repeat answers the steps the restart set back, read from its events.
	if got := x.state().RestartedSteps(x.state().ActionByRequest(wfETL, 1, "restart-1")); strings.Join(got, " ") != "extract load" {
		t.Fatalf("steps the restart set back: %v", got)
	}

	// A step action, and its id reused for another action or step.
	pause := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "load", Action: "PAUSE", Actor: "anonymous", RequestId: "pause-1", Now: at(5)}
	if r := applyAs[*ActionResult](x, pause); r.Step.Status != StepPaused {
		t.Fatalf("pause: %v", r.Step)
	}
	resume := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "load", Action: "RESUME", Actor: "anonymous", RequestId: "resume-1", Now: at(6)}
	applyAs[*ActionResult](x, resume)
	if r := x.repeatedWithoutChange(pause).(*ActionResult); r.Step.Status != StepNotCreated {
		t.Fatalf("late pause answered %v", r.Step)
	}
	reused := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "load", Action: "SKIP", Actor: "anonymous", RequestId: "pause-1", Now: at(7)}
	x.refusedWithoutChange(reused, RejectInvalid, `request_id "pause-1" was already used for PAUSE of step load of instance etl/1; give each action its own request id`)
	reused.Action, reused.StepId = "PAUSE", "extract"
	x.refusedWithoutChange(reused, RejectInvalid, `already used for PAUSE of step load`)
	kill := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, Action: "KILL", Actor: "anonymous", RequestId: "stop-1", Now: at(8)}
	x.refusedWithoutChange(kill, RejectInvalid, `request_id "stop-1" was already used for STOP of instance etl/1`)

	// Keys belong to their instance: another instance's stop with the same
	// key is an action of its own.
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 9))
	other := stopCmd(wfETL, 2, "", 10)
	other.RequestId = "stop-1"
	if r := applyAs[*StopResult](x, other); r.Repeated || r.Instance.Status != InstanceStopped {
		t.Fatalf("stop of instance 2 with instance 1's key: %+v", r)
	}

	// A kill, repeated after the instance has ended FAILED.
	kill.RequestId, kill.Now = "kill-1", at(11)
	if r := applyAs[*ActionResult](x, kill); r.Instance.Status != InstanceFailed {
		t.Fatalf("kill: %v", r.Instance)
	}
	x.repeatedWithoutChange(kill)

	// Without a key nothing is deduplicated: the second stop is refused.
	restart.RequestId, restart.Now = "", at(12)
	applyAs[*ActionResult](x, restart)
	bare := stopCmd(wfETL, 1, "", 13)
	applyAs[*StopResult](x, bare)
	x.refusedWithoutChange(bare, RejectFailedPrecondition, "is already STOPPED")

	// The keys survive a snapshot: the restored state still knows them.
	y := newFixture(t)
	restore(t, y.fsm, snapshotBytes(t, x.fsm))
	y.next = x.next
	y.repeatedWithoutChange(stop)
	y.repeatedWithoutChange(pause)
	if e := y.state().ActionByRequest(wfETL, 1, "restart-1"); e == nil || e.Action != "RESTART" {
		t.Fatalf("restart's event after restore: %v", e)
	}
	if e := y.state().ActionByRequest(wfETL, 2, "stop-1"); e == nil || e.InstanceId != 2 {
		t.Fatalf("instance 2's stop after restore: %v", e)
	}
}

func TestWorkflowActionRequestIDs(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 3))

	// A trigger switch sent again after the opposite switch: a repeat,
	// neither a refusal for the state it left nor a second switch.
	disable := workflowAction(WorkflowDisableTriggers, true, false, "", 4)
	disable.RequestId = "disable-1"
	if w := applyAs[*WorkflowActionResult](x, disable).Workflow; !w.TimeTriggersDisabled {
		t.Fatalf("disable: %v", w)
	}
	x.repeatedWithoutChange(disable)
	enable := workflowAction(WorkflowEnableTriggers, true, false, "", 5)
	enable.RequestId = "enable-1"
	applyAs[*WorkflowActionResult](x, enable)
	if r := x.repeatedWithoutChange(disable).(*WorkflowActionResult); r.Workflow.TimeTriggersDisabled {
		t.Fatalf("late disable answered %v", r.Workflow)
	}
	// The same key for other kinds of triggers, or another action.
	other := workflowAction(WorkflowDisableTriggers, true, true, "", 6)
	other.RequestId = "disable-1"
	x.refusedWithoutChange(other, RejectInvalid,
		`request_id "disable-1" was already used for DISABLE_TRIGGERS (time) of workflow etl; give each action its own request id`)
	other.Action, other.SignalTriggers = WorkflowDeactivate, false
	x.refusedWithoutChange(other, RejectInvalid, `already used for DISABLE_TRIGGERS (time) of workflow etl`)

	// A deactivation repeated after a new activation leaves the workflow
	// active; an activation repeated after another keeps the later version.
	deactivate := workflowAction(WorkflowDeactivate, false, false, "", 7)
	deactivate.RequestId = "deactivate-1"
	applyAs[*WorkflowActionResult](x, deactivate)
	activate1 := &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(8), Actor: "anonymous", RequestId: "activate-1"}
	applyAs[*ActivateResult](x, activate1)
	activate2 := &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 2, Now: at(9), Actor: "anonymous", RequestId: "activate-2"}
	applyAs[*ActivateResult](x, activate2)
	if r := x.repeatedWithoutChange(deactivate).(*WorkflowActionResult); r.Workflow.ActiveVersion != 2 {
		t.Fatalf("late deactivate answered %v", r.Workflow)
	}
	if r := x.repeatedWithoutChange(activate1).(*ActivateResult); r.Workflow.ActiveVersion != 2 {
		t.Fatalf("late activate of version 1 answered %v", r.Workflow)
	}
	reused := &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 2, Now: at(10), Actor: "anonymous", RequestId: "activate-1"}
	x.refusedWithoutChange(reused, RejectInvalid, `already used for ACTIVATE (version 1) of workflow etl`)

	// An unblock repeated after more instances failed does not let them
	// past: it is recorded, and a late copy is a repeat.
	unblock := &statepb.UnblockWorkflow{WorkflowId: wfETL, Now: at(11), Actor: "anonymous", RequestId: "unblock-1"}
	if r := applyAs[*UnblockResult](x, unblock); r.Workflow.UnblockedThrough != 1 {
		t.Fatalf("unblock: %v", r.Workflow)
	}
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 2, 12))
	if r := x.repeatedWithoutChange(unblock).(*UnblockResult); r.Workflow.UnblockedThrough != 1 {
		t.Fatalf("late unblock answered %v", r.Workflow)
	}

	// A breakpoint set, deleted, then its set repeated: it stays deleted.
	set := setBreakpoint("load", 0, 0, 13)
	set.RequestId = "set-1"
	if r := applyAs[*BreakpointResult](x, set); !r.Created {
		t.Fatalf("set: %+v", r)
	}
	del := deleteBreakpoint("load", 0, 0, false, 14)
	del.RequestId = "delete-1"
	applyAs[*BreakpointResult](x, del)
	x.repeatedWithoutChange(set)
	if b := x.state().Breakpoint(wfETL, "load", 0, 0); b != nil {
		t.Fatalf("a late set brought the breakpoint back: %v", b)
	}
	// Set again with a new key, the late delete does not delete it.
	set2 := setBreakpoint("load", 0, 0, 15)
	set2.RequestId = "set-2"
	applyAs[*BreakpointResult](x, set2)
	if r := x.repeatedWithoutChange(del).(*BreakpointResult); BreakpointKey(r.Breakpoint) != "etl/load" {
		t.Fatalf("late delete answered %v", r.Breakpoint)
	}
	if x.state().Breakpoint(wfETL, "load", 0, 0) == nil {
		t.Fatal("a late delete deleted the breakpoint set after it")
	}
	// Setting a breakpoint that exists, with a key, records the key: a
	// late copy after a delete is a repeat, not a new breakpoint.
	set3 := setBreakpoint("load", 0, 0, 16)
	set3.RequestId = "set-3"
	if r := applyAs[*BreakpointResult](x, set3); r.Created || r.Repeated {
		t.Fatalf("set of an existing breakpoint: %+v", r)
	}
	del2 := deleteBreakpoint("load", 0, 0, false, 17)
	del2.RequestId = "delete-2"
	applyAs[*BreakpointResult](x, del2)
	x.repeatedWithoutChange(set3)
	if b := x.state().Breakpoint(wfETL, "load", 0, 0); b != nil {
		t.Fatalf("a late set of a breakpoint that existed brought it back: %v", b)
	}
	// Another breakpoint with a used key is refused.
	wide := setBreakpoint("extract", 0, 0, 18)
	wide.RequestId = "set-1"
	x.refusedWithoutChange(wide, RejectInvalid, `already used for SET_BREAKPOINT (etl/load) of workflow etl`)

	// Without keys, neither the record nor the answers change from before.
	applyAs[*BreakpointResult](x, setBreakpoint("extract", 0, 0, 19))
	before := contents(t, x.fsm)
	if r := applyAs[*BreakpointResult](x, setBreakpoint("extract", 0, 0, 20)); r.Created || r.Repeated {
		t.Fatalf("set again without a key: %+v", r)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) {
		t.Fatal("setting an existing breakpoint without a key changed the state")
	}

	want := []string{
		"DISABLE_TRIGGERS time disable-1", "ENABLE_TRIGGERS time enable-1", "DEACTIVATE  deactivate-1",
		"ACTIVATE version 1 activate-1", "ACTIVATE version 2 activate-2", "UNBLOCK  unblock-1",
		"SET_BREAKPOINT etl/load set-1", "DELETE_BREAKPOINT etl/load delete-1", "SET_BREAKPOINT etl/load set-2",
		"SET_BREAKPOINT etl/load set-3", "DELETE_BREAKPOINT etl/load delete-2", "SET_BREAKPOINT  ",
	}
	var got []string
	for _, e := range x.state().Events(nil, wfETL, 0, 0) {
		got = append(got, e.Action+" "+e.Target+" "+e.RequestId)
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("workflow timeline:\n got %q\nwant %q", got, want)
	}

	// The keys survive a snapshot.
	y := newFixture(t)
	restore(t, y.fsm, snapshotBytes(t, x.fsm))
	y.next = x.next
	y.repeatedWithoutChange(disable)
	y.repeatedWithoutChange(del)
	y.repeatedWithoutChange(unblock)
}
