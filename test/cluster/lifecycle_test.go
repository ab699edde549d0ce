package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

func push(t *testing.T, a *harness.Agent, def string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), a.URL())
	if _, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def})); err != nil {
		t.Fatal(err)
	}
}

func getVia(t *testing.T, agents []*harness.Agent, wf string, id int64) *instancev1.GetResponse {
	t.Helper()
	for _, a := range agents {
		if !a.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := instanceClient(a).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: wf, InstanceId: id}))
		cancel()
		if err == nil {
			return res.Msg
		}
	}
	t.Fatalf("no agent answered for %s/%d", wf, id)
	return nil
}

// A STRICT_SEQUENTIAL workflow blocked by a failed instance stays blocked
// across a leader change, and runs its queue once unblocked through a
// follower.
func TestStrictSequentialBlockedAcrossFailoverThenUnblocked(t *testing.T) {
	t.Parallel()
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	dir := t.TempDir()
	push(t, leader, `{"properties": {"run_strategy": "STRICT_SEQUENTIAL"}, "workflow": {"id": "strict",
	  "steps": [{"step": {"id": "gate", "type": "Shell", "retry_policy": {"error_retry_limit": 0},
	    "params": {"shell": {"type": "MAP", "value": {"command": {"type": "STRING", "value": "test -f `+dir+`/ok"}}}}}}]}}`)
	ids := startInstances(t, leader, "strict", []string{"s1", "s2"})
	harness.WaitInstancesEnded(t, leader.URL(), "strict", ids[:1], time.Minute)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(getVia(t, agents, "strict", ids[1]).Instance.Reason, "blocked by instance 1") {
		if time.Now().After(deadline) {
			t.Fatalf("second instance never reported it is blocked: %v", getVia(t, agents, "strict", ids[1]).Instance)
		}
		time.Sleep(100 * time.Millisecond)
	}
	leader.Kill()
	newLeader := harness.WaitAgreement(t, agents, 60*time.Second)
	time.Sleep(2 * time.Second) // rounds of the new leader
	if got := getVia(t, agents, "strict", ids[1]).Instance; got.Status != "CREATED" {
		t.Fatalf("after failover the blocked instance is %s, want CREATED", got.Status)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	follower := followersOf(agents, newLeader)[0]
	harness.MustCLI(t, follower.URL(), "workflow", "unblock", "strict", "--reason", "input fixed")
	res := harness.WaitInstancesEnded(t, follower.URL(), "strict", ids[1:], time.Minute)[ids[1]]
	if res.Instance.Status != "SUCCEEDED" {
		t.Fatalf("after unblock: %s (%s)", res.Instance.Status, harness.DescribeSteps(res.Steps))
	}
}

// A step waiting to retry when the node that ran its failed attempt is
// SIGKILLed retries once, elsewhere, not before its backoff ends.
func TestRetryAfterTheAttemptsNodeIsKilled(t *testing.T) {
	t.Parallel()
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	push(t, leader, `{"workflow": {"id": "retry", "steps": [{"step": {"id": "flaky", "type": "Shell",
	  "retry_policy": {"error_retry_limit": 1, "backoff": {"type": "FIXED_BACKOFF", "error_retry_backoff_in_secs": 6}},
	  "params": {"shell": {"type": "MAP", "value": {"command": {"type": "STRING", "value": "test \"$$BATON_ATTEMPT\" != 1"}}}}}}]}}`)
	id := startInstances(t, leader, "retry", []string{"r1"})[0]
	var failedAt time.Time
	var node string
	deadline := time.Now().Add(time.Minute)
	for {
		st := getVia(t, agents, "retry", id).Steps[0]
		if st.Status == "USER_FAILED" && st.RetryAt != nil {
			failedAt, node = st.Attempts[0].EndTime.AsTime(), st.Attempts[0].Node
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("first attempt never failed into a retry: %s", harness.DescribeSteps([]*statepb.Step{st}))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, a := range agents {
		if a.Name == node {
			a.Kill()
		}
	}
	harness.WaitAgreement(t, agents, 60*time.Second)
	var alive *harness.Agent
	for _, a := range agents {
		if a.Running() {
			alive = a
		}
	}
	res := harness.WaitInstancesEnded(t, alive.URL(), "retry", []int64{id}, 2*time.Minute)[id]
	st := res.Steps[0]
	if res.Instance.Status != "SUCCEEDED" || len(st.Attempts) != 2 {
		t.Fatalf("instance %s with %d attempts: %s", res.Instance.Status, len(st.Attempts), harness.DescribeSteps(res.Steps))
	}
	second := st.Attempts[1]
	if second.Node == node {
		t.Errorf("the retry ran on %s, the killed node", node)
	}
	if wait := second.StartTime.AsTime().Sub(failedAt); wait < 6*time.Second {
		t.Errorf("the retry started %s after the failure, before its 6s backoff", wait)
	}
	t.Logf("attempt 1 failed on %s; attempt 2 ran on %s %s later", node, second.Node, second.StartTime.AsTime().Sub(failedAt).Round(time.Millisecond))
}
