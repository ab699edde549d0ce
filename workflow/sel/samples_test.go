package sel

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// sampleEnv stands in for Maestro's runtime: params, upstream step params,
// a clock, a UUID source and the params extension methods real
// definitions call.
type sampleEnv struct {
	params   map[string]Value
	steps    map[string]Value
	instance map[string]Value
	now      int64
}

func (e *sampleEnv) Param(name string) (Value, bool) {
	v, ok := e.params[name]
	return v, ok
}

func (e *sampleEnv) StepParam(step, name string) (Value, bool) {
	v, ok := e.steps[step+"/"+name]
	return v, ok
}

func (e *sampleEnv) NowMillis() int64 { return e.now }
func (e *sampleEnv) NewUUID() string  { return "3f2b8c1e-9a4d-4e7b-b1c2-5d6e7f809aab" }

func (e *sampleEnv) CallParams(method string, args []Value) (Value, error) {
	strs := make([]string, len(args))
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			return nil, fmt.Errorf("argument %d is not a string", i+1)
		}
		strs[i] = s
	}
	switch {
	case method == "getFromInstance" && len(strs) == 1:
		v, ok := e.instance[strs[0]]
		if !ok {
			return nil, fmt.Errorf("no instance field %s", strs[0])
		}
		return v, nil
	case method == "getFromStep" && len(strs) == 1:
		return e.instance["step."+strs[0]], nil
	case method == "getFromSignal" && len(strs) == 2:
		return "signal:" + strs[0] + "/" + strs[1], nil
	case method == "getFromSignal" && len(strs) == 1:
		return "signal:" + strs[0], nil
	case method == "getFromSignalDependency" && len(strs) == 2:
		return int64(20240102), nil
	}
	return nil, fmt.Errorf("unsupported %s/%d", method, len(strs))
}

func newSampleEnv() *sampleEnv {
	return &sampleEnv{
		params: map[string]Value{
			"sleep_seconds": int64(15), "maestro_step_satisfied": true, "param1": "value-1",
			"i": int64(2), "j": int64(3), "x": int64(4), "foo": int64(41), "auu": int64(1),
			"RUN_DATEINT": "20240305", "TARGET_RUN_DATE": "20210707", "TARGET_RUN_HOUR": "01",
			"param0": "zero",
			"e1":     map[string]any{"bar": "bar-value", "bat": map[string]any{"baz": []int64{1, 2, 3}}},
		},
		steps: map[string]Value{
			"job3/sleep_seconds": int64(20),
			"job.2/param1":       "from job.2",
		},
		instance: map[string]Value{
			"RUN_POLICY": "START_FRESH_NEW_RUN", "owner": "tester", "workflow_id": "sample-wf",
			"workflow_instance_id": int64(7), "workflow_run_id": int64(2),
			"FIRST_TIME_TRIGGER_TIMEZONE": "", "INITIATOR_TIMEZONE": "America/Los_Angeles",
			"step.step_id": "job1", "step.step_instance_uuid": "uuid-1", "step.step_attempt_id": int64(1),
			"step.step_instance_id": int64(3), "step.MAESTRO_STEP_ERROR_RETRIES": int64(2),
		},
		now: time.Date(2024, 3, 5, 6, 7, 8, 9e6, time.UTC).UnixMilli(),
	}
}

// Expressions from Maestro's sample workflow definitions and fixtures.
func TestMaestroSampleExpressions(t *testing.T) {
	env := newSampleEnv()
	ts := "\nDateTimeFormatter tz_dateint_hour_formatter = DateTimeFormat\n    .forPattern(\"yyyyMMddHH\")\n    .withZone(DateTimeZone.forID(\"UTC\"));\n\nDateTime dt = tz_dateint_hour_formatter\n    .parseDateTime(%s + \"00\")\n    .minusDays(0)\n    .minusHours(0);\n\ndt.withZone(DateTimeZone.forID(\"UTC\")).toString(\"%s\");\n"
	allDays2020 := []int64{}
	for d := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == 2020; d = d.AddDate(0, 0, 1) {
		allDays2020 = append(allDays2020, dateInt(d))
	}
	cases := []evalCase{
		{"1 + 1;", int64(2)},
		{"1+1", int64(2)},
		{"1+1;", int64(2)},
		{"1 * 1;", int64(1)},
		{"1+9", int64(10)},
		{"'bar1';", "bar1"},
		{"'bar';", "bar"},
		{"'1800'", "1800"},
		{"return 100;", int64(100)},
		{"1.23;", 1.23},
		{"1 > 0;", true},
		{"1>0;", true},
		{"sleep_seconds + '1';", "151"},
		{"job3__sleep_seconds + 1;", int64(21)},
		{"return maestro_step_satisfied && (true);", true},
		{"param1;", "value-1"},
		{"param1", "value-1"},
		{"i + j;", int64(5)},
		{"i * 10;", int64(20)},
		{"i+1", int64(3)},
		{"i + 2;", int64(4)},
		{"x * 5;", int64(20)},
		{"foo + 1;", int64(42)},
		{"auu+1", int64(2)},
		{"Util.intsBetween(1, 3, 1);", []int64{1, 2}},
		{"Util.intsBetween(1, i, 1);", []int64{1}},
		{"m = new Map(); m.put('foo', 'bar'); return m;", map[string]any{"foo": "bar"}},
		{"'a,b,c'.split(',');", []string{"a", "b", "c"}},
		{"new int[]{1,2,3};", []int64{1, 2, 3}},
		{"new double[]{1.1,2.2,3.3};", []float64{1.1, 2.2, 3.3}},
		{"new boolean[]{true, false, true};", []bool{true, false, true}},
		{"e1.get('bar');", "bar-value"},
		{"e1.get('bat').get('baz');", []int64{1, 2, 3}},
		{"m=new Map(); m.put('foo', 'bar'); m.put('bar', 123L); m.put('bat', new Map()); m.get('bat').put('baz', new long[]{1,2,3}); return m;",
			map[string]any{"foo": "bar", "bar": int64(123), "bat": map[string]any{"baz": []int64{1, 2, 3}}}},
		{"return new double[]{1.2, 3.45};", []float64{1.2, 3.45}},
		{"return new double[]{1.229999999999, 3.00000000000001};", []float64{1.229999999999, 3.00000000000001}},
		{"params['job' + '.' +'2__param1']", "from job.2"},
		{"params.get('param0')", "zero"},
		{"new DateTime(1569018000000).withZone(DateTimeZone.forID('UTC')).monthOfYear().getAsText();", "September"},
		{"return UUID.randomUUID().toString();", "3f2b8c1e-9a4d-4e7b-b1c2-5d6e7f809aab"},
		{"Util.dateIntHourToTs(TARGET_RUN_DATE, TARGET_RUN_HOUR, 'UTC', 0, 0)/1000",
			time.Date(2021, 7, 7, 1, 0, 0, 0, time.UTC).Unix()},
		{"Util.dateIntsBetween(20200101, 20200110, 1);", allDays2020[:9]},
		{"Util.dateIntsBetween(20200101, 20210101, 1);", allDays2020},
		{`return params.getFromStep("step_id");`, "job1"},
		{"params.getFromStep('MAESTRO_STEP_ERROR_RETRIES')", int64(2)},
		{"return params.getFromSignal('signal_a', 'foo');", "signal:signal_a/foo"},
		{"params.getFromSignal('foo')", "signal:foo"},
		{"params.getFromSignal('signal_a', 'watermark')", "signal:signal_a/watermark"},
		{"params.getFromSignalDependency('0', 'vtts_utc_dateint')", int64(20240102)},
		{fmt.Sprintf(ts, "RUN_DATEINT", "yyyyMMdd"), "20240305"},
		{fmt.Sprintf(ts, "RUN_DATEINT", "HH"), "00"},
		{fmt.Sprintf(ts, "TARGET_RUN_DATE", "yyyyMMdd"), "20210707"},
		{fmt.Sprintf(ts, "TARGET_RUN_DATE", "HH"), "00"},
	}
	runCases(t, env, cases)
	for _, c := range cases {
		if err := Check(c.src); err != nil {
			t.Errorf("Check(%q): %v", c.src, err)
		}
	}
}

func TestMaestroRunPolicyExpression(t *testing.T) {
	src := `WORKFLOW_RUN_POLICY = params.getFromInstance('RUN_POLICY'); if (WORKFLOW_RUN_POLICY == "START_FRESH_NEW_RUN") return "run"; else if (WORKFLOW_RUN_POLICY == "RESTART_FROM_INCOMPLETE") return "resume"; else if (WORKFLOW_RUN_POLICY == "RESTART_FROM_START") return "run"; else throw "Unsupported restart mode: " + WORKFLOW_RUN_POLICY;`
	p, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	for policy, want := range map[string]string{
		"START_FRESH_NEW_RUN": "run", "RESTART_FROM_INCOMPLETE": "resume", "RESTART_FROM_START": "run",
	} {
		env := newSampleEnv()
		env.instance["RUN_POLICY"] = policy
		if got, err := p.Eval(env, Limits{}); err != nil || got != want {
			t.Errorf("%s: got %v, %v; want %s", policy, got, err, want)
		}
	}
	env := newSampleEnv()
	env.instance["RUN_POLICY"] = "RESTART_CUSTOM"
	_, err = p.Eval(env, Limits{})
	se, ok := err.(*Error)
	if !ok || se.Kind != KindThrown || se.Msg != "Unsupported restart mode: RESTART_CUSTOM" {
		t.Errorf("unknown policy: got %v", err)
	}
}

// Maestro's default workflow params form a chain: each reads the ones
// before it. Evaluating the chain in order, feeding each result to the
// next, checks the whole set of date expressions against Go's time.
func TestMaestroDefaultParamChain(t *testing.T) {
	chain := []struct{ name, src string }{
		{"DSL_DEFAULT_TZ", `
    String timezone = params.getFromInstance("FIRST_TIME_TRIGGER_TIMEZONE");
    return timezone != null && !timezone.isEmpty() ? timezone : "UTC"; 
    `},
		{"WORKFLOW_CRON_TIMEZONE", `
    String INITIATOR_TIMEZONE = params.getFromInstance("INITIATOR_TIMEZONE");
    return INITIATOR_TIMEZONE != null && !INITIATOR_TIMEZONE.isEmpty() ? INITIATOR_TIMEZONE : DSL_DEFAULT_TZ;
    `},
		{"RUN_TS", `System.currentTimeMillis();`},
		{"TARGET_RUN_DATE", `
    DateTime utcNow = new DateTime(RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID(WORKFLOW_CRON_TIMEZONE));
    localNow.toString("yyyyMMdd");
    `},
		{"TARGET_RUN_HOUR", `
    DateTime utcNow = new DateTime(RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID(WORKFLOW_CRON_TIMEZONE));
    localNow.toString("HH");
    `},
		{"DERIVED_RUN_TS", `
    DateTimeFormatter tz_dateint_hour_formatter = DateTimeFormat.forPattern("yyyyMMddHH")
      .withZone(DateTimeZone.forID(WORKFLOW_CRON_TIMEZONE));
    DateTime dt = tz_dateint_hour_formatter.parseDateTime(TARGET_RUN_DATE + TARGET_RUN_HOUR);
    dt.getMillis();
    `},
		{"DERIVED_RUN_DATE_US_PACIFIC_MINUS_ONE", `
    DateTime utcNow = new DateTime(DERIVED_RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID("America/Los_Angeles"));
    localNow.minusDays(1).toString("yyyyMMdd");
    `},
		{"DERIVED_RUN_DATE_UTC_PLUS_ONE", `
    DateTime utcNow = new DateTime(DERIVED_RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID("UTC"));
    localNow.plusDays(1).toString("yyyyMMdd");
  `},
		{"DERIVED_RUN_HOUR_UTC_MINUS_ONE_HOUR", `
    DateTime utcNow = new DateTime(DERIVED_RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID("UTC"));
    localNow.minusHours(1).toString("HH");
  `},
		{"LOCAL_RUN_DATE", `DateTime utcNow = new DateTime(RUN_TS);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID(WORKFLOW_CRON_TIMEZONE));
    localNow.toString("yyyyMMdd");
    `},
		{"RUN_DATE_MINUS_7", `
    DateTime utcNow = new DateTime(RUN_TS).minusDays(7);
    DateTime localNow = utcNow.withZone(DateTimeZone.forID("UTC"));
    localNow.toString("yyyyMMdd");
    `},
		{"owner", `return params.getFromInstance("owner");`},
		{"output_path", `
        DateTimeFormatter
            dateTimeFormatter = DateTimeFormat.forPattern("yyyyMMddHHmmss").withZone(DateTimeZone.forID("UTC"));
        return String.format("%s_%s__%s_%s_%s.%s", 
            "maestro-output",
            dateTimeFormatter.print(RUN_TS),
            params.getFromInstance("workflow_instance_id"),
            params.getFromStep("step_instance_id"),
            params.getFromStep("step_instance_uuid"),
            "ipynb");
`},
		{"run_id", `
        return String.format("%s_%d_%d_%s_%d",
            params.getFromInstance("workflow_id"),
            params.getFromInstance("workflow_instance_id"),
            params.getFromInstance("workflow_run_id"),
            params.getFromStep("step_id"),
            params.getFromStep("step_attempt_id"));
`},
	}
	la := loadLoc(t, "America/Los_Angeles")
	// 2024-03-10 09:30 UTC is 01:30 PST, half an hour before the DST gap.
	now := time.Date(2024, 3, 10, 9, 30, 0, 0, time.UTC)
	env := newSampleEnv()
	env.params = map[string]Value{}
	env.now = now.UnixMilli()
	for _, c := range chain {
		p, err := Parse(c.src)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		for _, r := range p.Refs() {
			if _, ok := env.params[r]; !ok {
				t.Fatalf("%s reads %s, which is not evaluated yet", c.name, r)
			}
		}
		v, err := p.Eval(env, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		env.params[c.name] = v
	}
	local := now.In(la)
	derived := time.Date(local.Year(), local.Month(), local.Day(), local.Hour(), 0, 0, 0, la)
	want := map[string]Value{
		"DSL_DEFAULT_TZ":                        "UTC",
		"WORKFLOW_CRON_TIMEZONE":                "America/Los_Angeles",
		"RUN_TS":                                now.UnixMilli(),
		"TARGET_RUN_DATE":                       local.Format("20060102"),
		"TARGET_RUN_HOUR":                       local.Format("15"),
		"DERIVED_RUN_TS":                        derived.UnixMilli(),
		"DERIVED_RUN_DATE_US_PACIFIC_MINUS_ONE": derived.AddDate(0, 0, -1).Format("20060102"),
		"DERIVED_RUN_DATE_UTC_PLUS_ONE":         derived.UTC().AddDate(0, 0, 1).Format("20060102"),
		"DERIVED_RUN_HOUR_UTC_MINUS_ONE_HOUR":   derived.UTC().Add(-time.Hour).Format("15"),
		"LOCAL_RUN_DATE":                        local.Format("20060102"),
		"RUN_DATE_MINUS_7":                      now.AddDate(0, 0, -7).Format("20060102"),
		"owner":                                 "tester",
		"output_path":                           "maestro-output_" + now.Format("20060102150405") + "__7_3_uuid-1.ipynb",
		"run_id":                                "sample-wf_7_2_job1_1",
	}
	if !reflect.DeepEqual(env.params, want) {
		for k, w := range want {
			if g := env.params[k]; !reflect.DeepEqual(g, w) {
				t.Errorf("%s = %#v, want %#v", k, g, w)
			}
		}
	}
}

// The examples in SEL's language guide.
func TestLanguageGuideExamples(t *testing.T) {
	env := newSampleEnv()
	validate := `
for (int i = 0; i < strParam.length; i += 1) {
  if (strParam[i].isEmpty()) {
    throw i + '-th element in the array is empty. Please check the input.';
  }
}
return String.join(',', strParam);`
	env.params["strParam"] = []string{"a", "b"}
	if v := mustEval(t, validate, env); v != "a,b" {
		t.Errorf("validation example = %v", v)
	}
	env.params["strParam"] = []string{"a", "", "c"}
	if _, err := eval(t, validate, env); err == nil || !strings.Contains(err.Error(), "1-th element in the array is empty") {
		t.Errorf("validation example with an empty element: %v", err)
	}

	env.params["startDateTime"] = int64(20190101)
	env.params["endDateTime"] = int64(20190131)
	weeks := []int64{}
	for d := time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2019, 1, 31, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 7) {
		weeks = append(weeks, dateInt(d))
	}
	runCases(t, env, []evalCase{
		{"String.join(' ', 'hello', 'world');", "hello world"},
		{"return Util.dateIntsBetween(startDateTime, endDateTime, 7);", weeks},
		{`new DateTime(System.currentTimeMillis()).withZone(DateTimeZone.UTC).toString("yyyy-MM-dd HH:mm:ss.SSSSSS");`,
			time.UnixMilli(env.now).UTC().Format("2006-01-02 15:04:05.000000")},
		{`DateTime dt = new DateTime().withZone(DateTimeZone.forID('US/Pacific'));
return String.format('Q%s-%s', ((dt.getMonthOfYear() - 1) / 3) + 1, dt.getYear());`, "Q1-2024"},
		{"return Util.dateIntHourToTs(\"20210707\", \"01\", \"UTC\", 0, 0);", int64(1625619600000)},
		{"return Util.dateIntsBetween(20200226, 20200303, 1);", []int64{20200226, 20200227, 20200228, 20200229, 20200301, 20200302}},
		{"return DateTimeZone.UTC.getOffset(new DateTime());", int64(0)},
		{"return params.containsKey('param1');", true},
		{"return Math.pow(2, 3);", 8.0},
		{"int x=10; if(x>0) x+=10; else x-=10; return x;", int64(20)},
		{"int x = 0; while(x<10) x+=3; return x;", int64(12)},
		{"for(x=0; x<10; x+=1) break; return x;", int64(0)},
		{"for(x=0; x<10; x+=1) {x+=10; continue; x+=10;} return x;", int64(11)},
		{"for(x=0; x<10; x+=1) {x+=10; return x; x+=10;}", int64(10)},
		{"x = 2 > 1 ? 10 : -10;", int64(10)},
		{"x = 1.0 / 2;", 0.5},
		{"l = new long[]{1, 2, 3}; Long[] l2 = new Long[]{1, 2, 3}; l2", []int64{1, 2, 3}},
		{"sa = 'hello world'.split(' ');", []string{"hello", "world"}},
		{"\"hello\".compareTo(\"world\") > 0", false},
		{"Days.daysBetween(new DateTime(0), new DateTime(86400000 * 3)).getDays()", int64(3)},
	})
	if _, err := eval(t, "return DateTimeZone.forID('UTC');", env); err == nil {
		t.Error("returning a DateTimeZone should be an error")
	}
}
