package timetrigger

import (
	"fmt"
	"math/bits"
	"strings"
	"time"
)

// Field positions in a 6- or 7-field expression; a 5-field expression is
// the same without the leading second and the trailing year.
const (
	fSecond = iota
	fMinute
	fHour
	fDayOfMonth
	fMonth
	fDayOfWeek
	fYear
)

type fieldDef struct {
	name     string
	min, max int
	maxStep  int
	names    []string // names[i] is the field's lowest value plus i
}

var (
	monthNames = []string{"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"}
	dayNames   = []string{"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"}
)

// The step limits follow the library Maestro validates with: a step may not
// exceed the field's largest value, so "*/60" is as invalid for minutes as
// "60" is.
var fieldDefs = [...]fieldDef{
	fSecond:     {name: "second", min: 0, max: 59, maxStep: 59},
	fMinute:     {name: "minute", min: 0, max: 59, maxStep: 59},
	fHour:       {name: "hour", min: 0, max: 23, maxStep: 23},
	fDayOfMonth: {name: "day-of-month", min: 1, max: 31, maxStep: 31},
	fMonth:      {name: "month", min: 1, max: 12, maxStep: 12, names: monthNames},
	fDayOfWeek:  {name: "day-of-week", min: 0, max: 7, maxStep: 7, names: dayNames},
	fYear:       {name: "year", min: minYear, max: maxQuartzYear, maxStep: maxQuartzYear - minYear + 1},
}

const (
	minYear       = 1970
	maxQuartzYear = 2099
	// lastSearchYear bounds every search: a schedule with nothing to fire
	// before the end of this year is reported as never firing.
	lastSearchYear = 9999
	maxExprLen     = 4096
	// firstSearchUnix is 0001-01-01T00:00:00Z.
	firstSearchUnix = -62135596800
)

// Schedule is a parsed cron expression bound to a time zone. It is
// immutable and safe for concurrent use.
type Schedule struct {
	expr   string
	loc    *time.Location
	quartz bool

	seconds, minutes uint64
	hours            uint32
	months           uint16 // bit m for month m (1-12)
	years            []uint64
	anyYear          bool

	dom domSpec
	dow dowSpec

	// days[monthLength-28][weekday of the 1st] holds bit d for every day d
	// of such a month that matches. The day rules depend on nothing else, so
	// the search never evaluates them at run time.
	days  [4][7]uint32
	never bool
	// allHours decides the second pass through a repeated (fall-back) wall
	// hour: schedules that run every hour keep their real-time cadence
	// through it, all others fire once per wall time.
	allHours bool
}

type domSpec struct {
	star, question bool
	values         uint32 // bit d for day d
	fromLast       uint32 // bit k for "L-k" (bit 0 is plain "L")
	lastWeekday    bool   // "LW"
	nearest        uint32 // bit n for "nW"
}

type dowSpec struct {
	star, question bool
	values         uint8    // bit w for weekday w, Sunday = 0
	nth            [7]uint8 // nth[w] has bit n for "w#n"
	last           uint8    // bit w for "wL"
}

// ParseCron parses a cron expression the way Maestro does: five fields
// (minute hour day-of-month month day-of-week, Unix cron) or six or seven
// (second minute hour day-of-month month day-of-week [year], Quartz). loc is
// the zone the fields are read in; nil means UTC.
//
// Both forms take numbers, "*", lists ("1,5"), ranges ("1-5"), steps ("*/15",
// "5/15", "1-30/2") and month and weekday names (JAN-DEC, SUN-SAT, any
// case). In five fields weekdays run 0-7 with both 0 and 7 meaning Sunday,
// and when day-of-month and day-of-week are both restricted a day matching
// either one fires. In six or seven fields weekdays run 1-7 from Sunday,
// exactly one of day-of-month and day-of-week must be "?", and the Quartz
// forms L, L-n, nW and LW (day of month) and L, nL and n#k (day of week) are
// accepted. Ranges must ascend. Nicknames such as "@daily" are not cron
// expressions here; see ParsePredefined.
func ParseCron(expr string, loc *time.Location) (*Schedule, error) {
	if loc == nil {
		loc = time.UTC
	}
	if len(expr) > maxExprLen {
		return nil, fmt.Errorf("cron expression is longer than %d bytes", maxExprLen)
	}
	parts := strings.Fields(expr)
	if len(parts) == 0 {
		return nil, fmt.Errorf("cron expression is empty")
	}
	if strings.HasPrefix(parts[0], "@") {
		return nil, fmt.Errorf("cron expression %q: nicknames are not cron expressions; use a PREDEFINED trigger", expr)
	}
	s := &Schedule{expr: strings.Join(parts, " "), loc: loc, anyYear: true}
	var fields [7]string
	switch len(parts) {
	case 5:
		fields = [7]string{"0", parts[0], parts[1], parts[2], parts[3], parts[4], "*"}
	case 6, 7:
		s.quartz = true
		copy(fields[:], parts)
		if len(parts) == 6 {
			fields[fYear] = "*"
		}
	default:
		return nil, fmt.Errorf("cron expression %q has %d fields; expected 5 (minute hour day-of-month month day-of-week) or 6-7 (second minute hour day-of-month month day-of-week [year])", expr, len(parts))
	}
	for f := range fields {
		if err := s.parseField(f, fields[f]); err != nil {
			return nil, fmt.Errorf("cron expression %q: %w", expr, err)
		}
	}
	if s.quartz {
		switch {
		case s.dom.question && s.dow.question:
			return nil, fmt.Errorf("cron expression %q: day-of-month and day-of-week cannot both be \"?\"", expr)
		case !s.dom.question && !s.dow.question:
			return nil, fmt.Errorf("cron expression %q: one of day-of-month and day-of-week must be \"?\" in a %d-field expression", expr, len(parts))
		}
	}
	s.allHours = s.hours == 1<<24-1
	s.buildDays()
	return s, nil
}

// String returns the expression with its whitespace normalized.
func (s *Schedule) String() string { return s.expr }

// Location returns the zone the expression is read in.
func (s *Schedule) Location() *time.Location { return s.loc }

func (s *Schedule) parseField(f int, text string) error {
	def := &fieldDefs[f]
	if text == "?" {
		switch {
		case !s.quartz:
			return fmt.Errorf("%s field %q: \"?\" is only allowed in 6- or 7-field expressions", def.name, text)
		case f == fDayOfMonth:
			s.dom.question = true
			return nil
		case f == fDayOfWeek:
			s.dow.question = true
			return nil
		default:
			return fmt.Errorf("%s field %q: \"?\" is only allowed in the day-of-month and day-of-week fields", def.name, text)
		}
	}
	star := text == "*" || text == "*/1"
	if f == fYear && star {
		return nil
	}
	if f == fDayOfMonth {
		s.dom.star = star
	}
	if f == fDayOfWeek {
		s.dow.star = star
	}
	lo, hi := def.min, def.max
	if f == fDayOfWeek && s.quartz {
		lo = 1
	}
	for item := range strings.SplitSeq(text, ",") {
		if item == "" {
			return fmt.Errorf("%s field %q: empty list element", def.name, text)
		}
		handled, err := s.parseSpecial(f, strings.ToUpper(item))
		if err != nil {
			return fmt.Errorf("%s field %q: %w", def.name, text, err)
		}
		if handled {
			continue
		}
		from, to, step, err := parseTerm(def, item, lo, hi)
		if err != nil {
			return fmt.Errorf("%s field %q: %w", def.name, text, err)
		}
		for v := from; v <= to; v += step {
			s.set(f, v)
		}
	}
	return nil
}

// parseTerm reads "*", "v", "a-b", each optionally followed by "/step".
func parseTerm(def *fieldDef, item string, lo, hi int) (from, to, step int, err error) {
	base, stepText, hasStep := strings.Cut(item, "/")
	step = 1
	if hasStep {
		n, ok := atoi(stepText)
		if !ok {
			return 0, 0, 0, fmt.Errorf("step %q is not a number", stepText)
		}
		if n < 1 || n > def.maxStep {
			return 0, 0, 0, fmt.Errorf("step %d is out of range 1-%d", n, def.maxStep)
		}
		step = n
	}
	switch {
	case base == "*":
		return lo, hi, step, nil
	case base == "":
		if hasStep {
			return 0, 0, 0, fmt.Errorf("missing start before \"/\" in %q", item)
		}
		return 0, 0, 0, fmt.Errorf("empty value")
	}
	a, b, isRange := strings.Cut(base, "-")
	from, err = value(def, a, lo, hi)
	if err != nil {
		return 0, 0, 0, err
	}
	switch {
	case isRange:
		to, err = value(def, b, lo, hi)
		if err != nil {
			return 0, 0, 0, err
		}
		if from > to {
			return 0, 0, 0, fmt.Errorf("range %s descends; split it into two ascending ranges", base)
		}
	case hasStep:
		to = hi
	default:
		to = from
	}
	return from, to, step, nil
}

func value(def *fieldDef, text string, lo, hi int) (int, error) {
	if text == "" {
		return 0, fmt.Errorf("empty value")
	}
	for i, n := range def.names {
		if strings.EqualFold(text, n) {
			// Names count from the field's lowest value, so SUN is 0 in
			// five fields and 1 in six or seven, as each numbers it.
			return lo + i, nil
		}
	}
	n, ok := atoi(text)
	if !ok {
		if len(def.names) == 0 {
			return 0, fmt.Errorf("%q is not a number", text)
		}
		return 0, fmt.Errorf("%q is not a number or a %s name", text, def.name)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range %d-%d", n, lo, hi)
	}
	return n, nil
}

// atoi accepts only plain decimal digits: no signs, no spaces, nothing
// that could overflow.
func atoi(s string) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func (s *Schedule) set(f, v int) {
	switch f {
	case fSecond:
		s.seconds |= 1 << v
	case fMinute:
		s.minutes |= 1 << v
	case fHour:
		s.hours |= 1 << v
	case fDayOfMonth:
		s.dom.values |= 1 << v
	case fMonth:
		s.months |= 1 << v
	case fDayOfWeek:
		if s.quartz {
			v-- // Quartz SUN=1 becomes 0
		}
		s.dow.values |= 1 << (v % 7) // Unix 7 is Sunday too
	case fYear:
		if s.years == nil {
			s.years = make([]uint64, (maxQuartzYear-minYear)/64+1)
		}
		i := v - minYear
		s.years[i/64] |= 1 << (i % 64)
		s.anyYear = false
	}
}

// parseSpecial handles the Quartz day forms; it reports false for anything
// that is an ordinary term.
func (s *Schedule) parseSpecial(f int, item string) (bool, error) {
	if strings.Contains(item, "?") {
		return false, fmt.Errorf("%q: \"?\" must be the whole field", item)
	}
	var special bool
	switch f {
	case fDayOfMonth:
		special = strings.ContainsAny(item, "LW#")
	case fDayOfWeek:
		// No weekday name contains L or #; W (as in WED) is no Quartz
		// weekday form.
		special = strings.ContainsAny(item, "L#")
	case fMonth:
		return false, nil
	default:
		if strings.ContainsAny(item, "LW#") {
			return false, fmt.Errorf("%q: L, W and # are only allowed in the day-of-month and day-of-week fields", item)
		}
		return false, nil
	}
	if !special {
		return false, nil
	}
	if !s.quartz {
		return false, fmt.Errorf("%q: L, W and # are only allowed in 6- or 7-field expressions", item)
	}
	if f == fDayOfMonth {
		return true, s.parseDOMSpecial(item)
	}
	return true, s.parseDOWSpecial(item)
}

func (s *Schedule) parseDOMSpecial(item string) error {
	switch {
	case item == "L":
		s.dom.fromLast |= 1
	case item == "LW":
		s.dom.lastWeekday = true
	case strings.HasPrefix(item, "L-"):
		n, ok := atoi(item[2:])
		if !ok || n > 30 {
			return fmt.Errorf("%q: expected L-n with n from 0 to 30", item)
		}
		s.dom.fromLast |= 1 << n
	case strings.HasSuffix(item, "W") && !strings.Contains(item, "L"):
		n, ok := atoi(item[:len(item)-1])
		if !ok || n < 1 || n > 31 {
			return fmt.Errorf("%q: expected nW with n from 1 to 31", item)
		}
		s.dom.nearest |= 1 << n
	case strings.Contains(item, "#"):
		return fmt.Errorf("%q: \"#\" is only allowed in the day-of-week field", item)
	default:
		return fmt.Errorf("%q: expected L, L-n, LW or nW", item)
	}
	return nil
}

func (s *Schedule) parseDOWSpecial(item string) error {
	def := &fieldDefs[fDayOfWeek]
	switch {
	case strings.ContainsAny(item, "-/"):
		return fmt.Errorf("%q: L and # forms cannot be part of a range or step", item)
	case item == "L":
		// Alone, L is the last day of the week: Saturday.
		s.dow.values |= 1 << 6
	case strings.HasSuffix(item, "L") && !strings.Contains(item, "#"):
		v, err := value(def, item[:len(item)-1], 1, 7)
		if err != nil {
			return fmt.Errorf("%q: expected nL with n a weekday: %w", item, err)
		}
		s.dow.last |= 1 << (v - 1)
	case strings.Contains(item, "#") && !strings.Contains(item, "L"):
		a, b, _ := strings.Cut(item, "#")
		v, err := value(def, a, 1, 7)
		if err != nil {
			return fmt.Errorf("%q: expected d#n with d a weekday: %w", item, err)
		}
		n, ok := atoi(b)
		if !ok || n < 1 || n > 5 {
			return fmt.Errorf("%q: expected d#n with n from 1 to 5", item)
		}
		s.dow.nth[v-1] |= 1 << n
	default:
		return fmt.Errorf("%q: expected L, nL or d#n", item)
	}
	return nil
}

// buildDays evaluates the day rules once for every shape a month can have.
func (s *Schedule) buildDays() {
	fires := false
	for length := 28; length <= 31; length++ {
		for w1 := range 7 {
			var mask uint32
			for d := 1; d <= length; d++ {
				if s.dayMatches(d, length, w1) {
					mask |= 1 << d
				}
			}
			s.days[length-28][w1] = mask
		}
	}
	// Every month length occurs with every starting weekday within the
	// 400-year Gregorian cycle, so a day that can match in a permitted month
	// will match in some year; only the year field can still rule it out.
	for m := 1; m <= 12; m++ {
		if s.months&(1<<m) == 0 {
			continue
		}
		for _, length := range monthLengths(m) {
			for w1 := range 7 {
				if s.days[length-28][w1] != 0 {
					fires = true
				}
			}
		}
	}
	s.never = !fires
}

func monthLengths(m int) []int {
	switch m {
	case 2:
		return []int{28, 29}
	case 4, 6, 9, 11:
		return []int{30}
	}
	return []int{31}
}

func (s *Schedule) dayMatches(d, length, w1 int) bool {
	wd := (w1 + d - 1) % 7
	domOK := func() bool {
		if s.dom.values&(1<<d) != 0 {
			return true
		}
		if s.dom.fromLast&(1<<(length-d)) != 0 {
			return true
		}
		if s.dom.lastWeekday && d == lastWeekday(length, w1) {
			return true
		}
		for n := s.dom.nearest; n != 0; n &= n - 1 {
			if d == nearestWeekday(bits.TrailingZeros32(n), length, w1) {
				return true
			}
		}
		return false
	}
	dowOK := func() bool {
		if s.dow.values&(1<<wd) != 0 {
			return true
		}
		if s.dow.nth[wd]&(1<<((d-1)/7+1)) != 0 {
			return true
		}
		return s.dow.last&(1<<wd) != 0 && d+7 > length
	}
	switch {
	case s.quartz && s.dom.question:
		return dowOK()
	case s.quartz:
		return domOK()
	case s.dom.star && s.dow.star:
		return true
	case s.dom.star:
		return dowOK()
	case s.dow.star:
		return domOK()
	default:
		// Unix cron: both restricted means either may match.
		return domOK() || dowOK()
	}
}

func weekdayOf(d, w1 int) int { return (w1 + d - 1) % 7 }

func lastWeekday(length, w1 int) int {
	switch weekdayOf(length, w1) {
	case 6:
		return length - 1
	case 0:
		return length - 2
	}
	return length
}

// nearestWeekday is the Monday-Friday day closest to day n without leaving
// the month; 0 when the month has no day n.
func nearestWeekday(n, length, w1 int) int {
	if n > length {
		return 0
	}
	switch weekdayOf(n, w1) {
	case 6:
		if n == 1 {
			return 3
		}
		return n - 1
	case 0:
		if n == length {
			return n - 2
		}
		return n + 1
	}
	return n
}

// Next returns the first time strictly after `after` at which the schedule
// fires, in the schedule's zone, and false if it never fires again (nothing
// is searched past the end of year 9999).
//
// Wall times are read in the schedule's zone. A wall time skipped by a
// forward clock change fires as if the clock had not changed, that is
// later by the size of the jump (02:30 on a day the clock goes from 02:00 to
// 03:00 fires at 03:30), once. A wall time repeated by a backward change
// fires once, at its first occurrence, unless the schedule fires in every
// hour of the day, in which case it keeps firing through the repeated hour
// at its usual real-time pace.
func (s *Schedule) Next(after time.Time) (time.Time, bool) {
	if s == nil || s.never {
		return time.Time{}, false
	}
	if after.Year() > lastSearchYear {
		return time.Time{}, false
	}
	u := after.Unix() + 1 // fire times are whole seconds
	if u < firstSearchUnix {
		// Keeps the arithmetic far from int64 limits. The bound is an
		// instant: after's own year is local, and in a zone behind UTC the
		// first instant of year 1 (UTC) is still in year 0, which must not
		// move the search back to that instant itself.
		u = firstSearchUnix
	}
	var best int64
	found := false
	for range 4 * (lastSearchYear - minYear + 100) {
		if found && best < u {
			break
		}
		p := zonePeriod(s.loc, u)
		lo := u + int64(p.off)
		if p.hasStart {
			switch {
			case p.prevOff < p.off && u < p.start+int64(p.off-p.prevOff):
				// Wall times in the gap fire with the offset before it.
				gapLo := u + int64(p.prevOff)
				if w, st := s.nextWall(gapLo, p.start+int64(p.off), true); st == wallFound {
					if c := w - int64(p.prevOff); !found || c < best {
						best, found = c, true
					}
				}
			case p.prevOff > p.off && !s.allHours:
				// The repeated wall times already fired before the change.
				lo = max(lo, p.start+int64(p.prevOff))
			}
		}
		w, st := s.nextWall(lo, p.end+int64(p.off), p.hasEnd)
		if st == wallFound {
			if c := w - int64(p.off); !found || c < best {
				best, found = c, true
			}
		}
		if found && (!p.hasEnd || best < p.end) {
			break
		}
		if st == wallNever || !p.hasEnd {
			break
		}
		u = p.end
	}
	if !found {
		return time.Time{}, false
	}
	return time.Unix(best, 0).In(s.loc), true
}

// period is a span of instants over which a zone's UTC offset is constant.
type period struct {
	off      int   // offset in force
	start    int64 // first instant, when hasStart
	prevOff  int   // offset just before start
	end      int64 // first instant after, when hasEnd
	hasStart bool
	hasEnd   bool
}

// zonePeriod returns the period around u. It trusts the location's offsets
// but only checks its reported bounds: past the end of a zone's transition
// table time.Time.ZoneBounds can report an end at or before u near the end
// of a leap year, and it splits periods at year ends without an offset
// change. A split is harmless here; an end that does not advance is
// replaced by the next day, or the offset change found within it.
func zonePeriod(loc *time.Location, u int64) period {
	t := time.Unix(u, 0).In(loc)
	_, off := t.Zone()
	p := period{off: off}
	start, end := t.ZoneBounds()
	if !start.IsZero() && start.Unix() <= u {
		p.start, p.hasStart = start.Unix(), true
		p.prevOff = offsetAt(loc, p.start-1)
	}
	if !end.IsZero() {
		p.end, p.hasEnd = end.Unix(), true
		if p.end <= u {
			p.end = u + 86400
			if offsetAt(loc, p.end) != off {
				lo, hi := u, p.end // offset is off at lo and differs at hi
				for hi-lo > 1 {
					mid := lo + (hi-lo)/2
					if offsetAt(loc, mid) == off {
						lo = mid
					} else {
						hi = mid
					}
				}
				p.end = hi
			}
		}
	}
	return p
}

func offsetAt(loc *time.Location, u int64) int {
	_, off := time.Unix(u, 0).In(loc).Zone()
	return off
}

type wallStatus int

const (
	wallFound wallStatus = iota
	wallBeyond
	wallNever
)

// nextWall finds the first matching wall time at or after lo (wall times
// are seconds since 1970-01-01T00:00:00 read as if in UTC), stopping at hi
// when bounded. Each step jumps to the next candidate of the first field
// that fails, so the cost grows with the number of months without a match,
// not with the time covered.
func (s *Schedule) nextWall(lo, hi int64, bounded bool) (int64, wallStatus) {
	days := floorDiv(lo, 86400)
	sod := int(lo - days*86400)
	y, mo, d := civilFromDays(days)
	h, mi, se := sod/3600, sod/60%60, sod%60
	for range 1 << 16 {
		if se > 59 {
			se, mi = 0, mi+1
		}
		if mi > 59 {
			mi, h = 0, h+1
		}
		if h > 23 {
			h, d = 0, d+1
		}
		if d > daysIn(y, mo) {
			d, mo = 1, mo+1
		}
		if mo > 12 {
			mo, y = 1, y+1
		}
		if y > lastSearchYear {
			return 0, wallNever
		}
		if bounded && wallSeconds(y, mo, d, h, mi, se) >= hi {
			return 0, wallBeyond
		}
		if !s.yearOK(y) {
			ny, ok := s.nextYear(y)
			if !ok {
				return 0, wallNever
			}
			y, mo, d, h, mi, se = ny, 1, 1, 0, 0, 0
			continue
		}
		if s.months&(1<<mo) == 0 {
			m2, ok := nextBit(uint64(s.months), mo)
			if !ok {
				y, mo, d, h, mi, se = y+1, 1, 1, 0, 0, 0
			} else {
				mo, d, h, mi, se = m2, 1, 0, 0, 0
			}
			continue
		}
		length := daysIn(y, mo)
		mask := s.days[length-28][weekday(y, mo, 1)]
		d2, ok := nextBit(uint64(mask), d)
		if !ok {
			mo, d, h, mi, se = mo+1, 1, 0, 0, 0
			continue
		}
		if d2 != d {
			d, h, mi, se = d2, 0, 0, 0
		}
		h2, ok := nextBit(uint64(s.hours), h)
		if !ok {
			d, h, mi, se = d+1, 0, 0, 0
			continue
		}
		if h2 != h {
			h, mi, se = h2, 0, 0
		}
		mi2, ok := nextBit(s.minutes, mi)
		if !ok {
			h, mi, se = h+1, 0, 0
			continue
		}
		if mi2 != mi {
			mi, se = mi2, 0
		}
		se2, ok := nextBit(s.seconds, se)
		if !ok {
			mi, se = mi+1, 0
			continue
		}
		w := wallSeconds(y, mo, d, h, mi, se2)
		if bounded && w >= hi {
			return 0, wallBeyond
		}
		return w, wallFound
	}
	return 0, wallNever
}

func (s *Schedule) yearOK(y int) bool {
	if s.anyYear {
		return true
	}
	i := y - minYear
	return i >= 0 && i <= maxQuartzYear-minYear && s.years[i/64]&(1<<(i%64)) != 0
}

// nextYear returns the first permitted year after y.
func (s *Schedule) nextYear(y int) (int, bool) {
	for i := max(y+1-minYear, 0); i <= maxQuartzYear-minYear; i++ {
		if w := s.years[i/64] >> (i % 64); w != 0 {
			return minYear + i + bits.TrailingZeros64(w), true
		}
		i |= 63 // the word is empty from here on
	}
	return 0, false
}

// nextBit returns the lowest set bit of set at or above from.
func nextBit(set uint64, from int) (int, bool) {
	if from > 63 {
		return 0, false
	}
	rest := set >> from << from
	if rest == 0 {
		return 0, false
	}
	return bits.TrailingZeros64(rest), true
}

// minGap is the shortest time between two fire times on the same or
// adjacent days, ignoring clock changes. It assumes every day may fire,
// which can only make it shorter than the truth.
func (s *Schedule) minGap() time.Duration {
	secs := setBits(s.seconds)
	mins := setBits(s.minutes)
	hrs := setBits(uint64(s.hours))
	gap := 86400 // a single fire time per day
	span := func(set []int) (lo, hi, step int) {
		step = 1 << 30
		for i := 1; i < len(set); i++ {
			step = min(step, set[i]-set[i-1])
		}
		return set[0], set[len(set)-1], step
	}
	sLo, sHi, sStep := span(secs)
	mLo, mHi, mStep := span(mins)
	hLo, hHi, hStep := span(hrs)
	if len(secs) > 1 {
		gap = min(gap, sStep)
	}
	if len(mins) > 1 {
		gap = min(gap, mStep*60-(sHi-sLo))
	}
	inHour := (mHi*60 + sHi) - (mLo*60 + sLo)
	if len(hrs) > 1 {
		gap = min(gap, hStep*3600-inHour)
	}
	gap = min(gap, (24-hHi+hLo)*3600-inHour)
	return time.Duration(gap) * time.Second
}

func setBits(set uint64) []int {
	var out []int
	for ; set != 0; set &= set - 1 {
		out = append(out, bits.TrailingZeros64(set))
	}
	return out
}

// Calendar arithmetic on proleptic Gregorian dates, done here rather than
// through time.Date so the search allocates nothing and never normalizes a
// date behind our back.

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// civilFromDays converts days since 1970-01-01 to a date.
func civilFromDays(z int64) (y, m, d int) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	yy := yoe + era*400
	if m <= 2 {
		yy++
	}
	return int(yy), m, d
}

// daysFromCivil converts a date to days since 1970-01-01.
func daysFromCivil(y, m, d int) int64 {
	yy := int64(y)
	if m <= 2 {
		yy--
	}
	era := floorDiv(yy, 400)
	yoe := yy - era*400
	mp := int64(m+9) % 12
	doy := (153*mp+2)/5 + int64(d) - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func wallSeconds(y, mo, d, h, mi, se int) int64 {
	return daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+se)
}

// weekday returns 0 for Sunday.
func weekday(y, m, d int) int {
	return int((daysFromCivil(y, m, d)%7 + 11) % 7) // 1970-01-01 was a Thursday
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(y, m int) int {
	switch m {
	case 2:
		if isLeap(y) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

var predefined = map[string]string{
	"HOURLY":  "0 * * * *",
	"DAILY":   "0 0 * * *",
	"WEEKLY":  "0 0 * * 0",
	"MONTHLY": "0 0 1 * *",
	"YEARLY":  "0 0 1 1 *",
}

// ParsePredefined parses one of Maestro's predefined schedules: @hourly
// (minute 0 of every hour), @daily (midnight), @weekly (midnight starting
// Sunday), @monthly (midnight starting the 1st) and @yearly (midnight
// starting January 1st). As in Maestro the "@" is optional and case does not
// matter; @annually and @midnight are not among them. loc nil means UTC.
func ParsePredefined(expr string, loc *time.Location) (*Schedule, error) {
	name := strings.ToUpper(strings.TrimPrefix(expr, "@"))
	cron, ok := predefined[name]
	if !ok {
		return nil, fmt.Errorf("unknown predefined schedule %q; expected one of @hourly, @daily, @weekly, @monthly, @yearly", expr)
	}
	s, err := ParseCron(cron, loc)
	if err != nil {
		return nil, err
	}
	s.expr = "@" + strings.ToLower(name)
	return s, nil
}
