package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func mustParse(t testing.TB, name string) *Definition {
	t.Helper()
	d, err := Parse(readFixture(t, name))
	if err != nil {
		t.Fatalf("Parse(%s): %v", name, err)
	}
	return d
}

func TestValidFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f), "testdata/")
		t.Run(name, func(t *testing.T) {
			d := mustParse(t, name)
			if err := d.Validate(DefaultLimits()); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := d.DAG(); err != nil {
				t.Fatalf("DAG: %v", err)
			}
			err := CheckSupported(d)
			switch name {
			case "valid/unsupported.json":
				// checked in TestInvalidFixtures
			default:
				if err != nil {
					t.Fatalf("CheckSupported: %v", err)
				}
			}
		})
	}
}

func TestInvalidFixtures(t *testing.T) {
	// stage says which call reports the error: Parse, Validate or CheckSupported.
	cases := []struct {
		file  string
		stage string
		want  string
	}{
		{"malformed.json", "parse",
			`line 6:7: workflow.steps: unexpected character '{', expected ',' or ']'`},
		// The YAML library reports only the line where the enclosing block starts.
		{"malformed.yaml", "parse",
			`line 3: did not find expected key`},
		{"unknown_top.json", "parse",
			`line 2:3: unknown field "version"`},
		{"unknown_step_field.yaml", "parse",
			`line 10:9: workflow.steps[1].step: unknown field "retries"`},
		{"foreach_invalid.yaml", "parse",
			`line 7:9: workflow.steps[0].foreach: unknown field "retry_policy"`},
		{"duplicate_key.json", "parse",
			`line 1:40: workflow.id: duplicate key "id"`},
		{"duplicate_key.yaml", "parse",
			`line 3:3: workflow.id: duplicate key "id"`},
		{"step_kind.json", "parse",
			`line 2:4: workflow.steps[0]: unknown step kind "task" (want step, foreach, while, subworkflow or template); ` +
				`line 3:3: workflow.steps[1]: a step must have exactly one key (step, foreach, while, subworkflow or template), got 2`},
		{"bad_param_type.yaml", "parse",
			`line 4:18: workflow.params.name.type: unknown param type "STRNG"`},
		{"missing_param_type.json", "parse",
			`line 1:43: workflow.params.p: param type is required`},
		{"long_not_number.json", "parse",
			`line 5:26: workflow.params.count.value: expected LONG, got "abc"`},
		{"long_array_element.yaml", "parse",
			`line 10:27: workflow.steps[0].step.params.ids.value[2]: expected LONG, got "x"`},
		{"bad_duration.json", "parse",
			`line 1:38: workflow.timeout: invalid duration "1h30m": expected a unit (d, h, min, s or ms) after 30`},
		{"duplicate_id.yaml", "validate",
			`line 6:18: workflow.steps[2].step.id: duplicate step id "b"`},
		{"dangling.yaml", "validate",
			`line 10:20: workflow.steps[0].step.transition.successors["job.9"]: unknown successor step "job.9"`},
		{"cycle.json", "validate",
			`line 5:75: workflow.steps[3].step.transition.successors.a: steps form a cycle: a -> b -> c -> a`},
		{"cycle.yaml", "validate",
			`line 5:62: workflow.steps[1].step.transition.successors.a: steps form a cycle: a -> b -> a`},
		{"too_many_steps.yaml", "validate",
			`line 5:5: workflow.steps: 301 steps (counting nested steps) is over the limit of 300`},
		{"long_id.yaml", "validate",
			`line 5:13: workflow.steps[0].step.id: step id is 129 characters, over the limit of 128`},
		{"bad_id.json", "validate",
			`line 1:21: workflow.id: invalid workflow id "maestro_wf": the prefix "maestro_" is reserved; ` +
				`line 2:19: workflow.steps[0].step.id: invalid step id "1st": must match ^[_a-zA-Z][.\-_a-zA-Z0-9]*$; ` +
				`line 3:19: workflow.steps[1].step.id: invalid step id "a__b": must not contain "__", which separates step ids from param names`},
		{"interpolation_key.json", "validate",
			`line 1:97: workflow.steps[0].step.params["bad name"]: invalid param name "bad name": must match ^[_a-zA-Z][.\-_a-zA-Z0-9]*$`},
		{"missing_shell_command.yaml", "validate",
			`line 11:15: workflow.steps[0].step.params.shell.value.command: Shell step requires a "command" STRING in the "shell" param`},
		{"missing_shell_param.json", "validate",
			`line 2:53: workflow.steps[0].step.params.shell: Shell step requires a "shell" param of type MAP with a "command" STRING`},
		{"sleep_invalid.yaml", "validate",
			`line 9:48: workflow.steps[0].step.params.sleep_seconds.value: sleep_seconds must be a whole number of seconds, got "soon"; ` +
				`line 15:46: workflow.steps[1].step.params.sleep_seconds.value: sleep_seconds must not be negative, got -5; ` +
				`line 17:9: workflow.steps[2].step.params.sleep_seconds: Sleep step requires a "sleep_seconds" param (LONG >= 0)`},
		{"missing_fields.json", "validate",
			`line 1:14: workflow.id: workflow id is required; ` +
				`line 2:12: workflow.steps[0].step.id: step id is required; ` +
				`line 3:12: workflow.steps[1].step.type: step type is required`},
		{"empty_steps.yaml", "validate",
			`line 3:10: workflow.steps: at least one step is required`},
		{"param_both.yaml", "validate",
			`line 4:11: workflow.params.both: param must have either a value or an expression, not both; ` +
				`line 5:14: workflow.params.neither: param must have a value or an expression`},
		{"predecessors.yaml", "validate",
			`line 6:60: workflow.steps[2].step.transition.predecessors: predecessors [a, b] do not match the steps whose successors name "c": [a]`},
		{"enums.yaml", "validate",
			`line 2:58: properties.run_strategy.workflow_concurrency: only the PARALLEL run strategy allows a workflow_concurrency above 1, got 4; ` +
				`line 5:16: workflow.criticality: unknown criticality "urgent" (want one of CRITICAL, HIGH, MEDIUM, LOW); ` +
				`line 9:15: workflow.steps[0].step.type: unknown step type "Titan" (want one of NoOp, Sleep, Shell, Titus, Notebook, Kubernetes, Http, Join); ` +
				`line 10:23: workflow.steps[0].step.failure_mode: unknown failure_mode "fail_later" (want one of FAIL_IMMEDIATELY, FAIL_AFTER_RUNNING, IGNORE_FAILURE); ` +
				`line 13:30: workflow.steps[0].step.retry_policy.error_retry_limit: error_retry_limit must be between 0 and 99, got 100; ` +
				`line 14:33: workflow.steps[0].step.retry_policy.platform_retry_limit: platform_retry_limit "lots" is not a number; ` +
				`line 15:27: workflow.steps[0].step.retry_policy.backoff.type: unknown backoff type "linear_backoff" (want EXPONENTIAL_BACKOFF or FIXED_BACKOFF); ` +
				`line 11:18: workflow.steps[0].step.timeout: timeout must be positive, got 0s`},
		{"../valid/unsupported.json", "supported",
			`line 30:30: workflow.steps[3].step.type: step type "Kubernetes" is not supported yet`},
		{"signal_triggers.json", "supported",
			`line 3:21: workflow.signal_triggers[0].definitions: a signal trigger needs at least one signal in definitions; ` +
				`line 5:61: workflow.signal_triggers[1].definitions.a.match_params.x.operator: "!=" is not one of = > >= < <=; ` +
				`line 6:82: workflow.signal_triggers[1].definitions.b.match_params.w: needs a value; ` +
				`line 6:46: workflow.signal_triggers[1].definitions.b.match_params.y.param: a signal trigger matches literal values only; write the value under "value"; ` +
				`line 6:13: workflow.signal_triggers[1].definitions.b.join_keys: every signal of a trigger needs the same number of join keys (0 here, 1 on "a"); ` +
				`line 9:22: workflow.signal_triggers[1].params.p: a param needs exactly one of value and expression; ` +
				`line 7:19: workflow.signal_triggers[1].condition: sel: syntax error at 1:4: expected an expression, found end of input; ` +
				`line 8:20: workflow.signal_triggers[1].dedup_expr: sel: invalid expression at 1:1: Thread is not available in SEL; ` +
				`line 10:5: workflow.signal_triggers[2]: unknown field "extra"`},
		{"sel_errors.json", "supported",
			`line 2:55: workflow.params.when.expression: sel: syntax error at 1:34: expected an expression, found ')'; ` +
				`line 4:77: workflow.steps[0].step.transition.successors.b: sel: syntax error at 1:3: operator >> is not supported in SEL; ` +
				`line 5:40: workflow.steps[1].while.condition: sel: syntax error at 1:5: expected an expression, found end of input; ` +
				`line 6:101: workflow.steps[1].while.steps[0].step.params.r.expression: sel: invalid expression at 1:1: Thread is not available in SEL`},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		covered[tc.file] = true
		t.Run(tc.file, func(t *testing.T) {
			d, err := Parse(readFixture(t, filepath.Join("invalid", tc.file)))
			if tc.stage == "parse" {
				checkErr(t, "Parse", err, tc.want)
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			err = d.Validate(DefaultLimits())
			if tc.stage == "validate" {
				checkErr(t, "Validate", err, tc.want)
				return
			}
			if err != nil {
				t.Fatalf("Validate: %v", err)
			}
			checkErr(t, "CheckSupported", CheckSupported(d), tc.want)
		})
	}
	files, _ := filepath.Glob("testdata/invalid/*")
	for _, f := range files {
		if !covered[filepath.Base(f)] {
			t.Errorf("fixture %s has no test case", f)
		}
	}
}

func checkErr(t *testing.T, what string, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want %s", what, want)
	}
	if got := err.Error(); got != want {
		t.Fatalf("%s error\n got: %s\nwant: %s", what, got, want)
	}
	var es Errors
	if !errors.As(err, &es) || len(es) == 0 {
		t.Fatalf("%s error is %T, not Errors", what, err)
	}
	var esp *Errors
	if !errors.As(err, &esp) || len(*esp) != len(es) {
		t.Fatalf("%s error is %T, not *Errors", what, err)
	}
	for _, e := range es {
		if e.Msg == "" {
			t.Errorf("entry without message: %#v", e)
		}
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Path: "workflow.steps[1].step.id", Msg: `duplicate step id "b"`}
	if got, want := e.Error(), `workflow.steps[1].step.id: duplicate step id "b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	e.Line, e.Col = 12, 5
	if got, want := e.Error(), `line 12:5: workflow.steps[1].step.id: duplicate step id "b"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	es := Errors{e, {Msg: "other"}}
	if got, want := es.Error(), `line 12:5: workflow.steps[1].step.id: duplicate step id "b"; other`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestJSONErrorPositionsWithoutYAML(t *testing.T) {
	// Validate on JSON input also carries positions, computed from offsets,
	// and columns count characters rather than bytes.
	src := "{\"workflow\": {\"description\": \"é\", \"id\": \"wf\", \"steps\": [\n" +
		"  {\"step\": {\"id\": \"a\", \"type\": \"NoOp\", \"transition\": {\"successors\": {\"zz\": \"true\"}}}}]}}"
	d, err := Parse([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = d.Validate(DefaultLimits())
	want := `line 2:76: workflow.steps[0].step.transition.successors.zz: unknown successor step "zz"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestLimits(t *testing.T) {
	d := mustParse(t, "valid/diamond.yaml")
	l := DefaultLimits()
	if l.MaxSteps != 300 || l.MaxIDLength != 128 || l.MaxNameLength != 256 ||
		l.MaxDescriptionLength != 16384 || l.MaxParams != 128 || l.MaxDefinitionBytes != 1<<20 {
		t.Fatalf("unexpected defaults %+v", l)
	}
	err := d.Validate(Limits{MaxSteps: 3, MaxDefinitionBytes: 100, MaxNameLength: 5})
	size := len(readFixture(t, "valid/diamond.yaml"))
	want := fmt.Sprintf("definition is %d bytes, over the limit of 100; ", size) +
		`line 7:9: workflow.name: name is 22 characters, over the limit of 5; ` +
		`line 11:5: workflow.steps: 4 steps (counting nested steps) is over the limit of 3`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	// Zero fields fall back to the defaults.
	if err := d.Validate(Limits{}); err != nil {
		t.Fatalf("Validate(Limits{}): %v", err)
	}
}

func TestDiamondDAG(t *testing.T) {
	for _, f := range []string{"valid/diamond.json", "valid/diamond.yaml"} {
		t.Run(f, func(t *testing.T) {
			d := mustParse(t, f)
			g, err := d.DAG()
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"a", "b", "c", "d"}; !reflect.DeepEqual(g.Order, want) {
				t.Errorf("Order = %v, want %v", g.Order, want)
			}
			wantPreds := map[string][]string{"a": {}, "b": {"a"}, "c": {"a"}, "d": {"b", "c"}}
			if !reflect.DeepEqual(g.Preds, wantPreds) {
				t.Errorf("Preds = %v, want %v", g.Preds, wantPreds)
			}
			wantSuccs := map[string][]Edge{
				"a": {{To: "b", Condition: "true"}, {To: "c", Condition: "true"}},
				"b": {{To: "d", Condition: "true"}},
				"c": {{To: "d", Condition: "x > 1"}},
				"d": {},
			}
			if !reflect.DeepEqual(g.Succs, wantSuccs) {
				t.Errorf("Succs = %v, want %v", g.Succs, wantSuccs)
			}
			if got := g.Roots(); !reflect.DeepEqual(got, []string{"a"}) {
				t.Errorf("Roots = %v", got)
			}
			for _, id := range g.Order {
				s := d.Step(id)
				if s == nil || s.Type != TypeShell || s.Kind != KindStep || s.FailureMode != FailAfterRunning {
					t.Fatalf("Step(%q) = %+v", id, s)
				}
				cmd := s.Params["shell"].Fields["command"]
				if cmd.Type != String || cmd.Value == nil {
					t.Fatalf("step %s command = %+v", id, cmd)
				}
			}
			if d.Step("nope") != nil {
				t.Error("Step of unknown id is not nil")
			}
		})
	}
}

func TestDAGErrorsMatchValidate(t *testing.T) {
	for _, f := range []string{"invalid/cycle.json", "invalid/dangling.yaml", "invalid/duplicate_id.yaml"} {
		d := mustParse(t, f)
		_, dagErr := d.DAG()
		valErr := d.Validate(DefaultLimits())
		if dagErr == nil || valErr == nil || dagErr.Error() != valErr.Error() {
			t.Errorf("%s: DAG error %v, Validate error %v", f, dagErr, valErr)
		}
	}
}

func TestSuccessorOrderKept(t *testing.T) {
	d, err := Parse([]byte(`{"workflow": {"id": "w", "steps": [
		{"step": {"id": "s", "type": "NoOp", "transition": {"successors": {"z": "1", "a": "2", "m": "3"}}}},
		{"step": {"id": "z", "type": "NoOp"}}, {"step": {"id": "a", "type": "NoOp"}}, {"step": {"id": "m", "type": "NoOp"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	g, err := d.DAG()
	if err != nil {
		t.Fatal(err)
	}
	want := []Edge{{"z", "1"}, {"a", "2"}, {"m", "3"}}
	if !reflect.DeepEqual(g.Succs["s"], want) {
		t.Errorf("Succs = %v", g.Succs["s"])
	}
	c, _ := Canonical(d)
	if !bytes.Contains(c, []byte(`"successors":{"z":"1","a":"2","m":"3"}`)) {
		t.Errorf("canonical lost successor order: %s", c)
	}
}

// TestDAGPositions checks the by-position view against the by-id one for
// every valid definition: a planner reading either must see the same graph.
func TestDAGPositions(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*")
	if len(files) == 0 {
		t.Fatal("no valid definitions under testdata/valid")
	}
	for _, f := range files {
		d := mustParse(t, strings.TrimPrefix(filepath.ToSlash(f), "testdata/"))
		g, err := d.DAG()
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for i, id := range g.Order {
			if j, ok := g.Index(id); !ok || j != i {
				t.Errorf("%s: Index(%q) = %d, %v; want %d", f, id, j, ok, i)
			}
			if g.StepAt(i) != g.Step(id) {
				t.Errorf("%s: StepAt(%d) is not Step(%q)", f, i, id)
			}
			var preds []string
			for _, p := range g.PredsAt(i) {
				preds = append(preds, g.Order[p])
			}
			if len(preds) != len(g.Preds[id]) || (len(preds) > 0 && !reflect.DeepEqual(preds, g.Preds[id])) {
				t.Errorf("%s: PredsAt(%d) names %v; Preds[%q] = %v", f, i, preds, id, g.Preds[id])
			}
		}
		if _, ok := g.Index("no-such-step"); ok {
			t.Errorf("%s: Index found a step that is not there", f)
		}
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*")
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f), "testdata/")
		t.Run(name, func(t *testing.T) {
			d := mustParse(t, name)
			c1, err := Canonical(d)
			if err != nil {
				t.Fatal(err)
			}
			d2, err := Parse(c1)
			if err != nil {
				t.Fatalf("re-parse: %v\n%s", err, c1)
			}
			if !d.Equal(d2) {
				t.Fatalf("re-parsed definition differs:\n%+v\n%+v", d, d2)
			}
			if reflect.DeepEqual(d, d2) {
				t.Fatal("source positions were expected to differ")
			}
			c2, err := Canonical(d2)
			if err != nil || !bytes.Equal(c1, c2) {
				t.Fatalf("canonical not stable (%v):\n%s\n%s", err, c1, c2)
			}
			// json.Marshal and json.Unmarshal go through the same code.
			var d3 Definition
			if err := d3.UnmarshalJSON(c1); err != nil {
				t.Fatal(err)
			}
			m, err := d3.MarshalJSON()
			if err != nil || !bytes.Equal(m, c1) {
				t.Fatalf("MarshalJSON differs (%v)", err)
			}
		})
	}
	// The same workflow written in JSON and in YAML is the same definition.
	cj, _ := Canonical(mustParse(t, "valid/diamond.json"))
	cy, _ := Canonical(mustParse(t, "valid/diamond.yaml"))
	if !bytes.Equal(cj, cy) {
		t.Errorf("JSON and YAML diamonds differ:\n%s\n%s", cj, cy)
	}
}

func TestCanonicalNormalizes(t *testing.T) {
	d, err := Parse([]byte(`
properties: {run_strategy: parallel}
workflow:
  id: w
  criticality: low
  timeout: "1500ms"
  steps:
    - step:
        id: a
        type: noop
        failure_mode: ignore_failure
        params:
          n: {type: long, value: "7", mode: constant}
          d: {type: Double, value: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := Canonical(d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"properties":{"run_strategy":{"rule":"PARALLEL","workflow_concurrency":20}},` +
		`"workflow":{"id":"w","timeout":"1500ms","criticality":"LOW","steps":[{"step":{"id":"a","type":"NoOp",` +
		`"failure_mode":"IGNORE_FAILURE","params":{"d":{"value":3.0,"type":"DOUBLE"},"n":{"value":7,"type":"LONG","mode":"CONSTANT"}}}}]}}`
	if string(c) != want {
		t.Fatalf("got  %s\nwant %s", c, want)
	}
	if d.Workflow.Timeout.Duration != 1500*time.Millisecond {
		t.Errorf("timeout = %v", d.Workflow.Timeout.Duration)
	}
}

func TestCanonicalRejectsBadHandBuiltValues(t *testing.T) {
	d := &Definition{Workflow: Workflow{ID: "w", Params: map[string]ParamDef{
		"p": {Type: Long, Value: &Value{Type: Long, Raw: "not an int"}},
	}}}
	if _, err := Canonical(d); err == nil {
		t.Fatal("Canonical accepted a LONG holding a string")
	}
	if err := d.Validate(DefaultLimits()); err == nil || !strings.Contains(err.Error(), "workflow.params.p.value: value of Go type string does not match param type LONG") {
		t.Fatalf("Validate: %v", err)
	}
	if _, err := Canonical(nil); err == nil {
		t.Fatal("Canonical(nil) succeeded")
	}
}

func TestParseShapes(t *testing.T) {
	d, err := Parse([]byte(`
is_active: false
properties:
  owner: {name: someone, team: data}
  tags: [a, {name: b, namespace: system, permit: 3}]
workflow:
  id: w
  steps:
    - subworkflow: {id: s, sync: false, explicit_params: true}
    - template: {id: t, sub_type: x}
    - while: {id: wh, condition: "true", params: {loop_params: {type: MAP, value: {}}}, steps: [{step: {id: in, type: NoOp}}]}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := d.Properties
	if p.Owner.Name != "someone" || string(p.Owner.Extra["team"]) != `"data"` {
		t.Errorf("owner = %+v", p.Owner)
	}
	if len(p.Tags) != 2 || p.Tags[1].Namespace != "SYSTEM" || *p.Tags[1].Permit != 3 {
		t.Errorf("tags = %+v", p.Tags)
	}
	if *d.IsActive {
		t.Error("is_active")
	}
	steps := d.Workflow.Steps
	if steps[0].Kind != KindSubworkflow || steps[0].Type != "subworkflow" || *steps[0].Sync || !*steps[0].ExplicitParams {
		t.Errorf("subworkflow = %+v", steps[0])
	}
	if steps[1].Kind != KindTemplate || steps[1].SubType != "x" {
		t.Errorf("template = %+v", steps[1])
	}
	lp := steps[2].Params["loop_params"]
	if lp.Fields == nil || lp.Value == nil || len(lp.Value.Raw.(map[string]Value)) != 0 {
		t.Errorf("loop_params = %+v", lp)
	}
	if err := CheckSupported(d); err == nil || !strings.Contains(err.Error(), "workflow.steps[1].template: template step is not supported yet") {
		t.Errorf("CheckSupported: %v", err)
	}
}

func TestParseErrorsNeverPanicOnOddInput(t *testing.T) {
	inputs := []string{
		"", "   ", "{", "[]", "null", "- a\n- b", "workflow: [", "{\"workflow\": 5}",
		"a: &x [*x]", "workflow: {steps: [{step: 5}]}", "workflow:\n  params: {p: {type: MAP, value: [1]}}",
		"{\"workflow\":{\"id\":\"\\ud800\"}}", "\ufeff{\"workflow\": {}}", "---\na: 1\n---\nb: 2\n",
		"workflow: {id: w, steps: [{step: {id: a, type: NoOp}}], timeout: .inf}",
		"workflow: {<<: {id: w}}",
	}
	for _, in := range inputs {
		d, err := Parse([]byte(in))
		if err == nil {
			_ = d.Validate(DefaultLimits())
			_, _ = Canonical(d)
			continue
		}
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("Parse(%q) error is %T", in, err)
		}
	}
}

func TestEqual(t *testing.T) {
	a := mustParse(t, "valid/diamond.json")
	b := mustParse(t, "valid/diamond.yaml")
	if !a.Equal(b) {
		t.Error("JSON and YAML diamonds are not Equal")
	}
	b.Workflow.Steps[3].Transition.Successors = []Edge{{To: "a"}}
	if a.Equal(b) {
		t.Error("different definitions are Equal")
	}
	var none *Definition
	if !none.Equal(nil) || a.Equal(nil) || none.Equal(a) {
		t.Error("nil handling")
	}
}
