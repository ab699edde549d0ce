package sel

import (
	"math"
	"strconv"
	"strings"
)

// Argument helpers. Errors name the argument by position because SEL
// methods have no parameter names a user could see.

func argCount(name string, args []Value, counts ...int) error {
	for _, c := range counts {
		if len(args) == c {
			return nil
		}
	}
	return errValue("%s does not take %d argument(s)", name, len(args))
}

func argLong(name string, args []Value, i int) (int64, error) {
	n, ok := args[i].(int64)
	if !ok {
		return 0, errValue("%s: argument %d must be a long, not %s", name, i+1, typeName(args[i]))
	}
	return n, nil
}

// argInt is for parameters that are Java ints, such as plusDays(int).
func argInt(name string, args []Value, i int) (int64, error) {
	n, err := argLong(name, args, i)
	if err != nil {
		return 0, err
	}
	if n < math.MinInt32 || n > math.MaxInt32 {
		return 0, errValue("%s: argument %d (%d) is out of the int range", name, i+1, n)
	}
	return n, nil
}

func argDouble(name string, args []Value, i int) (float64, error) {
	switch x := args[i].(type) {
	case int64:
		return float64(x), nil
	case float64:
		return x, nil
	}
	return 0, errValue("%s: argument %d must be a number, not %s", name, i+1, typeName(args[i]))
}

func argString(name string, args []Value, i int) (string, error) {
	s, ok := args[i].(string)
	if !ok {
		if args[i] == nil {
			return "", errValue("%s: argument %d is null", name, i+1)
		}
		return "", errValue("%s: argument %d must be a String, not %s", name, i+1, typeName(args[i]))
	}
	return s, nil
}

// argStringish accepts a String or a long, as Maestro's Util functions do
// for date ints.
func argStringish(name string, args []Value, i int) (string, error) {
	switch x := args[i].(type) {
	case string:
		return x, nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	}
	return "", errValue("%s: argument %d must be a String or a long, not %s", name, i+1, typeName(args[i]))
}

// argLongish accepts a long or a String holding one.
func argLongish(name string, args []Value, i int) (int64, error) {
	switch x := args[i].(type) {
	case int64:
		return x, nil
	case string:
		n, err := parseJavaLong(x)
		if err != nil {
			return 0, errValue("%s: argument %d: %v", name, i+1, err)
		}
		return n, nil
	}
	return 0, errValue("%s: argument %d must be a long or a String, not %s", name, i+1, typeName(args[i]))
}

func parseJavaLong(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, errValue("for input string: %q is not a long", s)
	}
	return n, nil
}

func parseJavaInt(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 32)
	if err != nil {
		return 0, errValue("for input string: %q is not an int", s)
	}
	return n, nil
}

// parseJavaDouble follows Double.parseDouble: surrounding whitespace and a
// trailing type suffix are allowed, and NaN and Infinity are spelled out.
func parseJavaDouble(s string) (float64, error) {
	t := strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
	switch t {
	case "NaN", "+NaN", "-NaN":
		return math.NaN(), nil
	case "Infinity", "+Infinity":
		return math.Inf(1), nil
	case "-Infinity":
		return math.Inf(-1), nil
	}
	if n := len(t); n > 1 && strings.ContainsRune("fFdD", rune(t[n-1])) && !strings.HasPrefix(strings.TrimLeft(t, "+-"), "0x") {
		t = t[:n-1]
	}
	bad := t == "" || strings.ContainsAny(t, "_iInN")
	f, err := strconv.ParseFloat(t, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			bad = true
		}
	}
	if bad {
		return 0, errValue("for input string: %q is not a double", s)
	}
	return f, nil
}

// Fields.

func (in *interp) field(v Value, name string) (Value, error) {
	switch x := v.(type) {
	case nil:
		return nil, errValue("cannot read field %s of null", name)
	case *array:
		if name == "length" {
			return int64(len(x.items)), nil
		}
	case *classRef:
		if f, ok := staticField(x.name, name); ok {
			return f, nil
		}
		return nil, errValue("%s has no field %s", x.name, name)
	}
	return nil, errValue("%s has no field %s", typeName(v), name)
}

var dayConstants = []string{"MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY"}
var monthConstants = []string{"JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY",
	"AUGUST", "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER"}

func staticField(class, name string) (Value, bool) {
	switch class {
	case "DateTimeZone":
		if name == "UTC" {
			return utcZone, true
		}
	case "Integer":
		switch name {
		case "MAX_VALUE":
			return int64(math.MaxInt32), true
		case "MIN_VALUE":
			return int64(math.MinInt32), true
		}
	case "Long":
		switch name {
		case "MAX_VALUE":
			return int64(math.MaxInt64), true
		case "MIN_VALUE":
			return int64(math.MinInt64), true
		}
	case "Math":
		switch name {
		case "PI":
			return math.Pi, true
		case "E":
			return math.E, true
		}
	case "DateTimeConstants":
		for i, d := range dayConstants {
			if d == name {
				return int64(i + 1), true
			}
		}
		for i, m := range monthConstants {
			if m == name {
				return int64(i + 1), true
			}
		}
	}
	return nil, false
}

// Method calls.

func noMethod(recv Value, name string, args []Value) error {
	return errValue("%s has no method %s taking %d argument(s)", typeName(recv), name, len(args))
}

func (in *interp) call(recv Value, name string, args []Value) (Value, error) {
	if err := in.work(16 * len(args)); err != nil {
		return nil, err
	}
	switch r := recv.(type) {
	case nil:
		return nil, errValue("cannot call %s on null", name)
	case *classRef:
		return in.callStatic(r.name, name, args)
	case *paramsObj:
		return in.callParams(name, args)
	case string:
		return in.callString(r, name, args)
	case int64:
		return in.callLong(r, name, args)
	case float64:
		return in.callDouble(r, name, args)
	case bool:
		switch {
		case name == "toString" && len(args) == 0:
			return strconv.FormatBool(r), nil
		case name == "booleanValue" && len(args) == 0:
			return r, nil
		case name == "equals" && len(args) == 1:
			b, ok := args[0].(bool)
			return ok && b == r, nil
		}
		return in.callStatic("Boolean", name, args)
	case *mapVal:
		return in.callMap(r, name, args)
	case *listVal:
		return in.callList(r, name, args)
	case *array:
		if name == "toString" && len(args) == 0 {
			return in.showString(r)
		}
		// Params of array type reach expressions as arrays; Maestro's
		// definitions ask their size as if they were lists.
		if name == "size" && len(args) == 0 {
			return int64(len(r.items)), nil
		}
	case *dateTime:
		return in.callDateTime(r, name, args)
	case *zoneVal:
		return in.callZone(r, name, args)
	case *formatter:
		return in.callFormatter(r, name, args)
	case *property:
		return in.callProperty(r, name, args)
	case *daysVal:
		switch {
		case name == "getDays" && len(args) == 0:
			return r.n, nil
		case name == "toString" && len(args) == 0:
			return in.showString(r)
		}
		return in.callStatic("Days", name, args)
	case *uuidVal:
		if name == "toString" && len(args) == 0 {
			return r.s, nil
		}
	case *exceptionVal:
		if name == "getMessage" && len(args) == 0 {
			return r.msg, nil
		}
	}
	return nil, noMethod(recv, name, args)
}

func (in *interp) showString(v Value) (Value, error) {
	s, err := in.show(v)
	if err != nil {
		return nil, err
	}
	return in.newString(s)
}

func (in *interp) callStatic(class, name string, args []Value) (Value, error) {
	cr := &classRef{name: class}
	switch class {
	case "Math":
		return in.callMath(name, args)
	case "Util":
		return in.callUtil(name, args)
	case "String":
		return in.callStringStatic(name, args)
	case "Long", "Integer":
		return callLongStatic(class, name, args)
	case "Double", "Float":
		return callDoubleStatic(class, name, args)
	case "Boolean":
		switch {
		case (name == "parseBoolean" || name == "valueOf") && len(args) == 1:
			switch x := args[0].(type) {
			case nil:
				return false, nil
			case string:
				return strings.EqualFold(x, "true"), nil
			case bool:
				return x, nil
			}
			return nil, errValue("Boolean.%s needs a String or boolean, not %s", name, typeName(args[0]))
		case name == "toString" && len(args) == 1:
			b, ok := args[0].(bool)
			if !ok {
				return nil, errValue("Boolean.toString needs a boolean, not %s", typeName(args[0]))
			}
			return strconv.FormatBool(b), nil
		}
	case "DateTime":
		if name == "parse" && len(args) == 2 {
			s, err := argString("DateTime.parse", args, 0)
			if err != nil {
				return nil, err
			}
			f, ok := args[1].(*formatter)
			if !ok {
				return nil, errValue("DateTime.parse: argument 2 must be a DateTimeFormatter, not %s", typeName(args[1]))
			}
			return in.parseWith(f, s)
		}
	case "DateTimeZone":
		return in.callZoneStatic(name, args)
	case "DateTimeFormat", "DateTimeFormatter":
		if name == "forPattern" && len(args) == 1 {
			p, err := argString("DateTimeFormat.forPattern", args, 0)
			if err != nil {
				return nil, err
			}
			return in.newFormatter(p)
		}
	case "Days":
		if name == "daysBetween" && len(args) == 2 {
			a, ok1 := args[0].(*dateTime)
			b, ok2 := args[1].(*dateTime)
			if !ok1 || !ok2 {
				return nil, errValue("Days.daysBetween needs two DateTimes, not %s and %s", typeName(args[0]), typeName(args[1]))
			}
			return &daysVal{n: daysBetween(a, b)}, nil
		}
	case "UUID":
		if name == "randomUUID" && len(args) == 0 {
			src, ok := in.env.(UUIDSource)
			if !ok {
				return nil, errValue("UUID.randomUUID is not available: the environment provides no UUID source")
			}
			return &uuidVal{s: src.NewUUID()}, nil
		}
	case "System":
		if name == "currentTimeMillis" && len(args) == 0 {
			return in.now()
		}
		return nil, errValue("System.%s is not allowed in SEL", name)
	case "Arrays":
		// Maestro passes the argument through, so Arrays.asList(a) is a.
		if name == "asList" && len(args) == 1 {
			return args[0], nil
		}
	}
	return nil, noMethod(cr, name, args)
}

func (in *interp) now() (Value, error) {
	c, ok := in.env.(Clock)
	if !ok {
		return nil, errValue("the current time is not available: the environment provides no clock")
	}
	return c.NowMillis(), nil
}

func callLongStatic(class, name string, args []Value) (Value, error) {
	if len(args) != 1 {
		return nil, noMethod(&classRef{name: class}, name, args)
	}
	switch name {
	case "valueOf", "parseLong", "parseInt", "decode":
		switch x := args[0].(type) {
		case int64:
			if name == "valueOf" {
				return x, nil
			}
		case string:
			// Integer.decode parses an int, as Integer.parseInt does:
			// Java refuses "3000000000". Integer.valueOf keeps reading a
			// long, as Maestro's SEL does (its Integer is a long and
			// valueOf calls Long.parseLong).
			if name == "parseInt" || class == "Integer" && name == "decode" {
				return parseJavaInt(x)
			}
			return parseJavaLong(x)
		}
		return nil, errValue("%s.%s needs a String, not %s", class, name, typeName(args[0]))
	case "toString":
		n, err := argLong(class+".toString", args, 0)
		if err != nil {
			return nil, err
		}
		return strconv.FormatInt(n, 10), nil
	}
	return nil, noMethod(&classRef{name: class}, name, args)
}

func callDoubleStatic(class, name string, args []Value) (Value, error) {
	if len(args) != 1 {
		return nil, noMethod(&classRef{name: class}, name, args)
	}
	switch name {
	case "valueOf", "parseDouble", "parseFloat":
		switch x := args[0].(type) {
		case string:
			return parseJavaDouble(x)
		case int64:
			if name == "valueOf" {
				return float64(x), nil
			}
		case float64:
			if name == "valueOf" {
				return x, nil
			}
		}
		return nil, errValue("%s.%s needs a String, not %s", class, name, typeName(args[0]))
	case "toString":
		f, err := argDouble(class+".toString", args, 0)
		if err != nil {
			return nil, err
		}
		return javaDouble(f), nil
	case "isNaN":
		f, err := argDouble(class+".isNaN", args, 0)
		if err != nil {
			return nil, err
		}
		return math.IsNaN(f), nil
	}
	return nil, noMethod(&classRef{name: class}, name, args)
}

func (in *interp) callLong(n int64, name string, args []Value) (Value, error) {
	if len(args) == 0 {
		switch name {
		case "toString":
			return strconv.FormatInt(n, 10), nil
		// SEL keeps int and long alike, so intValue does not truncate.
		case "intValue", "longValue":
			return n, nil
		case "doubleValue":
			return float64(n), nil
		}
	}
	if len(args) == 1 {
		switch name {
		case "equals":
			m, ok := args[0].(int64)
			return ok && m == n, nil
		case "compareTo":
			m, err := argLong("compareTo", args, 0)
			if err != nil {
				return nil, err
			}
			switch {
			case n < m:
				return int64(-1), nil
			case n > m:
				return int64(1), nil
			}
			return int64(0), nil
		}
	}
	return callLongStatic("Long", name, args)
}

func (in *interp) callDouble(f float64, name string, args []Value) (Value, error) {
	if len(args) == 0 {
		switch name {
		case "toString":
			return javaDouble(f), nil
		case "intValue":
			return doubleToInt(f), nil
		case "longValue":
			return doubleToLong(f), nil
		case "doubleValue":
			return f, nil
		case "isNaN":
			return math.IsNaN(f), nil
		case "isInfinite":
			return math.IsInf(f, 0), nil
		}
	}
	if len(args) == 1 && name == "equals" {
		g, ok := args[0].(float64)
		return ok && (g == f || (math.IsNaN(g) && math.IsNaN(f))), nil
	}
	return callDoubleStatic("Double", name, args)
}

func (in *interp) callMath(name string, args []Value) (Value, error) {
	one := func() (float64, error) {
		if err := argCount("Math."+name, args, 1); err != nil {
			return 0, err
		}
		return argDouble("Math."+name, args, 0)
	}
	switch name {
	case "min", "max":
		if err := argCount("Math."+name, args, 2); err != nil {
			return nil, err
		}
		a, aInt := args[0].(int64)
		b, bInt := args[1].(int64)
		if aInt && bInt {
			if (name == "min") == (a < b) {
				return a, nil
			}
			return b, nil
		}
		x, err := argDouble("Math."+name, args, 0)
		if err != nil {
			return nil, err
		}
		y, err := argDouble("Math."+name, args, 1)
		if err != nil {
			return nil, err
		}
		if name == "min" {
			return math.Min(x, y), nil
		}
		return math.Max(x, y), nil
	case "abs":
		if err := argCount("Math.abs", args, 1); err != nil {
			return nil, err
		}
		if n, ok := args[0].(int64); ok {
			if n < 0 {
				return -n, nil
			}
			return n, nil
		}
		x, err := argDouble("Math.abs", args, 0)
		if err != nil {
			return nil, err
		}
		return math.Abs(x), nil
	case "pow":
		if err := argCount("Math.pow", args, 2); err != nil {
			return nil, err
		}
		x, err := argDouble("Math.pow", args, 0)
		if err != nil {
			return nil, err
		}
		y, err := argDouble("Math.pow", args, 1)
		if err != nil {
			return nil, err
		}
		// Java differs from Go on these: any NaN exponent gives NaN, and
		// (+-1)^(+-Infinity) is NaN rather than 1.
		if math.IsNaN(y) || (math.Abs(x) == 1 && math.IsInf(y, 0)) {
			return math.NaN(), nil
		}
		return math.Pow(x, y), nil
	case "sqrt":
		x, err := one()
		if err != nil {
			return nil, err
		}
		return math.Sqrt(x), nil
	case "floor":
		x, err := one()
		if err != nil {
			return nil, err
		}
		return math.Floor(x), nil
	case "ceil":
		x, err := one()
		if err != nil {
			return nil, err
		}
		return math.Ceil(x), nil
	case "round":
		if err := argCount("Math.round", args, 1); err != nil {
			return nil, err
		}
		if n, ok := args[0].(int64); ok {
			return n, nil
		}
		x, err := argDouble("Math.round", args, 0)
		if err != nil {
			return nil, err
		}
		return javaRound(x), nil
	case "random":
		return nil, errValue("Math.random is not available: SEL evaluation must be deterministic")
	}
	return nil, noMethod(&classRef{name: "Math"}, name, args)
}

// javaRound is Math.round(double): ties round up, NaN is 0, and results
// saturate at the long range.
func javaRound(x float64) int64 {
	if math.IsNaN(x) {
		return 0
	}
	f := math.Floor(x)
	if x-f >= 0.5 {
		f++
	}
	return doubleToLong(f)
}

// params.

func (in *interp) callParams(name string, args []Value) (Value, error) {
	switch {
	case name == "get" && len(args) == 1:
		k, err := argString("params.get", args, 0)
		if err != nil {
			return nil, err
		}
		v, _, err := in.param(k)
		return v, err
	case name == "containsKey" && len(args) == 1:
		k, err := argString("params.containsKey", args, 0)
		if err != nil {
			return nil, err
		}
		_, ok, err := in.param(k)
		return ok, err
	case name == "getFromStep" && len(args) == 2:
		step, err := argString("params.getFromStep", args, 0)
		if err != nil {
			return nil, err
		}
		p, err := argString("params.getFromStep", args, 1)
		if err != nil {
			return nil, err
		}
		raw, ok := in.env.StepParam(step, p)
		if !ok {
			return nil, errValue("step %q has no param %q", step, p)
		}
		return importValue(raw, 0)
	}
	ext, ok := in.env.(ParamsExtension)
	if !ok {
		return nil, errValue("params.%s with %d argument(s) is not supported here", name, len(args))
	}
	out := make([]Value, len(args))
	for i, a := range args {
		x := newExporter("argument "+strconv.Itoa(i+1), in.lim)
		ev, err := x.value(a, 0)
		if err == nil {
			// The copy is real memory, and a loop may make one per call.
			err = in.allocate(x.used)
		}
		if err != nil {
			if e, ok := err.(*evalErr); ok && e.kind == KindLimit {
				return nil, errLimit("params.%s: %s", name, e.msg)
			}
			return nil, errValue("params.%s: argument %d: %v", name, i+1, err)
		}
		out[i] = ev
	}
	raw, err := ext.CallParams(name, out)
	if err != nil {
		return nil, errValue("params.%s: %v", name, err)
	}
	return importValue(raw, 0)
}

// Maps and lists.

func (in *interp) callMap(m *mapVal, name string, args []Value) (Value, error) {
	key := func() (string, error) {
		k, ok := args[0].(string)
		if !ok {
			return "", errValue("Map.%s: key must be a String, not %s", name, typeName(args[0]))
		}
		return k, nil
	}
	switch {
	case name == "size" && len(args) == 0:
		return int64(len(m.m)), nil
	case name == "isEmpty" && len(args) == 0:
		return len(m.m) == 0, nil
	case name == "get" && len(args) == 1:
		k, err := key()
		if err != nil {
			return nil, err
		}
		return m.m[k], nil
	case name == "containsKey" && len(args) == 1:
		k, err := key()
		if err != nil {
			return nil, err
		}
		_, ok := m.m[k]
		return ok, nil
	case name == "getOrDefault" && len(args) == 2:
		k, err := key()
		if err != nil {
			return nil, err
		}
		if v, ok := m.m[k]; ok {
			return v, nil
		}
		return args[1], nil
	case name == "put" && len(args) == 2:
		k, err := key()
		if err != nil {
			return nil, err
		}
		old := m.m[k]
		return old, in.mapPut(m, k, args[1])
	case name == "remove" && len(args) == 1:
		k, err := key()
		if err != nil {
			return nil, err
		}
		old := m.m[k]
		delete(m.m, k)
		return old, nil
	case name == "keySet" && len(args) == 0:
		// Java's HashMap order is unspecified; sorted keys keep results
		// reproducible. The set is a list so that size, contains and
		// for-each work on it as on a Java Set.
		keys := sortedKeys(m.m)
		items := make([]Value, len(keys))
		for i, k := range keys {
			items[i] = k
		}
		return in.newList(items)
	case name == "toString" && len(args) == 0:
		return in.showString(m)
	}
	return nil, noMethod(m, name, args)
}

// grow accounts for a list growing by one element to length n.
func (in *interp) grow(n int) error {
	if n > in.lim.MaxArrayLen {
		return errLimit("array size %d exceeds the limit of %d", n, in.lim.MaxArrayLen)
	}
	return in.allocate(16)
}

func (in *interp) newList(items []Value) (*listVal, error) {
	if err := in.checkArrayLen(len(items)); err != nil {
		return nil, err
	}
	return &listVal{items: items}, nil
}

func (in *interp) callList(l *listVal, name string, args []Value) (Value, error) {
	switch {
	case name == "size" && len(args) == 0:
		return int64(len(l.items)), nil
	case name == "isEmpty" && len(args) == 0:
		return len(l.items) == 0, nil
	case name == "add" && len(args) == 1:
		if err := in.grow(len(l.items) + 1); err != nil {
			return nil, err
		}
		l.items = append(l.items, args[0])
		return true, nil
	case name == "add" && len(args) == 2:
		i, ok := args[0].(int64)
		if !ok || i < 0 || i > int64(len(l.items)) {
			return nil, errValue("ArrayList.add: index %v out of bounds for length %d", args[0], len(l.items))
		}
		if err := in.grow(len(l.items) + 1); err != nil {
			return nil, err
		}
		if err := in.work(len(l.items)); err != nil {
			return nil, err
		}
		l.items = append(l.items, nil)
		copy(l.items[i+1:], l.items[i:])
		l.items[i] = args[1]
		return true, nil
	case name == "get" && len(args) == 1:
		i, err := arrayIndex(args[0], len(l.items))
		if err != nil {
			return nil, err
		}
		return l.items[i], nil
	case name == "set" && len(args) == 2:
		i, err := arrayIndex(args[0], len(l.items))
		if err != nil {
			return nil, err
		}
		old := l.items[i]
		l.items[i] = args[1]
		return old, nil
	case name == "remove" && len(args) == 1:
		if err := in.work(len(l.items)); err != nil {
			return nil, err
		}
		if _, isIdx := args[0].(int64); isIdx {
			i, err := arrayIndex(args[0], len(l.items))
			if err != nil {
				return nil, err
			}
			old := l.items[i]
			l.items = append(l.items[:i], l.items[i+1:]...)
			return old, nil
		}
		for i, it := range l.items {
			if javaEquals(it, args[0]) {
				l.items = append(l.items[:i], l.items[i+1:]...)
				return true, nil
			}
		}
		return false, nil
	case (name == "contains" || name == "indexOf") && len(args) == 1:
		if err := in.work(len(l.items)); err != nil {
			return nil, err
		}
		for i, it := range l.items {
			if javaEquals(it, args[0]) {
				if name == "contains" {
					return true, nil
				}
				return int64(i), nil
			}
		}
		if name == "contains" {
			return false, nil
		}
		return int64(-1), nil
	case name == "clear" && len(args) == 0:
		l.items = nil
		return nil, nil
	case name == "toArray" && (len(args) == 0 || len(args) == 1):
		k, err := listElemKind(l.items)
		if err != nil {
			return nil, err
		}
		if len(args) == 1 {
			hint, ok := args[0].(*array)
			if !ok {
				return nil, errValue("ArrayList.toArray: argument must be an array, not %s", typeName(args[0]))
			}
			if len(l.items) == 0 || hint.elem == kDouble && k == kLong {
				k = hint.elem
			}
			if k != hint.elem {
				return nil, errValue("ArrayList.toArray: list elements are %s, not %s", k, hint.elem)
			}
		}
		if err := in.checkArrayLen(len(l.items)); err != nil {
			return nil, err
		}
		a := &array{elem: k, items: make([]Value, len(l.items))}
		for i, it := range l.items {
			if a.items[i], err = coerce(k, k == kString, it); err != nil {
				return nil, err
			}
		}
		return a, nil
	case name == "toString" && len(args) == 0:
		return in.showString(l)
	}
	return nil, noMethod(l, name, args)
}

// javaEquals is Object.equals for SEL values: same type and same value,
// identity for objects.
func javaEquals(a, b Value) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return sameObject(a, b)
}

// Constructors.

var exceptionClasses = map[string]bool{
	"MaestroRuntimeException": true, "RuntimeException": true, "Exception": true,
	"IllegalArgumentException": true, "IllegalStateException": true,
	"MaestroInvalidExpressionException": true,
}

func (in *interp) construct(class string, args []Value) (Value, error) {
	if exceptionClasses[class] {
		switch len(args) {
		case 0:
			return &exceptionVal{class: class}, nil
		case 1:
			if args[0] != nil {
				if _, ok := args[0].(string); !ok {
					return nil, errValue("new %s: the message must be a String, not %s", class, typeName(args[0]))
				}
			}
			return &exceptionVal{class: class, msg: args[0]}, nil
		}
		return nil, errValue("new %s takes a message only", class)
	}
	switch class {
	case "String":
		switch len(args) {
		case 0:
			return "", nil
		case 1:
			switch x := args[0].(type) {
			case string:
				return x, nil
			case int64:
				return strconv.FormatInt(x, 10), nil
			}
			return nil, errValue("new String needs a String, not %s", typeName(args[0]))
		}
	case "Long", "Integer":
		if len(args) == 1 {
			switch x := args[0].(type) {
			case int64:
				return x, nil
			case string:
				if class == "Integer" {
					return parseJavaInt(x)
				}
				return parseJavaLong(x)
			}
			return nil, errValue("new %s needs a long or a String, not %s", class, typeName(args[0]))
		}
	case "Double", "Float":
		if len(args) == 1 {
			switch x := args[0].(type) {
			case int64:
				return float64(x), nil
			case float64:
				return x, nil
			case string:
				return parseJavaDouble(x)
			}
			return nil, errValue("new %s needs a number or a String, not %s", class, typeName(args[0]))
		}
	case "Boolean":
		if len(args) == 1 {
			switch x := args[0].(type) {
			case bool:
				return x, nil
			case string:
				return strings.EqualFold(x, "true"), nil
			}
			return nil, errValue("new Boolean needs a boolean or a String, not %s", typeName(args[0]))
		}
	case "Map", "HashMap", "LinkedHashMap":
		if len(args) == 0 {
			if err := in.allocate(64); err != nil {
				return nil, err
			}
			return &mapVal{m: map[string]Value{}}, nil
		}
		if len(args) == 1 {
			src, ok := args[0].(*mapVal)
			if !ok {
				return nil, errValue("new %s needs no argument or a Map, not %s", class, typeName(args[0]))
			}
			if err := in.allocate(64 * int64(len(src.m)+1)); err != nil {
				return nil, err
			}
			m := &mapVal{m: make(map[string]Value, len(src.m))}
			for k, v := range src.m {
				m.m[k] = v
			}
			return m, nil
		}
	case "ArrayList":
		if len(args) == 0 {
			return in.newList(nil)
		}
		if len(args) == 1 {
			switch x := args[0].(type) {
			case int64: // initial capacity
				if x < 0 {
					return nil, errValue("new ArrayList: negative capacity %d", x)
				}
				return in.newList(nil)
			case *listVal:
				return in.newList(append([]Value(nil), x.items...))
			case *array:
				return in.newList(append([]Value(nil), x.items...))
			}
			return nil, errValue("new ArrayList needs no argument, a capacity or a collection, not %s", typeName(args[0]))
		}
	case "DateTime":
		return in.newDateTime(args)
	case "List":
		return nil, errValue("List is an interface; use new ArrayList()")
	default:
		return nil, errValue("class %s is not supported in SEL", class)
	}
	return nil, errValue("new %s does not take %d argument(s)", class, len(args))
}

// Util, Maestro's helper functions.

func (in *interp) callUtil(name string, args []Value) (Value, error) {
	fn := "Util." + name
	switch name {
	case "dateIntToTs":
		if err := argCount(fn, args, 1); err != nil {
			return nil, err
		}
		s, err := argStringish(fn, args, 0)
		if err != nil {
			return nil, err
		}
		dt, err := in.parseWith(dateIntFormat, s)
		if err != nil {
			return nil, err
		}
		return dt.ms, nil
	case "tsToDateInt":
		if err := argCount(fn, args, 1); err != nil {
			return nil, err
		}
		ms, err := argLongish(fn, args, 0)
		if err != nil {
			return nil, err
		}
		return in.printWith(dateIntFormat, ms, nil)
	case "incrementDateInt":
		if err := argCount(fn, args, 2); err != nil {
			return nil, err
		}
		s, err := argStringish(fn, args, 0)
		if err != nil {
			return nil, err
		}
		days, err := argInt(fn, args, 1)
		if err != nil {
			return nil, err
		}
		dt, err := in.parseWith(dateIntFormat, s)
		if err != nil {
			return nil, err
		}
		if dt, err = dt.plusLocal(0, 0, days); err != nil {
			return nil, err
		}
		return in.printWith(dateIntFormat, dt.ms, dt.zone)
	case "dateIntHourToTs":
		if err := argCount(fn, args, 5); err != nil {
			return nil, err
		}
		date, err := argStringish(fn, args, 0)
		if err != nil {
			return nil, err
		}
		hour, err := argStringish(fn, args, 1)
		if err != nil {
			return nil, err
		}
		zid, err := argStringish(fn, args, 2)
		if err != nil {
			return nil, err
		}
		dayOff, err := argLongish(fn, args, 3)
		if err != nil {
			return nil, err
		}
		hourOff, err := argLongish(fn, args, 4)
		if err != nil {
			return nil, err
		}
		z, err := zoneForID(zid)
		if err != nil {
			return nil, err
		}
		dt, err := in.parseWith(dateIntHourFormat.withZone(z), date+hour)
		if err != nil {
			return nil, err
		}
		if dt, err = dt.plusLocal(0, 0, -int64(int32(dayOff))); err != nil {
			return nil, err
		}
		if dt, err = dt.plusMillis(-int64(int32(hourOff)) * msPerHour); err != nil {
			return nil, err
		}
		return dt.ms, nil
	case "dateIntsBetween":
		if err := argCount(fn, args, 3); err != nil {
			return nil, err
		}
		return in.dateIntsBetween(args)
	case "intsBetween":
		if err := argCount(fn, args, 3); err != nil {
			return nil, err
		}
		return in.intsBetween(args)
	case "timeoutForDateTimeDeadline", "timeoutForDateIntDeadline":
		if err := argCount(fn, args, 2); err != nil {
			return nil, err
		}
		var dt *dateTime
		if name == "timeoutForDateTimeDeadline" {
			d, ok := args[0].(*dateTime)
			if !ok {
				return nil, errValue("%s: argument 1 must be a DateTime, not %s", fn, typeName(args[0]))
			}
			dt = d
		} else {
			s, err := argStringish(fn, args, 0)
			if err != nil {
				return nil, err
			}
			if dt, err = in.parseWith(dateIntFormat, s); err != nil {
				return nil, err
			}
		}
		period, err := argString(fn, args, 1)
		if err != nil {
			return nil, err
		}
		d, err := parseWordPeriod(period)
		if err != nil {
			return nil, err
		}
		nowV, err := in.now()
		if err != nil {
			return nil, err
		}
		remaining := dt.ms + d - nowV.(int64)
		if remaining < 0 {
			remaining = 0
		}
		return strconv.FormatInt(remaining, 10) + " milliseconds", nil
	}
	return nil, noMethod(&classRef{name: "Util"}, name, args)
}

// dateIntsBetween lists the date ints from start (inclusive) to end
// (exclusive) in steps of step days. With a negative step Maestro takes the
// dates from the second argument (inclusive) up to the first (exclusive)
// and lists them in reverse; this does the same.
func (in *interp) dateIntsBetween(args []Value) (Value, error) {
	const fn = "Util.dateIntsBetween"
	stepStr, err := argStringish(fn, args, 2)
	if err != nil {
		return nil, err
	}
	step, err := parseJavaInt(stepStr)
	if err != nil {
		return nil, err
	}
	from, to := 0, 1
	switch {
	case step < 0:
		from, to = 1, 0
	case step == 0:
		return nil, errValue("%s: the step must not be 0", fn)
	}
	a, err := argStringish(fn, args, from)
	if err != nil {
		return nil, err
	}
	b, err := argStringish(fn, args, to)
	if err != nil {
		return nil, err
	}
	d1, err := in.parseWith(dateIntFormat, a)
	if err != nil {
		return nil, err
	}
	d2, err := in.parseWith(dateIntFormat, b)
	if err != nil {
		return nil, err
	}
	days := daysBetween(d1, d2)
	inc := step
	if inc < 0 {
		inc = -inc
	}
	n := int64(0)
	if days > 0 {
		n = (days + inc - 1) / inc
	}
	if n > int64(in.lim.MaxArrayLen) {
		return nil, errLimit("%s would return %d dates, over the array limit of %d", fn, n, in.lim.MaxArrayLen)
	}
	if err := in.checkArrayLen(int(n)); err != nil {
		return nil, err
	}
	if err := in.work(int(n) * 16); err != nil {
		return nil, err
	}
	out := &array{elem: kLong, items: make([]Value, n)}
	startDay := floorDiv(d1.ms, msPerDay)
	for i := int64(0); i < n; i++ {
		y, m, d := civilFromDays(startDay + i*inc)
		out.items[i] = y*10000 + m*100 + d
	}
	if step < 0 {
		for i, j := 0, len(out.items)-1; i < j; i, j = i+1, j-1 {
			out.items[i], out.items[j] = out.items[j], out.items[i]
		}
	}
	return out, nil
}

// intsBetween lists ints from start (inclusive) towards end (exclusive)
// in steps of step, which may be negative. Like Maestro it works on Java
// ints.
func (in *interp) intsBetween(args []Value) (Value, error) {
	const fn = "Util.intsBetween"
	var v [3]int64
	for i := range v {
		n, err := argLongish(fn, args, i)
		if err != nil {
			return nil, err
		}
		v[i] = int64(int32(n))
	}
	start, end, step := v[0], v[1], v[2]
	var n int64
	switch {
	case step > 0 && start < end:
		n = (end - start + step - 1) / step
	case step < 0 && start > end:
		n = (start - end - step - 1) / -step
	case step == 0 && start > end:
		// Maestro loops forever here until it runs out of memory.
		return nil, errValue("%s: the step must not be 0", fn)
	}
	if n > int64(in.lim.MaxArrayLen) {
		return nil, errLimit("%s would return %d values, over the array limit of %d", fn, n, in.lim.MaxArrayLen)
	}
	if err := in.checkArrayLen(int(n)); err != nil {
		return nil, err
	}
	if err := in.work(int(n)); err != nil {
		return nil, err
	}
	out := &array{elem: kLong, items: make([]Value, n)}
	for i := int64(0); i < n; i++ {
		out.items[i] = start + i*step
	}
	return out, nil
}

// parseWordPeriod reads an English period such as "1 day", "2 hours and
// 30 minutes" or "1 week, 2 days", returning milliseconds.
func parseWordPeriod(s string) (int64, error) {
	units := map[string]int64{
		"week": 7 * msPerDay, "weeks": 7 * msPerDay,
		"day": msPerDay, "days": msPerDay,
		"hour": msPerHour, "hours": msPerHour,
		"minute": 60000, "minutes": 60000,
		"second": 1000, "seconds": 1000,
		"millisecond": 1, "milliseconds": 1,
	}
	fields := strings.Fields(strings.ReplaceAll(s, ",", " "))
	var total int64
	seen := false
	for i := 0; i < len(fields); {
		if fields[i] == "and" {
			i++
			continue
		}
		if i+1 >= len(fields) {
			return 0, errValue("invalid period %q", s)
		}
		n, err := strconv.ParseInt(fields[i], 10, 32)
		if err != nil {
			return 0, errValue("invalid period %q", s)
		}
		u, ok := units[strings.ToLower(fields[i+1])]
		if !ok {
			return 0, errValue("invalid period %q: unsupported unit %q", s, fields[i+1])
		}
		total += n * u
		seen = true
		i += 2
	}
	if !seen {
		return 0, errValue("invalid period %q", s)
	}
	return total, nil
}
