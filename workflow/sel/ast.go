package sel

// Expressions. Chains of operators of one precedence level and chains of
// member accesses are kept flat, so that evaluating a long `a + b + c + ...`
// or `x.f().g().h()` loops instead of recursing once per link.

type expr interface{ at() pos }

type litExpr struct {
	p   pos
	val Value // nil, bool, int64, float64 or string
}

type nameExpr struct {
	p    pos
	name string
}

// chainExpr is operands[0] ops[0] operands[1] ops[1] ... evaluated left to
// right; all ops share one precedence level.
type chainExpr struct {
	p        pos
	ops      []string
	opPos    []pos
	operands []expr
}

type unaryExpr struct {
	p  pos
	op string // "-", "+", "!"
	x  expr
}

type castExpr struct {
	p  pos
	to string // "int", "long", "float", "double", "boolean"
	x  expr
}

type condExpr struct {
	p             pos
	cond, yes, no expr
}

type assignExpr struct {
	p      pos
	op     string // "=", "+=", "-=", "*=", "/=", "%="
	target expr   // *nameExpr or *postfixExpr ending in an index
	val    expr
}

type incDecExpr struct {
	p      pos
	target expr
	delta  int64
	prefix bool
}

type suffixKind uint8

const (
	sufField suffixKind = iota
	sufCall
	sufIndex
)

type suffix struct {
	kind suffixKind
	p    pos
	name string // field or method name
	args []expr // call arguments
	idx  expr   // index expression
}

type postfixExpr struct {
	base     expr
	suffixes []suffix
}

type newObjExpr struct {
	p     pos
	class string
	args  []expr
}

type newArrayExpr struct {
	p       pos
	elem    string // element type name as written
	size    expr   // nil when init is used
	init    []expr
	hasInit bool
}

func (e *litExpr) at() pos      { return e.p }
func (e *nameExpr) at() pos     { return e.p }
func (e *chainExpr) at() pos    { return e.p }
func (e *unaryExpr) at() pos    { return e.p }
func (e *castExpr) at() pos     { return e.p }
func (e *condExpr) at() pos     { return e.p }
func (e *assignExpr) at() pos   { return e.p }
func (e *incDecExpr) at() pos   { return e.p }
func (e *postfixExpr) at() pos  { return e.base.at() }
func (e *newObjExpr) at() pos   { return e.p }
func (e *newArrayExpr) at() pos { return e.p }

// Statements.

type stmt interface{ stmtAt() pos }

type typeRef struct {
	p     pos
	name  string // as written, e.g. "int", "String", "DateTime"
	array bool
}

type declarator struct {
	p    pos
	name string
	init expr // nil when there is no initializer
}

type declStmt struct {
	p    pos
	typ  typeRef
	vars []declarator
}

type exprStmt struct {
	p pos
	x expr
}

type blockStmt struct {
	p    pos
	list []stmt
}

// ifStmt holds a whole if / else if / ... / else chain.
type ifStmt struct {
	p     pos
	conds []expr
	thens []stmt
	els   stmt // nil without a final else
}

type whileStmt struct {
	p    pos
	cond expr
	body stmt
}

type forStmt struct {
	p      pos
	init   []stmt // declStmt or exprStmts
	cond   expr   // nil means true
	update []expr
	body   stmt
}

type forEachStmt struct {
	p    pos
	typ  typeRef
	name string
	x    expr
	body stmt
}

type breakStmt struct{ p pos }
type continueStmt struct{ p pos }
type emptyStmt struct{ p pos }

type returnStmt struct {
	p pos
	x expr
}

type throwStmt struct {
	p pos
	x expr
}

func (s *declStmt) stmtAt() pos     { return s.p }
func (s *exprStmt) stmtAt() pos     { return s.p }
func (s *blockStmt) stmtAt() pos    { return s.p }
func (s *ifStmt) stmtAt() pos       { return s.p }
func (s *whileStmt) stmtAt() pos    { return s.p }
func (s *forStmt) stmtAt() pos      { return s.p }
func (s *forEachStmt) stmtAt() pos  { return s.p }
func (s *breakStmt) stmtAt() pos    { return s.p }
func (s *continueStmt) stmtAt() pos { return s.p }
func (s *emptyStmt) stmtAt() pos    { return s.p }
func (s *returnStmt) stmtAt() pos   { return s.p }
func (s *throwStmt) stmtAt() pos    { return s.p }
