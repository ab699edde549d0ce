package workflow

import (
	"fmt"
	"sort"
	"strings"

	"github.com/batonhq/baton/workflow/sel"
)

// Interpolation follows Maestro's literal evaluator:
//   - ${name} references a param; name matches [a-zA-Z][-_./a-zA-Z0-9]*
//   - $name references a param; name matches [a-zA-Z][_a-zA-Z0-9]*
//     (so $step1__out reads another step's output param)
//   - $$ is a literal $, and $$name / $${name} are the literal text $name / ${name}
//   - a $ followed by anything else is kept as is ("$1", "$ ", "$" at the end)
//
// Where Maestro silently keeps a "${" that does not form ${name}, this engine
// reports it, since such text in a command is almost always a mistake; write
// $${ to mean a literal ${.

func isAlpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// plainNameLen is the length of a $name name at the start of s.
func plainNameLen(s string) int {
	if s == "" || !isAlpha(s[0]) {
		return 0
	}
	i := 1
	for i < len(s) && (isAlpha(s[i]) || isDigit(s[i]) || s[i] == '_') {
		i++
	}
	return i
}

// bracedRefLen is the length of "{name}" at the start of s, or 0.
func bracedRefLen(s string) int {
	if len(s) < 3 || s[0] != '{' || !isAlpha(s[1]) {
		return 0
	}
	i := 2
	for i < len(s) {
		c := s[i]
		switch {
		case c == '}':
			return i + 1
		case isAlpha(c) || isDigit(c) || c == '-' || c == '_' || c == '.' || c == '/':
			i++
		default:
			return 0
		}
	}
	return 0
}

// refLen is the length of a whole reference ("$name" or "${name}") at the
// start of s, or 0.
func refLen(s string) int {
	if s == "" || s[0] != '$' {
		return 0
	}
	if n := bracedRefLen(s[1:]); n > 0 {
		return 1 + n
	}
	if n := plainNameLen(s[1:]); n > 0 {
		return 1 + n
	}
	return 0
}

// malformedRefError is a "${" that does not start a ${name} reference.
type malformedRefError struct{ offset int }

func (e *malformedRefError) Error() string {
	return fmt.Sprintf("malformed \"${\" at offset %d: expected ${name} with a name matching [a-zA-Z][-_./a-zA-Z0-9]* (write $${ for a literal ${)", e.offset)
}

// scanRefs walks s, passing literal text to lit and referenced names to
// ref, and stops at the first error either returns.
func scanRefs(s string, lit func(string) error, ref func(name string) error) error {
	start := 0
	flush := func(end int) error {
		if end > start {
			return lit(s[start:end])
		}
		return nil
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		if err := flush(i); err != nil {
			return err
		}
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "$$"):
			var err error
			if n := refLen(rest[1:]); n > 0 {
				err = lit(rest[1 : 1+n])
				i += 1 + n
			} else {
				err = lit("$")
				i += 2
			}
			if err != nil {
				return err
			}
		case strings.HasPrefix(rest, "${"):
			n := bracedRefLen(rest[1:])
			if n == 0 {
				return &malformedRefError{offset: i}
			}
			if err := ref(rest[2:n]); err != nil {
				return err
			}
			i += 1 + n
		default:
			if n := plainNameLen(rest[1:]); n > 0 {
				if err := ref(rest[1 : 1+n]); err != nil {
					return err
				}
				i += 1 + n
			} else {
				if err := lit("$"); err != nil {
					return err
				}
				i++
			}
		}
		start = i
	}
	return flush(len(s))
}

// Every reference can repeat a whole other param, and that param can
// repeat another, so a definition of a few KB could otherwise make the
// leader build gigabytes when it resolves params (and, once the instance is
// committed, make every later leader do the same). Hence two caps, checked
// before the text that would break them is built:
//
// maxInterpolatedBytes caps one string a resolution builds or keeps (an
// interpolated STRING, array element, map key or value) and one Interpolate
// result. It is SEL's own string limit, so interpolation never builds a
// string that an expression could not.
var maxInterpolatedBytes = sel.DefaultLimits().MaxStringLen

// maxResolvedBytes caps the text of all the values one resolution (one
// ResolveParams call) produces, as counted by minTextLen: 4 MiB, the API's
// request limit (rpc.MaxRequestBytes), so resolved params are never more
// than a client could have sent, and 128 params of 1 MB each are refused.
const maxResolvedBytes = 4 << 20

// tooLongError is interpolated text that would pass maxInterpolatedBytes.
type tooLongError struct{ limit int }

func (e *tooLongError) Error() string {
	return fmt.Sprintf("interpolated text would be over the limit of %d bytes", e.limit)
}

// textBuilder builds interpolated text and refuses, before writing, any
// piece that would take it past limit bytes.
type textBuilder struct {
	b     strings.Builder
	limit int
}

func (t *textBuilder) add(s string) error {
	if len(s) > t.limit-t.b.Len() {
		return &tooLongError{limit: t.limit}
	}
	t.b.WriteString(s)
	return nil
}

// addValue writes a referenced value. An array or map is rendered as JSON
// first; its rendering is never shorter than minTextLen, so one that cannot
// fit is refused without being rendered.
func (t *textBuilder) addValue(v Value) error {
	if s, ok := v.Raw.(string); ok {
		return t.add(s)
	}
	if minTextLen(v) > t.limit-t.b.Len() {
		return &tooLongError{limit: t.limit}
	}
	return t.add(v.String())
}

// minTextLen is a lower bound of len(v.String()) that allocates nothing:
// the bytes of its strings (map keys included) and one per other element.
// It is also the measure maxResolvedBytes counts.
func minTextLen(v Value) int {
	switch x := v.Raw.(type) {
	case string:
		return len(x)
	case []string:
		n := 0
		for _, s := range x {
			n += len(s)
		}
		return n
	case []int64:
		return len(x)
	case []float64:
		return len(x)
	case []bool:
		return len(x)
	case map[string]string:
		n := 0
		for k, s := range x {
			n += len(k) + len(s)
		}
		return n
	case map[string]Value:
		n := 0
		for k, e := range x {
			n += len(k) + minTextLen(e)
		}
		return n
	case nil:
		return 0
	}
	return 1
}

// Interpolate expands param references in s using lookup.
func Interpolate(s string, lookup func(name string) (Value, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	t := textBuilder{limit: maxInterpolatedBytes}
	err := scanRefs(s, t.add, func(name string) error {
		if lookup != nil {
			if v, ok := lookup(name); ok {
				return t.addValue(v)
			}
		}
		return fmt.Errorf("unknown param %q", name)
	})
	if err != nil {
		return "", err
	}
	return t.b.String(), nil
}

// refNames lists the names referenced by s, ignoring malformed text (which
// Interpolate reports later).
func refNames(s string) []string {
	var names []string
	_ = scanRefs(s, func(string) error { return nil }, func(name string) error {
		names = append(names, name)
		return nil
	})
	return names
}

// ResolveParams returns the params' values with every string interpolated:
// STRING values, STRING_ARRAY elements, STRING_MAP keys and values, and the
// same inside MAP values, and every SEL expression evaluated. Params may
// reference each other (they are resolved in dependency order) and otherwise
// fall back to lookup; an expression that names its own param (i = i + 1 in
// a while loop) reads the value from lookup. A string over
// maxInterpolatedBytes, or values over maxResolvedBytes in all, are an
// error naming the param, found before the oversized text is built.
func ResolveParams(defs map[string]ParamDef, lookup func(name string) (Value, bool)) (map[string]Value, error) {
	return ResolveParamsWith(defs, lookup, EvalOptions{})
}

// ResolveParamsWith is ResolveParams with a clock and UUID source for the
// expressions.
func ResolveParamsWith(defs map[string]ParamDef, lookup func(name string) (Value, bool), opts EvalOptions) (map[string]Value, error) {
	r := &resolver{defs: defs, lookup: lookup, done: map[string]Value{}, state: map[string]int{}, opts: opts}
	for _, name := range sortedKeys(defs) {
		if _, err := r.resolve(name); err != nil {
			return nil, err
		}
	}
	return r.done, nil
}

type resolver struct {
	opts   EvalOptions
	defs   map[string]ParamDef
	lookup func(string) (Value, bool)
	done   map[string]Value
	state  map[string]int // 1 while resolving, 2 when done
	stack  []string
	total  int // minTextLen of every value resolved so far
	// scopeErr is the first failure to resolve a param an expression
	// read, which the expression itself only sees as a missing name.
	scopeErr error
}

func (r *resolver) resolve(name string) (Value, error) {
	switch r.state[name] {
	case 2:
		return r.done[name], nil
	case 1:
		i := 0
		for i < len(r.stack) && r.stack[i] != name {
			i++
		}
		cycle := append(append([]string{}, r.stack[i:]...), name)
		return Value{}, fmt.Errorf("param reference cycle: %s", strings.Join(cycle, " -> "))
	}
	r.state[name] = 1
	r.stack = append(r.stack, name)
	v, err := r.value(name, r.defs[name])
	if err != nil {
		return Value{}, err
	}
	r.stack = r.stack[:len(r.stack)-1]
	r.state[name] = 2
	r.done[name] = v
	return v, nil
}

func (r *resolver) get(name string) (Value, bool, error) {
	if _, ok := r.defs[name]; ok {
		v, err := r.resolve(name)
		return v, err == nil, err
	}
	if r.lookup != nil {
		if v, ok := r.lookup(name); ok {
			return v, true, nil
		}
	}
	return Value{}, false, nil
}

// charge counts n more bytes of resolved text against maxResolvedBytes. It
// is called for each piece as it is resolved, so that many capped strings
// (128 params, or one MAP of many fields) are refused before they add up.
func (r *resolver) charge(param string, n int) error {
	r.total += n
	if r.total > maxResolvedBytes {
		return fmt.Errorf("param %q: the params resolved together would be over the limit of %d bytes", param, maxResolvedBytes)
	}
	return nil
}

// interpolate expands s, a piece of param's value; param names the piece
// in errors. The result is charged against the total.
func (r *resolver) interpolate(param, s string) (string, error) {
	if !strings.Contains(s, "$") {
		// Nothing is built, but the value is kept and passed on, so it
		// is held to the same cap (a run param can be long).
		if len(s) > maxInterpolatedBytes {
			return "", fmt.Errorf("param %q: %d bytes is over the limit of %d bytes", param, len(s), maxInterpolatedBytes)
		}
		return s, r.charge(param, len(s))
	}
	t := textBuilder{limit: maxInterpolatedBytes}
	// A referenced param's own failure already names that param; only
	// this text's errors are reported under param.
	var inner error
	err := scanRefs(s, t.add, func(name string) error {
		v, ok, err := r.get(name)
		if err != nil {
			inner = err
			return err
		}
		if !ok {
			return fmt.Errorf("unknown param %q", name)
		}
		return t.addValue(v)
	})
	switch {
	case err != nil && err == inner:
		return "", err
	case err != nil:
		return "", fmt.Errorf("param %q: %w", param, err)
	}
	return t.b.String(), r.charge(param, t.b.Len())
}

func (r *resolver) value(name string, d ParamDef) (Value, error) {
	if d.Type == Map && d.Fields != nil {
		return r.mapFields(name, d.Fields)
	}
	if d.Value == nil {
		if d.Expression != "" {
			outer := r.scopeErr // set by an expression this one is nested in
			r.scopeErr = nil
			v, err := EvalWith(d.Expression, d.Type, resolverScope{r: r, self: name}, r.opts)
			inner := r.scopeErr
			r.scopeErr = outer
			if err != nil {
				if inner != nil {
					// The expression failed because a param it reads
					// could not be resolved: that is the error to fix.
					return Value{}, inner
				}
				return Value{}, fmt.Errorf("param %q: %w", name, err)
			}
			// SEL bounds each string it builds to the same limit as
			// interpolation; what an expression returns still counts
			// toward the total.
			return v, r.charge(name, minTextLen(v))
		}
		return Value{}, fmt.Errorf("param %q has no value", name)
	}
	return r.interpolateValue(name, *d.Value)
}

func (r *resolver) mapFields(name string, fields map[string]ParamDef) (Value, error) {
	out := make(map[string]Value, len(fields))
	for _, k := range sortedKeys(fields) {
		if err := r.charge(name+"."+k, len(k)); err != nil {
			return Value{}, err
		}
		v, err := r.value(name+"."+k, fields[k])
		if err != nil {
			return Value{}, err
		}
		out[k] = v
	}
	return Value{Type: Map, Raw: out}, nil
}

// interpolateValue interpolates every string in v: name is the param (or
// MAP field) it belongs to, and elements and entries are named by their
// path below it in errors.
func (r *resolver) interpolateValue(name string, v Value) (Value, error) {
	switch x := v.Raw.(type) {
	case string:
		s, err := r.interpolate(name, x)
		if err != nil {
			return Value{}, err
		}
		return Value{Type: v.Type, Raw: s}, nil
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			var err error
			if out[i], err = r.interpolate(indexPath(name, i), s); err != nil {
				return Value{}, err
			}
		}
		return Value{Type: v.Type, Raw: out}, nil
	case map[string]string:
		out := make(map[string]string, len(x))
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			nk, err := r.interpolate(keyPath(name, k), k)
			if err != nil {
				return Value{}, err
			}
			nv, err := r.interpolate(keyPath(name, k), x[k])
			if err != nil {
				return Value{}, err
			}
			out[nk] = nv
		}
		return Value{Type: v.Type, Raw: out}, nil
	case map[string]Value:
		out := make(map[string]Value, len(x))
		for _, k := range sortedKeys(x) {
			if err := r.charge(name+"."+k, len(k)); err != nil {
				return Value{}, err
			}
			nv, err := r.interpolateValue(name+"."+k, x[k])
			if err != nil {
				return Value{}, err
			}
			out[k] = nv
		}
		return Value{Type: v.Type, Raw: out}, nil
	}
	return v, r.charge(name, minTextLen(v))
}

// resolverScope is what an expression param sees: the other params being
// resolved, then lookup. Its own name reads through to lookup.
type resolverScope struct {
	r    *resolver
	self string
}

func (s resolverScope) Param(name string) (Value, bool) {
	if name != s.self {
		v, ok, err := s.r.get(name)
		if err == nil && ok {
			return v, true
		}
		if err != nil && s.r.scopeErr == nil {
			s.r.scopeErr = err
		}
		if _, defined := s.r.defs[name]; defined {
			return Value{}, false
		}
	}
	if s.r.lookup != nil {
		return s.r.lookup(name)
	}
	return Value{}, false
}

func (s resolverScope) StepParam(stepID, name string) (Value, bool) {
	if s.r.lookup != nil {
		return s.r.lookup(stepID + stepParamSeparator + name)
	}
	return Value{}, false
}
