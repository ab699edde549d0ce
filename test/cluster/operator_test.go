package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	operatorv1 "github.com/batonhq/baton/rpc/gen/baton/operator/v1"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/test/harness"
)

func opClient(a *harness.Agent) operatorv1connect.OperatorServiceClient {
	return operatorv1connect.NewOperatorServiceClient(harness.HTTPClient(), a.URL())
}

// opEventually polls check every 100ms until it returns "" or timeout
// passes, then fails with its last complaint.
func opEventually(t *testing.T, timeout time.Duration, check func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		msg := check()
		if msg == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// opWaitLeader waits until every running agent names want as the leader.
func opWaitLeader(t *testing.T, agents []*harness.Agent, want string) {
	t.Helper()
	opEventually(t, 30*time.Second, func() string {
		for _, a := range agents {
			if !a.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := a.Status(ctx)
			cancel()
			if err != nil || st.LeaderId != want {
				return fmt.Sprintf("%s names leader %q (err %v), want %s", a.Name, st.GetLeaderId(), err, want)
			}
		}
		return ""
	})
}

func opVoters(peers []*operatorv1.RaftPeer) []string {
	var out []string
	for _, p := range peers {
		if p.Voter {
			out = append(out, p.Id)
		}
	}
	slices.Sort(out)
	return out
}

func opOther(agents []*harness.Agent, not ...*harness.Agent) *harness.Agent {
	for _, a := range agents {
		if a.Running() && !slices.Contains(not, a) {
			return a
		}
	}
	return nil
}

// Leadership moves to the follower an operator names, and from there to
// whichever voter Raft picks; removing peers refuses the leader, unknown ids
// and live servers, and takes a dead server out of the configuration.
func TestOperatorRaftTransferAndRemovePeer(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	target := follower(t, agents, leader)
	via := opOther(agents, leader, target)

	// Through the third server, so the request is forwarded to the leader.
	var moved operatorv1.RaftTransferLeaderResponse
	harness.CLIJSON(t, via.URL(), &moved, "operator", "raft", "transfer-leader", target.Name)
	if moved.LeaderId != target.Name || moved.LeaderApiAddress != target.URL() || moved.LeaderRaftAddress != target.RaftAddr {
		t.Fatalf("transfer-leader %s answered %v", target.Name, &moved)
	}
	opWaitLeader(t, agents, target.Name)
	for _, a := range agents {
		var peers operatorv1.RaftListPeersResponse
		harness.CLIJSON(t, a.URL(), &peers, "operator", "raft", "list-peers")
		if got := opVoters(peers.Peers); len(got) != 3 {
			t.Errorf("%s lists voters %v, want 3", a.Name, got)
		}
		for _, p := range peers.Peers {
			if p.Leader != (p.Id == target.Name) {
				t.Errorf("%s lists %s with leader=%v after the transfer to %s", a.Name, p.Id, p.Leader, target.Name)
			}
		}
	}
	leader = target

	// Naming the leader itself changes nothing.
	harness.CLIJSON(t, via.URL(), &moved, "operator", "raft", "transfer-leader", leader.Name)
	if moved.LeaderId != leader.Name {
		t.Errorf("transfer-leader to the current leader answered %v", &moved)
	}
	r := harness.CLI(t, via.URL(), "operator", "raft", "transfer-leader", "nobody")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not_found") {
		t.Errorf("transfer-leader to an unknown id: exit %d, stderr %q", r.Code, r.Stderr)
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := opClient(via).RaftRemovePeer(ctx, connect.NewRequest(&operatorv1.RaftRemovePeerRequest{Id: leader.Name}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "transfer leadership first") {
		t.Errorf("remove-peer of the leader: %v, want failed_precondition asking to transfer leadership first", err)
	}
	r = harness.CLI(t, via.URL(), "operator", "raft", "remove-peer", leader.Name)
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed_precondition") {
		t.Errorf("CLI remove-peer of the leader: exit %d, stderr %q", r.Code, r.Stderr)
	}
	_, err = opClient(via).RaftRemovePeer(ctx, connect.NewRequest(&operatorv1.RaftRemovePeerRequest{Id: "nobody"}))
	if connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("remove-peer of an unknown id: %v, want not_found", err)
	}
	_, err = opClient(via).RaftRemovePeer(ctx, connect.NewRequest(&operatorv1.RaftRemovePeerRequest{Id: via.Name}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "alive") {
		t.Errorf("remove-peer of a live follower: %v, want failed_precondition saying it is alive", err)
	}

	// Without an id Raft picks the successor: anyone but the old leader.
	var any operatorv1.RaftTransferLeaderResponse
	harness.CLIJSON(t, leader.URL(), &any, "operator", "raft", "transfer-leader")
	if any.LeaderId == "" || any.LeaderId == leader.Name {
		t.Fatalf("transfer-leader without an id answered %v; old leader %s", &any, leader.Name)
	}
	opWaitLeader(t, agents, any.LeaderId)
	for _, a := range agents {
		if a.Name == any.LeaderId {
			leader = a
		}
	}

	// A follower dies; once gossip reports it failed, it can be removed.
	victim := follower(t, agents, leader)
	victim.Kill()
	opEventually(t, 30*time.Second, func() string {
		var members operatorv1.MembersResponse
		harness.CLIJSON(t, leader.URL(), &members, "members")
		for _, m := range members.Members {
			if m.Name == victim.Name && m.Status != "failed" {
				return fmt.Sprintf("gossip reports %s %s, want failed", victim.Name, m.Status)
			}
		}
		return ""
	})
	survivor := opOther(agents, leader)
	out := harness.MustCLI(t, survivor.URL(), "operator", "raft", "remove-peer", victim.Name)
	if !strings.Contains(out, "Removed "+victim.Name) {
		t.Errorf("remove-peer printed %q", out)
	}
	want := []string{leader.Name, survivor.Name}
	slices.Sort(want)
	for _, a := range []*harness.Agent{leader, survivor} {
		opEventually(t, 10*time.Second, func() string {
			var peers operatorv1.RaftListPeersResponse
			harness.CLIJSON(t, a.URL(), &peers, "operator", "raft", "list-peers")
			if got := opVoters(peers.Peers); !slices.Equal(got, want) || len(peers.Peers) != 2 {
				return fmt.Sprintf("%s lists peers %v, want voters %v only", a.Name, peers.Peers, want)
			}
			return ""
		})
	}
	// Two voters still make a working cluster.
	harness.MustCLI(t, survivor.URL(), "workflow", "push", "testdata/sleepy.json")
	if r := harness.CLI(t, survivor.URL(), "instance", "start", "sleepy", "--wait"); r.Code != 0 {
		t.Errorf("instance on the two remaining servers: exit %d\n%s", r.Code, r.Stderr)
	}
}

// Save and restore work through a follower, which relays the leader's
// stream; the restore replaces the state of every server.
func TestOperatorSnapshotThroughFollower(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	f := follower(t, agents, leader)
	harness.MustCLI(t, f.URL(), "workflow", "push", "testdata/sleepy.json")
	if r := harness.CLI(t, f.URL(), "instance", "start", "sleepy", "--wait"); r.Code != 0 {
		t.Fatalf("start --wait: exit %d\n%s", r.Code, r.Stderr)
	}

	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.snap")
	var saved operatorv1.SnapshotInfo
	harness.CLIJSON(t, f.URL(), &saved, "operator", "snapshot", "save", file)
	if saved.Node != leader.Name || !saved.ChecksumOk || len(saved.Configuration) != 3 {
		t.Errorf("snapshot saved through %s: %v; want it taken on %s with 3 peers", f.Name, &saved, leader.Name)
	}
	var info operatorv1.SnapshotInfo
	harness.CLIJSON(t, f.URL(), &info, "operator", "snapshot", "inspect", file)
	counts := map[string]int64{}
	for _, tc := range info.Tables {
		counts[tc.Table] = tc.Records
	}
	if counts["workflows"] != 1 || counts["instances"] != 1 || counts["steps"] != 4 {
		t.Errorf("inspect counts %v, want 1 workflow, 1 instance, 4 steps", counts)
	}

	// State written after the snapshot is gone once it is restored.
	def, err := os.ReadFile("testdata/sleepy.json")
	if err != nil {
		t.Fatal(err)
	}
	later := filepath.Join(dir, "later.json")
	if err := os.WriteFile(later, []byte(strings.Replace(string(def), `"id": "sleepy"`, `"id": "later"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, f.URL(), "workflow", "push", later)

	var restored operatorv1.SnapshotRestoreResponse
	harness.CLIJSON(t, f.URL(), &restored, "operator", "snapshot", "restore", file)
	if restored.Snapshot.GetIndex() != saved.Index {
		t.Errorf("restore reported snapshot index %d, saved %d", restored.Snapshot.GetIndex(), saved.Index)
	}
	for _, a := range agents {
		opEventually(t, 30*time.Second, func() string {
			var res workflowv1.ListResponse
			harness.CLIJSON(t, a.URL(), &res, "workflow", "list", "--stale")
			var ids []string
			for _, w := range res.Workflows {
				ids = append(ids, w.WorkflowId)
			}
			if !slices.Equal(ids, []string{"sleepy"}) {
				return fmt.Sprintf("%s's replica holds workflows %v, want just sleepy", a.Name, ids)
			}
			return ""
		})
		if out := harness.MustCLI(t, a.URL(), "instance", "list", "sleepy", "--stale"); strings.Count(out, "SUCCEEDED") != 1 {
			t.Errorf("%s's replica after the restore lists:\n%s", a.Name, out)
		}
	}
	// The cluster goes on from the restored state.
	if r := harness.CLI(t, leader.URL(), "instance", "start", "sleepy", "--wait"); r.Code != 0 || strings.TrimSpace(r.Stdout) != "2" {
		t.Errorf("instance after the restore: exit %d, id %q\n%s", r.Code, r.Stdout, r.Stderr)
	}
}
