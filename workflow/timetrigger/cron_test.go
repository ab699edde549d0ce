package timetrigger

import (
	"strings"
	"testing"
	"time"
)

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := LoadZone(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// series returns the next n fire times after `after`, stopping early when
// the schedule ends.
func series(s *Schedule, after time.Time, n int) []time.Time {
	var out []time.Time
	for range n {
		next, ok := s.Next(after)
		if !ok {
			break
		}
		out = append(out, next)
		after = next
	}
	return out
}

func checkSeries(t *testing.T, expr, zone, after string, want []string) {
	t.Helper()
	s, err := ParseCron(expr, mustLoad(t, zone))
	if err != nil {
		t.Fatalf("ParseCron(%q): %v", expr, err)
	}
	got := series(s, mustTime(t, after), len(want)+1)
	var gotS []string
	for _, g := range got {
		gotS = append(gotS, g.Format(time.RFC3339))
	}
	var wantS []string
	for _, w := range want {
		wantS = append(wantS, mustTime(t, w).In(s.Location()).Format(time.RFC3339))
	}
	if len(gotS) > len(wantS) {
		gotS = gotS[:len(wantS)]
	}
	if strings.Join(gotS, " ") != strings.Join(wantS, " ") {
		t.Errorf("%q in %s after %s:\n got %v\nwant %v", expr, zone, after, gotS, wantS)
	}
}

func TestFieldSyntax(t *testing.T) {
	const jan1 = "2025-01-01T00:00:00Z" // a Wednesday
	cases := []struct {
		expr, after string
		want        []string
	}{
		{"*/15 * * * *", jan1, []string{"2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z", "2025-01-01T00:45:00Z", "2025-01-01T01:00:00Z"}},
		{"5/20 * * * *", jan1, []string{"2025-01-01T00:05:00Z", "2025-01-01T00:25:00Z", "2025-01-01T00:45:00Z", "2025-01-01T01:05:00Z"}},
		{"10-30/7 9 * * *", jan1, []string{"2025-01-01T09:10:00Z", "2025-01-01T09:17:00Z", "2025-01-01T09:24:00Z", "2025-01-02T09:10:00Z"}},
		{"0,45 6,18 * * *", jan1, []string{"2025-01-01T06:00:00Z", "2025-01-01T06:45:00Z", "2025-01-01T18:00:00Z", "2025-01-01T18:45:00Z", "2025-01-02T06:00:00Z"}},
		{"0 9 * * MON-FRI", "2025-01-03T10:00:00Z", []string{"2025-01-06T09:00:00Z", "2025-01-07T09:00:00Z", "2025-01-08T09:00:00Z"}},
		{"0 9 * * mon,Wed", "2025-01-03T10:00:00Z", []string{"2025-01-06T09:00:00Z", "2025-01-08T09:00:00Z", "2025-01-13T09:00:00Z"}},
		{"0 0 1 JAN,jul *", jan1, []string{"2025-07-01T00:00:00Z", "2026-01-01T00:00:00Z", "2026-07-01T00:00:00Z"}},
		{"0 0 1 2-4 *", jan1, []string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z", "2026-02-01T00:00:00Z"}},
		// Five fields: both 0 and 7 are Sunday.
		{"0 0 * * 7", jan1, []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{"0 0 * * 0", jan1, []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{"0 0 * * 5-7", jan1, []string{"2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-10T00:00:00Z"}},
		// Five fields: a restricted day-of-month and day-of-week each fire.
		{"0 0 13 * FRI", jan1, []string{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z", "2025-01-13T00:00:00Z", "2025-01-17T00:00:00Z"}},
		{"0 0 */1 * FRI", jan1, []string{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z", "2025-01-17T00:00:00Z"}},
		{"0 0 */10 * FRI", jan1, []string{"2025-01-03T00:00:00Z", "2025-01-10T00:00:00Z", "2025-01-11T00:00:00Z", "2025-01-17T00:00:00Z", "2025-01-21T00:00:00Z"}},
		{"0 0 29 2 *", jan1, []string{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}},
		// Six and seven fields.
		{"30 */20 * * * ?", jan1, []string{"2025-01-01T00:00:30Z", "2025-01-01T00:20:30Z", "2025-01-01T00:40:30Z", "2025-01-01T01:00:30Z"}},
		{"0 0 12 1/1 * ? *", jan1, []string{"2025-01-01T12:00:00Z", "2025-01-02T12:00:00Z"}},
		{"0 0 12 1 1 ? 2027,2029", jan1, []string{"2027-01-01T12:00:00Z", "2029-01-01T12:00:00Z"}},
		{"0 0 0 1 1 ? 2097/2", jan1, []string{"2097-01-01T00:00:00Z", "2099-01-01T00:00:00Z"}},
		{"0 0 0 ? * 1", jan1, []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}}, // SUN is 1
		{"0 0 0 ? * SUN", jan1, []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{"0 0 0 ? * 6-7", jan1, []string{"2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-10T00:00:00Z"}},
		{"0 0 0 ? * *", jan1, []string{"2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"}},
		{"0 0 0 L * ?", jan1, []string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-31T00:00:00Z", "2025-04-30T00:00:00Z"}},
		{"0 0 0 L * ?", "2024-02-01T00:00:00Z", []string{"2024-02-29T00:00:00Z", "2024-03-31T00:00:00Z"}},
		{"0 0 0 L-3 * ?", jan1, []string{"2025-01-28T00:00:00Z", "2025-02-25T00:00:00Z", "2025-03-28T00:00:00Z"}},
		{"0 0 0 LW * ?", "2025-05-01T00:00:00Z", []string{"2025-05-30T00:00:00Z", "2025-06-30T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-29T00:00:00Z"}},
		{"0 0 0 15W * ?", jan1, []string{"2025-01-15T00:00:00Z", "2025-02-14T00:00:00Z", "2025-03-14T00:00:00Z", "2025-04-15T00:00:00Z", "2025-05-15T00:00:00Z", "2025-06-16T00:00:00Z"}},
		{"0 0 0 1W * ?", jan1, []string{"2025-02-03T00:00:00Z", "2025-03-03T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2025-06-02T00:00:00Z"}},
		{"0 0 0 31W * ?", "2025-05-01T00:00:00Z", []string{"2025-05-30T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-29T00:00:00Z", "2025-10-31T00:00:00Z"}},
		{"0 0 0 1,L * ?", jan1, []string{"2025-01-31T00:00:00Z", "2025-02-01T00:00:00Z", "2025-02-28T00:00:00Z"}},
		{"0 0 0 ? * 6L", jan1, []string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z", "2025-03-28T00:00:00Z"}},
		{"0 0 0 ? * FRIL", jan1, []string{"2025-01-31T00:00:00Z", "2025-02-28T00:00:00Z"}},
		{"0 0 0 ? * 6#3", jan1, []string{"2025-01-17T00:00:00Z", "2025-02-21T00:00:00Z", "2025-03-21T00:00:00Z"}},
		{"0 0 0 ? * L", jan1, []string{"2025-01-04T00:00:00Z", "2025-01-11T00:00:00Z"}}, // Saturday
		{"0 0 0 ? * MON#5", jan1, []string{"2025-03-31T00:00:00Z", "2025-06-30T00:00:00Z", "2025-09-29T00:00:00Z", "2025-12-29T00:00:00Z"}},
		{"0 0 0 ? 2 MON#5", jan1, []string{"2044-02-29T00:00:00Z", "2072-02-29T00:00:00Z", "2112-02-29T00:00:00Z"}},
		{"0 0 0 29 2 ? *", "2096-03-01T00:00:00Z", []string{"2104-02-29T00:00:00Z"}},
		// Whitespace is normalized and fractional seconds are skipped.
		{"  0\t12  * * *  ", "2025-01-01T12:00:00.5Z", []string{"2025-01-02T12:00:00Z"}},
	}
	for _, c := range cases {
		checkSeries(t, c.expr, "UTC", c.after, c.want)
	}
}

func TestYearFieldEnds(t *testing.T) {
	s, err := ParseCron("0 0 12 1 1 ? 2027,2029", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := s.Next(mustTime(t, "2029-01-01T12:00:00Z")); ok {
		t.Errorf("fired after its last year: %v", next)
	}
}

func TestNeverFires(t *testing.T) {
	for _, expr := range []string{
		"0 0 30 2 *",
		"0 0 31 4,6,9,11 *",
		"0 0 0 30 2 ? *",
		"0 0 0 ? 2 MON#5 2030",      // 2030 is not a leap year
		"0 0 0 1 1 ? 1999",          // in the past
		"0 0 0 ? 2 MON#5 2098-2099", // searched to the last permitted year
	} {
		for _, zone := range []string{"UTC", "America/New_York", "Australia/Lord_Howe"} {
			s, err := ParseCron(expr, mustLoad(t, zone))
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			start := time.Now()
			if next, ok := s.Next(mustTime(t, "2025-06-01T00:00:00Z")); ok {
				t.Errorf("%q in %s fired at %v", expr, zone, next)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("%q in %s took %v to give up", expr, zone, d)
			}
		}
	}
}

func TestNextStrictlyAfterAndMonotonic(t *testing.T) {
	exprs := []string{"*/7 * * * *", "0 */5 * * *", "0 0 L * ?", "15 10 ? * 6L", "0 30 2 * * ?", "0 0 13 * FRI", "*/45 * 1 * * ?"}
	zones := []string{"UTC", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata"}
	for _, expr := range exprs {
		if strings.Count(expr, " ") == 4 && strings.ContainsAny(expr, "?L") {
			expr = "0 " + expr
		}
		for _, zone := range zones {
			s, err := ParseCron(expr, mustLoad(t, zone))
			if err != nil {
				t.Fatalf("%q: %v", expr, err)
			}
			after := mustTime(t, "2025-01-01T00:00:00Z").Add(1234567 * time.Millisecond)
			for range 600 {
				next, ok := s.Next(after)
				if !ok {
					t.Fatalf("%q in %s: no fire after %v", expr, zone, after)
				}
				if !next.After(after) {
					t.Fatalf("%q in %s: Next(%v) = %v, not after", expr, zone, after, next)
				}
				if next.Nanosecond() != 0 {
					t.Fatalf("%q in %s: fractional fire time %v", expr, zone, next)
				}
				if next.Location() != s.Location() {
					t.Fatalf("%q in %s: result in %v", expr, zone, next.Location())
				}
				// Any instant between the two has the same answer.
				mid := after.Add(next.Sub(after) / 2)
				if again, _ := s.Next(mid); !again.Equal(next) {
					t.Fatalf("%q in %s: Next(%v) = %v but Next(%v) = %v", expr, zone, after, next, mid, again)
				}
				after = next
			}
		}
	}
}

func TestDaylightSaving(t *testing.T) {
	cases := []struct {
		name, expr, zone, after string
		want                    []string
	}{
		// Spring forward (New York, 2025-03-09 02:00 EST becomes 03:00 EDT):
		// a skipped wall time fires once, as late as the clock jumped.
		{"skipped daily", "30 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00",
			[]string{"2025-03-09T03:30:00-04:00", "2025-03-10T02:30:00-04:00"}},
		{"skipped on the hour", "0 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-10T02:00:00-04:00"}},
		{"skipped several", "*/20 2 * * *", "America/New_York", "2025-03-08T12:00:00-05:00",
			[]string{"2025-03-09T03:00:00-04:00", "2025-03-09T03:20:00-04:00", "2025-03-09T03:40:00-04:00", "2025-03-10T02:00:00-04:00"}},
		{"hourly over the gap", "0 * * * *", "America/New_York", "2025-03-09T00:30:00-05:00",
			[]string{"2025-03-09T01:00:00-05:00", "2025-03-09T03:00:00-04:00", "2025-03-09T04:00:00-04:00"}},
		{"after the jump", "30 2 * * *", "America/New_York", "2025-03-09T03:10:00-04:00",
			[]string{"2025-03-09T03:30:00-04:00", "2025-03-10T02:30:00-04:00"}},
		{"seconds in the gap", "15 30 2 * * ?", "America/New_York", "2025-03-09T01:59:59-05:00",
			[]string{"2025-03-09T03:30:15-04:00"}},
		// Fall back (New York, 2025-11-02 02:00 EDT becomes 01:00 EST): a
		// repeated wall time fires once, at its first occurrence...
		{"repeated daily", "30 1 * * *", "America/New_York", "2025-11-01T12:00:00-04:00",
			[]string{"2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00"}},
		{"repeated hour restricted", "*/30 1 * * *", "America/New_York", "2025-11-02T00:00:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-03T01:00:00-05:00"}},
		{"repeated, asked during the second pass", "45 1 * * *", "America/New_York", "2025-11-02T01:10:00-05:00",
			[]string{"2025-11-03T01:45:00-05:00"}},
		{"repeated with seconds", "30 59 1 * * ?", "America/New_York", "2025-11-02T00:00:00-04:00",
			[]string{"2025-11-02T01:59:30-04:00", "2025-11-03T01:59:30-05:00"}},
		// ...unless the schedule runs every hour, which keeps its pace.
		{"hourly over the overlap", "0 * * * *", "America/New_York", "2025-11-02T00:30:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00"}},
		{"half-hourly over the overlap", "*/30 * * * *", "America/New_York", "2025-11-02T00:45:00-04:00",
			[]string{"2025-11-02T01:00:00-04:00", "2025-11-02T01:30:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T01:30:00-05:00", "2025-11-02T02:00:00-05:00"}},
		// Southern hemisphere: Sydney falls back 2025-04-06 03:00 AEDT to
		// 02:00 AEST and springs forward 2025-10-05 02:00 AEST to 03:00 AEDT.
		{"Sydney repeated", "30 2 * * *", "Australia/Sydney", "2025-04-05T12:00:00+11:00",
			[]string{"2025-04-06T02:30:00+11:00", "2025-04-07T02:30:00+10:00"}},
		{"Sydney skipped", "30 2 * * *", "Australia/Sydney", "2025-10-04T12:00:00+10:00",
			[]string{"2025-10-05T03:30:00+11:00", "2025-10-06T02:30:00+11:00"}},
		// Lord Howe moves by half an hour: 2025-10-05 02:00 becomes 02:30.
		{"half-hour jump", "15 2 * * *", "Australia/Lord_Howe", "2025-10-04T12:00:00+10:30",
			[]string{"2025-10-05T02:45:00+11:00", "2025-10-06T02:15:00+11:00"}},
		// Past the zone's transition table, where the rules are computed.
		{"far future", "30 2 * * *", "America/New_York", "2041-03-09T12:00:00-05:00",
			[]string{"2041-03-10T03:30:00-04:00", "2041-03-11T02:30:00-04:00"}},
		{"leap year end", "0 12 * * *", "America/New_York", "2040-12-30T13:00:00-05:00",
			[]string{"2040-12-31T12:00:00-05:00", "2041-01-01T12:00:00-05:00", "2041-01-02T12:00:00-05:00"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkSeries(t, c.expr, c.zone, c.after, c.want) })
	}
}

func TestZoneOfResult(t *testing.T) {
	tokyo := mustLoad(t, "Asia/Tokyo")
	s, err := ParseCron("0 9 * * *", tokyo)
	if err != nil {
		t.Fatal(err)
	}
	next, _ := s.Next(mustTime(t, "2025-01-01T00:00:00Z"))
	if want := mustTime(t, "2025-01-02T00:00:00Z"); !next.Equal(want) || next.Location() != tokyo {
		t.Errorf("got %v, want %v in Asia/Tokyo", next, want)
	}
}

func TestParseCronErrors(t *testing.T) {
	cases := []struct{ expr, want string }{
		{"", "cron expression is empty"},
		{"   ", "cron expression is empty"},
		{"* * * *", "has 4 fields; expected 5"},
		{"0 0 0 0 0 0 0 0", "has 8 fields"},
		{"61 * * * *", `minute field "61": 61 is out of range 0-59`},
		{"* 24 * * *", `hour field "24": 24 is out of range 0-23`},
		{"0 0 0 * *", `day-of-month field "0": 0 is out of range 1-31`},
		{"0 0 1 13 *", `month field "13": 13 is out of range 1-12`},
		{"0 0 * * 8", `day-of-week field "8": 8 is out of range 0-7`},
		{"60 * * * * ?", `second field "60": 60 is out of range 0-59`},
		{"0 0 0 ? * 0", `day-of-week field "0": 0 is out of range 1-7`},
		{"0 0 0 1 1 ? 1969", `year field "1969": 1969 is out of range 1970-2099`},
		{"0 0 0 1 1 ? 2100", `year field "2100": 2100 is out of range 1970-2099`},
		{"*/0 * * * *", `minute field "*/0": step 0 is out of range 1-59`},
		{"*/60 * * * *", `minute field "*/60": step 60 is out of range 1-59`},
		{"0 */24 * * *", `hour field "*/24": step 24 is out of range 1-23`},
		{"*/x * * * *", `minute field "*/x": step "x" is not a number`},
		{"/5 * * * *", `minute field "/5": missing start before "/"`},
		{"5-1 * * * *", `minute field "5-1": range 5-1 descends`},
		{"0 22-2 * * *", `range 22-2 descends`},
		{"1-2-3 * * * *", `"2-3" is not a number`},
		{"1- * * * *", `minute field "1-": empty value`},
		{"-1 * * * *", `minute field "-1": empty value`},
		{"1,,2 * * * *", `minute field "1,,2": empty list element`},
		{"1, * * * *", `minute field "1,": empty list element`},
		{"+5 * * * *", `"+5" is not a number`},
		{"*-5 * * * *", `minute field "*-5": "*" is not a number`},
		{"0 0 * FOO *", `month field "FOO": "FOO" is not a number or a month name`},
		{"0 0 * * MONDAY", `"MONDAY" is not a number or a day-of-week name`},
		{"0 0 ? * *", `day-of-month field "?": "?" is only allowed in 6- or 7-field expressions`},
		{"0 0 L * *", `day-of-month field "L": "L": L, W and # are only allowed in 6- or 7-field expressions`},
		{"0 0 * * 5#2", `L, W and # are only allowed in 6- or 7-field expressions`},
		{"0 0 0 * * *", `one of day-of-month and day-of-week must be "?"`},
		{"0 0 0 1 * MON", `one of day-of-month and day-of-week must be "?"`},
		{"0 0 0 ? * ?", `day-of-month and day-of-week cannot both be "?"`},
		{"? 0 0 1 * ?", `second field "?": "?" is only allowed in the day-of-month and day-of-week fields`},
		{"0 0 0 1,? * ?", `"?" must be the whole field`},
		{"0 L 0 1 * ?", `minute field "L": "L": L, W and # are only allowed in the day-of-month and day-of-week fields`},
		{"0 0 0 1#2 * ?", `"#" is only allowed in the day-of-week field`},
		{"0 0 0 32W * ?", `expected nW with n from 1 to 31`},
		{"0 0 0 L-31 * ?", `expected L-n with n from 0 to 30`},
		{"0 0 0 LX * ?", `expected L, L-n, LW or nW`},
		{"0 0 0 ? * 8#1", `8 is out of range 1-7`},
		{"0 0 0 ? * MON#6", `expected d#n with n from 1 to 5`},
		{"0 0 0 ? * MON#0", `expected d#n with n from 1 to 5`},
		{"0 0 0 ? * 9L", `9 is out of range 1-7`},
		{"0 0 0 ? * 2-L", `L and # forms cannot be part of a range or step`},
		{"0 0 0 ? * 6#2/2", `L and # forms cannot be part of a range or step`},
		{"0 0 0 ? * 6#", `expected d#n with n from 1 to 5`},
		{"0 0 0 ? * #2", `expected d#n with d a weekday`},
		{"0 0 0 ? * LL", `expected nL with n a weekday`},
		{"0 0 0 L/2 * ?", `expected L, L-n, LW or nW`},
		{"0 0 0 W * ?", `expected nW with n from 1 to 31`},
		{"@daily", "use a PREDEFINED trigger"},
		{"0 0 * * * || 0 1 * * *", "has 11 fields"},
		{"00000000001 * * * *", "is not a number"},
		{strings.Repeat("1,", 3000) + "1 * * * *", "longer than 4096 bytes"},
	}
	for _, c := range cases {
		_, err := ParseCron(c.expr, nil)
		if err == nil {
			t.Errorf("ParseCron(%q) succeeded; want error containing %q", c.expr, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseCron(%q) = %q; want it to contain %q", c.expr, err, c.want)
		}
	}
}

func TestPredefined(t *testing.T) {
	const after = "2025-01-01T10:00:00Z" // a Wednesday
	cases := []struct {
		name, canon string
		want        []string
	}{
		{"@hourly", "@hourly", []string{"2025-01-01T11:00:00Z", "2025-01-01T12:00:00Z"}},
		{"@daily", "@daily", []string{"2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"}},
		{"@weekly", "@weekly", []string{"2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"}},
		{"@monthly", "@monthly", []string{"2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"}},
		{"@yearly", "@yearly", []string{"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"}},
		{"DAILY", "@daily", []string{"2025-01-02T00:00:00Z"}},
		{"@Weekly", "@weekly", []string{"2025-01-05T00:00:00Z"}},
	}
	for _, c := range cases {
		s, err := ParsePredefined(c.name, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if s.String() != c.canon {
			t.Errorf("%s: String() = %q, want %q", c.name, s.String(), c.canon)
		}
		got := series(s, mustTime(t, after), len(c.want))
		for i, w := range c.want {
			if i >= len(got) || !got[i].Equal(mustTime(t, w)) {
				t.Errorf("%s: got %v, want %v", c.name, got, c.want)
				break
			}
		}
	}
	tokyo := mustLoad(t, "Asia/Tokyo")
	s, _ := ParsePredefined("@daily", tokyo)
	if next, _ := s.Next(mustTime(t, after)); !next.Equal(mustTime(t, "2025-01-01T15:00:00Z")) {
		t.Errorf("@daily in Tokyo: got %v", next)
	}
	for _, bad := range []string{"@annually", "@midnight", "@reboot", "@every 5m", "", "@", " @daily", "0 0 * * *"} {
		if _, err := ParsePredefined(bad, nil); err == nil || !strings.Contains(err.Error(), "expected one of @hourly, @daily, @weekly, @monthly, @yearly") {
			t.Errorf("ParsePredefined(%q) = %v; want an error listing the schedules", bad, err)
		}
	}
}

func TestMinGap(t *testing.T) {
	cases := []struct {
		expr string
		want time.Duration
	}{
		{"* * * * *", time.Minute},
		{"*/2 * * * *", 2 * time.Minute},
		{"*/5 * * * *", 5 * time.Minute},
		{"0 * * * *", time.Hour},
		{"0 0 * * *", 24 * time.Hour},
		{"0,59 0 * * *", 59 * time.Minute},
		{"0,59 0,1 * * *", time.Minute},  // 00:59 then 01:00
		{"0,59 0,23 * * *", time.Minute}, // 23:59 then 00:00 the next day
		{"30 0,1 * * *", time.Hour},
		{"*/30 * * * * ?", 30 * time.Second},
		{"59 59 23 * * ?", 24 * time.Hour},
		{"0,59 59 0 * * ?", 59 * time.Second},
		{"59 0 0,1 * * ?", time.Hour},
	}
	for _, c := range cases {
		s, err := ParseCron(c.expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.minGap(); got != c.want {
			t.Errorf("minGap(%q) = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestCalendarArithmetic(t *testing.T) {
	for days := int64(-800000); days < 3000000; days += 997 {
		y, m, d := civilFromDays(days)
		want := time.Unix(days*86400, 0).UTC()
		if y != want.Year() || m != int(want.Month()) || d != want.Day() {
			t.Fatalf("civilFromDays(%d) = %d-%d-%d, want %v", days, y, m, d, want)
		}
		if back := daysFromCivil(y, m, d); back != days {
			t.Fatalf("daysFromCivil(%d-%d-%d) = %d, want %d", y, m, d, back, days)
		}
		if wd := weekday(y, m, d); wd != int(want.Weekday()) {
			t.Fatalf("weekday(%v) = %d, want %d", want, wd, want.Weekday())
		}
		if n := daysIn(y, m); n != time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
			t.Fatalf("daysIn(%d, %d) = %d", y, m, n)
		}
	}
}

func TestExtremeTimes(t *testing.T) {
	s, err := ParseCron("0 0 1 1 *", time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	if next, ok := s.Next(time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)); ok {
		t.Errorf("fired past year 9999: %v", next)
	}
	if next, ok := s.Next(time.Date(-50000, 1, 1, 0, 0, 0, 0, time.UTC)); !ok || next.Year() != 1 {
		t.Errorf("from before year 1: %v %v", next, ok)
	}
	if next, ok := s.Next(time.Time{}); !ok || !next.Equal(time.Date(2, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("from the zero time: %v %v", next, ok)
	}
	var nilSchedule *Schedule
	if _, ok := nilSchedule.Next(time.Now()); ok {
		t.Error("nil schedule fired")
	}
}
