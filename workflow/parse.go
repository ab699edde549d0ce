package workflow

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Both input formats are first turned into this tree so that a single decoder
// (decode.go) handles the model, with the same paths, messages and positions
// for JSON and YAML.
type kind uint8

const (
	kNull kind = iota
	kBool
	kNumber
	kString
	kArray
	kObject
	kRaw // already encoded JSON; only built when writing
)

type position struct{ line, col int }

type node struct {
	kind   kind
	text   string // string value, number literal or raw JSON
	b      bool
	items  []*node
	keys   []string
	vals   []*node
	keyPos []position
	pos    position
}

// maxDepth bounds nesting so that hostile input cannot make the recursive
// parsers, validators and writers exhaust memory.
const maxDepth = 512

// maxErrors keeps error lists readable and bounded on garbage input.
const maxErrors = 100

// source is what a parsed Definition remembers about its input.
type source struct {
	pos  map[string]position
	size int
}

// at finds the position of a path, falling back to the closest enclosing
// path that was seen (a missing field is reported at its parent object).
func (s *source) at(path string) position {
	if s == nil {
		return position{}
	}
	for p := path; ; p = parentPath(p) {
		if pos, ok := s.pos[p]; ok {
			return pos
		}
		if p == "" {
			return position{}
		}
	}
}

// parentPath strips the last component from a path built by keyPath and
// indexPath. Quoted keys never contain an unescaped `["`, so the last one
// starts the final component.
func parentPath(p string) string {
	switch {
	case strings.HasSuffix(p, `"]`):
		if i := strings.LastIndex(p, `["`); i >= 0 {
			return p[:i]
		}
	case strings.HasSuffix(p, "]"):
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}

// keyPath appends an object key to a path, quoting keys that are not plain
// identifiers (step ids such as "job.1" would otherwise read as two keys).
func keyPath(base, key string) string {
	if isIdent(key) {
		if base == "" {
			return key
		}
		return base + "." + key
	}
	return base + "[" + strconv.Quote(key) + "]"
}

func indexPath(base string, i int) string {
	return base + "[" + strconv.Itoa(i) + "]"
}

// Parse reads a definition in JSON (first non-space byte '{') or YAML.
// Unknown fields are rejected. On failure the error is an *Errors.
func Parse(data []byte) (*Definition, error) {
	root, perr := parseTree(data)
	if perr != nil {
		return nil, Errors{perr}.asError()
	}
	dc := newDecoder()
	d := dc.definition(root)
	if len(dc.errs) > 0 {
		return nil, dc.errs.asError()
	}
	d.src = &source{pos: dc.pos, size: len(data)}
	return d, nil
}

func parseTree(data []byte) (*node, *Error) {
	trimmed := bytes.TrimLeft(data, " \t\r\n\ufeff")
	if len(trimmed) == 0 {
		return nil, &Error{Msg: "empty definition"}
	}
	if trimmed[0] == '{' {
		return parseJSON(data)
	}
	return parseYAML(data)
}

// ---- JSON ----

type jsonParser struct {
	data []byte
	i    int
	// cursor for posAt: positions are asked for in increasing order while
	// parsing, so walking forward from the last answer keeps it linear.
	curOff, curLine, curCol int
}

func newJSONParser(data []byte) *jsonParser {
	return &jsonParser{data: data, curLine: 1, curCol: 1}
}

// posAt converts a byte offset to a 1-based line and a column counted in
// characters.
func (p *jsonParser) posAt(off int) position {
	if off > len(p.data) {
		off = len(p.data)
	}
	if off < p.curOff {
		p.curOff, p.curLine, p.curCol = 0, 1, 1
	}
	for ; p.curOff < off; p.curOff++ {
		switch c := p.data[p.curOff]; {
		case c == '\n':
			p.curLine++
			p.curCol = 1
		case c < 0x80 || c >= 0xC0: // not a UTF-8 continuation byte
			p.curCol++
		}
	}
	return position{line: p.curLine, col: p.curCol}
}

type jsonError struct {
	off  int
	path string
	msg  string
}

func (e *jsonError) Error() string { return e.msg }

func (p *jsonParser) fail(path, format string, args ...any) error {
	return &jsonError{off: p.i, path: path, msg: fmt.Sprintf(format, args...)}
}

// parseJSON parses one JSON document into a tree with positions.
func parseJSON(data []byte) (*node, *Error) {
	p := newJSONParser(data)
	n, err := p.document()
	if err != nil {
		var je *jsonError
		if errors.As(err, &je) {
			pos := p.posAt(je.off)
			return nil, &Error{Path: je.path, Line: pos.line, Col: pos.col, Msg: je.msg}
		}
		return nil, &Error{Msg: err.Error()}
	}
	return n, nil
}

func (p *jsonParser) document() (*node, error) {
	if bytes.HasPrefix(p.data, []byte("\ufeff")) {
		p.i = 3
	}
	n, err := p.value("", 0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.i < len(p.data) {
		return nil, p.fail("", "unexpected %s after the top-level value", p.describeHere())
	}
	return n, nil
}

func (p *jsonParser) skipWS() {
	for p.i < len(p.data) {
		switch p.data[p.i] {
		case ' ', '\t', '\r', '\n':
			p.i++
		default:
			return
		}
	}
}

func (p *jsonParser) describeHere() string {
	if p.i >= len(p.data) {
		return "end of input"
	}
	r, _ := utf8.DecodeRune(p.data[p.i:])
	return fmt.Sprintf("character %q", r)
}

func (p *jsonParser) value(path string, depth int) (*node, error) {
	p.skipWS()
	if p.i >= len(p.data) {
		return nil, p.fail(path, "unexpected end of input, expected a value")
	}
	if depth > maxDepth {
		return nil, p.fail(path, "nesting deeper than %d levels", maxDepth)
	}
	pos := p.posAt(p.i)
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(path, depth, pos)
	case c == '[':
		return p.array(path, depth, pos)
	case c == '"':
		s, err := p.str(path)
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, text: s, pos: pos}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		t, err := p.number(path)
		if err != nil {
			return nil, err
		}
		return &node{kind: kNumber, text: t, pos: pos}, nil
	case c == 't' && bytes.HasPrefix(p.data[p.i:], []byte("true")):
		p.i += 4
		return &node{kind: kBool, b: true, pos: pos}, nil
	case c == 'f' && bytes.HasPrefix(p.data[p.i:], []byte("false")):
		p.i += 5
		return &node{kind: kBool, pos: pos}, nil
	case c == 'n' && bytes.HasPrefix(p.data[p.i:], []byte("null")):
		p.i += 4
		return &node{kind: kNull, pos: pos}, nil
	default:
		return nil, p.fail(path, "unexpected %s, expected a value", p.describeHere())
	}
}

func (p *jsonParser) object(path string, depth int, pos position) (*node, error) {
	n := &node{kind: kObject, pos: pos}
	p.i++ // {
	p.skipWS()
	if p.i < len(p.data) && p.data[p.i] == '}' {
		p.i++
		return n, nil
	}
	seen := map[string]bool{}
	for {
		p.skipWS()
		if p.i >= len(p.data) || p.data[p.i] != '"' {
			return nil, p.fail(path, "unexpected %s, expected a quoted object key", p.describeHere())
		}
		kpos := p.posAt(p.i)
		koff := p.i
		k, err := p.str(path)
		if err != nil {
			return nil, err
		}
		if seen[k] {
			p.i = koff
			return nil, p.fail(keyPath(path, k), "duplicate key %q", k)
		}
		seen[k] = true
		p.skipWS()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.fail(path, "unexpected %s, expected ':' after object key", p.describeHere())
		}
		p.i++
		v, err := p.value(keyPath(path, k), depth+1)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, v)
		n.keyPos = append(n.keyPos, kpos)
		p.skipWS()
		if p.i >= len(p.data) {
			return nil, p.fail(path, "unexpected end of input, expected ',' or '}'")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return n, nil
		default:
			return nil, p.fail(path, "unexpected %s, expected ',' or '}'", p.describeHere())
		}
	}
}

func (p *jsonParser) array(path string, depth int, pos position) (*node, error) {
	n := &node{kind: kArray, pos: pos}
	p.i++ // [
	p.skipWS()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		v, err := p.value(indexPath(path, len(n.items)), depth+1)
		if err != nil {
			return nil, err
		}
		n.items = append(n.items, v)
		p.skipWS()
		if p.i >= len(p.data) {
			return nil, p.fail(path, "unexpected end of input, expected ',' or ']'")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, nil
		default:
			return nil, p.fail(path, "unexpected %s, expected ',' or ']'", p.describeHere())
		}
	}
}

// str reads a quoted string. Invalid UTF-8 and lone surrogates become U+FFFD,
// as encoding/json does, so that the canonical form can always be re-read.
func (p *jsonParser) str(path string) (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for {
		if p.i >= len(p.data) {
			p.i = start
			return "", p.fail(path, "unterminated string")
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.fail(path, "control character %q in string", rune(c))
		case c == '\\':
			if p.i+1 >= len(p.data) {
				p.i = start
				return "", p.fail(path, "unterminated string")
			}
			e := p.data[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, ok := p.hex4()
				if !ok {
					return "", p.fail(path, "invalid \\u escape in string")
				}
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					save := p.i
					if p.i+1 < len(p.data) && p.data[p.i] == '\\' && p.data[p.i+1] == 'u' {
						p.i += 2
						if x, ok := p.hex4(); ok {
							r2 = x
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
					} else {
						p.i = save
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
			default:
				p.i -= 2
				return "", p.fail(path, "invalid escape %q in string", "\\"+string(rune(e)))
			}
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			p.i++
		default:
			r, size := utf8.DecodeRune(p.data[p.i:])
			b.WriteRune(r) // RuneError for invalid bytes
			p.i += size
		}
	}
}

func (p *jsonParser) hex4() (rune, bool) {
	if p.i+4 > len(p.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.data[p.i:p.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(v), true
}

func (p *jsonParser) number(path string) (string, error) {
	start := p.i
	if p.data[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.data) && p.data[p.i] >= '0' && p.data[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.data) && p.data[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", p.fail(path, "invalid number")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.fail(path, "invalid number")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.fail(path, "invalid number")
		}
	}
	return string(p.data[start:p.i]), nil
}

// ---- YAML ----

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func yamlError(err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Line: line, Msg: m[2]}
	}
	return &Error{Msg: strings.TrimPrefix(msg, "yaml: ")}
}

// parseYAML parses exactly one YAML document into a tree with positions.
func parseYAML(data []byte) (root *node, perr *Error) {
	defer func() {
		// The YAML library has panicked on malformed input in the past; such
		// input is simply invalid.
		if r := recover(); r != nil {
			root, perr = nil, &Error{Msg: fmt.Sprintf("invalid YAML: %v", r)}
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Msg: "empty definition"}
		}
		return nil, yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &Error{Line: extra.Line, Col: extra.Column, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlError(err)
	}
	c := &yamlConv{budget: 16*len(data) + 1024}
	return c.conv(&doc, "", 0)
}

type yamlConv struct {
	budget int // nodes left; aliases could otherwise expand exponentially
}

func ypos(n *yaml.Node) position { return position{line: n.Line, col: n.Column} }

func (c *yamlConv) conv(y *yaml.Node, path string, depth int) (*node, *Error) {
	if depth > maxDepth {
		return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: fmt.Sprintf("nesting deeper than %d levels", maxDepth)}
	}
	c.budget--
	if c.budget < 0 {
		return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: "YAML aliases expand to a document that is too large"}
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, &Error{Msg: "empty definition"}
		}
		return c.conv(y.Content[0], path, depth)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: "unknown YAML alias"}
		}
		return c.conv(y.Alias, path, depth+1)
	case yaml.MappingNode:
		n := &node{kind: kObject, pos: ypos(y)}
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			kn, vn := y.Content[i], y.Content[i+1]
			for kn.Kind == yaml.AliasNode && kn.Alias != nil {
				kn = kn.Alias
			}
			if kn.Kind != yaml.ScalarNode {
				return nil, &Error{Path: path, Line: kn.Line, Col: kn.Column, Msg: "object keys must be plain strings"}
			}
			if kn.ShortTag() == "!!merge" {
				return nil, &Error{Path: path, Line: kn.Line, Col: kn.Column, Msg: "YAML merge keys (<<) are not supported"}
			}
			k := strings.ToValidUTF8(kn.Value, "\uFFFD")
			if seen[k] {
				return nil, &Error{Path: keyPath(path, k), Line: kn.Line, Col: kn.Column, Msg: fmt.Sprintf("duplicate key %q", k)}
			}
			seen[k] = true
			v, err := c.conv(vn, keyPath(path, k), depth+1)
			if err != nil {
				return nil, err
			}
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
			n.keyPos = append(n.keyPos, ypos(kn))
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kArray, pos: ypos(y)}
		for i, it := range y.Content {
			v, err := c.conv(it, indexPath(path, i), depth+1)
			if err != nil {
				return nil, err
			}
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.ScalarNode:
		return c.scalar(y, path)
	}
	return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: "unsupported YAML node"}
}

var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func (c *yamlConv) scalar(y *yaml.Node, path string) (*node, *Error) {
	pos := ypos(y)
	bad := func(what string) (*node, *Error) {
		return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: fmt.Sprintf("invalid %s %q", what, y.Value)}
	}
	switch y.ShortTag() {
	case "!!null":
		return &node{kind: kNull, pos: pos}, nil
	case "!!bool":
		var b bool
		if err := y.Decode(&b); err != nil {
			return bad("boolean")
		}
		return &node{kind: kBool, b: b, pos: pos}, nil
	case "!!int", "!!float":
		if jsonNumberRE.MatchString(y.Value) {
			return &node{kind: kNumber, text: y.Value, pos: pos}, nil
		}
		var v any
		if err := y.Decode(&v); err != nil {
			return bad("number")
		}
		var text string
		switch x := v.(type) {
		case int:
			text = strconv.Itoa(x)
		case int64:
			text = strconv.FormatInt(x, 10)
		case uint64:
			text = strconv.FormatUint(x, 10)
		case float64:
			if math.IsInf(x, 0) || math.IsNaN(x) {
				return nil, &Error{Path: path, Line: y.Line, Col: y.Column, Msg: fmt.Sprintf("number %q is not finite", y.Value)}
			}
			text = strconv.FormatFloat(x, 'g', -1, 64)
		default:
			return bad("number")
		}
		return &node{kind: kNumber, text: text, pos: pos}, nil
	default:
		return &node{kind: kString, text: strings.ToValidUTF8(y.Value, "\uFFFD"), pos: pos}, nil
	}
}

// ---- writing ----

func encodeNode(n *node) []byte {
	var b bytes.Buffer
	writeNode(&b, n)
	return b.Bytes()
}

func writeNode(b *bytes.Buffer, n *node) {
	switch n.kind {
	case kNull:
		b.WriteString("null")
	case kBool:
		if n.b {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case kNumber, kRaw:
		b.WriteString(n.text)
	case kString:
		writeString(b, n.text)
	case kArray:
		b.WriteByte('[')
		for i, it := range n.items {
			if i > 0 {
				b.WriteByte(',')
			}
			writeNode(b, it)
		}
		b.WriteByte(']')
	case kObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			writeNode(b, n.vals[i])
		}
		b.WriteByte('}')
	}
}

// writeString escapes like Jackson does (no HTML escaping), so interpolated
// JSON looks the same as Maestro's; invalid UTF-8 is written as U+FFFD.
func writeString(b *bytes.Buffer, s string) {
	const hexDigits = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c == '\n':
				b.WriteString(`\n`)
			case c == '\r':
				b.WriteString(`\r`)
			case c == '\t':
				b.WriteString(`\t`)
			case c == '\b':
				b.WriteString(`\b`)
			case c == '\f':
				b.WriteString(`\f`)
			case c < 0x20:
				b.WriteString(`\u00`)
				b.WriteByte(hexDigits[c>>4])
				b.WriteByte(hexDigits[c&0xf])
			default:
				b.WriteByte(c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b.WriteString(`\ufffd`)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	b.WriteByte('"')
}

// builders used by the canonical writer and value encoding

func newObject() *node { return &node{kind: kObject} }

// set adds a member unless v is nil.
func (n *node) set(k string, v *node) {
	if v == nil {
		return
	}
	n.keys = append(n.keys, k)
	n.vals = append(n.vals, v)
}

func strNode(s string) *node { return &node{kind: kString, text: s} }

// optStr omits empty strings.
func optStr(s string) *node {
	if s == "" {
		return nil
	}
	return strNode(s)
}

func boolNode(b bool) *node { return &node{kind: kBool, b: b} }

func optBool(b *bool) *node {
	if b == nil {
		return nil
	}
	return boolNode(*b)
}

func intNode(v int64) *node { return &node{kind: kNumber, text: strconv.FormatInt(v, 10)} }

func optInt(v *int64) *node {
	if v == nil {
		return nil
	}
	return intNode(*v)
}

func rawNode(r []byte) *node {
	if len(r) == 0 {
		return nil
	}
	return &node{kind: kRaw, text: string(r)}
}
