package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

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
			idx := uint64(0)
			for i := 0; i < n; i++ {
				def, err := workflow.Parse([]byte(fmt.Sprintf(`{"workflow": {"id": "w%05d", "time_triggers": [{"type": "CRON", "cron": "0 0 1 1 *", "timezone": "UTC"}],
				  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`, i)))
				if err != nil {
					b.Fatal(err)
				}
				canon, err := workflow.Canonical(def)
				if err != nil {
					b.Fatal(err)
				}
				sum := sha256.Sum256(canon)
				idx++
				f.ApplyLocal(idx, &statepb.PushWorkflow{WorkflowId: def.Workflow.ID, Definition: string(canon), Digest: hex.EncodeToString(sum[:]), Now: nil})
			}
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
