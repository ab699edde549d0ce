package timetrigger

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	// Zone names must resolve in a container with no zoneinfo files.
	_ "time/tzdata"
)

// Trigger kinds, as Maestro spells them in "type".
const (
	KindCron       = "CRON"
	KindPredefined = "PREDEFINED"
	KindInterval   = "INTERVAL"
)

const (
	// MinimumInterval is Maestro's floor on the time between two fires of
	// one trigger.
	MinimumInterval = 2 * time.Minute
	// MaxFuzzyMaxDelay is Maestro's ceiling for durations such as
	// fuzzy_max_delay.
	MaxFuzzyMaxDelay = 120 * 24 * time.Hour
)

// Trigger is one element of a workflow's time_triggers.
type Trigger struct {
	Kind string // KindCron, KindPredefined or KindInterval

	Cron       string // CRON: the expression, whitespace normalized
	Expression string // PREDEFINED: "@hourly", "@daily", "@weekly", "@monthly" or "@yearly"
	Timezone   string // CRON and PREDEFINED: as written; "" means UTC

	Start    time.Time     // INTERVAL: the first fire time; the Unix epoch when absent
	Interval time.Duration // INTERVAL: time between fires

	// FuzzyMaxDelay spreads fires of many workflows over a window; see
	// FireTime. Zero means none.
	FuzzyMaxDelay time.Duration

	// Location is the zone the schedule is read in: the timezone field for
	// CRON and PREDEFINED, UTC for INTERVAL.
	Location *time.Location
	// Schedule is the parsed CRON or PREDEFINED expression.
	Schedule *Schedule
}

// FieldError reports a problem with one member of a time trigger object.
type FieldError struct {
	Field string // the JSON member, e.g. "cron"; "" for the object as a whole
	Msg   string
}

func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Msg
	}
	return e.Field + ": " + e.Msg
}

var kindFields = map[string][]string{
	KindCron:       {"type", "cron", "timezone", "fuzzy_max_delay"},
	KindPredefined: {"type", "expression", "timezone", "fuzzy_max_delay"},
	KindInterval:   {"type", "interval", "start", "fuzzy_max_delay"},
}

// ParseJSON parses and validates one element of a workflow's time_triggers,
// returning a *FieldError that names the offending member. The members are
// Maestro's:
//
//	CRON:       type, cron (required), timezone, fuzzy_max_delay
//	PREDEFINED: type, expression (required), timezone, fuzzy_max_delay
//	INTERVAL:   type, interval (required), start, fuzzy_max_delay
//
// A null member counts as absent; any other member is an error. timezone is
// an IANA zone name ("US/Pacific", "Asia/Tokyo", "UTC") or a UTC offset
// ("+05:30", "UTC-8", "GMT+01:00", "Z"); absent or empty means UTC.
// fuzzy_max_delay is a number of seconds or a duration string (see
// ParseDuration), more than zero and at most 120 days. interval is the same
// kind of value, a whole number of seconds, at least MinimumInterval. start is
// an RFC 3339 time, a number of milliseconds since the Unix epoch, or
// Maestro's "MM-dd-yyyy HH:mm:ss.SSS" followed by a zone (UTC, GMT, an IANA
// name or an offset such as -0800); the hour is read on a 24-hour clock.
//
// As in Maestro, a CRON or PREDEFINED schedule must not fire twice within
// MinimumInterval; the check assumes any two adjacent days may both fire.
func ParseJSON(raw json.RawMessage) (Trigger, error) {
	return ParseJSONMin(raw, MinimumInterval)
}

// ParseJSONMin is ParseJSON with another floor on the time between fires;
// operators may lower it (tests fire every few seconds).
func ParseJSONMin(raw json.RawMessage, minInterval time.Duration) (Trigger, error) {
	members, err := decodeObject(raw)
	if err != nil {
		return Trigger{}, err
	}
	var t Trigger
	kindRaw, ok := members["type"]
	if !ok {
		return Trigger{}, &FieldError{"type", "required; one of CRON, PREDEFINED, INTERVAL"}
	}
	if err := decodeString(kindRaw, &t.Kind); err != nil {
		return Trigger{}, &FieldError{"type", err.Error()}
	}
	allowed, ok := kindFields[t.Kind]
	if !ok {
		return Trigger{}, &FieldError{"type", fmt.Sprintf("unknown trigger type %q; expected CRON, PREDEFINED or INTERVAL", t.Kind)}
	}
	var unknown []string
	for name := range members {
		if !slices.Contains(allowed, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return Trigger{}, &FieldError{unknown[0], fmt.Sprintf("unknown field for a %s trigger (accepted: %s)", t.Kind, strings.Join(allowed, ", "))}
	}

	if v, ok := members["fuzzy_max_delay"]; ok {
		d, err := decodeDuration(v)
		if err == nil && (d <= 0 || d > MaxFuzzyMaxDelay) {
			err = fmt.Errorf("must be more than 0 and at most 120 days, got %s", d)
		}
		if err != nil {
			return Trigger{}, &FieldError{"fuzzy_max_delay", err.Error()}
		}
		t.FuzzyMaxDelay = d
	}

	switch t.Kind {
	case KindCron, KindPredefined:
		t.Location = time.UTC
		if v, ok := members["timezone"]; ok {
			if err := decodeString(v, &t.Timezone); err != nil {
				return Trigger{}, &FieldError{"timezone", err.Error()}
			}
			loc, err := LoadZone(t.Timezone)
			if err != nil {
				return Trigger{}, &FieldError{"timezone", err.Error()}
			}
			t.Location = loc
		}
		field := "cron"
		if t.Kind == KindPredefined {
			field = "expression"
		}
		v, ok := members[field]
		if !ok {
			return Trigger{}, &FieldError{field, "required"}
		}
		var text string
		if err := decodeString(v, &text); err != nil {
			return Trigger{}, &FieldError{field, err.Error()}
		}
		if text == "" {
			return Trigger{}, &FieldError{field, "cannot be empty"}
		}
		var s *Schedule
		if t.Kind == KindCron {
			s, err = ParseCron(text, t.Location)
		} else {
			s, err = ParsePredefined(text, t.Location)
		}
		if err != nil {
			return Trigger{}, &FieldError{field, err.Error()}
		}
		if g := s.minGap(); g < minInterval {
			return Trigger{}, &FieldError{field, fmt.Sprintf("%q fires %s apart; time triggers must be at least %s apart", text, g, minInterval)}
		}
		t.Schedule = s
		if t.Kind == KindCron {
			t.Cron = s.String()
		} else {
			t.Expression = s.String()
		}

	case KindInterval:
		t.Location = time.UTC
		v, ok := members["interval"]
		if !ok {
			return Trigger{}, &FieldError{"interval", "required"}
		}
		d, err := decodeDuration(v)
		switch {
		case err != nil:
		case d < minInterval:
			err = fmt.Errorf("must be at least %s, got %s", minInterval, d)
		case d%time.Second != 0:
			err = fmt.Errorf("must be a whole number of seconds, got %s", d)
		}
		if err != nil {
			return Trigger{}, &FieldError{"interval", err.Error()}
		}
		t.Interval = d
		t.Start = time.Unix(0, 0).UTC()
		if v, ok := members["start"]; ok {
			start, err := decodeStart(v)
			if err != nil {
				return Trigger{}, &FieldError{"start", err.Error()}
			}
			t.Start = start.UTC()
		}
	}
	return t, nil
}

// Next returns the first scheduled time strictly after `after`, before any
// fuzzy delay, and false if the trigger never fires again.
func (t Trigger) Next(after time.Time) (time.Time, bool) {
	switch t.Kind {
	case KindCron, KindPredefined:
		s := t.Schedule
		if s == nil {
			var err error
			if t.Kind == KindCron {
				s, err = ParseCron(t.Cron, t.Location)
			} else {
				s, err = ParsePredefined(t.Expression, t.Location)
			}
			if err != nil {
				return time.Time{}, false
			}
		}
		return s.Next(after)
	case KindInterval:
		return intervalNext(t.Start, t.Interval, after)
	}
	return time.Time{}, false
}

func intervalNext(start time.Time, interval time.Duration, after time.Time) (time.Time, bool) {
	if interval <= 0 {
		return time.Time{}, false
	}
	if after.Before(start) {
		return start, true
	}
	d := after.Sub(start)
	if d >= math.MaxInt64-interval {
		// Sub saturates this far out; nothing useful fires there.
		return time.Time{}, false
	}
	return start.Add((d/interval + 1) * interval), true
}

// FireTime returns when a run scheduled for `scheduled` should start:
// scheduled plus a delay in [0, FuzzyMaxDelay), in whole seconds when
// FuzzyMaxDelay is at least a second. The delay depends only on seed and on
// the scheduled instant (not its zone or monotonic reading), so every server
// computes the same fire time; seed should name the workflow and trigger so
// that workflows sharing a schedule spread out. The delay is the first 8
// bytes of SHA-256(seed, 0x00, Unix seconds as 8 big-endian bytes,
// nanoseconds as 4 big-endian bytes), read big-endian, modulo the number of
// whole seconds in FuzzyMaxDelay (of nanoseconds, below a second); changing
// this formula moves every fire time, so it must stay as it is.
//
// Each scheduled time gets its own delay, so when FuzzyMaxDelay exceeds the
// time between scheduled times consecutive runs can start out of order;
// identify runs by their scheduled time, not their fire time.
func (t Trigger) FireTime(scheduled time.Time, seed string) time.Time {
	limit := t.FuzzyMaxDelay
	if limit <= 0 {
		return scheduled
	}
	h := sha256.New()
	io.WriteString(h, seed)
	var buf [13]byte
	binary.BigEndian.PutUint64(buf[1:9], uint64(scheduled.Unix()))
	binary.BigEndian.PutUint32(buf[9:13], uint32(scheduled.Nanosecond()))
	h.Write(buf[:])
	x := binary.BigEndian.Uint64(h.Sum(nil))
	if limit >= time.Second {
		return scheduled.Add(time.Duration(x%uint64(limit/time.Second)) * time.Second)
	}
	return scheduled.Add(time.Duration(x % uint64(limit)))
}

// LoadZone resolves a trigger's timezone the way Maestro's Java zone IDs
// read: "" is UTC; "Z", "UTC", "GMT" and "UT", alone or followed by an
// offset, and bare offsets (+5, +05, +05:30, +0530, +05:30:15) are fixed
// zones within ±18 hours; anything else is an IANA name. "Local" is
// refused: it would mean a different zone on each server.
func LoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Z" || name == "UTC" {
		return time.UTC, nil
	}
	if loc, ok, err := offsetZone(name); ok {
		return loc, err
	}
	if name == "Local" {
		return nil, fmt.Errorf("time zone %q depends on the server; name a zone", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return loc, nil
}

// offsetZone handles the fixed-offset spellings; ok is false when name is
// not one, so it can be looked up as a zone name.
func offsetZone(name string) (loc *time.Location, ok bool, err error) {
	rest := name
	for _, p := range []string{"UTC", "GMT", "UT"} {
		if strings.HasPrefix(name, p) {
			rest = name[len(p):]
			if rest == "" {
				return time.FixedZone(name, 0), true, nil
			}
			break
		}
	}
	if rest == "" || (rest[0] != '+' && rest[0] != '-') {
		return nil, false, nil
	}
	secs, valid := parseOffset(rest[1:])
	if !valid {
		return nil, true, fmt.Errorf("invalid UTC offset in time zone %q", name)
	}
	if rest[0] == '-' {
		secs = -secs
	}
	return time.FixedZone(name, secs), true, nil
}

// parseOffset reads h, hh, hh:mm, hhmm, hh:mm:ss or hhmmss, at most 18:00.
func parseOffset(s string) (int, bool) {
	var parts []string
	switch {
	case len(s) <= 2:
		parts = []string{s}
	case strings.Contains(s, ":"):
		parts = strings.Split(s, ":")
	case len(s) == 4:
		parts = []string{s[:2], s[2:]}
	case len(s) == 6:
		parts = []string{s[:2], s[2:4], s[4:]}
	default:
		return 0, false
	}
	if len(parts) > 3 {
		return 0, false
	}
	total := 0
	for i, p := range parts {
		if p == "" || len(p) > 2 || (i > 0 && len(p) != 2) {
			return 0, false
		}
		n, ok := atoi(p)
		if !ok || (i > 0 && n > 59) {
			return 0, false
		}
		total = total*60 + n
	}
	for range 3 - len(parts) {
		total *= 60
	}
	return total, total <= 18*3600
}

func decodeObject(raw json.RawMessage) (map[string]json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, &FieldError{"", "invalid JSON: " + err.Error()}
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, &FieldError{"", "a time trigger must be a JSON object"}
	}
	members := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, &FieldError{"", "invalid JSON: " + err.Error()}
		}
		name, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, &FieldError{name, "invalid JSON: " + err.Error()}
		}
		if _, dup := members[name]; dup {
			return nil, &FieldError{name, "appears more than once"}
		}
		if string(v) != "null" {
			members[name] = v
		} else {
			members[name] = nil
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, &FieldError{"", "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &FieldError{"", "invalid JSON: data after the object"}
	}
	for name, v := range members {
		if v == nil {
			delete(members, name)
		}
	}
	return members, nil
}

func describeJSON(v json.RawMessage) string {
	switch v[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func decodeString(v json.RawMessage, out *string) error {
	if v[0] != '"' {
		return fmt.Errorf("expected a string, got %s", describeJSON(v))
	}
	return json.Unmarshal(v, out)
}

// decodeDuration reads a number of seconds or a duration string.
func decodeDuration(v json.RawMessage) (time.Duration, error) {
	if v[0] == '"' {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return 0, err
		}
		if strings.Contains(s, "${") {
			return 0, fmt.Errorf("parameter references are not supported here, got %q", s)
		}
		return ParseDuration(s)
	}
	if describeJSON(v) != "a number" {
		return 0, fmt.Errorf("expected a number of seconds or a duration string, got %s", describeJSON(v))
	}
	n, ok := digits(string(v))
	if !ok || n > math.MaxInt64/int64(time.Second) {
		return 0, fmt.Errorf("expected a whole, non-negative number of seconds, got %s", v)
	}
	return time.Duration(n) * time.Second, nil
}

var maestroDate = regexp.MustCompile(`^(\d{2})-(\d{2})-(\d{4}) (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?\s*(.*)$`)

func decodeStart(v json.RawMessage) (time.Time, error) {
	if v[0] != '"' {
		if describeJSON(v) != "a number" {
			return time.Time{}, fmt.Errorf("expected a time string or epoch milliseconds, got %s", describeJSON(v))
		}
		ms, ok := digits(string(v))
		if !ok || ms > 253402300799999 { // 9999-12-31T23:59:59.999Z
			return time.Time{}, fmt.Errorf("expected whole, non-negative epoch milliseconds up to year 9999, got %s", v)
		}
		return time.UnixMilli(ms), nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, err
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	m := maestroDate.FindStringSubmatch(s)
	if m == nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 (2021-03-26T16:00:18Z) nor MM-dd-yyyy HH:mm:ss.SSSzone (03-26-2021 16:00:18.089UTC)", s)
	}
	num := func(i int) int { n, _ := atoi(m[i]); return n }
	mo, d, y, h, mi, se := num(1), num(2), num(3), num(4), num(5), num(6)
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || se > 59 {
		return time.Time{}, fmt.Errorf("%q is not a valid date and time", s)
	}
	nanos := 0
	if frac := m[7]; frac != "" {
		nanos, _ = atoi((frac + "00000000")[:9])
	}
	zone := m[8]
	if zone == "" {
		return time.Time{}, fmt.Errorf("%q has no time zone", s)
	}
	loc, err := LoadZone(zone)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: %v; use UTC, an IANA name or an offset such as -0800", s, err)
	}
	return time.Date(y, time.Month(mo), d, h, mi, se, nanos, loc), nil
}
