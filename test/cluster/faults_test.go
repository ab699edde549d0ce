package cluster

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/test/harness"
)

func instanceClient(a *harness.Agent) instancev1connect.InstanceServiceClient {
	return instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), a.URL())
}

// followersOf lists the running agents other than leader, in name order.
func followersOf(agents []*harness.Agent, leader *harness.Agent) []*harness.Agent {
	var out []*harness.Agent
	for _, a := range agents {
		if a != leader && a.Running() {
			out = append(out, a)
		}
	}
	return out
}

// retriable reports whether a client that cannot tell whether its call took
// effect should send it again (with the same request id): no leader, its
// own deadline, or a follower's answer that the leader went away mid-call.
func retriable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeAborted:
		return true
	}
	return false
}

// startInstances starts one instance per request id through a, and returns
// their ids in order.
func startInstances(t *testing.T, a *harness.Agent, workflowID string, requestIDs []string) []int64 {
	t.Helper()
	c := instanceClient(a)
	ids := make([]int64, 0, len(requestIDs))
	for _, rid := range requestIDs {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		res, err := c.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: workflowID, RequestId: rid}))
		cancel()
		if err != nil {
			t.Fatalf("start %s (request %s) through %s: %v", workflowID, rid, a.Name, err)
		}
		ids = append(ids, res.Msg.Instance.InstanceId)
	}
	return ids
}

func requestIDs(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = prefix + "-" + strconv.Itoa(from+i)
	}
	return out
}

// requireSucceededOnce checks that an instance succeeded and that each of its
// steps has exactly one accepted (SUCCEEDED) attempt.
func requireSucceededOnce(t *testing.T, res *instancev1.GetResponse) {
	t.Helper()
	inst := res.Instance
	if inst.Status != fsm.InstanceSucceeded {
		t.Errorf("instance %s/%d ended %s (%s): %s", inst.WorkflowId, inst.InstanceId, inst.Status, inst.Reason, harness.DescribeSteps(res.Steps))
		return
	}
	for _, st := range res.Steps {
		accepted := 0
		for _, a := range st.Attempts {
			if a.Status == fsm.AttemptSucceeded {
				accepted++
			}
		}
		if st.Status != fsm.StepSucceeded || accepted != 1 {
			t.Errorf("instance %s/%d step %s is %s with %d SUCCEEDED attempts: %s",
				inst.WorkflowId, inst.InstanceId, st.StepId, st.Status, accepted, harness.DescribeSteps(res.Steps))
		}
	}
}

// Five servers form one cluster: every node names the same leader and sees
// the same five voters, and a definition pushed through one follower runs to
// SUCCEEDED when started through another.
func TestFiveServersAgreeAndRunWorkThroughAnyNode(t *testing.T) {
	agents := harness.StartCluster(t, 5)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	names := map[string]bool{}
	for _, a := range agents {
		names[a.Name] = true
	}
	for _, a := range agents {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := a.Status(ctx)
		cancel()
		if err != nil {
			t.Fatalf("status of %s: %v", a.Name, err)
		}
		if st.LeaderId != leader.Name || st.LeaderApiAddress != leader.URL() {
			t.Errorf("%s names leader %q at %q, want %q at %q", a.Name, st.LeaderId, st.LeaderApiAddress, leader.Name, leader.URL())
		}
		voters := map[string]bool{}
		for _, p := range st.Peers {
			if !names[p.Id] {
				t.Errorf("%s lists unknown peer %q", a.Name, p.Id)
			}
			if p.Voter {
				voters[p.Id] = true
			}
			if p.Leader != (p.Id == leader.Name) {
				t.Errorf("%s marks peer %s leader=%v; the leader is %s", a.Name, p.Id, p.Leader, leader.Name)
			}
		}
		if len(voters) != 5 || len(st.Peers) != 5 {
			t.Errorf("%s sees %d voters among %d peers, want 5 of 5: %v", a.Name, len(voters), len(st.Peers), st.Peers)
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	f := followersOf(agents, leader)
	pushVia, startVia, readVia := f[0], f[1], f[2]
	harness.MustCLI(t, pushVia.URL(), "workflow", "push", "testdata/sleepy.json")
	r := harness.CLI(t, startVia.URL(), "instance", "start", "sleepy", "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait through %s: exit %d\nstdout: %s\nstderr: %s", startVia.Name, r.Code, r.Stdout, r.Stderr)
	}
	id, err := strconv.ParseInt(strings.TrimSpace(r.Stdout), 10, 64)
	if err != nil {
		t.Fatalf("start printed %q, want an instance id", r.Stdout)
	}
	final := harness.WaitInstancesEnded(t, readVia.URL(), "sleepy", []int64{id}, 10*time.Second)
	requireSucceededOnce(t, final[id])

	// Every replica applies the outcome, not only the nodes involved.
	for _, a := range agents {
		waitStale(t, a, 20*time.Second, func(c instancev1connect.InstanceServiceClient) string {
			res, err := c.Get(context.Background(), connect.NewRequest(&instancev1.GetRequest{WorkflowId: "sleepy", InstanceId: id, Stale: true}))
			if err != nil {
				return err.Error()
			}
			if s := res.Msg.Instance.Status; s != fsm.InstanceSucceeded {
				return "instance is " + s
			}
			return ""
		})
	}
}

// waitStale polls one agent's replica until check reports nothing missing.
func waitStale(t *testing.T, a *harness.Agent, timeout time.Duration, check func(instancev1connect.InstanceServiceClient) string) {
	t.Helper()
	c := instanceClient(a)
	deadline := time.Now().Add(timeout)
	for {
		why := check(c)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s's replica not caught up after %s: %s", a.Name, timeout, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type stepKey struct {
	instance int64
	step     string
}

// runningOn returns, for every step whose current attempt the cluster
// records as RUNNING on node, that attempt's number.
func runningOn(t *testing.T, c instancev1connect.InstanceServiceClient, workflowID string, ids []int64, node string) map[stepKey]int64 {
	t.Helper()
	out := map[stepKey]int64{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := c.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: workflowID, InstanceId: id}))
		cancel()
		if err != nil {
			t.Fatalf("get %s/%d: %v", workflowID, id, err)
		}
		for _, st := range res.Msg.Steps {
			if st.Status == fsm.StepRunning && st.Node == node && len(st.Attempts) > 0 {
				out[stepKey{id, st.StepId}] = st.Attempts[len(st.Attempts)-1].AttemptNumber
			}
		}
	}
	return out
}

// SIGKILL of a follower in the middle of its steps: gossip declares it
// failed, its attempts become PLATFORM_FAILED and run again on the
// survivors, and every instance still succeeds with one accepted result per
// step.
func TestFollowerKilledWhileRunningStepsIsRetriedElsewhere(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	harness.MustCLI(t, leader.URL(), "workflow", "push", "testdata/fanout.json")
	ids := startInstances(t, leader, "fanout", requestIDs("fanout", 0, 10))
	c := instanceClient(leader)

	// Kill a follower only once it demonstrably runs several steps.
	var victim *harness.Agent
	deadline := time.Now().Add(30 * time.Second)
	for victim == nil {
		for _, f := range followersOf(agents, leader) {
			if len(runningOn(t, c, "fanout", ids, f.Name)) >= 3 {
				victim = f
				break
			}
		}
		if victim == nil {
			if time.Now().After(deadline) {
				t.Fatal("no follower ran 3 steps at once within 30s")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	victim.Kill()
	// Read after the kill: these attempts can no longer report, so each
	// must be declared lost and retried.
	lost := runningOn(t, c, "fanout", ids, victim.Name)
	if len(lost) == 0 {
		t.Fatalf("%s was killed but the cluster records no step running on it", victim.Name)
	}
	t.Logf("killed %s with %d attempts running on it", victim.Name, len(lost))

	if l := harness.WaitAgreement(t, agents, 30*time.Second); l != leader {
		t.Logf("leadership moved from %s to %s after a follower died", leader.Name, l.Name)
	}
	final := harness.WaitInstancesEnded(t, followersOf(agents, nil)[0].URL(), "fanout", ids, 60*time.Second)
	retried := 0
	for _, id := range ids {
		res := final[id]
		requireSucceededOnce(t, res)
		for _, st := range res.Steps {
			for _, a := range st.Attempts {
				if a.Status == fsm.AttemptPlatformFailed && a.Node != victim.Name {
					t.Errorf("instance %d step %s attempt %d on live node %s was PLATFORM_FAILED: %s", id, st.StepId, a.AttemptNumber, a.Node, a.Error)
				}
			}
			n, ok := lost[stepKey{id, st.StepId}]
			if !ok {
				continue
			}
			var lostAt int
			for i, a := range st.Attempts {
				if a.AttemptNumber == n {
					lostAt = i
				}
			}
			a := st.Attempts[lostAt]
			if a.Node != victim.Name || a.Status != fsm.AttemptPlatformFailed {
				t.Errorf("instance %d step %s: attempt %d was running on %s when it was killed, now %s on %s: %s",
					id, st.StepId, n, victim.Name, a.Status, a.Node, harness.DescribeSteps([]*statepb.Step{st}))
				continue
			}
			last := st.Attempts[len(st.Attempts)-1]
			if lostAt == len(st.Attempts)-1 || last.Status != fsm.AttemptSucceeded || last.Node == victim.Name {
				t.Errorf("instance %d step %s: lost attempt %d is not followed by a SUCCEEDED attempt on another node: %s",
					id, st.StepId, n, harness.DescribeSteps([]*statepb.Step{st}))
				continue
			}
			retried++
		}
	}
	if retried != len(lost) {
		t.Errorf("%d of %d lost attempts were retried to success elsewhere", retried, len(lost))
	}
}

// startClient starts instances as a careful client does: every start carries
// its own request id and, when the outcome is unknown (no leader, the node
// went away, a timeout), is sent again with the same id, to the next node.
type startClient struct {
	agents   []*harness.Agent
	next     int
	retries  int
	timeouts int // retries after a try that timed out, which may have taken effect
}

func (c *startClient) start(workflowID, requestID string, within time.Duration) (int64, error) {
	deadline := time.Now().Add(within)
	// The first try is impatient on purpose: it often gives up while its
	// entry is being committed, so the retry with the same request id races
	// a start that did happen and must not make a second instance.
	patience := 10 * time.Millisecond
	var last error
	for time.Now().Before(deadline) {
		a := c.agents[c.next%len(c.agents)]
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		patience = min(2*patience, 2*time.Second)
		res, err := instanceClient(a).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: workflowID, RequestId: requestID}))
		cancel()
		if err == nil {
			return res.Msg.Instance.InstanceId, nil
		}
		if !retriable(err) {
			return 0, fmt.Errorf("start %s through %s: %w", requestID, a.Name, err)
		}
		last = err
		c.next++
		c.retries++
		if connect.CodeOf(err) == connect.CodeDeadlineExceeded {
			c.timeouts++
		}
		time.Sleep(50 * time.Millisecond) // client backoff between tries
	}
	return 0, fmt.Errorf("start %s not acknowledged within %s: %w", requestID, within, last)
}

// A rolling restart (SIGTERM, then the same agent again) of every server
// while a client keeps starting instances: each acknowledged start made
// exactly one instance, and all of them succeed.
func TestRollingRestartUnderLoadStartsEachInstanceOnce(t *testing.T) {
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	harness.MustCLI(t, leader.URL(), "workflow", "push", "testdata/rolling.json")

	var (
		mu       sync.Mutex
		acked    = map[string]int64{} // request id -> instance id
		loadErr  error
		retries  int
		timeouts int
	)
	ackedCount := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	// Several clients, each first talking to a different server, so starts
	// are in flight on the leader and on forwarding followers when each of
	// them goes down.
	const clients = 3
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &startClient{agents: agents, next: c}
			defer func() {
				mu.Lock()
				retries += client.retries
				timeouts += client.timeouts
				mu.Unlock()
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				rid := fmt.Sprintf("roll-%d-%d", c, i)
				id, err := client.start("rolling", rid, 60*time.Second)
				mu.Lock()
				if err != nil {
					loadErr = err
					mu.Unlock()
					return
				}
				acked[rid] = id
				mu.Unlock()
			}
		}()
	}
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	waitProgress := func(what string) {
		t.Helper()
		want := ackedCount() + 30
		deadline := time.Now().Add(30 * time.Second)
		for ackedCount() < want {
			mu.Lock()
			err := loadErr
			mu.Unlock()
			if err != nil {
				t.Fatalf("%s: client gave up: %v", what, err)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: fewer than 30 starts acknowledged in 30s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-done
	}()

	waitProgress("before restarts")
	for _, a := range agents {
		a.Stop()
		harness.WaitAgreement(t, agents, 30*time.Second)
		waitProgress("with " + a.Name + " down")
		a.Restart(t)
		harness.WaitAgreement(t, agents, 60*time.Second)
		waitProgress("after restarting " + a.Name)
	}
	close(stop)
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		t.Fatal("the client did not finish its last start")
	}
	if loadErr != nil {
		t.Fatalf("client gave up: %v", loadErr)
	}

	leader = harness.WaitAgreement(t, agents, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	list, err := instanceClient(leader).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "rolling", Limit: 100000}))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d starts acknowledged after %d retries with the same request id (%d after a timeout); %d instances exist",
		len(acked), retries, timeouts, len(list.Msg.Instances))
	byRequest := map[string][]int64{}
	var ids []int64
	for _, inst := range list.Msg.Instances {
		byRequest[inst.RequestId] = append(byRequest[inst.RequestId], inst.InstanceId)
		ids = append(ids, inst.InstanceId)
	}
	for rid, id := range acked {
		if got := byRequest[rid]; len(got) != 1 || got[0] != id {
			t.Errorf("request %s was acknowledged as instance %d; instances with that request id: %v", rid, id, got)
		}
	}
	for rid, got := range byRequest {
		if _, ok := acked[rid]; !ok {
			t.Errorf("instances %v have request id %q that no acknowledged start used", got, rid)
		}
	}
	if len(list.Msg.Instances) != len(acked) {
		t.Errorf("%d instances for %d acknowledged distinct request ids", len(list.Msg.Instances), len(acked))
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for i, id := range ids {
		if id != int64(i+1) {
			t.Errorf("instance ids are not 1..%d without gaps: position %d holds %d", len(ids), i, id)
			break
		}
	}
	final := harness.WaitInstancesEnded(t, leader.URL(), "rolling", ids, 60*time.Second)
	reexecuted := 0
	for _, id := range ids {
		requireSucceededOnce(t, final[id])
		for _, st := range final[id].Steps {
			for _, a := range st.Attempts {
				if a.Executions > 1 {
					reexecuted++
				}
			}
		}
	}
	t.Logf("%d attempts were re-executed by a restarted node", reexecuted)
}

var snapshotFlags = []string{"-raft-snapshot-threshold", "64", "-raft-trailing-logs", "16", "-raft-snapshot-interval", "1s"}

const snapshotThreshold = 64

func raftStatus(t *testing.T, a *harness.Agent) *clusterv1.StatusResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := a.Status(ctx)
	if err != nil {
		t.Fatalf("status of %s: %v", a.Name, err)
	}
	return st
}

func logSize(t *testing.T, a *harness.Agent) int64 {
	t.Helper()
	fi, err := os.Stat(a.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func logSince(t *testing.T, a *harness.Agent, off int64) string {
	t.Helper()
	b, err := os.ReadFile(a.LogPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b[off:])
}

// A follower that missed many commands (down, or its data dir wiped) is
// brought up to date by an InstallSnapshot, because the others have long
// since compacted the log it would need.
func TestWipedFollowerCatchesUpFromSnapshot(t *testing.T) {
	testFollowerCatchesUpFromSnapshot(t, true)
}

func TestLaggingFollowerCatchesUpFromSnapshot(t *testing.T) {
	testFollowerCatchesUpFromSnapshot(t, false)
}

func testFollowerCatchesUpFromSnapshot(t *testing.T, wipe bool) {
	agents := harness.StartCluster(t, 3, snapshotFlags...)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	harness.MustCLI(t, leader.URL(), "workflow", "push", "testdata/tick.json")
	ids := startInstances(t, leader, "tick", requestIDs("tick", 0, 5))
	harness.WaitInstancesEnded(t, leader.URL(), "tick", ids, 30*time.Second)

	victim := followersOf(agents, leader)[0]
	victimLast := raftStatus(t, victim).LastLogIndex
	victim.Kill()
	if wipe {
		if err := os.RemoveAll(victim.DataDir); err != nil {
			t.Fatal(err)
		}
	}

	// Work until every survivor has compacted away the entries the victim
	// would need next, after several snapshots' worth of commands.
	survivors := followersOf(agents, nil)
	compacted := func() (bool, string) {
		ok, desc := true, []string{}
		for _, a := range survivors {
			st := raftStatus(t, a)
			desc = append(desc, fmt.Sprintf("%s: log from %d, snapshot at %d", a.Name, st.FirstLogIndex, st.LastSnapshotIndex))
			if st.FirstLogIndex <= victimLast+1 || st.LastSnapshotIndex < victimLast+3*snapshotThreshold {
				ok = false
			}
		}
		return ok, strings.Join(desc, "; ")
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ok, desc := compacted()
		if ok {
			t.Logf("victim %s stopped at index %d; %s; %d instances", victim.Name, victimLast, desc, len(ids))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("survivors did not compact past index %d within 60s (%s)", victimLast, desc)
		}
		more := startInstances(t, leader, "tick", requestIDs("tick", len(ids), 10))
		harness.WaitInstancesEnded(t, leader.URL(), "tick", more, 30*time.Second)
		ids = append(ids, more...)
	}

	off := logSize(t, victim)
	victim.Restart(t)
	harness.WaitAgreement(t, agents, 60*time.Second)
	waitAllStale(t, victim, "tick", ids, 45*time.Second)
	requireSameReplica(t, victim, leader, "tick", ids)
	var listed instancev1.ListResponse
	harness.CLIJSON(t, victim.URL(), &listed, "instance", "list", "tick", "--stale", "--limit", "100000")
	if len(listed.Instances) != len(ids) {
		t.Errorf("instance list --stale on %s shows %d instances, want %d", victim.Name, len(listed.Instances), len(ids))
	}
	if log := logSince(t, victim, off); !strings.Contains(log, "Installed remote snapshot") {
		t.Errorf("%s caught up without installing a snapshot from the leader; its log since restart:\n%s", victim.Name, log)
	}
	// It holds the snapshot it was sent, and its log does not go back to
	// the beginning of history.
	if st := raftStatus(t, victim); st.LastSnapshotIndex <= victimLast || st.FirstLogIndex == 1 {
		t.Errorf("%s after catching up: log from %d, snapshot at %d (it stopped at %d)", victim.Name, st.FirstLogIndex, st.LastSnapshotIndex, victimLast)
	}

	// Restarted once more, it rebuilds its state from that snapshot and
	// serves as a full member.
	victim.Stop()
	victim.Restart(t)
	harness.WaitAgreement(t, agents, 60*time.Second)
	waitAllStale(t, victim, "tick", ids, 30*time.Second)
	r := harness.CLI(t, victim.URL(), "instance", "start", "tick", "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait through %s: exit %d\n%s", victim.Name, r.Code, r.Stderr)
	}

	// Back in gossip, it is given steps again.
	deadline = time.Now().Add(30 * time.Second)
	for batch := 0; ; batch++ {
		more := startInstances(t, victim, "tick", requestIDs("after", 10*batch, 10))
		ranThere := 0
		for _, res := range harness.WaitInstancesEnded(t, victim.URL(), "tick", more, 30*time.Second) {
			requireSucceededOnce(t, res)
			for _, st := range res.Steps {
				for _, a := range st.Attempts {
					if a.Node == victim.Name {
						ranThere++
					}
				}
			}
		}
		if ranThere > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no step was placed on %s within 30s of its return", victim.Name)
		}
	}
}

// waitAllStale waits until a's own replica lists every instance in ids as
// SUCCEEDED, and no other.
func waitAllStale(t *testing.T, a *harness.Agent, workflowID string, ids []int64, timeout time.Duration) {
	t.Helper()
	want := map[int64]bool{}
	for _, id := range ids {
		want[id] = true
	}
	waitStale(t, a, timeout, func(c instancev1connect.InstanceServiceClient) string {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		res, err := c.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: workflowID, Limit: 100000, Stale: true}))
		if err != nil {
			return err.Error()
		}
		ok := 0
		for _, inst := range res.Msg.Instances {
			if !want[inst.InstanceId] {
				return fmt.Sprintf("lists unknown instance %d", inst.InstanceId)
			}
			if inst.Status == fsm.InstanceSucceeded {
				ok++
			}
		}
		if ok != len(want) {
			return fmt.Sprintf("%d of %d instances listed as SUCCEEDED", ok, len(want))
		}
		return ""
	})
}

// requireSameReplica checks that a's and b's replicas hold the same record of
// each (ended) instance: the instance, its steps with every attempt, and its
// timeline.
func requireSameReplica(t *testing.T, a, b *harness.Agent, workflowID string, ids []int64) {
	t.Helper()
	ca, cb := instanceClient(a), instanceClient(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range ids {
		req := &instancev1.GetRequest{WorkflowId: workflowID, InstanceId: id, Stale: true}
		ra, err := ca.Get(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("get %d from %s: %v", id, a.Name, err)
		}
		rb, err := cb.Get(ctx, connect.NewRequest(req))
		if err != nil {
			t.Fatalf("get %d from %s: %v", id, b.Name, err)
		}
		if !proto.Equal(ra.Msg, rb.Msg) {
			t.Errorf("instance %d differs between %s and %s:\n%s: %v\n%s: %v", id, a.Name, b.Name, a.Name, ra.Msg, b.Name, rb.Msg)
		}
		ea, eb := timeline(ctx, t, ca, workflowID, id), timeline(ctx, t, cb, workflowID, id)
		if len(ea) != len(eb) {
			t.Errorf("instance %d has %d events on %s, %d on %s", id, len(ea), a.Name, len(eb), b.Name)
			continue
		}
		for i := range ea {
			if !proto.Equal(ea[i], eb[i]) {
				t.Errorf("instance %d event %d differs: %s has %v, %s has %v", id, i, a.Name, ea[i], b.Name, eb[i])
			}
		}
	}
}

// timeline reads an ended instance's events from one node's replica.
func timeline(ctx context.Context, t *testing.T, c instancev1connect.InstanceServiceClient, workflowID string, id int64) []*statepb.Event {
	t.Helper()
	stream, err := c.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: workflowID, InstanceId: id}))
	if err != nil {
		t.Fatalf("watch %d: %v", id, err)
	}
	defer stream.Close()
	var out []*statepb.Event
	for stream.Receive() {
		out = append(out, stream.Msg().Event)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("watch %d: %v", id, err)
	}
	return out
}
