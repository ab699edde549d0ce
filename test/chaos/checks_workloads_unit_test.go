package chaos

import (
	"fmt"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
)

// Planted violations for the checks of the stop, step actions, step operations, while and
// subworkflow workloads, as for the general checks.

func finalOf(insts ...*finalInstance) map[string]*finalInstance {
	out := map[string]*finalInstance{}
	for _, fi := range insts {
		out[instKey(fi.inst.WorkflowId, fi.inst.InstanceId)] = fi
	}
	return out
}

func ev(index uint64, step, status, action string) *statepb.Event {
	return &statepb.Event{Index: index, StepId: step, Status: status, Action: action}
}

func wantViolation(t *testing.T, res checkResult, want string) {
	t.Helper()
	for _, v := range res.violations {
		if strings.Contains(v, want) {
			return
		}
	}
	t.Errorf("%s: want a violation containing %q, got %q", res.name, want, res.violations)
}

func wantClean(t *testing.T, res checkResult) {
	t.Helper()
	if len(res.violations) > 0 || res.checked == 0 {
		t.Errorf("%s: want a clean check of something, got %d checked, violations %q", res.name, res.checked, res.violations)
	}
}

func TestStopCheckFindsWorkAfterTheStop(t *testing.T) {
	stopped := func(events ...*statepb.Event) map[string]*finalInstance {
		return finalOf(&finalInstance{
			inst:   &statepb.Instance{WorkflowId: stopWorkflow, InstanceId: 1, Status: fsm.InstanceStopped},
			steps:  []*statepb.Step{{StepId: "one", Status: fsm.StepStopped}, {StepId: "two", Status: fsm.StepNotCreated}},
			events: events,
		})
	}
	rec := []stopRecord{{instanceID: 1, stopped: true}}
	wantClean(t, checkStops(rec, stopped(ev(3, "one", fsm.StepRunning, ""), ev(5, "", "ACTION", "STOP"), ev(5, "", fsm.InstanceStopped, ""), ev(5, "one", fsm.StepStopped, ""))))
	wantViolation(t, checkStops(rec, stopped(ev(3, "one", fsm.StepRunning, ""), ev(5, "", fsm.InstanceStopped, ""), ev(6, "one", fsm.StepSucceeded, ""))),
		"step one attempt 0 went SUCCEEDED at index 6, after the stop at 5")
	wantViolation(t, checkStops(rec, stopped(ev(3, "one", fsm.StepRunning, ""))), "its timeline has no STOPPED")

	restarted := []stopRecord{{instanceID: 1, stopped: true, restarted: true}}
	wantViolation(t, checkStops(restarted, stopped(ev(5, "", fsm.InstanceStopped, ""), ev(8, "", "ACTION", "RESTART"))), "was stopped and restarted, but ended STOPPED")
}

func TestStepActionsCheckFindsAPausedStepThatRan(t *testing.T) {
	inst := func(lastRan uint64, firstAfterSkip bool) map[string]*finalInstance {
		events := []*statepb.Event{
			ev(2, actionsLast, "ACTION", "PAUSE"), ev(2, actionsLast, fsm.StepPaused, ""),
			ev(3, actionsFirst, "ACTION", "SKIP"), ev(3, actionsFirst, fsm.StepSkipped, ""),
			ev(9, actionsLast, "ACTION", "RESUME"), ev(lastRan, actionsLast, fsm.StepRunning, ""),
		}
		if firstAfterSkip {
			events = append(events, ev(4, actionsFirst, fsm.StepSucceeded, ""))
		}
		return finalOf(&finalInstance{
			inst:   &statepb.Instance{WorkflowId: actionsWorkflow, InstanceId: 1, Status: fsm.InstanceSucceeded},
			steps:  []*statepb.Step{{StepId: actionsFirst, Status: fsm.StepSkipped}},
			events: events,
		})
	}
	rec := []actionsRecord{{instanceID: 1, paused: true, resumed: true, skipped: true}}
	wantClean(t, checkStepActions(rec, inst(10, false)))
	wantViolation(t, checkStepActions(rec, inst(7, false)), "step three started at index 7, paused at 2 and resumed at 9")
	wantViolation(t, checkStepActions(rec, inst(10, true)), "step one went SUCCEEDED at index 4, after its skip at 3")
}

func TestStepOpsCheckFindsWorkBetweenTheStopAndTheRestart(t *testing.T) {
	inst := func(extra ...*statepb.Event) map[string]*finalInstance {
		events := []*statepb.Event{
			ev(3, stepOpsVictim, fsm.StepRunning, ""),
			ev(5, stepOpsVictim, "ACTION", "KILL"), ev(5, stepOpsVictim, fsm.StepFatallyFailed, ""),
			ev(7, stepOpsVictim, "ACTION", "RESTART"), ev(7, stepOpsVictim, fsm.StepNotCreated, ""),
			ev(8, stepOpsVictim, fsm.StepRunning, ""), ev(9, stepOpsVictim, fsm.StepSucceeded, ""),
			ev(10, stepOpsHeld, "ACTION", "BYPASS_SIGNALS"), ev(11, stepOpsHeld, fsm.StepRunning, ""),
		}
		return finalOf(&finalInstance{
			inst:   &statepb.Instance{WorkflowId: stepOpsWorkflow, InstanceId: 1, Status: fsm.InstanceSucceeded},
			steps:  []*statepb.Step{{StepId: stepOpsVictim, Status: fsm.StepSucceeded}, {StepId: stepOpsHeld, Status: fsm.StepSucceeded}},
			events: append(events, extra...),
		})
	}
	rec := []stepOpsRecord{{instanceID: 1, action: "KILL", ended: true, restarted: true, bypassed: true}}
	wantClean(t, checkStepOps(rec, inst()))
	wantViolation(t, checkStepOps(rec, inst(ev(6, stepOpsVictim, fsm.StepSucceeded, ""))),
		"step victim went SUCCEEDED at index 6, after its KILL at 5 and before its restart at 7")
	wantViolation(t, checkStepOps(rec, inst(ev(12, stepOpsVictim, "ACTION", "KILL"))), "has victim KILL 2 times, at [5 12]")
	wantViolation(t, checkStepOps(rec, inst(ev(4, stepOpsHeld, fsm.StepRunning, ""))), "step held started at index 4, before its bypass at 10")
	stopped := finalOf(&finalInstance{
		inst:   &statepb.Instance{WorkflowId: stepOpsWorkflow, InstanceId: 1, Status: fsm.InstanceSucceeded},
		steps:  []*statepb.Step{{StepId: stepOpsVictim, Status: fsm.StepStopped}},
		events: []*statepb.Event{ev(5, stepOpsVictim, "ACTION", "STOP"), ev(7, stepOpsVictim, "ACTION", "RESTART")},
	})
	rec[0].action = "STOP"
	wantViolation(t, checkStepOps(rec, stopped), "step victim did not run again after its restart")
	wantViolation(t, checkStepOps(rec, stopped), "step victim is STOPPED")
}

func TestWhileCheckFindsAnExtraOrRepeatedIteration(t *testing.T) {
	long := func(n int64) *statepb.Param {
		p, err := scheduler.ParamFromValue(workflow.Value{Type: workflow.Long, Raw: n})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	loopOf := func(iterations ...int64) map[string]*finalInstance {
		insts := []*finalInstance{{
			inst: &statepb.Instance{WorkflowId: "chaos-while", InstanceId: 1, Status: fsm.InstanceSucceeded},
			steps: []*statepb.Step{{StepId: "loop", Status: fsm.StepSucceeded, Loop: &statepb.Loop{
				ChildWorkflowId: "chaos-while:1:loop", Launched: int64(len(iterations)), Values: map[string]*statepb.Param{"i": long(whileIterations)}}}},
		}}
		for n, i := range iterations {
			insts = append(insts, &finalInstance{inst: &statepb.Instance{WorkflowId: "chaos-while:1:loop", InstanceId: int64(n + 1),
				Status: fsm.InstanceSucceeded, Params: map[string]*statepb.Param{"i": long(i)}}})
		}
		return finalOf(insts...)
	}
	wantClean(t, checkWhileLoops(loopOf(0, 1, 2)))
	wantViolation(t, checkWhileLoops(loopOf(0, 0, 1, 2)), "iteration 2 ran with i = 0")
	wantViolation(t, checkWhileLoops(loopOf(0, 0, 1, 2)), "has an iteration 4")
}

func TestSubworkflowCheckFindsASecondChild(t *testing.T) {
	parentOf := func(children ...int64) map[string]*finalInstance {
		insts := []*finalInstance{{
			inst:  &statepb.Instance{WorkflowId: "chaos-async", InstanceId: 1, Status: fsm.InstanceSucceeded},
			steps: []*statepb.Step{{StepId: "call", Status: fsm.StepSucceeded, Loop: &statepb.Loop{ChildWorkflowId: "chaos-child", Launched: 1, ChildInstanceId: 4}}},
		}}
		for _, id := range children {
			insts = append(insts, &finalInstance{inst: &statepb.Instance{WorkflowId: "chaos-child", InstanceId: id, Status: fsm.InstanceSucceeded,
				Parent: &statepb.ParentRef{WorkflowId: "chaos-async", InstanceId: 1, StepId: "call", Detached: true}}})
		}
		return finalOf(insts...)
	}
	wantClean(t, checkSubworkflowChildren(parentOf(4)))
	wantViolation(t, checkSubworkflowChildren(parentOf(4, 5)), "started 2 children of chaos-child")
	wantViolation(t, checkSubworkflowChildren(parentOf(5)), "but chaos-child/5 is the one it started")
}

func TestWorkflowActionsCheckFindsAnActionTwiceOrOutOfOrder(t *testing.T) {
	records := []wfActionRecord{
		{requestID: "a", action: fsm.WorkflowDisableTriggers, target: "time", answered: true},
		{requestID: "b", action: fsm.WorkflowEnableTriggers, target: "time", answered: true},
		{requestID: "c", action: fsm.WorkflowDeactivate, answered: true},
		{requestID: "d", action: "ACTIVATE", target: "version 1", answered: true},
		{requestID: "e", action: "SET_BREAKPOINT", target: wfActionsBreakpoint, answered: true},
	}
	wev := func(seq int64, index uint64, rid, action, target string) *statepb.Event {
		return &statepb.Event{Seq: seq, Index: index, RequestId: rid, Action: action, Target: target}
	}
	// The setup's activation is #1.
	events := func(extra ...*statepb.Event) []*statepb.Event {
		return append([]*statepb.Event{
			wev(2, 3, "a", fsm.WorkflowDisableTriggers, "time"), wev(3, 5, "b", fsm.WorkflowEnableTriggers, "time"),
			wev(4, 8, "c", fsm.WorkflowDeactivate, ""), wev(5, 9, "d", "ACTIVATE", "version 1"), wev(6, 12, "e", "SET_BREAKPOINT", wfActionsBreakpoint),
		}, extra...)
	}
	wf := &statepb.Workflow{WorkflowId: wfActionsWorkflow, ActiveVersion: 1, LastEventSeq: 6}
	bps := []*statepb.Breakpoint{{WorkflowId: wfActionsWorkflow, StepId: wfActionsStep}}
	wantClean(t, checkWorkflowActions(records, true, events(), wf, bps))

	// A late copy of the disable that took effect again.
	last := &statepb.Workflow{WorkflowId: wfActionsWorkflow, ActiveVersion: 1, LastEventSeq: 7}
	wantViolation(t, checkWorkflowActions(records, true, events(wev(7, 14, "a", fsm.WorkflowDisableTriggers, "time")), last, bps),
		"DISABLE_TRIGGERS (time) of chaos-wf-actions, request a is on record 2 times")
	// An answered action missing, and one out of order.
	swapped := events()
	swapped[1].Index = 2
	wantViolation(t, checkWorkflowActions(records, true, swapped, wf, bps), "request b is on record at index 2, not after request a at 3")
	noB := append(events()[:1:1], events()[2:]...)
	noB[0].Seq = 3 // no gap, as if b had never been written
	wantViolation(t, checkWorkflowActions(records, true, noB, wf, bps), "request b is on record 0 times (answered: true; 2 older actions deleted)")
	gap := append(events()[:1:1], events()[2:]...)
	wantViolation(t, checkWorkflowActions(records, true, gap, wf, bps), "the record skips from #2 to #4")
	// Retention deleted the oldest: the setup's and a and b's.
	wantClean(t, checkWorkflowActions(records, true, events()[2:], wf, bps))
	// ... but not as many as are missing.
	fewer := events()[2:]
	fewer[0].Seq, fewer[1].Seq, fewer[2].Seq = 2, 3, 4
	wantViolation(t, checkWorkflowActions(records, true, fewer, &statepb.Workflow{WorkflowId: wfActionsWorkflow, ActiveVersion: 1, LastEventSeq: 4}, bps),
		"request b is on record 0 times (answered: true; 1 older actions deleted)")
	// The newest on record is not the workflow's newest.
	wantViolation(t, checkWorkflowActions(records, true, events(), last, bps), "the newest action on record is #6, but chaos-wf-actions numbered its actions up to #7")
	// More kept than retention keeps, or fewer than it should.
	var many []wfActionRecord
	var kept []*statepb.Event
	for i := range retainWorkflowActions + 2 {
		rid := fmt.Sprintf("r%d", i)
		many = append(many, wfActionRecord{requestID: rid, action: "SET_BREAKPOINT", target: wfActionsBreakpoint, answered: true})
		kept = append(kept, wev(int64(i+2), uint64(10+i), rid, "SET_BREAKPOINT", wfActionsBreakpoint))
	}
	full := &statepb.Workflow{WorkflowId: wfActionsWorkflow, ActiveVersion: int64(wfActionsVersions), LastEventSeq: int64(retainWorkflowActions + 3)}
	wantViolation(t, checkWorkflowActions(many, true, kept, full, bps), fmt.Sprintf("%d actions (#2 to #%d) are on record a minute after the load stopped, where retention keeps %d",
		retainWorkflowActions+2, retainWorkflowActions+3, retainWorkflowActions))
	wantClean(t, checkWorkflowActions(many, true, kept[2:], full, bps))
	wantViolation(t, checkWorkflowActions(many, true, kept[3:], full, bps), fmt.Sprintf("%d actions are on record where retention keeps the newest %d", retainWorkflowActions-1, retainWorkflowActions))
	// Something nobody sent, or sent as something else.
	wantViolation(t, checkWorkflowActions(records, true, events(wev(7, 15, "zz", fsm.WorkflowDeactivate, "")), last, bps), "request zz at index 15 was never sent")
	wrong := events()
	wrong[3].Target = "version 2"
	wantViolation(t, checkWorkflowActions(records, true, wrong, wf, bps), `is on record as ACTIVATE "version 2"`)
	// The workflow not as the answered actions left it.
	wantViolation(t, checkWorkflowActions(records, true, events(), &statepb.Workflow{ActiveVersion: 1, TimeTriggersDisabled: true, LastEventSeq: 6}, bps),
		"time triggers disabled=true; the answered actions leave false")
	wantViolation(t, checkWorkflowActions(records, true, events(), &statepb.Workflow{ActiveVersion: 0, LastEventSeq: 6}, bps), "has version 0 active (0: none); the answered actions leave 1")
	wantViolation(t, checkWorkflowActions(records, true, events(), wf, nil), "has breakpoints []; the answered actions leave [chaos-wf-actions/only]")
	// With a call unanswered the final state is not judged.
	wantClean(t, checkWorkflowActions(records, false, events(), &statepb.Workflow{LastEventSeq: 6}, nil))
}

func TestDeletionCheckFindsNumbersGivenOutTwiceOrByLateCopies(t *testing.T) {
	del := func(version, instance int64) *statepb.DeletedWorkflow {
		return &statepb.DeletedWorkflow{WorkflowId: deleteWorkflow, LatestVersion: version, LastInstanceId: instance}
	}
	good := []deleteRound{
		{version: 1, instance: 1, created: true, deleted: del(1, 1)},
		{version: 2, instance: 2, created: true, deleted: del(2, 2)},
		{version: 3, instance: 3, created: true},      // deletion never answered
		{version: 3, instance: 4, deleted: del(3, 4)}, // so the push found it
		{version: 4, instance: 5, created: true, deleted: del(4, 5)},
	}
	wantClean(t, checkDeletions(good, nil))

	reused := append([]deleteRound(nil), good...)
	reused[1] = deleteRound{version: 1, instance: 2, created: true, deleted: del(1, 2)}
	wantViolation(t, checkDeletions(reused, nil), "round 1 got version 1, instance 2; an earlier round got version 1, instance 1")

	// A late start's copy took instance 2 after the first deletion, and a
	// late push's copy created the workflow before the second round's push.
	late := []deleteRound{
		{version: 1, instance: 1, created: true, deleted: del(1, 1)},
		{version: 2, instance: 3, deleted: del(2, 3)},
	}
	res := checkDeletions(late, nil)
	wantViolation(t, res, "round 1's push found chaos-delete there after the round before deleted it")
	wantViolation(t, res, "round 1 got version 2, instance 3; the deletion before it reported up to version 1, instance 1")

	// A late copy took a number inside the round, and a deletion reports
	// less than its round had.
	inside := []deleteRound{
		{version: 1, instance: 5, created: true, deleted: del(1, 6)},
		{version: 2, instance: 7, created: true, deleted: del(1, 7)},
	}
	res = checkDeletions(inside, nil)
	wantViolation(t, res, "round 0's deletion reports up to version 1, instance 6, where the round got version 1, instance 5")
	wantViolation(t, res, "round 1's deletion reports up to version 1, instance 7, where the round got version 2, instance 7")

	wantViolation(t, checkDeletions(good, []int64{3}), "chaos-delete/3 is still in the state a minute after the load stopped")
}
