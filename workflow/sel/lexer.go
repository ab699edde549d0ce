package sel

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

type pos struct{ line, col int32 }

type tokKind uint8

const (
	tEOF tokKind = iota
	tIdent
	tKeyword
	tInt
	tFloat
	tString
	tOp
)

type token struct {
	kind tokKind
	text string // identifier, keyword, operator, or the raw number text
	str  string // decoded value of a string literal
	num  int64  // value of an integer literal that fits in a long
	big  bool   // integer literal is exactly 2^63 (only valid after unary minus)
	flt  float64
	p    pos
}

// Java's reserved words. Using one as a name is a syntax error, as it is in
// Maestro, even when SEL gives it no meaning.
var keywords = map[string]bool{
	"abstract": true, "boolean": true, "break": true, "byte": true, "case": true,
	"catch": true, "char": true, "class": true, "const": true, "continue": true,
	"default": true, "do": true, "double": true, "else": true, "extends": true,
	"false": true, "final": true, "finally": true, "float": true, "for": true,
	"goto": true, "if": true, "implements": true, "import": true, "instanceof": true,
	"int": true, "interface": true, "long": true, "native": true, "new": true,
	"null": true, "package": true, "private": true, "protected": true, "public": true,
	"return": true, "short": true, "static": true, "super": true, "switch": true,
	"synchronized": true, "this": true, "throw": true, "throws": true,
	"transient": true, "true": true, "try": true, "void": true, "volatile": true,
	"while": true,
}

// Longest first so that the scanner can take the first prefix that matches.
var operators = []string{
	">>>=", "<<=", ">>=", ">>>",
	"==", "<=", ">=", "!=", "||", "&&", "++", "--", "+=", "-=", "*=", "/=",
	"&=", "|=", "^=", "%=", "<<", ">>", "->", "::",
	"(", ")", "{", "}", "[", "]", ";", ",", ".", "=", ">", "<", "!", "~", "?",
	":", "+", "-", "*", "/", "&", "|", "^", "%", "@",
}

type lexer struct {
	src  string
	i    int
	line int32
	col  int32
}

func lex(src string) ([]token, *Error) {
	lx := &lexer{src: src, line: 1, col: 1}
	// A byte order mark is not part of the program.
	lx.i = len(src) - len(strings.TrimPrefix(src, "\ufeff"))
	var toks []token
	for {
		t, err := lx.next()
		if err != nil {
			return nil, err
		}
		toks = append(toks, t)
		if t.kind == tEOF {
			return toks, nil
		}
	}
}

func (lx *lexer) pos() pos { return pos{lx.line, lx.col} }

func (lx *lexer) peekByte(off int) byte {
	if lx.i+off < len(lx.src) {
		return lx.src[lx.i+off]
	}
	return 0
}

// advance consumes one character, keeping line and column in step.
func (lx *lexer) advance() rune {
	r, size := utf8.DecodeRuneInString(lx.src[lx.i:])
	lx.i += size
	if r == '\n' {
		lx.line++
		lx.col = 1
	} else {
		lx.col++
	}
	return r
}

func (lx *lexer) skipSpaceAndComments() *Error {
	for lx.i < len(lx.src) {
		c := lx.src[lx.i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			lx.advance()
		case c == '/' && lx.peekByte(1) == '/':
			for lx.i < len(lx.src) && lx.src[lx.i] != '\n' && lx.src[lx.i] != '\r' {
				lx.advance()
			}
		case c == '/' && lx.peekByte(1) == '*':
			start := lx.pos()
			lx.advance()
			lx.advance()
			for {
				if lx.i >= len(lx.src) {
					return errAt(KindSyntax, start, "unterminated comment")
				}
				if lx.src[lx.i] == '*' && lx.peekByte(1) == '/' {
					lx.advance()
					lx.advance()
					break
				}
				lx.advance()
			}
		default:
			return nil
		}
	}
	return nil
}

func isIdentStart(r rune) bool {
	return r == '$' || r == '_' || unicode.IsLetter(r)
}

func isIdentPart(r rune) bool {
	return isIdentStart(r) || unicode.IsDigit(r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func (lx *lexer) next() (token, *Error) {
	if err := lx.skipSpaceAndComments(); err != nil {
		return token{}, err
	}
	p := lx.pos()
	if lx.i >= len(lx.src) {
		return token{kind: tEOF, p: p}, nil
	}
	c := lx.src[lx.i]
	r, _ := utf8.DecodeRuneInString(lx.src[lx.i:])
	switch {
	case isIdentStart(r):
		start := lx.i
		for lx.i < len(lx.src) {
			r, _ := utf8.DecodeRuneInString(lx.src[lx.i:])
			if !isIdentPart(r) {
				break
			}
			lx.advance()
		}
		word := lx.src[start:lx.i]
		if keywords[word] {
			return token{kind: tKeyword, text: word, p: p}, nil
		}
		return token{kind: tIdent, text: word, p: p}, nil
	case isDigit(c) || (c == '.' && isDigit(lx.peekByte(1))):
		return lx.number(p)
	case c == '"' || c == '\'':
		return lx.stringLit(p)
	}
	for _, op := range operators {
		if strings.HasPrefix(lx.src[lx.i:], op) {
			for range len(op) {
				lx.advance()
			}
			return token{kind: tOp, text: op, p: p}, nil
		}
	}
	return token{}, errAt(KindSyntax, p, "unexpected character %q", r)
}

func (lx *lexer) number(p pos) (token, *Error) {
	start := lx.i
	if lx.src[lx.i] == '0' && (lx.peekByte(1) == 'x' || lx.peekByte(1) == 'X') {
		lx.advance()
		lx.advance()
		digStart := lx.i
		for lx.i < len(lx.src) && isHex(lx.src[lx.i]) {
			lx.advance()
		}
		digits := lx.src[digStart:lx.i]
		if c := lx.peekByte(0); c == 'l' || c == 'L' {
			lx.advance()
		}
		if err := lx.checkNumberEnd(p); err != nil {
			return token{}, err
		}
		if digits == "" || len(digits) > 16 {
			return token{}, errAt(KindSyntax, p, "malformed hexadecimal literal %q", lx.src[start:lx.i])
		}
		u, err := strconv.ParseUint(digits, 16, 64)
		if err != nil {
			return token{}, errAt(KindSyntax, p, "malformed hexadecimal literal %q", lx.src[start:lx.i])
		}
		return token{kind: tInt, text: lx.src[start:lx.i], num: int64(u), p: p}, nil
	}
	isFloat := false
	for lx.i < len(lx.src) && isDigit(lx.src[lx.i]) {
		lx.advance()
	}
	if lx.peekByte(0) == '.' && (isDigit(lx.peekByte(1)) || !isIdentStartByte(lx.peekByte(1))) {
		isFloat = true
		lx.advance()
		for lx.i < len(lx.src) && isDigit(lx.src[lx.i]) {
			lx.advance()
		}
	}
	if c := lx.peekByte(0); c == 'e' || c == 'E' {
		isFloat = true
		lx.advance()
		if c := lx.peekByte(0); c == '+' || c == '-' {
			lx.advance()
		}
		if !isDigit(lx.peekByte(0)) {
			return token{}, errAt(KindSyntax, p, "malformed number %q", lx.src[start:lx.i])
		}
		for lx.i < len(lx.src) && isDigit(lx.src[lx.i]) {
			lx.advance()
		}
	}
	body := lx.src[start:lx.i]
	switch lx.peekByte(0) {
	case 'f', 'F', 'd', 'D':
		isFloat = true
		lx.advance()
	case 'l', 'L':
		if !isFloat {
			lx.advance()
			if err := lx.checkNumberEnd(p); err != nil {
				return token{}, err
			}
			return lx.intToken(p, body, lx.src[start:lx.i])
		}
	}
	if err := lx.checkNumberEnd(p); err != nil {
		return token{}, err
	}
	if !isFloat {
		return lx.intToken(p, body, body)
	}
	// Java accepts out-of-range literals at run time the way
	// Double.parseDouble does: too large becomes Infinity, too small 0.
	f, err := strconv.ParseFloat(body, 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
			return token{}, errAt(KindSyntax, p, "malformed number %q", body)
		}
	}
	return token{kind: tFloat, text: lx.src[start:lx.i], flt: f, p: p}, nil
}

// Maestro reads integer literals with Long.parseLong, so a leading zero
// does not make a literal octal; 010 is ten.
func (lx *lexer) intToken(p pos, digits, text string) (token, *Error) {
	n, err := strconv.ParseInt(digits, 10, 64)
	if err != nil {
		if strings.TrimLeft(digits, "0") == "9223372036854775808" {
			return token{kind: tInt, text: text, big: true, p: p}, nil
		}
		return token{}, errAt(KindSyntax, p, "integer literal %s is out of range for a long", text)
	}
	return token{kind: tInt, text: text, num: n, p: p}, nil
}

func (lx *lexer) checkNumberEnd(p pos) *Error {
	if lx.i >= len(lx.src) {
		return nil
	}
	r, _ := utf8.DecodeRuneInString(lx.src[lx.i:])
	if isIdentPart(r) {
		return errAt(KindSyntax, p, "malformed number: unexpected %q after digits", r)
	}
	return nil
}

func isHex(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isIdentStartByte(c byte) bool {
	return c == '$' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80
}

func (lx *lexer) stringLit(p pos) (token, *Error) {
	quote := lx.src[lx.i]
	lx.advance()
	var sb strings.Builder
	var pendingHigh rune // a \uD800-\uDBFF escape waiting for its low half
	flushHigh := func() {
		if pendingHigh != 0 {
			sb.WriteRune(utf8.RuneError)
			pendingHigh = 0
		}
	}
	for {
		if lx.i >= len(lx.src) {
			return token{}, errAt(KindSyntax, p, "unterminated string literal")
		}
		c := lx.src[lx.i]
		if c == quote {
			lx.advance()
			break
		}
		if c == '\n' || c == '\r' {
			return token{}, errAt(KindSyntax, p, "unterminated string literal (line break inside the quotes)")
		}
		if c != '\\' {
			flushHigh()
			start := lx.i
			lx.advance()
			sb.WriteString(lx.src[start:lx.i])
			continue
		}
		escPos := lx.pos()
		lx.advance()
		if lx.i >= len(lx.src) {
			return token{}, errAt(KindSyntax, p, "unterminated string literal")
		}
		e := lx.src[lx.i]
		if e == 'u' {
			for lx.peekByte(0) == 'u' {
				lx.advance()
			}
			if lx.i+4 > len(lx.src) || !isHex(lx.src[lx.i]) || !isHex(lx.src[lx.i+1]) || !isHex(lx.src[lx.i+2]) || !isHex(lx.src[lx.i+3]) {
				return token{}, errAt(KindSyntax, escPos, "invalid unicode escape")
			}
			v, _ := strconv.ParseUint(lx.src[lx.i:lx.i+4], 16, 32)
			for range 4 {
				lx.advance()
			}
			r := rune(v)
			switch {
			case r >= 0xD800 && r <= 0xDBFF:
				flushHigh()
				pendingHigh = r
			case r >= 0xDC00 && r <= 0xDFFF:
				if pendingHigh != 0 {
					sb.WriteRune(0x10000 + (pendingHigh-0xD800)<<10 + (r - 0xDC00))
					pendingHigh = 0
				} else {
					sb.WriteRune(utf8.RuneError)
				}
			default:
				flushHigh()
				sb.WriteRune(r)
			}
			continue
		}
		flushHigh()
		switch e {
		case 'n':
			sb.WriteByte('\n')
		case 't':
			sb.WriteByte('\t')
		case 'b':
			sb.WriteByte('\b')
		case 'r':
			sb.WriteByte('\r')
		case 'f':
			sb.WriteByte('\f')
		case '\\', '\'', '"':
			sb.WriteByte(e)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			// Up to three octal digits, but only values up to \377.
			v := int(e - '0')
			lx.advance()
			maxDigits := 2
			if e > '3' {
				maxDigits = 1
			}
			for range maxDigits {
				d := lx.peekByte(0)
				if d < '0' || d > '7' {
					break
				}
				v = v*8 + int(d-'0')
				lx.advance()
			}
			sb.WriteRune(rune(v))
			continue
		default:
			return token{}, errAt(KindSyntax, escPos, "invalid escape sequence \\%c", e)
		}
		lx.advance()
	}
	flushHigh()
	return token{kind: tString, str: sb.String(), p: p}, nil
}
