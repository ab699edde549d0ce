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

// source is what a parsed Definition remembers about its input: where each
// path the decoder visited starts, so that later validation errors can point
// at a line.
type source struct {
	pos  *posTable
	size int
}

// posTable records positions by path without storing path strings: an entry
// is named by its parent entry and one key or index, so a deep tree costs a
// constant per node rather than the length of its path (long keys nested a
// few hundred levels deep used to cost gigabytes of path strings).
type posTable struct {
	ids  map[posKey]int32
	ents []posEnt // entry 0 is the root, the empty path
}

type posKey struct {
	parent int32
	index  int32 // list index, or -1 for an object member
	key    string
}

// posEnt is kept small, as there is one per visited node: int32 is plenty
// for the line and column of an input of at most a few megabytes.
type posEnt struct {
	line, col int32
	marked    bool // false for an entry that only leads to marked ones
}

func newPosTable() *posTable {
	return &posTable{ids: map[posKey]int32{}, ents: []posEnt{{}}}
}

func clamp32(v int) int32 {
	if v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int32(v)
}

func makeKey(parent int32, key string, index int) (posKey, bool) {
	if index > math.MaxInt32 {
		return posKey{}, false
	}
	if index >= 0 {
		return posKey{parent: parent, index: int32(index)}, true
	}
	return posKey{parent: parent, index: -1, key: key}, true
}

// child finds or adds the entry below parent for key, or for index when it
// is not negative.
func (t *posTable) child(parent int32, key string, index int) int32 {
	k, ok := makeKey(parent, key, index)
	if ok {
		if id, found := t.ids[k]; found {
			return id
		}
	}
	id := int32(len(t.ents))
	t.ents = append(t.ents, posEnt{})
	if ok {
		t.ids[k] = id
	}
	return id
}

func (t *posTable) lookup(parent int32, key string, index int) (int32, bool) {
	k, ok := makeKey(parent, key, index)
	if !ok {
		return 0, false
	}
	id, ok := t.ids[k]
	return id, ok
}

// set records pos for an entry; the first position recorded wins.
func (t *posTable) set(id int32, pos position) {
	if !t.ents[id].marked {
		t.ents[id] = posEnt{line: clamp32(pos.line), col: clamp32(pos.col), marked: true}
	}
}

func (e posEnt) pos() position { return position{line: int(e.line), col: int(e.col)} }

// at finds the position of a path, falling back to the closest enclosing
// path that was seen (a missing field is reported at its parent object).
func (s *source) at(path string) position {
	if s == nil || s.pos == nil {
		return position{}
	}
	// The recorded paths that are prefixes of path, as offsets into it.
	// The candidates below are prefixes too, each one ending where a
	// component starts, so comparing lengths is enough.
	marks := s.pos.prefixes(path)
	j := len(marks) - 1
	for p := path; ; p = parentPath(p) {
		for j >= 0 && marks[j].end > len(p) {
			j--
		}
		if j >= 0 && marks[j].end == len(p) {
			return marks[j].pos
		}
		if p == "" {
			return position{}
		}
	}
}

type posMark struct {
	end int
	pos position
}

// prefixes reads path from the start, component by component, exactly as
// keyPath and indexPath write them, and returns the end offset and position
// of each leading part that names a recorded entry. It stops at the first
// text that keyPath and indexPath would not have written, since no
// recorded path can continue there.
func (t *posTable) prefixes(path string) []posMark {
	var marks []posMark
	id := int32(0)
	if t.ents[0].marked {
		marks = append(marks, posMark{0, t.ents[0].pos()})
	}
	for i := 0; i < len(path); {
		var (
			key   string
			index = -1
			next  int
		)
		switch c := path[i]; {
		case c == '.' || (i == 0 && c != '['):
			start := i
			if c == '.' {
				if i == 0 {
					return marks // keyPath never starts a path with a dot
				}
				start++
			}
			next = start
			for next < len(path) && isIdentByte(path[next]) {
				next++
			}
			key = path[start:next]
			if !isIdent(key) {
				return marks
			}
		case c == '[' && i+1 < len(path) && path[i+1] == '"':
			q, err := strconv.QuotedPrefix(path[i+1:])
			if err != nil {
				return marks
			}
			k, err := strconv.Unquote(q)
			// keyPath quotes only keys that are not identifiers, and
			// always the same way.
			if err != nil || isIdent(k) || strconv.Quote(k) != q {
				return marks
			}
			next = i + 1 + len(q)
			if next >= len(path) || path[next] != ']' {
				return marks
			}
			next++
			key = k
		case c == '[':
			end := strings.IndexByte(path[i:], ']')
			if end < 0 {
				return marks
			}
			digits := path[i+1 : i+end]
			n, err := strconv.Atoi(digits)
			if err != nil || n < 0 || strconv.Itoa(n) != digits {
				return marks
			}
			index, next = n, i+end+1
		default:
			return marks
		}
		var ok bool
		if id, ok = t.lookup(id, key, index); !ok {
			return marks
		}
		if e := t.ents[id]; e.marked {
			marks = append(marks, posMark{next, e.pos()})
		}
		i = next
	}
	return marks
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

func isIdentByte(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isIdent(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isIdentByte(s[i]) {
			return false
		}
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

// pathSeg is one component of a path: an object key, or a list index when
// index is not negative.
type pathSeg struct {
	key   string
	index int
}

// renderPath writes prefix, then segs the way keyPath and indexPath would
// have appended them, then suffix. The parsers and the decoder keep paths as
// components and render one only for an error: a string per value would
// cost the nesting depth times the key length for every value.
func renderPath(prefix string, segs []pathSeg, suffix string) string {
	n := len(prefix) + len(suffix)
	for _, s := range segs {
		n += len(s.key) + 8 // a guess for quotes and indexes; Builder grows if short
	}
	var (
		b       strings.Builder
		scratch []byte
	)
	b.Grow(n)
	b.WriteString(prefix)
	for _, s := range segs {
		switch {
		case s.index >= 0:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case isIdent(s.key):
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.key)
		default:
			scratch = strconv.AppendQuote(scratch[:0], s.key)
			b.WriteByte('[')
			b.Write(scratch)
			b.WriteByte(']')
		}
	}
	b.WriteString(suffix)
	return b.String()
}

// Parse reads a definition in JSON (first non-space byte '{') or YAML.
// Unknown fields are rejected. On failure the error is an *Errors.
func Parse(data []byte) (*Definition, error) {
	root, perr := parseTree(data)
	if perr != nil {
		return nil, Errors{perr}.asError()
	}
	dc := newDecoder()
	dc.pos = newPosTable()
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
	// path of the value being read, rendered only for an error
	path []pathSeg
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

// fail reports a problem at the current offset, in the value being read.
func (p *jsonParser) fail(format string, args ...any) error {
	return &jsonError{off: p.i, path: renderPath("", p.path, ""), msg: fmt.Sprintf(format, args...)}
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
	n, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.skipWS()
	if p.i < len(p.data) {
		return nil, p.fail("unexpected %s after the top-level value", p.describeHere())
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

func (p *jsonParser) value(depth int) (*node, error) {
	p.skipWS()
	if p.i >= len(p.data) {
		return nil, p.fail("unexpected end of input, expected a value")
	}
	if depth > maxDepth {
		return nil, p.fail("nesting deeper than %d levels", maxDepth)
	}
	pos := p.posAt(p.i)
	switch c := p.data[p.i]; {
	case c == '{':
		return p.object(depth, pos)
	case c == '[':
		return p.array(depth, pos)
	case c == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		return &node{kind: kString, text: s, pos: pos}, nil
	case c == '-' || (c >= '0' && c <= '9'):
		t, err := p.number()
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
		return nil, p.fail("unexpected %s, expected a value", p.describeHere())
	}
}

func (p *jsonParser) object(depth int, pos position) (*node, error) {
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
			return nil, p.fail("unexpected %s, expected a quoted object key", p.describeHere())
		}
		kpos := p.posAt(p.i)
		koff := p.i
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if seen[k] {
			p.i = koff
			p.path = append(p.path, pathSeg{key: k, index: -1})
			return nil, p.fail("duplicate key %q", k)
		}
		seen[k] = true
		p.skipWS()
		if p.i >= len(p.data) || p.data[p.i] != ':' {
			return nil, p.fail("unexpected %s, expected ':' after object key", p.describeHere())
		}
		p.i++
		p.path = append(p.path, pathSeg{key: k, index: -1})
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, v)
		n.keyPos = append(n.keyPos, kpos)
		p.skipWS()
		if p.i >= len(p.data) {
			return nil, p.fail("unexpected end of input, expected ',' or '}'")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return n, nil
		default:
			return nil, p.fail("unexpected %s, expected ',' or '}'", p.describeHere())
		}
	}
}

func (p *jsonParser) array(depth int, pos position) (*node, error) {
	n := &node{kind: kArray, pos: pos}
	p.i++ // [
	p.skipWS()
	if p.i < len(p.data) && p.data[p.i] == ']' {
		p.i++
		return n, nil
	}
	for {
		p.path = append(p.path, pathSeg{index: len(n.items)})
		v, err := p.value(depth + 1)
		if err != nil {
			return nil, err
		}
		p.path = p.path[:len(p.path)-1]
		n.items = append(n.items, v)
		p.skipWS()
		if p.i >= len(p.data) {
			return nil, p.fail("unexpected end of input, expected ',' or ']'")
		}
		switch p.data[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return n, nil
		default:
			return nil, p.fail("unexpected %s, expected ',' or ']'", p.describeHere())
		}
	}
}

// str reads a quoted string. Invalid UTF-8 and lone surrogates become U+FFFD,
// as encoding/json does, so that the canonical form can always be re-read.
func (p *jsonParser) str() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b strings.Builder
	for {
		if p.i >= len(p.data) {
			p.i = start
			return "", p.fail("unterminated string")
		}
		c := p.data[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c < 0x20:
			return "", p.fail("control character %q in string", rune(c))
		case c == '\\':
			if p.i+1 >= len(p.data) {
				p.i = start
				return "", p.fail("unterminated string")
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
					return "", p.fail("invalid \\u escape in string")
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
				return "", p.fail("invalid escape %q in string", "\\"+string(rune(e)))
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

func (p *jsonParser) number() (string, error) {
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
		return "", p.fail("invalid number")
	}
	if p.i < len(p.data) && p.data[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", p.fail("invalid number")
		}
	}
	if p.i < len(p.data) && (p.data[p.i] == 'e' || p.data[p.i] == 'E') {
		p.i++
		if p.i < len(p.data) && (p.data[p.i] == '+' || p.data[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", p.fail("invalid number")
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
	c := &yamlConv{budget: yamlBudgetPerByte*len(data) + yamlBudgetExtra}
	return c.conv(&doc, 0)
}

// Aliases let a small YAML document stand for a huge tree, so conversion is
// charged for what it builds: yamlNodeCost per node plus the bytes of every
// scalar and key. The densest documents without aliases cost about 4.5 per
// byte of input ("[0,0,...]" costs 9 per 2 bytes), so the budget does not
// stop them; with aliases the expanded tree stays within about one node and
// eight bytes of text per byte of input, which is as much memory as the
// densest document of that size takes. (The budget used to count only
// nodes, 16 per byte, which let a 1 MB document expand to gigabytes.)
const (
	yamlNodeCost      = 8
	yamlBudgetPerByte = 8
	yamlBudgetExtra   = 64 << 10
)

type yamlConv struct {
	budget int // see yamlNodeCost
	// path of the node being converted, rendered only for an error
	path []pathSeg
}

func ypos(n *yaml.Node) position { return position{line: n.Line, col: n.Column} }

func (c *yamlConv) fail(y *yaml.Node, msg string) *Error {
	return &Error{Path: renderPath("", c.path, ""), Line: y.Line, Col: y.Column, Msg: msg}
}

func (c *yamlConv) conv(y *yaml.Node, depth int) (*node, *Error) {
	if depth > maxDepth {
		return nil, c.fail(y, fmt.Sprintf("nesting deeper than %d levels", maxDepth))
	}
	c.budget -= yamlNodeCost
	if y.Kind == yaml.ScalarNode {
		c.budget -= len(y.Value)
	}
	if c.budget < 0 {
		return nil, c.fail(y, "YAML aliases expand to a document that is too large")
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return nil, &Error{Msg: "empty definition"}
		}
		return c.conv(y.Content[0], depth)
	case yaml.AliasNode:
		if y.Alias == nil {
			return nil, c.fail(y, "unknown YAML alias")
		}
		return c.conv(y.Alias, depth+1)
	case yaml.MappingNode:
		n := &node{kind: kObject, pos: ypos(y)}
		seen := map[string]bool{}
		for i := 0; i+1 < len(y.Content); i += 2 {
			kn, vn := y.Content[i], y.Content[i+1]
			for kn.Kind == yaml.AliasNode && kn.Alias != nil {
				kn = kn.Alias
			}
			if kn.Kind != yaml.ScalarNode {
				return nil, c.fail(kn, "object keys must be plain strings")
			}
			if kn.ShortTag() == "!!merge" {
				return nil, c.fail(kn, "YAML merge keys (<<) are not supported")
			}
			k := strings.ToValidUTF8(kn.Value, "\uFFFD")
			c.path = append(c.path, pathSeg{key: k, index: -1})
			if seen[k] {
				return nil, c.fail(kn, fmt.Sprintf("duplicate key %q", k))
			}
			seen[k] = true
			// The key is charged with its value, which reports running
			// out of budget.
			c.budget -= len(k)
			v, err := c.conv(vn, depth+1)
			if err != nil {
				return nil, err
			}
			c.path = c.path[:len(c.path)-1]
			n.keys = append(n.keys, k)
			n.vals = append(n.vals, v)
			n.keyPos = append(n.keyPos, ypos(kn))
		}
		return n, nil
	case yaml.SequenceNode:
		n := &node{kind: kArray, pos: ypos(y)}
		for i, it := range y.Content {
			c.path = append(c.path, pathSeg{index: i})
			v, err := c.conv(it, depth+1)
			if err != nil {
				return nil, err
			}
			c.path = c.path[:len(c.path)-1]
			n.items = append(n.items, v)
		}
		return n, nil
	case yaml.ScalarNode:
		return c.scalar(y)
	}
	return nil, c.fail(y, "unsupported YAML node")
}

var jsonNumberRE = regexp.MustCompile(`^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)

func (c *yamlConv) scalar(y *yaml.Node) (*node, *Error) {
	pos := ypos(y)
	bad := func(what string) (*node, *Error) {
		return nil, c.fail(y, fmt.Sprintf("invalid %s %q", what, y.Value))
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
				return nil, c.fail(y, fmt.Sprintf("number %q is not finite", y.Value))
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
