package runtime

import (
	"strings"
	"testing"
)

func TestParseOutputs(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    map[string]string // name -> "TYPE json"
		wantErr string
	}{
		{name: "explicit type", in: `{"params":{"x":{"value":42,"type":"LONG"}}}`, want: map[string]string{"x": "LONG 42"}},
		{name: "type is upper-cased", in: `{"params":{"x":{"value":"a","type":" string "}}}`, want: map[string]string{"x": `STRING "a"`}},
		{name: "other fields ignored", in: `{"params":{"x":{"value":1,"evaluated_time":123,"name":"x"}}, "extra": true}`, want: map[string]string{"x": "LONG 1"}},
		{name: "value is compacted", in: "{\"params\":{\"x\":{\"value\": {\n \"k\" : [ 1, 2 ] } }}}", want: map[string]string{"x": `MAP {"k":[1,2]}`}},
		{
			name: "inferred",
			in: `{"params":{
				"s":{"value":"a"}, "l":{"value":-7}, "d":{"value":1.5}, "e":{"value":1e3}, "huge":{"value":123456789012345678901},
				"b":{"value":false}, "sa":{"value":["a","b"]}, "la":{"value":[1,2]}, "da":{"value":[1,2.5]},
				"ba":{"value":[true]}, "empty":{"value":[]}, "sm":{"value":{"k":"v"}}, "m":{"value":{"k":1}},
				"nullWithType":{"value":null,"type":"STRING"}}}`,
			want: map[string]string{
				"s": `STRING "a"`, "l": "LONG -7", "d": "DOUBLE 1.5", "e": "DOUBLE 1e3", "huge": "DOUBLE 123456789012345678901",
				"b": "BOOLEAN false", "sa": `STRING_ARRAY ["a","b"]`, "la": "LONG_ARRAY [1,2]", "da": "DOUBLE_ARRAY [1,2.5]",
				"ba": "BOOLEAN_ARRAY [true]", "empty": "STRING_ARRAY []", "sm": `STRING_MAP {"k":"v"}`, "m": `MAP {"k":1}`,
				"nullWithType": "STRING null",
			},
		},
		{name: "no params", in: `{}`},
		{name: "null params", in: `{"params":null}`},
		{name: "empty params", in: ` {"params":{}} `},
		{name: "invalid JSON", in: `{"params":`, wantErr: "output params: invalid JSON at offset"},
		{name: "empty", in: ``, wantErr: "output params: invalid JSON at offset 0"},
		{name: "trailing garbage", in: `{"params":{}} x`, wantErr: "invalid JSON at offset"},
		{name: "not an object", in: `[1]`, wantErr: "got array"},
		{name: "params not an object", in: `{"params":"x"}`, wantErr: `"params" must be an object, got string`},
		{name: "param not an object", in: `{"params":{"x":5}}`, wantErr: `param "x" must be an object`},
		{name: "missing value", in: `{"params":{"x":{"type":"LONG"}}}`, wantErr: `param "x" has no "value"`},
		{name: "type not a string", in: `{"params":{"x":{"value":1,"type":1}}}`, wantErr: `"type" must be a string`},
		{name: "null needs a type", in: `{"params":{"x":{"value":null}}}`, wantErr: "cannot infer the type of null"},
		{name: "mixed array", in: `{"params":{"x":{"value":[1,"a"]}}}`, wantErr: "mixing kinds"},
		{name: "empty name", in: `{"params":{"":{"value":1}}}`, wantErr: "empty name"},
		{name: "first bad param is reported", in: `{"params":{"b":{"value":null},"a":{}}}`, wantErr: `param "a"`},
	}
	for _, tc := range tests {
		got, err := parseOutputs([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if tc.want == nil {
			if got != nil {
				t.Errorf("%s: got %v, want nil", tc.name, got)
			}
			continue
		}
		if len(got) != len(tc.want) {
			t.Errorf("%s: got %d outputs, want %d", tc.name, len(got), len(tc.want))
		}
		for name, w := range tc.want {
			if o := got[name]; o.Type+" "+string(o.JSON) != w {
				t.Errorf("%s: %s = %s %s, want %s", tc.name, name, o.Type, o.JSON, w)
			}
		}
	}
}
