package fsm

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

func TestPushWorkflow(t *testing.T) {
	x := newFixture(t)

	r1 := applyAs[*PushResult](x, pushCmd(wfETL, defETL, 1))
	if !r1.Created || r1.Version != 1 {
		t.Fatalf("first push: created=%v version=%d, want a new version 1", r1.Created, r1.Version)
	}
	r2 := applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 2))
	if !r2.Created || r2.Version != 2 {
		t.Fatalf("second push: created=%v version=%d, want a new version 2", r2.Created, r2.Version)
	}

	// A client retrying a push must not mint a version per retry.
	before := contents(t, x.fsm)
	changed := x.fsm.Changed()
	r3 := applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 3))
	if r3.Created || r3.Version != 2 {
		t.Fatalf("identical push: created=%v version=%d, want the existing version 2", r3.Created, r3.Version)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) {
		t.Fatal("identical push changed the state")
	}
	if fired(changed) {
		t.Fatal("identical push woke watchers")
	}

	st := x.state()
	w := st.Workflow(nil, wfETL)
	if w == nil {
		t.Fatal("workflow etl not found")
	}
	if w.LatestVersion != 2 || w.ActiveVersion != 2 || w.LastInstanceId != 0 {
		t.Fatalf("workflow = %v, want latest 2, active 2, no instances", w)
	}
	sameTime(t, "workflow create time", w.CreateTime, at(1))
	sameTime(t, "workflow update time", w.UpdateTime, at(2))

	vs := st.Versions(nil, wfETL)
	if len(vs) != 2 {
		t.Fatalf("versions: got %d, want 2", len(vs))
	}
	for i, def := range []string{defETL, defETL2} {
		v := vs[i]
		if v.Version != int64(i+1) || v.Definition != def || v.Digest != digestOf(def) || v.WorkflowId != wfETL {
			t.Fatalf("version %d = %v", i+1, v)
		}
		sameTime(t, fmt.Sprintf("version %d create time", i+1), v.CreateTime, at(i+1))
	}
	if v := st.Version(nil, wfETL, 2); v == nil || v.Definition != defETL2 {
		t.Fatalf("Version(etl, 2) = %v", v)
	}
	if v := st.Version(nil, wfETL, 3); v != nil {
		t.Fatalf("Version(etl, 3) = %v, want none", v)
	}
	if ws := st.Workflows(nil); len(ws) != 1 || ws[0].WorkflowId != wfETL {
		t.Fatalf("Workflows = %v", ws)
	}

	x.reject(&statepb.PushWorkflow{WorkflowId: wfETL, Now: at(4)}, RejectInvalid)
	x.reject(&statepb.PushWorkflow{Definition: defETL, Now: at(4)}, RejectInvalid)
}

func TestActivateWorkflow(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 1))
	applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 2))

	res := applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(3)})
	if res.Workflow.ActiveVersion != 1 {
		t.Fatalf("result active version %d, want 1", res.Workflow.ActiveVersion)
	}
	w := x.state().Workflow(nil, wfETL)
	if w.ActiveVersion != 1 || w.LatestVersion != 2 {
		t.Fatalf("workflow = %v, want active 1, latest 2", w)
	}
	sameTime(t, "update time", w.UpdateTime, at(3))

	rej := x.reject(&statepb.ActivateWorkflow{WorkflowId: "nope", Version: 1, Now: at(4)}, RejectNotFound)
	if !strings.Contains(rej.Msg, `"nope"`) {
		t.Fatalf("rejection %q does not name the workflow", rej.Msg)
	}
	rej = x.reject(&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 7, Now: at(4)}, RejectNotFound)
	if !strings.Contains(rej.Msg, `"etl"`) || !strings.Contains(rej.Msg, "version 7") {
		t.Fatalf("rejection %q does not name workflow etl version 7", rej.Msg)
	}
	if rej.Error() != rej.Msg {
		t.Fatalf("Error() = %q, want the message", rej.Error())
	}
	if w := x.state().Workflow(nil, wfETL); w.ActiveVersion != 1 {
		t.Fatalf("active version %d after rejections, want 1", w.ActiveVersion)
	}
}

func TestStartInstance(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	applyAs[*PushResult](x, pushCmd("other", defETL, 0))

	var startIndex uint64
	for want := int64(1); want <= 3; want++ {
		res := applyAs[*StartResult](x, startCmd(wfETL, fmt.Sprintf("req-%d", want), 1, 10+int(want)))
		if !res.Created || res.Instance.InstanceId != want {
			t.Fatalf("start %d: created=%v id=%d", want, res.Created, res.Instance.InstanceId)
		}
		if want == 2 {
			startIndex = x.lastIndex()
		}
	}
	if res := applyAs[*StartResult](x, startCmd("other", "req-other", 1, 20)); res.Instance.InstanceId != 1 {
		t.Fatalf("first instance of another workflow has id %d, want 1: ids are per workflow", res.Instance.InstanceId)
	}

	before := contents(t, x.fsm)
	changed := x.fsm.Changed()
	dup := applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 30))
	if dup.Created || dup.Instance.InstanceId != 2 {
		t.Fatalf("repeated request: created=%v id=%d, want the existing instance 2", dup.Created, dup.Instance.InstanceId)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) {
		t.Fatal("repeated request changed the state")
	}
	if fired(changed) {
		t.Fatal("repeated request woke watchers")
	}

	st := x.state()
	if w := st.Workflow(nil, wfETL); w.LastInstanceId != 3 {
		t.Fatalf("last instance id %d, want 3", w.LastInstanceId)
	}
	inst := st.Instance(nil, wfETL, 2)
	if inst == nil {
		t.Fatal("instance 2 not found")
	}
	if inst.Status != InstanceCreated || inst.WorkflowVersion != 1 || inst.RequestId != "req-2" || inst.LastEventSeq != 1 {
		t.Fatalf("instance 2 = %v", inst)
	}
	sameTime(t, "instance create time", inst.CreateTime, at(12))
	sameParams(t, "instance params", inst.Params, startCmd(wfETL, "", 1, 0).Params)
	if byReq := st.InstanceByRequest("req-2"); byReq == nil || byReq.InstanceId != 2 || byReq.WorkflowId != wfETL {
		t.Fatalf("InstanceByRequest(req-2) = %v", byReq)
	}

	var ids []int64
	for _, i := range st.Instances(nil, wfETL, 0) {
		ids = append(ids, i.InstanceId)
	}
	if fmt.Sprint(ids) != "[3 2 1]" {
		t.Fatalf("Instances(etl) ids %v, want newest first [3 2 1]", ids)
	}
	if got := st.Instances(nil, wfETL, 2); len(got) != 2 || got[0].InstanceId != 3 {
		t.Fatalf("Instances(etl, limit 2) = %v", got)
	}
	if got := st.ActiveInstances(nil); len(got) != 4 {
		t.Fatalf("%d active instances, want 4", len(got))
	}

	steps := st.Steps(nil, wfETL, 2)
	if len(steps) != 2 {
		t.Fatalf("instance 2 has %d steps, want 2", len(steps))
	}
	for i, want := range []struct{ id, typ string }{{"extract", "shell"}, {"load", "sql"}} {
		s := steps[i]
		if s.StepId != want.id || s.Type != want.typ || s.Status != StepNotCreated || len(s.Attempts) != 0 || s.Node != "" {
			t.Fatalf("step %d = %v, want %s/%s NOT_CREATED", i, s, want.id, want.typ)
		}
		sameTime(t, "step create time", s.CreateTime, at(12))
	}

	evs := st.Events(nil, wfETL, 2, 0)
	if len(evs) != 1 {
		t.Fatalf("instance 2 has %d events, want 1", len(evs))
	}
	if e := evs[0]; e.Seq != 1 || e.Status != InstanceCreated || e.StepId != "" || e.Index != startIndex || e.InstanceId != 2 {
		t.Fatalf("event = %v, want seq 1 CREATED at index %d", e, startIndex)
	}
	sameTime(t, "event time", evs[0].Time, at(12))
	if evs := st.Events(nil, wfETL, 2, 1); len(evs) != 0 {
		t.Fatalf("events after seq 1: %v", evs)
	}

	rej := x.reject(startCmd("nope", "req-x", 1, 40), RejectNotFound)
	if !strings.Contains(rej.Msg, `"nope"`) {
		t.Fatalf("rejection %q does not name the workflow", rej.Msg)
	}
	rej = x.reject(startCmd(wfETL, "req-y", 5, 40), RejectNotFound)
	if !strings.Contains(rej.Msg, "version 5") {
		t.Fatalf("rejection %q does not name the version", rej.Msg)
	}
	if i := x.state().InstanceByRequest("req-x"); i != nil {
		t.Fatalf("a rejected start recorded its request id: %v", i)
	}
}

func TestApplyPlan(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	applyAs[*StartResult](x, startCmd(wfETL, "req-1", 1, 1))

	res := x.plan(2,
		// Actions are checked against the state the earlier actions leave,
		// so this assign, placed before the instance starts, is skipped.
		assignAct(wfETL, 1, "load", 1, nodeB),
		instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
		assignAct(wfETL, 1, "extract", 1, nodeA),
		assignAct(wfETL, 1, "load", 2, nodeB),
		assignAct(wfETL, 1, "load", 1, ""),
		stepAct(wfETL, 1, "load", StepCreated, StepStopped, "stale"),
		instanceAct(wfETL, 1, InstanceCreated, InstanceFailed, "stale"),
	)
	gen := x.lastIndex()
	if res.Applied != 2 || res.Skipped != 5 {
		t.Fatalf("plan result %+v, want 2 applied and 5 skipped", res)
	}

	st := x.state()
	inst := st.Instance(nil, wfETL, 1)
	if inst.Status != InstanceInProgress {
		t.Fatalf("instance status %s, want IN_PROGRESS", inst.Status)
	}
	sameTime(t, "instance start time", inst.StartTime, at(2))

	s := st.Step(nil, wfETL, 1, "extract")
	if s.Status != StepRunning || s.Node != nodeA || len(s.Attempts) != 1 {
		t.Fatalf("extract = %v, want RUNNING on node-a with one attempt", s)
	}
	sameTime(t, "step start time", s.StartTime, at(2))
	a := s.Attempts[0]
	if a.AttemptNumber != 1 || a.Generation != gen || a.Node != nodeA || a.Status != AttemptRunning || a.AttemptId != "etl/1/extract/1" {
		t.Fatalf("attempt = %v, want attempt 1 generation %d on node-a", a, gen)
	}
	sameTime(t, "attempt start time", a.StartTime, at(2))
	sameParams(t, "attempt params", a.Params, assignAct(wfETL, 1, "extract", 1, nodeA).GetAssign().Params)

	if l := st.Step(nil, wfETL, 1, "load"); l.Status != StepNotCreated || len(l.Attempts) != 0 || l.Node != "" {
		t.Fatalf("load = %v, want untouched", l)
	}
	on := st.StepsOnNode(nil, nodeA)
	if len(on) != 1 || on[0].StepId != "extract" || on[0].InstanceId != 1 {
		t.Fatalf("StepsOnNode(node-a) = %v, want extract", on)
	}
	if on := st.StepsOnNode(nil, nodeB); len(on) != 0 {
		t.Fatalf("StepsOnNode(node-b) = %v, want none", on)
	}
	if c := st.RunningCounts(); len(c) != 1 || c[nodeA] != 1 {
		t.Fatalf("RunningCounts = %v, want node-a: 1", c)
	}

	evs := st.Events(nil, wfETL, 1, 1)
	if len(evs) != 2 {
		t.Fatalf("plan appended %d events, want 2", len(evs))
	}
	if e := evs[0]; e.Seq != 2 || e.Status != InstanceInProgress || e.StepId != "" || e.Index != gen {
		t.Fatalf("event 2 = %v", e)
	}
	if e := evs[1]; e.Seq != 3 || e.Status != StepRunning || e.StepId != "extract" || e.AttemptNumber != 1 || e.Message != "on node node-a" || e.Index != gen {
		t.Fatalf("event 3 = %v", e)
	}

	res = x.plan(5, stepAct(wfETL, 1, "extract", StepRunning, StepStopped, "cancelled by test"))
	if res.Applied != 1 || res.Skipped != 0 {
		t.Fatalf("stop plan result %+v", res)
	}
	st = x.state()
	s = st.Step(nil, wfETL, 1, "extract")
	if s.Status != StepStopped || s.Node != "" || s.Reason != "cancelled by test" {
		t.Fatalf("extract = %v, want STOPPED off its node", s)
	}
	sameTime(t, "step end time", s.EndTime, at(5))
	if a := s.Attempts[0]; a.Status != AttemptStopped || a.Error != "cancelled by test" || a.Generation != gen {
		t.Fatalf("attempt after stop = %v, want STOPPED", a)
	}
	sameTime(t, "attempt end time", s.Attempts[0].EndTime, at(5))
	if on := st.StepsOnNode(nil, nodeA); len(on) != 0 {
		t.Fatalf("StepsOnNode(node-a) after stop = %v", on)
	}
	if c := st.RunningCounts(); len(c) != 0 {
		t.Fatalf("RunningCounts after stop = %v", c)
	}
	if e := st.Events(nil, wfETL, 1, 3); len(e) != 1 || e[0].Status != StepStopped || e[0].AttemptNumber != 1 {
		t.Fatalf("stop events = %v", e)
	}

	// A terminal step stays terminal whatever the plan expects.
	if res := x.plan(6, stepAct(wfETL, 1, "extract", StepStopped, StepCreated, "")); res.Applied != 0 || res.Skipped != 1 {
		t.Fatalf("plan on a terminal step: %+v", res)
	}
}

func TestReportResultOutcomes(t *testing.T) {
	for _, tc := range []struct {
		outcome, status string
		terminal        bool
	}{
		{AttemptSucceeded, StepSucceeded, true},
		{AttemptUserFailed, StepUserFailed, false},
		{AttemptPlatformFailed, StepPlatformFailed, false},
		{AttemptTimedOut, StepTimeoutFailed, false},
		{AttemptStopped, StepStopped, true},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			x := newFixture(t)
			gen := x.runningInstance()
			rep := reportCmd("extract", 1, gen, tc.outcome, 30)
			rep.Node, rep.ExitCode, rep.LogTail = nodeA, 3, "tail\n"
			rep.Outputs = map[string]*statepb.Param{"rows": param("LONG", 42.0)}
			if tc.outcome != AttemptSucceeded {
				rep.Error = "exit 3"
			}
			if out := applyAs[*ReportResultOutcome](x, rep); !out.Accepted || out.Reason != "" {
				t.Fatalf("current attempt's result refused: %+v", out)
			}
			idx := x.lastIndex()

			st := x.state()
			s := st.Step(nil, wfETL, 1, "extract")
			if s.Status != tc.status || s.Node != "" || s.Reason != rep.Error {
				t.Fatalf("step = %v, want %s off its node", s, tc.status)
			}
			if tc.terminal {
				sameTime(t, "step end time", s.EndTime, at(30))
			} else if s.EndTime != nil {
				t.Fatalf("retryable step has end time %v", s.EndTime)
			}
			// Only a success publishes outputs for downstream steps.
			if tc.outcome == AttemptSucceeded {
				sameParams(t, "step outputs", s.Outputs, rep.Outputs)
			} else if len(s.Outputs) != 0 {
				t.Fatalf("failed step published outputs %v", s.Outputs)
			}
			a := s.Attempts[0]
			if a.Status != tc.outcome || a.ExitCode != 3 || a.Error != rep.Error || a.LogTail != "tail\n" || a.Executions != 1 || a.Generation != gen {
				t.Fatalf("attempt = %v", a)
			}
			sameTime(t, "attempt end time", a.EndTime, at(30))
			sameParams(t, "attempt outputs", a.Outputs, rep.Outputs)
			if on := st.StepsOnNode(nil, nodeA); len(on) != 0 {
				t.Fatalf("StepsOnNode(node-a) = %v after the attempt ended", on)
			}
			evs := st.Events(nil, wfETL, 1, 3)
			if len(evs) != 1 {
				t.Fatalf("%d events for the result, want 1", len(evs))
			}
			if e := evs[0]; e.StepId != "extract" || e.AttemptNumber != 1 || e.Status != tc.status || e.Index != idx || e.Message != rep.Error {
				t.Fatalf("event = %v", e)
			}
			sameTime(t, "event time", evs[0].Time, at(30))

			// The same result delivered twice is refused the second time.
			before := contents(t, x.fsm)
			if out := applyAs[*ReportResultOutcome](x, rep); out.Accepted || !strings.Contains(out.Reason, "not RUNNING") {
				t.Fatalf("duplicate result: %+v, want refused as not RUNNING", out)
			}
			if !bytes.Equal(before, contents(t, x.fsm)) {
				t.Fatal("duplicate result changed the state")
			}
		})
	}
}

func TestReportResultRejections(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	for _, outcome := range []string{AttemptRunning, "EXPLODED", ""} {
		rej := x.reject(reportCmd("extract", 1, gen, outcome, 30), RejectInvalid)
		if !strings.Contains(rej.Msg, fmt.Sprintf("%q", outcome)) {
			t.Fatalf("rejection %q does not name outcome %q", rej.Msg, outcome)
		}
	}
	x.reject(reportCmd("transform", 1, gen, AttemptSucceeded, 30), RejectNotFound)
	if out := applyAs[*ReportResultOutcome](x, reportCmd("load", 1, gen, AttemptSucceeded, 30)); out.Accepted || !strings.Contains(out.Reason, StepNotCreated) {
		t.Fatalf("result for a step never started: %+v", out)
	}
	if s := x.state().Step(nil, wfETL, 1, "extract"); s.Status != StepRunning || s.Attempts[0].Status != AttemptRunning {
		t.Fatalf("extract = %v after refused results, want still RUNNING", s)
	}
}

// A node that lost contact keeps running its attempt and reports late, after
// the leader has moved the step to a retry elsewhere. Its result must not
// replace the retry's.
func TestReportResultFencing(t *testing.T) {
	x := newFixture(t)
	gen1 := x.runningInstance()

	x.plan(20, stepAct(wfETL, 1, "extract", StepRunning, StepPlatformFailed, "node-a lost"))
	if res := x.plan(21, assignAct(wfETL, 1, "extract", 2, nodeB)); res.Applied != 1 {
		t.Fatalf("retry assign: %+v", res)
	}
	gen2 := x.lastIndex()

	zombieOut := map[string]*statepb.Param{"rows": param("LONG", 1.0)}
	retryOut := map[string]*statepb.Param{"rows": param("LONG", 2.0)}
	zombie := reportCmd("extract", 1, gen1, AttemptSucceeded, 22)
	zombie.Node, zombie.Outputs = nodeA, zombieOut

	stale := []struct {
		name string
		cmd  *statepb.ReportResult
		why  string
	}{
		{"old attempt", zombie, fmt.Sprintf("attempt 1 generation %d is not current (attempt 2 generation %d is)", gen1, gen2)},
		{"current attempt number, old generation", reportCmd("extract", 2, gen1, AttemptSucceeded, 22), fmt.Sprintf("generation %d is not current", gen1)},
		{"old attempt number, current generation", reportCmd("extract", 1, gen2, AttemptSucceeded, 22), "attempt 1 generation"},
	}
	for _, tc := range stale {
		before := contents(t, x.fsm)
		out := applyAs[*ReportResultOutcome](x, tc.cmd)
		if out.Accepted || !strings.Contains(out.Reason, tc.why) {
			t.Fatalf("%s: %+v, want refused with %q", tc.name, out, tc.why)
		}
		if !bytes.Equal(before, contents(t, x.fsm)) {
			t.Fatalf("%s: refused result changed the state", tc.name)
		}
	}

	retry := reportCmd("extract", 2, gen2, AttemptSucceeded, 23)
	retry.Node, retry.Outputs = nodeB, retryOut
	if out := applyAs[*ReportResultOutcome](x, retry); !out.Accepted {
		t.Fatalf("retry's result refused: %s", out.Reason)
	}
	if out := applyAs[*ReportResultOutcome](x, zombie); out.Accepted {
		t.Fatal("zombie's result accepted after the retry finished")
	}

	s := x.state().Step(nil, wfETL, 1, "extract")
	if s.Status != StepSucceeded || len(s.Attempts) != 2 {
		t.Fatalf("extract = %v, want SUCCEEDED after two attempts", s)
	}
	sameParams(t, "step outputs", s.Outputs, retryOut)
	// Failed by the leader as a platform failure (its node was lost).
	if a := s.Attempts[0]; a.Status != AttemptPlatformFailed || a.Node != nodeA || a.Generation != gen1 || len(a.Outputs) != 0 {
		t.Fatalf("first attempt = %v, want PLATFORM_FAILED with no outputs", a)
	}
	sameTime(t, "first attempt end time", s.Attempts[0].EndTime, at(20))
	if a := s.Attempts[1]; a.Status != AttemptSucceeded || a.Node != nodeB || a.Generation != gen2 {
		t.Fatalf("second attempt = %v", a)
	}
}

func TestStopInstance(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()

	res := applyAs[*StopResult](x, stopCmd(wfETL, 1, "operator asked", 40))
	if res.Instance.Status != InstanceStopped || res.Instance.Reason != "operator asked" {
		t.Fatalf("stop result instance = %v", res.Instance)
	}
	st := x.state()
	inst := st.Instance(nil, wfETL, 1)
	if inst.Status != InstanceStopped || inst.Reason != "operator asked" {
		t.Fatalf("instance = %v, want STOPPED", inst)
	}
	sameTime(t, "instance end time", inst.EndTime, at(40))
	s := st.Step(nil, wfETL, 1, "extract")
	if s.Status != StepStopped || s.Node != "" || s.Attempts[0].Status != AttemptStopped || s.Attempts[0].Error != "operator asked" {
		t.Fatalf("extract = %v, want STOPPED with its attempt ended", s)
	}
	sameTime(t, "attempt end time", s.Attempts[0].EndTime, at(40))
	// A step that never started has nothing to stop.
	if l := st.Step(nil, wfETL, 1, "load"); l.Status != StepNotCreated {
		t.Fatalf("load = %v, want NOT_CREATED", l)
	}
	if a := st.ActiveInstances(nil); len(a) != 0 {
		t.Fatalf("active instances after stop: %v", a)
	}
	if on := st.StepsOnNode(nil, nodeA); len(on) != 0 {
		t.Fatalf("StepsOnNode(node-a) after stop: %v", on)
	}
	evs := st.Events(nil, wfETL, 1, 3)
	if len(evs) != 3 || evs[0].Action != "STOP" || evs[0].Actor != "anonymous" || evs[0].Message != "operator asked" ||
		evs[1].StepId != "extract" || evs[1].Status != StepStopped ||
		evs[2].StepId != "" || evs[2].Status != InstanceStopped || evs[2].Message != "operator asked" {
		t.Fatalf("stop events = %v", evs)
	}

	if out := applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 41)); out.Accepted {
		t.Fatal("result of a stopped attempt accepted")
	}

	before := contents(t, x.fsm)
	rej := x.reject(stopCmd(wfETL, 1, "again", 50), RejectFailedPrecondition)
	if !strings.Contains(rej.Msg, "already STOPPED") {
		t.Fatalf("rejection %q does not give the status", rej.Msg)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) {
		t.Fatal("stopping a stopped instance changed the state")
	}
	x.reject(stopCmd(wfETL, 9, "", 50), RejectNotFound)

	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 60))
	if res := applyAs[*StopResult](x, stopCmd(wfETL, 2, "", 61)); res.Instance.Status != InstanceStopped || res.Instance.Reason != "stopped by request" {
		t.Fatalf("stop of a CREATED instance without reason: %v", res.Instance)
	}

	applyAs[*StartResult](x, startCmd(wfETL, "req-3", 1, 70))
	x.plan(71, instanceAct(wfETL, 3, InstanceCreated, InstanceSucceeded, ""))
	x.reject(stopCmd(wfETL, 3, "", 72), RejectFailedPrecondition)
}

// Every refusal must leave the store as it was and not wake watchers, or the
// scheduler would re-plan the same round forever.
func TestRefusedCommandChangesNothing(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()

	for _, tc := range []struct {
		name     string
		cmd      proto.Message
		rejected bool
	}{
		{"push without definition", &statepb.PushWorkflow{WorkflowId: wfETL}, true},
		{"activate unknown version", &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 4}, true},
		{"start unknown workflow", startCmd("nope", "req-9", 1, 9), true},
		{"stop unknown instance", stopCmd(wfETL, 8, "", 9), true},
		{"report unknown step", reportCmd("nope", 1, gen, AttemptSucceeded, 9), true},
		{"report bad outcome", reportCmd("extract", 1, gen, "MAYBE", 9), true},
		{"identical push", pushCmd(wfETL, defETL, 9), false},
		{"repeated start", startCmd(wfETL, "req-1", 1, 9), false},
		{"stale report", reportCmd("extract", 1, gen+1, AttemptSucceeded, 9), false},
		{"all-skipped plan", &statepb.ApplyPlan{Now: at(9), Actions: []*statepb.PlanAction{
			instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
			assignAct(wfETL, 1, "extract", 1, nodeB),
			{},
		}}, false},
		{"empty plan", &statepb.ApplyPlan{Now: at(9)}, false},
		{"deactivate unknown workflow", &statepb.WorkflowAction{WorkflowId: "nope", Action: WorkflowDeactivate}, true},
		{"switch no triggers", &statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowEnableTriggers}, true},
		{"enable enabled triggers", &statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowEnableTriggers, TimeTriggers: true}, true},
		{"breakpoint on a missing instance", &statepb.SetBreakpoint{WorkflowId: wfETL, StepId: "load", InstanceId: 5}, true},
		{"delete a missing breakpoint", &statepb.DeleteBreakpoint{WorkflowId: wfETL, StepId: "load"}, true},
		{"bypass a running step", &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "extract", Action: "BYPASS_SIGNALS"}, true},
		{"restart a running step", &statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "extract", Action: "RESTART"}, true},
		{"fire a missing signal trigger", &statepb.ApplyPlan{Now: at(9), Actions: []*statepb.PlanAction{fireAct(1, 1, "x")}}, false},
	} {
		before := contents(t, x.fsm)
		changed := x.fsm.Changed()
		res := x.apply(tc.cmd)
		if _, isRej := res.(*Rejection); isRej != tc.rejected {
			t.Fatalf("%s: result %#v, rejected=%v", tc.name, res, tc.rejected)
		}
		if !bytes.Equal(before, contents(t, x.fsm)) {
			t.Fatalf("%s: changed the state", tc.name)
		}
		if fired(changed) {
			t.Fatalf("%s: woke watchers", tc.name)
		}
		// The entry is still applied as far as Raft is concerned.
		if got := x.fsm.AppliedIndex(); got != x.lastIndex() {
			t.Fatalf("%s: applied index %d, want %d", tc.name, got, x.lastIndex())
		}
	}
}
