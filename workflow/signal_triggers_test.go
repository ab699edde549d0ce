package workflow

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

func TestParseSignalTrigger(t *testing.T) {
	tr, errs := ParseSignalTrigger(json.RawMessage(`{
	  "definitions": {
	    "b": {"match_params": {"v": {"value": 2.5, "operator": "<"}, "s": {"value": "x"}}, "join_keys": ["k"]},
	    "a": {"join_keys": ["j"]}},
	  "condition": "v > 1", "dedup_expr": "'k'",
	  "params": {"p": {"type": "LONG", "expression": "1 + 1"}}}`))
	if len(errs) != 0 {
		t.Fatalf("errors: %v", errs)
	}
	if strings.Join(tr.Names, ",") != "a,b" || tr.Condition != "v > 1" || tr.DedupExpr != "'k'" || tr.Params["p"].Expression != "1 + 1" {
		t.Fatalf("trigger: %+v", tr)
	}
	b := tr.Definitions["b"]
	if m := b.Match["s"]; m.Operator != "=" || m.Value.Raw != "x" {
		t.Fatalf("default operator and string value: %+v", m)
	}
	if m := b.Match["v"]; m.Operator != "<" || m.Value.Raw != 2.5 {
		t.Fatalf("double value: %+v", m)
	}
	get := func(vals map[string]Value) func(string) (Value, bool) {
		return func(n string) (Value, bool) { v, ok := vals[n]; return v, ok }
	}
	if !b.Matches(get(map[string]Value{"v": {Type: Long, Raw: int64(2)}, "s": {Type: String, Raw: "x"}})) {
		t.Error("2 < 2.5 and s = x should match")
	}
	if b.Matches(get(map[string]Value{"v": {Type: Long, Raw: int64(3)}, "s": {Type: String, Raw: "x"}})) {
		t.Error("3 < 2.5 matched")
	}
	if b.Matches(get(map[string]Value{"v": {Type: Long, Raw: int64(1)}})) {
		t.Error("a signal without s matched")
	}

	for _, tc := range []struct{ raw, want string }{
		{`[]`, "cannot unmarshal array"},
		{`{"definitions": {"a": {"join_keys": [""]}}}`, "definitions.a.join_keys[0]: a join key must not be empty"},
		{`{"definitions": {"a": {"match_params": {"x": {"value": [1]}}}}}`, "definitions.a.match_params.x.value: want a string, number or boolean"},
		{`{"definitions": {"a": {"other": 1}}}`, `definitions.a: unknown field "other"`},
		{`{"definitions": {" ": {}}}`, `definitions[" "]: a signal name must not be empty`},
		{`{"definitions": {"a\u0000b": {}}}`, `a signal name must not hold control characters (U+0000)`},
	} {
		_, errs := ParseSignalTrigger(json.RawMessage(tc.raw))
		if len(errs) == 0 || !strings.Contains(fmt.Sprint(errs), tc.want) {
			t.Errorf("%s: errors %v, want %q", tc.raw, errs, tc.want)
		}
	}
}

// SignalKey puts values "=" finds equal under one key, and no others.
func TestSignalKey(t *testing.T) {
	same := [][2]Value{
		{{Type: Long, Raw: int64(300)}, {Type: String, Raw: "300"}},
		{{Type: Double, Raw: 3.0}, {Type: Long, Raw: int64(3)}},
		{{Type: String, Raw: "eu"}, {Type: String, Raw: "eu"}},
	}
	for _, p := range same {
		if !SignalMatches(p[0], p[1], "=") || SignalKey(p[0]) != SignalKey(p[1]) {
			t.Errorf("%v and %v: match %v, keys %q %q", p[0], p[1], SignalMatches(p[0], p[1], "="), SignalKey(p[0]), SignalKey(p[1]))
		}
	}
	differ := [][2]Value{
		{{Type: Long, Raw: int64(300)}, {Type: Long, Raw: int64(301)}},
		{{Type: String, Raw: "n1"}, {Type: Long, Raw: int64(1)}},
	}
	for _, p := range differ {
		if SignalMatches(p[0], p[1], "=") || SignalKey(p[0]) == SignalKey(p[1]) {
			t.Errorf("%v and %v should differ", p[0], p[1])
		}
	}
}

type fakeSignals struct{}

func (fakeSignals) SignalParam(signal, name string) (Value, error) {
	if signal == "s" && name == "p" {
		return Value{Type: Long, Raw: int64(7)}, nil
	}
	return Value{}, fmt.Errorf("no %s.%s", signal, name)
}

func (fakeSignals) TriggerParam(name string) (Value, error) {
	return Value{Type: String, Raw: "t-" + name}, nil
}

func (fakeSignals) DependencyParam(i int, name string) (Value, error) {
	return Value{Type: String, Raw: fmt.Sprintf("dep%d-%s", i, name)}, nil
}

func TestGetFromSignal(t *testing.T) {
	with := EvalOptions{Signals: fakeSignals{}}
	for _, tc := range []struct {
		expr string
		opts EvalOptions
		want any
		err  string
	}{
		{"params.getFromSignal('s', 'p') + 1", with, int64(8), ""},
		{"params.getFromSignal('x')", with, "t-x", ""},
		{"params.getFromSignalDependency('1', 'q')", with, "dep1-q", ""},
		{"params.getFromSignalOrDefault('s', 'nope', 'dflt')", with, "dflt", ""},
		{"params.getFromSignal('s', 'nope')", with, nil, "no s.nope"},
		{"params.getFromSignalDependency('one', 'q')", with, nil, `signal dependency index "one"`},
		{"params.getFromSignal('s', 'p')", EvalOptions{}, nil, "no signal is available here"},
		{"params.getFromSignalOrDefault('s', 'p', 'dflt')", EvalOptions{}, "dflt", ""},
		{"params.getFromInstance('RUN_POLICY')", with, nil, "params.getFromInstance: not supported here (with 1 argument(s))"},
	} {
		typ := String
		if _, ok := tc.want.(int64); ok {
			typ = Long
		}
		v, err := EvalWith(tc.expr, typ, nil, tc.opts)
		switch {
		case tc.err != "":
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want %q", tc.expr, err, tc.err)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.expr, err)
		case v.Raw != tc.want:
			t.Errorf("%s = %v, want %v", tc.expr, v.Raw, tc.want)
		}
	}
}

func TestFindStepAndStepIDs(t *testing.T) {
	d, err := Parse(readFixture(t, "valid/unsupported.json"))
	if err != nil {
		t.Fatal(err)
	}
	if s := d.FindStep("tick"); s == nil || s.ID != "tick" {
		t.Fatalf("nested step: %v", s)
	}
	if d.FindStep("nope") != nil {
		t.Fatal("found a step that does not exist")
	}
	if got := strings.Join(d.StepIDs(), ","); got != "loop,inner,wait,tick,child,k8s" {
		t.Fatalf("step ids: %s", got)
	}
	if wf, id, ok := InlineRoot("wf:7:loop:3:inner"); !ok || wf != "wf" || id != 7 {
		t.Fatalf("InlineRoot: %s %d %v", wf, id, ok)
	}
	if _, _, ok := InlineRoot("wf"); ok {
		t.Fatal("a plain workflow id has no inline root")
	}
}
