package cluster

import (
	"context"
	"sort"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// A cron trigger firing every two seconds keeps firing while the leader is
// SIGKILLed again and again: the instances are exactly the scheduled times
// from the first fire to the last, each once.
func TestCronFiresEveryScheduledTimeOnceAcrossLeaderKills(t *testing.T) {
	t.Parallel()
	agents := harness.StartCluster(t, 3, "-min-trigger-interval", "1s")
	leader := harness.WaitAgreement(t, agents, 30*time.Second)
	def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "tick", "time_triggers": [{"type": "CRON", "cron": "*/2 * * * * ? *"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), leader.URL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	waitFires(t, agents, 2)
	for round := 0; round < 3; round++ {
		leader = harness.WaitAgreement(t, agents, 60*time.Second)
		leader.Kill()
		harness.WaitAgreement(t, agents, 60*time.Second)
		waitFires(t, agents, 2*(round+2))
		leader.Restart(t)
		harness.WaitAgreement(t, agents, 60*time.Second)
	}
	// Let the trigger fire past the last kill, then read every instance.
	time.Sleep(3 * time.Second)
	times := scheduledTimes(t, agents)
	if len(times) < 8 {
		t.Fatalf("only %d fires", len(times))
	}
	seen := map[int64]bool{}
	for _, ms := range times {
		if seen[ms] {
			t.Fatalf("scheduled time %s fired twice", time.UnixMilli(ms).UTC())
		}
		seen[ms] = true
	}
	first, last := times[0], times[len(times)-1]
	for ms := first; ms <= last; ms += 2000 {
		if !seen[ms] {
			t.Errorf("scheduled time %s between the first (%s) and last (%s) fire never fired",
				time.UnixMilli(ms).UTC(), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC())
		}
	}
	if len(seen) != int((last-first)/2000)+1 {
		t.Errorf("%d fires between %s and %s, want one per two seconds", len(seen), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC())
	}
	if behind := time.Since(time.UnixMilli(last)); behind > 10*time.Second {
		t.Errorf("the last fire was %s ago: the trigger stopped firing", behind)
	}
	t.Logf("%d fires from %s to %s across 3 leader kills", len(times), time.UnixMilli(first).UTC(), time.UnixMilli(last).UTC())
}

// scheduledTimes returns each tick instance's RUN_TS (its scheduled time),
// sorted, read through any running agent.
func scheduledTimes(t *testing.T, agents []*harness.Agent) []int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, a := range agents {
			if !a.Running() {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := instanceClient(a).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "tick", Limit: 10000}))
			cancel()
			if err != nil {
				continue
			}
			var out []int64
			for _, inst := range res.Msg.Instances {
				v, err := scheduler.ValueFromParam(inst.Params["RUN_TS"])
				if err != nil {
					t.Fatalf("instance %d has no RUN_TS: %v", inst.InstanceId, err)
				}
				out = append(out, v.Raw.(int64))
			}
			sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
			return out
		}
		if time.Now().After(deadline) {
			t.Fatal("no agent answered the instance list")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitFires(t *testing.T, agents []*harness.Agent, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for len(scheduledTimes(t, agents)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d fires within a minute", n)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
