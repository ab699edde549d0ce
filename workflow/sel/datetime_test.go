package sel

import (
	"fmt"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// Expected values in this file come from Go's time package, not from
// Maestro, so the two implementations check each other.

func loadLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func dateInt(tm time.Time) int64 {
	n, _ := strconv.ParseInt(tm.Format("20060102"), 10, 64)
	return n
}

func TestUtilDateIntToTs(t *testing.T) {
	for _, d := range []time.Time{
		time.Date(2019, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2020, 2, 29, 0, 0, 0, 0, time.UTC),
		time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC),
		time.Date(2038, 1, 19, 0, 0, 0, 0, time.UTC),
		time.Date(1900, 3, 1, 0, 0, 0, 0, time.UTC),
	} {
		want := d.UnixMilli()
		for _, arg := range []string{strconv.FormatInt(dateInt(d), 10), "'" + d.Format("20060102") + "'"} {
			src := "Util.dateIntToTs(" + arg + ")"
			if got := mustEval(t, src, nil); got != want {
				t.Errorf("%s = %v, want %d", src, got, want)
			}
		}
	}
	runErrCases(t, nil, []errCase{
		{"Util.dateIntToTs(20230229)", KindRuntime, "dayOfMonth"},
		{"Util.dateIntToTs(20231301)", KindRuntime, "monthOfYear"},
		{"Util.dateIntToTs('2023-01-01')", KindRuntime, "malformed"},
		{"Util.dateIntToTs(1.5)", KindRuntime, "String or a long"},
	})
}

func TestUtilTsToDateInt(t *testing.T) {
	for _, ms := range []int64{0, 12345, -1, 1546300800000, 1546300799999, 1709251199999, 4102444800000} {
		want := time.UnixMilli(ms).UTC().Format("20060102")
		for _, arg := range []string{strconv.FormatInt(ms, 10), "'" + strconv.FormatInt(ms, 10) + "'"} {
			src := "Util.tsToDateInt(" + arg + ")"
			if got := mustEval(t, src, nil); got != want {
				t.Errorf("%s = %v, want %s", src, got, want)
			}
		}
	}
}

func TestUtilIncrementDateInt(t *testing.T) {
	start := time.Date(2023, 12, 25, 0, 0, 0, 0, time.UTC)
	for _, n := range []int{0, 1, 7, 10, 66, 365, -1, -25, -400} {
		want := start.AddDate(0, 0, n).Format("20060102")
		src := fmt.Sprintf("Util.incrementDateInt(20231225, %d)", n)
		if got := mustEval(t, src, nil); got != want {
			t.Errorf("%s = %v, want %s", src, got, want)
		}
	}
}

func TestUtilDateIntHourToTs(t *testing.T) {
	la := loadLoc(t, "America/Los_Angeles")
	cases := []struct {
		date, hour string
		zone       string
		loc        *time.Location
		dayOff     int
		hourOff    int
	}{
		{"20240715", "'07'", "UTC", time.UTC, 0, 0},
		{"'20240715'", "7", "UTC", time.UTC, 1, 2},
		{"20240101", "'23'", "America/Los_Angeles", la, 0, 0},
		{"20240101", "'00'", "America/Los_Angeles", la, 3, -5},
		{"20241231", "'12'", "Asia/Kolkata", loadLoc(t, "Asia/Kolkata"), -2, 30},
	}
	for _, c := range cases {
		d, _ := time.Parse("20060102", trimQuotes(c.date))
		h, _ := strconv.Atoi(trimQuotes(c.hour))
		local := time.Date(d.Year(), d.Month(), d.Day(), h, 0, 0, 0, c.loc)
		// Day offsets move the wall-clock date back; hour offsets move the
		// instant back.
		want := local.AddDate(0, 0, -c.dayOff).Add(-time.Duration(c.hourOff) * time.Hour).UnixMilli()
		src := fmt.Sprintf("Util.dateIntHourToTs(%s, %s, '%s', %d, %d)", c.date, c.hour, c.zone, c.dayOff, c.hourOff)
		if got := mustEval(t, src, nil); got != want {
			t.Errorf("%s = %v, want %d", src, got, want)
		}
	}
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '\'' {
		return s[1 : len(s)-1]
	}
	return s
}

func TestUtilDateIntsBetween(t *testing.T) {
	list := func(from, to time.Time, step int) []int64 {
		out := []int64{}
		for d := from; d.Before(to); d = d.AddDate(0, 0, step) {
			out = append(out, dateInt(d))
		}
		return out
	}
	reverse := func(s []int64) []int64 {
		for i, j := 0, len(s)-1; i < j; i, j = i+1, j-1 {
			s[i], s[j] = s[j], s[i]
		}
		return s
	}
	d := func(y int, m time.Month, day int) time.Time { return time.Date(y, m, day, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		src  string
		want []int64
	}{
		{"Util.dateIntsBetween(20240226, 20240304, 1)", list(d(2024, 2, 26), d(2024, 3, 4), 1)},
		{"Util.dateIntsBetween('20231201', 20240201, 7)", list(d(2023, 12, 1), d(2024, 2, 1), 7)},
		{"Util.dateIntsBetween(20220105, '20230105', '90')", list(d(2022, 1, 5), d(2023, 1, 5), 90)},
		{"Util.dateIntsBetween(20240310, 20240301, 1)", []int64{}},
		{"Util.dateIntsBetween(20240101, 20240101, 1)", []int64{}},
		// A negative step lists [second, first) in reverse.
		{"Util.dateIntsBetween(20240305, 20240228, -1)", reverse(list(d(2024, 2, 28), d(2024, 3, 5), 1))},
		{"Util.dateIntsBetween(20240305, 20240228, -2)", reverse(list(d(2024, 2, 28), d(2024, 3, 5), 2))},
	}
	for _, c := range cases {
		if got := mustEval(t, c.src, nil); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s = %v, want %v", c.src, got, c.want)
		}
	}
	runErrCases(t, nil, []errCase{
		{"Util.dateIntsBetween(20240101, 20240201, 0)", KindRuntime, "must not be 0"},
		{"Util.dateIntsBetween(10000101, 99990101, 1)", KindLimit, "array limit"},
	})
}

func TestUtilIntsBetween(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"Util.intsBetween(1, 3, 1)", []int64{1, 2}},
		{"Util.intsBetween(0, 10, 4)", []int64{0, 4, 8}},
		{"Util.intsBetween('5', '0', '-2')", []int64{5, 3, 1}},
		{"Util.intsBetween(3, 3, 1)", []int64{}},
		{"Util.intsBetween(3, 1, 1)", []int64{}},
		{"Util.intsBetween(1, 3, 0)", []int64{}},
		{"i = 4; Util.intsBetween(1, i, 1)", []int64{1, 2, 3}},
	})
	runErrCases(t, nil, []errCase{
		{"Util.intsBetween(3, 1, 0)", KindRuntime, "must not be 0"},
		{"Util.intsBetween(0, 1000000, 1)", KindLimit, "array limit"},
	})
}

func TestDateTimeFieldsAgainstGo(t *testing.T) {
	zones := []string{"UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "+05:30", "-11:00"}
	instants := []int64{0, 1569018000000, 1709980200000, 1730622600000, -1234567890123, 951782400000, 1609459199999, 4102444800000}
	for _, zid := range zones {
		var loc *time.Location
		switch zid {
		case "+05:30":
			loc = time.FixedZone(zid, 5*3600+1800)
		case "-11:00":
			loc = time.FixedZone(zid, -11*3600)
		default:
			loc = loadLoc(t, zid)
		}
		for _, ms := range instants {
			tm := time.UnixMilli(ms).In(loc)
			wy, ww := tm.ISOWeek()
			dow := int64(tm.Weekday())
			if dow == 0 {
				dow = 7
			}
			_, off := tm.Zone()
			dt := fmt.Sprintf("new DateTime(%dL, DateTimeZone.forID('%s'))", ms, zid)
			want := []Value{
				int64(tm.Year()), int64(tm.Month()), int64(tm.Day()), int64(tm.Hour()),
				int64(tm.Minute()), int64(tm.Second()), int64(tm.Nanosecond() / 1e6),
				dow, int64(tm.YearDay()), int64(ww), int64(wy),
				int64(off) * 1000,
				tm.Format("2006-01-02 15:04:05.000"),
				tm.Month().String(), tm.Weekday().String(),
				tm.Format("Jan Mon -0700 -07:00"),
				tm.Format("06 1 2 3 PM"),
				int64((tm.Hour()*60+tm.Minute())*60+tm.Second())*1000 + int64(tm.Nanosecond()/1e6),
			}
			src := fmt.Sprintf(`DateTime d = %s; Map m = new HashMap();
				m.put('a', new long[]{d.getYear(), d.getMonthOfYear(), d.getDayOfMonth(), d.getHourOfDay(),
					d.getMinuteOfHour(), d.getSecondOfMinute(), d.getMillisOfSecond(), d.getDayOfWeek(),
					d.getDayOfYear(), d.getWeekOfWeekyear(), d.getWeekyear(), d.getZone().getOffset(d)});
				m.put('b', new String[]{d.toString('yyyy-MM-dd HH:mm:ss.SSS'), d.monthOfYear().getAsText(),
					d.dayOfWeek().getAsText(), d.toString('MMM EEE Z ZZ'), d.toString('yy M d h a')});
				m.put('c', d.getMillisOfDay());
				return m;`, dt)
			got, err := eval(t, src, nil)
			if err != nil {
				t.Fatalf("%s: %v", zid, err)
			}
			m := got.(map[string]any)
			var flat []Value
			for _, n := range m["a"].([]int64) {
				flat = append(flat, n)
			}
			for _, s := range m["b"].([]string) {
				flat = append(flat, s)
			}
			flat = append(flat, m["c"])
			if !reflect.DeepEqual(flat, want) {
				t.Errorf("zone %s, instant %d:\n got %v\nwant %v", zid, ms, flat, want)
			}
		}
	}
}

func TestDateTimeISOString(t *testing.T) {
	la := loadLoc(t, "America/Los_Angeles")
	for _, ms := range []int64{1569018000000, 1700000000123, 0} {
		utc := time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
		local := time.UnixMilli(ms).In(la).Format("2006-01-02T15:04:05.000-07:00")
		runCases(t, nil, []evalCase{
			{fmt.Sprintf("new DateTime(%d).toString()", ms), utc},
			{fmt.Sprintf("'' + new DateTime(%d)", ms), utc},
			{fmt.Sprintf("new DateTime(%d).withZone(DateTimeZone.forID('America/Los_Angeles')).toString()", ms), local},
		})
	}
}

func TestDateTimeArithmetic(t *testing.T) {
	la := loadLoc(t, "America/Los_Angeles")
	start := time.Date(2024, 3, 9, 1, 30, 0, 0, la) // the day before a DST gap
	ms := start.UnixMilli()
	base := fmt.Sprintf("new DateTime(%d, DateTimeZone.forID('America/Los_Angeles'))", ms)
	cases := []struct {
		call string
		want time.Time
	}{
		{"plusDays(1)", start.AddDate(0, 0, 1)},   // keeps 01:30 across the gap
		{"plusDays(30)", start.AddDate(0, 0, 30)}, // into PDT
		{"minusDays(100)", start.AddDate(0, 0, -100)},
		{"plusWeeks(2)", start.AddDate(0, 0, 14)},
		{"plusHours(24)", start.Add(24 * time.Hour)}, // absolute: 03:30 PDT the next day, across the gap
		{"minusHours(5)", start.Add(-5 * time.Hour)},
		{"plusMinutes(90)", start.Add(90 * time.Minute)},
		{"plusSeconds(3601)", start.Add(3601 * time.Second)},
		{"plusMillis(1500)", start.Add(1500 * time.Millisecond)},
		{"plusYears(1)", start.AddDate(1, 0, 0)},
		{"minusMonths(3)", start.AddDate(0, -3, 0)},
	}
	for _, c := range cases {
		src := base + "." + c.call + ".getMillis()"
		if got := mustEval(t, src, nil); got != c.want.UnixMilli() {
			t.Errorf("%s = %v (%s), want %s", c.call, got, time.UnixMilli(toInt(got)).In(la), c.want)
		}
	}
	// Joda clamps the day of month where Go's AddDate overflows.
	runCases(t, nil, []evalCase{
		{"new DateTime(" + millis(2024, 1, 31, time.UTC) + ").plusMonths(1).toString('yyyy-MM-dd')", "2024-02-29"},
		{"new DateTime(" + millis(2024, 2, 29, time.UTC) + ").plusYears(1).toString('yyyy-MM-dd')", "2025-02-28"},
		{"new DateTime(" + millis(2024, 3, 31, time.UTC) + ").minusMonths(1).toString('yyyy-MM-dd')", "2024-02-29"},
		// Adding a day into a DST gap moves forward by the gap.
		{"new DateTime(" + strconv.FormatInt(time.Date(2024, 3, 9, 2, 30, 0, 0, la).UnixMilli(), 10) +
			", DateTimeZone.forID('America/Los_Angeles')).plusDays(1).toString()", "2024-03-10T03:30:00.000-07:00"},
	})
}

func toInt(v Value) int64 {
	n, _ := v.(int64)
	return n
}

func millis(y int, m time.Month, d int, loc *time.Location) string {
	return strconv.FormatInt(time.Date(y, m, d, 0, 0, 0, 0, loc).UnixMilli(), 10)
}

func TestDateTimeSettersAndProperties(t *testing.T) {
	// 2024-02-14 was a Wednesday in ISO week 7.
	base := "new DateTime(" + strconv.FormatInt(time.Date(2024, 2, 14, 15, 45, 30, 250e6, time.UTC).UnixMilli(), 10) + ")"
	runCases(t, nil, []evalCase{
		{base + ".withDayOfMonth(1).toString('yyyy-MM-dd')", "2024-02-01"},
		{base + ".withMonthOfYear(4).toString('yyyy-MM-dd')", "2024-04-14"},
		{base + ".withYear(2023).withMonthOfYear(2).withDayOfMonth(28).toString('yyyy-MM-dd')", "2023-02-28"},
		{base + ".withHourOfDay(0).withMinuteOfHour(5).withSecondOfMinute(6).withMillisOfSecond(7).toString('HH:mm:ss.SSS')", "00:05:06.007"},
		{base + ".withTimeAtStartOfDay().toString()", "2024-02-14T00:00:00.000Z"},
		{base + ".withDayOfWeek(1).toString('EEEE yyyy-MM-dd')", "Monday 2024-02-12"},
		{base + ".withDayOfWeek(7).toString('EEEE yyyy-MM-dd')", "Sunday 2024-02-18"},
		{base + ".withWeekOfWeekyear(1).toString('yyyy-MM-dd')", "2024-01-03"},
		{base + ".withDayOfYear(60).toString('yyyy-MM-dd')", "2024-02-29"},
		{base + ".withMillisOfDay(1000).toString('HH:mm:ss')", "00:00:01"},
		{base + ".dayOfMonth().withMaximumValue().getDayOfMonth()", int64(29)},
		{base + ".dayOfMonth().withMinimumValue().toString('yyyy-MM-dd')", "2024-02-01"},
		{base + ".monthOfYear().getAsShortText()", "Feb"},
		{base + ".dayOfWeek().getAsShortText()", "Wed"},
		{base + ".dayOfWeek().get()", int64(3)},
		{base + ".hourOfDay().getAsText()", "15"},
		{base + ".monthOfYear().withMaximumValue().toString('MMMM d')", "December 14"},
		{base + ".weekOfWeekyear().get()", int64(7)},
		{base + ".isAfter(" + base + ".minusMillis(1))", true},
		{base + ".isBefore(" + base + ")", false},
		{base + ".isEqual(" + base + ".withZone(DateTimeZone.forID('Asia/Tokyo')))", true},
		{base + ".getYearOfEra()", int64(2024)},
		{"new DateTime(" + millis(2021, 1, 1, time.UTC) + ").getWeekyear()", int64(2020)},
		{"new DateTime(" + millis(2021, 1, 1, time.UTC) + ").getWeekOfWeekyear()", int64(53)},
		{"new DateTime(2024, 2, 14, 15, 45, 30, 250, DateTimeZone.UTC).getMillis() == " + base + ".getMillis()", true},
		{"new DateTime(2024, 7, 1, 12, 0, DateTimeZone.forID('Europe/Berlin')).toString()", "2024-07-01T12:00:00.000+02:00"},
		{"DateTimeConstants.SUNDAY + DateTimeConstants.DECEMBER", int64(19)},
		{"DateTimeZone.forOffsetHours(-5).getID()", "-05:00"},
		{"DateTimeZone.forID('+0530').toString()", "+05:30"},
	})
	runErrCases(t, nil, []errCase{
		{base + ".withDayOfMonth(30)", KindRuntime, "dayOfMonth must be in the range [1,29]"},
		{base + ".withHourOfDay(24)", KindRuntime, "hourOfDay"},
		{base + ".plusDays(3000000000)", KindRuntime, "int range"},
		{"new DateTime(2024, 2, 30, 0, 0, 0, 0, DateTimeZone.UTC)", KindRuntime, "dayOfMonth"},
		{"new DateTime(2024, 3, 10, 2, 30, 0, 0, DateTimeZone.forID('America/Los_Angeles'))", KindRuntime, "gap"},
		{"new DateTime(9000000000000000000)", KindRuntime, "out of the supported range"},
		{base + ".foo()", KindRuntime, "DateTime has no method foo"},
	})
}

func TestDaysBetween(t *testing.T) {
	la := loadLoc(t, "America/Los_Angeles")
	a := time.Date(2024, 3, 9, 12, 0, 0, 0, la)
	b := time.Date(2024, 3, 11, 12, 0, 0, 0, la) // 47 hours later: a DST day in between
	src := fmt.Sprintf(`z = DateTimeZone.forID('America/Los_Angeles');
		Days.daysBetween(new DateTime(%d, z), new DateTime(%d, z)).getDays()`, a.UnixMilli(), b.UnixMilli())
	if got := mustEval(t, src, nil); got != int64(2) {
		t.Errorf("daysBetween across a DST change = %v, want 2 (calendar days)", got)
	}
	runCases(t, nil, []evalCase{
		{"Days.daysBetween(new DateTime(0), new DateTime(86399999)).getDays()", int64(0)},
		{"Days.daysBetween(new DateTime(86400000 * 10), new DateTime(0)).getDays()", int64(-10)},
	})
}

func TestDSTResolution(t *testing.T) {
	la := loadLoc(t, "America/Los_Angeles")
	sp := loadLoc(t, "America/Sao_Paulo")
	fmtLA := "DateTimeFormat.forPattern('yyyy-MM-dd HH:mm').withZone(DateTimeZone.forID('America/Los_Angeles'))"
	// 01:30 on 2024-11-03 happens twice in Los Angeles; Joda takes the
	// earlier (daylight) one.
	overlap := time.Date(2024, 11, 3, 8, 30, 0, 0, time.UTC).UnixMilli()
	runCases(t, nil, []evalCase{
		{fmtLA + ".parseMillis('2024-11-03 01:30')", overlap},
		{fmtLA + ".parseMillis('2024-07-04 09:15')", time.Date(2024, 7, 4, 9, 15, 0, 0, la).UnixMilli()},
		// Midnight did not exist in Sao Paulo on 2018-11-04.
		{fmt.Sprintf("new DateTime(%d, DateTimeZone.forID('America/Sao_Paulo')).withTimeAtStartOfDay().toString('yyyy-MM-dd HH:mm')",
			time.Date(2018, 11, 4, 15, 0, 0, 0, sp).UnixMilli()), "2018-11-04 01:00"},
	})
	runErrCases(t, nil, []errCase{
		{fmtLA + ".parseMillis('2024-03-10 02:30')", KindRuntime, "gap"},
	})
}

func TestFormatterParse(t *testing.T) {
	kolkata := loadLoc(t, "Asia/Kolkata")
	cases := []struct {
		src  string
		want int64
	}{
		{"DateTimeFormat.forPattern('yyyyMMdd').parseMillis('20240229')", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yyyyMMddHH').withZone(DateTimeZone.forID('Asia/Kolkata')).parseDateTime('2024010523').getMillis()",
			time.Date(2024, 1, 5, 23, 0, 0, 0, kolkata).UnixMilli()},
		{"DateTimeFormat.forPattern('yyyy-MM-dd HH:mm:ss.SSS').parseMillis('1999-12-31 23:59:58.075')",
			time.Date(1999, 12, 31, 23, 59, 58, 75e6, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern(\"yyyy-MM-dd'T'HH:mm:ssZ\").parseMillis('2024-01-01T00:00:00+0530')",
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("", 19800)).UnixMilli()},
		{"DateTimeFormat.forPattern(\"yyyy-MM-dd'T'HH:mm:ssZZ\").parseMillis('2024-01-01T00:00:00Z')",
			time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('dd MMM yyyy').parseMillis('05 mar 2024')", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('EEEE, MMMM d, yyyy').parseMillis('Tuesday, March 5, 2024')", time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('M/d/yyyy h:mm a').parseMillis('7/4/2024 9:05 PM')", time.Date(2024, 7, 4, 21, 5, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yyMMdd').parseMillis('491231')", time.Date(2049, 12, 31, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yyMMdd').parseMillis('500101')", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yy').parseMillis('2024')", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yyyy-DDD').parseMillis('2024-060')", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern(\"xxxx-'W'ww-e\").parseMillis('2021-W01-1')", time.Date(2021, 1, 4, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTime.parse('2024-05-06', DateTimeFormat.forPattern('yyyy-MM-dd')).getMillis()", time.Date(2024, 5, 6, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"DateTimeFormat.forPattern('yyyyMMdd').parseDateTime(20240101).getMillis()", time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()},
		{"new DateTime('2024-02-03T04:05:06.789Z').getMillis()", time.Date(2024, 2, 3, 4, 5, 6, 789e6, time.UTC).UnixMilli()},
		{"new DateTime('2024-02-03T04:05+02:00').getMillis()", time.Date(2024, 2, 3, 2, 5, 0, 0, time.UTC).UnixMilli()},
		{"new DateTime('2024-02-03', DateTimeZone.forID('Asia/Kolkata')).getMillis()", time.Date(2024, 2, 3, 0, 0, 0, 0, kolkata).UnixMilli()},
	}
	for _, c := range cases {
		if got := mustEval(t, c.src, nil); got != c.want {
			t.Errorf("%s = %v, want %d", c.src, got, c.want)
		}
	}
	runCases(t, nil, []evalCase{
		{"DateTimeFormat.forPattern('yyyy').parseDateTime('2024').getZone().getID()", "UTC"},
		{"DateTimeFormat.forPattern('yyyy').withZone(DateTimeZone.forID('Asia/Tokyo')).parseDateTime('2024').toString()", "2024-01-01T00:00:00.000+09:00"},
		{"DateTimeFormat.forPattern(\"'Q'''yyyy\").print(0)", "Q'1970"},
		{"DateTimeFormat.forPattern('G C Y x w e D k K S SSSSSS').print(" +
			strconv.FormatInt(time.Date(2024, 2, 14, 0, 30, 0, 123e6, time.UTC).UnixMilli(), 10) + ")", "AD 20 2024 2024 7 3 45 24 0 1 123000"},
		{"DateTimeFormat.forPattern('z').withZone(DateTimeZone.forID('America/Los_Angeles')).print(" +
			strconv.FormatInt(time.Date(2024, 1, 14, 0, 0, 0, 0, time.UTC).UnixMilli(), 10) + ")", "PST"},
		{"DateTimeFormat.forPattern('ZZZ').print(new DateTime(0, DateTimeZone.forID('Europe/Paris')))", "Europe/Paris"},
		{"DateTimeFormat.forPattern('Z').print(0)", "+0000"},
	})
	runErrCases(t, nil, []errCase{
		{"DateTimeFormat.forPattern('yyyyMMdd').parseMillis('202401')", KindRuntime, "too short"},
		{"DateTimeFormat.forPattern('yyyyMMdd').parseMillis('2024010')", KindRuntime, "dayOfMonth"},
		{"DateTimeFormat.forPattern('yyyyMMdd').parseMillis('202401011')", KindRuntime, "malformed"},
		{"DateTimeFormat.forPattern('yyyy-MM-dd').parseMillis('2024-13-01')", KindRuntime, "monthOfYear"},
		{"DateTimeFormat.forPattern('HH:mm').parseMillis('25:00')", KindRuntime, "hourOfDay"},
		{"DateTimeFormat.forPattern('yyyy qq')", KindRuntime, "illegal pattern component"},
		{"DateTimeFormat.forPattern(\"yyyy 'x\")", KindRuntime, "unterminated quote"},
		{"DateTimeFormat.forPattern('')", KindRuntime, "empty"},
		{"DateTimeFormat.forPattern('z').parseMillis('PST')", KindRuntime, "malformed"},
	})
}

// The months-between example from the SEL guide, with independent numbers.
func TestMonthsBetweenProgram(t *testing.T) {
	src := `
DateTimeFormatter fmt = DateTimeFormat.forPattern('yyyyMMdd').withZone(DateTimeZone.forID('UTC'));
DateTime d1 = fmt.parseDateTime(String.valueOf(startDateTime));
DateTime d2 = fmt.parseDateTime(String.valueOf(endDateTime));
if (!d1.isBefore(d2)) {
  return new int[0];
}
int months = 12 * (d2.getYear() - d1.getYear()) + (d2.getMonthOfYear() - d1.getMonthOfYear());
months += d1.getDayOfMonth() == 1 ? 0 : -1;
months += d2.getDayOfMonth() == 1 ? 0 : 1;
if (d1.getDayOfMonth() > 1) {
  d1 = d1.withDayOfMonth(1).plusMonths(1);
}
int[] ret = new int[months];
for (int i = 0; i < months; i += 1) {
  ret[i] = Integer.valueOf(d1.plusMonths(i).toString("yyyyMMdd"));
}
return ret;`
	p, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	want := func(from, to time.Time) []int64 {
		out := []int64{}
		first := time.Date(from.Year(), from.Month(), 1, 0, 0, 0, 0, time.UTC)
		if from.Day() > 1 {
			first = first.AddDate(0, 1, 0)
		}
		for d := first; d.Before(to); d = d.AddDate(0, 1, 0) {
			out = append(out, dateInt(d))
		}
		return out
	}
	for _, c := range [][2]time.Time{
		{time.Date(2023, 11, 15, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 2, 0, 0, 0, 0, time.UTC)},
		{time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2022, 6, 1, 0, 0, 0, 0, time.UTC)},
		{time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC)},
	} {
		env := testEnv{params: map[string]Value{"startDateTime": dateInt(c[0]), "endDateTime": dateInt(c[1])}}
		got, err := p.Eval(env, Limits{})
		if err != nil {
			t.Fatal(err)
		}
		if w := want(c[0], c[1]); !reflect.DeepEqual(got, w) {
			t.Errorf("%v..%v: got %v, want %v", c[0], c[1], got, w)
		}
	}
}
