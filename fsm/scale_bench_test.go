package fsm

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
)

// BenchmarkStateScale fills a state machine with finished instances of a
// ten-step workflow, each step run once, the way a retained history looks,
// and reports what that history costs: heap per finished instance, and the
// size and write and read times of a snapshot of it. Run with -benchtime=1x;
// the sizes show how each figure grows from 1,000 to 100,000 instances
// (10,000 to 1,000,000 step records).
func BenchmarkStateScale(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				stateScale(b, n)
			}
		})
	}
}

func stateScale(b *testing.B, n int) {
	const steps = 10
	x := newFixture(b)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	seeds := make([]*statepb.StepSeed, steps)
	for j := range seeds {
		seeds[j] = &statepb.StepSeed{StepId: fmt.Sprintf("s%d", j), Type: "NoOp"}
	}
	before := liveHeap()
	started := time.Now()
	for id := int64(1); id <= int64(n); id++ {
		start := startCmd(wfETL, fmt.Sprint("r", id), 1, 1)
		start.Steps = seeds
		applyAs[*StartResult](x, start)
		plan := &statepb.ApplyPlan{Now: at(2), Actions: []*statepb.PlanAction{instanceAct(wfETL, id, InstanceCreated, InstanceInProgress, "")}}
		for _, s := range seeds {
			plan.Actions = append(plan.Actions, assignAct(wfETL, id, s.StepId, 1, nodeA))
		}
		gen := x.next
		if res := applyAs[*PlanResult](x, plan); res.Applied != steps+1 {
			b.Fatalf("placing instance %d: %+v", id, res)
		}
		done := &statepb.ApplyPlan{Now: at(3), Actions: []*statepb.PlanAction{instanceAct(wfETL, id, InstanceInProgress, InstanceSucceeded, "")}}
		for _, s := range seeds {
			r := reportCmd(s.StepId, 1, gen, AttemptSucceeded, 3)
			r.InstanceId, r.Node = id, nodeA
			done.Results = append(done.Results, r)
		}
		if res := applyAs[*PlanResult](x, done); res.Dropped || res.Applied != 1 {
			b.Fatalf("finishing instance %d: %+v", id, res)
		}
	}
	fill := time.Since(started)
	perInstance := float64(liveHeap()-before) / float64(n)

	t := time.Now()
	sink := persistSnapshot(b, x.fsm)
	write := time.Since(t)
	size := sink.Len()
	t = time.Now()
	restored := New()
	if err := restored.Restore(readCloser(sink.Bytes())); err != nil {
		b.Fatal(err)
	}
	read := time.Since(t)
	if got := len(restored.State().Instances(nil, wfETL, 0)); got != n {
		b.Fatalf("restored %d instances, want %d", got, n)
	}
	b.ReportMetric(perInstance, "heap_bytes/instance")
	b.ReportMetric(float64(size)/(1<<20), "snapshot_MiB")
	b.ReportMetric(float64(write.Milliseconds()), "snapshot_ms")
	b.ReportMetric(float64(read.Milliseconds()), "restore_ms")
	b.ReportMetric(float64(fill.Milliseconds())/float64(3*n)*1000, "apply_us/entry")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkSignalScale fills a state machine with signals of one name, each
// with three params (a date, a region, a count), and reports the heap a
// retained signal costs, the snapshot's size per signal, and what deleting
// them down to the newest costs in one DeleteSignals action. Run with
// -benchtime=1x; -retain-signals (10,000 per name by default) times the
// heap figure is what a name's kept signals hold.
func BenchmarkSignalScale(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("signals=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				signalScale(b, n)
			}
		})
	}
}

func signalScale(b *testing.B, n int) {
	x := newFixture(b)
	before := liveHeap()
	for i := 0; i < n; i++ {
		applyAs[*SignalResult](x, &statepb.SendSignal{Name: "table/ready", Now: at(1), Source: "api", RequestId: fmt.Sprint("req-", i),
			Params: map[string]*statepb.Param{
				"day": param("LONG", float64(20240000+i%10000)), "region": param("STRING", "eu-west-1"), "rows": param("LONG", float64(i)),
			}})
	}
	perSignal := float64(liveHeap()-before) / float64(n)
	sink := persistSnapshot(b, x.fsm)
	t := time.Now()
	if res := x.plan(2, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteSignals{DeleteSignals: &statepb.DeleteSignals{Name: "table/ready", ThroughSeq: int64(n)}}}); res.Applied != 1 {
		b.Fatalf("delete: %+v", res)
	}
	del := time.Since(t)
	if got, _ := x.state().SignalRanges("", 1); len(got) != 1 || got[0].Oldest != int64(n) {
		b.Fatalf("kept %v, want only #%d", got, n)
	}
	b.ReportMetric(perSignal, "heap_bytes/signal")
	b.ReportMetric(float64(sink.Len())/float64(n), "snapshot_bytes/signal")
	b.ReportMetric(float64(del.Microseconds())/float64(n-1), "delete_us/signal")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkWorkflowActionScale switches one workflow's time triggers off and
// on n times, each switch with a request id and a reason, and reports the
// heap a kept action costs on the workflow's record, the snapshot's size
// per action, and what deleting them down to the newest costs in one
// DeleteWorkflowEvents action. Run with -benchtime=1x;
// -retain-workflow-actions (1,000 by default) times the heap figure is what
// a workflow's record holds.
func BenchmarkWorkflowActionScale(b *testing.B) {
	for _, n := range []int{10000, 100000} {
		b.Run(fmt.Sprintf("actions=%d", n), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				workflowActionScale(b, n)
			}
		})
	}
}

func workflowActionScale(b *testing.B, n int) {
	x := newFixture(b)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	before := liveHeap()
	for i := 0; i < n; i++ {
		action := WorkflowDisableTriggers
		if i%2 == 1 {
			action = WorkflowEnableTriggers
		}
		c := &statepb.WorkflowAction{WorkflowId: wfETL, Action: action, TimeTriggers: true, Actor: "anonymous",
			Reason: "nightly maintenance window", RequestId: fmt.Sprintf("0b6f2c1e-5d7a-4c2b-9e8f-%012d", i), Now: at(1)}
		applyAs[*WorkflowActionResult](x, c)
	}
	perAction := float64(liveHeap()-before) / float64(n)
	sink := persistSnapshot(b, x.fsm)
	t := time.Now()
	if res := x.plan(2, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteWorkflowEvents{
		DeleteWorkflowEvents: &statepb.DeleteWorkflowEvents{WorkflowId: wfETL, ThroughSeq: int64(n - 1)}}}); res.Applied != 1 {
		b.Fatalf("delete: %+v", res)
	}
	del := time.Since(t)
	if got := x.state().OldestEventSeq(wfETL, 0); got != int64(n) {
		b.Fatalf("oldest kept #%d, want #%d", got, n)
	}
	b.ReportMetric(perAction, "heap_bytes/action")
	b.ReportMetric(float64(sink.Len())/float64(n), "snapshot_bytes/action")
	b.ReportMetric(float64(del.Microseconds())/float64(n-1), "delete_us/action")
	b.ReportMetric(0, "ns/op")
}

// persistSnapshot writes a snapshot of f to memory.
func persistSnapshot(b *testing.B, f *FSM) *memSink {
	b.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		b.Fatal(err)
	}
	return sink
}

// liveHeap is the heap in use after a collection: what the state holds.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
