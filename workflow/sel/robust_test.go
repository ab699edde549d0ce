package sel

import (
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// awkwardValues are expressions for values that tend to break library
// code: nulls, extremes, NaN, odd strings and every object type.
var awkwardValues = []string{
	"null", "0", "-1", "1", "2", "7", "25", "1000", "Long.MAX_VALUE", "Long.MIN_VALUE",
	"2147483648", "-2147483649", "1.5", "-0.0", "(0.0 / 0)", "(1.0 / 0)", "1e300", "-1e-300",
	"''", "'a'", "'abc,def'", "'yyyy-MM-dd'", "'HH:mm:ss.SSS Z'", "'%s %d %.2f %x %e %g'",
	"'%'", "'[a-z]+'", "'(x'", "'$1'", "'\\\\'", "'UTC'", "'America/Los_Angeles'", "'+05:30'",
	"'20240229'", "'2024022907'", "'1 day'", "'😀é'", "' \\t'", "true", "false",
	"new int[]{1, 2}", "new String[]{'a', null}", "new double[0]", "new boolean[]{true}",
	"new HashMap()", "new ArrayList()", "new DateTime(0)",
	"new DateTime(1700000000000L, DateTimeZone.forID('Asia/Kolkata'))",
	"DateTimeZone.UTC", "DateTimeFormat.forPattern('yyyyMMdd')",
	"DateTimeFormat.forPattern('EEE MMM d yy h:mm a z').withZone(DateTimeZone.forID('Europe/London'))",
	"new DateTime(0).monthOfYear()", "new DateTime(0).dayOfWeek()",
	"Days.daysBetween(new DateTime(0), new DateTime(86400000))", "UUID.randomUUID()",
	"new RuntimeException('m')", "params", "Math",
}

func sortedNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestAwkwardCallsNeverPanic(t *testing.T) {
	var methods []string
	seen := map[string]bool{}
	for _, ms := range instanceMethods {
		for m := range ms {
			seen[m] = true
		}
	}
	for _, ms := range staticMethods {
		for m := range ms {
			seen[m] = true
		}
	}
	methods = sortedNames(seen)
	var classes []string
	for c := range staticMethods {
		classes = append(classes, c)
	}
	sort.Strings(classes)
	ctors := sortedNames(constructible)
	ops := []string{"+", "-", "*", "/", "%", "<", ">", "<=", ">=", "==", "!=", "&&", "||"}

	rng := rand.New(rand.NewSource(1))
	pick := func(list []string) string { return list[rng.Intn(len(list))] }
	args := func() string {
		n := rng.Intn(4)
		if rng.Intn(10) == 0 {
			n = 5 + rng.Intn(4)
		}
		parts := make([]string, n)
		for i := range parts {
			parts[i] = pick(awkwardValues)
		}
		return strings.Join(parts, ", ")
	}
	env := fullEnv{testEnv: testEnv{params: map[string]Value{"p": int64(1)}}, now: 1700000000000}
	lim := Limits{MaxSteps: 100_000, MaxStringLen: 1 << 16, MaxArrayLen: 1000, MaxAllocBytes: 8 << 20}
	n := 40000
	if testing.Short() {
		n = 4000
	}
	for i := 0; i < n; i++ {
		var src string
		switch rng.Intn(5) {
		case 0, 1:
			src = "(" + pick(awkwardValues) + ")." + pick(methods) + "(" + args() + ")"
		case 2:
			src = pick(classes) + "." + pick(methods) + "(" + args() + ")"
		case 3:
			src = "new " + pick(ctors) + "(" + args() + ")"
		default:
			src = pick(awkwardValues) + " " + pick(ops) + " " + pick(awkwardValues)
		}
		p, err := Parse(src)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		_, err = p.Eval(env, lim)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%s: %v", src, err)
		}
		if err := Check(src); err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("Check(%s): %v", src, err)
		}
	}
}

func TestAwkwardUtilAndPatterns(t *testing.T) {
	env := fullEnv{now: 1700000000000}
	utils := []string{"dateIntToTs", "tsToDateInt", "incrementDateInt", "dateIntHourToTs",
		"dateIntsBetween", "intsBetween", "timeoutForDateTimeDeadline", "timeoutForDateIntDeadline"}
	rng := rand.New(rand.NewSource(2))
	pick := func(list []string) string { return list[rng.Intn(len(list))] }
	numbers := []string{"0", "-1", "20240229", "20231301", "99991231", "-20240101", "2147483647",
		"Long.MIN_VALUE", "'20240101'", "'x'", "null", "'01'", "'UTC'", "'Mars/X'", "1.5", "'-3'"}
	for i := 0; i < 20000; i++ {
		n := rng.Intn(6)
		parts := make([]string, n)
		for j := range parts {
			parts[j] = pick(numbers)
		}
		src := "Util." + pick(utils) + "(" + strings.Join(parts, ", ") + ")"
		_, err := eval(t, src, env)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%s: %v", src, err)
		}
	}
	letters := []byte("GCYxweEyDMdaKhHkmsSzZ'-: /.T0q")
	for i := 0; i < 20000; i++ {
		pat := make([]byte, 1+rng.Intn(12))
		for j := range pat {
			pat[j] = letters[rng.Intn(len(letters))]
		}
		ps := strings.ReplaceAll(string(pat), "'", "''")
		src := "f = DateTimeFormat.forPattern('" + ps + "'); s = f.print(" +
			pick([]string{"0", "-62135596800001", "253402300800000", "1700000000123"}) + "); f.parseMillis(s)"
		_, err := eval(t, src, env)
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatalf("%s: %v", src, err)
		}
	}
}

// Printing then parsing with a pattern that carries every field gives the
// instant back.
func TestPatternRoundTrip(t *testing.T) {
	patterns := []string{
		"yyyy-MM-dd'T'HH:mm:ss.SSSZZ", "yyyyMMddHHmmssSSS Z", "EEE, dd MMM yyyy HH:mm:ss.SSS Z",
		"MMMM d yyyy hh:mm:ss.SSS a ZZ",
	}
	rng := rand.New(rand.NewSource(3))
	zones := []string{"UTC", "America/Los_Angeles", "Asia/Kolkata", "Europe/Berlin", "Australia/Adelaide"}
	for i := 0; i < 500; i++ {
		ms := rng.Int63n(4102444800000) // 1970..2100
		pat := patterns[rng.Intn(len(patterns))]
		zone := zones[rng.Intn(len(zones))]
		src := "f = DateTimeFormat.forPattern(\"" + pat + "\").withZone(DateTimeZone.forID('" + zone + "')); f.parseMillis(f.print(" +
			strconv.FormatInt(ms, 10) + "L))"
		v, err := eval(t, src, nil)
		if err != nil || v != ms {
			t.Fatalf("%s = %v, %v; want %d", src, v, err, ms)
		}
	}
}
