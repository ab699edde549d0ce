package sel

import (
	"fmt"
	"math"
	"strings"
)

// evalErr is an error raised below the level where positions are known;
// the evaluator stamps it with the position of the node being evaluated.
type evalErr struct {
	kind ErrorKind
	msg  string
}

func (e *evalErr) Error() string { return e.msg }

func errValue(format string, args ...any) error {
	return &evalErr{kind: KindRuntime, msg: fmt.Sprintf(format, args...)}
}

func errLimit(format string, args ...any) error {
	return &evalErr{kind: KindLimit, msg: fmt.Sprintf(format, args...)}
}

// at gives err the position p unless it already has one.
func at(p pos, err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *Error:
		return e
	case *evalErr:
		return errAt(e.kind, p, "%s", e.msg)
	}
	return errAt(KindRuntime, p, "%s", err.Error())
}

type flow uint8

const (
	flowNormal flow = iota
	flowBreak
	flowContinue
	flowReturn
)

type variable struct {
	k        kind
	nullable bool
	v        Value
}

type interp struct {
	env   Env
	lim   Limits
	steps int64
	alloc int64

	vars   map[string]*variable
	params map[string]Value // env values already converted, so each is read once

	produced bool  // the last statement executed was an expression statement
	lastVal  Value // and this was its value
	retVal   Value
}

func (in *interp) tick(p pos, n int64) error {
	in.steps += n
	if in.steps > in.lim.MaxSteps {
		return errAt(KindLimit, p, "evaluation took more than %d steps", in.lim.MaxSteps)
	}
	return nil
}

// work charges the cost of a library call that touches n bytes or elements.
func (in *interp) work(n int) error {
	in.steps += int64(n)/16 + 1
	if in.steps > in.lim.MaxSteps {
		return errLimit("evaluation took more than %d steps", in.lim.MaxSteps)
	}
	return nil
}

// allocate charges n bytes against the allocation budget. The budget
// counts everything allocated during evaluation, live or not, like
// Maestro's memory limit.
func (in *interp) allocate(n int64) error {
	in.alloc += n
	if in.alloc > in.lim.MaxAllocBytes {
		return errLimit("evaluation allocated more than %d bytes", in.lim.MaxAllocBytes)
	}
	return nil
}

func (in *interp) checkStrLen(n int) error {
	if n > in.lim.MaxStringLen {
		return errLimit("string of %d bytes exceeds the limit of %d bytes", n, in.lim.MaxStringLen)
	}
	return in.allocate(int64(n))
}

func (in *interp) checkArrayLen(n int) error {
	if n < 0 {
		return errValue("negative array size %d", n)
	}
	if n > in.lim.MaxArrayLen {
		return errLimit("array size %d exceeds the limit of %d", n, in.lim.MaxArrayLen)
	}
	return in.allocate(16 * int64(n))
}

func (in *interp) newString(s string) (Value, error) {
	if err := in.checkStrLen(len(s)); err != nil {
		return nil, err
	}
	return s, nil
}

// run executes a program and returns its value: that of the return
// statement that ended it, or else that of its last statement if that is
// an expression statement.
func (in *interp) run(list []stmt) (Value, error) {
	for _, s := range list {
		f, err := in.exec(s)
		if err != nil {
			return nil, err
		}
		switch f {
		case flowReturn:
			return in.retVal, nil
		case flowBreak, flowContinue:
			return nil, errAt(KindRuntime, s.stmtAt(), "break or continue outside of a loop")
		}
	}
	if !in.produced {
		p := pos{1, 1}
		if len(list) > 0 {
			p = list[len(list)-1].stmtAt()
		}
		return nil, errAt(KindRuntime, p, "the expression produces no value: end it with a return statement or an expression")
	}
	return in.lastVal, nil
}

func (in *interp) exec(s stmt) (flow, error) {
	if err := in.tick(s.stmtAt(), 1); err != nil {
		return flowNormal, err
	}
	switch s := s.(type) {
	case *exprStmt:
		v, err := in.eval(s.x)
		if err != nil {
			return flowNormal, err
		}
		in.lastVal, in.produced = v, true
		return flowNormal, nil
	case *emptyStmt:
		return flowNormal, nil
	case *declStmt:
		in.produced = false
		return flowNormal, in.declare(s)
	case *blockStmt:
		in.produced = false
		for _, c := range s.list {
			f, err := in.exec(c)
			if err != nil || f != flowNormal {
				return f, err
			}
		}
		return flowNormal, nil
	case *ifStmt:
		f, err := in.execIf(s)
		in.produced = false
		return f, err
	case *whileStmt:
		f, err := in.loop(s.p, nil, s.cond, nil, s.body)
		in.produced = false
		return f, err
	case *forStmt:
		f, err := in.loop(s.p, s.init, s.cond, s.update, s.body)
		in.produced = false
		return f, err
	case *forEachStmt:
		f, err := in.forEach(s)
		in.produced = false
		return f, err
	case *breakStmt:
		return flowBreak, nil
	case *continueStmt:
		return flowContinue, nil
	case *returnStmt:
		v, err := in.eval(s.x)
		if err != nil {
			return flowNormal, err
		}
		in.retVal = v
		return flowReturn, nil
	case *throwStmt:
		return flowNormal, in.throw(s)
	}
	return flowNormal, errAt(KindRuntime, s.stmtAt(), "unsupported statement")
}

func (in *interp) throw(s *throwStmt) error {
	v, err := in.eval(s.x)
	if err != nil {
		return err
	}
	var msg string
	switch x := v.(type) {
	case nil:
		return errAt(KindRuntime, s.p, "cannot throw null")
	case string:
		msg = x
	case *exceptionVal:
		if m, ok := x.msg.(string); ok {
			msg = m
		} else {
			msg = x.class
		}
	default:
		msg, err = in.show(v)
		if err != nil {
			return at(s.p, err)
		}
	}
	return &Error{Kind: KindThrown, Line: int(s.p.line), Col: int(s.p.col), Msg: msg}
}

func (in *interp) execIf(s *ifStmt) (flow, error) {
	for i, c := range s.conds {
		ok, err := in.cond(c)
		if err != nil {
			return flowNormal, err
		}
		if ok {
			return in.exec(s.thens[i])
		}
	}
	if s.els != nil {
		return in.exec(s.els)
	}
	return flowNormal, nil
}

func (in *interp) cond(x expr) (bool, error) {
	v, err := in.eval(x)
	if err != nil {
		return false, err
	}
	b, ok := v.(bool)
	if !ok {
		return false, errAt(KindRuntime, x.at(), "condition must be a boolean, not %s", typeName(v))
	}
	return b, nil
}

func (in *interp) loop(p pos, init []stmt, cond expr, update []expr, body stmt) (flow, error) {
	for _, s := range init {
		if _, err := in.exec(s); err != nil {
			return flowNormal, err
		}
	}
	var n int64
	for {
		if cond != nil {
			ok, err := in.cond(cond)
			if err != nil {
				return flowNormal, err
			}
			if !ok {
				return flowNormal, nil
			}
		}
		n++
		if n > in.lim.MaxLoopIterations {
			return flowNormal, errAt(KindLimit, p, "loop ran more than %d iterations", in.lim.MaxLoopIterations)
		}
		if err := in.tick(p, 1); err != nil {
			return flowNormal, err
		}
		f, err := in.exec(body)
		if err != nil {
			return flowNormal, err
		}
		switch f {
		case flowBreak:
			return flowNormal, nil
		case flowReturn:
			return flowReturn, nil
		}
		for _, u := range update {
			if _, err := in.eval(u); err != nil {
				return flowNormal, err
			}
		}
	}
}

func (in *interp) forEach(s *forEachStmt) (flow, error) {
	k, nullable, err := resolveType(s.typ)
	if err != nil {
		return flowNormal, err
	}
	coll, err := in.eval(s.x)
	if err != nil {
		return flowNormal, err
	}
	var items func(i int) (Value, bool)
	switch c := coll.(type) {
	case *array:
		items = func(i int) (Value, bool) {
			if i < len(c.items) {
				return c.items[i], true
			}
			return nil, false
		}
	case *listVal:
		items = func(i int) (Value, bool) {
			if i < len(c.items) {
				return c.items[i], true
			}
			return nil, false
		}
	case nil:
		return flowNormal, errAt(KindRuntime, s.x.at(), "cannot iterate over null")
	case *mapVal:
		return flowNormal, errAt(KindRuntime, s.x.at(), "cannot iterate over a Map; iterate over its keySet()")
	default:
		return flowNormal, errAt(KindRuntime, s.x.at(), "cannot iterate over %s", typeName(coll))
	}
	for i := 0; ; i++ {
		v, ok := items(i)
		if !ok {
			return flowNormal, nil
		}
		if int64(i) >= in.lim.MaxLoopIterations {
			return flowNormal, errAt(KindLimit, s.p, "loop ran more than %d iterations", in.lim.MaxLoopIterations)
		}
		if err := in.tick(s.p, 1); err != nil {
			return flowNormal, err
		}
		cv, err := coerce(k, nullable, v)
		if err != nil {
			return flowNormal, at(s.p, err)
		}
		in.vars[s.name] = &variable{k: k, nullable: nullable, v: cv}
		f, err := in.exec(s.body)
		if err != nil {
			return flowNormal, err
		}
		switch f {
		case flowBreak:
			return flowNormal, nil
		case flowReturn:
			return flowReturn, nil
		}
	}
}

func resolveType(t typeRef) (kind, bool, error) {
	k, ok := typeKinds[t.name]
	if !ok {
		return 0, false, errAt(KindRuntime, t.p, "unsupported type %s", t.name)
	}
	if t.array {
		ak := arrayOf(k)
		if ak == kAny {
			return 0, false, errAt(KindRuntime, t.p, "arrays of %s are not supported; SEL arrays hold long, double, boolean or String", t.name)
		}
		return ak, true, nil
	}
	return k, !primitiveNames[t.name], nil
}

func zeroValue(k kind) Value {
	switch k {
	case kLong:
		return int64(0)
	case kDouble:
		return float64(0)
	case kBool:
		return false
	case kLongArr, kDoubleArr, kBoolArr, kStringArr:
		return &array{elem: elemOf(k)}
	}
	return nil
}

func (in *interp) declare(s *declStmt) error {
	k, nullable, err := resolveType(s.typ)
	if err != nil {
		return err
	}
	for _, d := range s.vars {
		v := zeroValue(k)
		if d.init != nil {
			iv, err := in.eval(d.init)
			if err != nil {
				return err
			}
			v, err = coerce(k, nullable, iv)
			if err != nil {
				return at(d.p, err)
			}
		}
		in.vars[d.name] = &variable{k: k, nullable: nullable, v: v}
	}
	return nil
}

// coerce checks that v may be stored in a slot of kind k, widening a long
// to a double as Java does.
func coerce(k kind, nullable bool, v Value) (Value, error) {
	if v == nil {
		if nullable || k == kAny {
			return nil, nil
		}
		return nil, errValue("cannot assign null to a %s", k)
	}
	switch k {
	case kAny:
		return v, nil
	case kDouble:
		if n, ok := v.(int64); ok {
			return float64(n), nil
		}
	}
	if vk := kindOf(v); vk != k {
		return nil, errValue("cannot assign %s to a %s", typeName(v), k)
	}
	return v, nil
}

// coerceCompound stores the result of a compound assignment, which in Java
// narrows implicitly: long x; x += 1.5 leaves x a long.
func coerceCompound(k kind, nullable bool, v Value) (Value, error) {
	if f, ok := v.(float64); ok && k == kLong {
		return doubleToLong(f), nil
	}
	return coerce(k, nullable, v)
}

func doubleToLong(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= 9.223372036854775807e18:
		return math.MaxInt64
	case f <= -9.223372036854775808e18:
		return math.MinInt64
	}
	return int64(f)
}

func doubleToInt(f float64) int64 {
	switch {
	case math.IsNaN(f):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	case f <= math.MinInt32:
		return math.MinInt32
	}
	return int64(int32(f))
}

var classNames = map[string]bool{
	"Math": true, "Util": true, "String": true, "Long": true, "Integer": true,
	"Double": true, "Float": true, "Boolean": true, "Map": true, "HashMap": true,
	"LinkedHashMap": true, "ArrayList": true, "List": true, "DateTime": true,
	"DateTimeZone": true, "DateTimeFormat": true, "DateTimeFormatter": true,
	"Days": true, "UUID": true, "System": true, "Arrays": true,
	"DateTimeConstants": true, "Property": true,
}

func (in *interp) lookup(e *nameExpr) (Value, error) {
	if v, ok := in.vars[e.name]; ok {
		return v.v, nil
	}
	if e.name == "params" {
		return &paramsObj{}, nil
	}
	if classNames[e.name] {
		return &classRef{name: e.name}, nil
	}
	v, ok, err := in.param(e.name)
	if err != nil {
		return nil, at(e.p, err)
	}
	if !ok {
		return nil, errAt(KindRuntime, e.p, "unknown variable or param %q", e.name)
	}
	return v, nil
}

// param resolves a name through the Env: first as a param of its own, then,
// for step__param, as a param of an upstream step.
func (in *interp) param(name string) (Value, bool, error) {
	if v, ok := in.params[name]; ok {
		return v, true, nil
	}
	raw, ok := in.env.Param(name)
	if !ok {
		if i := strings.Index(name, "__"); i > 0 && i+2 < len(name) {
			raw, ok = in.env.StepParam(name[:i], name[i+2:])
			// A step id may itself end in '_' (step "a_" param "b" is
			// written a___b), so try the later split too.
			if !ok && name[i+2] == '_' && i+3 < len(name) {
				raw, ok = in.env.StepParam(name[:i+1], name[i+3:])
			}
		}
	}
	if !ok {
		return nil, false, nil
	}
	v, err := importValue(raw, 0)
	if err != nil {
		return nil, false, errValue("param %q: %v", name, err)
	}
	in.params[name] = v
	return v, true, nil
}

func (in *interp) eval(e expr) (Value, error) {
	if err := in.tick(e.at(), 1); err != nil {
		return nil, err
	}
	switch e := e.(type) {
	case *litExpr:
		return e.val, nil
	case *nameExpr:
		return in.lookup(e)
	case *chainExpr:
		return in.evalChain(e)
	case *unaryExpr:
		v, err := in.eval(e.x)
		if err != nil {
			return nil, err
		}
		r, err := unary(e.op, v)
		return r, at(e.p, err)
	case *castExpr:
		v, err := in.eval(e.x)
		if err != nil {
			return nil, err
		}
		r, err := cast(e.to, v)
		return r, at(e.p, err)
	case *condExpr:
		ok, err := in.cond(e.cond)
		if err != nil {
			return nil, err
		}
		if ok {
			return in.eval(e.yes)
		}
		return in.eval(e.no)
	case *assignExpr:
		return in.assign(e)
	case *incDecExpr:
		return in.incDec(e)
	case *postfixExpr:
		return in.evalPostfix(e)
	case *newObjExpr:
		args, err := in.evalArgs(e.args)
		if err != nil {
			return nil, err
		}
		v, err := in.construct(e.class, args)
		return v, at(e.p, err)
	case *newArrayExpr:
		return in.newArray(e)
	}
	return nil, errAt(KindRuntime, e.at(), "unsupported expression")
}

func (in *interp) evalArgs(list []expr) ([]Value, error) {
	if len(list) == 0 {
		return nil, nil
	}
	args := make([]Value, len(list))
	for i, a := range list {
		v, err := in.eval(a)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return args, nil
}

func (in *interp) evalChain(e *chainExpr) (Value, error) {
	acc, err := in.eval(e.operands[0])
	if err != nil {
		return nil, err
	}
	for i, op := range e.ops {
		if op == "&&" || op == "||" {
			b, ok := acc.(bool)
			if !ok {
				return nil, errAt(KindRuntime, e.opPos[i], "operator %s needs boolean operands, not %s", op, typeName(acc))
			}
			// Short-circuit: the rest of the chain is the same operator.
			if (op == "&&" && !b) || (op == "||" && b) {
				return b, nil
			}
			r, err := in.eval(e.operands[i+1])
			if err != nil {
				return nil, err
			}
			rb, ok := r.(bool)
			if !ok {
				return nil, errAt(KindRuntime, e.opPos[i], "operator %s needs boolean operands, not %s", op, typeName(r))
			}
			acc = rb
			continue
		}
		r, err := in.eval(e.operands[i+1])
		if err != nil {
			return nil, err
		}
		acc, err = in.binop(op, acc, r)
		if err != nil {
			return nil, at(e.opPos[i], err)
		}
	}
	return acc, nil
}

func unary(op string, v Value) (Value, error) {
	switch op {
	case "!":
		if b, ok := v.(bool); ok {
			return !b, nil
		}
	case "-":
		switch x := v.(type) {
		case int64:
			return -x, nil
		case float64:
			return -x, nil
		}
	case "+":
		switch x := v.(type) {
		case int64, float64:
			return x, nil
		}
	}
	return nil, errValue("operator %s cannot be applied to %s", op, typeName(v))
}

func cast(to string, v Value) (Value, error) {
	switch to {
	case "int":
		switch x := v.(type) {
		case int64:
			return int64(int32(x)), nil
		case float64:
			return doubleToInt(x), nil
		}
	case "long":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return doubleToLong(x), nil
		}
	case "double", "float":
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
	}
	return nil, errValue("cannot cast %s to %s", typeName(v), to)
}

func isNumber(v Value) bool {
	switch v.(type) {
	case int64, float64:
		return true
	}
	return false
}

func toFloat(v Value) float64 {
	switch x := v.(type) {
	case int64:
		return float64(x)
	case float64:
		return x
	}
	return 0
}

func (in *interp) binop(op string, l, r Value) (Value, error) {
	switch op {
	case "+":
		_, ls := l.(string)
		_, rs := r.(string)
		// A null operand is taken as a null String and prints as "null",
		// as Maestro does (the static type that would tell a null Long
		// apart is not tracked).
		if ls || rs || l == nil || r == nil {
			return in.concat(l, r)
		}
		return arith(op, l, r)
	case "-", "*", "/", "%":
		return arith(op, l, r)
	case "<", ">", "<=", ">=":
		return compare(op, l, r)
	case "==", "!=":
		eq, err := in.equal(l, r)
		if err != nil {
			return nil, err
		}
		return eq == (op == "=="), nil
	}
	return nil, errValue("unsupported operator %s", op)
}

func (in *interp) concat(l, r Value) (Value, error) {
	ls, err := in.show(l)
	if err != nil {
		return nil, err
	}
	rs, err := in.show(r)
	if err != nil {
		return nil, err
	}
	if err := in.checkStrLen(len(ls) + len(rs)); err != nil {
		return nil, err
	}
	if err := in.work(len(ls) + len(rs)); err != nil {
		return nil, err
	}
	return ls + rs, nil
}

func arith(op string, l, r Value) (Value, error) {
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case "+":
			return li + ri, nil
		case "-":
			return li - ri, nil
		case "*":
			return li * ri, nil
		case "/":
			if ri == 0 {
				return nil, errValue("division by zero")
			}
			if ri == -1 {
				return -li, nil
			}
			return li / ri, nil
		case "%":
			if ri == 0 {
				return nil, errValue("division by zero")
			}
			if ri == -1 {
				return int64(0), nil
			}
			return li % ri, nil
		}
	}
	if !isNumber(l) || !isNumber(r) {
		return nil, errValue("operator %s cannot be applied to %s and %s", op, typeName(l), typeName(r))
	}
	lf, rf := toFloat(l), toFloat(r)
	switch op {
	case "+":
		return lf + rf, nil
	case "-":
		return lf - rf, nil
	case "*":
		return lf * rf, nil
	case "/":
		return lf / rf, nil
	case "%":
		return math.Mod(lf, rf), nil
	}
	return nil, errValue("unsupported operator %s", op)
}

func compare(op string, l, r Value) (Value, error) {
	// Maestro answers false for null < x and null > x; every other
	// ordering involving null is an error.
	if l == nil && (op == "<" || op == ">") {
		return false, nil
	}
	if !isNumber(l) || !isNumber(r) {
		if _, ok := l.(string); ok {
			if _, ok := r.(string); ok {
				return nil, errValue("operator %s cannot compare strings; use a.compareTo(b) %s 0", op, op)
			}
		}
		return nil, errValue("operator %s cannot be applied to %s and %s", op, typeName(l), typeName(r))
	}
	li, lInt := l.(int64)
	ri, rInt := r.(int64)
	if lInt && rInt {
		switch op {
		case "<":
			return li < ri, nil
		case ">":
			return li > ri, nil
		case "<=":
			return li <= ri, nil
		default:
			return li >= ri, nil
		}
	}
	lf, rf := toFloat(l), toFloat(r)
	switch op {
	case "<":
		return lf < rf, nil
	case ">":
		return lf > rf, nil
	case "<=":
		return lf <= rf, nil
	default:
		return lf >= rf, nil
	}
}

// equal implements == and !=. Strings compare by value, as in SEL. A
// number compared with a string compares the number's decimal form, as
// Maestro does. Objects compare by identity.
func (in *interp) equal(l, r Value) (bool, error) {
	if l == nil || r == nil {
		return l == nil && r == nil, nil
	}
	if isNumber(l) && isNumber(r) {
		li, lInt := l.(int64)
		ri, rInt := r.(int64)
		if lInt && rInt {
			return li == ri, nil
		}
		return toFloat(l) == toFloat(r), nil
	}
	ls, lStr := l.(string)
	rs, rStr := r.(string)
	switch {
	case lStr && rStr:
		return ls == rs, nil
	case lStr && isNumber(r):
		s, err := in.show(r)
		return ls == s, err
	case rStr && isNumber(l):
		s, err := in.show(l)
		return rs == s, err
	}
	if lb, ok := l.(bool); ok {
		if rb, ok := r.(bool); ok {
			return lb == rb, nil
		}
	}
	if isScalar(l) || isScalar(r) {
		return false, errValue("cannot compare %s with %s", typeName(l), typeName(r))
	}
	return sameObject(l, r), nil
}

func isScalar(v Value) bool {
	switch v.(type) {
	case bool, int64, float64, string:
		return true
	}
	return false
}

func sameObject(l, r Value) bool {
	switch a := l.(type) {
	case *array:
		b, ok := r.(*array)
		return ok && a == b
	case *mapVal:
		b, ok := r.(*mapVal)
		return ok && a == b
	case *listVal:
		b, ok := r.(*listVal)
		return ok && a == b
	case *dateTime:
		b, ok := r.(*dateTime)
		return ok && a == b
	case *zoneVal:
		b, ok := r.(*zoneVal)
		return ok && a == b
	case *formatter:
		b, ok := r.(*formatter)
		return ok && a == b
	case *property:
		b, ok := r.(*property)
		return ok && a == b
	case *daysVal:
		b, ok := r.(*daysVal)
		return ok && a == b
	case *uuidVal:
		b, ok := r.(*uuidVal)
		return ok && a == b
	case *exceptionVal:
		b, ok := r.(*exceptionVal)
		return ok && a == b
	}
	return false
}

// Assignment.

func (in *interp) setVar(name string, v Value, compound bool) (Value, error) {
	if cur, ok := in.vars[name]; ok {
		var err error
		if compound {
			v, err = coerceCompound(cur.k, cur.nullable, v)
		} else {
			v, err = coerce(cur.k, cur.nullable, v)
		}
		if err != nil {
			return nil, err
		}
		cur.v = v
		return v, nil
	}
	// Assigning to an undeclared name declares it with the value's type,
	// as SEL allows (x = 1; makes x a long).
	k := kindOf(v)
	in.vars[name] = &variable{k: k, nullable: k != kLong && k != kDouble && k != kBool, v: v}
	return v, nil
}

func (in *interp) assign(e *assignExpr) (Value, error) {
	switch t := e.target.(type) {
	case *nameExpr:
		var cur Value
		if e.op != "=" {
			var err error
			if cur, err = in.lookup(t); err != nil {
				return nil, err
			}
		}
		v, err := in.eval(e.val)
		if err != nil {
			return nil, err
		}
		if e.op != "=" {
			if v, err = in.binop(e.op[:1], cur, v); err != nil {
				return nil, at(e.p, err)
			}
		}
		v, err = in.setVar(t.name, v, e.op != "=")
		return v, at(e.p, err)
	case *postfixExpr:
		container, idx, err := in.indexTarget(t)
		if err != nil {
			return nil, err
		}
		var cur Value
		if e.op != "=" {
			if cur, err = in.index(container, idx); err != nil {
				return nil, at(e.p, err)
			}
		}
		v, err := in.eval(e.val)
		if err != nil {
			return nil, err
		}
		if e.op != "=" {
			if v, err = in.binop(e.op[:1], cur, v); err != nil {
				return nil, at(e.p, err)
			}
		}
		v, err = in.setIndex(container, idx, v, e.op != "=")
		return v, at(e.p, err)
	}
	return nil, errAt(KindRuntime, e.p, "invalid assignment target")
}

func (in *interp) incDec(e *incDecExpr) (Value, error) {
	step := func(cur Value) (Value, error) {
		switch x := cur.(type) {
		case int64:
			return x + e.delta, nil
		case float64:
			return x + float64(e.delta), nil
		}
		return nil, errValue("++ and -- need a number, not %s", typeName(cur))
	}
	var old, nv Value
	var err error
	switch t := e.target.(type) {
	case *nameExpr:
		if old, err = in.lookup(t); err != nil {
			return nil, err
		}
		if nv, err = step(old); err != nil {
			return nil, at(e.p, err)
		}
		if _, err = in.setVar(t.name, nv, true); err != nil {
			return nil, at(e.p, err)
		}
	case *postfixExpr:
		container, idx, err := in.indexTarget(t)
		if err != nil {
			return nil, err
		}
		if old, err = in.index(container, idx); err != nil {
			return nil, at(e.p, err)
		}
		if nv, err = step(old); err != nil {
			return nil, at(e.p, err)
		}
		if _, err = in.setIndex(container, idx, nv, true); err != nil {
			return nil, at(e.p, err)
		}
	default:
		return nil, errAt(KindRuntime, e.p, "invalid ++/-- target")
	}
	if e.prefix {
		return nv, nil
	}
	return old, nil
}

// indexTarget evaluates everything in an a[...][i] target except the final
// store: the container and the index.
func (in *interp) indexTarget(t *postfixExpr) (Value, Value, error) {
	last := len(t.suffixes) - 1
	container, err := in.evalSuffixes(t.base, t.suffixes[:last])
	if err != nil {
		return nil, nil, err
	}
	idx, err := in.eval(t.suffixes[last].idx)
	if err != nil {
		return nil, nil, err
	}
	if container == nil {
		return nil, nil, errAt(KindRuntime, t.suffixes[last].p, "cannot index null")
	}
	return container, idx, nil
}

func (in *interp) evalPostfix(e *postfixExpr) (Value, error) {
	return in.evalSuffixes(e.base, e.suffixes)
}

func (in *interp) evalSuffixes(base expr, sufs []suffix) (Value, error) {
	v, err := in.eval(base)
	if err != nil {
		return nil, err
	}
	for _, s := range sufs {
		if err := in.tick(s.p, 1); err != nil {
			return nil, err
		}
		switch s.kind {
		case sufField:
			v, err = in.field(v, s.name)
		case sufCall:
			var args []Value
			if args, err = in.evalArgs(s.args); err == nil {
				v, err = in.call(v, s.name, args)
			}
		case sufIndex:
			var idx Value
			if idx, err = in.eval(s.idx); err == nil {
				v, err = in.index(v, idx)
			}
		}
		if err != nil {
			return nil, at(s.p, err)
		}
	}
	return v, nil
}

func arrayIndex(idx Value, n int) (int, error) {
	i, ok := idx.(int64)
	if !ok {
		return 0, errValue("index must be a long, not %s", typeName(idx))
	}
	if i < 0 || i >= int64(n) {
		return 0, errValue("index %d out of bounds for length %d", i, n)
	}
	return int(i), nil
}

func (in *interp) index(container, idx Value) (Value, error) {
	switch c := container.(type) {
	case nil:
		return nil, errValue("cannot index null")
	case *array:
		i, err := arrayIndex(idx, len(c.items))
		if err != nil {
			return nil, err
		}
		return c.items[i], nil
	case *listVal:
		i, err := arrayIndex(idx, len(c.items))
		if err != nil {
			return nil, err
		}
		return c.items[i], nil
	case *mapVal:
		k, ok := idx.(string)
		if !ok {
			return nil, errValue("map key must be a String, not %s", typeName(idx))
		}
		return c.m[k], nil
	case *paramsObj:
		k, ok := idx.(string)
		if !ok {
			return nil, errValue("params key must be a String, not %s", typeName(idx))
		}
		v, _, err := in.param(k)
		return v, err
	}
	return nil, errValue("cannot index %s", typeName(container))
}

func (in *interp) setIndex(container, idx, v Value, compound bool) (Value, error) {
	switch c := container.(type) {
	case *array:
		i, err := arrayIndex(idx, len(c.items))
		if err != nil {
			return nil, err
		}
		if compound {
			v, err = coerceCompound(c.elem, c.elem == kString, v)
		} else {
			v, err = coerce(c.elem, c.elem == kString, v)
		}
		if err != nil {
			return nil, err
		}
		c.items[i] = v
		return v, nil
	case *listVal:
		i, err := arrayIndex(idx, len(c.items))
		if err != nil {
			return nil, err
		}
		c.items[i] = v
		return v, nil
	case *mapVal:
		k, ok := idx.(string)
		if !ok {
			return nil, errValue("map key must be a String, not %s", typeName(idx))
		}
		if err := in.mapPut(c, k, v); err != nil {
			return nil, err
		}
		return v, nil
	case *paramsObj:
		return nil, errValue("params cannot be modified")
	}
	return nil, errValue("cannot index %s", typeName(container))
}

func (in *interp) mapPut(m *mapVal, k string, v Value) error {
	if _, ok := m.m[k]; !ok {
		if len(m.m) >= in.lim.MaxArrayLen {
			return errLimit("map size exceeds the limit of %d entries", in.lim.MaxArrayLen)
		}
		if err := in.allocate(int64(64 + len(k))); err != nil {
			return err
		}
	}
	m.m[k] = v
	return nil
}

func (in *interp) newArray(e *newArrayExpr) (Value, error) {
	ek, ok := typeKinds[e.elem]
	if !ok || arrayOf(ek) == kAny {
		return nil, errAt(KindRuntime, e.p, "arrays of %s are not supported; SEL arrays hold long, double, boolean or String", e.elem)
	}
	if !e.hasInit {
		sv, err := in.eval(e.size)
		if err != nil {
			return nil, err
		}
		n, ok := sv.(int64)
		if !ok {
			return nil, errAt(KindRuntime, e.size.at(), "array size must be a long, not %s", typeName(sv))
		}
		if n < 0 {
			return nil, errAt(KindRuntime, e.size.at(), "negative array size %d", n)
		}
		if n > int64(in.lim.MaxArrayLen) {
			return nil, errAt(KindLimit, e.size.at(), "array size %d exceeds the limit of %d", n, in.lim.MaxArrayLen)
		}
		if err := in.checkArrayLen(int(n)); err != nil {
			return nil, at(e.p, err)
		}
		if err := in.work(int(n)); err != nil {
			return nil, at(e.p, err)
		}
		a := &array{elem: ek, items: make([]Value, n)}
		z := zeroValue(ek)
		for i := range a.items {
			a.items[i] = z
		}
		return a, nil
	}
	if err := in.checkArrayLen(len(e.init)); err != nil {
		return nil, at(e.p, err)
	}
	a := &array{elem: ek, items: make([]Value, len(e.init))}
	for i, x := range e.init {
		v, err := in.eval(x)
		if err != nil {
			return nil, err
		}
		if a.items[i], err = coerce(ek, ek == kString, v); err != nil {
			return nil, at(x.at(), err)
		}
	}
	return a, nil
}
