package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

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
