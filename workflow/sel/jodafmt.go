package sel

import (
	"strconv"
	"strings"
)

// Joda-Time DateTimeFormat patterns: pattern letters, 'quoted text' and ''
// for a quote. Supported letters: G C Y x w e E y D M d a K h H k m s S z Z.

type fmtTok struct {
	letter      byte // 0 for literal text
	n           int  // how many times the letter repeats
	lit         string
	nextNumeric bool // the following token is a numeric field
}

type formatter struct {
	pattern string
	toks    []fmtTok
	zone    *zoneVal // nil: the DateTime's own zone when printing one, else UTC
}

const maxPatternLen = 256

// Two-digit years parse into the century window 1950-2049. Joda centres
// its window on the current year; a fixed window keeps evaluation
// deterministic.
const twoDigitYearPivot = 2000

func compilePattern(p string) (*formatter, error) {
	if p == "" {
		return nil, errValue("invalid pattern: empty")
	}
	if len(p) > maxPatternLen {
		return nil, errValue("pattern longer than %d characters", maxPatternLen)
	}
	f := &formatter{pattern: p}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			if i+1 < len(p) && p[i+1] == '\'' {
				f.toks = append(f.toks, fmtTok{lit: "'"})
				i += 2
				continue
			}
			var sb strings.Builder
			j := i + 1
			closed := false
			for j < len(p) {
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						sb.WriteByte('\'')
						j += 2
						continue
					}
					closed = true
					j++
					break
				}
				sb.WriteByte(p[j])
				j++
			}
			if !closed {
				return nil, errValue("invalid pattern %q: unterminated quote", p)
			}
			f.toks = append(f.toks, fmtTok{lit: sb.String()})
			i = j
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			if !strings.ContainsRune("GCYxweEyDMdaKhHkmsSzZ", rune(c)) {
				return nil, errValue("invalid pattern %q: illegal pattern component %q", p, p[i:j])
			}
			n := j - i
			if c == 'z' && n >= 4 {
				return nil, errValue("invalid pattern %q: full time zone names (zzzz) are not supported", p)
			}
			f.toks = append(f.toks, fmtTok{letter: c, n: n})
			i = j
		default:
			f.toks = append(f.toks, fmtTok{lit: string(c)})
			i++
		}
	}
	for i := range f.toks {
		if i+1 < len(f.toks) {
			f.toks[i].nextNumeric = f.toks[i+1].numeric()
		}
	}
	return f, nil
}

func (t fmtTok) numeric() bool {
	switch t.letter {
	case 'C', 'Y', 'x', 'w', 'e', 'y', 'D', 'd', 'K', 'h', 'H', 'k', 'm', 's', 'S':
		return true
	case 'M':
		return t.n <= 2
	}
	return false
}

func mustPattern(p string) *formatter {
	f, err := compilePattern(p)
	if err != nil {
		panic(err)
	}
	return f
}

// Maestro's Util functions format and parse date ints with these, in UTC.
var (
	dateIntFormat     = mustPattern("YYYYMMdd").withZone(utcZone)
	dateIntHourFormat = mustPattern("YYYYMMddHH")
)

func (f *formatter) withZone(z *zoneVal) *formatter {
	c := *f
	c.zone = z
	return &c
}

func (in *interp) newFormatter(p string) (*formatter, error) {
	if err := in.work(len(p) * 16); err != nil {
		return nil, err
	}
	return compilePattern(p)
}

func (in *interp) callFormatter(f *formatter, name string, args []Value) (Value, error) {
	fn := "DateTimeFormatter." + name
	switch {
	case name == "withZone" && len(args) == 1:
		z, ok := args[0].(*zoneVal)
		if !ok {
			return nil, errValue("%s needs a DateTimeZone, not %s", fn, typeName(args[0]))
		}
		return f.withZone(z), nil
	case name == "withZoneUTC" && len(args) == 0:
		return f.withZone(utcZone), nil
	case name == "getZone" && len(args) == 0:
		return f.zone, nil
	case name == "print" && len(args) == 1:
		switch x := args[0].(type) {
		case int64:
			return in.printWith(f, x, nil)
		case *dateTime:
			return in.printWith(f, x.ms, x.zone)
		}
		return nil, errValue("%s needs a DateTime or a long, not %s", fn, typeName(args[0]))
	case name == "parseDateTime" && len(args) == 1:
		s, err := argStringish(fn, args, 0)
		if err != nil {
			return nil, err
		}
		return in.parseWith(f, s)
	case name == "parseMillis" && len(args) == 1:
		s, err := argString(fn, args, 0)
		if err != nil {
			return nil, err
		}
		dt, err := in.parseWith(f, s)
		if err != nil {
			return nil, err
		}
		return dt.ms, nil
	case name == "forPattern" && len(args) == 1:
		return in.callStatic("DateTimeFormat", name, args)
	case name == "toString" && len(args) == 0:
		return in.showString(f)
	}
	return nil, noMethod(f, name, args)
}

// printWith formats the instant ms. The formatter's own zone wins; else
// dtZone (the zone of the DateTime being printed); else UTC.
func (in *interp) printWith(f *formatter, ms int64, dtZone *zoneVal) (Value, error) {
	if ms < -maxMillis || ms > maxMillis {
		return nil, errValue("instant %d is out of the supported range", ms)
	}
	z := f.zone
	if z == nil {
		z = dtZone
	}
	if z == nil {
		z = utcZone
	}
	if err := in.work(len(f.toks) * 16); err != nil {
		return nil, err
	}
	off := z.offsetAt(ms)
	local := ms + off
	days, msOfDay := floorDiv(local, msPerDay), floorMod(local, msPerDay)
	var sb strings.Builder
	for _, t := range f.toks {
		if t.letter == 0 {
			sb.WriteString(t.lit)
			continue
		}
		n := min(t.n, 64)
		switch t.letter {
		case 'G':
			if getField(fYear, days, msOfDay) <= 0 {
				sb.WriteString("BC")
			} else {
				sb.WriteString("AD")
			}
		case 'C':
			writeNum(&sb, yearOfEra(days)/100, n)
		case 'Y':
			writeYear(&sb, yearOfEra(days), n)
		case 'y':
			writeYear(&sb, getField(fYear, days, msOfDay), n)
		case 'x':
			writeYear(&sb, getField(fWeekyear, days, msOfDay), n)
		case 'w':
			writeNum(&sb, getField(fWeekOfWeekyear, days, msOfDay), n)
		case 'e':
			writeNum(&sb, getField(fDayOfWeek, days, msOfDay), n)
		case 'E':
			d := getField(fDayOfWeek, days, msOfDay)
			if n >= 4 {
				sb.WriteString(dayNames[d-1])
			} else {
				sb.WriteString(shortDayNames[d-1])
			}
		case 'D':
			writeNum(&sb, getField(fDayOfYear, days, msOfDay), n)
		case 'M':
			m := getField(fMonthOfYear, days, msOfDay)
			switch {
			case n >= 4:
				sb.WriteString(monthNames[m-1])
			case n == 3:
				sb.WriteString(shortMonthNames[m-1])
			default:
				writeNum(&sb, m, n)
			}
		case 'd':
			writeNum(&sb, getField(fDayOfMonth, days, msOfDay), n)
		case 'a':
			if msOfDay/msPerHour < 12 {
				sb.WriteString("AM")
			} else {
				sb.WriteString("PM")
			}
		case 'K':
			writeNum(&sb, msOfDay/msPerHour%12, n)
		case 'h':
			h := msOfDay / msPerHour % 12
			if h == 0 {
				h = 12
			}
			writeNum(&sb, h, n)
		case 'H':
			writeNum(&sb, msOfDay/msPerHour, n)
		case 'k':
			h := msOfDay / msPerHour
			if h == 0 {
				h = 24
			}
			writeNum(&sb, h, n)
		case 'm':
			writeNum(&sb, msOfDay%msPerHour/msPerMinute, n)
		case 's':
			writeNum(&sb, msOfDay%msPerMinute/msPerSecond, n)
		case 'S':
			frac := strconv.FormatInt(1000+msOfDay%msPerSecond, 10)[1:]
			if n <= 3 {
				sb.WriteString(frac[:n])
			} else {
				sb.WriteString(frac)
				sb.WriteString(strings.Repeat("0", n-3))
			}
		case 'z':
			sb.WriteString(z.abbrev(ms))
		case 'Z':
			switch {
			case t.n >= 3:
				sb.WriteString(z.id)
			default:
				sb.WriteString(formatOffset(off, t.n == 2))
			}
		}
	}
	return in.newString(sb.String())
}

func yearOfEra(days int64) int64 {
	y, _, _ := civilFromDays(days)
	if y <= 0 {
		return 1 - y
	}
	return y
}

func writeYear(sb *strings.Builder, y int64, n int) {
	if n == 2 {
		if y < 0 {
			y = -y
		}
		writeNum(sb, y%100, 2)
		return
	}
	writeNum(sb, y, n)
}

// parsed collects the fields read from a string; nil means absent.
type parsed struct {
	year, yearOfEra, weekyear, week, dow, doy, month, day *int64
	hour, clockHour, hourOfHalf, clockHourOfHalf          *int64
	minute, second, millis                                *int64
	pm, bc                                                *bool
	offset                                                *int64
	zone                                                  *zoneVal
}

func (in *interp) parseWith(f *formatter, s string) (*dateTime, error) {
	if err := in.work(len(s) + len(f.toks)*16); err != nil {
		return nil, err
	}
	malformed := func(i int) error {
		if i >= len(s) {
			return errValue("invalid format: %q is too short", s)
		}
		return errValue("invalid format: %q is malformed at %q", s, s[i:])
	}
	var pr parsed
	i := 0
	for _, t := range f.toks {
		if t.letter == 0 {
			if len(s)-i < len(t.lit) || !strings.EqualFold(s[i:i+len(t.lit)], t.lit) {
				return nil, malformed(i)
			}
			i += len(t.lit)
			continue
		}
		var ok bool
		if i, ok = parseToken(t, s, i, &pr); !ok {
			return nil, malformed(i)
		}
	}
	if i != len(s) {
		return nil, malformed(i)
	}
	ms, z, err := pr.resolve(f)
	if err != nil {
		return nil, errValue("cannot parse %q: %v", s, err)
	}
	return newDT(ms, z)
}

// readNum reads up to maxDigits digits (at least one), with a sign when
// signed. It returns the value and the new index.
func readNum(s string, i, maxDigits int, signed bool) (int64, int, bool) {
	j := i
	neg := false
	if signed && j < len(s) && (s[j] == '-' || s[j] == '+') && j+1 < len(s) && isDigit(s[j+1]) {
		neg = s[j] == '-'
		j++
	}
	start := j
	for j < len(s) && j-start < maxDigits && isDigit(s[j]) {
		j++
	}
	if j == start {
		return 0, i, false
	}
	v, err := strconv.ParseInt(s[start:j], 10, 64)
	if err != nil {
		return 0, i, false
	}
	if neg {
		v = -v
	}
	return v, j, true
}

// matchText finds which of the names starts s[i:], ignoring case and
// preferring the longest, and returns its 1-based index.
func matchText(s string, i int, lists ...[]string) (int64, int, bool) {
	best, bestLen := int64(0), 0
	for _, names := range lists {
		for k, name := range names {
			if len(name) > bestLen && len(s)-i >= len(name) && strings.EqualFold(s[i:i+len(name)], name) {
				best, bestLen = int64(k+1), len(name)
			}
		}
	}
	return best, i + bestLen, bestLen > 0
}

func parseToken(t fmtTok, s string, i int, pr *parsed) (int, bool) {
	set := func(dst **int64, v int64) { *dst = &v }
	num := func(maxDigits int, dst **int64) (int, bool) {
		v, j, ok := readNum(s, i, maxDigits, false)
		if ok {
			set(dst, v)
		}
		return j, ok
	}
	switch t.letter {
	case 'y', 'Y', 'x':
		dst := &pr.year
		switch t.letter {
		case 'Y':
			dst = &pr.yearOfEra
		case 'x':
			dst = &pr.weekyear
		}
		if t.n == 2 {
			return parseTwoDigitYear(s, i, !t.nextNumeric, dst)
		}
		maxDigits := 9
		if t.nextNumeric {
			maxDigits = t.n
		}
		v, j, ok := readNum(s, i, maxDigits, true)
		if ok {
			set(dst, v)
		}
		return j, ok
	case 'C':
		var c *int64
		j, ok := num(3, &c)
		if ok && pr.yearOfEra == nil {
			set(&pr.yearOfEra, *c*100)
		}
		return j, ok
	case 'w':
		return num(2, &pr.week)
	case 'e':
		return num(1, &pr.dow)
	case 'D':
		return num(3, &pr.doy)
	case 'd':
		return num(2, &pr.day)
	case 'H':
		return num(2, &pr.hour)
	case 'k':
		return num(2, &pr.clockHour)
	case 'K':
		return num(2, &pr.hourOfHalf)
	case 'h':
		return num(2, &pr.clockHourOfHalf)
	case 'm':
		return num(2, &pr.minute)
	case 's':
		return num(2, &pr.second)
	case 'S':
		j := i
		for j < len(s) && j-i < t.n && isDigit(s[j]) {
			j++
		}
		if j == i {
			return i, false
		}
		frac := s[i:j]
		if len(frac) > 3 {
			frac = frac[:3]
		}
		v, _ := strconv.ParseInt((frac + "00")[:3], 10, 64)
		set(&pr.millis, v)
		return j, true
	case 'M':
		if t.n >= 3 {
			v, j, ok := matchText(s, i, monthNames, shortMonthNames)
			if ok {
				set(&pr.month, v)
			}
			return j, ok
		}
		return num(2, &pr.month)
	case 'E':
		v, j, ok := matchText(s, i, dayNames, shortDayNames)
		if ok {
			set(&pr.dow, v)
		}
		return j, ok
	case 'a':
		v, j, ok := matchText(s, i, []string{"AM", "PM"})
		if ok {
			pm := v == 2
			pr.pm = &pm
		}
		return j, ok
	case 'G':
		v, j, ok := matchText(s, i, []string{"BC", "AD"})
		if ok {
			bc := v == 1
			pr.bc = &bc
		}
		return j, ok
	case 'Z':
		if t.n >= 3 {
			j := i
			for j < len(s) && (isIdentStartByte(s[j]) || isDigit(s[j]) || s[j] == '/' || s[j] == '-' || s[j] == '+') {
				j++
			}
			z, err := zoneForID(s[i:j])
			if err != nil {
				return i, false
			}
			pr.zone = z
			return j, true
		}
		if i < len(s) && s[i] == 'Z' {
			set(&pr.offset, 0)
			return i + 1, true
		}
		off, j, ok := parseOffset(s, i)
		if ok {
			set(&pr.offset, off)
		}
		return j, ok
	}
	// 'z': Joda cannot parse time zone names either.
	return i, false
}

func parseTwoDigitYear(s string, i int, lenient bool, dst **int64) (int, bool) {
	if lenient {
		j := i
		if j < len(s) && (s[j] == '-' || s[j] == '+') {
			j++
		}
		k := j
		for k < len(s) && k-j < 9 && isDigit(s[k]) {
			k++
		}
		// Anything but exactly two plain digits is taken as a full year.
		if k-j != 2 || j != i {
			v, next, ok := readNum(s, i, 9, true)
			if ok {
				*dst = &v
			}
			return next, ok
		}
	}
	v, j, ok := readNum(s, i, 2, false)
	if !ok || j-i != 2 {
		return i, false
	}
	low := int64(twoDigitYearPivot - 50)
	y := low - floorMod(low, 100) + v
	if y < low {
		y += 100
	}
	*dst = &y
	return j, true
}

func (pr *parsed) resolve(f *formatter) (int64, *zoneVal, error) {
	get := func(p *int64, def int64) int64 {
		if p == nil {
			return def
		}
		return *p
	}
	check := func(v, lo, hi int64, name string) error {
		if v < lo || v > hi {
			return errValue("value %d for %s must be in the range [%d,%d]", v, name, lo, hi)
		}
		return nil
	}
	year := get(pr.year, 1970)
	if pr.year == nil && pr.yearOfEra != nil {
		year = *pr.yearOfEra
		if pr.bc != nil && *pr.bc {
			year = 1 - year
		}
	}
	if err := check(year, -270000, 270000, "year"); err != nil {
		return 0, nil, err
	}
	var days int64
	switch {
	case pr.weekyear != nil || pr.week != nil:
		wy := get(pr.weekyear, year)
		if err := check(wy, -270000, 270000, "weekyear"); err != nil {
			return 0, nil, err
		}
		w, dow := get(pr.week, 1), get(pr.dow, 1)
		if err := check(w, 1, weeksInYear(wy), "weekOfWeekyear"); err != nil {
			return 0, nil, err
		}
		if err := check(dow, 1, 7, "dayOfWeek"); err != nil {
			return 0, nil, err
		}
		days = daysFromWeekDate(wy, w, dow)
	case pr.doy != nil:
		maxDoy := int64(365)
		if isLeap(year) {
			maxDoy = 366
		}
		if err := check(*pr.doy, 1, maxDoy, "dayOfYear"); err != nil {
			return 0, nil, err
		}
		days = daysFromCivil(year, 1, 1) + *pr.doy - 1
	default:
		m, d := get(pr.month, 1), get(pr.day, 1)
		if err := check(m, 1, 12, "monthOfYear"); err != nil {
			return 0, nil, err
		}
		if err := check(d, 1, daysInMonth(year, m), "dayOfMonth"); err != nil {
			return 0, nil, err
		}
		days = daysFromCivil(year, m, d)
		if pr.dow != nil {
			if err := check(*pr.dow, 1, 7, "dayOfWeek"); err != nil {
				return 0, nil, err
			}
			days += *pr.dow - isoDow(days)
		}
	}
	var hour int64
	switch {
	case pr.hour != nil:
		hour = *pr.hour
		if err := check(hour, 0, 23, "hourOfDay"); err != nil {
			return 0, nil, err
		}
	case pr.clockHour != nil:
		if err := check(*pr.clockHour, 1, 24, "clockhourOfDay"); err != nil {
			return 0, nil, err
		}
		hour = *pr.clockHour % 24
	case pr.hourOfHalf != nil:
		if err := check(*pr.hourOfHalf, 0, 11, "hourOfHalfday"); err != nil {
			return 0, nil, err
		}
		hour = *pr.hourOfHalf
	case pr.clockHourOfHalf != nil:
		if err := check(*pr.clockHourOfHalf, 1, 12, "clockhourOfHalfday"); err != nil {
			return 0, nil, err
		}
		hour = *pr.clockHourOfHalf % 12
	}
	if pr.pm != nil && pr.hour == nil && pr.clockHour == nil {
		hour %= 12
		if *pr.pm {
			hour += 12
		}
	}
	minute, second, millis := get(pr.minute, 0), get(pr.second, 0), get(pr.millis, 0)
	if err := check(minute, 0, 59, "minuteOfHour"); err != nil {
		return 0, nil, err
	}
	if err := check(second, 0, 59, "secondOfMinute"); err != nil {
		return 0, nil, err
	}
	local := days*msPerDay + hour*msPerHour + minute*msPerMinute + second*msPerSecond + millis
	resultZone := f.zone
	if resultZone == nil {
		resultZone = pr.zone
	}
	if resultZone == nil {
		resultZone = utcZone
	}
	if pr.offset != nil {
		return local - *pr.offset, resultZone, nil
	}
	z := pr.zone
	if z == nil {
		z = f.zone
	}
	if z == nil {
		z = utcZone
	}
	ms, err := z.toInstant(local, nil, true)
	return ms, resultZone, err
}
