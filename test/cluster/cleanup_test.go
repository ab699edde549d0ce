package cluster

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/test/harness"
)

func voters(t *testing.T, a *harness.Agent) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.Status(ctx)
	if err != nil {
		return -1
	}
	n := 0
	for _, p := range st.Peers {
		if p.Voter {
			n++
		}
	}
	return n
}

// waitVoters waits until the leader's configuration has want voters.
func waitVoters(t *testing.T, agents []*harness.Agent, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	got := 0
	for time.Now().Before(deadline) {
		leader := harness.WaitAgreement(t, agents, timeout)
		if got = voters(t, leader); got == want {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("leader has %d voters after %s, want %d", got, timeout, want)
}

// Dead servers are removed from Raft after the cleanup delay, but never
// below min_voters.
func TestDeadServerCleanupKeepsMinVoters(t *testing.T) {
	agents := harness.StartCluster(t, 5, "-dead-server-cleanup", "2s", "-min-voters", "3")
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	var followers []*harness.Agent
	for _, a := range agents {
		if a != leader {
			followers = append(followers, a)
		}
	}
	followers[0].Kill()
	waitVoters(t, agents, 4, 60*time.Second)
	followers[1].Kill()
	waitVoters(t, agents, 3, 60*time.Second)
	// A third failure must not shrink the configuration below three: the two
	// survivors still hold a quorum of three and keep serving.
	followers[2].Kill()
	// Wait until the leader has considered removing it and refused.
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(leader.LogPath)
		if strings.Contains(string(b), "dead server kept") && strings.Contains(string(b), followers[2].Name) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the leader never decided about the third dead server")
		}
		time.Sleep(100 * time.Millisecond)
	}
	leader = harness.WaitAgreement(t, agents, 30*time.Second)
	if got := voters(t, leader); got != 3 {
		t.Fatalf("after a third failure the leader has %d voters, want 3 (min_voters)", got)
	}
	harness.MustCLI(t, leader.URL(), "workflow", "push", "testdata/sleepy.json")
}
