package workflow

import (
	"encoding/json"
	"testing"
	"time"
)

func pl(v int64) *ParsableLong   { return &ParsableLong{Int: v} }
func pls(s string) *ParsableLong { return &ParsableLong{Str: s, IsString: true} }
func sec(n int64) time.Duration  { return time.Duration(n) * time.Second }
func backoffs(p *RetryPolicy, k FailureKind, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = p.Backoff(k, i+1)
	}
	return out
}

func eqDurations(t *testing.T, what string, got []time.Duration, want ...int64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %v", what, got)
	}
	for i := range want {
		if got[i] != sec(want[i]) {
			t.Fatalf("%s: got %v, want seconds %v", what, got, want)
		}
	}
}

func TestRetryDefaults(t *testing.T) {
	var p *RetryPolicy
	if p.Limit(ErrorFailure) != 2 || p.Limit(PlatformFailure) != 10 || p.Limit(TimeoutFailure) != 0 {
		t.Fatalf("nil limits: %d %d %d", p.Limit(ErrorFailure), p.Limit(PlatformFailure), p.Limit(TimeoutFailure))
	}
	eqDurations(t, "error", backoffs(p, ErrorFailure, 6), 60, 120, 240, 480, 600, 600)
	eqDurations(t, "platform", backoffs(p, PlatformFailure, 8), 60, 120, 240, 480, 960, 1920, 3600, 3600)
	eqDurations(t, "timeout", backoffs(p, TimeoutFailure, 2), 60, 120)
	if p.Backoff(ErrorFailure, 0) != sec(60) || p.Backoff(ErrorFailure, 1000) != sec(600) {
		t.Error("out of range retry numbers")
	}
	empty := &RetryPolicy{}
	if empty.Limit(PlatformFailure) != 10 || empty.Backoff(PlatformFailure, 3) != sec(240) {
		t.Error("empty policy does not use defaults")
	}
}

func TestRetryPolicyValues(t *testing.T) {
	p := &RetryPolicy{
		ErrorRetryLimit:    pl(5),
		PlatformRetryLimit: pls("3"),
		TimeoutRetryLimit:  pls("${tries}"),
		BackoffPolicy: &BackoffPolicy{
			Type:                      ExponentialBackoff,
			ErrorRetryBackoffInSecs:   pl(100),
			ErrorRetryLimitInSecs:     pl(1000),
			PlatformRetryExponent:     pl(3),
			TimeoutRetryBackoffInSecs: pls("2 min"),
			TimeoutRetryLimitInSecs:   pls("${cap}"),
		},
	}
	if p.Limit(ErrorFailure) != 5 || p.Limit(PlatformFailure) != 3 || p.Limit(TimeoutFailure) != 0 {
		t.Fatalf("limits %d %d %d", p.Limit(ErrorFailure), p.Limit(PlatformFailure), p.Limit(TimeoutFailure))
	}
	eqDurations(t, "error", backoffs(p, ErrorFailure, 5), 100, 200, 400, 800, 1000)
	eqDurations(t, "platform", backoffs(p, PlatformFailure, 5), 60, 180, 540, 1620, 3600)
	eqDurations(t, "timeout", backoffs(p, TimeoutFailure, 6), 120, 240, 480, 960, 1920, 3600)

	r, err := p.Resolve(lookupFrom(map[string]Value{"tries": {Long, int64(4)}, "cap": {String, "10 min"}}))
	if err != nil {
		t.Fatal(err)
	}
	if r.Limit(TimeoutFailure) != 4 || *r.TimeoutRetryLimit != *pl(4) {
		t.Errorf("resolved timeout limit %d", r.Limit(TimeoutFailure))
	}
	eqDurations(t, "resolved timeout", backoffs(r, TimeoutFailure, 4), 120, 240, 480, 600)
	if p.TimeoutRetryLimit.Str != "${tries}" {
		t.Error("Resolve modified the original")
	}
	if _, err := p.Resolve(nil); err == nil || err.Error() != `timeout_retry_limit: unknown param "tries"` {
		t.Errorf("Resolve without params: %v", err)
	}
	bad := &RetryPolicy{ErrorRetryLimit: pls("${x}")}
	if _, err := bad.Resolve(lookupFrom(map[string]Value{"x": {String, "many"}})); err == nil ||
		err.Error() != `error_retry_limit: value "${x}" is parsed to "many", which is not a non-negative number` {
		t.Errorf("Resolve to a non-number: %v", err)
	}
	var nilPolicy *RetryPolicy
	if r, err := nilPolicy.Resolve(nil); r != nil || err != nil {
		t.Error("nil Resolve")
	}

	fixed := &RetryPolicy{BackoffPolicy: &BackoffPolicy{Type: FixedBackoff, ErrorRetryBackoffInSecs: pl(30)}}
	eqDurations(t, "fixed error", backoffs(fixed, ErrorFailure, 3), 30, 30, 30)
	eqDurations(t, "fixed platform default", backoffs(fixed, PlatformFailure, 3), 60, 60, 60)

	huge := &RetryPolicy{ErrorRetryLimit: pl(1000), BackoffPolicy: &BackoffPolicy{Type: ExponentialBackoff,
		ErrorRetryExponent: pl(1 << 30), ErrorRetryLimitInSecs: pl(86400)}}
	if huge.Limit(ErrorFailure) != 99 || huge.Backoff(ErrorFailure, 50) != sec(86400) {
		t.Errorf("huge policy: %d %v", huge.Limit(ErrorFailure), huge.Backoff(ErrorFailure, 50))
	}
}

func TestRetryPolicyFromDefinition(t *testing.T) {
	d := mustParse(t, "valid/full.json")
	p := d.Step("load").RetryPolicy
	if p.Limit(ErrorFailure) != 3 || p.Limit(PlatformFailure) != 5 || p.Limit(TimeoutFailure) != 1 {
		t.Fatalf("limits %+v", p)
	}
	eqDurations(t, "load error", backoffs(p, ErrorFailure, 5), 10, 30, 90, 270, 300)
	eqDurations(t, "load platform", backoffs(p, PlatformFailure, 2), 60, 120)
	w := d.Step("wait").RetryPolicy
	eqDurations(t, "wait error", backoffs(w, ErrorFailure, 2), 30, 30)
	if d.Step("start").RetryPolicy != nil {
		t.Error("unexpected policy")
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"90":                   90 * time.Second,
		" 15 ":                 15 * time.Second,
		"30s":                  30 * time.Second,
		"1 sec":                time.Second,
		"10 seconds":           10 * time.Second,
		"1 hour":               time.Hour,
		"3 hrs":                3 * time.Hour,
		"2 days":               48 * time.Hour,
		"1d12h":                36 * time.Hour,
		"10 minutes 5 seconds": 10*time.Minute + 5*time.Second,
		"5 mins":               5 * time.Minute,
		"10min":                10 * time.Minute,
		"1 HOUR 30 MIN":        90 * time.Minute,
		"250ms":                250 * time.Millisecond,
		"2 milliseconds":       2 * time.Millisecond,
		"5s 1h":                time.Hour + 5*time.Second,
	}
	for in, want := range good {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                       `invalid duration ""`,
		"soon":                   `invalid duration "soon": expected a number at "soon"`,
		"1h30m":                  `invalid duration "1h30m": expected a unit (d, h, min, s or ms) after 30`,
		"-5":                     `duration "-5" is negative`,
		"10 weeks":               `invalid duration "10 weeks": expected a unit (d, h, min, s or ms) after 10`,
		"1.5h":                   `invalid duration "1.5h": expected a unit (d, h, min, s or ms) after 1`,
		"10 minutes and 5 secs":  `invalid duration "10 minutes and 5 secs": expected a number at "and 5 secs"`,
		"999999999999999 days":   `duration "999999999999999 days" is out of range`,
		"99999999999999999999 s": `duration "99999999999999999999 s" is out of range`,
	}
	for in, want := range bad {
		if _, err := ParseDuration(in); err == nil || err.Error() != want {
			t.Errorf("ParseDuration(%q) error = %v, want %s", in, err, want)
		}
	}
}

func TestDurationJSON(t *testing.T) {
	cases := []struct {
		in, out string
		want    time.Duration
		expr    string
	}{
		{`90`, `90`, 90 * time.Second, ""},
		{`"90"`, `90`, 90 * time.Second, ""},
		{`"1 hour"`, `3600`, time.Hour, ""},
		{`"1500ms"`, `"1500ms"`, 1500 * time.Millisecond, ""},
		{`"${t}"`, `"${t}"`, 0, "${t}"},
		{`"${n} min"`, `"${n} min"`, 0, "${n} min"},
	}
	for _, tc := range cases {
		var d Duration
		if err := json.Unmarshal([]byte(tc.in), &d); err != nil {
			t.Fatalf("Unmarshal(%s): %v", tc.in, err)
		}
		if d.Duration != tc.want || d.Expr() != tc.expr {
			t.Errorf("Unmarshal(%s) = %v %q", tc.in, d.Duration, d.Expr())
		}
		out, err := json.Marshal(d)
		if err != nil || string(out) != tc.out {
			t.Errorf("Marshal(%s) = %s, %v; want %s", tc.in, out, err, tc.out)
		}
	}
	var d Duration
	for _, in := range []string{`true`, `1.5`, `"later"`, `{`} {
		if err := json.Unmarshal([]byte(in), &d); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", in)
		}
	}
	_ = json.Unmarshal([]byte(`"${n} min"`), &d)
	got, err := d.Resolve(lookupFrom(map[string]Value{"n": {Long, int64(3)}}))
	if err != nil || got != 3*time.Minute {
		t.Errorf("Resolve = %v, %v", got, err)
	}
	if _, err := d.Resolve(nil); err == nil {
		t.Error("Resolve without params succeeded")
	}
	known := Duration{Duration: time.Second}
	if got, err := known.Resolve(nil); err != nil || got != time.Second {
		t.Error("Resolve of a known duration")
	}
}
