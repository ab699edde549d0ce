package sel

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// testEnv serves params from maps; steps are keyed "step/param".
type testEnv struct {
	params map[string]Value
	steps  map[string]Value
}

func (e testEnv) Param(name string) (Value, bool) {
	v, ok := e.params[name]
	return v, ok
}

func (e testEnv) StepParam(step, name string) (Value, bool) {
	v, ok := e.steps[step+"/"+name]
	return v, ok
}

// fullEnv also has a clock, a UUID source and a params extension.
type fullEnv struct {
	testEnv
	now int64
}

func (e fullEnv) NowMillis() int64 { return e.now }
func (e fullEnv) NewUUID() string  { return "00000000-0000-4000-8000-000000000001" }
func (e fullEnv) CallParams(method string, args []Value) (Value, error) {
	if method == "getFromInstance" && len(args) == 1 {
		switch args[0] {
		case "RUN_POLICY":
			return "START_FRESH_NEW_RUN", nil
		case "workflow_instance_id":
			return int64(12), nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("no such method %s", method)
}

func eval(t *testing.T, src string, env Env) (Value, error) {
	t.Helper()
	p, err := Parse(src)
	if err != nil {
		return nil, err
	}
	return p.Eval(env, Limits{})
}

func mustEval(t *testing.T, src string, env Env) Value {
	t.Helper()
	v, err := eval(t, src, env)
	if err != nil {
		t.Fatalf("%q: unexpected error: %v", src, err)
	}
	return v
}

type evalCase struct {
	src  string
	want Value
}

func runCases(t *testing.T, env Env, cases []evalCase) {
	t.Helper()
	for _, c := range cases {
		got, err := eval(t, c.src, env)
		if err != nil {
			t.Errorf("%q: unexpected error: %v", c.src, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%q = %#v (%T), want %#v (%T)", c.src, got, got, c.want, c.want)
		}
	}
}

type errCase struct {
	src  string
	kind ErrorKind
	msg  string // substring of the message
}

func runErrCases(t *testing.T, env Env, cases []errCase) {
	t.Helper()
	for _, c := range cases {
		got, err := eval(t, c.src, env)
		if err == nil {
			t.Errorf("%q = %#v, want an error containing %q", c.src, got, c.msg)
			continue
		}
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: error %v is %T, not *Error", c.src, err, err)
			continue
		}
		if se.Kind != c.kind || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("%q: error %v (kind %v), want kind %v containing %q", c.src, err, se.Kind, c.kind, c.msg)
		}
	}
}
