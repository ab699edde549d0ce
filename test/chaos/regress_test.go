package chaos

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// Regression tests of engine bugs this suite found, now fixed. Each drives
// the cluster into the situation that showed the bug and fails if it is
// back.

// A server restarted with a wiped data dir used to run the attempts that
// were running on it again, reporting executions=1 (fixed in 80da3cc: a
// wiped server is a new incarnation, and the attempts of its old self are
// failed as lost and retried as new attempts). An attempt runs for a while
// on a follower, which is killed, wiped and restarted with the same name:
// the ledger must not show that placement executed twice unless the cluster
// recorded it.
func TestWipedServerDoesNotRerunAttemptsSilently(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newProcessBackend(t), 3)
	r := newRun(t, "regress-wipe", 1, c)
	if err := r.pushDefinition(definition("chaos-slow", shellStep("slow", "sleep=8000"))); err != nil {
		t.Fatal(err)
	}
	leader, err := c.waitAgreement(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Start until an attempt runs on a follower.
	var victim *node
	for i := 0; victim == nil; i++ {
		if i == 20 {
			t.Fatal("no attempt ran on a follower in 20 instances")
		}
		if _, err := r.start("chaos-slow", fmt.Sprintf("slow-%d", i), "regression", c.b.stepParams(), time.Minute); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for victim == nil && time.Now().Before(deadline) {
			files, _ := c.b.ledgers()
			lines, _ := parseLedgers(files)
			for _, l := range lines {
				if l.node != leader.name {
					victim = c.byName(l.node)
				}
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := c.b.kill(victim); err != nil {
		t.Fatal(err)
	}
	c.setState(victim, stateDown)
	if err := c.b.wipe(victim); err != nil {
		t.Fatal(err)
	}
	victim.wiped = append(victim.wiped, time.Now())
	if err := r.restart(victim); err != nil {
		t.Fatal(err)
	}
	final := r.waitEnded(2 * time.Minute)
	for _, res := range []checkResult{r.checkEnded(final), r.checkLedgers(final), r.checkAttempts(final)} {
		if len(res.violations) > 0 {
			t.Errorf("%s:\n%s", res.name, strings.Join(res.violations, "\n"))
		}
	}
}

// During a partial partition the leader used to place steps on a server it
// could not reach but gossip reported alive, where they waited until the
// partition ended (fixed in 6575e14: the leader places nothing on a server
// it has failed to heartbeat, and treats the attempts there as lost). With
// the leader cut from one follower and both linked to the other, the
// leader and the bridge have a quorum, so every probe started through them
// must run within a minute while the cut holds, including one placed on
// the server the leader cannot reach.
func TestStepsLeaveAServerTheLeaderCannotReach(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newDockerBackend(t, "regress-bridge"), 3)
	if why := c.b.partitionSupport(); why != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true, so this is a failure, not a skip)", why)
		}
		t.Skip(why)
	}
	r := newRun(t, "regress-bridge", 1, c)
	r.setup()
	leader, err := c.waitAgreement(time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	others := r.liveExcept(leader)
	side, bridge := others[0], others[1]
	if err := c.b.partition([][2]*node{{leader, side}}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.b.heal(); err != nil {
			t.Error(err)
		}
	}()
	// Placement is by consistent hashing: probe until one was placed on
	// the cut-off server (one in three is), so the test cannot pass
	// without going through the path it is about.
	for i := 1; ; i++ {
		if i > 15 {
			t.Fatalf("no probe in 15 was placed on %s; the test did not exercise the path", side.name)
		}
		began := time.Now()
		id, err := r.probeInstance(time.Minute, leader, bridge)
		if err != nil {
			t.Fatalf("%s is cut from %s only, %s links both, and probe %d did not run: %v", side.name, leader.name, bridge.name, i, err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := c.instanceClient(leader).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: probeWorkflow, InstanceId: id}))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range res.Msg.Steps[0].Attempts {
			if a.Node == side.name {
				t.Logf("probe %d was placed on %s, which %s cannot reach, and succeeded %s after it started: %s",
					i, side.name, leader.name, time.Since(began).Round(100*time.Millisecond), harness.DescribeSteps(res.Msg.Steps))
				return
			}
		}
	}
}

// A write whose commit was ambiguous used to be sent again by a server
// itself, so a Push could be answered created=false for the version it had
// just created, or store its definition as two versions (fixed in dc12bf0
// for a leader that loses leadership after appending, and in 637c1b1 for a
// push forwarded again: it carries a request id). Clients push new
// definitions through every server as fast as they are answered while the
// leader is killed and paused; the history must stay linearizable.
func TestPushResentBetweenServersIsAppliedOnce(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newProcessBackend(t), 3)
	w := newLinWorkload(1, 0)
	r := newRun(t, "regress-push", 1, c, w)
	r.setup()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// Enough pushes that some are in flight at every kill, few enough that
	// the history stays quick to check.
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				w.push(r, i, w.keys[0], w.nextContent(), true, false)
			}
		}()
	}
	for i := 0; i < 6; i++ {
		if i%2 == 0 {
			r.inject("kill-leader")
		} else {
			r.inject("pause-leader")
		}
	}
	close(stop)
	wg.Wait()
	if res := r.checkLinearizable(); len(res.violations) > 0 {
		t.Errorf("%s:\n%s", res.name, strings.Join(res.violations, "\n"))
	}
}
