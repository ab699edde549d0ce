package timetrigger

import (
	"strings"
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"0", 0},
		{"30", 30 * time.Second},
		{" 3600 ", time.Hour},
		{"30s", 30 * time.Second},
		{"1 hour", time.Hour},
		{"2 hours", 2 * time.Hour},
		{"2hour", 2 * time.Hour},
		{"3H", 3 * time.Hour},
		{"10 minutes 5 seconds", 10*time.Minute + 5*time.Second},
		{"2 hours, 5 mins", 2*time.Hour + 5*time.Minute},
		{"1d 1h 1min 1s 1ms", 24*time.Hour + time.Hour + time.Minute + time.Second + time.Millisecond},
		{"1 d 1 h 1 min 1 s 1 ms", 24*time.Hour + time.Hour + time.Minute + time.Second + time.Millisecond},
		{"1d12h", 36 * time.Hour},
		{"10min 1min", 11 * time.Minute},
		{"5 secs", 5 * time.Second},
		{"2 hrs", 2 * time.Hour},
		{"1 DAY", 24 * time.Hour},
		{"1500 milliseconds", 1500 * time.Millisecond},
	}
	for _, c := range cases {
		got, err := ParseDuration(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "empty duration"},
		{"   ", "empty duration"},
		{"-5", `expected a number at "-5"`},
		{"5m", `unknown unit "m"`},
		{"1h30m", `unknown unit "m"`},
		{"1.5h", "fractions are not supported"},
		{"hour", `expected a number at "hour"`},
		{"1h 30", "missing unit after 30"},
		{"10 fortnights", `unknown unit "fortnights"`},
		{"99999999999999999999", "too large"},
		{"9999999999999999 days", "too large"},
		{"106751 days 106751 days", "too large"},
		{"1 hour; 2 min", `expected a number at "; 2 min"`},
	}
	for _, c := range bad {
		_, err := ParseDuration(c.in)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseDuration(%q) = %v; want an error containing %q", c.in, err, c.want)
		}
	}
}
