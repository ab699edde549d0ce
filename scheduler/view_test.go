package scheduler

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// A view places each record at its step's position however the records
// are listed: in id order (as the store lists them), shuffled, with steps
// missing, and with a record of a step the DAG does not have.
func TestStepViewPlacesRecordsByPosition(t *testing.T) {
	// Definition order differs from id order, and ids share prefixes.
	ids := []string{"load", "a10", "a1", "extract", "a2", "b", "a", "report"}
	var steps []string
	for i, id := range ids {
		next := ""
		if i+1 < len(ids) {
			next = fmt.Sprintf(`, "transition": {"successors": {%q: "true"}}`, ids[i+1])
		}
		steps = append(steps, fmt.Sprintf(`{"step": {"id": %q, "type": "NoOp"%s}}`, id, next))
	}
	def, err := workflow.Parse([]byte(`{"workflow": {"id": "wf", "steps": [` + strings.Join(steps, ",") + `]}}`))
	if err != nil {
		t.Fatal(err)
	}
	dag, err := def.DAG()
	if err != nil {
		t.Fatal(err)
	}
	sorted, pos := dag.ByID()
	if len(sorted) != len(ids) || len(pos) != len(ids) {
		t.Fatalf("ByID: %d ids, %d positions, want %d", len(sorted), len(pos), len(ids))
	}
	for k := range sorted {
		if dag.Order[pos[k]] != sorted[k] || (k > 0 && sorted[k-1] >= sorted[k]) {
			t.Fatalf("ByID = %v, %v: not the ids in order with their positions", sorted, pos)
		}
	}

	rng := rand.New(rand.NewSource(1))
	for trial := range 200 {
		var list []*statepb.Step
		for _, id := range ids {
			if rng.Intn(4) > 0 {
				list = append(list, &statepb.Step{StepId: id, Status: "S-" + id})
			}
		}
		if trial%3 == 0 {
			list = append(list, &statepb.Step{StepId: "zz-unknown", Status: "S-zz"}, &statepb.Step{StepId: "a0", Status: "S-a0"})
		}
		switch trial % 2 {
		case 0:
			sort.Slice(list, func(a, b int) bool { return list[a].StepId < list[b].StepId })
		case 1:
			rng.Shuffle(len(list), func(a, b int) { list[a], list[b] = list[b], list[a] })
		}
		v := newStepView(dag, list)
		want := map[string]bool{}
		for _, st := range list {
			want[st.StepId] = true
		}
		for i, id := range dag.Order {
			switch {
			case want[id] && (v.steps[i] == nil || v.steps[i].StepId != id || v.cur[i] != "S-"+id):
				t.Fatalf("trial %d: position %d (%s) holds %v / %q", trial, i, id, v.steps[i], v.cur[i])
			case !want[id] && (v.steps[i] != nil || v.cur[i] != ""):
				t.Fatalf("trial %d: position %d (%s) has no record but holds %v", trial, i, id, v.steps[i])
			}
		}
	}
}

// chainDefinition is a workflow of n NoOp steps s0 → s1 → … in a line.
func chainDefinition(n int) string {
	var steps []string
	for i := 0; i < n; i++ {
		next := ""
		if i+1 < n {
			next = fmt.Sprintf(`, "transition": {"successors": {"s%d": "true"}}`, i+1)
		}
		steps = append(steps, fmt.Sprintf(`{"step": {"id": "s%d", "type": "NoOp"%s}}`, i, next))
	}
	return `{"workflow": {"id": "chain", "steps": [` + strings.Join(steps, ",") + `]}}`
}

// A round on a speculation reads records that may never commit. When the
// speculation is dropped (its entry failed, or was never proposed), the
// next round on the committed state must not plan on them: there the step
// it saw succeed is still running.
func TestStepViewsForgetADroppedSpeculation(t *testing.T) {
	px := newPlanFixture(t, chainDefinition(3))
	px.round() // s0 placed
	s0 := px.step("s0")
	a := s0.Attempts[len(s0.Attempts)-1]
	sp := px.f.Speculate()
	outs := sp.Results([]*statepb.ReportResult{{
		WorkflowId: px.wf, InstanceId: px.inst, StepId: "s0", AttemptNumber: a.AttemptNumber,
		Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(),
	}})
	if o, ok := outs[0].(*fsm.ReportResultOutcome); !ok || !o.Accepted {
		t.Fatalf("speculative result: %#v", outs[0])
	}
	in := Input{State: sp.State(), Now: px.now, Members: px.members, Defs: px.defs}
	want := Plan(in)
	if len(want.Actions) == 0 {
		t.Fatal("the speculation placed nothing after s0 succeeded")
	}
	in.Views = px.views
	samePlan(t, "on the speculation through StepViews", Plan(in), want)

	// Dropped: the committed state still has s0 running.
	in = Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs}
	want = Plan(in)
	if len(want.Actions) != 0 {
		t.Fatalf("with s0 running the round planned %v", want.Actions)
	}
	in.Views = px.views
	samePlan(t, "on the committed state after the speculation", Plan(in), want)

	// The result commits after all, at an index the speculation did not
	// know: the next round places s1.
	px.finish("s0", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("s0:SUCCEEDED s1:RUNNING s2:NOT_CREATED", "s0", "s1", "s2")
}

// A snapshot restore replaces the store: the views read before it are
// dropped, and rounds after it plan what the restored state holds.
func TestStepViewsAfterRestore(t *testing.T) {
	px := newPlanFixture(t, chainDefinition(4))
	px.round()
	saved := px.snapshot()
	for _, id := range []string{"s0", "s1"} {
		px.finish(id, fsm.AttemptSucceeded, 0)
		px.round()
	}
	px.expect("s0:SUCCEEDED s1:SUCCEEDED s2:RUNNING", "s0", "s1", "s2")
	px.restore(saved)
	px.expect("s0:RUNNING s1:NOT_CREATED s2:NOT_CREATED", "s0", "s1", "s2")
	// round checks the plan through the views against one without.
	px.finish("s0", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("s0:SUCCEEDED s1:RUNNING s2:NOT_CREATED", "s0", "s1", "s2")
}

// snapshot returns a snapshot of the fixture's state, for restore.
func (px *planFixture) snapshot() []byte {
	px.t.Helper()
	snap, err := px.f.Snapshot()
	if err != nil {
		px.t.Fatal(err)
	}
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		px.t.Fatal(err)
	}
	return sink.Bytes()
}

// restore replaces the fixture's state with a snapshot's, as Raft does.
func (px *planFixture) restore(snapshot []byte) {
	px.t.Helper()
	if err := px.f.Restore(io.NopCloser(bytes.NewReader(snapshot))); err != nil {
		px.t.Fatal(err)
	}
}

// bufferSink is a raft.SnapshotSink in memory.
type bufferSink struct{ bytes.Buffer }

func (s *bufferSink) ID() string    { return "mem" }
func (s *bufferSink) Close() error  { return nil }
func (s *bufferSink) Cancel() error { return nil }

// A leader keeps the steps of instances the store tracks; an instance
// whose records are not tracked, as one an older build created, is read
// whole every round, and its rounds plan what a full read plans.
func TestStepViewsReadUntrackedInstancesWhole(t *testing.T) {
	defer func(was int) { fsm.TrackWritesFrom = was }(fsm.TrackWritesFrom)
	fsm.TrackWritesFrom = 1000
	px := newPlanFixture(t, chainDefinition(5))
	if st := px.step("s0"); st.ModifyIndex != 0 {
		t.Fatalf("a 5-step instance with tracking from 1,000 steps: ModifyIndex %d", st.ModifyIndex)
	}
	if px.views.keeps(px.dag()) {
		t.Fatal("keeps a 5-step instance with tracking from 1,000 steps")
	}
	fsm.TrackWritesFrom = 5
	if !px.views.keeps(px.dag()) {
		t.Fatal("does not keep a 5-step instance with tracking from 5 steps")
	}
	// round plans through the views and fails unless the plan is a full
	// read's; the records were created untracked and stay so.
	px.round()
	for i := 0; i < 4; i++ {
		px.finish(fmt.Sprintf("s%d", i), fsm.AttemptSucceeded, 0)
		px.round()
	}
	px.expect("s3:SUCCEEDED s4:RUNNING", "s3", "s4")
	if n := len(px.views.m); n != 0 {
		t.Fatalf("the views keep %d untracked instances", n)
	}
}
