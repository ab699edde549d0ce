package fsm

import (
	"fmt"
	"math"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

// writtenIDs renders the step ids and indexes StepsWrittenAfter returns.
func writtenIDs(steps []*statepb.Step) []string {
	var out []string
	for _, st := range steps {
		out = append(out, fmt.Sprintf("%s@%d", st.StepId, st.ModifyIndex))
	}
	return out
}

func sameIDs(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %v, want %v", what, got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%s: %v, want %v", what, got, want)
		}
	}
}

// Every write of a step records its entry's index, and StepsWrittenAfter
// lists an instance's steps written after an index, oldest write first,
// without another instance's; a speculation's writes carry the index after
// the state it started from.
func TestStepsWrittenAfter(t *testing.T) {
	defer func(was int) { TrackWritesFrom = was }(TrackWritesFrom)
	TrackWritesFrom = 2 // etl's two steps
	x := newFixture(t)
	x.runningInstance() // push 1000, start 1001 (extract, load), plan 1002 (extract)
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
	s := x.state()
	if s.Applied() != 1003 {
		t.Fatalf("Applied = %d, want 1003", s.Applied())
	}
	sameIDs(t, "instance 1 after 0", writtenIDs(s.StepsWrittenAfter(wfETL, 1, 0)), []string{"load@1001", "extract@1002"})
	sameIDs(t, "instance 1 after 1001", writtenIDs(s.StepsWrittenAfter(wfETL, 1, 1001)), []string{"extract@1002"})
	sameIDs(t, "instance 1 after 1002", writtenIDs(s.StepsWrittenAfter(wfETL, 1, 1002)), nil)
	sameIDs(t, "instance 2 after 0", writtenIDs(s.StepsWrittenAfter(wfETL, 2, 0)), []string{"extract@1003", "load@1003"})
	sameIDs(t, "no such instance", writtenIDs(s.StepsWrittenAfter(wfETL, 3, 0)), nil)
	sameIDs(t, "after the largest index", writtenIDs(s.StepsWrittenAfter(wfETL, 1, math.MaxUint64)), nil)

	done := reportCmd("extract", 1, 1002, AttemptSucceeded, 4)
	done.Node = nodeA
	applyAs[*ReportResultOutcome](x, done) // 1004
	sameIDs(t, "instance 1 after 1002, extract done", writtenIDs(x.state().StepsWrittenAfter(wfETL, 1, 1002)), []string{"extract@1004"})

	sp := x.fsm.Speculate()
	if got := sp.State().Applied(); got != 1004 {
		t.Fatalf("speculation's Applied = %d, want 1004", got)
	}
	if n := len(sp.Plan(at(5), []*statepb.PlanAction{assignAct(wfETL, 1, "load", 1, nodeB)})); n != 1 {
		t.Fatalf("speculation applied %d actions, want 1", n)
	}
	sameIDs(t, "speculation after 1004", writtenIDs(sp.State().StepsWrittenAfter(wfETL, 1, 1004)), []string{"load@1005"})
	sameIDs(t, "committed state after 1004", writtenIDs(x.state().StepsWrittenAfter(wfETL, 1, 1004)), nil)

	// An instance below the threshold is not tracked, before or after a
	// write to its steps.
	TrackWritesFrom = 3
	applyAs[*StartResult](x, startCmd(wfETL, "req-3", 1, 6))                                                                                          // 1005
	if res := x.plan(7, instanceAct(wfETL, 3, InstanceCreated, InstanceInProgress, ""), assignAct(wfETL, 3, "extract", 1, nodeA)); res.Applied != 2 { // 1006
		t.Fatalf("placing instance 3's extract: %+v", res)
	}
	sameIDs(t, "untracked instance after 0", writtenIDs(x.state().StepsWrittenAfter(wfETL, 3, 0)), nil)
	for _, st := range x.state().Steps(nil, wfETL, 3) {
		if st.ModifyIndex != 0 {
			t.Fatalf("untracked step %s has ModifyIndex %d", st.StepId, st.ModifyIndex)
		}
	}
	// A tracked one stays tracked whatever the threshold is now.
	if res := x.plan(8, instanceAct(wfETL, 2, InstanceCreated, InstanceInProgress, ""), assignAct(wfETL, 2, "extract", 1, nodeA)); res.Applied != 2 { // 1007
		t.Fatalf("placing instance 2's extract: %+v", res)
	}
	sameIDs(t, "instance 2 after 1003", writtenIDs(x.state().StepsWrittenAfter(wfETL, 2, 1003)), []string{"extract@1007"})
}

// Where a step was last written is left out of the state hash, so servers
// of a build that does not record it hash the same state alike.
func TestHashLeavesOutWhereStepsWereWritten(t *testing.T) {
	x := newFixture(t)
	for _, m := range hashLog() {
		x.apply(m)
	}
	before := mustHash(t, x.fsm)
	txn := x.fsm.db.Txn(true)
	st := shallow(x.state().Step(nil, wfETL, 1, "extract"))
	st.ModifyIndex = 77
	if err := txn.Insert(tableSteps, st); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	if got := mustHash(t, x.fsm); got.SHA256 != before.SHA256 {
		t.Fatal("a step's ModifyIndex changed the hash")
	}
}
