package timetrigger

import (
	"fmt"
	"math"
	"strings"
	"time"
)

var durationUnits = []struct {
	names []string
	unit  time.Duration
}{
	{[]string{"milliseconds", "millisecond", "ms"}, time.Millisecond},
	{[]string{"minutes", "minute", "mins", "min"}, time.Minute},
	{[]string{"seconds", "second", "secs", "sec", "s"}, time.Second},
	{[]string{"hours", "hour", "hrs", "hr", "h"}, time.Hour},
	{[]string{"days", "day", "d"}, 24 * time.Hour},
}

// ParseDuration reads a duration as Maestro writes fuzzy_max_delay: a plain
// non-negative integer is a number of seconds; otherwise it is a sequence of
// <integer><unit> parts, with optional spaces between number and unit and
// spaces or commas between parts, summed in any order ("1 hour",
// "10 minutes 5 seconds", "2 hours, 5 mins", "1d12h", "30s"). Units, in any
// case: d/day/days, h/hr/hrs/hour/hours, min/mins/minute/minutes,
// s/sec/secs/second/seconds and ms/millisecond/milliseconds. Maestro ignores
// text it does not recognize; here that is an error, so "5m" (m is not a
// unit) fails rather than meaning zero.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, fmt.Errorf("empty duration")
	}
	if n, ok := digits(t); ok {
		if n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		return time.Duration(n) * time.Second, nil
	}
	low := strings.ToLower(t)
	var total time.Duration
	for i := 0; i < len(low); {
		if c := low[i]; c == ' ' || c == '\t' || c == ',' {
			i++
			continue
		}
		j := i
		for j < len(low) && low[j] >= '0' && low[j] <= '9' {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("duration %q: expected a number at %q", s, t[i:])
		}
		n, ok := digits(low[i:j])
		if !ok {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		if j < len(low) && low[j] == '.' {
			return 0, fmt.Errorf("duration %q: fractions are not supported; use a smaller unit", s)
		}
		for j < len(low) && (low[j] == ' ' || low[j] == '\t') {
			j++
		}
		k := j
		for k < len(low) && low[k] >= 'a' && low[k] <= 'z' {
			k++
		}
		unit, ok := lookupUnit(low[j:k])
		if !ok {
			if j == k {
				return 0, fmt.Errorf("duration %q: missing unit after %s (d, h, min, s or ms)", s, low[i:j])
			}
			return 0, fmt.Errorf("duration %q: unknown unit %q (d, h, min, s or ms)", s, t[j:k])
		}
		if n > int64(math.MaxInt64/unit) || total > math.MaxInt64-time.Duration(n)*unit {
			return 0, fmt.Errorf("duration %q is too large", s)
		}
		total += time.Duration(n) * unit
		i = k
	}
	return total, nil
}

func lookupUnit(word string) (time.Duration, bool) {
	for _, u := range durationUnits {
		for _, name := range u.names {
			if word == name {
				return u.unit, true
			}
		}
	}
	return 0, false
}

// digits parses a run of ASCII digits; false if there is anything else or
// the value overflows int64.
func digits(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		if n > (math.MaxInt64-int64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}
