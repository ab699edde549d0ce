package workflow

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
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

// WaitsForSignals parses the step's signal_dependencies. Unknown fields are
// refused, as everywhere else in a definition; an error is a triggerError
// whose path, relative to the step, names the offending field.
func (s *Step) WaitsForSignals() ([]SignalDependency, error) {
	if len(s.SignalDependencies) == 0 {
		return nil, nil
	}
	const field = "signal_dependencies"
	var items []json.RawMessage
	if err := decodeStrict(s.SignalDependencies, &items); err != nil {
		return nil, triggerError{path: field, msg: err.Error()}
	}
	out := make([]SignalDependency, 0, len(items))
	for i, item := range items {
		base := indexPath(field, i)
		var r struct {
			Name        string                     `json:"name"`
			MatchParams map[string]json.RawMessage `json:"match_params"`
		}
		if err := decodeStrict(item, &r); err != nil {
			return nil, triggerError{path: base, msg: err.Error()}
		}
		if err := CheckSignalName(r.Name); err != nil {
			return nil, triggerError{path: base + ".name", msg: err.Error()}
		}
		dep := SignalDependency{Name: r.Name, Match: map[string]SignalMatch{}}
		for _, k := range sortedKeys(r.MatchParams) {
			sm, err := decodeSignalMatch(r.MatchParams[k], keyPath(base+".match_params", k), true)
			if err != nil {
				return nil, *err
			}
			dep.Match[k] = sm
		}
		out = append(out, dep)
	}
	return out, nil
}

// SendsSignals parses the step's signal_outputs, refusing unknown fields
// with their path as WaitsForSignals does.
func (s *Step) SendsSignals() ([]SignalOutput, error) {
	if len(s.SignalOutputs) == 0 {
		return nil, nil
	}
	const field = "signal_outputs"
	var items []json.RawMessage
	if err := decodeStrict(s.SignalOutputs, &items); err != nil {
		return nil, triggerError{path: field, msg: err.Error()}
	}
	out := make([]SignalOutput, 0, len(items))
	for i, item := range items {
		base := indexPath(field, i)
		var r struct {
			Name   string                     `json:"name"`
			Params map[string]json.RawMessage `json:"params"`
		}
		if err := decodeStrict(item, &r); err != nil {
			return nil, triggerError{path: base, msg: err.Error()}
		}
		if err := CheckSignalName(r.Name); err != nil {
			return nil, triggerError{path: base + ".name", msg: err.Error()}
		}
		o := SignalOutput{Name: r.Name, Params: map[string]ParamDef{}}
		for _, k := range sortedKeys(r.Params) {
			d, err := strictParamDef(r.Params[k])
			if err != nil {
				return nil, triggerError{path: keyPath(base+".params", k), msg: err.Error()}
			}
			o.Params[k] = d
		}
		out = append(out, o)
	}
	return out, nil
}

// strictParamDef reads a param definition of a signal dependency or
// output, refusing fields rawParamDef does not have.
func strictParamDef(raw json.RawMessage) (ParamDef, error) {
	var r rawParamDef
	if err := decodeStrict(raw, &r); err != nil {
		return ParamDef{}, err
	}
	return r.def()
}

// isJSONValue reports whether a field was given a value other than null.
// decodeSignalMatch reads one entry of match_params at path: an operator
// (= unless given) and a literal value or, where allowParam (a step's
// dependencies, which the step evaluates), a param.
func decodeSignalMatch(raw json.RawMessage, path string, allowParam bool) (SignalMatch, *triggerError) {
	var m struct {
		Value    json.RawMessage `json:"value"`
		Param    json.RawMessage `json:"param"`
		Operator string          `json:"operator"`
	}
	if err := decodeStrict(raw, &m); err != nil {
		return SignalMatch{}, &triggerError{path: path, msg: err.Error()}
	}
	op := m.Operator
	if op == "" {
		op = "="
	}
	if !isEnum(op, signalOperators) {
		return SignalMatch{}, &triggerError{path: path + ".operator", msg: fmt.Sprintf("%q is not one of %s", op, strings.Join(signalOperators, " "))}
	}
	sm := SignalMatch{Operator: op}
	switch {
	case !allowParam && len(m.Param) > 0:
		return SignalMatch{}, &triggerError{path: path + ".param", msg: `a signal trigger matches literal values only; write the value under "value"`}
	case allowParam && isJSONValue(m.Param):
		d, err := strictParamDef(m.Param)
		if err != nil {
			return SignalMatch{}, &triggerError{path: path + ".param", msg: err.Error()}
		}
		sm.Param = &d
	case isJSONValue(m.Value):
		v, err := inferValue(m.Value)
		if err != nil {
			return SignalMatch{}, &triggerError{path: path + ".value", msg: err.Error()}
		}
		sm.Value = &v
	case allowParam:
		return SignalMatch{}, &triggerError{path: path, msg: "needs a value or a param"}
	default:
		return SignalMatch{}, &triggerError{path: path, msg: "needs a value"}
	}
	return sm, nil
}

func isJSONValue(raw json.RawMessage) bool {
	return len(raw) > 0 && !bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
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

// CheckSignalName refuses a signal name that is empty or holds a control
// character. A NUL byte in particular would sort one name's signals among
// another's in the store's keys, where the name ends in a NUL byte.
func CheckSignalName(name string) error {
	if strings.TrimSpace(name) == "" {
		return errors.New("a signal name must not be empty")
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("a signal name must not hold control characters (%U)", r)
		}
	}
	return nil
}
