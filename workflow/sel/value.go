package sel

import (
	"math"
	"sort"
	"strconv"
	"strings"
)

// Value is a SEL value as it crosses the package boundary. See the package
// documentation for the Go types an Env may hand in and Eval hands back.
type Value = any

// kind is the static type of a variable or array element. SEL is typed like
// Java: a variable keeps the type it was declared with (or first assigned).
type kind uint8

const (
	kAny kind = iota
	kLong
	kDouble
	kBool
	kString
	kLongArr
	kDoubleArr
	kBoolArr
	kStringArr
	kMap
	kList
	kDateTime
	kZone
	kFormatter
	kProperty
	kDays
	kUUID
	kException
)

var kindNames = [...]string{
	kAny: "Object", kLong: "long", kDouble: "double", kBool: "boolean",
	kString: "String", kLongArr: "long[]", kDoubleArr: "double[]",
	kBoolArr: "boolean[]", kStringArr: "String[]", kMap: "Map", kList: "ArrayList",
	kDateTime: "DateTime", kZone: "DateTimeZone", kFormatter: "DateTimeFormatter",
	kProperty: "DateTime.Property", kDays: "Days", kUUID: "UUID",
	kException: "Exception",
}

func (k kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "?"
}

func (k kind) isArray() bool { return k >= kLongArr && k <= kStringArr }

func arrayOf(elem kind) kind {
	switch elem {
	case kLong:
		return kLongArr
	case kDouble:
		return kDoubleArr
	case kBool:
		return kBoolArr
	case kString:
		return kStringArr
	}
	return kAny
}

func elemOf(arr kind) kind {
	switch arr {
	case kLongArr:
		return kLong
	case kDoubleArr:
		return kDouble
	case kBoolArr:
		return kBool
	case kStringArr:
		return kString
	}
	return kAny
}

// typeKinds maps the type names a declaration or `new` may use. Java's int
// and float are SEL's long and double, as in Maestro.
var typeKinds = map[string]kind{
	"int": kLong, "long": kLong, "Integer": kLong, "Long": kLong,
	"float": kDouble, "double": kDouble, "Float": kDouble, "Double": kDouble,
	"boolean": kBool, "Boolean": kBool,
	"String": kString,
	"Map":    kMap, "HashMap": kMap, "LinkedHashMap": kMap,
	"List": kList, "ArrayList": kList, "Set": kList,
	"DateTime": kDateTime, "DateTimeZone": kZone,
	"DateTimeFormatter": kFormatter, "DateTimeFormat": kFormatter,
	"Property": kProperty, "Days": kDays, "UUID": kUUID,
	"Object": kAny,
}

// Primitive types cannot hold null; their boxed spellings can.
var primitiveNames = map[string]bool{"int": true, "long": true, "float": true, "double": true, "boolean": true}

// Internal object types. None of them leaves Eval.

type array struct {
	elem  kind // kLong, kDouble, kBool or kString
	items []Value
}

type mapVal struct {
	m map[string]Value
}

type listVal struct {
	items []Value
}

type uuidVal struct{ s string }

type exceptionVal struct {
	class string
	msg   Value // string or nil
}

// classRef is a class name used as a value, e.g. the Math in Math.max.
type classRef struct{ name string }

// paramsObj is the `params` object.
type paramsObj struct{}

func kindOf(v Value) kind {
	switch x := v.(type) {
	case bool:
		return kBool
	case int64:
		return kLong
	case float64:
		return kDouble
	case string:
		return kString
	case *array:
		return arrayOf(x.elem)
	case *mapVal:
		return kMap
	case *listVal:
		return kList
	case *dateTime:
		return kDateTime
	case *zoneVal:
		return kZone
	case *formatter:
		return kFormatter
	case *property:
		return kProperty
	case *daysVal:
		return kDays
	case *uuidVal:
		return kUUID
	case *exceptionVal:
		return kException
	}
	return kAny
}

func typeName(v Value) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case *classRef:
		return "class " + x.name
	case *paramsObj:
		return "params"
	}
	return kindOf(v).String()
}

// javaDouble formats a double the way Java's Double.toString does, which is
// what string concatenation and String.valueOf print.
func javaDouble(d float64) string {
	switch {
	case math.IsNaN(d):
		return "NaN"
	case math.IsInf(d, 1):
		return "Infinity"
	case math.IsInf(d, -1):
		return "-Infinity"
	case d == 0:
		if math.Signbit(d) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(d)
	if abs >= 1e-3 && abs < 1e7 {
		s := strconv.FormatFloat(d, 'f', -1, 64)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	// Shortest digits in scientific form, rewritten as Java writes them:
	// one digit before the point, at least one after, "E" and a bare
	// exponent.
	s := strconv.FormatFloat(d, 'e', -1, 64)
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// maxShowDepth bounds how deep toString and conversion follow nested maps
// and lists, which may contain themselves.
const maxShowDepth = 32

// show renders a value as Java's String.valueOf would, except that arrays,
// maps and lists print their contents (Java would print an identity hash)
// and map entries print in key order so that output is deterministic.
func (in *interp) show(v Value) (string, error) {
	var sb strings.Builder
	if err := in.showInto(&sb, v, 0); err != nil {
		return "", err
	}
	return sb.String(), nil
}

func (in *interp) showInto(sb *strings.Builder, v Value, depth int) error {
	if depth > maxShowDepth {
		return errValue("value is nested too deeply (or contains itself) to be printed")
	}
	if in != nil && sb.Len() > in.lim.MaxStringLen {
		return errLimit("string length exceeds the limit of %d bytes", in.lim.MaxStringLen)
	}
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
	case bool:
		sb.WriteString(strconv.FormatBool(x))
	case int64:
		sb.WriteString(strconv.FormatInt(x, 10))
	case float64:
		sb.WriteString(javaDouble(x))
	case string:
		sb.WriteString(x)
	case *array:
		return in.showList(sb, x.items, depth)
	case *listVal:
		return in.showList(sb, x.items, depth)
	case *mapVal:
		keys := sortedKeys(x.m)
		sb.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString(k)
			sb.WriteByte('=')
			if err := in.showInto(sb, x.m[k], depth+1); err != nil {
				return err
			}
		}
		sb.WriteByte('}')
	case *dateTime:
		sb.WriteString(x.isoString())
	case *zoneVal:
		sb.WriteString(x.id)
	case *formatter:
		sb.WriteString("DateTimeFormatter[" + x.pattern + "]")
	case *property:
		sb.WriteString("Property[" + x.field.name() + "]")
	case *daysVal:
		sb.WriteString("P" + strconv.FormatInt(x.n, 10) + "D")
	case *uuidVal:
		sb.WriteString(x.s)
	case *exceptionVal:
		sb.WriteString(x.class)
		if s, ok := x.msg.(string); ok {
			sb.WriteString(": " + s)
		}
	case *classRef:
		sb.WriteString("class " + x.name)
	case *paramsObj:
		sb.WriteString("params")
	default:
		sb.WriteString("?")
	}
	return nil
}

func (in *interp) showList(sb *strings.Builder, items []Value, depth int) error {
	sb.WriteByte('[')
	for i, it := range items {
		if i > 0 {
			sb.WriteString(", ")
		}
		if err := in.showInto(sb, it, depth+1); err != nil {
			return err
		}
	}
	sb.WriteByte(']')
	return nil
}

func sortedKeys(m map[string]Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// importValue converts a value supplied by the caller into SEL's
// representation. Arrays and maps are copied, since SEL code may modify
// them in place.
func importValue(v any, depth int) (Value, error) {
	if depth > maxShowDepth {
		return nil, errValue("param value is nested too deeply")
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float32:
		return float64(x), nil
	case []int64:
		a := &array{elem: kLong, items: make([]Value, len(x))}
		for i, e := range x {
			a.items[i] = e
		}
		return a, nil
	case []int:
		a := &array{elem: kLong, items: make([]Value, len(x))}
		for i, e := range x {
			a.items[i] = int64(e)
		}
		return a, nil
	case []float64:
		a := &array{elem: kDouble, items: make([]Value, len(x))}
		for i, e := range x {
			a.items[i] = e
		}
		return a, nil
	case []bool:
		a := &array{elem: kBool, items: make([]Value, len(x))}
		for i, e := range x {
			a.items[i] = e
		}
		return a, nil
	case []string:
		a := &array{elem: kString, items: make([]Value, len(x))}
		for i, e := range x {
			a.items[i] = e
		}
		return a, nil
	case map[string]string:
		m := &mapVal{m: make(map[string]Value, len(x))}
		for k, e := range x {
			m.m[k] = e
		}
		return m, nil
	case map[string]any:
		m := &mapVal{m: make(map[string]Value, len(x))}
		for k, e := range x {
			iv, err := importValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m.m[k] = iv
		}
		return m, nil
	}
	return nil, errValue("unsupported Go type %T for a param value", v)
}

// exporter converts an evaluation result (or an argument handed to a
// ParamsExtension) into the documented Go types, counting what it produces
// against a budget. Evaluation limits count allocations, but values share
// data: one long string stored in every slot of an array, or one array
// stored under thousands of map keys, costs little to build yet becomes
// gigabytes once exported or serialised, and a chain of maps each holding
// the next twice takes time exponential in its length to walk. Counting
// every value each time it is reached bounds both the size of the output
// and the length of the walk.
type exporter struct {
	what  string // "result" or "argument N", for the error message
	limit int64
	used  int64
}

// exportEntryBytes is what each array element and map entry costs on top
// of its strings: without it an array of empty strings, reached through
// thousands of map entries, would cost nothing.
const exportEntryBytes = 8

func newExporter(what string, lim Limits) *exporter {
	return &exporter{what: what, limit: int64(lim.withDefaults().MaxResultBytes)}
}

// charge counts n more bytes of output, failing before the caller
// allocates anything for them.
func (x *exporter) charge(n int64) error {
	x.used += n
	if x.used > x.limit {
		return errLimit("%s exceeds the limit of %d bytes (strings and map keys count their length, each array element and map entry %d bytes more, and a value reached several times counts each time)",
			x.what, x.limit, exportEntryBytes)
	}
	return nil
}

func (x *exporter) value(v Value, depth int) (any, error) {
	if depth > maxShowDepth {
		return nil, errValue("result is nested too deeply (or contains itself)")
	}
	switch v := v.(type) {
	case nil, bool, int64, float64:
		return v, nil
	case string:
		if err := x.charge(int64(len(v))); err != nil {
			return nil, err
		}
		return v, nil
	case *array:
		if err := x.charge(exportEntryBytes * int64(len(v.items))); err != nil {
			return nil, err
		}
		return x.items(v.elem, v.items)
	case *listVal:
		if err := x.charge(exportEntryBytes * int64(len(v.items))); err != nil {
			return nil, err
		}
		elem, err := listElemKind(v.items)
		if err != nil {
			return nil, err
		}
		return x.items(elem, v.items)
	case *mapVal:
		// Charge the entries and keys before making the map, so an
		// oversized one is refused before it is allocated.
		n := exportEntryBytes * int64(len(v.m))
		for k := range v.m {
			n += int64(len(k))
		}
		if err := x.charge(n); err != nil {
			return nil, err
		}
		out := make(map[string]any, len(v.m))
		// In key order, so that which error a bad result gets (a null
		// entry, or the budget running out in one subtree or another)
		// does not depend on Go's random map order.
		for _, k := range sortedKeys(v.m) {
			e := v.m[k]
			if e == nil {
				return nil, errValue("map entry %q is null; a MAP result cannot hold null", k)
			}
			ev, err := x.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = ev
		}
		return out, nil
	}
	return nil, errValue("an expression cannot produce a %s; convert it first (e.g. getMillis() or toString())", typeName(v))
}

// listElemKind decides which array type a list becomes: all elements must
// share one type. An empty list becomes an empty String[].
func listElemKind(items []Value) (kind, error) {
	if len(items) == 0 {
		return kString, nil
	}
	k := kindOf(items[0])
	for _, it := range items {
		ik := kindOf(it)
		if it == nil {
			return 0, errValue("a list holding null cannot become an array")
		}
		if ik == kLong && k == kDouble || ik == kDouble && k == kLong {
			k = kDouble
			continue
		}
		if ik != k {
			return 0, errValue("a list mixing %s and %s cannot become an array", k, ik)
		}
	}
	switch k {
	case kLong, kDouble, kBool, kString:
		return k, nil
	}
	return 0, errValue("a list of %s cannot become an array", k)
}

// items converts the elements of an array or list; the caller has already
// charged them exportEntryBytes each, and strings are charged here.
func (x *exporter) items(elem kind, items []Value) (any, error) {
	switch elem {
	case kLong:
		out := make([]int64, len(items))
		for i, e := range items {
			n, ok := e.(int64)
			if !ok {
				return nil, errValue("array element %d is %s, not a long", i, typeName(e))
			}
			out[i] = n
		}
		return out, nil
	case kDouble:
		out := make([]float64, len(items))
		for i, e := range items {
			switch n := e.(type) {
			case float64:
				out[i] = n
			case int64:
				out[i] = float64(n)
			default:
				return nil, errValue("array element %d is %s, not a double", i, typeName(e))
			}
		}
		return out, nil
	case kBool:
		out := make([]bool, len(items))
		for i, e := range items {
			b, ok := e.(bool)
			if !ok {
				return nil, errValue("array element %d is %s, not a boolean", i, typeName(e))
			}
			out[i] = b
		}
		return out, nil
	case kString:
		out := make([]string, len(items))
		for i, e := range items {
			s, ok := e.(string)
			if !ok {
				return nil, errValue("array element %d is %s; a STRING_ARRAY result cannot hold it", i, typeName(e))
			}
			if err := x.charge(int64(len(s))); err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, errValue("unsupported array element type %s", elem)
}
