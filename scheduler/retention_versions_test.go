package scheduler

import (
	"fmt"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

// By count, a workflow keeps its newest versions, its active one and those
// its kept instances run; the rest are deleted, a limit at a time. An
// empty policy keeps all.
func TestPruneVersions(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`) // v1; instance 1 runs it
	for v := 2; v <= 8; v++ {
		def := fmt.Sprintf(`{"workflow": {"id": "wf", "steps": [{"step": {"id": "a%d", "type": "NoOp"}}]}}`, v)
		px.apply(&statepb.PushWorkflow{WorkflowId: "wf", Definition: def, Digest: fmt.Sprint(v), Now: px.ts()})
	}
	px.apply(&statepb.ActivateWorkflow{WorkflowId: "wf", Version: 3, Now: px.ts()})
	describe := func(acts []*statepb.PlanAction) string {
		var out []string
		for _, a := range acts {
			out = append(out, fmt.Sprint(a.GetDeleteVersion().Version))
		}
		return strings.Join(out, " ")
	}
	if got := describe(PruneVersions(px.f.State(), Retention{VersionsPerWorkflow: 2}, 100)); got != "2 4 5 6" {
		t.Fatalf("deletions %q, want 2 4 5 6 (1 run by instance 1, 3 active, 7 and 8 newest)", got)
	}
	if got := describe(PruneVersions(px.f.State(), Retention{VersionsPerWorkflow: 2}, 2)); got != "2 4" {
		t.Fatalf("deletions with limit 2 %q, want 2 4", got)
	}
	if got := PruneVersions(px.f.State(), Retention{}, 100); got != nil {
		t.Fatalf("an empty policy deleted versions %s", describe(got))
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: PruneVersions(px.f.State(), Retention{VersionsPerWorkflow: 2}, 100)})
	var kept []string
	for _, v := range px.f.State().Versions(nil, "wf") {
		kept = append(kept, fmt.Sprint(v.Version))
	}
	if got := strings.Join(kept, " "); got != "1 3 7 8" {
		t.Fatalf("versions kept %q, want 1 3 7 8", got)
	}
}
