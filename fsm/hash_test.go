package fsm

import (
	"sync"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// hashLog is a log that touches every table, with maps wide enough that an
// encoding following Go's map order would differ between replicas.
func hashLog() []proto.Message {
	var log []proto.Message
	log = append(log, pushCmd(wfETL, defETL, 0), pushCmd(wfETL, defETL2, 1),
		&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(2)})
	for i := int64(1); i <= 5; i++ {
		start := startCmd(wfETL, "req-"+string(rune('a'+i)), 1, 3)
		start.Params = wideParams()
		log = append(log, start, &statepb.ApplyPlan{Now: at(4), Actions: []*statepb.PlanAction{
			instanceAct(wfETL, i, InstanceCreated, InstanceInProgress, ""),
			assignAct(wfETL, i, "extract", 1, nodeA),
		}})
	}
	// The operator's records: a breakpoint holding a step, a signal
	// trigger's checkpoints, the workflow's own timeline.
	log = append(log,
		&statepb.SetBreakpoint{WorkflowId: wfETL, StepId: "load", Now: at(5)},
		&statepb.ApplyPlan{Now: at(6), Actions: []*statepb.PlanAction{
			pauseAt(1, "load", StepNotCreated, "etl/load"),
			setSignalTriggerAct(1, map[string]int64{"a": 0, "b": 0}),
		}},
		&statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowDisableTriggers, TimeTriggers: true, Now: at(7)})
	return log
}

func mustHash(t *testing.T, f *FSM) StateHash {
	t.Helper()
	h, err := f.Hash()
	if err != nil {
		t.Fatalf("hash: %v", err)
	}
	return h
}

func TestHashEqualOnReplicasOfTheSameLog(t *testing.T) {
	a, b := newFixture(t), newFixture(t)
	for _, m := range hashLog() {
		a.apply(m)
		b.apply(m)
	}
	ha, hb := mustHash(t, a.fsm), mustHash(t, b.fsm)
	if ha.SHA256 != hb.SHA256 || ha.AppliedIndex != hb.AppliedIndex {
		t.Fatalf("replicas of one log differ: %+v vs %+v", ha, hb)
	}
	if ha.AppliedIndex != a.lastIndex() {
		t.Fatalf("applied index %d, want %d", ha.AppliedIndex, a.lastIndex())
	}
	counts := map[string]int64{}
	for _, tr := range ha.Tables {
		counts[tr.Table] = tr.Records
	}
	want := map[string]int64{tableWorkflows: 1, tableVersions: 2, tableInstances: 5, tableSteps: 10, tableBreakpoints: 1, tableTriggers: 1}
	for table, n := range want {
		if counts[table] != n {
			t.Errorf("table %s: %d records, want %d (all: %v)", table, counts[table], n, ha.Tables)
		}
	}
	if counts[tableEvents] == 0 {
		t.Errorf("no events counted: %v", ha.Tables)
	}
}

func TestHashFollowsTheStateNotTheIndex(t *testing.T) {
	x := newFixture(t)
	for _, m := range hashLog() {
		x.apply(m)
	}
	before := mustHash(t, x.fsm)

	// A refused command advances the applied index and changes nothing.
	x.reject(&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 99, Now: at(5)}, RejectNotFound)
	refused := mustHash(t, x.fsm)
	if refused.SHA256 != before.SHA256 {
		t.Fatal("a refused command changed the hash")
	}
	if refused.AppliedIndex != before.AppliedIndex+1 {
		t.Fatalf("applied index %d after a refused command, want %d", refused.AppliedIndex, before.AppliedIndex+1)
	}

	// One changed field anywhere changes the hash.
	applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 2, Now: at(6)})
	if mustHash(t, x.fsm).SHA256 == before.SHA256 {
		t.Fatal("activating another version left the hash unchanged")
	}
}

func TestHashSurvivesSnapshotAndRestore(t *testing.T) {
	x := newFixture(t)
	for _, m := range hashLog() {
		x.apply(m)
	}
	want := mustHash(t, x.fsm)
	other := New()
	restore(t, other, snapshotBytes(t, x.fsm))
	got := mustHash(t, other)
	if got.SHA256 != want.SHA256 || got.AppliedIndex != want.AppliedIndex {
		t.Fatalf("restored replica hashes %+v, the original %+v", got, want)
	}
}

// A hash taken while entries are applied describes exactly the state after
// the index it reports: it equals the hash a replica computes after applying
// the log up to that index and no further.
func TestHashIsConsistentWithItsIndexUnderConcurrentApply(t *testing.T) {
	log := hashLog()
	reference := map[uint64]string{}
	ref := newFixture(t)
	reference[0] = mustHash(t, ref.fsm).SHA256
	for _, m := range log {
		ref.apply(m)
		reference[ref.lastIndex()] = mustHash(t, ref.fsm).SHA256
	}

	for round := 0; round < 20; round++ {
		x := newFixture(t)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, m := range log {
				x.apply(m)
			}
		}()
		var seen []StateHash
		for done := false; !done; {
			h := mustHash(t, x.fsm)
			seen = append(seen, h)
			done = h.AppliedIndex == ref.lastIndex()
		}
		wg.Wait()
		for _, h := range seen {
			if want, ok := reference[h.AppliedIndex]; !ok || want != h.SHA256 {
				t.Fatalf("round %d: hash %s at index %d, a replica stopped at that index hashes %q", round, h.SHA256, h.AppliedIndex, want)
			}
		}
	}
}
