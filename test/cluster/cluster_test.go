// Package cluster runs multi-server Baton clusters as real processes on
// loopback: real Raft over TCP with logs on disk, gossip, SIGKILL.
package cluster

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
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
	// Every node's replica gets every instance (replicas apply a moment
	// after the leader, so stale reads converge rather than match at once).
	for _, a := range agents {
		var out string
		waitFor(t, 30*time.Second, a.Name+"'s replica to show 3 SUCCEEDED instances", func() bool {
			out = harness.MustCLI(t, a.URL(), "instance", "list", "sleepy", "--stale")
			return strings.Count(out, "SUCCEEDED") == 3
		})
	}
}

// SIGKILL of the leader while 50 instances run: a new leader takes over,
// steps on the dead node are retried elsewhere, every instance succeeds, each
// step has exactly one accepted result, and the ledger the steps append to
// shows no placement executed twice and no attempt running beside its retry
// unless it was fenced.
func TestLeaderKilledWhileInstancesRun(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/ledger.json")
	ledger := filepath.Join(t.TempDir(), "ledger")
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), f.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	const n = 50
	for i := 0; i < n; i++ {
		req := &instancev1.StartRequest{WorkflowId: "ledger", RequestId: "kill-" + strconv.Itoa(i), Params: map[string]string{"ledger": ledger}}
		if _, err := in.Start(ctx, connect.NewRequest(req)); err != nil {
			t.Fatal(err)
		}
	}
	// Kill once steps are running on every node, the leader's included.
	waitFor(t, 30*time.Second, "steps running on the leader", func() bool {
		b, _ := os.ReadFile(ledger)
		return strings.Contains(string(b), " "+leader.Name+"\n")
	})
	leader.Kill()
	newLeader := harness.WaitAgreement(t, agents, 60*time.Second)
	if newLeader == leader {
		t.Fatal("the killed leader is still named leader")
	}
	in = instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), newLeader.URL())
	var results []*instancev1.GetResponse
	for i := int64(1); i <= n; i++ {
		for {
			res, err := in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "ledger", InstanceId: i}))
			if err != nil {
				t.Fatalf("get %d: %v", i, err)
			}
			s := res.Msg.Instance.Status
			if s == "SUCCEEDED" {
				results = append(results, res.Msg)
				break
			}
			if s != "IN_PROGRESS" && s != "CREATED" {
				t.Fatalf("instance %d ended %s: %s", i, s, res.Msg.Instance.Reason)
			}
			if ctx.Err() != nil {
				t.Fatalf("instance %d did not finish after the leader was killed", i)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	list, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "ledger", Limit: 1000}))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Msg.Instances) != n {
		t.Fatalf("%d instances exist for %d acknowledged starts", len(list.Msg.Instances), n)
	}

	executed := map[string]int{} // "attempt_id generation" -> executions
	b, err := os.ReadFile(ledger)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("bad ledger line %q", line)
		}
		executed[fields[0]+" "+fields[1]]++
	}
	for k, c := range executed {
		if c > 1 {
			t.Errorf("placement %s executed %d times", k, c)
		}
	}
	fenced := 0
	for _, res := range results {
		for _, st := range res.Steps {
			if st.Type != "Shell" {
				continue
			}
			accepted := 0
			for i, a := range st.Attempts {
				if a.Status == "SUCCEEDED" {
					accepted++
					if executed[a.AttemptId+" "+strconv.FormatUint(a.Generation, 10)] != 1 {
						t.Errorf("succeeded attempt %s (generation %d) is not in the ledger exactly once", a.AttemptId, a.Generation)
					}
				}
				if i < len(st.Attempts)-1 {
					// An earlier attempt beside a retry must have been fenced.
					if a.Status != "PLATFORM_FAILED" && a.Status != "STOPPED" {
						t.Errorf("%s: attempt %d is %s but was retried", a.AttemptId, a.AttemptNumber, a.Status)
					}
					fenced++
				}
			}
			if st.Status != "SUCCEEDED" || accepted != 1 {
				t.Errorf("instance %d step %s: %s with %d succeeded attempts", st.InstanceId, st.StepId, st.Status, accepted)
			}
		}
	}
	t.Logf("%d instances, %d placements executed, %d fenced attempts retried", n, len(executed), fenced)
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// SIGINT makes a server leave gracefully: the leader removes it from Raft,
// and the rest keep serving.
func TestGracefulLeaveRemovesServer(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	f.Interrupt()
	expectRemoved(t, leader, f)
}

// A leader that leaves gracefully cannot remove itself, and no other server
// is leader when its leave arrives: its successor must still drop it, or
// the cluster would keep counting it and lose its quorum at the next
// failure.
func TestGracefulLeaveOfTheLeaderRemovesIt(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	leader.Interrupt()
	rest := followersOf(agents, leader)
	expectRemoved(t, harness.WaitAgreement(t, rest, 30*time.Second), leader)
}

// expectRemoved waits until server leads a configuration of the two
// servers left without gone, then runs an instance on them.
func expectRemoved(t *testing.T, server, gone *harness.Agent) {
	t.Helper()
	waitFor(t, 60*time.Second, "the leader to drop the server that left", func() bool {
		st, err := server.Status(context.Background())
		if err != nil || st.RaftState != "Leader" {
			return false
		}
		for _, p := range st.Peers {
			if p.Id == gone.Name {
				return false
			}
		}
		return len(st.Peers) == 2
	})
	harness.MustCLI(t, server.URL(), "workflow", "push", "testdata/sleepy.json")
	if r := harness.CLI(t, server.URL(), "instance", "start", "sleepy", "--wait"); r.Code != 0 {
		t.Fatalf("the two remaining servers cannot run work: exit %d\n%s", r.Code, r.Stderr)
	}
}

// Without a quorum there is no leader: a write is held for a bounded time,
// then refused with Unavailable, and nothing is committed.
func TestWritesWithoutQuorumFailUnavailable(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	survivor := follower(t, agents, leader)
	for _, a := range agents {
		if a != survivor {
			a.Kill()
		}
	}
	// Once the survivor knows it has no leader, nothing more can reach it.
	var before *clusterv1.StatusResponse
	waitFor(t, 30*time.Second, "the survivor to lose its leader", func() bool {
		st, err := survivor.Status(context.Background())
		before = st
		return err == nil && st.LeaderId == ""
	})
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), survivor.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	began := time.Now()
	_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: mustRead(t, "testdata/sleepy.json")}))
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("push without a quorum: %v, want Unavailable", err)
	}
	if took := time.Since(began); took > time.Minute {
		t.Fatalf("the write was held %s before failing", took)
	}
	after, err := survivor.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if after.CommitIndex != before.CommitIndex {
		t.Fatalf("a minority committed: commit index %d -> %d", before.CommitIndex, after.CommitIndex)
	}
	// A stale read still answers from the survivor's replica.
	if out := harness.MustCLI(t, survivor.URL(), "workflow", "list", "--stale"); strings.Contains(out, "sleepy") {
		t.Fatalf("the refused workflow is visible:\n%s", out)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A server started later finds the formed cluster by gossip and joins as a
// voter through the leader; it does not bootstrap a second cluster.
func TestLaterServerJoinsAsVoter(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	harness.MustCLI(t, leader.URL(), "workflow", "push", "testdata/sleepy.json")
	late := harness.NewAgent(t, "n4")
	late.Start(t, "-bootstrap-expect", "3", "-retry-join", agents[0].SerfAddr)
	all := append(agents, late)
	// Agreement over all four means the late server names the same leader.
	waitFor(t, 60*time.Second, "all four to agree on a leader with 4 voters", func() bool {
		return voters(t, harness.WaitAgreement(t, all, 30*time.Second)) == 4
	})
	// It has the state written before it joined.
	waitFor(t, 30*time.Second, "the late server's replica to have the workflow", func() bool {
		return strings.Contains(harness.MustCLI(t, late.URL(), "workflow", "list", "--stale"), "sleepy")
	})
}
