package scheduler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// skipsAfter runs one round (px.round plans it through px.quiet as well)
// and returns how many instances px.quiet skipped in it.
func (px *planFixture) skipsAfter() int {
	px.t.Helper()
	skipped, _ := px.quietRound()
	return skipped
}

// passesAfter runs one round and returns how many workflows px.quiet
// passed over in it without listing their instances.
func (px *planFixture) passesAfter() int {
	px.t.Helper()
	_, passed := px.quietRound()
	return passed
}

// quietRound runs one round and returns how many instances px.quiet
// skipped, and how many workflows it passed over.
func (px *planFixture) quietRound() (skipped, passed int) {
	px.t.Helper()
	skips, passes := px.quiet.skips, px.quiet.passes
	px.round()
	return px.quiet.skips - skips, px.quiet.passes - passes
}

// A round skips an instance it found nothing to do for until something it
// reads changes: a step's record, the members, the time it waits for, or
// a speculation writing it. Every round is also planned without skipping,
// and each skip is checked by planning the instance anyway (Verify).
func TestQuietInstanceSkippedUntilItChanges(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"b": "true"}}}},
	  {"step": {"id": "b", "type": "NoOp", "retry_policy": {"error_retry_limit": 1,
	    "backoff": {"type": "FIXED_BACKOFF", "error_retry_backoff_in_secs": 30}}}}]}}`)
	if n := px.skipsAfter(); n != 0 {
		t.Fatalf("the round that starts the instance skipped %d", n)
	}
	px.expect("a:RUNNING b:NOT_CREATED", "a", "b")
	if n := px.skipsAfter(); n != 0 {
		t.Fatalf("the first round after a's placement skipped %d: it was not planned since", n)
	}
	if n := px.skipsAfter(); n != 1 {
		t.Fatalf("a round with nothing changed skipped %d instances, want 1", n)
	}

	// a's result is a write to one of its steps.
	px.finish("a", fsm.AttemptSucceeded, 0)
	if n := px.skipsAfter(); n != 0 {
		t.Fatalf("the round after a's result skipped %d", n)
	}
	px.expect("a:SUCCEEDED b:RUNNING", "a", "b")
	px.round()
	if n := px.skipsAfter(); n != 1 {
		t.Fatalf("skipped %d with b running, want 1", n)
	}

	// A member joins.
	px.members = append(px.members, Member{Name: "n4"})
	if n := px.skipsAfter(); n != 0 {
		t.Fatalf("the round after a member joined skipped %d", n)
	}
	if n := px.skipsAfter(); n != 1 {
		t.Fatalf("skipped %d after the members settled, want 1", n)
	}

	// A speculation's result for b: the round on it plans the instance.
	sp := px.f.Speculate()
	b := px.step("b")
	a := b.Attempts[len(b.Attempts)-1]
	sp.Results([]*statepb.ReportResult{{WorkflowId: px.wf, InstanceId: px.inst, StepId: "b", AttemptNumber: a.AttemptNumber,
		Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptUserFailed, ExitCode: 1, Error: "exit code", EndTime: px.ts()}})
	was := px.quiet.skips
	out := Plan(Input{State: sp.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: px.views, Quiet: px.quiet, Speculated: true})
	if px.quiet.skips != was || len(out.Actions) == 0 {
		t.Fatalf("a round on a speculation that failed b skipped %d and planned %v", px.quiet.skips-was, out.Actions)
	}

	// The failure for real: b waits 30 s for its retry, and is skipped
	// meanwhile, the round still waking at the retry.
	px.finish("b", fsm.AttemptUserFailed, 1)
	px.round() // sets the retry time
	px.round()
	retryAt := px.step("b").RetryAt.AsTime()
	px.now = px.now.Add(10 * time.Second)
	was = px.quiet.skips
	out = Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: px.views, Quiet: px.quiet})
	if px.quiet.skips != was+1 || !out.WakeAt.Equal(retryAt) {
		t.Fatalf("while b waits for its retry: skipped %d, wake at %v; want 1 skipped and a wake at %v", px.quiet.skips-was, out.WakeAt, retryAt)
	}
	px.now = retryAt
	if n := px.skipsAfter(); n != 0 {
		t.Fatalf("the round at b's retry skipped %d", n)
	}
	if st := px.step("b"); st.Status != fsm.StepRunning || len(st.Attempts) != 2 {
		t.Fatalf("b after its retry time: %s with %d attempts", st.Status, len(st.Attempts))
	}
}

// The check catches a skip the memo should not have made: here the feed's
// write of a step result is passed over, and the memo made to hold the
// instance's new record, as a bug in what QuietInstances watches would.
func TestQuietCheckCatchesAMissedChange(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"b": "true"}}}},
	  {"step": {"id": "b", "type": "NoOp"}}]}}`)
	px.round()
	px.round()
	if n := px.skipsAfter(); n != 1 {
		t.Fatalf("skipped %d, want 1", n)
	}
	px.finish("a", fsm.AttemptSucceeded, 0)
	// The feed alone brings it back: the memo holds the instance's new
	// record (every result also writes the instance's timeline number, but
	// the feed must not rely on it), and the round still plans it.
	px.quiet.remember(px.f.State(), px.instance(), time.Time{}, nil)
	was := px.quiet.skips
	if out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: NewStepViews(), Quiet: px.quiet}); px.quiet.skips != was || len(out.Actions) != 1 {
		t.Fatalf("after a's result, with the memo holding the new record: skipped %d, planned %v", px.quiet.skips-was, out.Actions)
	}
	// Now the feed's write is passed over as well.
	_, past, ok := px.f.State().InstancesWritten(px.quiet.pos)
	if !ok {
		t.Fatal("the feed lost the fixture's position")
	}
	px.quiet.pos = past
	px.quiet.remember(px.f.State(), px.instance(), time.Time{}, nil)
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "was skipped as quiet, but planning it gives 1 actions") {
			t.Fatalf("a skip over a missed result: recovered %q", msg)
		}
	}()
	Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: px.views, Quiet: px.quiet})
	t.Fatal("a skip over a missed result went unnoticed")
}

func newVerifiedQuiet() *QuietInstances {
	q := NewQuietInstances()
	q.Verify = true
	return q
}

// A workflow whose every instance is quiet is passed over whole, until an
// instance of it is written (a new one included), its run strategy
// changes, or the earliest time one of them waits for comes. Every round
// is also planned without skipping, and each group passed over is checked
// (Verify).
func TestQuietWorkflowPassedOver(t *testing.T) {
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 10}},
	  "workflow": {"id": "wf", "timeout": 600, "steps": [{"step": {"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 3600}}}}]}}`)
	for i := 2; i <= 4; i++ {
		px.startAnother(fmt.Sprint("r", i))
	}
	px.round()
	if n := px.passesAfter(); n != 0 {
		t.Fatalf("the round after the placements passed over %d workflows", n)
	}
	if g := px.quiet.groups["wf"]; g.n != 4 || g.rule != workflow.RunParallel || g.conc != 10 {
		t.Fatalf("group %+v, want 4 instances under PARALLEL 10", g)
	}
	if n := px.passesAfter(); n != 1 {
		t.Fatalf("a round with nothing changed passed over %d workflows, want 1", n)
	}

	// A new instance is a write to the workflow's instances.
	px.startAnother("r5")
	if n := px.passesAfter(); n != 0 {
		t.Fatalf("the round after a start passed over %d", n)
	}
	px.round()
	if n := px.passesAfter(); n != 1 || px.quiet.groups["wf"].n != 5 {
		t.Fatalf("passed over %d with the new instance running, group %+v", n, px.quiet.groups["wf"])
	}

	// A push that changes the strategy writes no instance: LAST_ONLY
	// stops all but the newest.
	px.apply(&statepb.PushWorkflow{WorkflowId: "wf", Digest: "v2", Now: px.ts(),
		Definition: `{"properties": {"run_strategy": {"rule": "LAST_ONLY"}}, "workflow": {"id": "wf", "timeout": 600,
		  "steps": [{"step": {"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 3600}}}}]}}`})
	if n := px.passesAfter(); n != 0 {
		t.Fatalf("the round after the strategy changed passed over %d", n)
	}
	if left := px.f.State().UnfinishedInstancesOf("wf"); len(left) != 1 {
		t.Fatalf("%d instances left under LAST_ONLY", len(left))
	}
	px.round()
	if n := px.passesAfter(); n != 1 {
		t.Fatalf("passed over %d with one instance left, want 1", n)
	}

	// The workflow's timeout is the time the instance waits for.
	g := px.quiet.groups["wf"]
	if g.wake.IsZero() {
		t.Fatal("the group waits for no time, but its instance times out")
	}
	px.now = g.wake
	if n := px.passesAfter(); n != 0 {
		t.Fatalf("the round at the timeout passed over %d", n)
	}
	if left := px.f.State().UnfinishedInstancesOf("wf"); len(left) != 0 {
		t.Fatalf("%d instances left after the timeout", len(left))
	}
}

// The check catches a group passed over that no longer holds: here one
// that counts fewer instances than the workflow has, as a bug in what
// forgets groups would leave it.
func TestQuietCheckCatchesAStaleGroup(t *testing.T) {
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 10}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 3600}}}}]}}`)
	px.startAnother("r2")
	px.round()
	px.round()
	g, ok := px.quiet.groups["wf"]
	if !ok || g.n != 2 {
		t.Fatalf("group %+v (%t), want 2 instances", g, ok)
	}
	g.n = 1
	px.quiet.groups["wf"] = g
	defer func() {
		msg, _ := recover().(string)
		if !strings.Contains(msg, "was passed over as quiet (1 instances") || !strings.Contains(msg, "it has 2 unfinished instances") {
			t.Fatalf("a stale group: recovered %q", msg)
		}
	}()
	Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: px.views, Quiet: px.quiet})
	t.Fatal("a stale group went unnoticed")
}

// A memo whose record is no longer the instance's (which the feed should
// have made it forget) is dropped by the next sweep, which comes as the
// memos double.
func TestQuietSweepDropsStaleMemos(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 3600}}}}]}}`)
	px.round()
	px.round()
	if px.quiet.sweepAt != sweepFrom {
		t.Fatalf("the first rounds set the sweep at %d memos, want %d", px.quiet.sweepAt, sweepFrom)
	}
	k := fsm.KeyOfInstance(px.instance())
	stale := proto.Clone(px.instance()).(*statepb.Instance)
	delete(px.quiet.m, px.quiet.byKey[k])
	px.quiet.m[stale] = quietMemo{}
	px.quiet.byKey[k] = stale
	px.quiet.begin(px.f.State(), px.quiet.members)
	if px.quiet.byKey[k] != stale {
		t.Fatal("a sweep ran with fewer memos than its threshold")
	}
	px.quiet.sweepAt = 1
	px.quiet.begin(px.f.State(), px.quiet.members)
	if _, ok := px.quiet.m[stale]; ok || px.quiet.byKey[k] == stale {
		t.Fatal("the sweep kept a memo of a record the instance no longer has")
	}
}
