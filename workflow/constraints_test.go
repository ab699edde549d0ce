package workflow

import "testing"

func TestNodeConstraintsMustBeAStringMap(t *testing.T) {
	d, err := Parse([]byte(`{"workflow": {"id": "w", "steps": [{"step": {"id": "a", "type": "NoOp",
  "params": {"node_constraints": {"type": "STRING", "value": "pool=etl"}}}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	want := `line 2:43: workflow.steps[0].step.params.node_constraints.type: the "node_constraints" param must be of type STRING_MAP (node tag -> allowed values), got STRING`
	if err := d.Validate(DefaultLimits()); err == nil || err.Error() != want {
		t.Fatalf("Validate: %v\nwant %s", err, want)
	}
}
