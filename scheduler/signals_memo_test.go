package scheduler

import (
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

const waitsForDay7 = `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 10}},
  "workflow": {"id": "wf", "steps": [{"step": {"id": "wait", "type": "NoOp",
    "signal_dependencies": [{"name": "table/ready", "match_params": {"day": {"value": 7}}}]}}]}}`

// scanRound plans one round with scans, as a leader's loop does, applies
// what it planned, and returns it.
func (px *planFixture) scanRound(scans *SignalScans, speculated bool) Output {
	px.t.Helper()
	out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Scans: scans, Speculated: speculated})
	if len(out.Actions) > 0 {
		px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: out.Actions})
	}
	return out
}

// A step's match older than one round's search is found by the rounds
// after it, each going on where the last stopped, and asking to run at
// once while older signals are left; a round that does not remember (a
// speculation's later pass) searches from the top again and learns nothing.
func TestSignalDependencySearchGoesOnWhereItStopped(t *testing.T) {
	px := newPlanFixture(t, waitsForDay7)
	px.sendSignal("table/ready", map[string]any{"day": 7}) // #1, the match
	for i := 0; i < 2*maxSignalsSearched+500; i++ {
		px.sendSignal("table/ready", map[string]any{"day": 8})
	}
	scans := NewSignalScans()
	// A speculated pass searches and remembers nothing.
	px.scanRound(scans, true)
	if len(scans.m) != 0 {
		t.Fatalf("a speculated pass remembered %d searches", len(scans.m))
	}
	for round := 1; round <= 3; round++ {
		out := px.scanRound(scans, false)
		st := px.step("wait")
		if round < 3 {
			if st.Status != fsm.StepWaitingForSignals {
				t.Fatalf("round %d: wait is %s, want still waiting (match 20,500 back)", round, st.Status)
			}
			if !out.WakeAt.Equal(px.now) {
				t.Fatalf("round %d: wakes at %v, want at once while older signals are left", round, out.WakeAt)
			}
			continue
		}
		if st.Status != fsm.StepRunning {
			t.Fatalf("round 3: wait is %s, want RUNNING with signal #1", st.Status)
		}
	}
}

// What was searched stays searched: a later round reads only the signals
// sent since, and finds a match among them; a dependency whose whole
// history was searched asks for no more rounds.
func TestSignalDependencySearchReadsOnlyNewSignals(t *testing.T) {
	px := newPlanFixture(t, waitsForDay7)
	for i := 0; i < 50; i++ {
		px.sendSignal("table/ready", map[string]any{"day": 8})
	}
	scans := NewSignalScans()
	if out := px.scanRound(scans, false); !out.WakeAt.IsZero() {
		t.Fatalf("every signal searched, yet the round wakes at %v", out.WakeAt)
	}
	var memo *signalScan
	for _, m := range scans.m {
		memo = m
	}
	if memo == nil || memo.hi != 50 || memo.lo != 0 {
		t.Fatalf("remembered %+v, want 1-50 searched", memo)
	}
	px.sendSignal("table/ready", map[string]any{"day": 8})
	px.sendSignal("table/ready", map[string]any{"day": 7}) // #52
	px.scanRound(scans, false)
	st := px.step("wait")
	if st.Status != fsm.StepRunning {
		t.Fatalf("wait is %s after its match, want RUNNING", st.Status)
	}
	px.scanRound(scans, false)
	if len(scans.m) != 0 {
		t.Fatalf("the step runs, yet %d searches are remembered after the next round", len(scans.m))
	}
}

// A dependency that matched keeps its match while another of the step's
// waits: later rounds read only newer signals, take a newer match, and
// search again once retention deleted the one they kept.
func TestSignalDependencyKeepsItsMatchWhileTheStepWaits(t *testing.T) {
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 10}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "wait", "type": "NoOp",
	    "signal_dependencies": [
	      {"name": "table/ready", "match_params": {"day": {"value": 7}}},
	      {"name": "never", "match_params": {}}]}}]}}`)
	px.sendSignal("table/ready", map[string]any{"day": 7}) // #1
	for i := 0; i < 50; i++ {
		px.sendSignal("table/ready", map[string]any{"day": 8})
	}
	scans := NewSignalScans()
	match := func() int64 {
		t.Helper()
		for k, m := range scans.m {
			if k.dep == 0 {
				return m.match
			}
		}
		t.Fatal("no search remembered for the first dependency")
		return 0
	}
	px.scanRound(scans, false)
	if got := match(); got != 1 {
		t.Fatalf("first dependency's match %d, want #1", got)
	}
	px.sendSignal("table/ready", map[string]any{"day": 7}) // #52
	px.scanRound(scans, false)
	if got := match(); got != 52 {
		t.Fatalf("after a newer match: %d, want #52", got)
	}
	px.sendSignal("table/ready", map[string]any{"day": 8}) // #53
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: []*statepb.PlanAction{{Action: &statepb.PlanAction_DeleteSignals{
		DeleteSignals: &statepb.DeleteSignals{Name: "table/ready", ThroughSeq: 52}}}}})
	px.scanRound(scans, false)
	if got := match(); got != 0 {
		t.Fatalf("after its match was deleted: %d, want none", got)
	}
	if st := px.step("wait"); st.Status != fsm.StepWaitingForSignals {
		t.Fatalf("wait is %s, want still waiting for never", st.Status)
	}
}
