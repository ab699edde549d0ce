package fsm

import (
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func deleteVersionAct(version int64) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_DeleteVersion{DeleteVersion: &statepb.DeleteVersion{WorkflowId: wfETL, Version: version}}}
}

// Retention deletes an old version with the breakpoints set on it, never
// the active or the latest one, nor one an instance the state keeps runs;
// a deleted version is named as such, and numbering goes on.
func TestDeleteVersion(t *testing.T) {
	x := newFixture(t)
	for i, def := range []string{defETL, defETL2, `{"workflow":{"id":"etl","steps":["a"]}}`, `{"workflow":{"id":"etl","steps":["b"]}}`} {
		if p := applyAs[*PushResult](x, pushCmd(wfETL, def, i)); p.Version != int64(i+1) {
			t.Fatalf("push %d: version %d", i+1, p.Version)
		}
	}
	applyAs[*StartResult](x, startCmd(wfETL, "runs-2", 2, 5))
	applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 3, Now: at(6)})
	applyAs[*BreakpointResult](x, setBreakpoint("load", 1, 0, 7))
	applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 7))

	// Kept: run by instance 1, active, latest, unknown.
	if res := x.plan(8, deleteVersionAct(2), deleteVersionAct(3), deleteVersionAct(4), deleteVersionAct(9)); res.Applied != 0 || res.Skipped != 4 {
		t.Fatalf("deleting kept versions: %+v, want 4 skipped", res)
	}
	if res := x.plan(9, deleteVersionAct(1)); res.Applied != 1 {
		t.Fatalf("delete version 1: %+v", res)
	}
	var kept []int64
	for _, v := range x.state().Versions(nil, wfETL) {
		kept = append(kept, v.Version)
	}
	if len(kept) != 3 || kept[0] != 2 {
		t.Fatalf("versions kept %v, want [2 3 4]", kept)
	}
	bps := x.state().Breakpoints(nil, wfETL, "")
	if len(bps) != 1 || bps[0].Version != 0 {
		t.Fatalf("breakpoints after deleting version 1: %v, want only the one on every version", bps)
	}
	rej := x.reject(startCmd(wfETL, "runs-1", 1, 10), RejectNotFound)
	if !strings.Contains(rej.Msg, `workflow "etl" no longer has version 1: retention deleted it (latest is 4)`) {
		t.Errorf("starting a deleted version: %q", rej.Msg)
	}
	if p := applyAs[*PushResult](x, pushCmd(wfETL, `{"workflow":{"id":"etl","steps":["c"]}}`, 11)); p.Version != 5 {
		t.Errorf("the next push is version %d, want 5", p.Version)
	}
}
