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
