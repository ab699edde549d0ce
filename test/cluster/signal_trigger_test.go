package cluster

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// sendUntilRecorded sends one signal through any running agent, with one
// request id however often it has to try, so it is recorded exactly once;
// it returns the signal's number.
func sendUntilRecorded(t *testing.T, agents []*harness.Agent, name, requestID string) int64 {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; ; i++ {
		a := agents[i%len(agents)]
		if a.Running() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := signalv1connect.NewSignalServiceClient(harness.HTTPClient(), a.URL()).Send(ctx,
				connect.NewRequest(&signalv1.SendRequest{Name: name, RequestId: requestID}))
			cancel()
			if err == nil {
				return res.Msg.Signal.Seq
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("signal %s (%s) was never recorded", name, requestID)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A signal trigger keeps firing while the leader is SIGKILLed again and
// again: every signal starts exactly one instance, none is lost and none
// starts two.
func TestSignalTriggerFiresOncePerSignalAcrossLeaderKills(t *testing.T) {
	t.Parallel()
	agents := harness.StartCluster(t, 3)
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "on-signal", "signal_triggers": [{"definitions": {"tick": {}}}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), leader.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	// The trigger counts only signals sent once it exists.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := wf.Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: "on-signal"}))
		cancel()
		if err == nil && len(res.Msg.Triggers) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the signal trigger was never set up (%v)", err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	var last int64
	n := 0
	send := func(count int) {
		for range count {
			n++
			last = sendUntilRecorded(t, agents, "tick", fmt.Sprintf("tick-%d", n))
		}
	}
	send(5)
	for round := 0; round < 2; round++ {
		leader = harness.WaitAgreement(t, agents, 60*time.Second)
		leader.Kill()
		send(5) // while the cluster elects a new leader
		harness.WaitAgreement(t, agents, 60*time.Second)
		send(5)
		leader.Restart(t)
		harness.WaitAgreement(t, agents, 60*time.Second)
	}
	if last != int64(n) {
		t.Fatalf("%d signals sent, the last numbered %d: a send was recorded twice or lost", n, last)
	}

	// Every signal 1..n started one instance.
	deadline = time.Now().Add(60 * time.Second)
	for {
		seen, dup := map[int64]int64{}, ""
		for _, a := range agents {
			if !a.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := instanceClient(a).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "on-signal", Limit: 1000}))
			cancel()
			if err != nil {
				continue
			}
			for _, inst := range res.Msg.Instances {
				seq := inst.GetSignalInitiator().GetSignals()["tick"].GetSeq()
				if other, ok := seen[seq]; ok {
					dup = fmt.Sprintf("signal #%d started instances %d and %d", seq, other, inst.InstanceId)
				}
				seen[seq] = inst.InstanceId
			}
			break
		}
		if dup != "" {
			t.Fatal(dup)
		}
		complete := len(seen) == n
		for seq := int64(1); seq <= int64(n); seq++ {
			if _, ok := seen[seq]; !ok {
				complete = false
			}
		}
		if complete {
			t.Logf("%d signals, %d instances, across 2 leader kills", n, len(seen))
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after a minute %d of %d signals started an instance: %v", len(seen), n, seen)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
