package timetrigger

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseJSONCron(t *testing.T) {
	tr, err := ParseJSON(json.RawMessage(`{"type": "CRON", "cron": "0  10 * * *", "timezone": "US/Pacific", "fuzzy_max_delay": "1 hour"}`))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind != KindCron || tr.Cron != "0 10 * * *" || tr.Timezone != "US/Pacific" || tr.FuzzyMaxDelay != time.Hour {
		t.Errorf("got %+v", tr)
	}
	if tr.Location.String() != "US/Pacific" || tr.Schedule == nil {
		t.Errorf("location %v, schedule %v", tr.Location, tr.Schedule)
	}
	next, ok := tr.Next(mustTime(t, "2025-07-01T00:00:00Z"))
	if want := mustTime(t, "2025-07-01T17:00:00Z"); !ok || !next.Equal(want) { // 10:00 PDT
		t.Errorf("Next = %v, %v; want %v", next, ok, want)
	}
	next, _ = tr.Next(mustTime(t, "2025-12-01T00:00:00Z"))
	if want := mustTime(t, "2025-12-01T18:00:00Z"); !next.Equal(want) { // 10:00 PST
		t.Errorf("Next = %v; want %v", next, want)
	}
}

func TestParseJSONShapes(t *testing.T) {
	cases := []struct {
		raw   string
		check func(Trigger) bool
	}{
		{`{"type":"CRON","cron":"0 0 12 1/1 * ? *","timezone":"US/Pacific"}`,
			func(tr Trigger) bool { return tr.Cron == "0 0 12 1/1 * ? *" && tr.FuzzyMaxDelay == 0 }},
		{`{"type":"CRON","cron":"0 0 13 1 * ? *","timezone":"UTC","fuzzy_max_delay":4320}`,
			func(tr Trigger) bool { return tr.FuzzyMaxDelay == 4320*time.Second }},
		{`{"type":"CRON","cron":"0 0 14 1 * ? *","timezone":"UTC","fuzzy_max_delay":"2 mins"}`,
			func(tr Trigger) bool { return tr.FuzzyMaxDelay == 2*time.Minute }},
		{`{"type":"CRON","cron":"*/2 * * * *","fuzzy_max_delay":"30s"}`,
			func(tr Trigger) bool { return tr.FuzzyMaxDelay == 30*time.Second && tr.Location == time.UTC }},
		{`{"type":"CRON","cron":"0 * * * *","fuzzy_max_delay":"600"}`,
			func(tr Trigger) bool { return tr.FuzzyMaxDelay == 10*time.Minute }},
		{`{"type":"CRON","cron":"0 * * * *","timezone":"","fuzzy_max_delay":null}`,
			func(tr Trigger) bool { return tr.Location == time.UTC && tr.FuzzyMaxDelay == 0 }},
		{`{"type":"CRON","cron":"0 9 * * *","timezone":"+05:30"}`,
			func(tr Trigger) bool {
				n, _ := tr.Next(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC))
				return n.Equal(time.Date(2025, 1, 1, 3, 30, 0, 0, time.UTC))
			}},
		{`{"type":"PREDEFINED","expression":"@daily","timezone":"Asia/Tokyo"}`,
			func(tr Trigger) bool { return tr.Expression == "@daily" && tr.Location.String() == "Asia/Tokyo" }},
		{`{"type":"PREDEFINED","expression":"HOURLY","timezone":"US/Pacific","fuzzy_max_delay":76140}`,
			func(tr Trigger) bool { return tr.Expression == "@hourly" && tr.FuzzyMaxDelay == 76140*time.Second }},
		{`{"type":"PREDEFINED","expression":"@daily","fuzzy_max_delay":"2 hours, 5 mins"}`,
			func(tr Trigger) bool { return tr.FuzzyMaxDelay == 2*time.Hour+5*time.Minute }},
		{`{"type":"INTERVAL","interval":"3H"}`,
			func(tr Trigger) bool { return tr.Interval == 3*time.Hour && tr.Start.Equal(time.Unix(0, 0)) }},
		{`{"type":"INTERVAL","interval":900,"start":"2025-01-01T00:05:00+01:00"}`,
			func(tr Trigger) bool {
				return tr.Interval == 15*time.Minute && tr.Start.Equal(mustTime(t, "2024-12-31T23:05:00Z")) && tr.Location == time.UTC
			}},
		{`{"type":"INTERVAL","interval":"1 day","start":1735689600000}`,
			func(tr Trigger) bool { return tr.Start.Equal(mustTime(t, "2025-01-01T00:00:00Z")) }},
		{`{"type":"INTERVAL","interval":"1h","start":"03-26-2021 16:00:18.089UTC"}`,
			func(tr Trigger) bool { return tr.Start.Equal(time.Date(2021, 3, 26, 16, 0, 18, 89e6, time.UTC)) }},
		{`{"type":"INTERVAL","interval":"1h","start":"03-26-2021 16:00:18.089-0700"}`,
			func(tr Trigger) bool { return tr.Start.Equal(time.Date(2021, 3, 26, 23, 0, 18, 89e6, time.UTC)) }},
		{`{"type":"INTERVAL","interval":"1h","start":"03-26-2021 16:00:18 GMT+01:00"}`,
			func(tr Trigger) bool { return tr.Start.Equal(time.Date(2021, 3, 26, 15, 0, 18, 0, time.UTC)) }},
	}
	for _, c := range cases {
		tr, err := ParseJSON(json.RawMessage(c.raw))
		if err != nil {
			t.Errorf("%s: %v", c.raw, err)
			continue
		}
		if !c.check(tr) {
			t.Errorf("%s: unexpected %+v", c.raw, tr)
		}
	}
}

func TestParseJSONErrors(t *testing.T) {
	cases := []struct{ raw, field, msg string }{
		{``, "", "invalid JSON"},
		{`[]`, "", "must be a JSON object"},
		{`"CRON"`, "", "must be a JSON object"},
		{`{"type":"CRON","cron":"0 * * * *"} {}`, "", "data after the object"},
		{`{"type":"CRON","cron":"0 * * * *"`, "", "invalid JSON"},
		{`{}`, "type", "required; one of CRON, PREDEFINED, INTERVAL"},
		{`{"type":null,"cron":"0 * * * *"}`, "type", "required"},
		{`{"type":"cron","cron":"0 * * * *"}`, "type", `unknown trigger type "cron"`},
		{`{"type":5}`, "type", "expected a string, got a number"},
		{`{"type":"CRON","cron":"0 * * * *","expression":"@daily"}`, "expression", "unknown field for a CRON trigger (accepted: type, cron, timezone, fuzzy_max_delay)"},
		{`{"type":"INTERVAL","interval":"1h","timezone":"UTC"}`, "timezone", "unknown field for a INTERVAL trigger"},
		{`{"type":"CRON","cron":"0 * * * *","start_time":"x"}`, "start_time", "unknown field"},
		{`{"type":"CRON","cron":"0 * * * *","cron":"0 1 * * *"}`, "cron", "appears more than once"},
		{`{"type":"CRON"}`, "cron", "required"},
		{`{"type":"CRON","cron":null}`, "cron", "required"},
		{`{"type":"CRON","cron":""}`, "cron", "cannot be empty"},
		{`{"type":"CRON","cron":["0 * * * *"]}`, "cron", "expected a string, got a list"},
		{`{"type":"CRON","cron":"61 * * * *"}`, "cron", `minute field "61": 61 is out of range 0-59`},
		{`{"type":"CRON","cron":"*/0 * * * *"}`, "cron", `step 0 is out of range 1-59`},
		{`{"type":"CRON","cron":"@daily"}`, "cron", "use a PREDEFINED trigger"},
		{`{"type":"CRON","cron":"*/1 * * * *"}`, "cron", `"*/1 * * * *" fires 1m0s apart; time triggers must be at least 2m0s apart`},
		{`{"type":"CRON","cron":"*/30 * * * * ?"}`, "cron", "fires 30s apart"},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"Mars/Olympus"}`, "timezone", `unknown time zone "Mars/Olympus"`},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"Local"}`, "timezone", "depends on the server"},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"PST"}`, "timezone", `unknown time zone "PST"`},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"UTC+19"}`, "timezone", "invalid UTC offset"},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"+05:60"}`, "timezone", "invalid UTC offset"},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":"../../etc/passwd"}`, "timezone", "unknown time zone"},
		{`{"type":"CRON","cron":"0 0 * * *","timezone":7}`, "timezone", "expected a string, got a number"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":0}`, "fuzzy_max_delay", "must be more than 0"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":-5}`, "fuzzy_max_delay", "whole, non-negative number of seconds"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":1.5}`, "fuzzy_max_delay", "whole, non-negative number of seconds"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":1e3}`, "fuzzy_max_delay", "whole, non-negative number of seconds"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":"121 days"}`, "fuzzy_max_delay", "at most 120 days"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":"5m"}`, "fuzzy_max_delay", `unknown unit "m"`},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":"${delay}"}`, "fuzzy_max_delay", "parameter references are not supported"},
		{`{"type":"CRON","cron":"0 0 * * *","fuzzy_max_delay":true}`, "fuzzy_max_delay", "got a boolean"},
		{`{"type":"PREDEFINED"}`, "expression", "required"},
		{`{"type":"PREDEFINED","expression":"@annually"}`, "expression", "expected one of @hourly, @daily, @weekly, @monthly, @yearly"},
		{`{"type":"PREDEFINED","expression":"0 0 * * *"}`, "expression", "unknown predefined schedule"},
		{`{"type":"PREDEFINED","expression":"@daily","cron":"0 0 * * *"}`, "cron", "unknown field for a PREDEFINED trigger"},
		{`{"type":"INTERVAL"}`, "interval", "required"},
		{`{"type":"INTERVAL","interval":"1 min"}`, "interval", "must be at least 2m0s"},
		{`{"type":"INTERVAL","interval":"2min 500ms"}`, "interval", "whole number of seconds"},
		{`{"type":"INTERVAL","interval":"1h","start":"yesterday"}`, "start", "neither RFC 3339"},
		{`{"type":"INTERVAL","interval":"1h","start":"02-30-2021 10:00:00.000UTC"}`, "start", "not a valid date and time"},
		{`{"type":"INTERVAL","interval":"1h","start":"03-26-2021 16:00:18.089"}`, "start", "has no time zone"},
		{`{"type":"INTERVAL","interval":"1h","start":"03-26-2021 16:00:18.089PST"}`, "start", "use UTC, an IANA name or an offset"},
		{`{"type":"INTERVAL","interval":"1h","start":-1}`, "start", "non-negative epoch milliseconds"},
		{`{"type":"INTERVAL","interval":"1h","start":{}}`, "start", "got an object"},
	}
	for _, c := range cases {
		_, err := ParseJSON(json.RawMessage(c.raw))
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FieldError", c.raw, err)
			continue
		}
		if fe.Field != c.field || !strings.Contains(fe.Msg, c.msg) {
			t.Errorf("%s: got field %q msg %q; want field %q msg containing %q", c.raw, fe.Field, fe.Msg, c.field, c.msg)
		}
		if c.field != "" && !strings.HasPrefix(err.Error(), c.field+": ") {
			t.Errorf("%s: error %q does not start with the field", c.raw, err)
		}
	}
}

func TestIntervalNext(t *testing.T) {
	tr, err := ParseJSON(json.RawMessage(`{"type":"INTERVAL","interval":"3 hours","start":"2025-01-01T01:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ after, want string }{
		{"2024-06-01T00:00:00Z", "2025-01-01T01:00:00Z"},
		{"2025-01-01T00:59:59Z", "2025-01-01T01:00:00Z"},
		{"2025-01-01T01:00:00Z", "2025-01-01T04:00:00Z"},
		{"2025-01-01T03:59:59Z", "2025-01-01T04:00:00Z"},
		{"2025-03-09T08:30:00Z", "2025-03-09T10:00:00Z"},
	}
	for _, c := range cases {
		got, ok := tr.Next(mustTime(t, c.after))
		if !ok || !got.Equal(mustTime(t, c.want)) {
			t.Errorf("Next(%s) = %v, %v; want %s", c.after, got, ok, c.want)
		}
	}
	// Sub-second positions and the instant just before a fire.
	got, _ := tr.Next(mustTime(t, "2025-01-01T04:00:00Z").Add(-time.Nanosecond))
	if !got.Equal(mustTime(t, "2025-01-01T04:00:00Z")) {
		t.Errorf("just before a fire: %v", got)
	}
	ms, _ := ParseJSON(json.RawMessage(`{"type":"INTERVAL","interval":"2 min","start":"2025-01-01T00:00:00.250Z"}`))
	if got, _ := ms.Next(mustTime(t, "2025-01-01T00:02:00.1Z")); !got.Equal(mustTime(t, "2025-01-01T00:02:00.25Z")) {
		t.Errorf("fractional start: %v", got)
	}
	if _, ok := tr.Next(time.Date(9000, 1, 1, 0, 0, 0, 0, time.UTC)); ok {
		t.Error("fired more than 292 years past the start")
	}
}

func TestManualTrigger(t *testing.T) {
	tr := Trigger{Kind: KindCron, Cron: "0 6 * * *", Location: mustLoad(t, "Europe/Paris")}
	if got, ok := tr.Next(mustTime(t, "2025-07-01T00:00:00Z")); !ok || !got.Equal(mustTime(t, "2025-07-01T04:00:00Z")) {
		t.Errorf("unparsed CRON trigger: %v %v", got, ok)
	}
	if _, ok := (Trigger{}).Next(time.Now()); ok {
		t.Error("zero trigger fired")
	}
	if _, ok := (Trigger{Kind: KindCron, Cron: "bad"}).Next(time.Now()); ok {
		t.Error("invalid trigger fired")
	}
}

func TestFireTime(t *testing.T) {
	tr := Trigger{FuzzyMaxDelay: time.Hour}
	scheduled := mustTime(t, "2025-01-01T10:00:00Z")

	// Pinned, and checked against an independent implementation of the
	// documented formula: servers on different versions must agree.
	golden := []struct {
		seed      string
		scheduled string
		delay     time.Duration
	}{
		{"wf-1/0", "2025-01-01T10:00:00Z", 3318 * time.Second},
		{"wf-1/0", "2025-01-02T10:00:00Z", 2439 * time.Second},
		{"wf-2/0", "2025-01-01T10:00:00Z", 2685 * time.Second},
	}
	for _, g := range golden {
		at := mustTime(t, g.scheduled)
		if got := tr.FireTime(at, g.seed).Sub(at); got != g.delay {
			t.Errorf("FireTime(%s, %q) delay = %v, want %v", g.scheduled, g.seed, got, g.delay)
		}
	}

	// Deterministic, independent of zone and monotonic clock reading.
	a := tr.FireTime(scheduled, "wf")
	b := tr.FireTime(scheduled.In(mustLoad(t, "Asia/Tokyo")), "wf")
	if !a.Equal(b) {
		t.Errorf("zone changed the fire time: %v vs %v", a, b)
	}
	now := time.Now()
	if !tr.FireTime(now, "wf").Equal(tr.FireTime(now.Round(0), "wf")) {
		t.Error("monotonic reading changed the fire time")
	}

	// Within [0, max), in whole seconds, and spread out.
	seen := map[time.Duration]bool{}
	var sum time.Duration
	const n = 20000
	for i := range n {
		at := scheduled.Add(time.Duration(i) * time.Hour)
		d := tr.FireTime(at, "wf").Sub(at)
		if d < 0 || d >= time.Hour || d%time.Second != 0 {
			t.Fatalf("delay %v out of range", d)
		}
		seen[d] = true
		sum += d
	}
	if mean := sum / n; mean < 28*time.Minute || mean > 32*time.Minute {
		t.Errorf("mean delay %v, want about 30m", mean)
	}
	if len(seen) < 3000 {
		t.Errorf("only %d distinct delays", len(seen))
	}

	// Seeds spread workflows that share a schedule.
	distinct := map[time.Time]bool{}
	for i := range 100 {
		distinct[tr.FireTime(scheduled, "wf-"+string(rune('a'+i%26))+string(rune('a'+i/26)))] = true
	}
	if len(distinct) < 90 {
		t.Errorf("100 seeds gave only %d fire times", len(distinct))
	}

	if got := (Trigger{}).FireTime(scheduled, "wf"); !got.Equal(scheduled) {
		t.Errorf("no fuzzy delay moved the time to %v", got)
	}
	short := Trigger{FuzzyMaxDelay: 500 * time.Millisecond}
	for i := range 100 {
		at := scheduled.Add(time.Duration(i) * time.Minute)
		if d := short.FireTime(at, "wf").Sub(at); d < 0 || d >= 500*time.Millisecond {
			t.Fatalf("sub-second delay %v out of range", d)
		}
	}
}

func TestLoadZone(t *testing.T) {
	cases := []struct {
		name   string
		offset int // at 2025-01-01
	}{
		{"", 0}, {"UTC", 0}, {"Z", 0}, {"GMT", 0}, {"UT", 0},
		{"UTC+5", 5 * 3600}, {"GMT-08:00", -8 * 3600}, {"UT+0530", 5*3600 + 1800},
		{"+05:30", 5*3600 + 1800}, {"-0930", -(9*3600 + 1800)}, {"+18", 18 * 3600}, {"+01:02:03", 3723},
		{"US/Pacific", -8 * 3600}, {"America/New_York", -5 * 3600}, {"Etc/GMT+8", -8 * 3600}, {"EST", -5 * 3600},
	}
	for _, c := range cases {
		loc, err := LoadZone(c.name)
		if err != nil {
			t.Errorf("LoadZone(%q): %v", c.name, err)
			continue
		}
		if _, off := time.Date(2025, 1, 1, 0, 0, 0, 0, loc).Zone(); off != c.offset {
			t.Errorf("LoadZone(%q) offset %d, want %d", c.name, off, c.offset)
		}
	}
	for _, bad := range []string{"Local", "PST", "+19", "+5:6", "UTC+", "GMT+1:2:3:4", "+123", "us/pacific", "/etc/localtime"} {
		if _, err := LoadZone(bad); err == nil {
			t.Errorf("LoadZone(%q) succeeded", bad)
		}
	}
}
