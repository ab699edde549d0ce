package sel

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// javaFormat implements the common part of Java's String.format:
// %[index$][flags][width][.precision]conversion with the conversions
// b s c d o x e f g n % (and their upper-case forms). Date conversions (%t)
// and %a, %h are not supported.
func (in *interp) javaFormat(f string, args []Value) (Value, error) {
	if err := in.work(len(f) * 4); err != nil {
		return nil, err
	}
	var sb strings.Builder
	next := 0  // next ordinary argument
	last := -1 // argument used by the previous specifier, for %<s
	for i := 0; i < len(f); {
		c := f[i]
		if c != '%' {
			j := strings.IndexByte(f[i:], '%')
			if j < 0 {
				j = len(f) - i
			}
			sb.WriteString(f[i : i+j])
			i += j
			continue
		}
		spec, n, err := parseSpec(f, i)
		if err != nil {
			return nil, err
		}
		i = n
		if spec.width > in.lim.MaxStringLen || spec.prec > in.lim.MaxStringLen {
			return nil, errLimit("format width or precision exceeds the string limit of %d bytes", in.lim.MaxStringLen)
		}
		var text string
		switch spec.conv {
		case 'n':
			text = "\n"
		case '%':
			text = pad("%", spec)
		default:
			var idx int
			switch {
			case spec.relative:
				idx = last
			case spec.argIndex > 0:
				idx = spec.argIndex - 1
			default:
				idx = next
				next++
			}
			if idx < 0 || idx >= len(args) {
				return nil, errValue("format specifier '%s' has no matching argument", f[spec.start:n])
			}
			last = idx
			text, err = in.formatArg(spec, args[idx])
			if err != nil {
				return nil, err
			}
		}
		sb.WriteString(text)
		if sb.Len() > in.lim.MaxStringLen {
			return nil, errLimit("string exceeds the limit of %d bytes", in.lim.MaxStringLen)
		}
	}
	return in.newString(sb.String())
}

type fmtSpec struct {
	start                                       int
	argIndex                                    int // 1-based explicit index, 0 if none
	relative                                    bool
	minus, plus, space, zero, comma, paren, alt bool
	width                                       int // -1 if none
	prec                                        int // -1 if none
	conv                                        byte
	upper                                       bool
}

func parseSpec(f string, i int) (fmtSpec, int, error) {
	s := fmtSpec{start: i, width: -1, prec: -1}
	bad := func() (fmtSpec, int, error) {
		end := min(i+1, len(f))
		return s, 0, errValue("unknown format conversion in %q", f[s.start:end])
	}
	i++ // '%'
	// An explicit argument index is digits followed by '$'.
	j := i
	for j < len(f) && isDigit(f[j]) {
		j++
	}
	if j < len(f) && f[j] == '$' && j > i {
		n, err := strconv.Atoi(f[i:j])
		if err != nil || n == 0 {
			return bad()
		}
		s.argIndex = n
		i = j + 1
	}
	for ; i < len(f); i++ {
		switch f[i] {
		case '-':
			s.minus = true
		case '+':
			s.plus = true
		case ' ':
			s.space = true
		case '0':
			s.zero = true
		case ',':
			s.comma = true
		case '(':
			s.paren = true
		case '#':
			s.alt = true
		case '<':
			s.relative = true
		default:
			goto flagsDone
		}
	}
flagsDone:
	j = i
	for j < len(f) && isDigit(f[j]) {
		j++
	}
	if j > i {
		n, err := strconv.Atoi(f[i:j])
		if err != nil || j-i > 9 {
			return bad()
		}
		s.width = n
		i = j
	}
	if i < len(f) && f[i] == '.' {
		i++
		j = i
		for j < len(f) && isDigit(f[j]) {
			j++
		}
		if j == i || j-i > 9 {
			return bad()
		}
		s.prec, _ = strconv.Atoi(f[i:j])
		i = j
	}
	if i >= len(f) {
		return bad()
	}
	c := f[i]
	switch c {
	case 'b', 's', 'c', 'd', 'o', 'x', 'e', 'f', 'g', 'n', '%':
		s.conv = c
	case 'B', 'S', 'C', 'X', 'E', 'G':
		s.conv = c + ('a' - 'A')
		s.upper = true
	default:
		return bad()
	}
	return s, i + 1, nil
}

func pad(text string, s fmtSpec) string {
	n := utf8.RuneCountInString(text)
	if s.width <= n {
		return text
	}
	fill := strings.Repeat(" ", s.width-n)
	if s.minus {
		return text + fill
	}
	return fill + text
}

func (in *interp) formatArg(s fmtSpec, arg Value) (string, error) {
	upper := func(t string) string {
		if s.upper {
			return strings.ToUpper(t)
		}
		return t
	}
	truncate := func(t string) string {
		if s.prec >= 0 && utf8.RuneCountInString(t) > s.prec {
			return string([]rune(t)[:s.prec])
		}
		return t
	}
	if arg == nil && s.conv != 'b' {
		return pad(upper(truncate("null")), s), nil
	}
	switch s.conv {
	case 'b':
		b, isBool := arg.(bool)
		t := "true"
		if arg == nil || (isBool && !b) {
			t = "false"
		}
		return pad(upper(truncate(t)), s), nil
	case 's':
		t, err := in.show(arg)
		if err != nil {
			return "", err
		}
		return pad(upper(truncate(t)), s), nil
	case 'c':
		n, ok := arg.(int64)
		if !ok || n < 0 || n > utf8.MaxRune {
			return "", errValue("%%c needs a character code, not %s", typeName(arg))
		}
		return pad(upper(string(rune(n))), s), nil
	case 'd', 'o', 'x':
		n, ok := arg.(int64)
		if !ok {
			return "", errValue("%%%c needs an integer argument, not %s", s.conv, typeName(arg))
		}
		if s.conv == 'd' {
			neg := n < 0
			u := uint64(n)
			if neg {
				u = -u
			}
			return numberText(strconv.FormatUint(u, 10), neg, s), nil
		}
		base := 8
		prefix := "0"
		if s.conv == 'x' {
			base, prefix = 16, "0x"
		}
		t := strconv.FormatUint(uint64(n), base)
		if s.alt {
			t = prefix + t
		}
		if s.zero && s.width > len(t) {
			t = strings.Repeat("0", s.width-len(t)) + t
		}
		return pad(upper(t), s), nil
	case 'e', 'f', 'g':
		x, ok := arg.(float64)
		if !ok {
			return "", errValue("%%%c needs a floating-point argument, not %s", s.conv, typeName(arg))
		}
		return upper(floatText(x, s)), nil
	}
	return "", errValue("unsupported format conversion %%%c", s.conv)
}

// numberText applies sign, grouping, zero padding and width to the digits
// of a number's magnitude.
func numberText(digits string, neg bool, s fmtSpec) string {
	if s.comma {
		intPart, frac, hasFrac := strings.Cut(digits, ".")
		var g strings.Builder
		for i, c := range intPart {
			if i > 0 && (len(intPart)-i)%3 == 0 {
				g.WriteByte(',')
			}
			g.WriteRune(c)
		}
		digits = g.String()
		if hasFrac {
			digits += "." + frac
		}
	}
	prefix, suffix := "", ""
	switch {
	case neg && s.paren:
		prefix, suffix = "(", ")"
	case neg:
		prefix = "-"
	case s.plus:
		prefix = "+"
	case s.space:
		prefix = " "
	}
	if s.zero && !s.minus {
		if w := s.width - len(prefix) - len(suffix) - len(digits); w > 0 {
			digits = strings.Repeat("0", w) + digits
		}
	}
	return pad(prefix+digits+suffix, s)
}

// shortestDigits returns the shortest decimal digits of |x| and the
// position of the decimal point relative to them (x = 0.d1d2... * 10^pt).
func shortestDigits(x float64) (string, int) {
	if x < 0 {
		x = -x
	}
	if x == 0 {
		return "0", 1
	}
	e := strconv.FormatFloat(x, 'e', -1, 64)
	mant, exp, _ := strings.Cut(e, "e")
	digits := strings.Replace(mant, ".", "", 1)
	ex, _ := strconv.Atoi(exp)
	return digits, ex + 1
}

// roundDigits keeps the first keep digits, rounding half up as Java's
// Formatter does on the shortest decimal form. It returns the new digits
// and decimal point.
func roundDigits(digits string, pt, keep int) (string, int) {
	if keep >= len(digits) {
		return digits + strings.Repeat("0", keep-len(digits)), pt
	}
	if keep < 0 {
		return "", pt
	}
	roundUp := digits[keep] >= '5'
	b := []byte(digits[:keep])
	if roundUp {
		i := len(b) - 1
		for ; i >= 0; i-- {
			if b[i] == '9' {
				b[i] = '0'
				continue
			}
			b[i]++
			break
		}
		if i < 0 {
			b = append([]byte{'1'}, b...)
			pt++
		}
	}
	return string(b), pt
}

func fixedText(x float64, prec int) string {
	digits, pt := shortestDigits(x)
	if x == 0 {
		digits, pt = "0", 1
	}
	d, p := roundDigits(digits, pt, pt+prec)
	// d now has exactly p+prec digits after any carry (or fewer when the
	// value rounded to zero).
	var intPart, frac string
	if p <= 0 {
		intPart = "0"
		frac = strings.Repeat("0", min(-p, prec)) + d
	} else {
		if len(d) < p {
			d += strings.Repeat("0", p-len(d))
		}
		intPart, frac = d[:p], d[p:]
	}
	if len(frac) < prec {
		frac += strings.Repeat("0", prec-len(frac))
	}
	frac = frac[:prec]
	if intPart == "" {
		intPart = "0"
	}
	if prec == 0 {
		return intPart
	}
	return intPart + "." + frac
}

func sciText(x float64, prec int) string {
	digits, pt := shortestDigits(x)
	exp := pt - 1
	if x == 0 {
		exp = 0
	}
	d, p := roundDigits(digits, pt, prec+1)
	if p != pt {
		exp++
	}
	if len(d) < prec+1 {
		d += strings.Repeat("0", prec+1-len(d))
	}
	t := d[:1]
	if prec > 0 {
		t += "." + d[1:prec+1]
	}
	sign := "+"
	if exp < 0 {
		sign = "-"
		exp = -exp
	}
	es := strconv.Itoa(exp)
	if len(es) < 2 {
		es = "0" + es
	}
	return t + "e" + sign + es
}

func floatText(x float64, s fmtSpec) string {
	if math.IsNaN(x) {
		return pad("NaN", s)
	}
	neg := math.Signbit(x)
	if math.IsInf(x, 0) {
		t := "Infinity"
		switch {
		case neg && s.paren:
			t = "(Infinity)"
		case neg:
			t = "-Infinity"
		case s.plus:
			t = "+Infinity"
		case s.space:
			t = " Infinity"
		}
		return pad(t, s)
	}
	prec := s.prec
	if prec < 0 {
		prec = 6
	}
	var digits string
	switch s.conv {
	case 'f':
		digits = fixedText(x, prec)
	case 'e':
		digits = sciText(x, prec)
	case 'g':
		if prec == 0 {
			prec = 1
		}
		ax := x
		if ax < 0 {
			ax = -ax
		}
		// Decide on the value rounded to prec significant digits.
		d, pt := shortestDigits(ax)
		_, rpt := roundDigits(d, pt, prec)
		if ax != 0 && (ax < 1e-4 || rpt > prec) {
			digits = sciText(x, prec-1)
		} else {
			digits = fixedText(x, max(prec-rpt, 0))
		}
	}
	return numberText(digits, neg, s)
}
