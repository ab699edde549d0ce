package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// BenchmarkPlanIdleTriggers measures a planning round over many workflows
// with a time trigger each when nothing is due: the cost every round pays
// for triggers, whatever else it does.
func BenchmarkPlanIdleTriggers(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprint("workflows=", n), func(b *testing.B) {
			f := fsm.New()
			defs := NewDefinitionCache()
			now := time.Date(2026, 1, 2, 3, 4, 1, 0, time.UTC)
			idx := pushTriggered(b, f, n, "0 0 1 1 *")
			in := Input{State: f.State(), Now: now, Members: []Member{{Name: "n1"}}, Defs: defs}
			out := Plan(in)
			idx++
			if res := f.ApplyLocal(idx, &statepb.ApplyPlan{Actions: out.Actions}).(*fsm.PlanResult); res.Applied != n {
				b.Fatalf("setting %d triggers applied %d", n, res.Applied)
			}
			in.State = f.State()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if out := Plan(in); len(out.Actions) != 0 {
					b.Fatalf("idle round planned %d actions", len(out.Actions))
				}
			}
		})
	}
}

// BenchmarkCronStorm measures the leader's side of many schedules due in
// the same second: the round that fires them all (planning, then applying
// the fires, as the speculation and every replica do), and the round after
// that sets the new instances going and places their steps.
func BenchmarkCronStorm(b *testing.B) {
	const n = 10000
	f := fsm.New()
	defs := NewDefinitionCache()
	due := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	idx := pushTriggered(b, f, n, "5 4 3 2 1 ? 2026")
	in := Input{State: f.State(), Now: due.Add(-time.Minute), Members: []Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}, Defs: defs}
	idx++
	if res := f.ApplyLocal(idx, &statepb.ApplyPlan{Actions: Plan(in).Actions}).(*fsm.PlanResult); res.Applied != n {
		b.Fatalf("setting %d triggers applied %d", n, res.Applied)
	}
	in.Now = due.Add(3 * time.Millisecond)
	ts := timestamppb.New(in.Now)
	// Planning is the leader's work; applying, each replica's (and the
	// leader's speculation, when a further pass plans on it).
	var took [4]time.Duration
	var fires, next int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sp := f.Speculate()
		t0 := time.Now()
		in.State = sp.State()
		out := Plan(in)
		t1 := time.Now()
		fires = len(sp.Plan(ts, out.Actions))
		t2 := time.Now()
		in.State = sp.State()
		out = Plan(in)
		t3 := time.Now()
		next = len(sp.Plan(ts, out.Actions))
		for j, d := range []time.Duration{t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), time.Since(t3)} {
			took[j] += d
		}
	}
	if fires != n {
		b.Fatalf("the storm fired %d of %d", fires, n)
	}
	for j, name := range []string{"fire-plan-ms/op", "fire-apply-ms/op", "next-plan-ms/op", "next-apply-ms/op"} {
		b.ReportMetric(float64(took[j].Microseconds())/1000/float64(b.N), name)
	}
	b.ReportMetric(float64(next), "next-actions")
}

// BenchmarkPlanLongChain measures the round the leader plans for each step
// of a 1,000- and a 5,000-step chain: one instance halfway through, whose
// running step's result the round applies to a speculation and plans on,
// placing the next step, as the leader's loop does. Without StepViews a
// round reads every step record of the instance and grows with the chain;
// with them (views=true, the leader's way) it reads the records written
// since the round before: here the one the result wrote.
func BenchmarkPlanLongChain(b *testing.B) {
	for _, n := range []int{1000, 5000} {
		for _, views := range []bool{false, true} {
			b.Run(fmt.Sprintf("steps=%d/views=%t", n, views), func(b *testing.B) { benchmarkPlanLongChain(b, n, views) })
		}
	}
}

func benchmarkPlanLongChain(b *testing.B, n int, views bool) {
	px := newPlanFixture(b, chainDefinition(n))
	px.round()
	for i := 0; i+1 < n/2; i++ {
		px.finish(fmt.Sprintf("s%d", i), fsm.AttemptSucceeded, 0)
		px.round()
	}
	running := px.step(fmt.Sprintf("s%d", n/2-1))
	a := running.Attempts[len(running.Attempts)-1]
	result := []*statepb.ReportResult{{
		WorkflowId: px.wf, InstanceId: px.inst, StepId: running.StepId, AttemptNumber: a.AttemptNumber,
		Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(),
	}}
	in := Input{Now: px.now, Members: px.members, Defs: px.defs}
	if views {
		in.Views = NewStepViews()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sp := px.f.Speculate()
		sp.Results(result)
		in.State = sp.State()
		out := Plan(in)
		if len(out.Actions) != 1 || out.Actions[0].GetAssign().GetStepId() != fmt.Sprintf("s%d", n/2) {
			b.Fatalf("the round planned %v, want the next step placed", out.Actions)
		}
	}
}

// pushTriggered pushes n one-step workflows with a CRON trigger each and
// returns the Raft index of the last push.
func pushTriggered(b *testing.B, f *fsm.FSM, n int, cron string) uint64 {
	b.Helper()
	idx := uint64(0)
	for i := 0; i < n; i++ {
		def, err := workflow.Parse([]byte(fmt.Sprintf(`{"workflow": {"id": "w%05d", "time_triggers": [{"type": "CRON", "cron": %q, "timezone": "UTC"}],
		  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`, i, cron)))
		if err != nil {
			b.Fatal(err)
		}
		canon, err := workflow.Canonical(def)
		if err != nil {
			b.Fatal(err)
		}
		sum := sha256.Sum256(canon)
		idx++
		f.ApplyLocal(idx, &statepb.PushWorkflow{WorkflowId: def.Workflow.ID, Definition: string(canon), Digest: hex.EncodeToString(sum[:])})
	}
	return idx
}

// BenchmarkInstanceLifecycle measures what each replica's state machine
// spends on the starts workload, per instance of one NoOp step: the start
// entries of a burst, applied together as Raft hands them over, the round
// that sets them going and places their steps, and the round that carries
// their results and ends them. The leader plans the rounds (not timed
// here); every server applies them, so this is three times over the
// cluster's cost per start.
func BenchmarkInstanceLifecycle(b *testing.B) {
	const burst = 64
	def := `{"properties": {"owner": "bench", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}}, "workflow": {"id": "one", "steps": [{"step": {"id": "s", "type": "NoOp"}}]}}`
	f := fsm.New()
	defs := NewDefinitionCache()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ts := timestamppb.New(now)
	sum := sha256.Sum256([]byte(def))
	var idx uint64 = 1
	if _, ok := f.ApplyLocal(idx, &statepb.PushWorkflow{WorkflowId: "one", Definition: def, Digest: hex.EncodeToString(sum[:]), Now: ts}).(*fsm.PushResult); !ok {
		b.Fatal("push rejected")
	}
	in := Input{Now: now, Members: []Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}, Defs: defs}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += burst {
		b.StopTimer()
		logs := make([]*raft.Log, min(burst, b.N-done))
		for i := range logs {
			idx++
			data, err := fsm.Encode(&statepb.StartInstance{
				RequestId: fmt.Sprint("req-", done+i), WorkflowId: "one", WorkflowVersion: 1, Now: ts,
				Steps: []*statepb.StepSeed{{StepId: "s", Type: "NoOp"}},
			})
			if err != nil {
				b.Fatal(err)
			}
			logs[i] = &raft.Log{Index: idx, Type: raft.LogCommand, Data: data}
		}
		b.StartTimer()
		f.ApplyBatch(logs)
		b.StopTimer()
		in.State = f.State()
		place := &statepb.ApplyPlan{Now: ts, Actions: Plan(in).Actions}
		b.StartTimer()
		idx++
		f.ApplyLocal(idx, place)
		b.StopTimer()
		end := &statepb.ApplyPlan{Now: ts}
		for _, a := range place.Actions {
			if as := a.GetAssign(); as != nil {
				end.Results = append(end.Results, &statepb.ReportResult{
					WorkflowId: as.WorkflowId, InstanceId: as.InstanceId, StepId: as.StepId, AttemptNumber: as.AttemptNumber,
					Generation: idx, Node: as.Node, Outcome: fsm.AttemptSucceeded, ExitCode: -1, EndTime: ts, Executions: 1,
				})
			}
		}
		if len(end.Results) != len(logs) {
			b.Fatalf("the round placed %d of %d steps", len(end.Results), len(logs))
		}
		sp := f.Speculate()
		sp.Results(end.Results)
		in.State = sp.State()
		end.Actions = Plan(in).Actions
		b.StartTimer()
		idx++
		res := f.ApplyLocal(idx, end).(*fsm.PlanResult)
		if res.Skipped != 0 {
			b.Fatalf("ending the burst skipped %d actions", res.Skipped)
		}
	}
	b.StopTimer()
	if active := len(f.State().ActiveInstances(nil)); active != 0 {
		b.Fatalf("%d instances still active", active)
	}
}

// BenchmarkPlanWaitingForSignals measures a planning round over instances
// whose step waits for a signal that has not come, while its name has
// 10,000 signals that do not match: each round looks at every waiting step
// again, with and without the leader's SignalScans (which a leader's
// loop always has).
func BenchmarkPlanWaitingForSignals(b *testing.B) {
	const waiting, signals = 100, 10000
	px := newPlanFixture(b, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "wait", "type": "NoOp",
	    "signal_dependencies": [{"name": "table/ready", "match_params": {"day": {"value": -1}}}]}}]}}`)
	for i := 2; i <= waiting; i++ {
		px.startAnother(fmt.Sprint("r", i))
	}
	for i := 0; i < signals; i++ {
		px.sendSignal("table/ready", map[string]any{"day": i})
	}
	px.round()
	for _, scans := range []bool{false, true} {
		b.Run(fmt.Sprint("scans=", scans), func(b *testing.B) {
			in := Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: NewStepViews()}
			if scans {
				in.Scans = NewSignalScans()
			}
			if n := len(in.State.ActiveInstances(nil)); n != waiting {
				b.Fatalf("%d instances active, want %d", n, waiting)
			}
			Plan(in) // the first round searches each step's 10,000
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if out := Plan(in); len(out.Actions) != 0 {
					b.Fatalf("a round with nothing to do planned %d actions", len(out.Actions))
				}
			}
		})
	}
}

// BenchmarkPlanManyRunning measures a round with nothing to do while many
// instances each have a step running on a node: what every round pays per
// unfinished instance, since a round plans each of them again.
func BenchmarkPlanManyRunning(b *testing.B) {
	for _, n := range []int{100, 1000} {
		px := newPlanFixture(b, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
		  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
		for i := 2; i <= n; i++ {
			px.startAnother(fmt.Sprint("r", i))
		}
		px.round()
		px.round()
		for _, mode := range []string{"every", "quiet"} {
			b.Run(fmt.Sprintf("instances=%d/%s", n, mode), func(b *testing.B) {
				in := Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Views: NewStepViews()}
				if mode == "quiet" {
					// A leader's rounds: the instances found quiet once
					// are skipped until they change.
					in.Quiet = NewQuietInstances()
					in.Quiet.Verify = false // the tests' check would plan them all
				}
				if got := len(in.State.ActiveInstances(nil)); got != n {
					b.Fatalf("%d instances active, want %d", got, n)
				}
				Plan(in)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if out := Plan(in); len(out.Actions) != 0 {
						b.Fatalf("a round with nothing to do planned %d actions", len(out.Actions))
					}
				}
				if in.Quiet != nil && in.Quiet.skips < b.N*n {
					b.Fatalf("skipped %d instances in %d rounds of %d", in.Quiet.skips, b.N, n)
				}
			})
		}
	}
}
