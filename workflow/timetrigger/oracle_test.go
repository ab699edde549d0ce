package timetrigger

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"
)

// wallMatches reports whether a wall-clock time satisfies every field,
// with day and calendar facts taken from the time package.
func wallMatches(s *Schedule, w time.Time) bool {
	return s.seconds&(1<<w.Second()) != 0 && minuteMatches(s, w)
}

func minuteMatches(s *Schedule, w time.Time) bool {
	first := time.Date(w.Year(), w.Month(), 1, 0, 0, 0, 0, time.UTC)
	length := first.AddDate(0, 1, -1).Day()
	return s.minutes&(1<<w.Minute()) != 0 &&
		s.hours&(1<<w.Hour()) != 0 &&
		s.months&(1<<int(w.Month())) != 0 &&
		s.yearOK(w.Year()) &&
		s.dayMatches(w.Day(), length, int(first.Weekday()))
}

// expectedFires lists, by brute force over every wall time in [from, to)
// at the given resolution, the instants the documented policy fires at:
// a wall time that exists once fires then; one that exists twice fires at
// the first, and at the second too when every hour matches; one that does
// not exist fires at wall time minus the offset before the jump. The window
// must hold at most one offset change.
func expectedFires(s *Schedule, from, to time.Time, step time.Duration) []int64 {
	offsets := map[int]bool{}
	for u := from.Add(-48 * time.Hour); u.Before(to.Add(48 * time.Hour)); u = u.Add(15 * time.Minute) {
		_, off := u.In(s.loc).Zone()
		offsets[off] = true
	}
	preJump := 1 << 30
	for o := range offsets {
		preJump = min(preJump, o)
	}
	var fires []int64
	wFrom := from.Add(-26 * time.Hour).In(s.loc)
	start := time.Date(wFrom.Year(), wFrom.Month(), wFrom.Day(), 0, 0, 0, 0, time.UTC)
	end := to.Add(26 * time.Hour).UTC()
	for w := start; w.Before(end); w = w.Add(step) {
		if step < time.Minute && w.Second() == 0 && !minuteMatches(s, w) {
			w = w.Add(time.Minute - step)
			continue
		}
		if !wallMatches(s, w) {
			continue
		}
		var at []int64
		for o := range offsets {
			u := w.Unix() - int64(o)
			if _, off := time.Unix(u, 0).In(s.loc).Zone(); off == o {
				at = append(at, u)
			}
		}
		sort.Slice(at, func(i, j int) bool { return at[i] < at[j] })
		switch {
		case len(at) == 0:
			fires = append(fires, w.Unix()-int64(preJump))
		case s.allHours:
			fires = append(fires, at...)
		default:
			fires = append(fires, at[0])
		}
	}
	sort.Slice(fires, func(i, j int) bool { return fires[i] < fires[j] })
	return fires
}

func TestNextAgainstBruteForce(t *testing.T) {
	minuteExprs := []string{
		"* * * * *", "*/7 * * * *", "0 * * * *", "30 * * * *", "15,45 * * * *",
		"0 2 * * *", "30 2 * * *", "59 1 * * *", "*/10 1-3 * * *", "0,30 0-4 * * *",
		"30 1 * * *", "0 3 * * *", "45 23 * * *", "5 0 * * SUN", "0 12 1,15 * *",
	}
	secondExprs := []string{"*/20 * 1-3 * * ?", "30 30 2 * * ?", "0 */17 * * * ?", "15 59 1 * * ?"}
	type window struct {
		zone string
		at   time.Time // an offset change, or a time of interest
	}
	windows := []window{
		{"UTC", mustTime(t, "2025-03-09T07:00:00Z")},
		{"Asia/Kolkata", mustTime(t, "2025-03-09T07:00:00Z")},
		{"America/New_York", mustTime(t, "2040-12-31T12:00:00Z")}, // the leap-year end quirk
	}
	for _, zone := range []string{
		"America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Europe/London",
		"Pacific/Chatham", "America/Santiago", "America/Havana", "Africa/Casablanca",
		"Asia/Gaza", "Antarctica/Troll",
	} {
		for _, year := range []int{2025, 2041} {
			for _, at := range transitions(mustLoad(t, zone), year) {
				windows = append(windows, window{zone, at})
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	check := func(t *testing.T, expr string, zone string, center time.Time, span, step time.Duration) {
		s, err := ParseCron(expr, mustLoad(t, zone))
		if err != nil {
			t.Fatalf("%q: %v", expr, err)
		}
		from, to := center.Add(-span), center.Add(span)
		fires := expectedFires(s, from, to, step)
		for after := from; after.Before(to); {
			// Every step or so near the change, sparser away from it.
			stride := step/2 + time.Duration(rng.IntN(int(step)))
			if d := after.Sub(center); d < -3*time.Hour || d > 3*time.Hour {
				stride *= 8
			}
			after = after.Add(stride)
			i := sort.Search(len(fires), func(i int) bool { return fires[i] > after.Unix() })
			got, ok := s.Next(after)
			if i == len(fires) {
				// Nothing in the brute-forced range, which covers every
				// instant up to 12 hours past the window.
				if ok && got.Before(to.Add(12*time.Hour)) {
					t.Fatalf("%q in %s: Next(%v) = %v, which brute force missed", expr, zone, after, got)
				}
				continue
			}
			want := time.Unix(fires[i], 0)
			if !ok || !got.Equal(want) {
				t.Fatalf("%q in %s: Next(%v) = %v, %v; want %v", expr, zone, after.In(s.loc), got, ok, want.In(s.loc))
			}
		}
	}
	for _, w := range windows {
		center := w.at
		for _, expr := range minuteExprs {
			check(t, expr, w.zone, center, 20*time.Hour, time.Minute)
		}
		for _, expr := range secondExprs {
			check(t, expr, w.zone, center, 4*time.Hour, time.Second)
		}
	}
}

// transitions lists the instants in a year at which loc's offset changes.
func transitions(loc *time.Location, year int) []time.Time {
	var out []time.Time
	from := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(year+1, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for u := from; u < to; u += 3600 {
		if offsetAt(loc, u) == offsetAt(loc, u+3600) {
			continue
		}
		lo, hi := u, u+3600
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			if offsetAt(loc, mid) == offsetAt(loc, u) {
				lo = mid
			} else {
				hi = mid
			}
		}
		out = append(out, time.Unix(hi, 0))
	}
	return out
}
