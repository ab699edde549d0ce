package e2e

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// A workflow is deleted through a follower of a real three-server cluster:
// refused while an instance runs, then gone at once with its version and
// triggers, its finished instances deleted by the leader after, on every
// server, though the leader is SIGKILLed right after the deletion.
// Late copies of its push and of a start create nothing, before the push
// again and after. Pushed again, the id numbers on; a late copy of the
// deletion is a repeat and leaves the new workflow alone.
func TestDeleteWorkflow(t *testing.T) {
	t.Parallel()
	agents := harness.StartCluster(t, 3, "-retention-interval", "200ms")
	leader := harness.WaitAgreement(t, agents, time.Minute)
	follower := agents[0]
	if follower == leader {
		follower = agents[1]
	}
	addr := follower.URL()
	def, err := os.ReadFile("testdata/sleep.json")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), addr)
	push := &workflowv1.PushRequest{Definition: string(def), RequestId: "push-1"}
	if _, err := wf.Push(ctx, connect.NewRequest(push)); err != nil {
		t.Fatal(err)
	}
	first := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-sleep"))
	harness.MustCLI(t, addr, "workflow", "triggers", "disable", "e2e-sleep", "--time")

	r := harness.CLI(t, addr, "workflow", "delete", "e2e-sleep")
	if r.Code == 0 || !strings.Contains(r.Stderr, "failed_precondition") || !strings.Contains(r.Stderr, "1 unfinished instance(s), e2e-sleep/1") {
		t.Fatalf("deleting a workflow with a running instance: exit %d, %s%s", r.Code, r.Stdout, r.Stderr)
	}
	harness.MustCLI(t, addr, "workflow", "get", "e2e-sleep")

	harness.MustCLI(t, addr, "instance", "stop", "e2e-sleep", "1")
	second := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-sleep", "--request-id", "start-2"))
	harness.MustCLI(t, addr, "instance", "stop", "e2e-sleep", "2")
	harness.WaitInstancesEnded(t, addr, "e2e-sleep", []int64{first, second}, time.Minute)

	out := harness.MustCLI(t, addr, "workflow", "delete", "e2e-sleep", "--reason", "retired", "--request-id", "del-1")
	if !strings.Contains(out, "deleted workflow e2e-sleep with its 1 version; its 2 finished instances go in the background") ||
		!strings.Contains(out, "numbers on from version 2, instance 3") {
		t.Fatalf("delete said:\n%s", out)
	}
	for _, args := range [][]string{{"workflow", "get", "e2e-sleep"}, {"instance", "start", "e2e-sleep"}} {
		r := harness.CLI(t, addr, args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, `workflow "e2e-sleep" not found: it was deleted by`) || !strings.Contains(r.Stderr, "retired") {
			t.Fatalf("%s after the deletion: exit %d, %s%s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
		}
	}

	// The leader is killed right after: the next one deletes what is left
	// (or already was), and the killed server, back, has it all too.
	leader.Kill()
	harness.WaitAgreement(t, agents, time.Minute)
	leader.Restart(t)
	harness.WaitAgreement(t, agents, time.Minute)
	deadline := time.Now().Add(time.Minute)
	for _, a := range agents {
		for _, id := range []string{"1", "2"} {
			for {
				r := harness.CLI(t, a.URL(), "instance", "get", "e2e-sleep", id, "--stale")
				if r.Code != 0 && strings.Contains(r.Stderr, "not_found") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("instance %s is still on %s: exit %d, %s%s", id, a.Name, r.Code, r.Stdout, r.Stderr)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	// A late copy of the first push neither creates the workflow again
	// nor, once it was pushed again, adds a version; a late copy of a
	// start starts nothing.
	latePush := func() {
		t.Helper()
		_, err := wf.Push(ctx, connect.NewRequest(push))
		if connect.CodeOf(err) != connect.CodeNotFound || !strings.Contains(err.Error(), `request_id "push-1" pushed version 1 of workflow "e2e-sleep", which went with the workflow`) {
			t.Fatalf("a late copy of the push: %v", err)
		}
	}
	lateStart := func() {
		t.Helper()
		r := harness.CLI(t, addr, "instance", "start", "e2e-sleep", "--request-id", "start-2")
		if r.Code == 0 || !strings.Contains(r.Stderr, `request_id "start-2" started instance e2e-sleep/2, which was deleted with its workflow`) {
			t.Fatalf("a late copy of a start: exit %d, %s%s", r.Code, r.Stdout, r.Stderr)
		}
	}
	latePush()
	lateStart()
	if r := harness.CLI(t, addr, "workflow", "get", "e2e-sleep"); r.Code == 0 {
		t.Fatalf("the late copies created the workflow again:\n%s", r.Stdout)
	}
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sleep.json")
	latePush()
	lateStart()
	var got workflowv1.GetResponse
	harness.CLIJSON(t, addr, &got, "workflow", "get", "e2e-sleep")
	if got.Version.GetVersion() != 2 || got.Workflow.GetTimeTriggersDisabled() || len(got.Actions) != 0 {
		t.Fatalf("pushed again: version %d, time triggers disabled %v, %d actions; want version 2, enabled, none",
			got.Version.GetVersion(), got.Workflow.GetTimeTriggersDisabled(), len(got.Actions))
	}
	if id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-sleep")); id != 3 {
		t.Fatalf("first instance after the push again: %d, want 3", id)
	}
	if out := harness.MustCLI(t, addr, "workflow", "delete", "e2e-sleep", "--request-id", "del-1"); !strings.Contains(out, "had already been applied") {
		t.Fatalf("a late copy of the deletion: %q", out)
	}
	harness.MustCLI(t, addr, "workflow", "get", "e2e-sleep")
}
