// Package bench runs Baton's benchmark workloads (ops/bench, the same code
// as `baton bench`) as Go benchmarks against real agents: child processes
// on loopback, Raft log in bolt with fsync on. Run with `make bench`;
// figures go to docs/BENCHMARKS.md. Nothing here asserts a time: benchmarks
// report. Each iteration starts a fresh cluster, runs the workload once and
// stops it; a figure reported is the median over the iterations
// (-benchtime=Nx). The floors (floor_test.go) run the libraries the design
// fixes in this process with a state machine that does nothing, to show
// what a start or a step costs before Baton's own work.
package bench

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	opsbench "github.com/batonhq/baton/ops/bench"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// run runs w b.N times, each on a fresh cluster of nodes local agents, and
// reports the median of every figure. Problems (lost, duplicated or missed
// work) fail the benchmark.
func run(b *testing.B, nodes int, w opsbench.Workload, agentFlags ...string) {
	b.Helper()
	var results []*opsbench.Result
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		res, err := opsbench.Run(ctx, w, opsbench.Options{
			Local: nodes, Binary: harness.Binary(b), AgentFlags: agentFlags, Progress: logWriter{b},
		})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		for _, p := range res.Problems {
			b.Error(p)
		}
		results = append(results, res)
	}
	report(b, results)
}

// report gives each figure's median over the runs to the benchmark, and
// logs the conditions of the first run.
func report(b *testing.B, results []*opsbench.Result) {
	b.Helper()
	if len(results) == 0 {
		return
	}
	for _, m := range results[0].Metrics {
		var vals []float64
		for _, r := range results {
			if got, ok := r.Metric(m.Name); ok && got.Known {
				vals = append(vals, got.Value)
			}
		}
		if len(vals) == 0 {
			continue
		}
		sort.Float64s(vals)
		b.ReportMetric(vals[(len(vals)-1)/2], m.Name)
	}
	b.ReportMetric(0, "ns/op")
	var sb strings.Builder
	if err := results[0].WriteTable(&sb); err == nil {
		b.Logf("first run:\n%s", sb.String())
	}
}

// logWriter sends a run's progress lines to the benchmark's log.
type logWriter struct{ b *testing.B }

func (w logWriter) Write(p []byte) (int, error) {
	w.b.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// BenchmarkChain1000 runs one instance of a 1,000-step NoOp chain and
// reports the engine's overhead per step (one step's placement to the
// next one's, as the leader recorded it) and the start latency.
func BenchmarkChain1000(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) { run(b, nodes, opsbench.Chain{Steps: 1000}) })
	}
}

// BenchmarkStarts starts one-step instances for 5 s, from 64 closed-loop
// clients and from an open loop at 1,000 starts/s, and reports throughput
// and acknowledgement latency.
func BenchmarkStarts(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d/clients=64", nodes), func(b *testing.B) {
			run(b, nodes, opsbench.Starts{Clients: 64, Duration: 5 * time.Second})
		})
		b.Run(fmt.Sprintf("nodes=%d/rate=1000", nodes), func(b *testing.B) {
			run(b, nodes, opsbench.Starts{Rate: 1000, Duration: 5 * time.Second})
		})
	}
}

// BenchmarkFailover keeps a 3-server cluster under 50 starts/s, SIGKILLs
// the leader, and reports how long commits stopped, how long until the new
// leader placed a step, and lost or duplicated work.
func BenchmarkFailover(b *testing.B) {
	run(b, 3, opsbench.Failover{})
}

// BenchmarkLogGrowth writes at least 100,000 Raft entries through one agent
// with default snapshot and retention settings, and reports how many log
// entries were ever on disk at once and how many instances the state kept.
func BenchmarkLogGrowth(b *testing.B) {
	for i := 0; i < b.N; i++ {
		logGrowth(b)
	}
}

func logGrowth(b *testing.B) {
	ctx := context.Background()
	cl, err := opsbench.StartLocal(ctx, opsbench.LocalOptions{Nodes: 1, Binary: harness.Binary(b)})
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Stop()
	leader, err := cl.WaitAgreement(ctx, time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	c := leader.Client()
	def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "tiny", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`
	if err := c.Push(ctx, def); err != nil {
		b.Fatal(err)
	}
	var next atomic.Int64
	var maxOnDisk, last uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	defer func() {
		close(stop)
		wg.Wait()
	}()
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				k := next.Add(1)
				if _, err := c.Instances.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "tiny", RequestId: fmt.Sprint("g", k)})); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	for last < 100_000 {
		time.Sleep(200 * time.Millisecond)
		st, err := c.Status(ctx)
		if err != nil {
			b.Fatal(err)
		}
		last = st.LastLogIndex
		if d := st.LastLogIndex - st.FirstLogIndex + 1; d > maxOnDisk {
			maxOnDisk = d
		}
	}
	list, err := c.Instances.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "tiny", Limit: 100_000}))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(last), "entries_written")
	b.ReportMetric(float64(maxOnDisk), "max_entries_on_disk")
	b.ReportMetric(float64(next.Load()), "instances_started")
	b.ReportMetric(float64(len(list.Msg.Instances)), "instances_kept")
	b.ReportMetric(0, "ns/op")
}
