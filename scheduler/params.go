package scheduler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// maxExactJSONInt is the largest integer a JSON number carries exactly to
// every client; LONG values beyond it are stored as decimal strings.
const maxExactJSONInt = 1 << 53

// ParamFromValue converts a typed value to its stored form.
func ParamFromValue(v workflow.Value) (*statepb.Param, error) {
	if sv, ok := scalarValue(v.Raw); ok {
		return &statepb.Param{Type: string(v.Type), Value: sv}, nil
	}
	return paramThroughJSON(v)
}

// scalarValue stores a scalar as its JSON round trip would, without the
// trip: every start converts its system params, and the encoder and decoder
// were a few percent of a leader's CPU under a storm of starts. Anything
// else (lists, maps, a string that is not UTF-8, a number JSON cannot
// carry) goes through JSON, whose rules these follow.
func scalarValue(raw any) (*structpb.Value, bool) {
	switch x := raw.(type) {
	case string:
		if !utf8.ValidString(x) {
			return nil, false
		}
		return structpb.NewStringValue(x), true
	case bool:
		return structpb.NewBoolValue(x), true
	case int64:
		if x > maxExactJSONInt || x < -maxExactJSONInt {
			return structpb.NewStringValue(strconv.FormatInt(x, 10)), true
		}
		return structpb.NewNumberValue(float64(x)), true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, false
		}
		return structpb.NewNumberValue(x), true
	}
	return nil, false
}

// paramThroughJSON converts any value through its JSON form.
func paramThroughJSON(v workflow.Value) (*statepb.Param, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode %s value: %w", v.Type, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("encode %s value: %w", v.Type, err)
	}
	sv, err := toStructValue(raw)
	if err != nil {
		return nil, fmt.Errorf("encode %s value: %w", v.Type, err)
	}
	return &statepb.Param{Type: string(v.Type), Value: sv}, nil
}

func toStructValue(raw any) (*structpb.Value, error) {
	switch x := raw.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			if i > maxExactJSONInt || i < -maxExactJSONInt {
				return structpb.NewStringValue(x.String()), nil
			}
			return structpb.NewNumberValue(float64(i)), nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, err
		}
		return structpb.NewNumberValue(f), nil
	case []any:
		list := &structpb.ListValue{}
		for _, e := range x {
			v, err := toStructValue(e)
			if err != nil {
				return nil, err
			}
			list.Values = append(list.Values, v)
		}
		return structpb.NewListValue(list), nil
	case map[string]any:
		st := &structpb.Struct{Fields: map[string]*structpb.Value{}}
		for k, e := range x {
			v, err := toStructValue(e)
			if err != nil {
				return nil, err
			}
			st.Fields[k] = v
		}
		return structpb.NewStructValue(st), nil
	}
	return structpb.NewValue(raw)
}

// ValueFromParam converts a stored param back to a typed value.
func ValueFromParam(p *statepb.Param) (workflow.Value, error) {
	if p == nil || p.Value == nil {
		return workflow.Value{}, fmt.Errorf("empty param")
	}
	data, err := protojson.Marshal(p.Value)
	if err != nil {
		return workflow.Value{}, err
	}
	t := workflow.ParamType(p.Type)
	v, err := workflow.ValueFromJSON(t, data)
	if err != nil {
		// Large LONG values are stored as strings (see maxExactJSONInt).
		if s, ok := p.Value.Kind.(*structpb.Value_StringValue); ok {
			if v2, err2 := workflow.ParseValueString(t, s.StringValue); err2 == nil {
				return v2, nil
			}
		}
		return workflow.Value{}, err
	}
	return v, nil
}
