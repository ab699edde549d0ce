package cluster

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/test/harness"
)

// Starts sent while the leader is dead are committed, and their steps
// placed, in the new leader's first rounds. None may go to the dead server:
// the new leader places steps only on servers it has reached since it was
// elected. (Raft reports only failed heartbeats; the first failure to the
// dead server came after those rounds, and a step placed there waited out
// its grace before it ran elsewhere.)
func TestNewLeaderPlacesNothingOnTheDeadLeader(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/onestep.json")
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), f.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	leader.Kill()
	const n = 45
	ids := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &instancev1.StartRequest{WorkflowId: "onestep", RequestId: "after-kill-" + strconv.Itoa(i)}
			for {
				res, err := in.Start(ctx, connect.NewRequest(req))
				if err == nil {
					ids[i] = res.Msg.Instance.InstanceId
					return
				}
				if !retriable(err) || ctx.Err() != nil {
					errs <- err
					return
				}
				time.Sleep(50 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("start after the kill: %v", err)
	}
	newLeader := harness.WaitAgreement(t, agents, 30*time.Second)

	get := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), newLeader.URL())
	onDead := 0
	for _, id := range ids {
		for {
			res, err := get.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "onestep", InstanceId: id}))
			if err != nil {
				t.Fatalf("get %d: %v", id, err)
			}
			if res.Msg.Instance.Status == "SUCCEEDED" {
				for _, st := range res.Msg.Steps {
					for _, a := range st.Attempts {
						if a.Node == leader.Name {
							onDead++
							t.Errorf("instance %d: attempt %d of %s was placed on the dead server %s", id, a.AttemptNumber, st.StepId, leader.Name)
						}
					}
				}
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("instance %d is %s after 2 minutes", id, res.Msg.Instance.Status)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	t.Logf("%d starts during the election, %d attempts placed on the dead server", n, onDead)
}
