package cluster

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// A write sent through a follower while the leader is paused (SIGSTOP: its
// sockets stay open, nothing answers) is forwarded to the paused leader.
// The follower must notice that the leader went silent and give the caller
// an answer well before the caller's own deadline: the write committed by
// the new leader, or an error that says to send it again. Sent again with
// the same request id, it starts exactly one instance, also after the old
// leader resumes.
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
	began := time.Now()
	id, err := start(ctx)
	took := time.Since(began)
	cancel()
	t.Logf("start through %s with the leader %s paused: %v after %s", f.Name, leader.Name, err, took.Round(time.Millisecond))
	if err != nil {
		switch connect.CodeOf(err) {
		case connect.CodeAborted, connect.CodeUnavailable:
		default:
			t.Fatalf("start while the leader was paused: %v after %s; want it applied, or Aborted or Unavailable well before the caller's deadline", err, took)
		}
	}
	if took > callerDeadline/2 {
		t.Fatalf("the follower held the write %s of the caller's %s", took, callerDeadline)
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
