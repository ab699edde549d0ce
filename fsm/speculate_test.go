package fsm

import (
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

// A plan entry carries results and the actions planned on them: the results
// apply first, and the actions only if every result was accepted.
func TestApplyPlanWithResults(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	done := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	done.Node = nodeA
	res := applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(11), Results: []*statepb.ReportResult{done},
		Actions: []*statepb.PlanAction{assignAct(wfETL, 1, "load", 1, nodeB)}})
	if res.Dropped || res.Applied != 1 || len(res.Results) != 1 {
		t.Fatalf("result and next step in one entry: %+v", res)
	}
	if o, ok := res.Results[0].(*ReportResultOutcome); !ok || !o.Accepted {
		t.Fatalf("result outcome %#v, want accepted", res.Results[0])
	}
	st := x.state()
	if s := st.Step(nil, wfETL, 1, "extract"); s.Status != StepSucceeded {
		t.Fatalf("extract %s, want SUCCEEDED", s.Status)
	}
	load := st.Step(nil, wfETL, 1, "load")
	if load.Status != StepRunning || load.Attempts[0].Generation != x.lastIndex() {
		t.Fatalf("load %v, want running, placed by this entry", load)
	}

	// The same result again is fenced: the actions planned on it are
	// dropped, whatever they are, and nothing changes.
	before := contents(t, x.fsm)
	res = applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(12), Results: []*statepb.ReportResult{done},
		Actions: []*statepb.PlanAction{instanceAct(wfETL, 1, InstanceInProgress, InstanceFailed, "planned on a fenced result")}})
	if !res.Dropped || res.Applied != 0 || res.Skipped != 1 {
		t.Fatalf("plan on a fenced result: %+v, want its action dropped", res)
	}
	if o, ok := res.Results[0].(*ReportResultOutcome); !ok || o.Accepted || o.Reason == "" {
		t.Fatalf("fenced result outcome %#v", res.Results[0])
	}
	if string(contents(t, x.fsm)) != string(before) {
		t.Fatal("an entry whose result was fenced changed the state")
	}
}

// Speculate shows the state after the results without changing the FSM or
// waking its watchers, and answers as Apply would.
func TestSpeculate(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	before := contents(t, x.fsm)
	changed := x.fsm.Changed()
	ok := reportCmd("extract", 1, gen, AttemptUserFailed, 10)
	ok.Node = nodeA
	stale := reportCmd("extract", 1, gen+1, AttemptSucceeded, 10)
	stale.Node = nodeA
	missing := reportCmd("nosuch", 1, gen, AttemptSucceeded, 10)
	sp := x.fsm.Speculate()
	outs := sp.Results([]*statepb.ReportResult{ok, stale, missing})
	spec := sp.State()
	if o, isOut := outs[0].(*ReportResultOutcome); !isOut || !o.Accepted {
		t.Fatalf("current result: %#v, want accepted", outs[0])
	}
	if o, isOut := outs[1].(*ReportResultOutcome); !isOut || o.Accepted {
		t.Fatalf("result of another generation: %#v, want fenced", outs[1])
	}
	if rej, isRej := outs[2].(*Rejection); !isRej || rej.Code != RejectNotFound {
		t.Fatalf("result of an unknown step: %#v, want not found", outs[2])
	}
	if s := spec.Step(nil, wfETL, 1, "extract"); s.Status != StepUserFailed {
		t.Fatalf("speculative extract %s, want USER_FAILED", s.Status)
	}
	if s := x.state().Step(nil, wfETL, 1, "extract"); s.Status != StepRunning {
		t.Fatalf("real extract %s after Speculate, want RUNNING", s.Status)
	}
	if fired(changed) {
		t.Fatal("Speculate woke the state's watchers")
	}
	if string(contents(t, x.fsm)) != string(before) {
		t.Fatal("Speculate changed the state")
	}
	// The real store still takes writes to the records Speculate copied.
	if o := applyAs[*ReportResultOutcome](x, ok); !o.Accepted {
		t.Fatalf("applying the result for real: %+v", o)
	}
	if s := x.state().Step(nil, wfETL, 1, "extract"); s.Status != StepUserFailed {
		t.Fatalf("real extract %s, want USER_FAILED", s.Status)
	}
}

// Plan applies actions on the speculation, chained like the entry will be,
// and keeps only those that apply; an entry marked chained stops at the
// first action that does not.
func TestSpeculatePlanAndChainedEntry(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	done := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	done.Node = nodeA
	sp := x.fsm.Speculate()
	sp.Results([]*statepb.ReportResult{done})
	first := sp.Plan(at(11), []*statepb.PlanAction{
		assignAct(wfETL, 1, "load", 1, nodeB),
		assignAct(wfETL, 1, "extract", 2, nodeB), // extract succeeded: refused
	})
	if len(first) != 1 || first[0].GetAssign().StepId != "load" {
		t.Fatalf("pass 1 kept %v, want only load's placement", first)
	}
	// The next pass sees the first: load is running, so it can end.
	second := sp.Plan(at(11), []*statepb.PlanAction{stepAct(wfETL, 1, "load", StepRunning, StepStopped, "test")})
	if len(second) != 1 {
		t.Fatalf("pass 2 kept %v, want load's stop (it runs after pass 1)", second)
	}
	if s := x.state().Step(nil, wfETL, 1, "load"); s.Status == StepRunning {
		t.Fatal("speculation changed the real state")
	}

	// Chained: the second action depends on the first; if the first does
	// not apply, nothing after it does.
	res := applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(12), Chained: true, Actions: []*statepb.PlanAction{
		assignAct(wfETL, 1, "extract", 5, nodeB), // wrong attempt number: refused
		instanceAct(wfETL, 1, InstanceInProgress, InstanceFailed, "must not apply"),
	}})
	if !res.Dropped || res.Applied != 0 || res.Skipped != 2 {
		t.Fatalf("chained entry with a refused first action: %+v", res)
	}
	if inst := x.state().Instance(nil, wfETL, 1); inst.Status != InstanceInProgress {
		t.Fatalf("instance %s, want IN_PROGRESS", inst.Status)
	}
	// The unchecked tail of a chained entry: a refused action there is
	// skipped and the rest of the tail still applies.
	res = applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(13), Chained: true, Unchecked: 2, Actions: []*statepb.PlanAction{
		assignAct(wfETL, 1, "extract", 5, nodeB),
		instanceAct(wfETL, 1, InstanceInProgress, InstanceFailed, "applies"),
	}})
	if res.Dropped || res.Applied != 1 || res.Skipped != 1 {
		t.Fatalf("chained entry with a refused unchecked action: %+v", res)
	}
	if inst := x.state().Instance(nil, wfETL, 1); inst.Status != InstanceFailed {
		t.Fatalf("instance %s, want FAILED (the tail's second action)", inst.Status)
	}
}

// An entry that is not chained applies each action on its own.
func TestUnchainedEntryAppliesEachAction(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	res := applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(13), Actions: []*statepb.PlanAction{
		assignAct(wfETL, 1, "extract", 5, nodeB),
		instanceAct(wfETL, 1, InstanceInProgress, InstanceFailed, "applies"),
	}})
	if res.Dropped || res.Applied != 1 || res.Skipped != 1 {
		t.Fatalf("plain entry: %+v", res)
	}
}

// A speculation leaves the timeline alone (planning never reads it), and
// otherwise shows the state the entry then leaves.
func TestSpeculationWritesNoTimeline(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	done := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	done.Node = nodeA
	seq := x.state().Instance(nil, wfETL, 1).LastEventSeq
	events := len(x.state().Events(nil, wfETL, 1, 0))
	actions := []*statepb.PlanAction{
		assignAct(wfETL, 1, "load", 1, nodeB),
		instanceAct(wfETL, 1, InstanceInProgress, InstanceFailed, "test"),
	}
	sp := x.fsm.Speculate()
	sp.Results([]*statepb.ReportResult{done})
	if kept := sp.Plan(at(11), actions); len(kept) != 2 {
		t.Fatalf("speculation kept %d of 2 actions", len(kept))
	}
	spec := sp.State()
	if got := len(spec.Events(nil, wfETL, 1, 0)); got != events {
		t.Errorf("the speculation wrote %d timeline events", got-events)
	}
	if got := spec.Instance(nil, wfETL, 1).LastEventSeq; got != seq {
		t.Errorf("the speculation numbered events up to %d, was %d", got, seq)
	}

	res := applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(11), Chained: true, Results: []*statepb.ReportResult{done}, Actions: actions})
	if res.Dropped || res.Applied != 2 {
		t.Fatalf("the entry: %+v", res)
	}
	real := x.state()
	if got := len(real.Events(nil, wfETL, 1, 0)); got != events+3 {
		t.Errorf("the entry wrote %d timeline events, want 3 (result, placement, end)", got-events)
	}
	for _, id := range []string{"extract", "load"} {
		s, r := spec.Step(nil, wfETL, 1, id), real.Step(nil, wfETL, 1, id)
		if s.Status != r.Status || len(s.Attempts) != len(r.Attempts) || s.Node != r.Node {
			t.Errorf("step %s: speculated %s on %q with %d attempts, applied %s on %q with %d", id, s.Status, s.Node, len(s.Attempts), r.Status, r.Node, len(r.Attempts))
		}
	}
	if s, r := spec.Instance(nil, wfETL, 1), real.Instance(nil, wfETL, 1); s.Status != r.Status || s.Reason != r.Reason {
		t.Errorf("instance: speculated %s %q, applied %s %q", s.Status, s.Reason, r.Status, r.Reason)
	}
}
