package sel

import (
	"math"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Java strings are indexed in UTF-16 code units; these helpers translate
// those indices to and from byte offsets so that length, substring and
// indexOf agree with Java for any text.

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func javaLen(s string) int {
	if isASCII(s) {
		return len(s)
	}
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// byteOffset converts a UTF-16 index (0..javaLen) to a byte offset. An
// index inside a surrogate pair moves to the end of that character.
func byteOffset(s string, u int) int {
	if isASCII(s) {
		return u
	}
	n := 0
	for i, r := range s {
		if n >= u {
			return i
		}
		n += utf16.RuneLen(r)
	}
	return len(s)
}

func unitOffset(s string, b int) int {
	if isASCII(s) {
		return b
	}
	return javaLen(s[:b])
}

func javaSubstring(s string, begin, end int) string {
	if isASCII(s) {
		return s[begin:end]
	}
	u := utf16.Encode([]rune(s))
	return string(utf16.Decode(u[begin:end]))
}

func javaTrim(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func javaCompare(a, b string) int64 {
	if isASCII(a) && isASCII(b) {
		n := min(len(a), len(b))
		for i := range n {
			if a[i] != b[i] {
				return int64(a[i]) - int64(b[i])
			}
		}
		return int64(len(a) - len(b))
	}
	ua, ub := utf16.Encode([]rune(a)), utf16.Encode([]rune(b))
	n := min(len(ua), len(ub))
	for i := range n {
		if ua[i] != ub[i] {
			return int64(ua[i]) - int64(ub[i])
		}
	}
	return int64(len(ua) - len(ub))
}

func javaHash(s string) int64 {
	var h int32
	for _, c := range utf16.Encode([]rune(s)) {
		h = 31*h + int32(c)
	}
	return int64(h)
}

func (in *interp) callString(s, name string, args []Value) (Value, error) {
	fn := "String." + name
	if err := in.work(len(s)); err != nil {
		return nil, err
	}
	str := func(i int) (string, error) { return argString(fn, args, i) }
	intArg := func(i int) (int, error) {
		n, err := argInt(fn, args, i)
		return int(n), err
	}
	switch len(args) {
	case 0:
		switch name {
		case "length":
			return int64(javaLen(s)), nil
		case "isEmpty":
			return s == "", nil
		case "isBlank":
			return strings.TrimFunc(s, unicode.IsSpace) == "", nil
		case "trim":
			return javaTrim(s), nil
		case "strip":
			return strings.TrimFunc(s, unicode.IsSpace), nil
		case "toUpperCase":
			return in.newString(strings.ToUpper(s))
		case "toLowerCase":
			return in.newString(strings.ToLower(s))
		case "toString", "intern":
			return s, nil
		case "hashCode":
			return javaHash(s), nil
		case "escape":
			return in.newString(javaEscape(s))
		}
	case 1:
		switch name {
		case "charAt":
			i, err := intArg(0)
			if err != nil {
				return nil, err
			}
			if i < 0 || i >= javaLen(s) {
				return nil, errValue("index %d out of bounds for length %d", i, javaLen(s))
			}
			return javaSubstring(s, i, i+1), nil
		case "substring":
			b, err := intArg(0)
			if err != nil {
				return nil, err
			}
			return in.substring(s, b, javaLen(s))
		case "indexOf", "lastIndexOf":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			if name == "indexOf" {
				return int64(javaIndexOf(s, t, 0)), nil
			}
			return int64(javaLastIndexOf(s, t, javaLen(s))), nil
		case "contains":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			return strings.Contains(s, t), nil
		case "startsWith":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			return strings.HasPrefix(s, t), nil
		case "endsWith":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			return strings.HasSuffix(s, t), nil
		case "equals":
			t, ok := args[0].(string)
			return ok && t == s, nil
		case "equalsIgnoreCase":
			t, ok := args[0].(string)
			return ok && strings.EqualFold(s, t), nil
		case "compareTo", "compareToIgnoreCase":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			if name == "compareToIgnoreCase" {
				return javaCompare(strings.ToLower(strings.ToUpper(s)), strings.ToLower(strings.ToUpper(t))), nil
			}
			return javaCompare(s, t), nil
		case "concat":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			if err := in.checkStrLen(len(s) + len(t)); err != nil {
				return nil, err
			}
			return s + t, nil
		case "matches":
			re, err := str(0)
			if err != nil {
				return nil, err
			}
			r, err := in.compileRegex("^(?:" + re + ")$")
			if err != nil {
				return nil, err
			}
			return r.MatchString(s), nil
		case "split":
			re, err := str(0)
			if err != nil {
				return nil, err
			}
			return in.split(s, re, 0)
		case "repeat":
			n, err := intArg(0)
			if err != nil {
				return nil, err
			}
			if n < 0 {
				return nil, errValue("String.repeat: negative count %d", n)
			}
			if len(s) > 0 && n > in.lim.MaxStringLen/len(s) {
				return nil, errLimit("string of %d bytes exceeds the limit of %d bytes", int64(len(s))*int64(n), in.lim.MaxStringLen)
			}
			if err := in.checkStrLen(len(s) * n); err != nil {
				return nil, err
			}
			if err := in.work(len(s) * n); err != nil {
				return nil, err
			}
			return strings.Repeat(s, n), nil
		}
	case 2:
		switch name {
		case "substring":
			b, err := intArg(0)
			if err != nil {
				return nil, err
			}
			e, err := intArg(1)
			if err != nil {
				return nil, err
			}
			return in.substring(s, b, e)
		case "indexOf", "lastIndexOf":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			from, err := intArg(1)
			if err != nil {
				return nil, err
			}
			if name == "indexOf" {
				return int64(javaIndexOf(s, t, from)), nil
			}
			return int64(javaLastIndexOf(s, t, from)), nil
		case "startsWith":
			t, err := str(0)
			if err != nil {
				return nil, err
			}
			off, err := intArg(1)
			if err != nil {
				return nil, err
			}
			if off < 0 || off > javaLen(s) {
				return false, nil
			}
			return strings.HasPrefix(s[byteOffset(s, off):], t), nil
		case "replace":
			old, err := str(0)
			if err != nil {
				return nil, err
			}
			repl, err := str(1)
			if err != nil {
				return nil, err
			}
			return in.replace(s, old, repl)
		case "replaceAll", "replaceFirst":
			re, err := str(0)
			if err != nil {
				return nil, err
			}
			repl, err := str(1)
			if err != nil {
				return nil, err
			}
			return in.replaceRegex(s, re, repl, name == "replaceFirst")
		case "split":
			re, err := str(0)
			if err != nil {
				return nil, err
			}
			limit, err := intArg(1)
			if err != nil {
				return nil, err
			}
			return in.split(s, re, limit)
		}
	}
	switch name {
	case "valueOf", "format", "join":
		return in.callStringStatic(name, args)
	}
	return nil, noMethod(s, name, args)
}

func (in *interp) substring(s string, b, e int) (Value, error) {
	n := javaLen(s)
	if b < 0 || e > n || b > e {
		return nil, errValue("begin %d, end %d, length %d", b, e, n)
	}
	return javaSubstring(s, b, e), nil
}

func javaIndexOf(s, t string, from int) int {
	from = max(from, 0)
	n := javaLen(s)
	if t == "" {
		// Java finds "" at from itself, even between the two units of
		// a surrogate pair, which byteOffset would round up.
		return min(from, n)
	}
	if from > n {
		return -1
	}
	// A non-empty t cannot start inside a surrogate pair, so rounding
	// from up to the end of the character loses nothing.
	b := byteOffset(s, from)
	i := strings.Index(s[b:], t)
	if i < 0 {
		return -1
	}
	return unitOffset(s, b+i)
}

// javaLastIndexOf finds the last t starting at or before UTF-16 index from.
func javaLastIndexOf(s, t string, from int) int {
	if from < 0 {
		return -1
	}
	n := javaLen(s)
	from = min(from, n)
	if t == "" {
		// As in javaIndexOf: "" is found at from itself.
		return from
	}
	b := byteOffset(s, from)
	if unitOffset(s, b) > from {
		// from falls inside a surrogate pair and byteOffset rounded it
		// up; t may only start at or before from, so step back to the
		// start of that character.
		_, size := utf8.DecodeLastRuneInString(s[:b])
		b -= size
	}
	end := b + len(t)
	if end > len(s) {
		end = len(s)
	}
	i := strings.LastIndex(s[:end], t)
	if i < 0 {
		return -1
	}
	return unitOffset(s, i)
}

func (in *interp) replace(s, old, repl string) (Value, error) {
	count := strings.Count(s, old)
	if old == "" {
		count = utf8.RuneCountInString(s) + 1
	}
	n := int64(len(s)) + int64(count)*(int64(len(repl))-int64(len(old)))
	if n > int64(in.lim.MaxStringLen) {
		return nil, errLimit("string of %d bytes exceeds the limit of %d bytes", n, in.lim.MaxStringLen)
	}
	if err := in.checkStrLen(int(n)); err != nil {
		return nil, err
	}
	if err := in.work(int(n)); err != nil {
		return nil, err
	}
	return strings.ReplaceAll(s, old, repl), nil
}

// javaEscape is SEL's String.escape: backslashes, control characters and
// double quotes escaped as in a Java string literal.
func javaEscape(s string) string {
	r := strings.NewReplacer("\\", "\\\\", "\t", "\\t", "\b", "\\b", "\n", "\\n",
		"\r", "\\r", "\f", "\\f", "\"", "\\\"")
	return r.Replace(s)
}

const maxRegexLen = 1000

// compileRegex accepts the part of Java's regex syntax that Go's RE2 shares;
// backreferences and lookaround are rejected with an error.
func (in *interp) compileRegex(re string) (*regexp.Regexp, error) {
	if len(re) > maxRegexLen {
		return nil, errValue("regular expression longer than %d bytes", maxRegexLen)
	}
	if err := in.work(len(re) * 64); err != nil {
		return nil, err
	}
	r, err := regexp.Compile(re)
	if err != nil {
		return nil, errValue("unsupported regular expression %q: %v", re, err)
	}
	return r, nil
}

// literalSplit reports whether Java would split on re as a plain string,
// and which string: one character that is not a regex metacharacter, or
// a backslash and a character that is not a letter or digit.
func literalSplit(re string) (string, bool) {
	if len(re) == 1 && !strings.ContainsRune(".$|()[{^?*+\\", rune(re[0])) {
		return re, true
	}
	if len(re) == 2 && re[0] == '\\' && re[1] < utf8.RuneSelf && !isDigit(re[1]) &&
		!(re[1] >= 'a' && re[1] <= 'z' || re[1] >= 'A' && re[1] <= 'Z') {
		return re[1:], true
	}
	return "", false
}

// split follows Java's String.split: with limit 0 trailing empty strings
// are dropped, a positive limit caps the number of pieces, and a match of
// zero width at the start never yields a leading empty string.
func (in *interp) split(s, re string, limit int) (Value, error) {
	if err := in.work(len(s) * 4); err != nil {
		return nil, err
	}
	var bounds [][]int
	maxMatches := -1
	if limit > 0 {
		maxMatches = limit - 1
	}
	if lit, ok := literalSplit(re); ok {
		for i := 0; maxMatches < 0 || len(bounds) < maxMatches; {
			j := strings.Index(s[i:], lit)
			if j < 0 {
				break
			}
			bounds = append(bounds, []int{i + j, i + j + len(lit)})
			i += j + len(lit)
			if len(bounds) > in.lim.MaxArrayLen {
				break
			}
		}
	} else {
		r, err := in.compileRegex(re)
		if err != nil {
			return nil, err
		}
		n := in.lim.MaxArrayLen + 2
		if maxMatches >= 0 {
			n = min(n, maxMatches+1)
		}
		// Each match also holds its groups' indices; split uses only
		// the first two.
		bounds, err = in.findMatches(r, s, n)
		if err != nil {
			return nil, err
		}
		if len(bounds) > 0 && bounds[0][0] == 0 && bounds[0][1] == 0 {
			bounds = bounds[1:]
		}
		if maxMatches >= 0 && len(bounds) > maxMatches {
			bounds = bounds[:maxMatches]
		}
	}
	if len(bounds) == 0 {
		return &array{elem: kString, items: []Value{s}}, nil
	}
	var parts []string
	prev := 0
	for _, b := range bounds {
		parts = append(parts, s[prev:b[0]])
		prev = b[1]
	}
	parts = append(parts, s[prev:])
	if limit == 0 {
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	if err := in.checkArrayLen(len(parts)); err != nil {
		return nil, err
	}
	a := &array{elem: kString, items: make([]Value, len(parts))}
	for i, p := range parts {
		a.items[i] = p
	}
	return a, nil
}

// replPart is one piece of a parsed Java replacement string: literal
// text, or (when group >= 0) the text the match captured in that group.
type replPart struct {
	lit   string
	group int
}

// javaReplacement parses a Java replacement string ($1, ${name}, \x)
// for the regex r. SEL expands it itself rather than through Go's
// Regexp.Expand so that it can check the size of the output piece by
// piece, before appending: one match expanded through a replacement of
// many group references could otherwise reach gigabytes at once.
func javaReplacement(repl string, r *regexp.Regexp) ([]replPart, error) {
	groups := r.NumSubexp()
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	group := func(g int) {
		flush()
		parts = append(parts, replPart{group: g})
	}
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i >= len(repl) {
				return nil, errValue("character to be escaped is missing in replacement %q", repl)
			}
			lit.WriteByte(repl[i])
		case '$':
			i++
			if i >= len(repl) {
				return nil, errValue("illegal group reference in replacement %q", repl)
			}
			if repl[i] == '{' {
				// As Java: ASCII letters and digits up to a '}', naming
				// a group of the regex.
				j := i + 1
				for j < len(repl) && (isDigit(repl[j]) || repl[j] >= 'a' && repl[j] <= 'z' || repl[j] >= 'A' && repl[j] <= 'Z') {
					j++
				}
				name := repl[i+1 : j]
				switch {
				case name == "":
					return nil, errValue("named capturing group has 0 length name in replacement %q", repl)
				case j >= len(repl) || repl[j] != '}':
					return nil, errValue("named capturing group is missing trailing '}' in replacement %q", repl)
				case isDigit(name[0]):
					return nil, errValue("capturing group name {%s} starts with digit character in replacement %q", name, repl)
				}
				g := r.SubexpIndex(name)
				if g < 0 {
					return nil, errValue("no group with name {%s} in the regular expression", name)
				}
				group(g)
				i = j
				continue
			}
			if !isDigit(repl[i]) {
				return nil, errValue("illegal group reference in replacement %q", repl)
			}
			// Java reads further digits only while the number stays a
			// valid group.
			g := int(repl[i] - '0')
			for i+1 < len(repl) && isDigit(repl[i+1]) && g*10+int(repl[i+1]-'0') <= groups {
				i++
				g = g*10 + int(repl[i]-'0')
			}
			if g > groups {
				return nil, errValue("no group %d in the regular expression", g)
			}
			group(g)
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return parts, nil
}

// findMatches returns up to n matches of r in s (all when n < 0), each
// with its submatch indices, and charges the allocation budget for them.
// Go's regexp keeps two ints per group for every match, even when only the
// bounds are asked for, so a regex of hundreds of empty groups costs
// kilobytes at every position of s. The search is capped beforehand at one
// more match than the remaining budget pays for, so it cannot allocate
// much beyond the budget before the limit error.
func (in *interp) findMatches(r *regexp.Regexp, s string, n int) ([][]int, error) {
	per := int64(16*(r.NumSubexp()+1) + 24)
	if n < 0 || n > len(s)+1 {
		n = len(s) + 1 // there are never more matches than positions
	}
	afford := max((in.lim.MaxAllocBytes-in.alloc)/per, 0)
	if int64(n) > afford {
		n = int(afford) + 1
	}
	matches := r.FindAllStringSubmatchIndex(s, n)
	if err := in.allocate(int64(len(matches)) * per); err != nil {
		return nil, err
	}
	return matches, nil
}

func (in *interp) replaceRegex(s, re, repl string, firstOnly bool) (Value, error) {
	r, err := in.compileRegex(re)
	if err != nil {
		return nil, err
	}
	parts, err := javaReplacement(repl, r)
	if err != nil {
		return nil, err
	}
	// A replacement of many group references becomes as many parts.
	if err := in.allocate(int64(len(parts)) * 32); err != nil {
		return nil, err
	}
	if err := in.work(len(s) * 4); err != nil {
		return nil, err
	}
	n := -1
	if firstOnly {
		n = 1
	}
	matches, err := in.findMatches(r, s, n)
	if err != nil {
		return nil, err
	}
	// Expanding visits every part for every match even when the parts are
	// empty groups that add nothing to the output, so charge that work.
	if err := in.work(int(min(int64(len(matches))*int64(len(parts)), math.MaxInt32))); err != nil {
		return nil, err
	}
	limit := in.lim.MaxStringLen
	var out []byte
	add := func(piece string) error {
		if len(out)+len(piece) > limit {
			return errLimit("string exceeds the limit of %d bytes", limit)
		}
		out = append(out, piece...)
		return nil
	}
	prev := 0
	for _, m := range matches {
		if err := add(s[prev:m[0]]); err != nil {
			return nil, err
		}
		for _, p := range parts {
			piece := p.lit
			if p.group >= 0 {
				piece = ""
				if b := m[2*p.group]; b >= 0 {
					piece = s[b:m[2*p.group+1]]
				}
			}
			if err := add(piece); err != nil {
				return nil, err
			}
		}
		prev = m[1]
	}
	if err := add(s[prev:]); err != nil {
		return nil, err
	}
	return in.newString(string(out))
}

func (in *interp) callStringStatic(name string, args []Value) (Value, error) {
	switch name {
	case "valueOf", "copyValueOf":
		if len(args) == 1 {
			return in.showString(args[0])
		}
	case "format":
		if len(args) == 0 {
			return nil, errValue("String.format needs a format string")
		}
		f, err := argString("String.format", args, 0)
		if err != nil {
			return nil, err
		}
		rest := args[1:]
		if len(rest) == 1 {
			if a, ok := rest[0].(*array); ok && a.elem == kString {
				rest = a.items
			}
		}
		return in.javaFormat(f, rest)
	case "join":
		if len(args) == 0 {
			return nil, errValue("String.join needs a delimiter")
		}
		delim, err := argString("String.join", args, 0)
		if err != nil {
			return nil, err
		}
		items := args[1:]
		if len(items) == 1 {
			switch c := items[0].(type) {
			case *array:
				if c.elem != kString {
					return nil, errValue("String.join needs strings, not a %s", kindOf(c))
				}
				items = c.items
			case *listVal:
				items = c.items
			}
		}
		parts := make([]string, len(items))
		total := 0
		for i, it := range items {
			switch x := it.(type) {
			case nil:
				parts[i] = "null"
			case string:
				parts[i] = x
			default:
				return nil, errValue("String.join needs strings, not %s", typeName(it))
			}
			total += len(parts[i]) + len(delim)
		}
		if err := in.checkStrLen(total); err != nil {
			return nil, err
		}
		if err := in.work(total); err != nil {
			return nil, err
		}
		return strings.Join(parts, delim), nil
	case "escape":
		if len(args) == 1 {
			s, err := argString("String.escape", args, 0)
			if err != nil {
				return nil, err
			}
			return in.newString(javaEscape(s))
		}
	}
	return nil, noMethod(&classRef{name: "String"}, name, args)
}
