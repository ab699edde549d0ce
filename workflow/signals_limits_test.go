package workflow

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// pathMsgs lists the problems of a definition error as "path: msg", without
// line and column.
func pathMsgs(t *testing.T, err error) string {
	t.Helper()
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is not an Errors", err)
	}
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Path + ": " + e.Msg
	}
	return strings.Join(parts, "; ")
}

// oneStep is a definition whose only step is the given step object.
func oneStep(step string) []byte {
	return []byte(fmt.Sprintf(`{"workflow": {"id": "w", "steps": [{"step": %s}]}}`, step))
}

// Misspelled fields under signal_dependencies and signal_outputs are refused
// at push with their path, as everywhere else in a definition, instead of
// being dropped (a dropped "match_params" waits for any signal; a dropped
// "operator" compares with "=").
func TestSignalFieldsStrict(t *testing.T) {
	const base = "workflow.steps[0].step."
	for _, tc := range []struct{ fields, want string }{
		{`"signal_dependencies": [{"name": "orders", "match_param": {"v": {"value": 1}}}]`,
			base + `signal_dependencies[0]: unknown field "match_param"`},
		{`"signal_dependencies": [{"name": "orders", "match_params": {"v": {"value": 1}}},
		   {"name": "prices", "match_params": {"v": {"value": 100, "opertor": ">="}}}]`,
			base + `signal_dependencies[1].match_params.v: unknown field "opertor"`},
		{`"signal_dependencies": [{"name": "orders", "match_params": {"v": {"param": {"type": "LONG", "expresion": "1"}}}}]`,
			base + `signal_dependencies[0].match_params.v.param: unknown field "expresion"`},
		{`"signal_dependencies": [{"name": "orders", "match_params": {"odd key": {"value": 1, "operator": "~"}}}]`,
			base + `signal_dependencies[0].match_params["odd key"].operator: "~" is not one of = > >= < <=`},
		{`"signal_dependencies": [{"match_params": {}}]`,
			base + `signal_dependencies[0].name: a signal name must not be empty`},
		{`"signal_dependencies": [{"name": "orders\u0000x"}]`,
			base + `signal_dependencies[0].name: a signal name must not hold control characters (U+0000)`},
		{`"signal_outputs": [{"name": "done\n"}]`,
			base + `signal_outputs[0].name: a signal name must not hold control characters (U+000A)`},
		{`"signal_dependencies": {"name": "orders"}`,
			base + `signal_dependencies: cannot unmarshal object into Go value of type []json.RawMessage`},
		{`"signal_outputs": [{"name": "done", "parms": {"x": {"type": "LONG", "value": 1}}}]`,
			base + `signal_outputs[0]: unknown field "parms"`},
		{`"signal_outputs": [{"name": "done", "params": {"x": {"type": "LONG", "vaule": 1}}}]`,
			base + `signal_outputs[0].params.x: unknown field "vaule"`},
		{`"signal_outputs": [{"name": "done", "params": {"x": {"type": "LONG", "expression": "1 +"}}}]`,
			base + `signal_outputs[0].params.x.expression: sel: syntax error at 1:4: expected an expression, found end of input`},
		{`"signal_dependencies": [{"name": "a", "match_params": {"v": {"param": {"type": "LONG", "expression": "1 +"}}}}]`,
			base + `signal_dependencies[0].match_params.v.param.expression: sel: syntax error at 1:4: expected an expression, found end of input`},
	} {
		d, err := Parse(oneStep(`{"id": "a", "type": "NoOp", ` + tc.fields + `}`))
		if err != nil {
			t.Fatalf("%s: Parse: %v", tc.fields, err)
		}
		if err := d.Validate(DefaultLimits()); err != nil {
			t.Fatalf("%s: Validate: %v", tc.fields, err)
		}
		err = CheckSupported(d)
		if err == nil {
			t.Errorf("%s: accepted, want %s", tc.fields, tc.want)
			continue
		}
		if got := pathMsgs(t, err); got != tc.want {
			t.Errorf("%s:\n got: %s\nwant: %s", tc.fields, got, tc.want)
		}
	}

	// Well-formed ones still read as before.
	d, err := Parse(oneStep(`{"id": "a", "type": "NoOp",
	  "signal_dependencies": [{"name": "t", "match_params": {
	    "day": {"param": {"type": "LONG", "expression": "1 + 1", "mode": "MUTABLE"}, "operator": ">="},
	    "w": {"value": 100}}}],
	  "signal_outputs": [{"name": "done", "params": {"k": {"type": "STRING", "value": "v"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckSupported(d); err != nil {
		t.Fatal(err)
	}
	deps, err := d.Workflow.Steps[0].WaitsForSignals()
	if err != nil || len(deps) != 1 || deps[0].Match["day"].Param.Expression != "1 + 1" || deps[0].Match["day"].Operator != ">=" ||
		deps[0].Match["w"].Value.Raw != int64(100) || deps[0].Match["w"].Operator != "=" {
		t.Fatalf("dependencies: %+v, %v", deps, err)
	}
	outs, err := d.Workflow.Steps[0].SendsSignals()
	if err != nil || len(outs) != 1 || outs[0].Name != "done" || outs[0].Params["k"].Value.Raw != "v" {
		t.Fatalf("outputs: %+v, %v", outs, err)
	}
}
