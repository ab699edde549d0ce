package workflow

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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

// scanRefs walks s, passing literal text to lit and referenced names to ref.
func scanRefs(s string, lit func(string), ref func(name string) error) error {
	start := 0
	flush := func(end int) {
		if end > start {
			lit(s[start:end])
		}
	}
	for i := 0; i < len(s); {
		if s[i] != '$' {
			i++
			continue
		}
		flush(i)
		rest := s[i:]
		switch {
		case strings.HasPrefix(rest, "$$"):
			if n := refLen(rest[1:]); n > 0 {
				lit(rest[1 : 1+n])
				i += 1 + n
			} else {
				lit("$")
				i += 2
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
				lit("$")
				i++
			}
		}
		start = i
	}
	flush(len(s))
	return nil
}

// Interpolate expands param references in s using lookup.
func Interpolate(s string, lookup func(name string) (Value, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	err := scanRefs(s, func(t string) { b.WriteString(t) }, func(name string) error {
		if lookup != nil {
			if v, ok := lookup(name); ok {
				b.WriteString(v.String())
				return nil
			}
		}
		return fmt.Errorf("unknown param %q", name)
	})
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

// refNames lists the names referenced by s, ignoring malformed text (which
// Interpolate reports later).
func refNames(s string) []string {
	var names []string
	_ = scanRefs(s, func(string) {}, func(name string) error {
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
// a while loop) reads the value from lookup.
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

func (r *resolver) interpolate(param, s string) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	err := scanRefs(s, func(t string) { b.WriteString(t) }, func(name string) error {
		v, ok, err := r.get(name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("param %q: unknown param %q", param, name)
		}
		b.WriteString(v.String())
		return nil
	})
	var me *malformedRefError
	if errors.As(err, &me) {
		return "", fmt.Errorf("param %q: %w", param, err)
	}
	if err != nil {
		return "", err
	}
	return b.String(), nil
}

func (r *resolver) value(name string, d ParamDef) (Value, error) {
	if d.Type == Map && d.Fields != nil {
		return r.mapFields(name, d.Fields)
	}
	if d.Value == nil {
		if d.Expression != "" {
			v, err := EvalWith(d.Expression, d.Type, resolverScope{r: r, self: name}, r.opts)
			if err != nil {
				return Value{}, fmt.Errorf("param %q: %w", name, err)
			}
			return v, nil
		}
		return Value{}, fmt.Errorf("param %q has no value", name)
	}
	return r.interpolateValue(name, *d.Value)
}

func (r *resolver) mapFields(name string, fields map[string]ParamDef) (Value, error) {
	out := make(map[string]Value, len(fields))
	for _, k := range sortedKeys(fields) {
		v, err := r.value(name+"."+k, fields[k])
		if err != nil {
			return Value{}, err
		}
		out[k] = v
	}
	return Value{Type: Map, Raw: out}, nil
}

func (r *resolver) interpolateValue(name string, v Value) (Value, error) {
	switch x := v.Raw.(type) {
	case string:
		s, err := r.interpolate(name, x)
		return Value{Type: v.Type, Raw: s}, err
	case []string:
		out := make([]string, len(x))
		for i, s := range x {
			var err error
			if out[i], err = r.interpolate(name, s); err != nil {
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
			nk, err := r.interpolate(name, k)
			if err != nil {
				return Value{}, err
			}
			nv, err := r.interpolate(name, x[k])
			if err != nil {
				return Value{}, err
			}
			out[nk] = nv
		}
		return Value{Type: v.Type, Raw: out}, nil
	case map[string]Value:
		out := make(map[string]Value, len(x))
		for _, k := range sortedKeys(x) {
			nv, err := r.interpolateValue(name+"."+k, x[k])
			if err != nil {
				return Value{}, err
			}
			out[k] = nv
		}
		return Value{Type: v.Type, Raw: out}, nil
	}
	return v, nil
}

// resolverScope is what an expression param sees: the other params being
// resolved, then lookup. Its own name reads through to lookup.
type resolverScope struct {
	r    *resolver
	self string
}

func (s resolverScope) Param(name string) (Value, bool) {
	if name != s.self {
		if v, ok, err := s.r.get(name); err == nil && ok {
			return v, true
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
