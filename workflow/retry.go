package workflow

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParsableLong is Maestro's number-or-string field: a non-negative integer,
// or a string that becomes one once its param references are interpolated
// (for backoff times it may also be a duration text such as "30 min").
type ParsableLong struct {
	Int      int64
	Str      string
	IsString bool
}

func (p ParsableLong) String() string {
	if p.IsString {
		return strconv.Quote(p.Str)
	}
	return strconv.FormatInt(p.Int, 10)
}

// literal returns the integer when it is known without interpolation.
func (p *ParsableLong) literal(duration bool) (int64, bool) {
	if p == nil {
		return 0, false
	}
	if !p.IsString {
		return p.Int, true
	}
	if strings.Contains(p.Str, "$") {
		return 0, false
	}
	return parseLongValue(p.Str, duration)
}

// parseLongValue reads a ParsableLong string: an integer, or for durations a
// duration text, in seconds.
func parseLongValue(s string, duration bool) (int64, bool) {
	if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		return v, true
	}
	if duration {
		if d, err := ParseDuration(s); err == nil {
			return int64(d / time.Second), true
		}
	}
	return 0, false
}

// BackoffType selects how retry delays grow.
type BackoffType string

// Backoff types.
const (
	ExponentialBackoff BackoffType = "EXPONENTIAL_BACKOFF"
	FixedBackoff       BackoffType = "FIXED_BACKOFF"
)

var backoffTypes = []string{string(ExponentialBackoff), string(FixedBackoff)}

// BackoffPolicy is Maestro's retry backoff. A fixed backoff only uses the
// *RetryBackoffInSecs fields; an exponential one waits
// backoff * exponent^(retry-1) seconds, capped by the limit.
type BackoffPolicy struct {
	Type BackoffType

	ErrorRetryBackoffInSecs    *ParsableLong
	ErrorRetryExponent         *ParsableLong
	ErrorRetryLimitInSecs      *ParsableLong
	PlatformRetryBackoffInSecs *ParsableLong
	PlatformRetryExponent      *ParsableLong
	PlatformRetryLimitInSecs   *ParsableLong
	TimeoutRetryBackoffInSecs  *ParsableLong
	TimeoutRetryExponent       *ParsableLong
	TimeoutRetryLimitInSecs    *ParsableLong
}

// RetryPolicy is a step's retry policy. Unset fields take Maestro's
// defaults (see Limit and Backoff).
type RetryPolicy struct {
	ErrorRetryLimit    *ParsableLong
	PlatformRetryLimit *ParsableLong
	TimeoutRetryLimit  *ParsableLong
	BackoffPolicy      *BackoffPolicy
}

// FailureKind is the cause of a failed attempt.
type FailureKind int

// Failure kinds.
const (
	ErrorFailure    FailureKind = iota // the step's own (user) error
	PlatformFailure                    // the engine or infrastructure failed
	TimeoutFailure                     // the step timed out
)

// Maestro's defaults (Defaults.java) and limits (Constants.java).
const (
	defaultErrorRetryLimit    = 2
	defaultPlatformRetryLimit = 10
	defaultTimeoutRetryLimit  = 0

	defaultFixedBackoffSecs = 60

	defaultExponent             = 2
	defaultBaseBackoffSecs      = 60
	defaultErrorBackoffLimit    = 600
	defaultPlatformBackoffLimit = 3600
	defaultTimeoutBackoffLimit  = 3600

	maxRetryLimit     = 99
	maxRetryDelaySecs = 24 * 3600
	maxExponent       = math.MaxInt32
	maxTimeout        = 120 * 24 * time.Hour
)

// DefaultTimeout is Maestro's timeout for a workflow or step that sets none.
const DefaultTimeout = 10 * 24 * time.Hour

// Limit is how many retries a failure kind gets. A nil policy, an unset
// field, or a field that still holds an unresolved param reference (see
// Resolve) gives Maestro's default: 2 for errors, 10 for platform failures,
// 0 for timeouts.
func (p *RetryPolicy) Limit(k FailureKind) int {
	var f *ParsableLong
	def := int64(defaultErrorRetryLimit)
	switch k {
	case PlatformFailure:
		def = defaultPlatformRetryLimit
	case TimeoutFailure:
		def = defaultTimeoutRetryLimit
	}
	if p != nil {
		switch k {
		case ErrorFailure:
			f = p.ErrorRetryLimit
		case PlatformFailure:
			f = p.PlatformRetryLimit
		case TimeoutFailure:
			f = p.TimeoutRetryLimit
		}
	}
	v, ok := f.literal(false)
	if !ok || v < 0 {
		v = def
	}
	if v > maxRetryLimit {
		v = maxRetryLimit
	}
	return int(v)
}

// Backoff is the delay before retry number retry (1 for the first retry) of
// a failure kind. Unset fields take Maestro's defaults: exponential backoff
// of 60s * 2^(retry-1), capped at 600s for errors and 3600s for platform and
// timeout failures; a fixed backoff defaults to 60s.
func (p *RetryPolicy) Backoff(k FailureKind, retry int) time.Duration {
	if retry < 1 {
		retry = 1
	}
	var b *BackoffPolicy
	if p != nil {
		b = p.BackoffPolicy
	}
	pick := func(f *ParsableLong, def int64, duration bool) int64 {
		if v, ok := f.literal(duration); ok && v >= 0 {
			return v
		}
		return def
	}
	var base, exp, limit *ParsableLong
	capDef := int64(defaultErrorBackoffLimit)
	if b != nil {
		switch k {
		case ErrorFailure:
			base, exp, limit = b.ErrorRetryBackoffInSecs, b.ErrorRetryExponent, b.ErrorRetryLimitInSecs
		case PlatformFailure:
			base, exp, limit = b.PlatformRetryBackoffInSecs, b.PlatformRetryExponent, b.PlatformRetryLimitInSecs
		case TimeoutFailure:
			base, exp, limit = b.TimeoutRetryBackoffInSecs, b.TimeoutRetryExponent, b.TimeoutRetryLimitInSecs
		}
	}
	if k != ErrorFailure {
		capDef = defaultPlatformBackoffLimit
	}
	if b != nil && b.Type == FixedBackoff {
		return secs(pick(base, defaultFixedBackoffSecs, true))
	}
	baseS := pick(base, defaultBaseBackoffSecs, true)
	expV := pick(exp, defaultExponent, false)
	capS := pick(limit, capDef, true)
	wait := float64(baseS) * math.Pow(float64(expV), float64(retry-1))
	if math.IsNaN(wait) || wait >= float64(capS) {
		return secs(capS)
	}
	return secs(int64(wait))
}

func secs(s int64) time.Duration {
	if s > math.MaxInt64/int64(time.Second) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(s) * time.Second
}

// Resolve returns a copy of the policy with every string field interpolated
// with lookup and turned into a number, so that Limit and Backoff see the
// values the user meant rather than defaults.
func (p *RetryPolicy) Resolve(lookup func(name string) (Value, bool)) (*RetryPolicy, error) {
	if p == nil {
		return nil, nil
	}
	var firstErr error
	res := func(name string, f *ParsableLong, duration bool) *ParsableLong {
		if f == nil || !f.IsString || firstErr != nil {
			return f
		}
		s, err := Interpolate(f.Str, lookup)
		if err != nil {
			firstErr = fmt.Errorf("%s: %w", name, err)
			return f
		}
		v, ok := parseLongValue(s, duration)
		if !ok || v < 0 {
			firstErr = fmt.Errorf("%s: value %q is parsed to %q, which is not a non-negative number", name, f.Str, s)
			return f
		}
		return &ParsableLong{Int: v}
	}
	out := &RetryPolicy{
		ErrorRetryLimit:    res("error_retry_limit", p.ErrorRetryLimit, false),
		PlatformRetryLimit: res("platform_retry_limit", p.PlatformRetryLimit, false),
		TimeoutRetryLimit:  res("timeout_retry_limit", p.TimeoutRetryLimit, false),
	}
	if b := p.BackoffPolicy; b != nil {
		out.BackoffPolicy = &BackoffPolicy{
			Type:                       b.Type,
			ErrorRetryBackoffInSecs:    res("backoff.error_retry_backoff_in_secs", b.ErrorRetryBackoffInSecs, true),
			ErrorRetryExponent:         res("backoff.error_retry_exponent", b.ErrorRetryExponent, false),
			ErrorRetryLimitInSecs:      res("backoff.error_retry_limit_in_secs", b.ErrorRetryLimitInSecs, true),
			PlatformRetryBackoffInSecs: res("backoff.platform_retry_backoff_in_secs", b.PlatformRetryBackoffInSecs, true),
			PlatformRetryExponent:      res("backoff.platform_retry_exponent", b.PlatformRetryExponent, false),
			PlatformRetryLimitInSecs:   res("backoff.platform_retry_limit_in_secs", b.PlatformRetryLimitInSecs, true),
			TimeoutRetryBackoffInSecs:  res("backoff.timeout_retry_backoff_in_secs", b.TimeoutRetryBackoffInSecs, true),
			TimeoutRetryExponent:       res("backoff.timeout_retry_exponent", b.TimeoutRetryExponent, false),
			TimeoutRetryLimitInSecs:    res("backoff.timeout_retry_limit_in_secs", b.TimeoutRetryLimitInSecs, true),
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return out, nil
}

// ---- durations ----

// Duration is a timeout. In a definition it is a number of seconds, a
// numeric string of seconds, a duration text such as "10 minutes 5 seconds",
// "1 hour" or "30s", or a string with param references (see Expr).
type Duration struct {
	time.Duration
	expr string
}

// Expr is the unresolved text of a timeout that references params, such as
// "${timeout}"; empty when the duration is known.
func (d Duration) Expr() string { return d.expr }

// Resolve interpolates a param-referencing timeout and parses it; a known
// duration is returned as is.
func (d Duration) Resolve(lookup func(name string) (Value, bool)) (time.Duration, error) {
	if d.expr == "" {
		return d.Duration, nil
	}
	s, err := Interpolate(d.expr, lookup)
	if err != nil {
		return 0, err
	}
	return ParseDuration(s)
}

// MarshalJSON writes whole seconds as a number and anything else as a
// string that reads back to the same duration.
func (d Duration) MarshalJSON() ([]byte, error) {
	return encodeNode(durationNode(d)), nil
}

// UnmarshalJSON accepts what a definition accepts for a timeout.
func (d *Duration) UnmarshalJSON(data []byte) error {
	n, perr := parseJSON(data)
	if perr != nil {
		return perr
	}
	dc := newDecoder()
	v := dc.duration(n, "")
	if len(dc.errs) > 0 {
		return dc.errs.asError()
	}
	*d = *v
	return nil
}

func durationNode(d Duration) *node {
	if d.expr != "" {
		return strNode(d.expr)
	}
	if d.Duration%time.Second == 0 {
		return intNode(int64(d.Duration / time.Second))
	}
	return strNode(strconv.FormatInt(d.Duration.Milliseconds(), 10) + "ms")
}

// durationFromString reads a timeout written as a string.
func durationFromString(s string) (Duration, error) {
	if strings.Contains(s, "$") {
		return Duration{expr: s}, nil
	}
	if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		if v > math.MaxInt64/int64(time.Second) || v < math.MinInt64/int64(time.Second) {
			return Duration{}, fmt.Errorf("duration %q is out of range", s)
		}
		return Duration{Duration: time.Duration(v) * time.Second}, nil
	}
	d, err := ParseDuration(s)
	if err != nil {
		return Duration{}, err
	}
	return Duration{Duration: d}, nil
}

var durationUnits = []struct {
	names []string
	unit  time.Duration
}{
	{[]string{"days", "day", "d"}, 24 * time.Hour},
	{[]string{"hours", "hour", "hrs", "hr", "h"}, time.Hour},
	{[]string{"minutes", "minute", "mins", "min"}, time.Minute},
	{[]string{"milliseconds", "millisecond", "ms"}, time.Millisecond},
	{[]string{"seconds", "second", "secs", "sec", "s"}, time.Second},
}

// ParseDuration reads a duration the way Maestro reads timeouts: a plain
// integer is seconds; otherwise a sequence of <number><unit> parts with an
// optional space between number and unit, units d/day/days, h/hour/hours,
// min/minute/minutes, s/sec/second/seconds and ms/millisecond/milliseconds
// (any case; the plural abbreviations mins, secs, hr and hrs too, which
// Maestro reads the same way), e.g. "1 hour 30 minutes", "90s", "1d12h".
// Maestro skips text
// it does not recognize; here it is an error, so "1h30m" (m is not a unit)
// fails instead of meaning one hour.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if v, err := strconv.ParseInt(t, 10, 64); err == nil {
		if v < 0 {
			return 0, fmt.Errorf("duration %q is negative", s)
		}
		if v > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		return time.Duration(v) * time.Second, nil
	}
	low := []byte(strings.ToLower(t))
	if len(low) == 0 {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	var total time.Duration
	for i := 0; i < len(low); {
		if low[i] == ' ' || low[i] == '\t' {
			i++
			continue
		}
		j := i
		for j < len(low) && isDigit(low[j]) {
			j++
		}
		if j == i {
			return 0, fmt.Errorf("invalid duration %q: expected a number at %q", s, string(low[i:]))
		}
		n, err := strconv.ParseInt(string(low[i:j]), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		k := j
		if k < len(low) && low[k] == ' ' {
			k++
		}
		var unit time.Duration
		for _, u := range durationUnits {
			for _, name := range u.names {
				if bytes.HasPrefix(low[k:], []byte(name)) && (k+len(name) == len(low) || !isAlpha(low[k+len(name)])) {
					unit, k = u.unit, k+len(name)
					break
				}
			}
			if unit != 0 {
				break
			}
		}
		if unit == 0 {
			return 0, fmt.Errorf("invalid duration %q: expected a unit (d, h, min, s or ms) after %s", s, string(low[i:j]))
		}
		if n > int64(math.MaxInt64/unit) || total > time.Duration(math.MaxInt64)-time.Duration(n)*unit {
			return 0, fmt.Errorf("duration %q is out of range", s)
		}
		total += time.Duration(n) * unit
		i = k
	}
	return total, nil
}
