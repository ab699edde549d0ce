package scheduler

import (
	"fmt"
	"slices"
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// sleepers returns a fixture with n instances of one hour-long Sleep step,
// each running on one of members.
func sleepers(t testing.TB, n int, members ...Member) *planFixture {
	t.Helper()
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 3600}}}}]}}`)
	for i := 2; i <= n; i++ {
		px.startAnother(fmt.Sprint("r", i))
	}
	if len(members) > 0 {
		px.members = members
	}
	px.round()
	return px
}

// attemptsOn returns the ids of the attempts running on node in the
// fixture's state, sorted.
func attemptsOn(px *planFixture, node string) []string {
	var ids []string
	for _, st := range px.f.State().StepsOnNode(nil, node) {
		if st.Status == fsm.StepRunning {
			ids = append(ids, st.Attempts[len(st.Attempts)-1].AttemptId)
		}
	}
	slices.Sort(ids)
	return ids
}

func newNodeAttempts(node string) *nodeAttempts {
	w := &Worker{Node: node}
	return &nodeAttempts{node: node, mine: w.mine}
}

// updated brings n up to the fixture's state, checks it against a read of
// the whole node, and returns what left and what joined, sorted.
func updated(px *planFixture, n *nodeAttempts) (gone, joined []string) {
	st := px.f.State()
	g, j := n.update(st)
	n.verify(st)
	for _, as := range j {
		joined = append(joined, as.attempt.AttemptId)
	}
	slices.Sort(g)
	slices.Sort(joined)
	return g, joined
}

// The worker's copy of its node's attempts follows the state through the
// write feed: what an entry stops, places or leaves alone.
func TestNodeAttemptsFollowTheFeed(t *testing.T) {
	px := sleepers(t, 12)
	n := newNodeAttempts("n1")
	on := attemptsOn(px, "n1")
	if len(on) == 0 || len(on) == 12 {
		t.Fatalf("%d of 12 attempts on n1: the test needs some on other nodes", len(on))
	}
	if gone, joined := updated(px, n); len(gone) != 0 || !slices.Equal(joined, on) {
		t.Fatalf("first read: gone %v, joined %v; want joined %v", gone, joined, on)
	}

	// Stopping an instance whose attempt runs on n1 takes its attempt
	// away; stopping one that runs elsewhere changes nothing here.
	var here, elsewhere *statepb.Step
	for _, st := range px.f.State().RunningSteps() {
		if st.Node == "n1" && here == nil {
			here = st
		} else if st.Node != "n1" && elsewhere == nil {
			elsewhere = st
		}
	}
	px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: here.InstanceId, Reason: "test", Now: px.ts()})
	if gone, joined := updated(px, n); !slices.Equal(gone, []string{here.Attempts[0].AttemptId}) || len(joined) != 0 {
		t.Fatalf("after stopping %s: gone %v, joined %v", here.Attempts[0].AttemptId, gone, joined)
	}
	px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: elsewhere.InstanceId, Reason: "test", Now: px.ts()})
	if gone, joined := updated(px, n); len(gone)+len(joined) != 0 {
		t.Fatalf("after stopping an instance on %s: gone %v, joined %v", elsewhere.Node, gone, joined)
	}

	// A new instance placed on n1 joins.
	px.members = []Member{{Name: "n1"}}
	id := px.startAnother("r-new")
	px.round()
	want := fmt.Sprintf("wf/%d/a/1", id)
	if gone, joined := updated(px, n); len(gone) != 0 || !slices.Equal(joined, []string{want}) {
		t.Fatalf("after placing %s on n1: gone %v, joined %v", want, gone, joined)
	}

	// An entry that writes no instance changes nothing, and a copy that
	// missed every change since its first read is wrong: the check says so.
	px.apply(&statepb.PushWorkflow{WorkflowId: "other", Definition: "{}", Digest: "x", Now: px.ts()})
	if gone, joined := updated(px, n); len(gone)+len(joined) != 0 {
		t.Fatalf("after an entry that wrote no instance: gone %v, joined %v", gone, joined)
	}
	stale := newNodeAttempts("n1")
	stale.readAll(px.f.State())
	px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: id, Reason: "test", Now: px.ts()})
	defer func() {
		if recover() == nil {
			t.Fatal("the check passed a copy that kept a stopped attempt")
		}
	}()
	stale.verify(px.f.State())
}

// A restore replaces the store: the copy reads the whole node again and
// reports the difference.
func TestNodeAttemptsAfterRestore(t *testing.T) {
	px := sleepers(t, 6)
	n := newNodeAttempts("n1")
	before := attemptsOn(px, "n1")
	updated(px, n)
	saved := px.snapshot()
	for _, st := range px.f.State().StepsOnNode(nil, "n1") {
		px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: st.InstanceId, Reason: "test", Now: px.ts()})
	}
	px.members = []Member{{Name: "n1"}}
	added := fmt.Sprintf("wf/%d/a/1", px.startAnother("r-new"))
	px.round()
	if gone, joined := updated(px, n); !slices.Equal(gone, before) || !slices.Equal(joined, []string{added}) {
		t.Fatalf("before the restore: gone %v, joined %v; want gone %v, joined %s", gone, joined, before, added)
	}
	px.restore(saved)
	if gone, joined := updated(px, n); !slices.Equal(gone, []string{added}) || !slices.Equal(joined, before) {
		t.Fatalf("after the restore: gone %v, joined %v; want gone %s, joined %v", gone, joined, added, before)
	}
}

// An attempt that stops while the worker still wants it is started again
// at the next pass; one that stops after it left is forgotten.
func TestWorkerFinishKeepsWhatIsStillWanted(t *testing.T) {
	px := sleepers(t, 1)
	w := &Worker{Node: px.step("a").Node}
	w.init()
	w.attempts.update(px.f.State())
	id := px.step("a").Attempts[0].AttemptId
	w.finish(id, false)
	if !slices.Equal(w.again, []string{id}) {
		t.Fatalf("a wanted attempt cancelled: again is %v", w.again)
	}
	w.finish(id, true)
	if !w.done[id] {
		t.Fatal("a wanted attempt that finished is not marked done")
	}
	px.apply(&statepb.StopInstance{WorkflowId: "wf", InstanceId: px.inst, Reason: "test", Now: px.ts()})
	w.attempts.update(px.f.State())
	delete(w.done, id)
	w.finish(id, true)
	if w.done[id] {
		t.Fatal("an attempt the state no longer has is marked done, and nothing would clear it")
	}
}

// BenchmarkWorkerChange measures what a worker pays at a change of the
// state that writes one instance, with n attempts running on its node:
// reading every attempt on the node, or the instances the feed lists.
func BenchmarkWorkerChange(b *testing.B) {
	for _, n := range []int{100, 1000} {
		px := sleepers(b, n, Member{Name: "n1"})
		starts := 0
		for _, mode := range []string{"every", "feed"} {
			b.Run(fmt.Sprintf("attempts=%d/%s", n, mode), func(b *testing.B) {
				na := newNodeAttempts("n1")
				na.update(px.f.State())
				pos := na.pos
				starts++
				px.startAnother(fmt.Sprint("r-more-", starts))
				px.round()
				st := px.f.State()
				if keys, _, _ := st.InstancesWritten(pos); len(keys) == 0 {
					b.Fatal("the feed lists no instance written by the start")
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if mode == "every" {
						na.readAll(st)
					} else {
						na.pos = pos
						na.update(st)
					}
				}
				b.StopTimer()
				na.verify(st)
			})
		}
	}
}
