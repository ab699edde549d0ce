package scheduler

import (
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

func strategyFixture(t *testing.T, rule string) *planFixture {
	return newPlanFixture(t, `{"properties": {"run_strategy": "`+rule+`"},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp", "retry_policy": {"error_retry_limit": 0}}}]}}`)
}

func (px *planFixture) finishIn(id int64, step, outcome string) {
	px.t.Helper()
	saved := px.inst
	px.inst = id
	defer func() { px.inst = saved }()
	px.finish(step, outcome, 0)
}

func (px *planFixture) statusesOf(ids ...int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = px.instanceStatus(id)
	}
	return strings.Join(parts, " ")
}

// A failed STRICT_SEQUENTIAL instance holds the queue, saying why, until the
// workflow is unblocked.
func TestStrictSequentialBlocksOnFailureUntilUnblocked(t *testing.T) {
	px := strategyFixture(t, "STRICT_SEQUENTIAL")
	second := px.startAnother("r2")
	px.round()
	px.finishIn(px.inst, "a", fsm.AttemptUserFailed)
	px.round()
	px.round()
	if got := px.statusesOf(px.inst, second); got != "FAILED CREATED" {
		t.Fatalf("after a failure: %s, want FAILED CREATED", got)
	}
	if why := px.f.State().Instance(nil, px.wf, second).Reason; !strings.Contains(why, "blocked by instance 1") {
		t.Fatalf("queued instance reason %q does not say what blocks it", why)
	}
	if out := px.round(); len(out.Actions) != 0 {
		t.Fatalf("a blocked queue re-planned %d actions", len(out.Actions))
	}
	px.apply(&statepb.UnblockWorkflow{WorkflowId: px.wf, Now: px.ts()})
	px.round()
	if got := px.statusesOf(second); got != "IN_PROGRESS" {
		t.Fatalf("after unblock: %s, want IN_PROGRESS", got)
	}
	// A later failure blocks again: unblocking is not permanent.
	third := px.startAnother("r3")
	px.finishIn(second, "a", fsm.AttemptSucceeded)
	px.round()
	px.round()
	if got := px.statusesOf(second, third); got != "SUCCEEDED IN_PROGRESS" {
		t.Fatalf("after a success: %s", got)
	}
}

func TestFirstOnlyStopsNewcomersWhileOneRuns(t *testing.T) {
	px := strategyFixture(t, "FIRST_ONLY")
	px.round()
	second := px.startAnother("r2")
	px.round()
	if got := px.statusesOf(px.inst, second); got != "IN_PROGRESS STOPPED" {
		t.Fatalf("FIRST_ONLY: %s", got)
	}
	px.finishIn(px.inst, "a", fsm.AttemptSucceeded)
	px.round()
	third := px.startAnother("r3")
	px.round()
	if got := px.statusesOf(third); got != "IN_PROGRESS" {
		t.Fatalf("FIRST_ONLY once idle: %s", got)
	}
}

func TestLastOnlyStopsTheRunningOneForTheNewest(t *testing.T) {
	px := strategyFixture(t, "LAST_ONLY")
	px.round()
	second := px.startAnother("r2")
	third := px.startAnother("r3")
	px.round()
	if got := px.statusesOf(px.inst, second, third); got != "STOPPED STOPPED IN_PROGRESS" {
		t.Fatalf("LAST_ONLY: %s", got)
	}
	if st := px.step("a"); st.Status != fsm.StepStopped {
		t.Fatalf("superseded instance's step is %s, want STOPPED", st.Status)
	}
}

func TestSerialLatestOnlyKeepsOnlyTheNewestQueued(t *testing.T) {
	px := strategyFixture(t, "SERIAL_LATEST_ONLY")
	px.round()
	second := px.startAnother("r2")
	third := px.startAnother("r3")
	px.round()
	if got := px.statusesOf(px.inst, second, third); got != "IN_PROGRESS STOPPED CREATED" {
		t.Fatalf("SERIAL_LATEST_ONLY: %s", got)
	}
	px.finishIn(px.inst, "a", fsm.AttemptSucceeded)
	px.round()
	px.round()
	if got := px.statusesOf(px.inst, third); got != "SUCCEEDED IN_PROGRESS" {
		t.Fatalf("after the running one ended: %s", got)
	}
}

// A server that comes back under the same name with a wiped data dir (a new
// incarnation) does not keep the attempts of its old self: they are failed
// as lost to the platform and retried, visibly, as new attempts.
func TestAttemptOnAnOldIncarnationIsRetried(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.members = []Member{{Name: "n1", Tags: map[string]string{IncarnationTag: "aaa"}}}
	px.round()
	a := px.step("a")
	if a.Status != fsm.StepRunning || a.Attempts[0].NodeIncarnation != "aaa" {
		t.Fatalf("a is %s with incarnation %q, want RUNNING on aaa", a.Status, a.Attempts[0].NodeIncarnation)
	}
	// Same name, same incarnation: nothing to do.
	if out := px.round(); len(out.Actions) != 0 {
		t.Fatalf("re-planned %d actions for a healthy attempt", len(out.Actions))
	}
	px.members = []Member{{Name: "n1", Tags: map[string]string{IncarnationTag: "bbb"}}}
	px.round()
	a = px.step("a")
	if a.Status != fsm.StepPlatformFailed || !strings.Contains(a.Reason, "new incarnation") {
		t.Fatalf("after the node came back wiped a is %s (%q), want PLATFORM_FAILED", a.Status, a.Reason)
	}
}
