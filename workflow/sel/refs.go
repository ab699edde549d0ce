package sel

// collectRefs finds the params a program reads. Like Maestro's validator it
// works in source order over one flat scope: a name is a param reference
// when its first use reads it before any declaration or assignment.
func collectRefs(list []stmt) []string {
	w := &refWalker{defined: map[string]bool{}, refs: map[string]bool{}}
	for _, s := range list {
		w.stmt(s)
	}
	return sortedSet(w.refs)
}

type refWalker struct {
	defined map[string]bool
	refs    map[string]bool
}

func (w *refWalker) read(name string) {
	if w.defined[name] || classNames[name] {
		return
	}
	w.refs[name] = true
}

func (w *refWalker) stmt(s stmt) {
	switch s := s.(type) {
	case *exprStmt:
		w.expr(s.x)
	case *declStmt:
		for _, d := range s.vars {
			if d.init != nil {
				w.expr(d.init)
			}
			w.defined[d.name] = true
		}
	case *blockStmt:
		for _, c := range s.list {
			w.stmt(c)
		}
	case *ifStmt:
		for i := range s.conds {
			w.expr(s.conds[i])
			w.stmt(s.thens[i])
		}
		if s.els != nil {
			w.stmt(s.els)
		}
	case *whileStmt:
		w.expr(s.cond)
		w.stmt(s.body)
	case *forStmt:
		for _, c := range s.init {
			w.stmt(c)
		}
		if s.cond != nil {
			w.expr(s.cond)
		}
		for _, u := range s.update {
			w.expr(u)
		}
		w.stmt(s.body)
	case *forEachStmt:
		w.expr(s.x)
		w.defined[s.name] = true
		w.stmt(s.body)
	case *returnStmt:
		w.expr(s.x)
	case *throwStmt:
		w.expr(s.x)
	}
}

func literalString(x expr) (string, bool) {
	if l, ok := x.(*litExpr); ok {
		s, ok := l.val.(string)
		return s, ok
	}
	return "", false
}

func (w *refWalker) exprs(list []expr) {
	for _, x := range list {
		w.expr(x)
	}
}

func (w *refWalker) expr(x expr) {
	switch e := x.(type) {
	case *nameExpr:
		if e.name == "params" && !w.defined["params"] {
			w.refs["params"] = true
			return
		}
		w.read(e.name)
	case *chainExpr:
		w.exprs(e.operands)
	case *unaryExpr:
		w.expr(e.x)
	case *castExpr:
		w.expr(e.x)
	case *condExpr:
		w.expr(e.cond)
		w.expr(e.yes)
		w.expr(e.no)
	case *assignExpr:
		if n, ok := e.target.(*nameExpr); ok {
			if e.op != "=" {
				w.read(n.name)
			}
			w.expr(e.val)
			w.defined[n.name] = true
			return
		}
		w.expr(e.target)
		w.expr(e.val)
	case *incDecExpr:
		if n, ok := e.target.(*nameExpr); ok {
			w.read(n.name)
			w.defined[n.name] = true
			return
		}
		w.expr(e.target)
	case *postfixExpr:
		w.postfix(e)
	case *newObjExpr:
		w.exprs(e.args)
	case *newArrayExpr:
		if e.size != nil {
			w.expr(e.size)
		}
		w.exprs(e.init)
	}
}

func (w *refWalker) postfix(e *postfixExpr) {
	sufs := e.suffixes
	if n, ok := e.base.(*nameExpr); ok && n.name == "params" && !w.defined["params"] {
		first := sufs[0]
		switch {
		case first.kind == sufIndex:
			if s, ok := literalString(first.idx); ok {
				w.refs[s] = true
			} else {
				w.refs["params"] = true
			}
		case first.kind == sufCall && first.name == "get" && len(first.args) == 1:
			if s, ok := literalString(first.args[0]); ok {
				w.refs[s] = true
			} else {
				w.refs["params"] = true
			}
		case first.kind == sufCall && first.name == "getFromStep" && len(first.args) == 2:
			step, ok1 := literalString(first.args[0])
			name, ok2 := literalString(first.args[1])
			if ok1 && ok2 {
				w.refs[step+"__"+name] = true
			} else {
				w.refs["params"] = true
			}
		case first.kind == sufCall && first.name == "containsKey":
		case first.kind == sufCall:
			// Another params method, served by the Env's extension.
		default:
			w.refs["params"] = true
		}
	} else {
		w.expr(e.base)
	}
	for _, s := range sufs {
		switch s.kind {
		case sufCall:
			w.exprs(s.args)
		case sufIndex:
			w.expr(s.idx)
		}
	}
}

// Static checks.

var staticMethods = map[string]map[string]bool{
	"Math": set("min", "max", "abs", "pow", "sqrt", "floor", "ceil", "round"),
	"Util": set("dateIntToTs", "tsToDateInt", "incrementDateInt", "dateIntHourToTs",
		"dateIntsBetween", "intsBetween", "timeoutForDateTimeDeadline", "timeoutForDateIntDeadline"),
	"String":            set("valueOf", "copyValueOf", "format", "join", "escape"),
	"Long":              set("valueOf", "parseLong", "parseInt", "decode", "toString"),
	"Integer":           set("valueOf", "parseLong", "parseInt", "decode", "toString"),
	"Double":            set("valueOf", "parseDouble", "parseFloat", "toString", "isNaN"),
	"Float":             set("valueOf", "parseDouble", "parseFloat", "toString", "isNaN"),
	"Boolean":           set("parseBoolean", "valueOf", "toString"),
	"DateTime":          set("parse"),
	"DateTimeZone":      set("forID", "forOffsetHours", "forOffsetHoursMinutes"),
	"DateTimeFormat":    set("forPattern"),
	"DateTimeFormatter": set("forPattern"),
	"Days":              set("daysBetween"),
	"UUID":              set("randomUUID"),
	"System":            set("currentTimeMillis"),
	"Arrays":            set("asList"),
}

var constructible = set("String", "Long", "Integer", "Double", "Float", "Boolean",
	"Map", "HashMap", "LinkedHashMap", "ArrayList", "DateTime",
	"MaestroRuntimeException", "RuntimeException", "Exception",
	"IllegalArgumentException", "IllegalStateException", "MaestroInvalidExpressionException")

// Classes a Java programmer might reach for to escape the sandbox. They do
// not exist in SEL; Check names them so the error is plain.
var forbiddenClasses = set("Thread", "Runtime", "Class", "ClassLoader", "Process",
	"ProcessBuilder", "File", "Files", "Paths", "Path", "Method", "Field", "Unsafe",
	"Executors", "ThreadLocal", "Reflection", "SecurityManager", "Object")

// Leading parts of qualified Java names, which SEL does not support.
var javaPackages = set("java", "javax", "sun", "jdk", "com", "org")

func dateTimeMethods() map[string]bool {
	m := set("getMillis", "getZone", "getYearOfEra", "toString", "withZone", "toDateTime",
		"withTimeAtStartOfDay", "withMillis", "withDate", "withTime", "plus", "minus",
		"isAfter", "isBefore", "isEqual", "compareTo", "equals", "parse")
	for f := range fieldNames {
		m[f] = true
		up := string(f[0]-'a'+'A') + f[1:]
		m["get"+up] = true
		m["with"+up] = true
	}
	for u := range plusUnits {
		m["plus"+u] = true
		m["minus"+u] = true
	}
	return m
}

func union(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		for k := range s {
			out[k] = true
		}
	}
	return out
}

var instanceMethods = map[kind]map[string]bool{
	kString: set("length", "isEmpty", "isBlank", "trim", "strip", "toUpperCase", "toLowerCase",
		"toString", "intern", "hashCode", "escape", "charAt", "substring", "indexOf",
		"lastIndexOf", "contains", "startsWith", "endsWith", "equals", "equalsIgnoreCase",
		"compareTo", "compareToIgnoreCase", "concat", "matches", "split", "repeat", "replace",
		"replaceAll", "replaceFirst", "valueOf", "format", "join"),
	kLong: union(set("toString", "intValue", "longValue", "doubleValue", "equals", "compareTo"),
		staticMethods["Long"]),
	kDouble: union(set("toString", "intValue", "longValue", "doubleValue", "isNaN", "isInfinite", "equals"),
		staticMethods["Double"]),
	kBool:      union(set("toString", "booleanValue", "equals"), staticMethods["Boolean"]),
	kMap:       set("size", "isEmpty", "get", "containsKey", "getOrDefault", "put", "remove", "keySet", "toString"),
	kList:      set("size", "isEmpty", "add", "get", "set", "remove", "contains", "indexOf", "clear", "toArray", "toString"),
	kDateTime:  dateTimeMethods(),
	kZone:      set("getID", "toString", "getOffset", "forID", "forOffsetHours", "forOffsetHoursMinutes"),
	kFormatter: set("withZone", "withZoneUTC", "getZone", "print", "parseDateTime", "parseMillis", "forPattern", "toString"),
	kProperty: set("get", "getAsString", "getAsText", "getAsShortText", "getMinimumValue",
		"getMaximumValue", "withMinimumValue", "withMaximumValue", "getName", "getDateTime", "toString"),
	kDays:      set("getDays", "toString", "daysBetween"),
	kUUID:      set("toString"),
	kException: set("getMessage"),
	kLongArr:   set("toString", "size"),
	kDoubleArr: set("toString", "size"),
	kBoolArr:   set("toString", "size"),
	kStringArr: set("toString", "size"),
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

type checker struct {
	// types maps each variable to the kind it is declared with, or kAny
	// when it is declared with several types or assigned without one.
	types    map[string]kind
	assigned map[string]bool
	err      *Error
}

func checkProgram(list []stmt) *Error {
	c := &checker{types: map[string]kind{}, assigned: map[string]bool{}}
	for _, s := range list {
		c.collectDecls(s)
	}
	for _, s := range list {
		c.stmt(s)
		if c.err != nil {
			return c.err
		}
	}
	return nil
}

func (c *checker) fail(p pos, format string, args ...any) {
	if c.err == nil {
		c.err = errAt(KindStatic, p, format, args...)
	}
}

func (c *checker) declare(name string, t typeRef) {
	k, ok := typeKinds[t.name]
	if !ok {
		return
	}
	if t.array {
		k = arrayOf(k)
	}
	if prev, seen := c.types[name]; seen && prev != k {
		k = kAny
	}
	c.types[name] = k
}

// collectDecls records every declared variable before checking, since SEL
// variables are visible from their declaration to the end of the program.
func (c *checker) collectDecls(s stmt) {
	walkStmts(s, func(s stmt) {
		switch s := s.(type) {
		case *declStmt:
			for _, d := range s.vars {
				c.declare(d.name, s.typ)
			}
		case *forEachStmt:
			c.declare(s.name, s.typ)
		}
	}, func(x expr) {
		if a, ok := x.(*assignExpr); ok {
			if n, ok := a.target.(*nameExpr); ok {
				c.assigned[n.name] = true
			}
		}
	})
}

func (c *checker) checkType(t typeRef) {
	k, ok := typeKinds[t.name]
	if !ok {
		c.fail(t.p, "unknown type %s", t.name)
		return
	}
	if t.array && arrayOf(k) == kAny {
		c.fail(t.p, "arrays of %s are not supported; SEL arrays hold long, double, boolean or String", t.name)
	}
}

func (c *checker) stmt(s stmt) {
	walkStmts(s, func(s stmt) {
		switch s := s.(type) {
		case *declStmt:
			c.checkType(s.typ)
		case *forEachStmt:
			c.checkType(s.typ)
		}
	}, c.expr)
}

func (c *checker) local(name string) bool {
	_, typed := c.types[name]
	return typed || c.assigned[name]
}

func (c *checker) expr(x expr) {
	switch e := x.(type) {
	case *nameExpr:
		if forbiddenClasses[e.name] && !c.local(e.name) {
			c.fail(e.p, "%s is not available in SEL", e.name)
		}
	case *newObjExpr:
		if !constructible[e.class] {
			c.fail(e.p, "class %s is not supported in SEL", e.class)
		}
	case *newArrayExpr:
		if k, ok := typeKinds[e.elem]; !ok || arrayOf(k) == kAny {
			c.fail(e.p, "arrays of %s are not supported; SEL arrays hold long, double, boolean or String", e.elem)
		}
	case *postfixExpr:
		c.postfix(e)
	}
}

func (c *checker) postfix(e *postfixExpr) {
	first := e.suffixes[0]
	switch b := e.base.(type) {
	case *nameExpr:
		if c.local(b.name) {
			if k := c.types[b.name]; k != kAny && first.kind == sufCall {
				if methods, ok := instanceMethods[k]; ok && !methods[first.name] {
					c.fail(first.p, "%s has no method %s", k, first.name)
				}
			}
			return
		}
		if javaPackages[b.name] && first.kind == sufField {
			c.fail(b.p, "qualified names such as %s.%s are not supported in SEL", b.name, first.name)
			return
		}
		if !classNames[b.name] {
			return
		}
		switch first.kind {
		case sufCall:
			if b.name == "Math" && first.name == "random" {
				c.fail(first.p, "Math.random is not available: SEL evaluation must be deterministic")
				return
			}
			if !staticMethods[b.name][first.name] {
				c.fail(first.p, "%s has no method %s", b.name, first.name)
			}
		case sufField:
			if _, ok := staticField(b.name, first.name); !ok {
				c.fail(first.p, "%s has no field %s", b.name, first.name)
			}
		case sufIndex:
			c.fail(first.p, "%s cannot be indexed", b.name)
		}
	case *litExpr:
		if _, ok := b.val.(string); ok && first.kind == sufCall && !instanceMethods[kString][first.name] {
			c.fail(first.p, "String has no method %s", first.name)
		}
	}
}

// walkStmts visits every statement and expression under s.
func walkStmts(s stmt, onStmt func(stmt), onExpr func(expr)) {
	onStmt(s)
	we := func(x expr) {
		if x != nil {
			walkExpr(x, onExpr)
		}
	}
	switch s := s.(type) {
	case *exprStmt:
		we(s.x)
	case *declStmt:
		for _, d := range s.vars {
			we(d.init)
		}
	case *blockStmt:
		for _, c := range s.list {
			walkStmts(c, onStmt, onExpr)
		}
	case *ifStmt:
		for i := range s.conds {
			we(s.conds[i])
			walkStmts(s.thens[i], onStmt, onExpr)
		}
		if s.els != nil {
			walkStmts(s.els, onStmt, onExpr)
		}
	case *whileStmt:
		we(s.cond)
		walkStmts(s.body, onStmt, onExpr)
	case *forStmt:
		for _, c := range s.init {
			walkStmts(c, onStmt, onExpr)
		}
		we(s.cond)
		for _, u := range s.update {
			we(u)
		}
		walkStmts(s.body, onStmt, onExpr)
	case *forEachStmt:
		we(s.x)
		walkStmts(s.body, onStmt, onExpr)
	case *returnStmt:
		we(s.x)
	case *throwStmt:
		we(s.x)
	}
}

func walkExpr(x expr, f func(expr)) {
	f(x)
	switch e := x.(type) {
	case *chainExpr:
		for _, o := range e.operands {
			walkExpr(o, f)
		}
	case *unaryExpr:
		walkExpr(e.x, f)
	case *castExpr:
		walkExpr(e.x, f)
	case *condExpr:
		walkExpr(e.cond, f)
		walkExpr(e.yes, f)
		walkExpr(e.no, f)
	case *assignExpr:
		walkExpr(e.target, f)
		walkExpr(e.val, f)
	case *incDecExpr:
		walkExpr(e.target, f)
	case *postfixExpr:
		walkExpr(e.base, f)
		for _, s := range e.suffixes {
			for _, a := range s.args {
				walkExpr(a, f)
			}
			if s.idx != nil {
				walkExpr(s.idx, f)
			}
		}
	case *newObjExpr:
		for _, a := range e.args {
			walkExpr(a, f)
		}
	case *newArrayExpr:
		if e.size != nil {
			walkExpr(e.size, f)
		}
		for _, a := range e.init {
			walkExpr(a, f)
		}
	}
}
