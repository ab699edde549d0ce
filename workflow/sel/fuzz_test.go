package sel

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var fuzzLimits = Limits{
	MaxSteps:          50_000,
	MaxLoopIterations: 300,
	MaxStringLen:      8 << 10,
	MaxArrayLen:       300,
	MaxDepth:          64,
	MaxAllocBytes:     4 << 20,
}

func fuzzEnv() Env {
	return fullEnv{
		testEnv: testEnv{
			params: map[string]Value{
				"a": int64(3), "b": 2.5, "s": "hello,world", "flag": true,
				"arr": []int64{1, 2, 3}, "strs": []string{"x", "", "z"}, "ds": []float64{0.5},
				"bs": []bool{true}, "m": map[string]any{"k": "v", "n": map[string]any{"x": int64(1)}},
				"sm": map[string]string{"p": "q"}, "RUN_TS": int64(1700000000000), "nul": nil,
				"dateInt": "20240229",
			},
			steps: map[string]Value{"job/out": "o", "job/n": int64(9)},
		},
		now: 1700000000000,
	}
}

func FuzzParseEval(f *testing.F) {
	seeds := []string{
		"1 + 1;", "'a' + 1", "x = 1; for (int i = 0; i < 10; i++) x *= 2; x",
		"while (true) {}", "s = 'ab'; while (true) s = s + s;",
		"Util.dateIntsBetween(20200101, 20200110, 1);", "Util.intsBetween(a, 10, 1)",
		"new DateTime(RUN_TS).withZone(DateTimeZone.forID('America/Los_Angeles')).toString('yyyyMMdd HH:mm Z')",
		"DateTimeFormat.forPattern('yyyyMMddHH').withZone(DateTimeZone.UTC).parseDateTime(dateInt + '07').getMillis()",
		"String.format('%s_%05d_%.2f_%x', s, a, b, -1)", "s.split(',')[1].toUpperCase()",
		"m.get('n').get('x') + arr.length + strs[0]", "job__out + job__n", "params.get('a') * params['b']",
		"Map m2 = new HashMap(); m2.put('k', arr); m2", "l = new ArrayList(); l.add(1); l.add(2.0); l",
		"throw 'x' + a;", "if (flag) return 1; else return 2;", "int[] q = new int[5]; q[4] = 1; q",
		"'a1b2'.replaceAll('([a-z])(\\\\d)', '$2$1')", "Math.round(Math.pow(b, a))",
		"(int) 1e300 + (long) -1e300", "Long.MIN_VALUE / -1", "m = new HashMap(); m.put('m', m); m",
		"for (String t : strs) if (t.isEmpty()) continue; else x = t; x",
		"Days.daysBetween(new DateTime(0), new DateTime(RUN_TS)).getDays()",
		"new DateTime(2024, 3, 10, 2, 30, 0, 0, DateTimeZone.forID('America/New_York'))",
		"DateTimeFormat.forPattern(\"yy-MM-dd'T'HH:mm:ss.SSSZZ\").parseMillis('24-02-29T10:11:12.130+05:30')",
		"x = 5; x++ + ++x", "'😀é'.substring(1)", "String.valueOf(nul) + nul",
		"params.getFromInstance('RUN_POLICY')", "System.currentTimeMillis() % 1000",
		"(((((((((1)))))))))", "- - - -1", "!!!!!!true", "a > 2 ? b < 3 ? 'x' : 'y' : 'z'",
		"/* c */ // d\n1", "import java.util.*; List<String> l = new ArrayList<>(); l",
		"new String[]{'a', 'b'}.length", "Integer.parseInt('12') + Long.valueOf('3')",
		"DateTimeFormat.forPattern('G C Y x w e E D k K h a S z Z ZZ ZZZ').print(RUN_TS)",
		"'a,b,,'.split(',', -1)", "'x'.repeat(3).matches('x+')",
		"s = 'x'.repeat(8000); String[] q = new String[300]; for (int i = 0; i < 300; i++) q[i] = s; q",
		"m = new HashMap(); for (int i = 0; i < 20; i++) { n = new HashMap(); n.put('a', m); n.put('b', m); m = n; } m",
		"'a'.repeat(2000).replaceAll('()()()()()()()()', '$1${x}')", "'ab'.replaceAll('(?P<x>a)', '<${x}$1>')",
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse(src)
		checkErr := Check(src)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) returned %T", src, err)
			}
			if checkErr == nil {
				t.Fatalf("Check(%q) passed although Parse failed: %v", src, err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Parse(%q): %v", src, err)
			}
			return
		}
		if checkErr != nil && strings.Contains(checkErr.Error(), "internal error") {
			t.Fatalf("Check(%q): %v", src, checkErr)
		}
		_ = p.Refs()
		run := func() string {
			start := time.Now()
			v, err := p.Eval(fuzzEnv(), fuzzLimits)
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("Eval(%q) took %v", src, d)
			}
			if err != nil {
				se, ok := err.(*Error)
				if !ok {
					t.Fatalf("Eval(%q) returned %T: %v", src, err, err)
				}
				if strings.Contains(se.Msg, "internal error") {
					t.Fatalf("Eval(%q): %v", src, err)
				}
				return "error: " + err.Error()
			}
			switch v.(type) {
			case nil, bool, int64, float64, string, []int64, []float64, []bool, []string, map[string]any:
			default:
				t.Fatalf("Eval(%q) returned undocumented type %T", src, v)
			}
			return fmt.Sprintf("%#v", v)
		}
		if first, second := run(), run(); first != second {
			t.Fatalf("Eval(%q) is not deterministic:\n%s\n%s", src, first, second)
		}
	})
}
