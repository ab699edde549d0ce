package fsm

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// batchLog is logEntries with, among the commands that share a
// transaction, refusals that must write nothing: a result with an outcome
// no runtime sends, starts of a workflow or version that does not exist,
// and a plan whose checked action does not apply.
func batchLog(t *testing.T) []*raft.Log {
	t.Helper()
	entries := logEntries(t)
	for _, m := range []proto.Message{
		startCmd(wfETL, "req-b1", 1, 30),
		&statepb.ReportResult{WorkflowId: wfETL, InstanceId: 1, StepId: "load", AttemptNumber: 1, Generation: firstIndex + 13, Node: nodeB, Outcome: "BOGUS", EndTime: at(31)},
		startCmd("no-such-workflow", "req-b2", 1, 31),
		startCmd(wfETL, "req-b3", 9, 31),
		&statepb.ApplyPlan{Now: at(32), Chained: true, Actions: []*statepb.PlanAction{
			instanceAct(wfETL, 5, InstanceCreated, InstanceInProgress, ""),
			instanceAct(wfETL, 999, InstanceCreated, InstanceInProgress, ""),
			assignAct(wfETL, 5, "extract", 1, nodeA),
		}},
		startCmd(wfETL, "req-b4", 1, 33),
	} {
		data, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		entries = append(entries, data)
	}
	logs := make([]*raft.Log, 0, len(entries)+1)
	for i, data := range entries {
		logs = append(logs, &raft.Log{Index: firstIndex + uint64(i), Type: raft.LogCommand, Data: data})
	}
	// Raft hands configuration changes to a batching FSM too.
	cfg := &raft.Log{Index: firstIndex + uint64(len(logs)), Type: raft.LogConfiguration}
	return append(logs, cfg)
}

// describe is an Apply result as this test compares it.
func describe(res any) string {
	switch r := res.(type) {
	case *Rejection:
		return fmt.Sprintf("rejected %d: %s", r.Code, r.Msg)
	case *PlanResult:
		return fmt.Sprintf("plan applied %d skipped %d dropped %v results %d", r.Applied, r.Skipped, r.Dropped, len(r.Results))
	case *ReportResultOutcome:
		return fmt.Sprintf("result accepted %v %s", r.Accepted, r.Reason)
	case *StartResult:
		return fmt.Sprintf("start %d created %v", r.Instance.InstanceId, r.Created)
	}
	return fmt.Sprintf("%T", res)
}

// applyEach applies logs to a new FSM one entry at a time and returns it
// with its answers, as describe gives them, and its snapshot.
func applyEach(t *testing.T, logs []*raft.Log) (*FSM, []string, []byte) {
	t.Helper()
	f := New()
	var answers []string
	for _, l := range logs {
		answers = append(answers, describe(f.Apply(l)))
	}
	return f, answers, snapshotBytes(t, f)
}

// Applying entries together must leave exactly the state, and give
// exactly the answers, that applying them one at a time does: replicas
// batch differently (a leader and a follower learn of commits at
// different times), and their states must still be the same.
func TestApplyBatchMatchesApply(t *testing.T) {
	logs := batchLog(t)
	one, want, wantState := applyEach(t, logs)
	// The refusals refused, and the commands around them took effect.
	for i, w := range want[len(want)-7:] {
		t.Logf("entry %d: %s", len(want)-7+i, w)
	}
	if st := one.State(); st.Instance(nil, wfETL, 5) == nil || st.Instance(nil, wfETL, 6) == nil {
		t.Fatal("the starts around the refusals did not take effect")
	}
	for _, size := range []int{2, 3, 5, 8, len(logs)} {
		b := New()
		var got []string
		for start := 0; start < len(logs); start += size {
			batch := logs[start:min(start+size, len(logs))]
			out := b.ApplyBatch(batch)
			checkIndexes(t, b)
			checkTimelines(t, b)
			if len(out) != len(batch) {
				t.Fatalf("batches of %d: %d answers for %d entries", size, len(out), len(batch))
			}
			for _, res := range out {
				got = append(got, describe(res))
			}
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("batches of %d: entry %d answered %q, one at a time %q", size, i, got[i], want[i])
			}
		}
		if !bytes.Equal(wantState, snapshotBytes(t, b)) {
			t.Errorf("batches of %d leave a different state than one entry at a time", size)
		}
		if b.AppliedIndex() != one.AppliedIndex() {
			t.Errorf("batches of %d: applied index %d, want %d", size, b.AppliedIndex(), one.AppliedIndex())
		}
	}
}

// A batch wakes watchers once it is applied, and only if it wrote.
func TestApplyBatchWakesWatchers(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	changed := x.fsm.Changed()
	data, err := Encode(startCmd("no-such-workflow", "r", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	x.fsm.ApplyBatch([]*raft.Log{{Index: x.next, Type: raft.LogCommand, Data: data}})
	x.next++
	select {
	case <-changed:
		t.Fatal("a batch that wrote nothing woke the watchers")
	default:
	}
	data, err = Encode(startCmd(wfETL, "r", 1, 1))
	if err != nil {
		t.Fatal(err)
	}
	x.fsm.ApplyBatch([]*raft.Log{{Index: x.next, Type: raft.LogCommand, Data: data}})
	select {
	case <-changed:
	default:
		t.Fatal("a batch that started an instance did not wake the watchers")
	}
}

// TestSplitTransactionsMatchWhole commits the store transaction after
// every write of the commands that may be split, one entry at a time and
// in one batch, and checks the answers, the state and every index against
// applying each entry in one transaction. It then runs the loop scenarios,
// whose entries change in place records an earlier part committed.
func TestSplitTransactionsMatchWhole(t *testing.T) {
	logs := batchLog(t)
	_, want, wantState := applyEach(t, logs)

	defer func(n int) { splitWrites = n }(splitWrites)
	splitWrites = 1
	for _, batched := range []bool{false, true} {
		f := New()
		var got []string
		if batched {
			for _, res := range f.ApplyBatch(logs) {
				got = append(got, describe(res))
			}
		} else {
			for _, l := range logs {
				got = append(got, describe(f.Apply(l)))
			}
		}
		checkIndexes(t, f)
		checkTimelines(t, f)
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("split, batched %v: entry %d answered %q, whole %q", batched, i, got[i], want[i])
			}
		}
		if !bytes.Equal(wantState, snapshotBytes(t, f)) {
			t.Errorf("split, batched %v: the state differs from applying each entry whole", batched)
		}
	}
	t.Run("loop", func(t *testing.T) {
		TestOneEntryStartsPlacesAndEndsIterations(t)
		TestOneEntryPlacesAndStopsAnIteration(t)
	})
}
