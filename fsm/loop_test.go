package fsm

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// loopInstance starts instance 1 of wfETL with a foreach step "each" running.
func loopInstance(t *testing.T) *fixture {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, `{"workflow":{"id":"etl"}}`, 1))
	applyAs[*StartResult](x, &statepb.StartInstance{
		RequestId: "r1", WorkflowId: wfETL, WorkflowVersion: 1, Now: at(2),
		Steps: []*statepb.StepSeed{{StepId: "each", Type: "foreach"}},
	})
	res := x.plan(3, instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
		&statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{
			WorkflowId: wfETL, InstanceId: 1, StepId: "each", AttemptNumber: 1,
			Params: map[string]*statepb.Param{"loop_params": param("LONG_ARRAY", []any{1.0, 2.0, 3.0})},
			Loop:   &statepb.Loop{Total: 3, Names: []string{"i"}},
		}}})
	if res.Applied != 2 {
		t.Fatalf("starting the loop step: %+v", res)
	}
	return x
}

func childAct(iter int64) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_StartChild{StartChild: &statepb.StartChild{
		ParentWorkflowId: wfETL, ParentInstanceId: 1, ParentStepId: "each",
		WorkflowId: "etl:1:each", InstanceId: iter, WorkflowVersion: 1,
		DefinitionWorkflowId: wfETL, DefinitionPath: []string{"each"},
		Params: map[string]*statepb.Param{"i": param("LONG", float64(iter))},
		Steps:  []*statepb.StepSeed{{StepId: "work", Type: "NoOp"}},
	}}}
}

func TestStartChildTakesIterationsInOrderOnce(t *testing.T) {
	x := loopInstance(t)
	if res := x.plan(4, childAct(1), childAct(2)); res.Applied != 2 {
		t.Fatalf("iterations 1 and 2: %+v", res)
	}
	// A stale plan repeating an iteration, or skipping one, starts nothing.
	if res := x.plan(5, childAct(2), childAct(4)); res.Applied != 0 || res.Skipped != 2 {
		t.Fatalf("stale iterations: %+v, want both skipped", res)
	}
	st := x.state()
	loop := st.Step(nil, wfETL, 1, "each").Loop
	if loop.Launched != 2 || loop.ChildWorkflowId != "etl:1:each" {
		t.Fatalf("loop after two launches: %v", loop)
	}
	child := st.Instance(nil, "etl:1:each", 2)
	if child == nil || child.Status != InstanceCreated || child.Depth != 1 ||
		child.Parent.GetStepId() != "each" || child.Parent.GetRootInstanceId() != 1 || child.DefinitionPath[0] != "each" {
		t.Fatalf("iteration 2 = %v", child)
	}
	// An iteration the leader marks to run starts IN_PROGRESS in the same
	// entry, with both events on its timeline.
	run := childAct(3)
	run.GetStartChild().Run = true
	if res := x.plan(6, run); res.Applied != 1 {
		t.Fatalf("iteration 3: %+v", res)
	}
	child = x.state().Instance(nil, "etl:1:each", 3)
	if child.Status != InstanceInProgress || !proto.Equal(child.StartTime, at(6)) || child.LastEventSeq != 2 {
		t.Fatalf("iteration 3 started to run = %v", child)
	}
	if s := st.Step(nil, "etl:1:each", 2, "work"); s == nil || s.Status != StepNotCreated {
		t.Fatalf("iteration 2 step = %v", s)
	}
	if kids := st.Children(nil, wfETL, 1, "each"); len(kids) != 2 {
		t.Fatalf("children: %d, want 2", len(kids))
	}
}

func TestChildEndCountsOnTheLoopStep(t *testing.T) {
	x := loopInstance(t)
	x.plan(4, childAct(1), childAct(2))
	x.plan(5, instanceAct("etl:1:each", 1, InstanceCreated, InstanceSucceeded, ""),
		instanceAct("etl:1:each", 2, InstanceCreated, InstanceFailed, "boom"))
	loop := x.state().Step(nil, wfETL, 1, "each").Loop
	if loop.Finished != 2 || loop.Counts[InstanceSucceeded] != 1 || loop.Counts[InstanceFailed] != 1 {
		t.Fatalf("loop counts: %v", loop)
	}
}

// Stopping the parent stops the running iterations with it; deleting it
// deletes them.
func TestStopAndDeleteReachChildren(t *testing.T) {
	x := loopInstance(t)
	x.plan(4, childAct(1), childAct(2))
	x.plan(5, instanceAct("etl:1:each", 1, InstanceCreated, InstanceSucceeded, ""))
	applyAs[*StopResult](x, stopCmd(wfETL, 1, "enough", 6))
	st := x.state()
	if c := st.Instance(nil, "etl:1:each", 2); c.Status != InstanceStopped {
		t.Fatalf("running iteration after parent stop: %s", c.Status)
	}
	if c := st.Instance(nil, "etl:1:each", 1); c.Status != InstanceSucceeded {
		t.Fatalf("finished iteration after parent stop: %s", c.Status)
	}
	if s := st.Step(nil, wfETL, 1, "each"); s.Status != StepStopped || s.Attempts[0].Status != AttemptStopped {
		t.Fatalf("loop step after stop: %v", s)
	}
	res := x.plan(7, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{DeleteInstance: &statepb.DeleteInstance{WorkflowId: wfETL, InstanceId: 1}}})
	if res.Applied != 1 {
		t.Fatalf("delete: %+v", res)
	}
	st = x.state()
	if st.Instance(nil, "etl:1:each", 1) != nil || st.Step(nil, "etl:1:each", 2, "work") != nil || len(st.Events(nil, "etl:1:each", 2, 0)) != 0 {
		t.Fatal("iterations survived their parent's deletion")
	}
}

// Writes start from shallow copies; the versions a snapshot holds must not
// change under later writes.
func TestWritesNeverChangeStoredRecords(t *testing.T) {
	x := loopInstance(t)
	x.plan(4, childAct(1))
	before := x.state()
	step := proto.Clone(before.Step(nil, wfETL, 1, "each"))
	inst := proto.Clone(before.Instance(nil, wfETL, 1))
	x.plan(5, childAct(2), instanceAct("etl:1:each", 1, InstanceCreated, InstanceSucceeded, ""))
	applyAs[*StopResult](x, stopCmd(wfETL, 1, "", 6))
	if got := before.Step(nil, wfETL, 1, "each"); !proto.Equal(got, step) {
		t.Fatalf("stored step changed under a snapshot:\n got %v\nwant %v", got, step)
	}
	if got := before.Instance(nil, wfETL, 1); !proto.Equal(got, inst) {
		t.Fatalf("stored instance changed under a snapshot:\n got %v\nwant %v", got, inst)
	}
	if x.state().Step(nil, wfETL, 1, "each").Loop.Launched != 2 {
		t.Fatal("the writes did not happen")
	}
}

// Child instances, loop progress and trigger schedules survive a snapshot
// and restore like every other record.
func TestSnapshotRoundTripsLoopsAndTriggers(t *testing.T) {
	x := loopInstance(t)
	x.plan(4, childAct(1), childAct(2),
		&statepb.PlanAction{Action: &statepb.PlanAction_SetTrigger{SetTrigger: &statepb.SetTrigger{
			WorkflowId: wfETL, TriggerId: "time-0", Version: 1, Spec: `{"type":"CRON"}`, Next: at(60),
		}}})
	x.plan(5, instanceAct("etl:1:each", 1, InstanceCreated, InstanceFailed, "boom"))
	data := snapshotBytes(t, x.fsm)
	y := newFixture(t)
	restore(t, y.fsm, data)
	if got := snapshotBytes(t, y.fsm); !bytes.Equal(got, data) {
		t.Fatal("restored state snapshots differently")
	}
	st := y.state()
	if tr := st.Triggers(nil, wfETL); len(tr) != 1 || !tr[0].Next.AsTime().Equal(at(60).AsTime()) {
		t.Fatalf("trigger after restore: %v", tr)
	}
	if loop := st.Step(nil, wfETL, 1, "each").Loop; loop.Launched != 2 || loop.Counts[InstanceFailed] != 1 {
		t.Fatalf("loop after restore: %v", loop)
	}
	if kids := st.Children(nil, wfETL, 1, "each"); len(kids) != 2 {
		t.Fatalf("children after restore: %d (the parent index was not rebuilt)", len(kids))
	}
}

// TestOneEntryStartsPlacesAndEndsIterations runs iterations the way the
// leader batches them: one entry starts two and places their steps, the
// next takes both results and ends both. Records an entry wrote itself are
// changed in place, so the entries must leave every index right (the
// fixture checks them after each entry) and the same records as applying
// each change in an entry of its own.
func TestOneEntryStartsPlacesAndEndsIterations(t *testing.T) {
	const child = "etl:1:each"
	run := func(iter int64) *statepb.PlanAction {
		a := childAct(iter)
		a.GetStartChild().Run = true
		return a
	}
	place := func(iter int64, node string) *statepb.PlanAction { return assignAct(child, iter, "work", 1, node) }
	result := func(iter int64, gen uint64, node string) *statepb.ReportResult {
		r := reportCmd("work", 1, gen, AttemptSucceeded, 5)
		r.WorkflowId, r.InstanceId, r.Node = child, iter, node
		return r
	}
	end := func(iter int64) *statepb.PlanAction {
		return instanceAct(child, iter, InstanceInProgress, InstanceSucceeded, "")
	}

	together := loopInstance(t)
	if res := together.plan(4, run(1), run(2), place(1, nodeA), place(2, nodeB)); res.Applied != 4 {
		t.Fatalf("starting and placing two iterations in one entry: %+v", res)
	}
	gen := together.lastIndex()
	if on := together.state().StepsOnNode(nil, nodeB); len(on) != 1 || on[0].InstanceId != 2 {
		t.Fatalf("steps on %s after one entry: %v", nodeB, on)
	}
	done := applyAs[*PlanResult](together, &statepb.ApplyPlan{Now: at(5),
		Results: []*statepb.ReportResult{result(1, gen, nodeA), result(2, gen, nodeB)},
		Actions: []*statepb.PlanAction{end(1), end(2)}})
	if done.Applied != 2 || done.Dropped {
		t.Fatalf("ending both iterations in one entry: %+v", done)
	}

	apart := loopInstance(t)
	var gens [3]uint64
	for _, act := range []*statepb.PlanAction{run(1), run(2), place(1, nodeA), place(2, nodeB)} {
		if res := apart.plan(4, act); res.Applied != 1 {
			t.Fatalf("one change an entry: %+v", res)
		}
		if a := act.GetAssign(); a != nil {
			gens[a.InstanceId] = apart.lastIndex()
		}
	}
	for iter, node := range map[int64]string{1: nodeA, 2: nodeB} {
		applyAs[*PlanResult](apart, &statepb.ApplyPlan{Now: at(5), Results: []*statepb.ReportResult{result(iter, gens[iter], node)}})
		apart.plan(5, end(iter))
	}

	for _, x := range []*fixture{together, apart} {
		st := x.state()
		loop := st.Step(nil, wfETL, 1, "each").Loop
		if loop.Launched != 2 || loop.Finished != 2 || loop.Counts[InstanceSucceeded] != 2 {
			t.Fatalf("loop after two iterations: %v", loop)
		}
		for iter := int64(1); iter <= 2; iter++ {
			inst, step := st.Instance(nil, child, iter), st.Step(nil, child, iter, "work")
			if inst.Status != InstanceSucceeded || step.Status != StepSucceeded || step.Node != "" || len(step.Attempts) != 1 {
				t.Fatalf("iteration %d: instance %v, step %v", iter, inst, step)
			}
			if n := len(st.Events(nil, child, iter, 0)); n != 5 || inst.LastEventSeq != 5 {
				t.Fatalf("iteration %d: %d events, last seq %d, want 5", iter, n, inst.LastEventSeq)
			}
		}
		if len(st.StepsOnNode(nil, nodeA)) != 0 || len(st.StepsOnNode(nil, nodeB)) != 0 || len(st.ActiveInstances(nil)) != 1 {
			t.Fatal("finished iterations are still on a node or active")
		}
	}
}

// TestOneEntryPlacesAndStopsAnIteration takes a step an entry placed off
// its node in the same entry: the step's entry in the node index must go.
func TestOneEntryPlacesAndStopsAnIteration(t *testing.T) {
	x := loopInstance(t)
	run := childAct(1)
	run.GetStartChild().Run = true
	stop := &statepb.PlanAction{Action: &statepb.PlanAction_StopInstance{StopInstance: &statepb.StopInstance{
		WorkflowId: "etl:1:each", InstanceId: 1, Reason: "superseded", Now: at(4)}}}
	if res := x.plan(4, run, assignAct("etl:1:each", 1, "work", 1, nodeA), stop); res.Applied != 3 {
		t.Fatalf("start, place and stop in one entry: %+v", res)
	}
	st := x.state()
	if step := st.Step(nil, "etl:1:each", 1, "work"); step.Status != StepStopped || step.Node != "" {
		t.Fatalf("stopped iteration's step: %v", step)
	}
	if on := st.StepsOnNode(nil, nodeA); len(on) != 0 {
		t.Fatalf("steps still on %s: %v", nodeA, on)
	}
	if loop := st.Step(nil, wfETL, 1, "each").Loop; loop.Finished != 1 || loop.Counts[InstanceStopped] != 1 {
		t.Fatalf("loop after a stopped iteration: %v", loop)
	}
}

// TestLateStoredTimelineNumberSurvivesACopy takes a timeline number on an
// instance the entry has not written (the copy waits to be stored), then
// stores another copy of the record as the store still holds it: that copy
// must carry the number taken, or the next event would reuse it.
func TestLateStoredTimelineNumberSurvivesACopy(t *testing.T) {
	x := loopInstance(t)
	f := x.fsm
	f.mu.Lock()
	a := &applier{txn: f.db.Txn(true), index: x.next, now: at(9)}
	stored := a.get(tableInstances, wfETL, int64(1)).(*statepb.Instance)
	before := stored.LastEventSeq
	a.event(wfETL, 1, "", 0, InstanceInProgress, "first")
	if got := a.get(tableInstances, wfETL, int64(1)).(*statepb.Instance); got == stored || got.LastEventSeq != before+1 {
		t.Fatalf("after one event the applier reads %v (stored %p)", got, stored)
	}
	cp := shallow(stored)
	cp.Reason = "changed from the stored record"
	a.put(tableInstances, cp)
	a.event(wfETL, 1, "", 0, InstanceInProgress, "second")
	a.storeDeferred()
	a.txn.Commit()
	f.mu.Unlock()
	x.next++

	inst := x.state().Instance(nil, wfETL, 1)
	if inst.LastEventSeq != before+2 || inst.Reason != cp.Reason {
		t.Fatalf("instance after two events and a copy: seq %d (want %d), reason %q", inst.LastEventSeq, before+2, inst.Reason)
	}
	if stored.LastEventSeq != before {
		t.Fatal("the stored record changed in place")
	}
	checkIndexes(t, f)
	checkTimelines(t, f)
}

// A subworkflow step's instance belongs to a workflow of its own: the step
// finds it through the parent index, and stopping the parent stops it
// unless it runs detached.
func TestStopReachesSubworkflowInstances(t *testing.T) {
	for _, detached := range []bool{false, true} {
		x := newFixture(t)
		applyAs[*PushResult](x, pushCmd(wfETL, `{"workflow":{"id":"etl"}}`, 1))
		applyAs[*PushResult](x, pushCmd("child", `{"workflow":{"id":"child"}}`, 1))
		// An instance of the child workflow of its own, which no step started.
		applyAs[*StartResult](x, startCmd("child", "alone", 1, 1))
		applyAs[*StartResult](x, &statepb.StartInstance{
			RequestId: "r1", WorkflowId: wfETL, WorkflowVersion: 1, Now: at(2),
			Steps: []*statepb.StepSeed{{StepId: "sub", Type: "subworkflow"}},
		})
		x.plan(3, instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
			&statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{
				WorkflowId: wfETL, InstanceId: 1, StepId: "sub", AttemptNumber: 1, Loop: &statepb.Loop{},
			}}})
		res := x.plan(4, &statepb.PlanAction{Action: &statepb.PlanAction_StartChild{StartChild: &statepb.StartChild{
			ParentWorkflowId: wfETL, ParentInstanceId: 1, ParentStepId: "sub",
			WorkflowId: "child", WorkflowVersion: 1, Detached: detached,
			Steps: []*statepb.StepSeed{{StepId: "work", Type: "NoOp"}},
		}}})
		if res.Applied != 1 {
			t.Fatalf("detached=%v: starting the subworkflow: %+v", detached, res)
		}
		st := x.state()
		kids := st.Children(nil, wfETL, 1, "sub")
		if len(kids) != 1 || kids[0].WorkflowId != "child" || kids[0].InstanceId != 2 {
			t.Fatalf("detached=%v: children of the step: %v", detached, kids)
		}
		applyAs[*StopResult](x, stopCmd(wfETL, 1, "enough", 5))
		want := InstanceStopped
		if detached {
			want = InstanceCreated
		}
		st = x.state()
		if got := st.Instance(nil, "child", 2).Status; got != want {
			t.Fatalf("detached=%v: subworkflow instance after its parent's stop: %s, want %s", detached, got, want)
		}
		if got := st.Instance(nil, "child", 1).Status; got != InstanceCreated {
			t.Fatalf("detached=%v: an unrelated instance of the child workflow is %s", detached, got)
		}
	}
}
