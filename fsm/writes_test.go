package fsm

import (
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/fsm/statepb"
)

// written reads the feed from pos on a view and fails unless it holds pos.
func written(t *testing.T, s *State, pos FeedPos) ([]InstanceKey, FeedPos) {
	t.Helper()
	keys, next, ok := s.InstancesWritten(pos)
	if !ok {
		t.Fatalf("the feed no longer holds position %+v", pos)
	}
	return keys, next
}

// The feed lists the instances each committed entry wrote, in order, up to
// the index of the view it is read through; a rejected entry lists none.
func TestWriteFeedListsWrittenInstances(t *testing.T) {
	x := newFixture(t)
	etl1 := InstanceKey{WorkflowID: wfETL, InstanceID: 1}
	etl2 := InstanceKey{WorkflowID: wfETL, InstanceID: 2}
	gen := x.runningInstance()
	keys, pos := written(t, x.state(), FeedPos{})
	if len(keys) == 0 || slices.ContainsFunc(keys, func(k InstanceKey) bool { return k != etl1 }) {
		t.Fatalf("after a start and its plan the feed lists %v, want only %v", keys, etl1)
	}

	// A view taken before an entry does not list it, and leaves the
	// position before it.
	before := x.state()
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
	if keys, next := written(t, before, pos); len(keys) != 0 || next != pos {
		t.Fatalf("a view from before the start lists %v (position %+v, was %+v)", keys, next, pos)
	}
	keys, pos = written(t, x.state(), pos)
	if !slices.Equal(keys, []InstanceKey{etl2}) {
		t.Fatalf("a start lists %v, want [%v]", keys, etl2)
	}

	// A result writes the step only; the feed names its instance.
	done := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	done.Node = nodeA
	applyAs[*ReportResultOutcome](x, done)
	if keys, pos = written(t, x.state(), pos); !slices.Contains(keys, etl1) || slices.Contains(keys, etl2) {
		t.Fatalf("a result of %v lists %v", etl1, keys)
	}

	// Refused: the same result again writes nothing, and lists nothing.
	x.apply(done)
	if keys, _ := written(t, x.state(), pos); len(keys) != 0 {
		t.Fatalf("a refused result lists %v", keys)
	}

	// Entries committed together in one transaction each list theirs.
	var logs []*raft.Log
	for i, m := range []*statepb.StartInstance{startCmd(wfETL, "req-3", 1, 11), startCmd(wfETL, "req-4", 1, 12)} {
		data, err := Encode(m)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, &raft.Log{Index: x.next + uint64(i), Type: raft.LogCommand, Data: data})
	}
	x.fsm.ApplyBatch(logs)
	x.next += uint64(len(logs))
	keys, _ = written(t, x.state(), pos)
	if want := []InstanceKey{{WorkflowID: wfETL, InstanceID: 3}, {WorkflowID: wfETL, InstanceID: 4}}; !slices.Equal(keys, want) {
		t.Fatalf("a batch of two starts lists %v, want %v", keys, want)
	}
}

// A reader that fell further behind than the feed keeps, or that read a
// store a restore has since replaced, is told to start over, from a
// position after everything its view holds.
func TestWriteFeedStartsOver(t *testing.T) {
	var w writeFeed
	k := InstanceKey{WorkflowID: "w", InstanceID: 1}
	w.add(1, []InstanceKey{k})
	_, pos, ok := w.since(FeedPos{}, 1)
	if !ok || pos.seq != 1 {
		t.Fatalf("first read: position %+v, ok %t", pos, ok)
	}
	for i := uint64(2); i < writeFeedSize+3; i++ {
		w.add(i, []InstanceKey{k})
	}
	keys, next, ok := w.since(pos, writeFeedSize)
	if ok || len(keys) != 0 {
		t.Fatalf("a reader overtaken by the feed: ok %t, %d keys", ok, len(keys))
	}
	// Everything up to the view's index is in the state it reads: it goes
	// on after that, from the first write of the next index.
	if next.seq != writeFeedSize {
		t.Fatalf("restart position %d, want %d", next.seq, writeFeedSize)
	}
	if keys, _, ok := w.since(next, writeFeedSize+1); !ok || len(keys) != 1 {
		t.Fatalf("reading on from the restart: ok %t, %v", ok, keys)
	}

	x := newFixture(t)
	x.runningInstance()
	_, pos = written(t, x.state(), FeedPos{})
	data := snapshotBytes(t, x.fsm)
	restore(t, x.fsm, data)
	if _, _, ok := x.state().InstancesWritten(pos); ok {
		t.Fatal("a position from before a restore still reads")
	}
}

// A speculation says which instances it wrote, and lists nothing in the
// feed: its writes may never commit.
func TestSpeculationSaysWhatItWrote(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
	_, pos := written(t, x.state(), FeedPos{})
	sp := x.fsm.Speculate()
	etl1 := InstanceKey{WorkflowID: wfETL, InstanceID: 1}
	etl2 := InstanceKey{WorkflowID: wfETL, InstanceID: 2}
	if sp.State().Speculated(etl1) || x.state().Speculated(etl1) {
		t.Fatal("a speculation that wrote nothing says it wrote etl/1")
	}
	done := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	done.Node = nodeA
	sp.Results([]*statepb.ReportResult{done})
	if !sp.State().Speculated(etl1) || sp.State().Speculated(etl2) {
		t.Fatal("after a result of etl/1 the speculation does not say it wrote etl/1 alone")
	}
	sp.Plan(at(11), []*statepb.PlanAction{instanceAct(wfETL, 2, InstanceCreated, InstanceInProgress, "")})
	if !sp.State().Speculated(etl2) {
		t.Fatal("after planning etl/2 the speculation does not say it wrote it")
	}
	if keys, _ := written(t, sp.State(), pos); len(keys) != 0 {
		t.Fatalf("the feed lists the speculation's writes: %v", keys)
	}
	if x.state().Speculated(etl1) {
		t.Fatal("a committed view says etl/1 was speculated")
	}
}
