package rpc

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
)

// An instance killed after its last step succeeded but before a planning
// round ended it has nothing to run again from its incomplete steps. The
// restart is refused before anything is proposed: the server below has no
// Raft to propose to: a proposal finds no node.
func TestRestartWithNothingToRunWritesNothing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := timestamppb.New(now)
	f := fsm.New()
	var index uint64
	apply := func(m proto.Message) any {
		t.Helper()
		index++
		res := f.ApplyLocal(index, m)
		if rej, ok := res.(*fsm.Rejection); ok {
			t.Fatalf("apply %T: %v", m, rej)
		}
		return res
	}
	def, err := workflow.Parse([]byte(`{"workflow":{"id":"one","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	canon, err := workflow.Canonical(def)
	if err != nil {
		t.Fatal(err)
	}
	apply(&statepb.PushWorkflow{WorkflowId: "one", Definition: string(canon), Digest: "d1", Now: ts})
	inst := apply(&statepb.StartInstance{RequestId: "r1", WorkflowId: "one", WorkflowVersion: 1, Now: ts,
		Steps: []*statepb.StepSeed{{StepId: "a", Type: "NoOp"}}}).(*fsm.StartResult).Instance
	defs := scheduler.NewDefinitionCache()
	for range 3 {
		out := scheduler.Plan(scheduler.Input{State: f.State(), Now: now, Members: []scheduler.Member{{Name: "n1"}}, Defs: defs})
		if len(out.Actions) > 0 {
			apply(&statepb.ApplyPlan{Now: ts, Actions: out.Actions})
		}
		if st := f.State().Step(nil, "one", inst.InstanceId, "a"); st != nil && st.Status == fsm.StepRunning {
			break
		}
	}
	st := f.State().Step(nil, "one", inst.InstanceId, "a")
	if st == nil || st.Status != fsm.StepRunning {
		t.Fatalf("step a did not start: %v", st)
	}
	a := st.Attempts[len(st.Attempts)-1]
	apply(&statepb.ReportResult{WorkflowId: "one", InstanceId: inst.InstanceId, StepId: "a", AttemptNumber: a.AttemptNumber,
		Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: ts})
	apply(&statepb.Action{WorkflowId: "one", InstanceId: inst.InstanceId, Action: "KILL", Actor: "test", Now: ts})
	if got := f.State().Instance(nil, "one", inst.InstanceId).Status; !fsm.InstanceTerminal(got) {
		t.Fatalf("instance is %s after the kill, want it ended", got)
	}

	lead := &fakeLeadership{}
	lead.ready.Store(true)
	s := &instanceService{&Server{FSM: f, Defs: defs, Leadership: lead, Now: func() time.Time { return now }}}
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("the restart was proposed (%v)", p)
		}
	}()
	_, err = s.Restart(context.Background(), connect.NewRequest(&instancev1.RestartRequest{WorkflowId: "one", InstanceId: inst.InstanceId}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "has no step to run again") {
		t.Fatalf("restart from incomplete steps with none: %v, want failed_precondition naming it", err)
	}
}
