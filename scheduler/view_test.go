package scheduler

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// A view places each record at its step's position however the records
// are listed: in id order (as the store lists them), shuffled, with steps
// missing, and with a record of a step the DAG does not have.
func TestStepViewPlacesRecordsByPosition(t *testing.T) {
	// Definition order differs from id order, and ids share prefixes.
	ids := []string{"load", "a10", "a1", "extract", "a2", "b", "a", "report"}
	var steps []string
	for i, id := range ids {
		next := ""
		if i+1 < len(ids) {
			next = fmt.Sprintf(`, "transition": {"successors": {%q: "true"}}`, ids[i+1])
		}
		steps = append(steps, fmt.Sprintf(`{"step": {"id": %q, "type": "NoOp"%s}}`, id, next))
	}
	def, err := workflow.Parse([]byte(`{"workflow": {"id": "wf", "steps": [` + strings.Join(steps, ",") + `]}}`))
	if err != nil {
		t.Fatal(err)
	}
	dag, err := def.DAG()
	if err != nil {
		t.Fatal(err)
	}
	sorted, pos := dag.ByID()
	if len(sorted) != len(ids) || len(pos) != len(ids) {
		t.Fatalf("ByID: %d ids, %d positions, want %d", len(sorted), len(pos), len(ids))
	}
	for k := range sorted {
		if dag.Order[pos[k]] != sorted[k] || (k > 0 && sorted[k-1] >= sorted[k]) {
			t.Fatalf("ByID = %v, %v: not the ids in order with their positions", sorted, pos)
		}
	}

	rng := rand.New(rand.NewSource(1))
	for trial := range 200 {
		var list []*statepb.Step
		for _, id := range ids {
			if rng.Intn(4) > 0 {
				list = append(list, &statepb.Step{StepId: id, Status: "S-" + id})
			}
		}
		if trial%3 == 0 {
			list = append(list, &statepb.Step{StepId: "zz-unknown", Status: "S-zz"}, &statepb.Step{StepId: "a0", Status: "S-a0"})
		}
		switch trial % 2 {
		case 0:
			sort.Slice(list, func(a, b int) bool { return list[a].StepId < list[b].StepId })
		case 1:
			rng.Shuffle(len(list), func(a, b int) { list[a], list[b] = list[b], list[a] })
		}
		v := newStepView(dag, list)
		want := map[string]bool{}
		for _, st := range list {
			want[st.StepId] = true
		}
		for i, id := range dag.Order {
			switch {
			case want[id] && (v.steps[i] == nil || v.steps[i].StepId != id || v.cur[i] != "S-"+id):
				t.Fatalf("trial %d: position %d (%s) holds %v / %q", trial, i, id, v.steps[i], v.cur[i])
			case !want[id] && (v.steps[i] != nil || v.cur[i] != ""):
				t.Fatalf("trial %d: position %d (%s) has no record but holds %v", trial, i, id, v.steps[i])
			}
		}
	}
}
