package timetrigger

import (
	"testing"
	"time"
)

// firesAt checks a fire time against the fields and the documented clock
// change policy, without the search code.
func firesAt(s *Schedule, n time.Time) (ok bool, why string) {
	_, off := n.Zone()
	asWall := func(u int64) time.Time { return time.Unix(u, 0).UTC() }
	matched := wallMatches(s, asWall(n.Unix()+int64(off)))
	for _, back := range []int64{6 * 3600, 12 * 3600, 36 * 3600} {
		o := offsetAt(s.loc, n.Unix()-back)
		switch {
		case o > off && matched && !s.allHours:
			// A backward change: did this wall time already occur?
			if earlier := n.Unix() - int64(o-off); offsetAt(s.loc, earlier) == o {
				return false, "fired a second time for one wall time"
			}
		case o < off && !matched:
			// A forward change: a skipped wall time moved later.
			w := n.Unix() + int64(o)
			skipped := offsetAt(s.loc, w-int64(o)) != o && offsetAt(s.loc, w-int64(off)) != off
			if skipped && wallMatches(s, asWall(w)) {
				matched = true
			}
		}
	}
	if !matched {
		return false, "wall time does not match the fields"
	}
	return true, ""
}

func FuzzParseCron(f *testing.F) {
	for _, seed := range []string{
		"* * * * *", "*/15 * * * *", "0 9 * * MON-FRI", "0 0 13 * FRI", "0 0 30 2 *",
		"0 0 * * 7", "5/20 1-3 * JAN,jul *", "30 2 * * *", "0 * * * *", "59 1 * * *",
		"0 0 12 1/1 * ? *", "0 0 0 L * ?", "0 0 0 LW * ?", "0 0 0 15W * ?", "0 0 0 L-3 * ?",
		"0 0 0 ? * 6L", "0 0 0 ? * 6#3", "0 0 0 ? 2 MON#5", "0 0 0 ? * L", "0 0 0 29 2 ? *",
		"0 15 10 ? * 6L 2030-2035", "*/20 * 1-3 * * ?", "0 0 0 1 1 ? 2099", "0 0 0 ? 2 MON#5 2098-2099",
		"61 * * * *", "*/0 * * * *", "@daily", "0 0 ? * *", "0 0 0 * * *", "1-2-3 * * * *",
	} {
		f.Add(seed)
	}
	zones := []*time.Location{time.UTC, mustLoad(f, "America/New_York"), mustLoad(f, "Australia/Lord_Howe")}
	afters := []time.Time{
		time.Date(2025, 3, 9, 6, 30, 0, 0, time.UTC),   // New York's spring gap
		time.Date(2025, 11, 2, 5, 30, 0, 0, time.UTC),  // New York's autumn overlap
		time.Date(2025, 10, 4, 15, 0, 0, 0, time.UTC),  // Lord Howe's half-hour gap
		time.Date(2040, 12, 31, 10, 0, 0, 0, time.UTC), // a leap-year end past the zone tables
		time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(2099, 12, 31, 23, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC),
		{},
	}
	f.Fuzz(func(t *testing.T, expr string) {
		loc := zones[len(expr)%len(zones)]
		s, err := ParseCron(expr, loc)
		if err != nil {
			if s != nil || err.Error() == "" {
				t.Fatalf("ParseCron(%q) = %v, %v", expr, s, err)
			}
			return
		}
		again, err := ParseCron(s.String(), loc)
		if err != nil {
			t.Fatalf("normalized %q does not parse: %v", s.String(), err)
		}
		for _, after := range afters {
			start := time.Now()
			next, ok := s.Next(after)
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("%q: Next(%v) took %v", expr, after, d)
			}
			if n2, ok2 := again.Next(after); ok2 != ok || !n2.Equal(next) {
				t.Fatalf("%q and its normalized form disagree after %v: %v, %v", expr, after, next, n2)
			}
			if !ok {
				continue
			}
			if !next.After(after) || next.Year() > lastSearchYear+1 || next.Location() != loc {
				t.Fatalf("%q: Next(%v) = %v", expr, after, next)
			}
			if fine, why := firesAt(s, next); !fine {
				t.Fatalf("%q in %v: Next(%v) = %v: %s", expr, loc, after, next, why)
			}
			if n2, _ := s.Next(next.Add(-time.Second)); !n2.Equal(next) {
				t.Fatalf("%q: Next(%v) = %v but Next(a second earlier) = %v", expr, after, next, n2)
			}
			// Nothing between after and next fires, where that is cheap to
			// scan.
			step := time.Minute
			if s.seconds != 1 {
				step = time.Second
			}
			if gap := next.Sub(after); gap < 3600*step {
				for v := after.Truncate(step).Add(step); v.Before(next); v = v.Add(step) {
					if fine, _ := firesAt(s, v.In(loc)); fine {
						t.Fatalf("%q in %v: Next(%v) = %v skipped %v", expr, loc, after, next, v)
					}
				}
			}
			if mid := after.Add(next.Sub(after) / 2); mid.After(after) {
				if n2, _ := s.Next(mid); !n2.Equal(next) {
					t.Fatalf("%q: Next(%v) = %v but Next(%v) = %v", expr, after, next, mid, n2)
				}
			}
		}
	})
}
