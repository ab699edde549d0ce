package fsm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// logEntries is a log that uses every command type, refusals, no-ops and an
// ignorable entry, with wide params in the stored records.
func logEntries(t testing.TB) [][]byte {
	t.Helper()
	var entries [][]byte
	add := func(m proto.Message) uint64 {
		data, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		entries = append(entries, data)
		return firstIndex + uint64(len(entries)-1)
	}
	wide := wideParams()

	add(pushCmd(wfETL, defETL, 1))
	add(pushCmd(wfETL, defETL, 2))
	add(pushCmd(wfETL, defETL2, 3))
	add(&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(4)})
	add(&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 9, Now: at(4)})
	for i := 1; i <= 3; i++ {
		s := startCmd(wfETL, fmt.Sprintf("req-%d", i), 1, 4+i)
		s.Params = wide
		add(s)
	}
	add(startCmd(wfETL, "req-2", 1, 9))
	wideAssign := assignAct(wfETL, 2, "extract", 1, nodeB)
	wideAssign.GetAssign().Params = wide
	gen := add(&statepb.ApplyPlan{Now: at(10), Actions: []*statepb.PlanAction{
		instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
		instanceAct(wfETL, 2, InstanceCreated, InstanceInProgress, ""),
		assignAct(wfETL, 1, "extract", 1, nodeA),
		wideAssign,
		assignAct(wfETL, 3, "extract", 1, nodeA),
	}})
	rep := reportCmd("extract", 1, gen, AttemptSucceeded, 11)
	rep.Outputs = wide
	add(rep)
	add(reportCmd("extract", 1, gen, AttemptSucceeded, 12))
	entries = append(entries, []byte{byte(IgnorableFlag) | 0x11, 1, 2, 3})
	add(&statepb.ApplyPlan{Now: at(13), Actions: []*statepb.PlanAction{
		assignAct(wfETL, 1, "load", 1, nodeB),
		stepAct(wfETL, 2, "extract", StepRunning, StepPlatformFailed, "node-b lost"),
	}})
	add(stopCmd(wfETL, 2, "", 14))
	add(stopCmd(wfETL, 2, "", 15))
	// Operator commands, refusals among them, and signal trigger fires.
	add(&statepb.SetBreakpoint{WorkflowId: wfETL, StepId: "load", Actor: "op", Now: at(16)})
	add(&statepb.SetBreakpoint{WorkflowId: wfETL, StepId: "load", Version: 9, Now: at(16)})
	add(&statepb.SendSignal{Name: "sig", Params: wide, Now: at(16)})
	fire := fireAct(0, 0, "req-sig")
	fire.GetFireSignalTrigger().Signals = map[string]int64{"sig": 1}
	add(&statepb.ApplyPlan{Now: at(17), Actions: []*statepb.PlanAction{
		{Action: &statepb.PlanAction_SetSignalTrigger{SetSignalTrigger: &statepb.SetSignalTrigger{
			WorkflowId: wfETL, TriggerId: "signal-0", Version: 1, Spec: `{"definitions":{"sig":{}}}`, Checkpoints: map[string]int64{"sig": 0},
		}}},
		fire,
		fire,
	}})
	add(&statepb.ApplyPlan{Now: at(18), Actions: []*statepb.PlanAction{
		instanceAct(wfETL, 4, InstanceCreated, InstanceInProgress, ""),
		pauseAt(4, "load", StepNotCreated, "etl/load"),
	}})
	add(&statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowDeactivate, Reason: "r", Now: at(19)})
	add(&statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowDeactivate, Now: at(19)})
	add(&statepb.Action{WorkflowId: wfETL, InstanceId: 1, StepId: "load", Action: "BYPASS_SIGNALS", Now: at(20)})
	add(&statepb.DeleteBreakpoint{WorkflowId: wfETL, StepId: "load", Now: at(21)})
	return entries
}

// replay applies entries[from:to] to f at the indexes logEntries assumed.
func replay(f *FSM, entries [][]byte, from, to int) {
	for i := from; i < to; i++ {
		f.Apply(&raft.Log{Index: firstIndex + uint64(i), Type: raft.LogCommand, Data: entries[i]})
	}
}

func TestReplayIsDeterministic(t *testing.T) {
	entries := logEntries(t)
	n := len(entries)

	a, b := New(), New()
	replay(a, entries, 0, n)
	replay(b, entries, 0, n)
	want := snapshotBytes(t, a)
	if !bytes.Equal(want, snapshotBytes(t, b)) {
		t.Fatal("two FSMs applying the same log differ")
	}

	// Guard against a log that silently did nothing.
	st := a.State()
	if i := st.Instance(nil, wfETL, 1); i.Status != InstanceInProgress {
		t.Fatalf("instance 1 = %v", i)
	}
	if s := st.Step(nil, wfETL, 1, "load"); s.Status != StepRunning || s.Node != nodeB {
		t.Fatalf("load = %v", s)
	}
	if i := st.Instance(nil, wfETL, 2); i.Status != InstanceStopped {
		t.Fatalf("instance 2 = %v", i)
	}
	if s := st.Step(nil, wfETL, 1, "extract"); len(s.Outputs) != 32 {
		t.Fatalf("extract has %d outputs, want 32", len(s.Outputs))
	}
	if s := st.Step(nil, wfETL, 4, "load"); s.Status != StepNotCreated || s.BreakpointPassed != 1 {
		t.Fatalf("load of the instance a signal trigger started, after its breakpoint was deleted: %v", s)
	}
	if w := st.Workflow(nil, wfETL); w.ActiveVersion != 0 || w.LastEventSeq != 3 {
		t.Fatalf("workflow after the operator's commands: %v", w)
	}
	if got := a.AppliedIndex(); got != firstIndex+uint64(n-1) {
		t.Fatalf("applied index %d, want %d", got, firstIndex+uint64(n-1))
	}

	// A node that joins from a snapshot and applies the rest of the log
	// must end where the others did.
	for _, cut := range []int{1, n / 2, n - 1} {
		c := New()
		replay(c, entries, 0, cut)
		d := New()
		restore(t, d, snapshotBytes(t, c))
		replay(d, entries, cut, n)
		if !bytes.Equal(want, snapshotBytes(t, d)) {
			t.Fatalf("restoring at entry %d then replaying differs from replaying all", cut)
		}
	}
}
