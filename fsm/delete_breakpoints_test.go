package fsm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func breakpointKeys(st *State) []string {
	var out []string
	for _, b := range st.Breakpoints(nil, wfETL, "") {
		out = append(out, BreakpointKey(b))
	}
	return out
}

// Deleting an instance deletes the breakpoints scoped to it, which could
// never match again; left behind, retention would grow the state without
// bound. Other instances' breakpoints and workflow-wide ones stay, and the
// result survives a snapshot and restore unchanged.
func TestDeleteInstanceDeletesItsBreakpoints(t *testing.T) {
	x := newFixture(t)
	x.runningInstance() // instance 1
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
	for _, c := range []*statepb.SetBreakpoint{
		setBreakpoint("load", 0, 0, 4),
		setBreakpoint("load", 0, 1, 4),
		setBreakpoint("extract", 1, 1, 4),
		setBreakpoint("load", 0, 2, 4),
	} {
		applyAs[*BreakpointResult](x, c)
	}
	applyAs[*StopResult](x, stopCmd(wfETL, 1, "done with it", 5))
	res := x.plan(6, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{DeleteInstance: &statepb.DeleteInstance{WorkflowId: wfETL, InstanceId: 1}}})
	if res.Applied != 1 {
		t.Fatalf("delete: %+v", res)
	}
	st := x.state()
	if st.Instance(nil, wfETL, 1) != nil {
		t.Fatal("instance 1 was not deleted")
	}
	if got, want := fmt.Sprint(breakpointKeys(st)), fmt.Sprint([]string{"etl/load", "etl/load#2"}); got != want {
		t.Fatalf("breakpoints after deleting instance 1: %s, want %s", got, want)
	}
	if st.Breakpoint(wfETL, "load", 0, 1) != nil || st.Breakpoint(wfETL, "extract", 1, 1) != nil {
		t.Fatal("a breakpoint of the deleted instance survived")
	}

	// Nothing else refers to the deleted rows: a snapshot restores to the
	// same contents.
	want := contents(t, x.fsm)
	other := New()
	restore(t, other, snapshotBytes(t, x.fsm))
	if !bytes.Equal(contents(t, other), want) {
		t.Fatal("restored state differs from the state it was taken from")
	}
	if got := fmt.Sprint(breakpointKeys(other.State())); got != fmt.Sprint([]string{"etl/load", "etl/load#2"}) {
		t.Fatalf("restored breakpoints: %s", got)
	}
}
