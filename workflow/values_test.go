package workflow

import (
	"math"
	"reflect"
	"testing"
)

func TestParseValueString(t *testing.T) {
	cases := []struct {
		typ     ParamType
		in      string
		want    Value
		wantErr string
	}{
		{String, "hello, world", Value{String, "hello, world"}, ""},
		{String, "", Value{String, ""}, ""},
		{Long, "42", Value{Long, int64(42)}, ""},
		{Long, " -7 ", Value{Long, int64(-7)}, ""},
		{"long", "1e3", Value{Long, int64(1000)}, ""},
		{Long, "abc", Value{}, `expected LONG, got "abc"`},
		{Long, "1.5", Value{}, `expected LONG, got "1.5"`},
		{Long, "99999999999999999999", Value{}, `expected LONG, got "99999999999999999999"`},
		{Double, "3.25", Value{Double, 3.25}, ""},
		{Double, "-1e-3", Value{Double, -0.001}, ""},
		{Double, "NaN", Value{}, `expected DOUBLE, got "NaN"`},
		{Double, "Infinity", Value{}, `expected DOUBLE, got "Infinity"`},
		{Double, "0x10", Value{}, `expected DOUBLE, got "0x10"`},
		{Boolean, "true", Value{Boolean, true}, ""},
		{Boolean, "FALSE", Value{Boolean, false}, ""},
		{Boolean, "yes", Value{}, `expected BOOLEAN, got "yes"`},
		{StringArray, "a,b", Value{StringArray, []string{"a", "b"}}, ""},
		{StringArray, `["a", "b,c"]`, Value{StringArray, []string{"a", "b,c"}}, ""},
		{StringArray, "", Value{StringArray, []string{}}, ""},
		{LongArray, "1, 2,3", Value{LongArray, []int64{1, 2, 3}}, ""},
		{LongArray, `[1, "2"]`, Value{LongArray, []int64{1, 2}}, ""},
		{LongArray, "1,x", Value{}, `[1]: expected LONG, got "x"`},
		{DoubleArray, "1.5,2", Value{DoubleArray, []float64{1.5, 2}}, ""},
		{BooleanArray, "true,false", Value{BooleanArray, []bool{true, false}}, ""},
		{BooleanArray, "[true, 1]", Value{}, `[1]: expected BOOLEAN, got 1`},
		{StringMap, `{"a": "b", "n": 1}`, Value{StringMap, map[string]string{"a": "b", "n": "1"}}, ""},
		{StringMap, "a=b", Value{}, `expected STRING_MAP as a JSON object, got "a=b"`},
		{StringMap, `{"a": [1]}`, Value{}, `a: expected STRING, got a list`},
		{Map, `{"n": 1, "s": "x", "f": 1.5, "b": true, "l": [1, 2], "m": {"w": ["p"]}}`, Value{Map, map[string]Value{
			"n": {Long, int64(1)}, "s": {String, "x"}, "f": {Double, 1.5}, "b": {Boolean, true},
			"l": {LongArray, []int64{1, 2}}, "m": {Map, map[string]Value{"w": {StringArray, []string{"p"}}}},
		}}, ""},
		{Map, `{"m": {"bad": [{}]}}`, Value{}, `m.bad[0]: unsupported list element an object`},
		{Map, `{"x": null}`, Value{}, `x: null is not a supported value`},
		{"FOO", "1", Value{}, `unknown param type "FOO"`},
	}
	for _, tc := range cases {
		got, err := ParseValueString(tc.typ, tc.in)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ParseValueString(%s, %q) error = %v, want %s", tc.typ, tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseValueString(%s, %q) = %#v, %v; want %#v", tc.typ, tc.in, got, err, tc.want)
		}
	}
}

func TestValueFromJSON(t *testing.T) {
	cases := []struct {
		typ     ParamType
		in      string
		want    Value
		wantErr string
	}{
		{Long, `12`, Value{Long, int64(12)}, ""},
		{Long, `"12"`, Value{Long, int64(12)}, ""},
		{Long, `12.0`, Value{Long, int64(12)}, ""},
		{Long, `12.5`, Value{}, `expected LONG, got 12.5`},
		{Long, `true`, Value{}, `expected LONG, got true`},
		{Long, `{}`, Value{}, `expected LONG, got an object`},
		{Long, `null`, Value{}, `expected LONG, got null`},
		{String, `12`, Value{String, "12"}, ""},
		{String, `false`, Value{String, "false"}, ""},
		{String, `"a\u00e9\n"`, Value{String, "aé\n"}, ""},
		{String, `["a"]`, Value{}, `expected STRING, got a list`},
		{Double, `1`, Value{Double, 1.0}, ""},
		{Double, `"2.5"`, Value{Double, 2.5}, ""},
		{Double, `1e999`, Value{}, `expected DOUBLE, got 1e999`},
		{Boolean, `"true"`, Value{Boolean, true}, ""},
		{StringArray, `"a"`, Value{}, `expected STRING_ARRAY, got "a"`},
		{StringArray, `["a", 1, true]`, Value{StringArray, []string{"a", "1", "true"}}, ""},
		{DoubleArray, `[1, 2.5]`, Value{DoubleArray, []float64{1, 2.5}}, ""},
		{StringMap, `{"k": "v"}`, Value{StringMap, map[string]string{"k": "v"}}, ""},
		{Map, `[1]`, Value{}, `expected MAP, got a list`},
		{Map, `{"ids": [], "xs": [1, 2.5]}`, Value{Map, map[string]Value{
			"ids": {StringArray, []string{}}, "xs": {DoubleArray, []float64{1, 2.5}},
		}}, ""},
		{Long, `{`, Value{}, `invalid JSON: line 1:2: unexpected end of input, expected a quoted object key`},
		{Long, `1 2`, Value{}, `invalid JSON: line 1:3: unexpected character '2' after the top-level value`},
		{Long, ``, Value{}, `expected LONG, got no JSON value`},
	}
	for _, tc := range cases {
		got, err := ValueFromJSON(tc.typ, []byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("ValueFromJSON(%s, %s) error = %v, want %s", tc.typ, tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ValueFromJSON(%s, %s) = %#v, %v; want %#v", tc.typ, tc.in, got, err, tc.want)
		}
	}
}

func TestParseOutputParams(t *testing.T) {
	out := `{"params": {
  "table": {"value": "raw", "type": "STRING", "evaluated_result": "final", "evaluated_time": 1700000000000},
  "rows": {"value": 5, "type": "long"},
  "ratio": {"value": "0.5", "type": "DOUBLE"},
  "parts": {"value": ["p1", "p2"], "type": "STRING_ARRAY"},
  "info": {"type": "MAP",
           "value": {"ids": {"value": [1], "type": "LONG_ARRAY"}, "name": {"value": "x", "type": "STRING"}},
           "evaluated_result": {"ids": [], "name": "y", "extra": 2.5}},
  "plain": {"type": "MAP", "value": {"k": {"value": true, "type": "BOOLEAN"}}}
}, "artifacts": {"anything": {"goes": "here"}}}`
	got, err := ParseOutputParams([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Value{
		"table": {String, "final"},
		"rows":  {Long, int64(5)},
		"ratio": {Double, 0.5},
		"parts": {StringArray, []string{"p1", "p2"}},
		"info": {Map, map[string]Value{
			"ids": {LongArray, []int64{}}, "name": {String, "y"}, "extra": {Double, 2.5},
		}},
		"plain": {Map, map[string]Value{"k": {Boolean, true}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}

	errCases := []struct{ in, want string }{
		{`{"params": {"n": {"value": "x", "type": "LONG"}}}`, `line 1:28: params.n.value: expected LONG, got "x"`},
		{`{"params": {"n": {"value": 1}}}`, `line 1:18: params.n: param type is required`},
		{`{"params": {"n": {"value": 1, "type": "INT"}}}`, `line 1:39: params.n.type: unknown param type "INT"`},
		{`{"params": {"n": {"type": "LONG"}}}`, `line 1:18: params.n: param has no value or evaluated_result`},
		{`{"params": {"l": {"type": "LONG_ARRAY", "evaluated_result": [1, "b"]}}}`, `line 1:65: params.l.evaluated_result[1]: expected LONG, got "b"`},
		{`{"params": {"m": {"type": "MAP", "value": {"a": {"expression": "1", "type": "LONG"}}}}}`, `line 1:43: params.m.value: MAP value has entries without a literal value`},
		{`{"params": [1]}`, `line 1:12: params: expected an object of params, got a list`},
		{`[]`, `line 1:1: expected an object such as {"params": {...}}, got a list`},
		{`{"params": {"a": 1,}}`, `line 1:20: params: unexpected character '}', expected a quoted object key`},
		{``, `empty output`},
	}
	for _, tc := range errCases {
		_, err := ParseOutputParams([]byte(tc.in))
		if err == nil || err.Error() != tc.want {
			t.Errorf("ParseOutputParams(%s) error = %v\nwant %s", tc.in, err, tc.want)
		}
	}
	if got, err := ParseOutputParams([]byte(`{"artifacts": {}}`)); err != nil || len(got) != 0 {
		t.Errorf("output without params = %v, %v", got, err)
	}
}

func TestValueString(t *testing.T) {
	cases := []struct {
		v        Value
		str, js  string
		jsDiffer bool
	}{
		{Value{String, `say "hi" <b>`}, `say "hi" <b>`, `"say \"hi\" <b>"`, true},
		{Value{Long, int64(-42)}, "-42", "-42", false},
		{Value{Double, 3.0}, "3.0", "3.0", false},
		{Value{Double, 0.1}, "0.1", "0.1", false},
		{Value{Double, 1234567.0}, "1234567.0", "1234567.0", false},
		{Value{Double, 1e7}, "1.0E7", "1.0E7", false},
		{Value{Double, 1e20}, "1.0E20", "1.0E20", false},
		{Value{Double, 1.5e-5}, "1.5E-5", "1.5E-5", false},
		{Value{Double, 0.001}, "0.001", "0.001", false},
		{Value{Double, math.Copysign(0, -1)}, "-0.0", "-0.0", false},
		{Value{Boolean, true}, "true", "true", false},
		{Value{StringArray, []string{"one", "t<w>o"}}, `["one","t<w>o"]`, `["one","t<w>o"]`, false},
		{Value{LongArray, []int64{1, 2, 3}}, `[1,2,3]`, `[1,2,3]`, false},
		{Value{DoubleArray, []float64{1.5, 2}}, `[1.5,2.0]`, `[1.5,2.0]`, false},
		{Value{BooleanArray, []bool{true, false}}, `[true,false]`, `[true,false]`, false},
		{Value{StringMap, map[string]string{"z": "$v", "a": "\n"}}, `{"a":"\n","z":"$v"}`, `{"a":"\n","z":"$v"}`, false},
		{Value{Map, map[string]Value{"b": {Long, int64(1)}, "a": {Map, map[string]Value{"x": {Double, 2.0}}}}},
			`{"a":{"x":2.0},"b":1}`, `{"a":{"x":2.0},"b":1}`, false},
	}
	for _, tc := range cases {
		if got := tc.v.String(); got != tc.str {
			t.Errorf("%#v.String() = %s, want %s", tc.v, got, tc.str)
		}
		js, err := tc.v.MarshalJSON()
		if err != nil || string(js) != tc.js {
			t.Errorf("%#v.MarshalJSON() = %s, %v; want %s", tc.v, js, err, tc.js)
		}
		// What MarshalJSON writes reads back to the same value.
		back, err := ValueFromJSON(tc.v.Type, js)
		if err != nil || !reflect.DeepEqual(back, tc.v) {
			t.Errorf("ValueFromJSON(%s, %s) = %#v, %v", tc.v.Type, js, back, err)
		}
	}
	if _, err := (Value{Double, math.NaN()}).MarshalJSON(); err == nil {
		t.Error("NaN marshaled")
	}
	if _, err := (Value{Long, 3}).MarshalJSON(); err == nil {
		t.Error("int (not int64) marshaled")
	}
}
