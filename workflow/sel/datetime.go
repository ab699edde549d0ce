package sel

import (
	"strconv"
	"strings"
	"sync"
	"time"

	// Zone data travels with the binary so DateTimeZone.forID works in a
	// container without /usr/share/zoneinfo.
	_ "time/tzdata"
)

const (
	msPerSecond = 1000
	msPerMinute = 60 * msPerSecond
	msPerHour   = 60 * msPerMinute
	msPerDay    = 24 * msPerHour

	// maxMillis bounds DateTime instants to about ±273,000 years, far
	// inside int64, so that no date arithmetic below can overflow.
	maxMillis = 8_640_000_000_000_000
)

func floorDiv(a, b int64) int64 {
	q := a / b
	if (a%b != 0) && ((a < 0) != (b < 0)) {
		q--
	}
	return q
}

func floorMod(a, b int64) int64 { return a - floorDiv(a, b)*b }

// daysFromCivil counts days from 1970-01-01 to the given proleptic
// Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := floorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := floorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysInMonth(y, m int64) int64 {
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

// isoDow is the ISO day of week, Monday 1 to Sunday 7.
func isoDow(days int64) int64 { return floorMod(days+3, 7) + 1 }

func isoWeek(days int64) (weekyear, week int64) {
	thursday := days - isoDow(days) + 4
	y, _, _ := civilFromDays(thursday)
	return y, (thursday-daysFromCivil(y, 1, 1))/7 + 1
}

func weeksInYear(wy int64) int64 {
	_, w := isoWeek(daysFromCivil(wy, 12, 28))
	return w
}

func daysFromWeekDate(wy, w, dow int64) int64 {
	jan4 := daysFromCivil(wy, 1, 4)
	return jan4 - (isoDow(jan4) - 1) + (w-1)*7 + dow - 1
}

// Zones.

type zoneVal struct {
	id     string
	loc    *time.Location // nil for a fixed offset
	offset int64          // the fixed offset in ms when loc is nil
}

var utcZone = &zoneVal{id: "UTC"}

var zoneCache sync.Map // id -> *zoneVal

func zoneForID(id string) (*zoneVal, error) {
	if id == "UTC" {
		return utcZone, nil
	}
	if z, ok := zoneCache.Load(id); ok {
		return z.(*zoneVal), nil
	}
	z, err := loadZone(id)
	if err != nil {
		return nil, err
	}
	zoneCache.Store(id, z)
	return z, nil
}

func loadZone(id string) (*zoneVal, error) {
	if id == "" {
		return nil, errValue("empty time zone id")
	}
	if id[0] == '+' || id[0] == '-' {
		off, n, ok := parseOffset(id, 0)
		if !ok || n != len(id) {
			return nil, errValue("the time zone id %q is not recognised", id)
		}
		if off == 0 {
			return utcZone, nil
		}
		return &zoneVal{id: formatOffset(off, true), offset: off}, nil
	}
	valid := len(id) <= 64 && id != "Local" && !strings.Contains(id, "..") && id[0] != '/'
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '/' || r == '_' || r == '-' || r == '+') {
			valid = false
		}
	}
	if !valid {
		return nil, errValue("the time zone id %q is not recognised", id)
	}
	loc, err := time.LoadLocation(id)
	if err != nil {
		return nil, errValue("the time zone id %q is not recognised", id)
	}
	return &zoneVal{id: id, loc: loc}, nil
}

// parseOffset reads ±HH, ±HHmm or ±HH:mm at s[i:], returning the offset in
// ms and the index after it.
func parseOffset(s string, i int) (int64, int, bool) {
	if i >= len(s) || (s[i] != '+' && s[i] != '-') {
		return 0, i, false
	}
	neg := s[i] == '-'
	j := i + 1
	two := func() (int64, bool) {
		if j+2 > len(s) || !isDigit(s[j]) || !isDigit(s[j+1]) {
			return 0, false
		}
		v := int64(s[j]-'0')*10 + int64(s[j+1]-'0')
		j += 2
		return v, true
	}
	h, ok := two()
	if !ok || h > 23 {
		return 0, i, false
	}
	var m int64
	if j < len(s) && s[j] == ':' {
		j++
		if m, ok = two(); !ok {
			return 0, i, false
		}
	} else if j+1 < len(s) && isDigit(s[j]) && isDigit(s[j+1]) {
		m, _ = two()
	}
	if m > 59 {
		return 0, i, false
	}
	off := h*msPerHour + m*msPerMinute
	if neg {
		off = -off
	}
	return off, j, true
}

func formatOffset(off int64, colon bool) string {
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	h := off / msPerHour
	m := off % msPerHour / msPerMinute
	b := []byte{sign, byte('0' + h/10), byte('0' + h%10)}
	if colon {
		b = append(b, ':')
	}
	return string(append(b, byte('0'+m/10), byte('0'+m%10)))
}

func (z *zoneVal) offsetAt(ms int64) int64 {
	if z.loc == nil {
		return z.offset
	}
	_, off := time.UnixMilli(ms).In(z.loc).Zone()
	return int64(off) * msPerSecond
}

func (z *zoneVal) abbrev(ms int64) string {
	if z.loc == nil {
		if z.offset == 0 {
			return "UTC"
		}
		return z.id
	}
	name, _ := time.UnixMilli(ms).In(z.loc).Zone()
	return name
}

// toInstant turns local wall-clock millis into an instant. In an overlap
// it takes the hinted offset when that fits, else the earlier instant. In
// a gap it moves forward by the length of the gap, unless strict, when the
// local time is an error as it is for Joda.
func (z *zoneVal) toInstant(local int64, hint *int64, strict bool) (int64, error) {
	if z.loc == nil {
		return local - z.offset, nil
	}
	before := z.offsetAt(local - 2*msPerDay)
	cands := []int64{before, z.offsetAt(local), z.offsetAt(local + 2*msPerDay)}
	if hint != nil {
		if z.offsetAt(local-*hint) == *hint {
			return local - *hint, nil
		}
	}
	best, found := int64(0), false
	for _, o := range cands {
		if z.offsetAt(local-o) == o && (!found || local-o < best) {
			best, found = local-o, true
		}
	}
	if found {
		return best, nil
	}
	if strict {
		return 0, errValue("illegal instant: the local time does not exist in zone %s (daylight saving gap)", z.id)
	}
	return local - before, nil
}

func (in *interp) callZoneStatic(name string, args []Value) (Value, error) {
	switch {
	case name == "forID" && len(args) == 1:
		id, err := argString("DateTimeZone.forID", args, 0)
		if err != nil {
			return nil, err
		}
		return zoneForID(id)
	case name == "forOffsetHours" && len(args) == 1:
		h, err := argInt("DateTimeZone.forOffsetHours", args, 0)
		if err != nil {
			return nil, err
		}
		return fixedZone(h * msPerHour)
	case name == "forOffsetHoursMinutes" && len(args) == 2:
		h, err := argInt("DateTimeZone.forOffsetHoursMinutes", args, 0)
		if err != nil {
			return nil, err
		}
		m, err := argInt("DateTimeZone.forOffsetHoursMinutes", args, 1)
		if err != nil {
			return nil, err
		}
		if m < 0 || m > 59 {
			return nil, errValue("minutes out of range: %d", m)
		}
		off := h*msPerHour + m*msPerMinute
		if h < 0 {
			off = h*msPerHour - m*msPerMinute
		}
		return fixedZone(off)
	}
	return nil, noMethod(&classRef{name: "DateTimeZone"}, name, args)
}

func fixedZone(off int64) (Value, error) {
	if off <= -24*msPerHour || off >= 24*msPerHour {
		return nil, errValue("offset out of range")
	}
	if off == 0 {
		return utcZone, nil
	}
	return &zoneVal{id: formatOffset(off, true), offset: off}, nil
}

func (in *interp) callZone(z *zoneVal, name string, args []Value) (Value, error) {
	switch {
	case (name == "getID" || name == "toString") && len(args) == 0:
		return z.id, nil
	case name == "getOffset" && len(args) == 1:
		switch x := args[0].(type) {
		case *dateTime:
			return z.offsetAt(x.ms), nil
		case int64:
			if x < -maxMillis || x > maxMillis {
				return nil, errValue("instant %d is out of the supported range", x)
			}
			return z.offsetAt(x), nil
		case nil:
			now, err := in.now()
			if err != nil {
				return nil, err
			}
			return z.offsetAt(now.(int64)), nil
		}
		return nil, errValue("DateTimeZone.getOffset needs a DateTime or a long, not %s", typeName(args[0]))
	}
	return in.callZoneStatic(name, args)
}

// DateTime.

type dateTime struct {
	ms   int64
	zone *zoneVal
}

func newDT(ms int64, z *zoneVal) (*dateTime, error) {
	if ms < -maxMillis || ms > maxMillis {
		return nil, errValue("DateTime out of the supported range")
	}
	if z == nil {
		z = utcZone
	}
	return &dateTime{ms: ms, zone: z}, nil
}

func (dt *dateTime) offset() int64 { return dt.zone.offsetAt(dt.ms) }
func (dt *dateTime) local() int64  { return dt.ms + dt.offset() }

// localParts splits local time into days since the epoch and millis of day.
func (dt *dateTime) localParts() (days, msOfDay int64) {
	l := dt.local()
	return floorDiv(l, msPerDay), floorMod(l, msPerDay)
}

func (dt *dateTime) plusMillis(d int64) (*dateTime, error) {
	if d < -2*maxMillis || d > 2*maxMillis {
		return nil, errValue("DateTime out of the supported range")
	}
	return newDT(dt.ms+d, dt.zone)
}

// plusLocal adds calendar years, months and days in the DateTime's zone,
// keeping the wall-clock time and clamping the day to the month's end.
func (dt *dateTime) plusLocal(years, months, days int64) (*dateTime, error) {
	if years < -1e6 || years > 1e6 || months < -1e7 || months > 1e7 || days < -1e9 || days > 1e9 {
		return nil, errValue("DateTime out of the supported range")
	}
	d, msOfDay := dt.localParts()
	if years != 0 || months != 0 {
		y, m, dd := civilFromDays(d)
		tm := y*12 + (m - 1) + years*12 + months
		y, m = floorDiv(tm, 12), floorMod(tm, 12)+1
		dd = min(dd, daysInMonth(y, m))
		d = daysFromCivil(y, m, dd)
	}
	d += days
	if d < -maxMillis/msPerDay || d > maxMillis/msPerDay {
		return nil, errValue("DateTime out of the supported range")
	}
	ms, err := dt.zone.toInstant(d*msPerDay+msOfDay, nil, false)
	if err != nil {
		return nil, err
	}
	return newDT(ms, dt.zone)
}

func (dt *dateTime) withLocal(days, msOfDay int64) (*dateTime, error) {
	if days < -maxMillis/msPerDay || days > maxMillis/msPerDay {
		return nil, errValue("DateTime out of the supported range")
	}
	hint := dt.offset()
	ms, err := dt.zone.toInstant(days*msPerDay+msOfDay, &hint, true)
	if err != nil {
		return nil, err
	}
	return newDT(ms, dt.zone)
}

var monthNames = []string{"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December"}
var dayNames = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func (dt *dateTime) isoString() string {
	days, msOfDay := dt.localParts()
	y, m, d := civilFromDays(days)
	var sb strings.Builder
	writeNum(&sb, y, 4)
	sb.WriteByte('-')
	writeNum(&sb, m, 2)
	sb.WriteByte('-')
	writeNum(&sb, d, 2)
	sb.WriteByte('T')
	writeNum(&sb, msOfDay/msPerHour, 2)
	sb.WriteByte(':')
	writeNum(&sb, msOfDay%msPerHour/msPerMinute, 2)
	sb.WriteByte(':')
	writeNum(&sb, msOfDay%msPerMinute/msPerSecond, 2)
	sb.WriteByte('.')
	writeNum(&sb, msOfDay%msPerSecond, 3)
	if off := dt.offset(); off == 0 {
		sb.WriteByte('Z')
	} else {
		sb.WriteString(formatOffset(off, true))
	}
	return sb.String()
}

func writeNum(sb *strings.Builder, v int64, width int) {
	if v < 0 {
		sb.WriteByte('-')
		v = -v
	}
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		sb.WriteByte('0')
	}
	sb.WriteString(s)
}

// dtField names the DateTime fields that have getters, setters and
// property objects.
type dtField uint8

const (
	fYear dtField = iota
	fWeekyear
	fWeekOfWeekyear
	fDayOfYear
	fMonthOfYear
	fDayOfMonth
	fDayOfWeek
	fHourOfDay
	fMinuteOfDay
	fMinuteOfHour
	fSecondOfDay
	fSecondOfMinute
	fMillisOfDay
	fMillisOfSecond
)

var fieldNames = map[string]dtField{
	"year": fYear, "weekyear": fWeekyear, "weekOfWeekyear": fWeekOfWeekyear,
	"dayOfYear": fDayOfYear, "monthOfYear": fMonthOfYear, "dayOfMonth": fDayOfMonth,
	"dayOfWeek": fDayOfWeek, "hourOfDay": fHourOfDay, "minuteOfDay": fMinuteOfDay,
	"minuteOfHour": fMinuteOfHour, "secondOfDay": fSecondOfDay,
	"secondOfMinute": fSecondOfMinute, "millisOfDay": fMillisOfDay,
	"millisOfSecond": fMillisOfSecond,
}

func (f dtField) name() string {
	for n, g := range fieldNames {
		if g == f {
			return n
		}
	}
	return "?"
}

// fieldFromMethod maps getYear, withYear and the like to their field.
func fieldFromMethod(prefix, method string) (dtField, bool) {
	rest, ok := strings.CutPrefix(method, prefix)
	if !ok || rest == "" {
		return 0, false
	}
	f, ok := fieldNames[strings.ToLower(rest[:1])+rest[1:]]
	return f, ok
}

func (dt *dateTime) get(f dtField) int64 {
	days, msOfDay := dt.localParts()
	return getField(f, days, msOfDay)
}

func getField(f dtField, days, msOfDay int64) int64 {
	switch f {
	case fYear:
		y, _, _ := civilFromDays(days)
		return y
	case fWeekyear:
		wy, _ := isoWeek(days)
		return wy
	case fWeekOfWeekyear:
		_, w := isoWeek(days)
		return w
	case fDayOfYear:
		y, _, _ := civilFromDays(days)
		return days - daysFromCivil(y, 1, 1) + 1
	case fMonthOfYear:
		_, m, _ := civilFromDays(days)
		return m
	case fDayOfMonth:
		_, _, d := civilFromDays(days)
		return d
	case fDayOfWeek:
		return isoDow(days)
	case fHourOfDay:
		return msOfDay / msPerHour
	case fMinuteOfDay:
		return msOfDay / msPerMinute
	case fMinuteOfHour:
		return msOfDay % msPerHour / msPerMinute
	case fSecondOfDay:
		return msOfDay / msPerSecond
	case fSecondOfMinute:
		return msOfDay % msPerMinute / msPerSecond
	case fMillisOfDay:
		return msOfDay
	case fMillisOfSecond:
		return msOfDay % msPerSecond
	}
	return 0
}

// fieldRange is the valid range of f for the date the DateTime is on.
func (dt *dateTime) fieldRange(f dtField) (int64, int64) {
	days, _ := dt.localParts()
	y, m, _ := civilFromDays(days)
	switch f {
	case fYear, fWeekyear:
		return -270000, 270000
	case fWeekOfWeekyear:
		wy, _ := isoWeek(days)
		return 1, weeksInYear(wy)
	case fDayOfYear:
		if isLeap(y) {
			return 1, 366
		}
		return 1, 365
	case fMonthOfYear:
		return 1, 12
	case fDayOfMonth:
		return 1, daysInMonth(y, m)
	case fDayOfWeek:
		return 1, 7
	case fHourOfDay:
		return 0, 23
	case fMinuteOfDay:
		return 0, 24*60 - 1
	case fMinuteOfHour, fSecondOfMinute:
		return 0, 59
	case fSecondOfDay:
		return 0, 24*60*60 - 1
	case fMillisOfDay:
		return 0, msPerDay - 1
	case fMillisOfSecond:
		return 0, 999
	}
	return 0, 0
}

// set returns a copy with field f set to v, as Joda's withXxx methods do:
// out-of-range values and local times that fall in a DST gap are errors.
func (dt *dateTime) set(f dtField, v int64) (*dateTime, error) {
	lo, hi := dt.fieldRange(f)
	if v < lo || v > hi {
		return nil, errValue("value %d for %s must be in the range [%d,%d]", v, f.name(), lo, hi)
	}
	days, msOfDay := dt.localParts()
	y, m, d := civilFromDays(days)
	switch f {
	case fYear:
		days = daysFromCivil(v, m, min(d, daysInMonth(v, m)))
	case fWeekyear:
		_, w := isoWeek(days)
		days = daysFromWeekDate(v, min(w, weeksInYear(v)), isoDow(days))
	case fWeekOfWeekyear:
		wy, _ := isoWeek(days)
		days = daysFromWeekDate(wy, v, isoDow(days))
	case fDayOfYear:
		days = daysFromCivil(y, 1, 1) + v - 1
	case fMonthOfYear:
		days = daysFromCivil(y, v, min(d, daysInMonth(y, v)))
	case fDayOfMonth:
		days = daysFromCivil(y, m, v)
	case fDayOfWeek:
		days += v - isoDow(days)
	case fHourOfDay:
		msOfDay = v*msPerHour + msOfDay%msPerHour
	case fMinuteOfDay:
		msOfDay = v*msPerMinute + msOfDay%msPerMinute
	case fMinuteOfHour:
		msOfDay = msOfDay/msPerHour*msPerHour + v*msPerMinute + msOfDay%msPerMinute
	case fSecondOfDay:
		msOfDay = v*msPerSecond + msOfDay%msPerSecond
	case fSecondOfMinute:
		msOfDay = msOfDay/msPerMinute*msPerMinute + v*msPerSecond + msOfDay%msPerSecond
	case fMillisOfDay:
		msOfDay = v
	case fMillisOfSecond:
		msOfDay = msOfDay/msPerSecond*msPerSecond + v
	}
	return dt.withLocal(days, msOfDay)
}

// daysBetween counts whole days from a to b on the wall clock of a's zone,
// as Joda's Days.daysBetween does.
func daysBetween(a, b *dateTime) int64 {
	z := a.zone
	la := a.ms + z.offsetAt(a.ms)
	lb := b.ms + z.offsetAt(b.ms)
	return (lb - la) / msPerDay
}

func (in *interp) newDateTime(args []Value) (Value, error) {
	zoneArg := func(v Value) (*zoneVal, error) {
		switch z := v.(type) {
		case nil:
			return utcZone, nil
		case *zoneVal:
			return z, nil
		}
		return nil, errValue("new DateTime: expected a DateTimeZone, not %s", typeName(v))
	}
	instant := func(v Value, z *zoneVal) (Value, error) {
		switch x := v.(type) {
		case int64:
			return newDT(x, z)
		case *dateTime:
			return newDT(x.ms, z)
		case string:
			ms, err := parseISO(x, z)
			if err != nil {
				return nil, err
			}
			return newDT(ms, z)
		case nil:
			now, err := in.now()
			if err != nil {
				return nil, err
			}
			return newDT(now.(int64), z)
		}
		return nil, errValue("new DateTime: cannot make a DateTime from %s", typeName(v))
	}
	switch len(args) {
	case 0:
		return instant(nil, utcZone)
	case 1:
		return instant(args[0], utcZone)
	case 2:
		z, err := zoneArg(args[1])
		if err != nil {
			return nil, err
		}
		return instant(args[0], z)
	case 5, 6, 7, 8:
		z := utcZone
		n := len(args)
		if zv, ok := args[n-1].(*zoneVal); ok {
			z = zv
			n--
		} else if n == 8 {
			return nil, errValue("new DateTime: argument 8 must be a DateTimeZone, not %s", typeName(args[7]))
		}
		if n < 5 {
			return nil, errValue("new DateTime does not take %d argument(s)", len(args))
		}
		var f [7]int64
		for i := range n {
			v, err := argInt("new DateTime", args, i)
			if err != nil {
				return nil, err
			}
			f[i] = v
		}
		ms, err := fieldsToInstant(z, f[0], f[1], f[2], f[3], f[4], f[5], f[6])
		if err != nil {
			return nil, err
		}
		return newDT(ms, z)
	}
	return nil, errValue("new DateTime does not take %d argument(s)", len(args))
}

func fieldsToInstant(z *zoneVal, y, mo, d, h, mi, s, ms int64) (int64, error) {
	check := func(v, lo, hi int64, name string) error {
		if v < lo || v > hi {
			return errValue("value %d for %s must be in the range [%d,%d]", v, name, lo, hi)
		}
		return nil
	}
	for _, c := range []error{
		check(y, -270000, 270000, "year"),
		check(mo, 1, 12, "monthOfYear"),
		check(h, 0, 23, "hourOfDay"),
		check(mi, 0, 59, "minuteOfHour"),
		check(s, 0, 59, "secondOfMinute"),
		check(ms, 0, 999, "millisOfSecond"),
	} {
		if c != nil {
			return 0, c
		}
	}
	if err := check(d, 1, daysInMonth(y, mo), "dayOfMonth"); err != nil {
		return 0, err
	}
	local := daysFromCivil(y, mo, d)*msPerDay + h*msPerHour + mi*msPerMinute + s*msPerSecond + ms
	return z.toInstant(local, nil, true)
}

// parseISO reads the ISO-8601 forms new DateTime(String) accepts:
// yyyy[-MM[-dd]][Thh[:mm[:ss[.fff]]]][Z|±hh[:mm]]. Without an offset the
// time is local to z.
func parseISO(s string, z *zoneVal) (int64, error) {
	bad := func() (int64, error) { return 0, errValue("invalid ISO date-time %q", s) }
	i := 0
	num := func(minDigits, maxDigits int) (int64, bool) {
		j := i
		for j < len(s) && j-i < maxDigits && isDigit(s[j]) {
			j++
		}
		if j-i < minDigits {
			return 0, false
		}
		v, _ := strconv.ParseInt(s[i:j], 10, 64)
		i = j
		return v, true
	}
	neg := false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	y, ok := num(4, 6)
	if !ok {
		return bad()
	}
	if neg {
		y = -y
	}
	mo, d := int64(1), int64(1)
	if i < len(s) && s[i] == '-' {
		i++
		if mo, ok = num(2, 2); !ok {
			return bad()
		}
		if i < len(s) && s[i] == '-' {
			i++
			if d, ok = num(2, 2); !ok {
				return bad()
			}
		}
	}
	var h, mi, sec, ms int64
	if i < len(s) && s[i] == 'T' {
		i++
		if h, ok = num(2, 2); !ok {
			return bad()
		}
		if i < len(s) && s[i] == ':' {
			i++
			if mi, ok = num(2, 2); !ok {
				return bad()
			}
			if i < len(s) && s[i] == ':' {
				i++
				if sec, ok = num(2, 2); !ok {
					return bad()
				}
				if i < len(s) && (s[i] == '.' || s[i] == ',') {
					i++
					start := i
					for i < len(s) && isDigit(s[i]) && i-start < 9 {
						i++
					}
					frac := s[start:i]
					if frac == "" {
						return bad()
					}
					frac = (frac + "00")[:3]
					ms, _ = strconv.ParseInt(frac, 10, 64)
				}
			}
		}
	}
	var off *int64
	if i < len(s) && s[i] == 'Z' {
		i++
		zero := int64(0)
		off = &zero
	} else if i < len(s) && (s[i] == '+' || s[i] == '-') {
		o, j, ok := parseOffset(s, i)
		if !ok {
			return bad()
		}
		i = j
		off = &o
	}
	if i != len(s) {
		return bad()
	}
	if off != nil {
		inst, err := fieldsToInstant(utcZone, y, mo, d, h, mi, sec, ms)
		return inst - *off, err
	}
	return fieldsToInstant(z, y, mo, d, h, mi, sec, ms)
}

var plusUnits = map[string]struct {
	years, months, days, millis int64
}{
	"Years": {years: 1}, "Months": {months: 1}, "Weeks": {days: 7}, "Days": {days: 1},
	"Hours": {millis: msPerHour}, "Minutes": {millis: msPerMinute},
	"Seconds": {millis: msPerSecond}, "Millis": {millis: 1},
}

func (in *interp) callDateTime(dt *dateTime, name string, args []Value) (Value, error) {
	fn := "DateTime." + name
	if len(args) == 1 {
		for _, prefix := range []string{"plus", "minus"} {
			unit, ok := strings.CutPrefix(name, prefix)
			if !ok {
				continue
			}
			u, ok := plusUnits[unit]
			if !ok {
				break
			}
			n, err := argInt(fn, args, 0)
			if err != nil {
				return nil, err
			}
			if prefix == "minus" {
				n = -n
			}
			if u.millis != 0 {
				return dt.plusMillis(n * u.millis)
			}
			return dt.plusLocal(n*u.years, n*u.months, n*u.days)
		}
	}
	if len(args) == 0 {
		if f, ok := fieldFromMethod("get", name); ok {
			return dt.get(f), nil
		}
		if f, ok := fieldNames[name]; ok {
			return &property{dt: dt, field: f}, nil
		}
	}
	if len(args) == 1 {
		if f, ok := fieldFromMethod("with", name); ok {
			v, err := argInt(fn, args, 0)
			if err != nil {
				return nil, err
			}
			return dt.set(f, v)
		}
	}
	switch {
	case name == "getMillis" && len(args) == 0:
		return dt.ms, nil
	case name == "getZone" && len(args) == 0:
		return dt.zone, nil
	case name == "getYearOfEra" && len(args) == 0:
		y := dt.get(fYear)
		if y <= 0 {
			return 1 - y, nil
		}
		return y, nil
	case name == "toString" && len(args) == 0:
		return dt.isoString(), nil
	case name == "toString" && len(args) == 1:
		if args[0] == nil {
			return dt.isoString(), nil
		}
		p, err := argString(fn, args, 0)
		if err != nil {
			return nil, err
		}
		f, err := in.newFormatter(p)
		if err != nil {
			return nil, err
		}
		return in.printWith(f, dt.ms, dt.zone)
	case (name == "withZone" || name == "toDateTime") && len(args) == 1:
		z, ok := args[0].(*zoneVal)
		if !ok {
			if args[0] != nil {
				return nil, errValue("%s needs a DateTimeZone, not %s", fn, typeName(args[0]))
			}
			z = utcZone
		}
		return newDT(dt.ms, z)
	case name == "toDateTime" && len(args) == 0:
		return dt, nil
	case name == "withTimeAtStartOfDay" && len(args) == 0:
		days, _ := dt.localParts()
		ms, err := dt.zone.toInstant(days*msPerDay, nil, false)
		if err != nil {
			return nil, err
		}
		return newDT(ms, dt.zone)
	case name == "withMillis" && len(args) == 1:
		ms, err := argLong(fn, args, 0)
		if err != nil {
			return nil, err
		}
		return newDT(ms, dt.zone)
	case name == "withDate" && len(args) == 3, name == "withTime" && len(args) == 4:
		var v [4]int64
		for i := range args {
			n, err := argInt(fn, args, i)
			if err != nil {
				return nil, err
			}
			v[i] = n
		}
		days, msOfDay := dt.localParts()
		var y, mo, d, h, mi, s, ms int64
		if name == "withDate" {
			y, mo, d = v[0], v[1], v[2]
			h, mi, s, ms = msOfDay/msPerHour, msOfDay%msPerHour/msPerMinute, msOfDay%msPerMinute/msPerSecond, msOfDay%msPerSecond
		} else {
			y, mo, d = civilFromDays(days)
			h, mi, s, ms = v[0], v[1], v[2], v[3]
		}
		hint := dt.offset()
		// Validate the fields first, then resolve with the current offset
		// as the preferred one, as Joda's setters do.
		if _, err := fieldsToInstant(utcZone, y, mo, d, h, mi, s, ms); err != nil {
			return nil, err
		}
		local := daysFromCivil(y, mo, d)*msPerDay + h*msPerHour + mi*msPerMinute + s*msPerSecond + ms
		inst, err := dt.zone.toInstant(local, &hint, true)
		if err != nil {
			return nil, err
		}
		return newDT(inst, dt.zone)
	case (name == "plus" || name == "minus") && len(args) == 1:
		d, err := argLong(fn, args, 0)
		if err != nil {
			return nil, err
		}
		if name == "minus" {
			d = -d
		}
		return dt.plusMillis(d)
	case (name == "isAfter" || name == "isBefore" || name == "isEqual" || name == "compareTo") && len(args) == 1:
		var other int64
		switch o := args[0].(type) {
		case *dateTime:
			other = o.ms
		case nil:
			now, err := in.now()
			if err != nil {
				return nil, err
			}
			other = now.(int64)
		default:
			return nil, errValue("%s needs a DateTime, not %s", fn, typeName(args[0]))
		}
		switch name {
		case "isAfter":
			return dt.ms > other, nil
		case "isBefore":
			return dt.ms < other, nil
		case "isEqual":
			return dt.ms == other, nil
		}
		switch {
		case dt.ms < other:
			return int64(-1), nil
		case dt.ms > other:
			return int64(1), nil
		}
		return int64(0), nil
	case name == "equals" && len(args) == 1:
		o, ok := args[0].(*dateTime)
		return ok && o.ms == dt.ms && o.zone.id == dt.zone.id, nil
	}
	if name == "parse" {
		return in.callStatic("DateTime", name, args)
	}
	return nil, noMethod(dt, name, args)
}

type property struct {
	dt    *dateTime
	field dtField
}

var shortMonthNames = []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
var shortDayNames = []string{"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}

func (in *interp) callProperty(p *property, name string, args []Value) (Value, error) {
	if len(args) != 0 {
		return nil, noMethod(p, name, args)
	}
	v := p.dt.get(p.field)
	switch name {
	case "get":
		return v, nil
	case "getAsString":
		return strconv.FormatInt(v, 10), nil
	case "getAsText", "getAsShortText":
		short := name == "getAsShortText"
		switch p.field {
		case fMonthOfYear:
			if short {
				return shortMonthNames[v-1], nil
			}
			return monthNames[v-1], nil
		case fDayOfWeek:
			if short {
				return shortDayNames[v-1], nil
			}
			return dayNames[v-1], nil
		}
		return strconv.FormatInt(v, 10), nil
	case "getMinimumValue", "getMaximumValue":
		lo, hi := p.dt.fieldRange(p.field)
		if name == "getMinimumValue" {
			return lo, nil
		}
		return hi, nil
	case "withMinimumValue", "withMaximumValue":
		lo, hi := p.dt.fieldRange(p.field)
		if p.field == fYear || p.field == fWeekyear {
			return nil, errValue("%s is not supported for %s", name, p.field.name())
		}
		if name == "withMinimumValue" {
			return p.dt.set(p.field, lo)
		}
		return p.dt.set(p.field, hi)
	case "getName":
		return p.field.name(), nil
	case "getDateTime":
		return p.dt, nil
	case "toString":
		return in.showString(p)
	}
	return nil, noMethod(p, name, args)
}

type daysVal struct{ n int64 }
