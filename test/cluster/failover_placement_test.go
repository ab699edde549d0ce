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
	placesNothingOnOldLeader(t, func(a *harness.Agent) { a.Kill() }, false)
}

// The same for a leader that is stopped (SIGSTOP) rather than dead: its
// kernel still accepts connections, but it answers nothing. The starts go
// to the new leader as soon as it is elected (through the follower they
// would wait for the calls it forwarded to the stopped leader to be given
// up), while the new leader's heartbeats to the stopped one have not yet
// timed out.
func TestNewLeaderPlacesNothingOnThePausedLeader(t *testing.T) {
	placesNothingOnOldLeader(t, func(a *harness.Agent) {
		a.Pause()
		t.Cleanup(a.Resume)
	}, true)
}

// placesNothingOnOldLeader takes the leader out with fault, starts
// instances (through a follower during the election, or through the new
// leader once elected) and more after them, and checks where their steps
// ran.
func placesNothingOnOldLeader(t *testing.T, fault func(*harness.Agent), afterElection bool) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/onestep.json")
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), f.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	fault(leader)
	newLeader := func() *harness.Agent {
		var found *harness.Agent
		waitFor(t, 30*time.Second, "a new leader", func() bool {
			for _, a := range agents {
				if a == leader {
					continue
				}
				st, err := a.Status(ctx)
				if err == nil && st.LeaderId != "" && st.LeaderId != leader.Name {
					for _, b := range agents {
						if b.Name == st.LeaderId {
							found = b
						}
					}
				}
			}
			return found != nil
		})
		return found
	}
	if afterElection {
		in = instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), newLeader().URL())
	}
	const n = 45
	ids := make([]int64, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req := &instancev1.StartRequest{WorkflowId: "onestep", RequestId: "after-fault-" + strconv.Itoa(i)}
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
		t.Fatalf("start after the fault: %v", err)
	}
	elected := newLeader()

	// Later starts, once the new leader has reached the live follower,
	// are spread over both live servers (with 20, all on one would be a
	// chance of one in a million).
	for i := range 20 {
		res, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "onestep", RequestId: "later-" + strconv.Itoa(i)}))
		if err != nil {
			t.Fatalf("start after the election: %v", err)
		}
		ids = append(ids, res.Msg.Instance.InstanceId)
	}

	get := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), elected.URL())
	onDead, byNode, later := 0, map[string]int{}, map[string]int{}
	for k, id := range ids {
		for {
			res, err := get.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "onestep", InstanceId: id}))
			if err != nil {
				t.Fatalf("get %d: %v", id, err)
			}
			if res.Msg.Instance.Status == "SUCCEEDED" {
				for _, st := range res.Msg.Steps {
					for _, a := range st.Attempts {
						byNode[a.Node]++
						if k >= n {
							later[a.Node]++
						}
						if a.Node == leader.Name {
							onDead++
							t.Errorf("instance %d: attempt %d of %s was placed on the old leader %s", id, a.AttemptNumber, st.StepId, leader.Name)
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
	t.Logf("%d starts around the election and 20 after it; attempts by server %v, %d on the old leader", n, byNode, onDead)
	if len(later) != 2 {
		t.Errorf("the 20 later starts ran on %v, want both live servers: the new leader never reached its follower", later)
	}
}
