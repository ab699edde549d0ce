package workflow

import (
	"crypto/rand"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/batonhq/baton/workflow/sel"
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
	return v.Raw.(bool), nil
}

// EvalOptions give an expression what only the leader may decide, at the
// moment it evaluates: the time (System.currentTimeMillis, new DateTime())
// and fresh UUIDs. The results are recorded in the log, so replicas never
// evaluate again. Zero options leave both unavailable.
type EvalOptions struct {
	Now     time.Time
	NewUUID func() string
	// Signals serves params.getFromSignal, getFromSignalOrDefault and
	// getFromSignalDependency; without it they fail.
	Signals SignalSource
}

// SignalSource is what params.getFromSignal and its relatives read: the
// signals that fired the signal trigger which started the instance, the
// trigger's params, and the signals that matched a step's
// signal_dependencies.
type SignalSource interface {
	// SignalParam is param name of the signal called signal that fired the
	// trigger: params.getFromSignal('signal', 'name').
	SignalParam(signal, name string) (Value, error)
	// TriggerParam is one of the trigger's params:
	// params.getFromSignal('name').
	TriggerParam(name string) (Value, error)
	// DependencyParam is param name of the signal that matched the step's
	// index-th (0-based) signal dependency:
	// params.getFromSignalDependency('0', 'name').
	DependencyParam(index int, name string) (Value, error)
}

// Eval evaluates a SEL expression to a value of type t. Evaluation is
// bounded (sel.DefaultLimits), so a runaway expression is an error, not a
// hung scheduler.
func Eval(expr string, t ParamType, scope Scope) (Value, error) {
	return EvalWith(expr, t, scope, EvalOptions{})
}

// EvalWith is Eval with a clock and a UUID source.
func EvalWith(expr string, t ParamType, scope Scope, opts EvalOptions) (Value, error) {
	prog, err := program(expr)
	if err != nil {
		return Value{}, err
	}
	base := selEnv{scope: scope, signals: opts.Signals}
	var env sel.Env = base
	switch {
	case !opts.Now.IsZero() && opts.NewUUID != nil:
		env = uuidEnv{clockEnv{base, opts.Now.UnixMilli()}, opts.NewUUID}
	case !opts.Now.IsZero():
		env = clockEnv{base, opts.Now.UnixMilli()}
	}
	raw, err := prog.Eval(env, sel.DefaultLimits())
	if err != nil {
		return Value{}, err
	}
	return fromSEL(raw, t)
}

// CheckExpression reports a syntax error or a call that can never work in
// an expression, with its line and column.
func CheckExpression(expr string) error {
	return sel.Check(expr)
}

// Parsed programs are kept: the same few expressions are evaluated for
// every iteration and every instance.
var (
	programsMu sync.Mutex
	programs   = map[string]*sel.Program{}
)

const maxCachedPrograms = 4096

func program(expr string) (*sel.Program, error) {
	programsMu.Lock()
	p, ok := programs[expr]
	programsMu.Unlock()
	if ok {
		return p, nil
	}
	p, err := sel.Parse(expr)
	if err != nil {
		return nil, err
	}
	programsMu.Lock()
	if len(programs) >= maxCachedPrograms {
		programs = map[string]*sel.Program{}
	}
	programs[expr] = p
	programsMu.Unlock()
	return p, nil
}

type selEnv struct {
	scope   Scope
	signals SignalSource
}

// CallParams serves the params methods sel does not know itself: those
// reading signals.
func (e selEnv) CallParams(method string, args []sel.Value) (sel.Value, error) {
	str := func(i int) (string, error) {
		switch x := args[i].(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		}
		return "", fmt.Errorf("argument %d must be a String", i+1)
	}
	var (
		v   Value
		err error
	)
	switch {
	case method == "getFromSignal" && len(args) == 1:
		if e.signals == nil {
			return nil, errNoSignals
		}
		var name string
		if name, err = str(0); err == nil {
			v, err = e.signals.TriggerParam(name)
		}
	case (method == "getFromSignal" && len(args) == 2) || (method == "getFromSignalOrDefault" && len(args) == 3):
		if e.signals == nil {
			if method == "getFromSignalOrDefault" {
				return args[2], nil
			}
			return nil, errNoSignals
		}
		var signal, name string
		if signal, err = str(0); err == nil {
			if name, err = str(1); err == nil {
				v, err = e.signals.SignalParam(signal, name)
			}
		}
		if err != nil && method == "getFromSignalOrDefault" {
			return args[2], nil
		}
	case method == "getFromSignalDependency" && len(args) == 2:
		if e.signals == nil {
			return nil, errNoSignals
		}
		var index, name string
		if index, err = str(0); err == nil {
			if name, err = str(1); err == nil {
				n, perr := strconv.Atoi(index)
				if perr != nil || n < 0 {
					return nil, fmt.Errorf("signal dependency index %q: want 0, 1, 2, …", index)
				}
				v, err = e.signals.DependencyParam(n, name)
			}
		}
	default:
		return nil, fmt.Errorf("not supported here (with %d argument(s))", len(args))
	}
	if err != nil {
		return nil, err
	}
	return toSEL(v), nil
}

var errNoSignals = fmt.Errorf("no signal is available here: only an instance a signal trigger started, and a step with signal_dependencies, have signals to read")

type clockEnv struct {
	selEnv
	now int64
}

func (e clockEnv) NowMillis() int64 { return e.now }

type uuidEnv struct {
	clockEnv
	uuid func() string
}

func (e uuidEnv) NewUUID() string { return e.uuid() }

func (e selEnv) Param(name string) (sel.Value, bool) {
	if e.scope == nil {
		return nil, false
	}
	if v, ok := e.scope.Param(name); ok {
		return toSEL(v), true
	}
	if step, param, ok := strings.Cut(name, stepParamSeparator); ok {
		return e.StepParam(step, param)
	}
	return nil, false
}

func (e selEnv) StepParam(stepID, name string) (sel.Value, bool) {
	if e.scope == nil {
		return nil, false
	}
	if v, ok := e.scope.StepParam(stepID, name); ok {
		return toSEL(v), true
	}
	return nil, false
}

// toSEL converts a typed value to the Go types sel reads.
func toSEL(v Value) sel.Value {
	switch x := v.Raw.(type) {
	case map[string]string:
		m := make(map[string]any, len(x))
		for k, s := range x {
			m[k] = s
		}
		return m
	case map[string]Value:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = toSEL(e)
		}
		return m
	}
	return v.Raw
}

// fromSEL converts an expression's result to the declared type, the way
// Maestro coerces: numbers widen or narrow when exact, scalars print as
// strings for STRING, and maps take their entries' types.
func fromSEL(raw any, t ParamType) (Value, error) {
	bad := func() (Value, error) {
		return Value{}, fmt.Errorf("expression gave %s, which is not a %s", describeSEL(raw), t)
	}
	switch t {
	case String:
		switch x := raw.(type) {
		case string:
			return Value{Type: t, Raw: x}, nil
		case int64:
			return Value{Type: t, Raw: strconv.FormatInt(x, 10)}, nil
		case float64:
			return Value{Type: t, Raw: formatDouble(x)}, nil
		case bool:
			return Value{Type: t, Raw: strconv.FormatBool(x)}, nil
		}
	case Long:
		switch x := raw.(type) {
		case int64:
			return Value{Type: t, Raw: x}, nil
		case float64:
			if n, ok := longFromDouble(x); ok {
				return Value{Type: t, Raw: n}, nil
			}
		case string:
			if n, ok := parseLongText(x); ok {
				return Value{Type: t, Raw: n}, nil
			}
		}
	case Double:
		switch x := raw.(type) {
		case float64:
			return Value{Type: t, Raw: x}, nil
		case int64:
			return Value{Type: t, Raw: float64(x)}, nil
		case string:
			if f, ok := parseDoubleText(x); ok {
				return Value{Type: t, Raw: f}, nil
			}
		}
	case Boolean:
		switch x := raw.(type) {
		case bool:
			return Value{Type: t, Raw: x}, nil
		case string:
			if b, err := strconv.ParseBool(x); err == nil {
				return Value{Type: t, Raw: b}, nil
			}
		}
	case StringArray:
		switch x := raw.(type) {
		case []string:
			return Value{Type: t, Raw: x}, nil
		case []int64:
			out := make([]string, len(x))
			for i, n := range x {
				out[i] = strconv.FormatInt(n, 10)
			}
			return Value{Type: t, Raw: out}, nil
		}
	case LongArray:
		switch x := raw.(type) {
		case []int64:
			return Value{Type: t, Raw: x}, nil
		case []float64:
			out := make([]int64, len(x))
			for i, f := range x {
				n, ok := longFromDouble(f)
				if !ok {
					return Value{}, fmt.Errorf("expression gave a DOUBLE_ARRAY whose element %d, %s, is not a whole number in the LONG range", i, formatDouble(f))
				}
				out[i] = n
			}
			return Value{Type: t, Raw: out}, nil
		}
	case DoubleArray:
		switch x := raw.(type) {
		case []float64:
			return Value{Type: t, Raw: x}, nil
		case []int64:
			out := make([]float64, len(x))
			for i, n := range x {
				out[i] = float64(n)
			}
			return Value{Type: t, Raw: out}, nil
		}
	case BooleanArray:
		if x, ok := raw.([]bool); ok {
			return Value{Type: t, Raw: x}, nil
		}
	case StringMap:
		if x, ok := raw.(map[string]any); ok {
			out := make(map[string]string, len(x))
			for k, e := range x {
				s, err := fromSEL(e, String)
				if err != nil {
					return Value{}, fmt.Errorf("key %q: %w", k, err)
				}
				out[k] = s.Raw.(string)
			}
			return Value{Type: t, Raw: out}, nil
		}
	case Map:
		if x, ok := raw.(map[string]any); ok {
			out := make(map[string]Value, len(x))
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v, err := fromSEL(x[k], inferSEL(x[k]))
				if err != nil {
					return Value{}, fmt.Errorf("key %q: %w", k, err)
				}
				out[k] = v
			}
			return Value{Type: t, Raw: out}, nil
		}
	}
	return bad()
}

// longFromDouble is the one rule by which a double becomes a LONG, for a
// value and for an array element alike: only a whole number inside the
// int64 range, since Go's conversion of anything else (1e300, Infinity,
// NaN) gives an arbitrary number instead of an error.
func longFromDouble(f float64) (int64, bool) {
	if f == math.Trunc(f) && math.Abs(f) < 1<<63 {
		return int64(f), true
	}
	return 0, false
}

// inferSEL is the param type a value inside a MAP result takes.
func inferSEL(raw any) ParamType {
	switch raw.(type) {
	case int64:
		return Long
	case float64:
		return Double
	case bool:
		return Boolean
	case []string:
		return StringArray
	case []int64:
		return LongArray
	case []float64:
		return DoubleArray
	case []bool:
		return BooleanArray
	case map[string]any:
		return Map
	}
	return String
}

func describeSEL(raw any) string {
	switch x := raw.(type) {
	case nil:
		return "null"
	case string:
		if len(x) > 40 {
			x = x[:40] + "…"
		}
		return fmt.Sprintf("the string %q", x)
	}
	return fmt.Sprintf("%s %v", inferSEL(raw), raw)
}

// RandomUUID returns a random (version 4) UUID, for UUID.randomUUID() in
// expressions the leader evaluates.
func RandomUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
