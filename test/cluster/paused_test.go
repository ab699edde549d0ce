package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// A write sent through a follower while the leader is paused (SIGSTOP: its
// sockets stay open, nothing answers) is forwarded to the paused leader.
// A Start carries its request id, so the follower sends it again once it
// learns of a new leader (or once the connection to the old one fails), and
// the caller gets the instance the new leader committed: a failover is a
// slower call, not an error. Sent again with the same request id, it names
// the same instance, also after the old leader resumes, and every replica
// lists exactly one. A linearizable read forwarded at the same time is
// answered by the new leader too. A write without a key (an activation)
// is answered Aborted as soon as the follower sees the leader replaced,
// not when the connection gives up.
func TestWriteForwardedToPausedLeaderIsAnswered(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/sleepy.json")
	c := instanceClient(f)
	start := func(ctx context.Context) (int64, error) {
		res, err := c.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "sleepy", RequestId: "paused-leader"}))
		if err != nil {
			return 0, err
		}
		return res.Msg.Instance.InstanceId, nil
	}
	// One call first, so the follower holds a live connection to the leader.
	if _, err := c.List(context.Background(), connect.NewRequest(&instancev1.ListRequest{WorkflowId: "sleepy"})); err != nil {
		t.Fatal(err)
	}

	leader.Pause()
	t.Cleanup(leader.Resume)
	const callerDeadline = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	activated := make(chan error, 1)
	go func() {
		_, err := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), f.URL()).Activate(ctx,
			connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: "sleepy", Version: 1}))
		activated <- err
	}()
	listed := make(chan error, 1)
	go func() {
		_, err := c.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "sleepy"}))
		listed <- err
	}()
	began := time.Now()
	id, err := start(ctx)
	took := time.Since(began)
	activateErr, listErr := <-activated, <-listed
	cancel()
	t.Logf("start through %s with the leader %s paused: %v after %s", f.Name, leader.Name, err, took.Round(time.Millisecond))
	// The connection to the paused leader fails only when its ping goes
	// unanswered ("went away"); the follower must have given up on it
	// earlier, when it stood for election or saw another leader.
	for what, err := range map[string]error{"start": err, "activation": activateErr} {
		if connect.CodeOf(err) != connect.CodeAborted || !strings.Contains(err.Error(), "was replaced") {
			t.Fatalf("%s while the leader was paused: %v; want Aborted because the leader was replaced", what, err)
		}
	}
	if listErr != nil {
		t.Fatalf("linearizable read while the leader was paused: %v; want it answered by the new leader", listErr)
	}

	// Sent again with the same request id, it names one instance.
	var again int64
	waitFor(t, time.Minute, "the start to be answered by the new leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		again, err = start(ctx)
		return err == nil
	})
	if id != 0 && again != id {
		t.Fatalf("the same request started instance %d, then %d", id, again)
	}

	leader.Resume()
	harness.WaitAgreement(t, agents, time.Minute)
	for _, a := range agents {
		var n int
		waitFor(t, 30*time.Second, a.Name+"'s replica to list the instance", func() bool {
			res, err := instanceClient(a).List(context.Background(), connect.NewRequest(&instancev1.ListRequest{WorkflowId: "sleepy", Stale: true}))
			if err != nil {
				return false
			}
			n = len(res.Msg.Instances)
			return n >= 1
		})
		if n != 1 {
			t.Fatalf("%s lists %d instances of sleepy after one request, want 1", a.Name, n)
		}
	}
}
