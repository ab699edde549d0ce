// Package bench measures a real dev agent (a child process, Raft with fsync
// on) through its public API. Run with `make bench`; figures go to
// docs/BENCHMARKS.md. Nothing here asserts a time: benchmarks report.
package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// chainDefinition is a workflow of n NoOp steps in a line.
func chainDefinition(id string, n int) string {
	type succ struct {
		Successors map[string]string `json:"successors,omitempty"`
	}
	type step struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Transition *succ  `json:"transition,omitempty"`
	}
	type wrap struct {
		Step step `json:"step"`
	}
	steps := make([]wrap, n)
	for i := range steps {
		s := step{ID: fmt.Sprintf("s%04d", i), Type: "NoOp"}
		if i+1 < n {
			s.Transition = &succ{Successors: map[string]string{fmt.Sprintf("s%04d", i+1): "true"}}
		}
		steps[i] = wrap{Step: s}
	}
	b, _ := json.Marshal(map[string]any{
		"properties": map[string]any{"owner": "bench"},
		"workflow":   map[string]any{"id": id, "steps": steps},
	})
	return string(b)
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type clients struct {
	wf workflowv1connect.WorkflowServiceClient
	in instancev1connect.InstanceServiceClient
}

func clientsFor(a *harness.Agent) clients {
	return clients{
		wf: workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), a.URL()),
		in: instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), a.URL()),
	}
}

// target starts what a benchmark runs against: one dev agent, or a cluster
// of n servers whose leader the clients talk to (so figures measure the
// engine, not forwarding).
func target(b *testing.B, n int) ([]*harness.Agent, clients) {
	if n == 1 {
		a := harness.StartDev(b, "-max-workflow-steps", "1000")
		return []*harness.Agent{a}, clientsFor(a)
	}
	agents := harness.StartCluster(b, n, "-max-workflow-steps", "1000")
	leader := harness.WaitAgreement(b, agents, time.Minute)
	return agents, clientsFor(leader)
}

func waitTerminal(ctx context.Context, b *testing.B, c clients, wf string, id int64) {
	stream, err := c.in.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: wf, InstanceId: id}))
	if err != nil {
		b.Fatal(err)
	}
	for stream.Receive() {
	}
	if err := stream.Err(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkChain1000 runs one instance of a 1,000-step NoOp chain per
// iteration and reports the engine's overhead per step: the time from one
// step's start to the next one's, as the FSM recorded it.
func BenchmarkChain1000(b *testing.B) {
	b.Run("nodes=1", func(b *testing.B) { benchChain(b, 1) })
	b.Run("nodes=3", func(b *testing.B) { benchChain(b, 3) })
}

func benchChain(b *testing.B, nodes int) {
	const n = 1000
	_, c := target(b, nodes)
	ctx := context.Background()
	if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: chainDefinition("chain", n)})); err != nil {
		b.Fatal(err)
	}
	var gaps []time.Duration
	var startLat []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		res, err := c.in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "chain"}))
		if err != nil {
			b.Fatal(err)
		}
		id := res.Msg.Instance.InstanceId
		waitTerminal(ctx, b, c, "chain", id)
		got, err := c.in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "chain", InstanceId: id}))
		if err != nil {
			b.Fatal(err)
		}
		if got.Msg.Instance.Status != "SUCCEEDED" {
			b.Fatalf("chain ended %s", got.Msg.Instance.Status)
		}
		steps := got.Msg.Steps
		startLat = append(startLat, steps[0].Attempts[0].StartTime.AsTime().Sub(t0))
		for j := 1; j < len(steps); j++ {
			gaps = append(gaps, steps[j].Attempts[0].StartTime.AsTime().Sub(steps[j-1].Attempts[0].StartTime.AsTime()))
		}
	}
	b.StopTimer()
	sort.Slice(gaps, func(i, j int) bool { return gaps[i] < gaps[j] })
	sort.Slice(startLat, func(i, j int) bool { return startLat[i] < startLat[j] })
	b.ReportMetric(ms(percentile(gaps, 0.5)), "per_step_ms_p50")
	b.ReportMetric(ms(percentile(gaps, 0.99)), "per_step_ms_p99")
	b.ReportMetric(ms(percentile(startLat, 0.5)), "start_ms")
	b.ReportMetric(0, "ns/op")
	conditions(b)
}

// BenchmarkStarts starts instances of a one-step workflow from concurrent
// clients (closed loop) and reports throughput and acknowledgement latency.
func BenchmarkStarts(b *testing.B) {
	b.Run("nodes=1", func(b *testing.B) { benchStarts(b, 1) })
	b.Run("nodes=3", func(b *testing.B) { benchStarts(b, 3) })
}

func benchStarts(b *testing.B, nodes int) {
	const clientsN = 32
	const perIteration = 2000
	_, c := target(b, nodes)
	ctx := context.Background()
	if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: chainDefinition("one", 1)})); err != nil {
		b.Fatal(err)
	}
	var lat []time.Duration
	var mu sync.Mutex
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var next atomic.Int64
		var wg sync.WaitGroup
		t0 := time.Now()
		for w := 0; w < clientsN; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var mine []time.Duration
				for next.Add(1) <= perIteration {
					s := time.Now()
					if _, err := c.in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "one"})); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(s))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		elapsed += time.Since(t0)
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "starts_per_s")
	b.ReportMetric(ms(percentile(lat, 0.5)), "ack_ms_p50")
	b.ReportMetric(ms(percentile(lat, 0.99)), "ack_ms_p99")
	b.ReportMetric(0, "ns/op")
	conditions(b)
}

// BenchmarkFailover keeps a 3-server cluster busy, SIGKILLs the leader, and
// reports resume_ms: from the kill to the first step placed by the new
// leader (placements carry the leader's time, on this same machine).
func BenchmarkFailover(b *testing.B) {
	var resume []time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		agents, c := target(b, 3)
		ctx := context.Background()
		def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
		  "workflow": {"id": "steady", "steps": [{"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"b": "true"}}}},
		  {"step": {"id": "b", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 1}}}}]}}`
		if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def})); err != nil {
			b.Fatal(err)
		}
		leader := harness.WaitAgreement(b, agents, time.Minute)
		stop := make(chan struct{})
		done := make(chan struct{})
		// Steady load through a follower that survives the kill.
		var via *harness.Agent
		for _, a := range agents {
			if a != leader {
				via = a
				break
			}
		}
		load := clientsFor(via)
		go func() {
			defer close(done)
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				_, _ = load.in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "steady", RequestId: fmt.Sprintf("f%d-%d", i, k)}))
			}
		}()
		time.Sleep(2 * time.Second)
		b.StartTimer()
		killed := time.Now()
		leader.Kill()
		harness.WaitAgreement(b, agents, time.Minute)
		b.StopTimer()
		var first time.Time
		deadline := time.Now().Add(time.Minute)
		for first.IsZero() && time.Now().Before(deadline) {
			list, err := load.in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "steady", Limit: 1000}))
			if err == nil {
				for _, inst := range list.Msg.Instances {
					got, err := load.in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "steady", InstanceId: inst.InstanceId}))
					if err != nil {
						continue
					}
					for _, st := range got.Msg.Steps {
						for _, a := range st.Attempts {
							if t := a.StartTime.AsTime(); t.After(killed) && (first.IsZero() || t.Before(first)) {
								first = t
							}
						}
					}
				}
			}
			if first.IsZero() {
				time.Sleep(100 * time.Millisecond)
			}
		}
		close(stop)
		<-done
		if first.IsZero() {
			b.Fatal("no step was placed after the leader was killed")
		}
		resume = append(resume, first.Sub(killed))
		for _, a := range agents {
			a.Kill()
		}
	}
	sort.Slice(resume, func(i, j int) bool { return resume[i] < resume[j] })
	b.ReportMetric(ms(percentile(resume, 0.5)), "resume_ms")
	b.ReportMetric(ms(resume[len(resume)-1]), "resume_ms_max")
	b.ReportMetric(0, "ns/op")
	conditions(b)
}

var conditionsOnce sync.Once

// conditions logs what the figures depend on.
func conditions(b *testing.B) {
	conditionsOnce.Do(func() {
		host, _ := os.Hostname()
		b.Logf("conditions: %d CPUs (GOMAXPROCS %d), host %s, %s, agents on loopback, Raft log in bolt with fsync, default Raft timeouts",
			runtime.NumCPU(), runtime.GOMAXPROCS(0), host, runtime.Version())
	})
}

// BenchmarkLogGrowth writes at least 100,000 Raft entries through a dev agent
// with default snapshot and retention settings, and reports how many log
// entries were ever on disk at once and how many instances the state kept.
func BenchmarkLogGrowth(b *testing.B) {
	for i := 0; i < b.N; i++ {
		a := harness.StartDev(b)
		c := clientsFor(a)
		ctx := context.Background()
		def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
		  "workflow": {"id": "tiny", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`
		if _, err := c.wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def})); err != nil {
			b.Fatal(err)
		}
		var next atomic.Int64
		var maxOnDisk, last uint64
		var wg sync.WaitGroup
		stop := make(chan struct{})
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
					if _, err := c.in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "tiny", RequestId: fmt.Sprint("g", k)})); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		for last < 100_000 {
			time.Sleep(200 * time.Millisecond)
			st, err := a.Status(ctx)
			if err != nil {
				b.Fatal(err)
			}
			last = st.LastLogIndex
			if d := st.LastLogIndex - st.FirstLogIndex + 1; d > maxOnDisk {
				maxOnDisk = d
			}
		}
		close(stop)
		wg.Wait()
		list, err := c.in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "tiny", Limit: 100_000}))
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(last), "entries_written")
		b.ReportMetric(float64(maxOnDisk), "max_entries_on_disk")
		b.ReportMetric(float64(next.Load()), "instances_started")
		b.ReportMetric(float64(len(list.Msg.Instances)), "instances_kept")
		b.ReportMetric(0, "ns/op")
		a.Kill()
	}
	conditions(b)
}
