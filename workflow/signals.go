package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// SignalMatch is one condition on a param of a signal a step waits for: the
// signal's param compared with Operator (=, >, >=, <, <=) to a literal
// Value or to Param, a param definition evaluated when the step is ready.
type SignalMatch struct {
	Operator string
	Value    *Value
	Param    *ParamDef
}

// SignalDependency is a signal a step waits for before it runs.
type SignalDependency struct {
	Name  string
	Match map[string]SignalMatch
}

// SignalOutput is a signal a step sends when it succeeds.
type SignalOutput struct {
	Name   string
	Params map[string]ParamDef
}

var signalOperators = []string{"=", ">", ">=", "<", "<="}

type rawParamDef struct {
	Type       string          `json:"type"`
	Value      json.RawMessage `json:"value"`
	Expression string          `json:"expression"`
	Mode       string          `json:"mode"`
	Validator  string          `json:"validator"`
}

func (r rawParamDef) def() (ParamDef, error) {
	t, ok := ParseParamType(r.Type)
	if !ok {
		return ParamDef{}, fmt.Errorf("unknown param type %q", r.Type)
	}
	d := ParamDef{Type: t, Expression: r.Expression, Mode: strings.ToUpper(r.Mode)}
	if len(r.Value) > 0 && !bytes.Equal(bytes.TrimSpace(r.Value), []byte("null")) {
		v, err := ValueFromJSON(t, r.Value)
		if err != nil {
			return ParamDef{}, err
		}
		d.Value = &v
	}
	if (d.Value == nil) == (d.Expression == "") {
		return ParamDef{}, fmt.Errorf("a param needs exactly one of value and expression")
	}
	return d, nil
}

// inferValue reads a bare JSON literal: numbers as LONG or DOUBLE, strings,
// booleans.
func inferValue(raw json.RawMessage) (Value, error) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return Value{}, err
	}
	switch v := x.(type) {
	case string:
		return Value{Type: String, Raw: v}, nil
	case bool:
		return Value{Type: Boolean, Raw: v}, nil
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return Value{Type: Long, Raw: n}, nil
		}
		f, err := v.Float64()
		return Value{Type: Double, Raw: f}, err
	}
	return Value{}, fmt.Errorf("want a string, number or boolean, got %s", string(raw))
}

// WaitsForSignals parses the step's signal_dependencies.
func (s *Step) WaitsForSignals() ([]SignalDependency, error) {
	if len(s.SignalDependencies) == 0 {
		return nil, nil
	}
	var raw []struct {
		Name        string `json:"name"`
		MatchParams map[string]struct {
			Value    json.RawMessage `json:"value"`
			Param    *rawParamDef    `json:"param"`
			Operator string          `json:"operator"`
		} `json:"match_params"`
	}
	if err := json.Unmarshal(s.SignalDependencies, &raw); err != nil {
		return nil, fmt.Errorf("signal_dependencies: %w", err)
	}
	out := make([]SignalDependency, 0, len(raw))
	for i, r := range raw {
		if strings.TrimSpace(r.Name) == "" {
			return nil, fmt.Errorf("signal_dependencies[%d]: name is required", i)
		}
		dep := SignalDependency{Name: r.Name, Match: map[string]SignalMatch{}}
		names := make([]string, 0, len(r.MatchParams))
		for k := range r.MatchParams {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			m := r.MatchParams[k]
			op := m.Operator
			if op == "" {
				op = "="
			}
			if !isEnum(op, signalOperators) {
				return nil, fmt.Errorf("signal_dependencies[%d].match_params.%s.operator: %q is not one of %s", i, k, op, strings.Join(signalOperators, " "))
			}
			sm := SignalMatch{Operator: op}
			switch {
			case m.Param != nil:
				d, err := m.Param.def()
				if err != nil {
					return nil, fmt.Errorf("signal_dependencies[%d].match_params.%s.param: %w", i, k, err)
				}
				sm.Param = &d
			case len(m.Value) > 0:
				v, err := inferValue(m.Value)
				if err != nil {
					return nil, fmt.Errorf("signal_dependencies[%d].match_params.%s.value: %w", i, k, err)
				}
				sm.Value = &v
			default:
				return nil, fmt.Errorf("signal_dependencies[%d].match_params.%s: needs a value or a param", i, k)
			}
			dep.Match[k] = sm
		}
		out = append(out, dep)
	}
	return out, nil
}

// SendsSignals parses the step's signal_outputs.
func (s *Step) SendsSignals() ([]SignalOutput, error) {
	if len(s.SignalOutputs) == 0 {
		return nil, nil
	}
	var raw []struct {
		Name   string                 `json:"name"`
		Params map[string]rawParamDef `json:"params"`
	}
	if err := json.Unmarshal(s.SignalOutputs, &raw); err != nil {
		return nil, fmt.Errorf("signal_outputs: %w", err)
	}
	out := make([]SignalOutput, 0, len(raw))
	for i, r := range raw {
		if strings.TrimSpace(r.Name) == "" {
			return nil, fmt.Errorf("signal_outputs[%d]: name is required", i)
		}
		o := SignalOutput{Name: r.Name, Params: map[string]ParamDef{}}
		for k, p := range r.Params {
			d, err := p.def()
			if err != nil {
				return nil, fmt.Errorf("signal_outputs[%d].params.%s: %w", i, k, err)
			}
			o.Params[k] = d
		}
		out = append(out, o)
	}
	return out, nil
}

// SignalMatches compares a signal's param with a wanted value under op:
// numbers as numbers, anything else as text.
func SignalMatches(got, want Value, op string) bool {
	gf, gok := number(got)
	wf, wok := number(want)
	if gok && wok {
		switch op {
		case "=":
			return gf == wf
		case ">":
			return gf > wf
		case ">=":
			return gf >= wf
		case "<":
			return gf < wf
		case "<=":
			return gf <= wf
		}
		return false
	}
	c := strings.Compare(got.String(), want.String())
	switch op {
	case "=":
		return c == 0
	case ">":
		return c > 0
	case ">=":
		return c >= 0
	case "<":
		return c < 0
	case "<=":
		return c <= 0
	}
	return false
}

// SignalKey is a value in the form under which SignalMatches finds values
// equal with "=": numbers (and text that reads as one) by their number,
// anything else by its text.
func SignalKey(v Value) string {
	if f, ok := number(v); ok {
		return "n" + strconv.FormatFloat(f, 'g', -1, 64)
	}
	return "s" + v.String()
}

func number(v Value) (float64, bool) {
	switch x := v.Raw.(type) {
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case string:
		if f, ok := parseDoubleText(x); ok {
			return f, true
		}
	}
	return 0, false
}
