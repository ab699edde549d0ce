package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// BenchmarkForeach10k runs one foreach of 10,000 NoOp iterations with
// concurrency 1,000 per iteration and reports the makespan (instance start to
// end as the FSM recorded it) and the leader's peak RSS.
func BenchmarkForeach10k(b *testing.B) {
	b.Run("nodes=1", func(b *testing.B) { benchForeach(b, 1, 10_000) })
	b.Run("nodes=3", func(b *testing.B) { benchForeach(b, 3, 10_000) })
}

func foreachDefinition(id string, n int) string {
	return fmt.Sprintf(`{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 10}},
	  "workflow": {"id": %q, "steps": [{"foreach": {"id": "loop", "concurrency": 1000,
	    "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "expression": "Util.intsBetween(0, %d, 1)"}}}},
	    "steps": [{"step": {"id": "work", "type": "NoOp"}}]}}]}}`, id, n)
}

func benchForeach(b *testing.B, nodes, n int) {
	agents, c := target(b, nodes)
	ctx := context.Background()
	if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: foreachDefinition("fan", n)})); err != nil {
		b.Fatal(err)
	}
	var spans []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "fan"}))
		if err != nil {
			b.Fatal(err)
		}
		id := res.Msg.Instance.InstanceId
		waitTerminal(ctx, b, c, "fan", id)
		got, err := c.in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "fan", InstanceId: id}))
		if err != nil {
			b.Fatal(err)
		}
		inst := got.Msg.Instance
		if inst.Status != "SUCCEEDED" || got.Msg.Rollup["SUCCEEDED"] != int64(n) {
			b.Fatalf("foreach ended %s with rollup %v", inst.Status, got.Msg.Rollup)
		}
		spans = append(spans, inst.EndTime.AsTime().Sub(inst.StartTime.AsTime()))
	}
	b.StopTimer()
	sort.Slice(spans, func(i, j int) bool { return spans[i] < spans[j] })
	med := percentile(spans, 0.5)
	var rss int64
	for _, a := range agents {
		rss = max(rss, a.PeakRSS())
	}
	b.ReportMetric(med.Seconds(), "makespan_s")
	b.ReportMetric(float64(n)/med.Seconds(), "iterations_per_s")
	b.ReportMetric(float64(rss)/(1<<20), "peak_rss_mb")
	b.ReportMetric(0, "ns/op")
	conditions(b)
}

// BenchmarkCronStorm pushes 10,000 workflows whose time triggers all fire at
// the same second and reports how late each instance started running after
// its scheduled time (the leader decides the fire, commits it, then starts
// the instance in a later round, so this includes the commits), and how many
// scheduled fires produced no instance.
func BenchmarkCronStorm(b *testing.B) {
	const n = 10_000
	b.Run("nodes=3", func(b *testing.B) {
		agents := harness.StartCluster(b, 3, "-min-trigger-interval", "1m")
		leader := harness.WaitAgreement(b, agents, time.Minute)
		c := clientsFor(leader)
		ctx := context.Background()
		// Every minute at second 0; all pushed before the next minute.
		start := time.Now()
		for i := 0; i < n; i++ {
			def := fmt.Sprintf(`{"properties": {"run_strategy": "PARALLEL"}, "workflow": {"id": "storm-%d",
			  "time_triggers": [{"type": "CRON", "cron": "0 * * * * ? *"}],
			  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`, i)
			if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def})); err != nil {
				b.Fatal(err)
			}
		}
		pushed := time.Now()
		due := pushed.Truncate(time.Minute).Add(time.Minute)
		b.Logf("pushed %d workflows in %s; storm due at %s", n, pushed.Sub(start), due.UTC())
		b.ResetTimer()
		time.Sleep(time.Until(due.Add(20 * time.Second)))
		var lags []time.Duration
		missed := 0
		for i := 0; i < n; i++ {
			res, err := c.in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: fmt.Sprintf("storm-%d", i), Limit: 10, Stale: true}))
			if err != nil {
				b.Fatal(err)
			}
			found := false
			for _, inst := range res.Msg.Instances {
				v, err := scheduler.ValueFromParam(inst.Params["RUN_TS"])
				if err != nil || !strings.HasPrefix(inst.RequestId, "trigger:") {
					continue
				}
				if v.Raw.(int64) == due.UnixMilli() {
					found = true
					if inst.StartTime == nil {
						b.Fatalf("storm-%d fired but has not started 20s later", i)
					}
					lags = append(lags, inst.StartTime.AsTime().Sub(due))
				}
			}
			if !found {
				missed++
			}
		}
		b.StopTimer()
		sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
		if len(lags) == 0 {
			b.Fatalf("no fires at all; %d missed", missed)
		}
		b.ReportMetric(ms(percentile(lags, 0.5)), "lag_ms_p50")
		b.ReportMetric(ms(percentile(lags, 0.99)), "lag_ms_p99")
		b.ReportMetric(ms(lags[len(lags)-1]), "lag_ms_max")
		b.ReportMetric(float64(missed), "missed")
		b.ReportMetric(0, "ns/op")
		conditions(b)
	})
}
