package scheduler

import (
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// skipsAfter runs one round (px.round plans it through px.quiet as well)
// and returns how many instances px.quiet skipped in it.
func (px *planFixture) skipsAfter() int {
	px.t.Helper()
	was := px.quiet.skips
	px.round()
	return px.quiet.skips - was
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
