package workflow

import (
	"bytes"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Value is a typed runtime value. Raw holds, by Type: string, int64, float64,
// bool, map[string]string, []string, []int64, []float64, []bool, or
// map[string]Value for MAP.
type Value struct {
	Type ParamType
	Raw  any
}

// String is how the value reads when interpolated into a string: scalars
// as Maestro prints them (a DOUBLE prints like Java, e.g. "3.0"), lists and
// maps as compact JSON.
func (v Value) String() string {
	switch x := v.Raw.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return formatDouble(x)
	case bool:
		return strconv.FormatBool(x)
	}
	b, err := v.MarshalJSON()
	if err != nil {
		return fmt.Sprint(v.Raw)
	}
	return string(b)
}

// MarshalJSON writes the raw value as JSON (map keys sorted).
func (v Value) MarshalJSON() ([]byte, error) {
	n, err := valueNode(v)
	if err != nil {
		return nil, err
	}
	return encodeNode(n), nil
}

// formatDouble prints the shortest decimal that reads back as the same
// float64, in the layout of Java's Double.toString, which is what Maestro
// interpolates.
func formatDouble(f float64) string {
	if math.IsNaN(f) {
		return "NaN"
	}
	if math.IsInf(f, 0) {
		if f > 0 {
			return "Infinity"
		}
		return "-Infinity"
	}
	if f == 0 {
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

func valueNode(v Value) (*node, error) {
	switch x := v.Raw.(type) {
	case string:
		return strNode(x), nil
	case int64:
		return intNode(x), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%v is not a finite number", x)
		}
		return &node{kind: kNumber, text: formatDouble(x)}, nil
	case bool:
		return boolNode(x), nil
	case map[string]string:
		n := newObject()
		for _, k := range sortedKeys(x) {
			n.set(k, strNode(x[k]))
		}
		return n, nil
	case []string:
		n := &node{kind: kArray, items: make([]*node, 0, len(x))}
		for _, s := range x {
			n.items = append(n.items, strNode(s))
		}
		return n, nil
	case []int64:
		n := &node{kind: kArray, items: make([]*node, 0, len(x))}
		for _, i := range x {
			n.items = append(n.items, intNode(i))
		}
		return n, nil
	case []float64:
		n := &node{kind: kArray, items: make([]*node, 0, len(x))}
		for _, f := range x {
			c, err := valueNode(Value{Type: Double, Raw: f})
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, c)
		}
		return n, nil
	case []bool:
		n := &node{kind: kArray, items: make([]*node, 0, len(x))}
		for _, b := range x {
			n.items = append(n.items, boolNode(b))
		}
		return n, nil
	case map[string]Value:
		n := newObject()
		for _, k := range sortedKeys(x) {
			c, err := valueNode(x[k])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			n.set(k, c)
		}
		return n, nil
	}
	return nil, fmt.Errorf("unsupported raw value of Go type %T for %s", v.Raw, v.Type)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// rawMatchesType reports whether a Value is internally consistent.
func rawMatchesType(v Value) bool {
	switch v.Raw.(type) {
	case string:
		return v.Type == String
	case int64:
		return v.Type == Long
	case float64:
		return v.Type == Double
	case bool:
		return v.Type == Boolean
	case map[string]string:
		return v.Type == StringMap
	case []string:
		return v.Type == StringArray
	case []int64:
		return v.Type == LongArray
	case []float64:
		return v.Type == DoubleArray
	case []bool:
		return v.Type == BooleanArray
	case map[string]Value:
		if v.Type != Map {
			return false
		}
		for _, c := range v.Raw.(map[string]Value) {
			if !rawMatchesType(c) {
				return false
			}
		}
		return true
	}
	return false
}

// ---- coercion from the tree ----

// valueErr locates a coercion problem relative to the value being coerced.
type valueErr struct {
	rel string // "", "[2]", ".key" ...
	// outer holds the keys of the objects around the problem, innermost
	// first, while inferWithHints returns through them; they are put in
	// front of rel once, at the top (see inferWithHints).
	outer []string
	at    *node
	msg   string
}

func mismatch(t ParamType, n *node, rel string) *valueErr {
	return &valueErr{rel: rel, at: n, msg: fmt.Sprintf("expected %s, got %s", t, describe(n))}
}

func relKey(k string) string {
	if isIdent(k) {
		return "." + k
	}
	return "[" + strconv.Quote(k) + "]"
}

// Scalars are coerced the way Maestro's JSON mapper does: strings take any
// scalar, numbers and booleans may be written as strings.

func scalarString(n *node) (string, bool) {
	switch n.kind {
	case kString, kNumber:
		return n.text, true
	case kBool:
		return strconv.FormatBool(n.b), true
	}
	return "", false
}

func scalarLong(n *node) (int64, bool) {
	switch n.kind {
	case kNumber:
		return parseLongText(n.text)
	case kString:
		return parseLongText(strings.TrimSpace(n.text))
	}
	return 0, false
}

// parseLongText accepts integers, and numbers such as 1e3 or 12.0 whose value
// is a whole number in range; fractions are refused rather than truncated.
func parseLongText(s string) (int64, bool) {
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v, true
	}
	if !decimalRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || f < -9.223372036854775e18 || f >= 9.223372036854775e18 {
		return 0, false
	}
	return int64(f), true
}

var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

func parseDoubleText(s string) (float64, bool) {
	if !decimalRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func scalarDouble(n *node) (float64, bool) {
	switch n.kind {
	case kNumber:
		return parseDoubleText(n.text)
	case kString:
		return parseDoubleText(strings.TrimSpace(n.text))
	}
	return 0, false
}

func scalarBool(n *node) (bool, bool) {
	switch n.kind {
	case kBool:
		return n.b, true
	case kString:
		switch strings.ToLower(strings.TrimSpace(n.text)) {
		case "true":
			return true, true
		case "false":
			return false, true
		}
	}
	return false, false
}

// coerce converts a JSON value to type t. MAP values are read as plain JSON
// (as in a MAP's evaluated result) with element types inferred.
func coerce(t ParamType, n *node) (Value, *valueErr) {
	switch t {
	case String:
		if s, ok := scalarString(n); ok {
			return Value{Type: t, Raw: s}, nil
		}
	case Long:
		if v, ok := scalarLong(n); ok {
			return Value{Type: t, Raw: v}, nil
		}
	case Double:
		if v, ok := scalarDouble(n); ok {
			return Value{Type: t, Raw: v}, nil
		}
	case Boolean:
		if v, ok := scalarBool(n); ok {
			return Value{Type: t, Raw: v}, nil
		}
	case StringMap:
		if n.kind != kObject {
			break
		}
		m := make(map[string]string, len(n.keys))
		for i, k := range n.keys {
			s, ok := scalarString(n.vals[i])
			if !ok {
				return Value{}, mismatch(String, n.vals[i], relKey(k))
			}
			m[k] = s
		}
		return Value{Type: t, Raw: m}, nil
	case StringArray, LongArray, DoubleArray, BooleanArray:
		if n.kind != kArray {
			break
		}
		return coerceArray(t, n)
	case Map:
		if n.kind == kObject {
			return inferNode(n)
		}
	default:
		return Value{}, &valueErr{at: n, msg: fmt.Sprintf("unknown param type %q", string(t))}
	}
	return Value{}, mismatch(t, n, "")
}

func coerceArray(t ParamType, n *node) (Value, *valueErr) {
	switch t {
	case StringArray:
		out := make([]string, len(n.items))
		for i, it := range n.items {
			s, ok := scalarString(it)
			if !ok {
				return Value{}, mismatch(String, it, indexPath("", i))
			}
			out[i] = s
		}
		return Value{Type: t, Raw: out}, nil
	case LongArray:
		out := make([]int64, len(n.items))
		for i, it := range n.items {
			v, ok := scalarLong(it)
			if !ok {
				return Value{}, mismatch(Long, it, indexPath("", i))
			}
			out[i] = v
		}
		return Value{Type: t, Raw: out}, nil
	case DoubleArray:
		out := make([]float64, len(n.items))
		for i, it := range n.items {
			v, ok := scalarDouble(it)
			if !ok {
				return Value{}, mismatch(Double, it, indexPath("", i))
			}
			out[i] = v
		}
		return Value{Type: t, Raw: out}, nil
	default:
		out := make([]bool, len(n.items))
		for i, it := range n.items {
			v, ok := scalarBool(it)
			if !ok {
				return Value{}, mismatch(Boolean, it, indexPath("", i))
			}
			out[i] = v
		}
		return Value{Type: BooleanArray, Raw: out}, nil
	}
}

func isIntegerText(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// inferNode types plain JSON the way Maestro types a MAP's evaluated result:
// whole numbers are LONG, other numbers DOUBLE, lists take the type of their
// first element, objects are nested MAPs.
func inferNode(n *node) (Value, *valueErr) {
	return inferWithHints(n, nil)
}

// inferWithHints is inferNode with the types of some members given, as
// param definitions, by hints.
func inferWithHints(n *node, hints map[string]ParamDef) (Value, *valueErr) {
	v, err := infer(n, hints)
	if err != nil && len(err.outer) > 0 {
		// Prepending each key to rel on the way out copied the path once per
		// level, which is quadratic in the depth; it is built once here.
		var b strings.Builder
		for i := len(err.outer) - 1; i >= 0; i-- {
			b.WriteString(relKey(err.outer[i]))
		}
		b.WriteString(err.rel)
		err.rel, err.outer = b.String(), nil
	}
	return v, err
}

func infer(n *node, hints map[string]ParamDef) (Value, *valueErr) {
	switch n.kind {
	case kString:
		return Value{Type: String, Raw: n.text}, nil
	case kBool:
		return Value{Type: Boolean, Raw: n.b}, nil
	case kNumber:
		if isIntegerText(n.text) {
			return coerce(Long, n)
		}
		return coerce(Double, n)
	case kArray:
		t := StringArray
		if len(n.items) > 0 {
			switch n.items[0].kind {
			case kString:
				t = StringArray
			case kBool:
				t = BooleanArray
			case kNumber:
				t = LongArray
				for _, it := range n.items {
					if it.kind == kNumber && !isIntegerText(it.text) {
						t = DoubleArray
					}
				}
			default:
				return Value{}, &valueErr{rel: "[0]", at: n.items[0], msg: fmt.Sprintf("unsupported list element %s", describe(n.items[0]))}
			}
		}
		return coerceArray(t, n)
	case kObject:
		m := make(map[string]Value, len(n.keys))
		for i, k := range n.keys {
			var (
				v   Value
				err *valueErr
			)
			h, hinted := hints[k]
			switch {
			case hinted && h.Type == Map:
				if n.vals[i].kind != kObject {
					err = mismatch(Map, n.vals[i], "")
				} else {
					v, err = infer(n.vals[i], h.Fields)
				}
			case hinted && h.Type != "":
				v, err = coerce(h.Type, n.vals[i])
			default:
				v, err = infer(n.vals[i], nil)
			}
			if err != nil {
				err.outer = append(err.outer, k)
				return Value{}, err
			}
			m[k] = v
		}
		return Value{Type: Map, Raw: m}, nil
	}
	return Value{}, &valueErr{at: n, msg: "null is not a supported value"}
}

func (e *valueErr) error() error {
	if e.rel == "" {
		return fmt.Errorf("%s", e.msg)
	}
	return fmt.Errorf("%s: %s", strings.TrimPrefix(e.rel, "."), e.msg)
}

// ValueFromJSON coerces a JSON value to type t. A MAP is read from a plain
// JSON object (nested value types inferred), not from param definitions.
func ValueFromJSON(t ParamType, data []byte) (Value, error) {
	pt, ok := ParseParamType(string(t))
	if !ok {
		return Value{}, fmt.Errorf("unknown param type %q", string(t))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return Value{}, fmt.Errorf("expected %s, got no JSON value", pt)
	}
	n, perr := parseJSON(data)
	if perr != nil {
		return Value{}, fmt.Errorf("invalid JSON: %s", perr.Error())
	}
	v, verr := coerce(pt, n)
	if verr != nil {
		return Value{}, verr.error()
	}
	return v, nil
}

// ParseValueString reads a value given on a command line. Scalars are plain
// text ("42", "true"); lists are comma separated ("a,b") or a JSON list;
// STRING_MAP and MAP are JSON objects.
func ParseValueString(t ParamType, s string) (Value, error) {
	pt, ok := ParseParamType(string(t))
	if !ok {
		return Value{}, fmt.Errorf("unknown param type %q", string(t))
	}
	str := &node{kind: kString, text: s}
	switch pt {
	case String:
		return Value{Type: String, Raw: s}, nil
	case Long, Double, Boolean:
		v, verr := coerce(pt, str)
		if verr != nil {
			return Value{}, verr.error()
		}
		return v, nil
	case StringArray, LongArray, DoubleArray, BooleanArray:
		if strings.HasPrefix(strings.TrimSpace(s), "[") {
			return ValueFromJSON(pt, []byte(s))
		}
		arr := &node{kind: kArray}
		if strings.TrimSpace(s) != "" {
			for _, part := range strings.Split(s, ",") {
				arr.items = append(arr.items, &node{kind: kString, text: part})
			}
		}
		v, verr := coerceArray(pt, arr)
		if verr != nil {
			return Value{}, verr.error()
		}
		return v, nil
	default: // STRING_MAP, MAP
		if !strings.HasPrefix(strings.TrimSpace(s), "{") {
			return Value{}, fmt.Errorf("expected %s as a JSON object, got %s", pt, describe(str))
		}
		return ValueFromJSON(pt, []byte(s))
	}
}

// ParseOutputParams reads the JSON a step prints between the output markers,
// {"params": {"name": {"value": ..., "type": "LONG", ...}}, ...}. An
// evaluated_result, when present, wins over value, as it does in Maestro.
// Members other than "params" (such as "artifacts") are not this package's
// concern and are ignored. Errors are *Errors with paths and positions.
func ParseOutputParams(data []byte) (map[string]Value, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, Errors{{Msg: "empty output"}}.asError()
	}
	root, perr := parseJSON(data)
	if perr != nil {
		return nil, Errors{perr}.asError()
	}
	dc := newDecoder()
	if root.kind != kObject {
		dc.errf(root.pos, "", "expected an object such as {\"params\": {...}}, got %s", describe(root))
		return nil, dc.errs.asError()
	}
	out := map[string]Value{}
	pn := member(root, "params")
	if pn == nil {
		return out, nil
	}
	if pn.kind != kObject {
		dc.errf(pn.pos, "params", "expected an object of params, got %s", describe(pn))
		return nil, dc.errs.asError()
	}
	for i, name := range pn.keys {
		path := keyPath("params", name)
		if v, ok := dc.outputParam(pn.vals[i], path); ok {
			out[name] = v
		}
	}
	if len(dc.errs) > 0 {
		return nil, dc.errs.asError()
	}
	return out, nil
}

func (dc *decoder) outputParam(n *node, path string) (Value, bool) {
	if n.kind != kObject {
		dc.errf(n.pos, path, "expected a param object with value and type, got %s", describe(n))
		return Value{}, false
	}
	tn := member(n, "type")
	if tn == nil {
		dc.errf(n.pos, path, "param type is required")
		return Value{}, false
	}
	t, ok := ParseParamType(tn.text)
	if tn.kind != kString || !ok {
		dc.errf(tn.pos, keyPath(path, "type"), "unknown param type %s", describe(tn))
		return Value{}, false
	}
	vn, vpath := member(n, "evaluated_result"), keyPath(path, "evaluated_result")
	defNode := member(n, "value")
	if vn == nil {
		vn, vpath = defNode, keyPath(path, "value")
		if vn == nil {
			dc.errf(n.pos, path, "param has no value or evaluated_result")
			return Value{}, false
		}
		if t == Map {
			// "value" of a MAP holds nested definitions.
			fields := dc.params(vn, vpath)
			if len(dc.errs) > 0 {
				return Value{}, false
			}
			v := mapValueFromFields(fields)
			if v == nil {
				dc.errf(vn.pos, vpath, "MAP value has entries without a literal value")
				return Value{}, false
			}
			return *v, true
		}
	}
	var (
		v    Value
		verr *valueErr
	)
	if t == Map && vn.kind == kObject {
		var hints map[string]ParamDef
		if defNode != nil && defNode.kind == kObject {
			hd := newDecoder()
			hints = hd.params(defNode, "")
		}
		v, verr = inferWithHints(vn, hints)
	} else {
		v, verr = coerce(t, vn)
	}
	if verr != nil {
		dc.errf(verr.at.pos, vpath+verr.rel, "%s", verr.msg)
		return Value{}, false
	}
	return v, true
}
