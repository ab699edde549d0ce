package workflow

import (
	"fmt"
	"strings"
	"testing"

	"github.com/batonhq/baton/workflow/sel"
)

// repeatRef is n references to name, as one string.
func repeatRef(name string, n int) string {
	return strings.Repeat("${"+name+"}", n)
}

// A definition of a few KB whose params would expand to 200 MB (and one
// level more to 20 GB) passes push, so the resolver itself must refuse it,
// naming the first param that would pass the limit, before building it.
func TestInterpolationBombRefused(t *testing.T) {
	if maxInterpolatedBytes != sel.DefaultLimits().MaxStringLen {
		t.Fatalf("interpolation limit %d is not SEL's string limit %d", maxInterpolatedBytes, sel.DefaultLimits().MaxStringLen)
	}
	def := fmt.Sprintf(`{"workflow": {"id": "bomb", "params": {
	  "p0": {"type": "STRING", "value": %q},
	  "p1": {"type": "STRING", "value": %q},
	  "p2": {"type": "STRING", "value": %q},
	  "p3": {"type": "STRING", "value": %q}},
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`,
		strings.Repeat("x", 1000), repeatRef("p0", 100), repeatRef("p1", 100), repeatRef("p2", 20))
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := CheckSupported(d); err != nil {
		t.Fatal(err)
	}
	_, err = ResolveParams(d.Workflow.Params, nil)
	if want := `param "p2": interpolated text would be over the limit of 1000000 bytes`; err == nil || err.Error() != want {
		t.Fatalf("ResolveParams error = %v, want %s", err, want)
	}
}

func TestInterpolationLimitBoundary(t *testing.T) {
	half := strings.Repeat("y", maxInterpolatedBytes/2)
	defs := map[string]ParamDef{
		"half": strDef(half),
		"full": strDef("${half}${half}"),
	}
	got, err := ResolveParams(defs, nil)
	if err != nil {
		t.Fatalf("a string of exactly the limit: %v", err)
	}
	if n := len(got["full"].Raw.(string)); n != maxInterpolatedBytes {
		t.Fatalf("full is %d bytes", n)
	}

	for _, tc := range []struct {
		defs map[string]ParamDef
		want string
	}{
		// One byte of literal text past the limit.
		{map[string]ParamDef{"half": strDef(half), "over": strDef("${half}${half}!")},
			`param "over": interpolated text would be over the limit of 1000000 bytes`},
		// An array element and a map entry name their place in the param.
		{map[string]ParamDef{"half": strDef(half), "list": {Type: StringArray, Value: &Value{StringArray, []string{"ok", "${half}$half$half"}}}},
			`param "list[1]": interpolated text would be over the limit of 1000000 bytes`},
		{map[string]ParamDef{"half": strDef(half), "env": {Type: StringMap, Value: &Value{StringMap, map[string]string{"K": "${half}$half$half"}}}},
			`param "env.K": interpolated text would be over the limit of 1000000 bytes`},
		{map[string]ParamDef{"half": strDef(half), "m": {Type: Map, Fields: map[string]ParamDef{"cmd": strDef("${half}$half$half")}}},
			`param "m.cmd": interpolated text would be over the limit of 1000000 bytes`},
		// A literal too long to keep (a run param, say) is refused as well.
		{map[string]ParamDef{"big": strDef(strings.Repeat("z", maxInterpolatedBytes+1))},
			`param "big": 1000001 bytes is over the limit of 1000000 bytes`},
		// An expression that reads a param over the limit reports that
		// param, not a missing name.
		{map[string]ParamDef{"half": strDef(half), "over": strDef("$half$half$half"), "e": {Type: Long, Expression: "over.length()"}},
			`param "over": interpolated text would be over the limit of 1000000 bytes`},
	} {
		if _, err := ResolveParams(tc.defs, nil); err == nil || err.Error() != tc.want {
			t.Errorf("ResolveParams error = %v, want %s", err, tc.want)
		}
	}
}

// An array is interpolated as its JSON rendering; one whose rendering could
// not fit is refused before it is rendered, here an array SEL builds.
func TestInterpolatedArrayLimit(t *testing.T) {
	defs := map[string]ParamDef{
		// Three strings of 2^18 bytes: within SEL's limits, 786 KB in all.
		"arr": {Type: StringArray, Expression: "String s = 'x'; for (int i = 0; i < 18; i++) { s = s + s; } return new String[] {s, s, s};"},
		"one": strDef("${arr}"),
	}
	got, err := ResolveParams(defs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(got["one"].Raw.(string)); n != 3*(1<<18)+10 {
		t.Fatalf("one is %d bytes", n)
	}
	defs["two"] = strDef("${arr} ${arr}")
	_, err = ResolveParams(defs, nil)
	if want := `param "two": interpolated text would be over the limit of 1000000 bytes`; err == nil || err.Error() != want {
		t.Fatalf("ResolveParams error = %v, want %s", err, want)
	}
	// Interpolate, used for retry policy fields, has the same limit.
	lookup := lookupFrom(map[string]Value{"arr": got["arr"]})
	if _, err := Interpolate("${arr}${arr}", lookup); err == nil || err.Error() != "interpolated text would be over the limit of 1000000 bytes" {
		t.Fatalf("Interpolate error = %v", err)
	}
}

// Params under the per-string limit still may not add up to more than
// maxResolvedBytes in one resolution.
func TestResolvedTotalLimit(t *testing.T) {
	big := Value{String, strings.Repeat("b", 900_000)}
	lookup := lookupFrom(map[string]Value{"big": big})
	defs := map[string]ParamDef{}
	for i := 0; i < 4; i++ {
		defs[fmt.Sprintf("p%d", i)] = strDef("${big}")
	}
	if _, err := ResolveParams(defs, lookup); err != nil {
		t.Fatalf("3.6 MB in all: %v", err)
	}
	defs["p4"] = strDef("${big}")
	_, err := ResolveParams(defs, lookup)
	if want := `param "p4": the params resolved together would be over the limit of 4194304 bytes`; err == nil || err.Error() != want {
		t.Fatalf("ResolveParams error = %v, want %s", err, want)
	}
	// Fields of one MAP count one by one, so they are refused before the
	// whole map is built.
	fields := map[string]ParamDef{}
	for i := 0; i < 10; i++ {
		fields[fmt.Sprintf("f%d", i)] = strDef("${big}")
	}
	_, err = ResolveParams(map[string]ParamDef{"m": {Type: Map, Fields: fields}}, lookup)
	if want := `param "m.f4": the params resolved together would be over the limit of 4194304 bytes`; err == nil || err.Error() != want {
		t.Fatalf("MAP fields: error = %v, want %s", err, want)
	}
}
