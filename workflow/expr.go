package workflow

import (
	"fmt"
	"strings"
)

// Scope is where the names an expression uses are looked up: plain names
// (and params.get) through Param, params.getFromStep and stepid__param
// through StepParam.
type Scope interface {
	Param(name string) (Value, bool)
	StepParam(stepID, name string) (Value, bool)
}

// EvalBool evaluates a condition. An empty condition holds.
func EvalBool(expr string, scope Scope) (bool, error) {
	switch strings.TrimSpace(expr) {
	case "", "true":
		return true, nil
	case "false":
		return false, nil
	}
	v, err := Eval(expr, Boolean, scope)
	if err != nil {
		return false, err
	}
	b, ok := v.Raw.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q is %s, not BOOLEAN", expr, v.Type)
	}
	return b, nil
}

// Eval evaluates an expression to a value of type t.
func Eval(expr string, t ParamType, scope Scope) (Value, error) {
	return Value{}, fmt.Errorf("expression %q: SEL evaluation is not available", expr)
}
