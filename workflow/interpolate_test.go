package workflow

import (
	"reflect"
	"strings"
	"testing"
)

func lookupFrom(m map[string]Value) func(string) (Value, bool) {
	return func(name string) (Value, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestInterpolate(t *testing.T) {
	params := lookupFrom(map[string]Value{
		"n":             {Long, int64(7)},
		"ok":            {Boolean, false},
		"who":           {String, "ada"},
		"ratio":         {Double, 2.0},
		"dollar":        {String, "$who"}, // values are not interpolated again
		"job.1__out":    {String, "dotted"},
		"step_a__count": {Long, int64(3)},
		"list":          {StringArray, []string{"x", "y"}},
		"env":           {StringMap, map[string]string{"HOME": "/h"}},
		"a-b/c.d":       {String, "odd"},
	})
	cases := []struct{ in, want string }{
		{"no references", "no references"},
		{"hi ${who}!", "hi ada!"},
		{"hi $who!", "hi ada!"},
		{"$n-$ok:${ratio}", "7-false:2.0"},
		{"${a-b/c.d}", "odd"},
		{"$a-b", "ERR"}, // "$a" is a reference to an unknown param
		{"${job.1__out} $step_a__count", "dotted 3"},
		{"$whoami", "ERR"}, // a plain name runs to the last name character
		{"${who}ami", "adaami"},
		{"$$", "$"},
		{"$$$$", "$$"},
		{"$$$", "$$"},
		{"$$who", "$who"},
		{"$${who}", "${who}"},
		{"$$$who", "$ada"},
		{"$$$${who}", "$${who}"},
		{"$$${who}", "$ada"},
		{"echo $$HOME", "echo $HOME"},
		{"$$MAESTRO_OUTPUT_START$1$$MAESTRO_OUTPUT_END", "$MAESTRO_OUTPUT_START$1$MAESTRO_OUTPUT_END"},
		{"cost: $5, $ sign, trailing $", "cost: $5, $ sign, trailing $"},
		{"$${ not a ref }", "${ not a ref }"},
		{"${dollar}", "$who"},
		{"$list and $env", `["x","y"] and {"HOME":"/h"}`},
		{"ünïcödé ${who} ✓", "ünïcödé ada ✓"},
	}
	for _, tc := range cases {
		got, err := Interpolate(tc.in, params)
		if tc.want == "ERR" {
			if err == nil {
				t.Errorf("Interpolate(%q) = %q, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("Interpolate(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}

	errCases := []struct{ in, want string }{
		{"hello ${nobody}", `unknown param "nobody"`},
		{"hello $nobody", `unknown param "nobody"`},
		{"x ${ y}", `malformed "${" at offset 2: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)`},
		{"${1abc}", `malformed "${" at offset 0: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)`},
		{"${abc", `malformed "${" at offset 0: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)`},
		{"${}", `malformed "${" at offset 0: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)`},
	}
	for _, tc := range errCases {
		_, err := Interpolate(tc.in, params)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Interpolate(%q) error = %v, want %s", tc.in, err, tc.want)
		}
	}
	if got, err := Interpolate("plain $$", nil); err != nil || got != "plain $" {
		t.Errorf("nil lookup: %q, %v", got, err)
	}
	if _, err := Interpolate("$x", nil); err == nil {
		t.Error("nil lookup resolved a reference")
	}
}

func strDef(s string) ParamDef { return ParamDef{Type: String, Value: &Value{String, s}} }

func TestResolveParams(t *testing.T) {
	defs := map[string]ParamDef{
		"greeting": strDef("hello ${name}"),
		"name":     strDef("${user}"),
		"n":        {Type: Long, Value: &Value{Long, int64(5)}},
		"list":     {Type: StringArray, Value: &Value{StringArray, []string{"${greeting}", "$$n", "$n"}}},
		"env":      {Type: StringMap, Value: &Value{StringMap, map[string]string{"${name}_HOME": "/home/$name"}}},
		"cfg": {Type: Map, Fields: map[string]ParamDef{
			"cmd":    strDef("run --count ${n} --as $user"),
			"nested": {Type: Map, Fields: map[string]ParamDef{"path": strDef("/data/${name}")}},
			"flag":   {Type: Boolean, Value: &Value{Boolean, true}},
		}},
		"literal": {Type: Map, Value: &Value{Map, map[string]Value{"k": {String, "$name"}}}},
	}
	got, err := ResolveParams(defs, lookupFrom(map[string]Value{"user": {String, "ada"}, "n": {Long, int64(99)}}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{
		"greeting": {String, "hello ada"},
		"name":     {String, "ada"},
		"n":        {Long, int64(5)},
		"list":     {StringArray, []string{"hello ada", "$n", "5"}},
		"env":      {StringMap, map[string]string{"ada_HOME": "/home/ada"}},
		"cfg": {Map, map[string]Value{
			"cmd":    {String, "run --count 5 --as ada"},
			"nested": {Map, map[string]Value{"path": {String, "/data/ada"}}},
			"flag":   {Boolean, true},
		}},
		"literal": {Map, map[string]Value{"k": {String, "ada"}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
	// The definitions themselves are left untouched.
	if defs["greeting"].Value.Raw != "hello ${name}" || defs["list"].Value.Raw.([]string)[0] != "${greeting}" {
		t.Error("ResolveParams modified its input")
	}

	errCases := []struct {
		defs map[string]ParamDef
		want string
	}{
		{map[string]ParamDef{"a": strDef("${b}"), "b": strDef("x $c"), "c": strDef("${a}!")},
			"param reference cycle: a -> b -> c -> a"},
		{map[string]ParamDef{"self": strDef("again ${self}")}, "param reference cycle: self -> self"},
		{map[string]ParamDef{"m": {Type: Map, Fields: map[string]ParamDef{"x": strDef("${m}")}}},
			"param reference cycle: m -> m"},
		{map[string]ParamDef{"a": strDef("${zzz}")}, `param "a": unknown param "zzz"`},
		{map[string]ParamDef{"a": strDef("ok"), "b": strDef("${a} ${ oops}")},
			`param "b": malformed "${" at offset 5: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)`},
		{map[string]ParamDef{"e": {Type: Long, Expression: "1 +"}}, `param "e": sel: syntax error at 1:4: `},
		{map[string]ParamDef{"m": {Type: Map, Fields: map[string]ParamDef{"x": {Type: Long, Expression: "'two'"}}}},
			`param "m.x": expression gave the string "two", which is not a LONG`},
		{map[string]ParamDef{"w": {Type: Long, Expression: "while (true) {}"}}, `param "w": sel: limit`},
	}
	for _, tc := range errCases {
		_, err := ResolveParams(tc.defs, nil)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("ResolveParams error = %v, want %s", err, tc.want)
		}
	}
}

func TestResolveParamsFromDefinition(t *testing.T) {
	d := mustParse(t, "valid/full.json")
	wf, err := ResolveParams(d.Workflow.Params, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := wf["labels"].Raw.(map[string]string)["owner"]; got != "data-team" {
		t.Errorf("labels.owner = %q", got)
	}
	if got := wf["config"].Raw.(map[string]Value)["nested"].Raw.(map[string]Value)["path"].Raw; got != "/data/20240101" {
		t.Errorf("config.nested.path = %v", got)
	}
	step, err := ResolveParams(d.Step("load").Params, lookupFrom(wf))
	if err != nil {
		t.Fatal(err)
	}
	cmd := step["shell"].Raw.(map[string]Value)["command"].String()
	if want := `load --date 20240101 --batch 12 --tables '["orders","users"]'`; cmd != want {
		t.Errorf("command = %s, want %s", cmd, want)
	}
	if _, err := ResolveParams(d.Step("load").Params, nil); err == nil || !strings.Contains(err.Error(), `unknown param "run_date"`) {
		t.Errorf("missing workflow params: %v", err)
	}
}
