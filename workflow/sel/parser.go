package sel

import (
	"fmt"
	"math"
	"unicode/utf8"
)

const (
	// MaxSourceLen is the longest source, in bytes, that Parse accepts.
	// Maestro's own limit is 10,000 characters, so every definition that
	// Maestro accepts fits.
	MaxSourceLen = 64 << 10

	// MaxNesting bounds how deeply blocks, parentheses, arguments and
	// unary operators may nest in the source. It keeps the parser's and
	// evaluator's recursion shallow whatever the input.
	MaxNesting = 256
)

type parser struct {
	toks     []token
	i        int
	depth    int
	maxDepth int
	loops    int // enclosing loops, for break and continue
}

func parseSource(src string) ([]stmt, int, *Error) {
	if len(src) > MaxSourceLen {
		return nil, 0, &Error{Kind: KindSyntax, Line: 1, Col: 1,
			Msg: fmt.Sprintf("expression is %d bytes long, over the limit of %d", len(src), MaxSourceLen)}
	}
	if !utf8.ValidString(src) {
		return nil, 0, invalidUTF8(src)
	}
	toks, err := lex(src)
	if err != nil {
		return nil, 0, err
	}
	p := &parser{toks: toks}
	list, err := p.program()
	if err != nil {
		return nil, 0, err
	}
	return list, p.maxDepth, nil
}

func invalidUTF8(src string) *Error {
	line, col := 1, 1
	for i := 0; i < len(src); {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == utf8.RuneError && size <= 1 {
			break
		}
		if r == '\n' {
			line++
			col = 1
		} else {
			col++
		}
		i += size
	}
	return &Error{Kind: KindSyntax, Line: line, Col: col, Msg: "expression is not valid UTF-8"}
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) peekAt(k int) token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) advance() token {
	t := p.toks[p.i]
	if t.kind != tEOF {
		p.i++
	}
	return t
}

func (p *parser) isOp(s string) bool {
	t := p.toks[p.i]
	return t.kind == tOp && t.text == s
}

func (p *parser) isKw(s string) bool {
	t := p.toks[p.i]
	return t.kind == tKeyword && t.text == s
}

func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of input"
	case tString:
		return "string literal"
	case tInt, tFloat:
		return "number " + t.text
	}
	return "'" + t.text + "'"
}

func (p *parser) errHere(format string, args ...any) *Error {
	return errAt(KindSyntax, p.peek().p, format, args...)
}

func (p *parser) expectOp(s string) (token, *Error) {
	if !p.isOp(s) {
		return token{}, p.errHere("expected '%s', found %s", s, describe(p.peek()))
	}
	return p.advance(), nil
}

// expectSemi accepts the end of input in place of a final ';', as Maestro
// appends a missing one before parsing.
func (p *parser) expectSemi() *Error {
	if p.isOp(";") {
		p.advance()
		return nil
	}
	if p.peek().kind == tEOF {
		return nil
	}
	return p.errHere("expected ';', found %s", describe(p.peek()))
}

func (p *parser) enter() *Error {
	p.depth++
	if p.depth > p.maxDepth {
		p.maxDepth = p.depth
	}
	if p.depth > MaxNesting {
		return p.errHere("expression is nested more than %d levels deep", MaxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

func (p *parser) program() ([]stmt, *Error) {
	for p.isKw("import") {
		if err := p.importDecl(); err != nil {
			return nil, err
		}
	}
	var list []stmt
	for p.peek().kind != tEOF {
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		list = append(list, s)
	}
	return list, nil
}

// Imports are accepted and ignored, as in Maestro: the classes SEL knows
// are always in scope and no others can be reached.
func (p *parser) importDecl() *Error {
	p.advance()
	if p.isKw("static") {
		p.advance()
	}
	if p.peek().kind != tIdent {
		return p.errHere("expected a name after import, found %s", describe(p.peek()))
	}
	p.advance()
	for p.isOp(".") {
		p.advance()
		if p.isOp("*") {
			p.advance()
			break
		}
		if p.peek().kind != tIdent {
			return p.errHere("expected a name, found %s", describe(p.peek()))
		}
		p.advance()
	}
	_, err := p.expectOp(";")
	return err
}

var primitiveTypes = map[string]bool{
	"boolean": true, "int": true, "long": true, "float": true, "double": true,
	"byte": true, "short": true, "char": true,
}

var unsupportedStatements = map[string]bool{
	"do": true, "switch": true, "try": true, "catch": true, "finally": true,
	"synchronized": true, "class": true, "interface": true, "goto": true,
	"case": true, "default": true, "package": true, "public": true,
	"private": true, "protected": true, "static": true, "final": true,
	"abstract": true, "native": true, "transient": true, "volatile": true,
	"const": true, "void": true, "enum": true, "assert": true,
}

func (p *parser) statement() (stmt, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "{":
			return p.block()
		case ";":
			p.advance()
			return &emptyStmt{p: t.p}, nil
		}
	}
	if t.kind == tKeyword {
		switch t.text {
		case "if":
			return p.ifStatement()
		case "while":
			return p.whileStatement()
		case "for":
			return p.forStatement()
		case "break", "continue":
			if p.loops == 0 {
				return nil, errAt(KindSyntax, t.p, "%s outside of a loop", t.text)
			}
			p.advance()
			if t.text == "break" {
				return &breakStmt{p: t.p}, p.expectSemi()
			}
			return &continueStmt{p: t.p}, p.expectSemi()
		case "return":
			p.advance()
			if p.isOp(";") || p.peek().kind == tEOF {
				return nil, errAt(KindSyntax, t.p, "return needs a value: an expression must produce one")
			}
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			return &returnStmt{p: t.p, x: x}, p.expectSemi()
		case "throw":
			p.advance()
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			return &throwStmt{p: t.p, x: x}, p.expectSemi()
		}
		if unsupportedStatements[t.text] {
			return nil, errAt(KindSyntax, t.p, "'%s' is not supported in SEL", t.text)
		}
	}
	if p.isDeclStart() {
		d, err := p.declaration()
		if err != nil {
			return nil, err
		}
		return d, p.expectSemi()
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &exprStmt{p: t.p, x: x}, p.expectSemi()
}

func (p *parser) block() (stmt, *Error) {
	open := p.advance()
	b := &blockStmt{p: open.p}
	for !p.isOp("}") {
		if p.peek().kind == tEOF {
			return nil, p.errHere("expected '}' to close the block opened at %d:%d, found end of input", open.p.line, open.p.col)
		}
		s, err := p.statement()
		if err != nil {
			return nil, err
		}
		b.list = append(b.list, s)
	}
	p.advance()
	return b, nil
}

func (p *parser) parenCond() (expr, *Error) {
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	x, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	return x, nil
}

func (p *parser) ifStatement() (stmt, *Error) {
	s := &ifStmt{p: p.advance().p}
	for {
		cond, err := p.parenCond()
		if err != nil {
			return nil, err
		}
		then, err := p.statement()
		if err != nil {
			return nil, err
		}
		s.conds = append(s.conds, cond)
		s.thens = append(s.thens, then)
		if !p.isKw("else") {
			return s, nil
		}
		p.advance()
		if p.isKw("if") {
			p.advance()
			continue
		}
		els, err := p.statement()
		if err != nil {
			return nil, err
		}
		s.els = els
		return s, nil
	}
}

func (p *parser) whileStatement() (stmt, *Error) {
	s := &whileStmt{p: p.advance().p}
	cond, err := p.parenCond()
	if err != nil {
		return nil, err
	}
	s.cond = cond
	if s.body, err = p.loopBody(); err != nil {
		return nil, err
	}
	return s, nil
}

func (p *parser) loopBody() (stmt, *Error) {
	p.loops++
	defer func() { p.loops-- }()
	return p.statement()
}

func (p *parser) forStatement() (stmt, *Error) {
	forTok := p.advance()
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	var init []stmt
	if p.isDeclStart() {
		typ, err := p.typeRef()
		if err != nil {
			return nil, err
		}
		nameTok := p.advance()
		if p.isOp(":") {
			p.advance()
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			body, err := p.loopBody()
			if err != nil {
				return nil, err
			}
			return &forEachStmt{p: forTok.p, typ: typ, name: nameTok.text, x: x, body: body}, nil
		}
		d, err := p.declRest(typ, nameTok)
		if err != nil {
			return nil, err
		}
		init = append(init, d)
	} else if !p.isOp(";") {
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			init = append(init, &exprStmt{p: x.at(), x: x})
			if !p.isOp(",") {
				break
			}
			p.advance()
		}
	}
	if _, err := p.expectOp(";"); err != nil {
		return nil, err
	}
	s := &forStmt{p: forTok.p, init: init}
	if !p.isOp(";") {
		cond, err := p.expr()
		if err != nil {
			return nil, err
		}
		s.cond = cond
	}
	if _, err := p.expectOp(";"); err != nil {
		return nil, err
	}
	if !p.isOp(")") {
		for {
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			s.update = append(s.update, x)
			if !p.isOp(",") {
				break
			}
			p.advance()
		}
	}
	if _, err := p.expectOp(")"); err != nil {
		return nil, err
	}
	body, err := p.loopBody()
	if err != nil {
		return nil, err
	}
	s.body = body
	return s, nil
}

// isDeclStart reports whether a local variable declaration starts here:
// a type (primitive or class name, optional generic arguments, optional
// []) followed by a name.
func (p *parser) isDeclStart() bool {
	save := p.i
	defer func() { p.i = save }()
	if !p.skipType() {
		return false
	}
	return p.peek().kind == tIdent
}

func (p *parser) skipType() bool {
	t := p.peek()
	switch {
	case t.kind == tKeyword && primitiveTypes[t.text]:
		p.advance()
	case t.kind == tIdent:
		p.advance()
		if p.isOp("<") && !p.skipTypeArgs() {
			return false
		}
	default:
		return false
	}
	for p.isOp("[") && p.peekAt(1).kind == tOp && p.peekAt(1).text == "]" {
		p.advance()
		p.advance()
	}
	return true
}

// skipTypeArgs skips a generic argument list such as <String, List<Long>>.
// Generic arguments carry no meaning in SEL: every map is keyed by strings
// and every list holds any value.
func (p *parser) skipTypeArgs() bool {
	open := 0
	for {
		t := p.peek()
		if t.kind == tEOF {
			return false
		}
		switch {
		case t.kind == tOp && t.text == "<":
			open++
		case t.kind == tOp && t.text == ">":
			open--
		case t.kind == tOp && t.text == ">>":
			open -= 2
		case t.kind == tOp && t.text == ">>>":
			open -= 3
		case t.kind == tOp && (t.text == "," || t.text == "." || t.text == "?" || t.text == "[" || t.text == "]"):
		case t.kind == tIdent:
		case t.kind == tKeyword && (t.text == "extends" || t.text == "super" || primitiveTypes[t.text]):
		default:
			return false
		}
		p.advance()
		if open < 0 {
			return false
		}
		if open == 0 {
			return true
		}
	}
}

func (p *parser) typeRef() (typeRef, *Error) {
	t := p.peek()
	tr := typeRef{p: t.p, name: t.text}
	switch {
	case t.kind == tKeyword && primitiveTypes[t.text]:
		if t.text == "byte" || t.text == "short" || t.text == "char" {
			return tr, errAt(KindSyntax, t.p, "type %s is not supported in SEL", t.text)
		}
		p.advance()
	case t.kind == tIdent:
		p.advance()
		if p.isOp("<") && !p.skipTypeArgs() {
			return tr, p.errHere("malformed generic type arguments")
		}
	default:
		return tr, p.errHere("expected a type, found %s", describe(t))
	}
	if p.isOp("[") {
		p.advance()
		if _, err := p.expectOp("]"); err != nil {
			return tr, err
		}
		tr.array = true
		if p.isOp("[") {
			return tr, p.errHere("multi-dimensional arrays are not supported in SEL")
		}
	}
	return tr, nil
}

func (p *parser) declaration() (stmt, *Error) {
	typ, err := p.typeRef()
	if err != nil {
		return nil, err
	}
	if p.peek().kind != tIdent {
		return nil, p.errHere("expected a variable name, found %s", describe(p.peek()))
	}
	return p.declRest(typ, p.advance())
}

func (p *parser) declRest(typ typeRef, first token) (stmt, *Error) {
	d := &declStmt{p: typ.p, typ: typ}
	nameTok := first
	for {
		dc := declarator{p: nameTok.p, name: nameTok.text}
		if p.isOp("[") {
			return nil, p.errHere("write the array type before the name, as in %s[] %s", typ.name, nameTok.text)
		}
		if p.isOp("=") {
			p.advance()
			if typ.array && p.isOp("{") {
				open := p.peek()
				elems, err := p.arrayInit()
				if err != nil {
					return nil, err
				}
				dc.init = &newArrayExpr{p: open.p, elem: typ.name, init: elems, hasInit: true}
			} else {
				x, err := p.expr()
				if err != nil {
					return nil, err
				}
				dc.init = x
			}
		}
		d.vars = append(d.vars, dc)
		if !p.isOp(",") {
			return d, nil
		}
		p.advance()
		if p.peek().kind != tIdent {
			return nil, p.errHere("expected a variable name, found %s", describe(p.peek()))
		}
		nameTok = p.advance()
	}
}

// Expressions.

func (p *parser) expr() (expr, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	lhs, err := p.ternary()
	if err != nil {
		return nil, err
	}
	t := p.peek()
	if t.kind != tOp {
		return lhs, nil
	}
	switch t.text {
	case "=", "+=", "-=", "*=", "/=", "%=":
	case "&=", "|=", "^=", "<<=", ">>=", ">>>=":
		return nil, errAt(KindSyntax, t.p, "operator %s is not supported in SEL", t.text)
	default:
		return lhs, nil
	}
	if !isAssignable(lhs) {
		return nil, errAt(KindSyntax, t.p, "the left side of %s must be a variable or an array element", t.text)
	}
	p.advance()
	rhs, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &assignExpr{p: t.p, op: t.text, target: lhs, val: rhs}, nil
}

func isAssignable(x expr) bool {
	switch e := x.(type) {
	case *nameExpr:
		return true
	case *postfixExpr:
		return e.suffixes[len(e.suffixes)-1].kind == sufIndex
	}
	return false
}

func (p *parser) ternary() (expr, *Error) {
	cond, err := p.binary(0)
	if err != nil {
		return nil, err
	}
	if !p.isOp("?") {
		return cond, nil
	}
	q := p.advance()
	yes, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp(":"); err != nil {
		return nil, err
	}
	no, err := p.expr()
	if err != nil {
		return nil, err
	}
	return &condExpr{p: q.p, cond: cond, yes: yes, no: no}, nil
}

var binaryLevels = [][]string{
	{"||"},
	{"&&"},
	{"==", "!="},
	{"<", ">", "<=", ">="},
	{"+", "-"},
	{"*", "/", "%"},
}

var unsupportedBinary = map[string]bool{
	"&": true, "|": true, "^": true, "<<": true, ">>": true, ">>>": true,
	"->": true, "::": true,
}

func (p *parser) levelOp(level int) (string, bool) {
	t := p.peek()
	if t.kind != tOp {
		return "", false
	}
	for _, op := range binaryLevels[level] {
		if t.text == op {
			return op, true
		}
	}
	return "", false
}

func (p *parser) binary(level int) (expr, *Error) {
	if level == len(binaryLevels) {
		x, err := p.unary()
		if err != nil {
			return nil, err
		}
		if t := p.peek(); t.kind == tOp && unsupportedBinary[t.text] {
			return nil, errAt(KindSyntax, t.p, "operator %s is not supported in SEL", t.text)
		}
		if p.isKw("instanceof") {
			return nil, p.errHere("instanceof is not supported in SEL")
		}
		return x, nil
	}
	first, err := p.binary(level + 1)
	if err != nil {
		return nil, err
	}
	op, ok := p.levelOp(level)
	if !ok {
		return first, nil
	}
	c := &chainExpr{p: p.peek().p, operands: []expr{first}}
	for ok {
		c.opPos = append(c.opPos, p.advance().p)
		c.ops = append(c.ops, op)
		next, err := p.binary(level + 1)
		if err != nil {
			return nil, err
		}
		c.operands = append(c.operands, next)
		op, ok = p.levelOp(level)
	}
	return c, nil
}

var castTypes = map[string]bool{"int": true, "long": true, "float": true, "double": true, "boolean": true}

func (p *parser) unary() (expr, *Error) {
	t := p.peek()
	if t.kind == tOp {
		switch t.text {
		case "-", "+", "!":
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer p.leave()
			p.advance()
			if n := p.peek(); t.text == "-" && n.kind == tInt && n.big {
				p.advance()
				return p.postfix(&litExpr{p: t.p, val: int64(math.MinInt64)})
			}
			x, err := p.unary()
			if err != nil {
				return nil, err
			}
			return &unaryExpr{p: t.p, op: t.text, x: x}, nil
		case "++", "--":
			if err := p.enter(); err != nil {
				return nil, err
			}
			defer p.leave()
			p.advance()
			x, err := p.unary()
			if err != nil {
				return nil, err
			}
			if !isAssignable(x) {
				return nil, errAt(KindSyntax, t.p, "%s needs a variable or an array element", t.text)
			}
			d := int64(1)
			if t.text == "--" {
				d = -1
			}
			return &incDecExpr{p: t.p, target: x, delta: d, prefix: true}, nil
		case "~":
			return nil, errAt(KindSyntax, t.p, "operator ~ is not supported in SEL")
		case "(":
			if n := p.peekAt(1); n.kind == tKeyword && castTypes[n.text] {
				if c := p.peekAt(2); c.kind == tOp && c.text == ")" {
					if err := p.enter(); err != nil {
						return nil, err
					}
					defer p.leave()
					p.advance()
					p.advance()
					p.advance()
					x, err := p.unary()
					if err != nil {
						return nil, err
					}
					return &castExpr{p: t.p, to: n.text, x: x}, nil
				}
			}
		}
	}
	base, err := p.primary()
	if err != nil {
		return nil, err
	}
	return p.postfix(base)
}

func (p *parser) postfix(base expr) (expr, *Error) {
	var sufs []suffix
	for {
		t := p.peek()
		if t.kind != tOp {
			break
		}
		if t.text == "." {
			p.advance()
			n := p.peek()
			if n.kind != tIdent {
				return nil, p.errHere("expected a method or field name after '.', found %s", describe(n))
			}
			p.advance()
			if p.isOp("(") {
				args, err := p.arguments()
				if err != nil {
					return nil, err
				}
				sufs = append(sufs, suffix{kind: sufCall, p: n.p, name: n.text, args: args})
			} else {
				sufs = append(sufs, suffix{kind: sufField, p: n.p, name: n.text})
			}
			continue
		}
		if t.text == "[" {
			p.advance()
			idx, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp("]"); err != nil {
				return nil, err
			}
			sufs = append(sufs, suffix{kind: sufIndex, p: t.p, idx: idx})
			continue
		}
		if t.text == "++" || t.text == "--" {
			var target expr = base
			if len(sufs) > 0 {
				target = &postfixExpr{base: base, suffixes: sufs}
			}
			if !isAssignable(target) {
				return nil, errAt(KindSyntax, t.p, "%s needs a variable or an array element", t.text)
			}
			p.advance()
			d := int64(1)
			if t.text == "--" {
				d = -1
			}
			return &incDecExpr{p: t.p, target: target, delta: d}, nil
		}
		break
	}
	if len(sufs) == 0 {
		return base, nil
	}
	return &postfixExpr{base: base, suffixes: sufs}, nil
}

func (p *parser) arguments() ([]expr, *Error) {
	if _, err := p.expectOp("("); err != nil {
		return nil, err
	}
	var args []expr
	if p.isOp(")") {
		p.advance()
		return args, nil
	}
	for {
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		args = append(args, x)
		if p.isOp(",") {
			p.advance()
			continue
		}
		if _, err := p.expectOp(")"); err != nil {
			return nil, err
		}
		return args, nil
	}
}

func (p *parser) primary() (expr, *Error) {
	t := p.peek()
	switch t.kind {
	case tInt:
		p.advance()
		if t.big {
			return nil, errAt(KindSyntax, t.p, "integer literal %s is out of range for a long", t.text)
		}
		return &litExpr{p: t.p, val: t.num}, nil
	case tFloat:
		p.advance()
		return &litExpr{p: t.p, val: t.flt}, nil
	case tString:
		p.advance()
		return &litExpr{p: t.p, val: t.str}, nil
	case tIdent:
		p.advance()
		if p.isOp("(") {
			return nil, errAt(KindSyntax, t.p, "%s(...) is not a known call: SEL has no functions of its own, only methods such as Math.max(...)", t.text)
		}
		return &nameExpr{p: t.p, name: t.text}, nil
	case tKeyword:
		switch t.text {
		case "true", "false":
			p.advance()
			return &litExpr{p: t.p, val: t.text == "true"}, nil
		case "null":
			p.advance()
			return &litExpr{p: t.p, val: nil}, nil
		case "new":
			return p.newExpr()
		case "this", "super":
			return nil, errAt(KindSyntax, t.p, "'%s' is not supported in SEL", t.text)
		}
	case tOp:
		if t.text == "(" {
			p.advance()
			x, err := p.expr()
			if err != nil {
				return nil, err
			}
			if _, err := p.expectOp(")"); err != nil {
				return nil, err
			}
			return x, nil
		}
	}
	return nil, p.errHere("expected an expression, found %s", describe(t))
}

func (p *parser) newExpr() (expr, *Error) {
	newTok := p.advance()
	t := p.peek()
	switch {
	case t.kind == tKeyword && primitiveTypes[t.text]:
		if t.text == "byte" || t.text == "short" || t.text == "char" {
			return nil, errAt(KindSyntax, t.p, "type %s is not supported in SEL", t.text)
		}
		p.advance()
		if !p.isOp("[") {
			return nil, p.errHere("expected '[' after new %s", t.text)
		}
		return p.newArray(newTok, t.text)
	case t.kind == tIdent:
		p.advance()
		if p.isOp(".") {
			return nil, p.errHere("qualified class names are not supported in SEL; write just the class name")
		}
		if p.isOp("<") && !p.skipTypeArgs() {
			return nil, p.errHere("malformed generic type arguments")
		}
		if p.isOp("[") {
			return p.newArray(newTok, t.text)
		}
		if !p.isOp("(") {
			return nil, p.errHere("expected '(' or '[' after new %s, found %s", t.text, describe(p.peek()))
		}
		args, err := p.arguments()
		if err != nil {
			return nil, err
		}
		return &newObjExpr{p: newTok.p, class: t.text, args: args}, nil
	}
	return nil, p.errHere("expected a class name after new, found %s", describe(t))
}

func (p *parser) newArray(newTok token, elem string) (expr, *Error) {
	p.advance() // [
	a := &newArrayExpr{p: newTok.p, elem: elem}
	if p.isOp("]") {
		p.advance()
		if p.isOp("[") {
			return nil, p.errHere("multi-dimensional arrays are not supported in SEL")
		}
		if !p.isOp("{") {
			return nil, p.errHere("expected an array initializer '{...}' or a size, found %s", describe(p.peek()))
		}
		elems, err := p.arrayInit()
		if err != nil {
			return nil, err
		}
		a.init = elems
		a.hasInit = true
		return a, nil
	}
	size, err := p.expr()
	if err != nil {
		return nil, err
	}
	if _, err := p.expectOp("]"); err != nil {
		return nil, err
	}
	if p.isOp("[") {
		return nil, p.errHere("multi-dimensional arrays are not supported in SEL")
	}
	a.size = size
	return a, nil
}

func (p *parser) arrayInit() ([]expr, *Error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	p.advance() // {
	var elems []expr
	for !p.isOp("}") {
		if p.isOp("{") {
			return nil, p.errHere("multi-dimensional arrays are not supported in SEL")
		}
		x, err := p.expr()
		if err != nil {
			return nil, err
		}
		elems = append(elems, x)
		if p.isOp(",") {
			p.advance()
			continue
		}
		if !p.isOp("}") {
			return nil, p.errHere("expected ',' or '}' in the array initializer, found %s", describe(p.peek()))
		}
	}
	p.advance()
	return elems, nil
}
