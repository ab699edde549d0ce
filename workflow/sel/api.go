package sel

import (
	"fmt"
	"sort"
)

// Env supplies the params a program reads. Values must be of the Go types
// listed in the package documentation.
type Env interface {
	// Param returns the param called name (a bare identifier, or the
	// argument of params.get / params['...']).
	Param(name string) (Value, bool)
	// StepParam returns param name of step stepID, for stepID__name and
	// params.getFromStep(stepID, name).
	StepParam(stepID, name string) (Value, bool)
}

// Clock may also be implemented by an Env to make the current time
// available to System.currentTimeMillis(), new DateTime() and the Util
// timeout helpers. Without it those fail, keeping evaluation deterministic.
type Clock interface {
	NowMillis() int64
}

// UUIDSource may also be implemented by an Env to serve UUID.randomUUID().
type UUIDSource interface {
	NewUUID() string
}

// ParamsExtension may also be implemented by an Env to serve the params
// methods this package does not know itself, such as
// params.getFromInstance('RUN_POLICY') or params.getFromSignal(...).
// Arguments and the result use the same Go types as Env.
type ParamsExtension interface {
	CallParams(method string, args []Value) (Value, error)
}

// Limits bounds one evaluation. A zero (or negative) field takes its
// default from DefaultLimits.
type Limits struct {
	// MaxSteps bounds the work of one evaluation: every statement,
	// expression and loop iteration costs a step, and library calls cost
	// extra in proportion to the data they touch.
	MaxSteps int64
	// MaxLoopIterations bounds the iterations of each single execution of
	// a loop.
	MaxLoopIterations int64
	// MaxStringLen bounds the length in bytes of any string built.
	MaxStringLen int
	// MaxArrayLen bounds the length of any array or list, and the size of
	// any map, created during evaluation.
	MaxArrayLen int
	// MaxDepth bounds how deeply the program's statements and expressions
	// may nest; a program nested deeper is refused before it runs.
	MaxDepth int
	// MaxAllocBytes bounds the total size of the strings, arrays and maps
	// allocated during evaluation (counted when allocated, not freed).
	MaxAllocBytes int64
	// MaxResultBytes bounds the size of the value Eval returns, and of
	// each argument handed to a ParamsExtension: strings and map keys
	// count their length in bytes, and every array element and map entry
	// 8 bytes more. Values may share data (one string in every slot of an
	// array, one array under many map keys), so a value reached several
	// times counts each time: this is the size of the copy the caller
	// gets, which the allocation budget does not see.
	MaxResultBytes int
}

// DefaultLimits follows Maestro's defaults where Maestro has one: 25,000
// loop iterations and array elements, and 100 MB of allocation. The step
// budget allows that many iterations of a loop body of a few hundred
// operations while keeping a runaway program to well under a second. A
// result may be as large as the largest string a program may build.
func DefaultLimits() Limits {
	return Limits{
		MaxSteps:          10_000_000,
		MaxLoopIterations: 25_000,
		MaxStringLen:      1_000_000,
		MaxArrayLen:       25_000,
		MaxDepth:          128,
		MaxAllocBytes:     100_000_000,
		MaxResultBytes:    1_000_000,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxLoopIterations <= 0 {
		l.MaxLoopIterations = d.MaxLoopIterations
	}
	if l.MaxStringLen <= 0 {
		l.MaxStringLen = d.MaxStringLen
	}
	if l.MaxArrayLen <= 0 {
		l.MaxArrayLen = d.MaxArrayLen
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = d.MaxDepth
	}
	if l.MaxAllocBytes <= 0 {
		l.MaxAllocBytes = d.MaxAllocBytes
	}
	if l.MaxResultBytes <= 0 {
		l.MaxResultBytes = d.MaxResultBytes
	}
	return l
}

// Program is a parsed SEL expression. It is immutable and safe to
// evaluate from several goroutines at once.
type Program struct {
	stmts []stmt
	depth int
	refs  []string
}

// Parse parses a SEL program. A syntax error is returned as an *Error of
// KindSyntax with the position of the offending token.
func Parse(src string) (prog *Program, err error) {
	defer func() {
		if r := recover(); r != nil {
			prog, err = nil, &Error{Kind: KindSyntax, Msg: fmt.Sprintf("internal error while parsing: %v", r)}
		}
	}()
	stmts, depth, perr := parseSource(src)
	if perr != nil {
		return nil, perr
	}
	p := &Program{stmts: stmts, depth: depth}
	p.refs = collectRefs(stmts)
	return p, nil
}

// Refs lists, sorted, the params the program reads: bare identifiers that
// are not local variables or known classes (including stepid__param
// names), literal arguments of params.get('x') and params['x'], and
// params.getFromStep('s', 'p') written as "s__p". When the program reads
// params with a computed name, the list also holds "params", meaning it
// may read any param.
func (p *Program) Refs() []string {
	out := make([]string, len(p.refs))
	copy(out, p.refs)
	return out
}

// Eval runs the program and returns its value: the value of the return
// statement that ends it, or else of its final expression statement. The
// result is nil, bool, int64, float64, string, []int64, []float64, []bool,
// []string or map[string]any. Errors are *Error values.
func (p *Program) Eval(env Env, lim Limits) (result Value, err error) {
	defer func() {
		if r := recover(); r != nil {
			result, err = nil, &Error{Kind: KindRuntime, Msg: fmt.Sprintf("internal error: %v", r)}
		}
	}()
	lim = lim.withDefaults()
	if p.depth > lim.MaxDepth {
		return nil, &Error{Kind: KindLimit, Line: 1, Col: 1,
			Msg: fmt.Sprintf("expression nests %d levels deep, over the limit of %d", p.depth, lim.MaxDepth)}
	}
	if env == nil {
		env = emptyEnv{}
	}
	in := &interp{env: env, lim: lim, vars: map[string]*variable{}, params: map[string]Value{}}
	v, err := in.run(p.stmts)
	if err != nil {
		return nil, err
	}
	out, err := newExporter("result", lim).value(v, 0)
	if err != nil {
		kind, msg := KindRuntime, err.Error()
		if e, ok := err.(*evalErr); ok {
			kind, msg = e.kind, e.msg
		}
		return nil, &Error{Kind: kind, Msg: msg}
	}
	return out, nil
}

// Check parses src and also rejects what can never run: unknown types and
// classes, methods a known class does not have, and classes SEL forbids
// (System other than currentTimeMillis, Thread, Runtime and the like).
func Check(src string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &Error{Kind: KindStatic, Msg: fmt.Sprintf("internal error while checking: %v", r)}
		}
	}()
	p, err := Parse(src)
	if err != nil {
		return err
	}
	if e := checkProgram(p.stmts); e != nil {
		return e
	}
	return nil
}

type emptyEnv struct{}

func (emptyEnv) Param(string) (Value, bool)             { return nil, false }
func (emptyEnv) StepParam(string, string) (Value, bool) { return nil, false }

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
