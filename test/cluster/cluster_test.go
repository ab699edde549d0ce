// Package cluster runs multi-server Baton clusters as real processes on
// loopback: real Raft over TCP with logs on disk, gossip, SIGKILL.
package cluster

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/test/harness"
)

func follower(t *testing.T, agents []*harness.Agent, leader *harness.Agent) *harness.Agent {
	t.Helper()
	for _, a := range agents {
		if a != leader && a.Running() {
			return a
		}
	}
	t.Fatal("no follower is running")
	return nil
}

// Three servers form one cluster; a follower accepts writes (forwarded to the
// leader) and its reads see them at once.
func TestThreeServersFormOneClusterAndServeFromAnyNode(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	st, err := leader.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	voters := 0
	for _, p := range st.Peers {
		if p.Voter {
			voters++
		}
	}
	if voters != 3 {
		t.Fatalf("leader sees %d voters, want 3: %v", voters, st.Peers)
	}
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/sleepy.json")
	for i := 0; i < 3; i++ {
		r := harness.CLI(t, f.URL(), "instance", "start", "sleepy", "--wait")
		if r.Code != 0 {
			t.Fatalf("start --wait through follower %s: exit %d\n%s", f.Name, r.Code, r.Stderr)
		}
	}
	// Every node's replica has every instance.
	for _, a := range agents {
		out := harness.MustCLI(t, a.URL(), "instance", "list", "sleepy", "--stale")
		if n := strings.Count(out, "SUCCEEDED"); n != 3 {
			t.Errorf("%s's replica lists %d SUCCEEDED instances, want 3:\n%s", a.Name, n, out)
		}
	}
}

// SIGKILL of the leader while instances run: a new leader takes over, steps
// on the dead node are retried elsewhere, and every instance succeeds with at
// most one accepted result per attempt.
func TestLeaderKilledWhileInstancesRun(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/sleepy.json")
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), f.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const n = 10
	for i := 0; i < n; i++ {
		if _, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "sleepy", RequestId: "kill-" + strconv.Itoa(i)})); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // let steps get placed on every node
	leader.Kill()
	newLeader := harness.WaitAgreement(t, agents, 60*time.Second)
	if newLeader == leader {
		t.Fatal("the killed leader is still named leader")
	}
	f = follower(t, agents, nil)
	in = instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), f.URL())
	for i := int64(1); i <= n; i++ {
		for {
			res, err := in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "sleepy", InstanceId: i}))
			if err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
			if s := res.Msg.Instance.Status; s == "SUCCEEDED" {
				for _, st := range res.Msg.Steps {
					accepted := 0
					for _, a := range st.Attempts {
						if a.Status == "SUCCEEDED" {
							accepted++
						}
					}
					if st.Status != "SUCCEEDED" || accepted != 1 {
						t.Errorf("instance %d step %s: %s with %d succeeded attempts", i, st.StepId, st.Status, accepted)
					}
				}
				break
			} else if s != "IN_PROGRESS" && s != "CREATED" {
				t.Fatalf("instance %d ended %s: %s", i, s, res.Msg.Instance.Reason)
			}
			if ctx.Err() != nil {
				t.Fatalf("instance %d did not finish after the leader was killed", i)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
