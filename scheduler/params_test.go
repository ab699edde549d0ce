package scheduler

import (
	"math"
	"math/rand"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/workflow"
)

// TestScalarParamsMatchTheirJSONForm checks that the direct conversion of a
// scalar stores exactly what the JSON round trip stores, bit for bit, and
// that the values it leaves to JSON are the ones JSON changes or refuses.
func TestScalarParamsMatchTheirJSONForm(t *testing.T) {
	values := []workflow.Value{
		{Type: workflow.String, Raw: ""},
		{Type: workflow.String, Raw: "20261125"},
		{Type: workflow.String, Raw: "quote \" backslash \\ newline \n tab \t nul \x00 <html> & é 😀"},
		{Type: workflow.String, Raw: "\u2028\u2029"},
		{Type: workflow.Boolean, Raw: true},
		{Type: workflow.Boolean, Raw: false},
		{Type: workflow.Long, Raw: int64(0)},
		{Type: workflow.Long, Raw: int64(-1)},
		{Type: workflow.Long, Raw: int64(1764072000000)},
		{Type: workflow.Long, Raw: int64(maxExactJSONInt)},
		{Type: workflow.Long, Raw: int64(maxExactJSONInt + 1)},
		{Type: workflow.Long, Raw: int64(-maxExactJSONInt)},
		{Type: workflow.Long, Raw: int64(-maxExactJSONInt - 1)},
		{Type: workflow.Long, Raw: int64(math.MaxInt64)},
		{Type: workflow.Long, Raw: int64(math.MinInt64)},
		{Type: workflow.Double, Raw: 0.0},
		{Type: workflow.Double, Raw: math.Copysign(0, -1)},
		{Type: workflow.Double, Raw: 3.0},
		{Type: workflow.Double, Raw: 0.1},
		{Type: workflow.Double, Raw: 1e-300},
		{Type: workflow.Double, Raw: 1e20},
		{Type: workflow.Double, Raw: 9007199254740993.0},
		{Type: workflow.Double, Raw: math.MaxFloat64},
		{Type: workflow.Double, Raw: math.SmallestNonzeroFloat64},
	}
	rng := rand.New(rand.NewSource(1))
	for range 2000 {
		values = append(values,
			workflow.Value{Type: workflow.Long, Raw: rng.Int63() >> uint(rng.Intn(63))},
			workflow.Value{Type: workflow.Long, Raw: -rng.Int63() >> uint(rng.Intn(63))},
			workflow.Value{Type: workflow.Double, Raw: math.Float64frombits(rng.Uint64())},
			workflow.Value{Type: workflow.Double, Raw: rng.NormFloat64() * math.Pow(10, float64(rng.Intn(40)-20))},
		)
	}
	direct := 0
	for _, v := range values {
		viaJSON, jsonErr := paramThroughJSON(v)
		sv, ok := scalarValue(v.Raw)
		if !ok {
			continue
		}
		direct++
		if jsonErr != nil {
			t.Fatalf("%v (%T): converted directly, but JSON refuses it: %v", v.Raw, v.Raw, jsonErr)
		}
		want, err := proto.MarshalOptions{Deterministic: true}.Marshal(viaJSON.Value)
		if err != nil {
			t.Fatal(err)
		}
		got, err := proto.MarshalOptions{Deterministic: true}.Marshal(sv)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("%v (%T): stored directly as %v, through JSON as %v", v.Raw, v.Raw, sv, viaJSON.Value)
		}
		p, err := ParamFromValue(v)
		if err != nil || p.Type != string(v.Type) || !proto.Equal(p.Value, sv) {
			t.Fatalf("%v: ParamFromValue = %v, %v", v.Raw, p, err)
		}
	}
	if direct < len(values)/2 {
		t.Fatalf("only %d of %d values took the direct path", direct, len(values))
	}

	// Left to JSON: what it rewrites or refuses.
	for _, raw := range []any{"bad \xff utf-8", math.NaN(), math.Inf(1), []string{"a"}, map[string]string{"k": "v"}} {
		if _, ok := scalarValue(raw); ok {
			t.Errorf("%#v took the direct path", raw)
		}
	}
	p, err := ParamFromValue(workflow.Value{Type: workflow.String, Raw: "bad \xff"})
	if err != nil || p.Value.GetStringValue() != "bad \ufffd" {
		t.Errorf("a string that is not UTF-8 = %v, %v; want its JSON form with U+FFFD", p, err)
	}
	if _, err := ParamFromValue(workflow.Value{Type: workflow.Double, Raw: math.Inf(-1)}); err == nil {
		t.Error("an infinite DOUBLE was stored")
	}
}
