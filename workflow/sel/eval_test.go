package sel

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
)

func TestLiterals(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"42", int64(42)},
		{"42;", int64(42)},
		{"0x1F", int64(31)},
		{"0xFFFFFFFFFFFFFFFFL", int64(-1)},
		{"010", int64(10)}, // decimal, as Maestro reads it
		{"3L + 4l", int64(7)},
		{"1.5", 1.5},
		{"1e3", 1000.0},
		{"2.5f", 2.5},
		{"1.0d", 1.0},
		{".5", 0.5},
		{"6.", 6.0},
		{`'it\'s'`, "it's"},
		{`"say \"hi\""`, `say "hi"`},
		{`'tab\there'`, "tab\there"},
		{`"\u0041\101\7"`, "AA\a"},
		{`"\uD83D\uDE00"`, "😀"},
		{`'double "quotes" inside'`, `double "quotes" inside`},
		{`"single 'quotes' inside"`, `single 'quotes' inside`},
		{"true", true},
		{"false", false},
		{"null", nil},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775807 + 1", int64(math.MinInt64)},
		{"/* c */ 1 + /* d */ 2 // e", int64(3)},
		{"import java.util.Map;\nimport org.joda.time.*;\n1 + 1", int64(2)},
	})
}

func TestArithmetic(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"7 / 2", int64(3)},
		{"-7 / 2", int64(-3)},
		{"7 % 3", int64(1)},
		{"-7 % 3", int64(-1)},
		{"7 % -3", int64(1)},
		{"7.0 / 2", 3.5},
		{"1 / 2.0", 0.5},
		{"5 % 2.5", 0.0},
		{"-7.5 % 2", -1.5},
		{"2 + 3 * 4", int64(14)},
		{"(2 + 3) * 4", int64(20)},
		{"10 - 2 - 3", int64(5)},
		{"100 / 10 / 5", int64(2)},
		{"2 * -3", int64(-6)},
		{"- -4", int64(4)},
		{"+4", int64(4)},
		{"1.0 / 0", math.Inf(1)},
		{"Long.MAX_VALUE * 2", int64(-2)},
		{"-Long.MIN_VALUE", int64(math.MinInt64)},
		{"Long.MIN_VALUE / -1", int64(math.MinInt64)},
		{"Long.MIN_VALUE % -1", int64(0)},
		{"Integer.MAX_VALUE + 1", int64(2147483648)}, // SEL ints are longs
		{"0.1 + 0.2", 0.30000000000000004},
		{"1 + 2.5", 3.5},
	})
}

func TestStringsAndConcatenation(t *testing.T) {
	runCases(t, nil, []evalCase{
		{`"a" + 1`, "a1"},
		{`1 + 2 + "a"`, "3a"},
		{`"a" + 1 + 2`, "a12"},
		{`"x" + 3.0`, "x3.0"},
		{`"" + 1e10`, "1.0E10"},
		{`"" + 0.001`, "0.001"},
		{`"" + 0.0001`, "1.0E-4"},
		{`"" + 1234567.0`, "1234567.0"},
		{`"" + 12345678.9`, "1.23456789E7"},
		{`"" + 100.0 / 3`, "33.333333333333336"},
		{`"" + null`, "null"},
		{`String s = null; s + 1`, "null1"},
		{`"" + true`, "true"},
		{`"" + (1.0 / 0)`, "Infinity"},
		{`"" + (0.0 / 0)`, "NaN"},
		{`"" + -0.0`, "-0.0"},
		{`"v=" + new int[]{1, 2}`, "v=[1, 2]"},
		{`'abc' == 'abc'`, true},
		{`'a' + 'bc' == 'abc'`, true},
		{`"abc" != "abd"`, true},
		{`1 == "1"`, true},
		{`"2" == 2`, true},
		{`1.5 == "1.5"`, true},
		{`3 == "3.0"`, false},
		{`null == null`, true},
		{`'a' == null`, false},
		{`null != 'a'`, true},
	})
}

func TestComparisonsAndLogic(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"3 > 2", true},
		{"2 >= 2.0", true},
		{"1 < 0.5", false},
		{"2 <= 1", false},
		{"2 != 2.0", false},
		{"2 == 2", true},
		{"true == false", false},
		{"true && false", false},
		{"false || true", true},
		{"!true", false},
		{"!!true", true},
		{"false && (1 / 0 == 1)", false}, // short-circuit
		{"true || (1 / 0 == 1)", true},
		{"1 < 2 && 2 < 3 && 3 < 4", true},
		{"1 > 2 || 2 > 3 || 3 < 4", true},
		{"3 > 2 ? 'y' : 'n'", "y"},
		{"x = 5; x > 10 ? 'big' : x > 3 ? 'mid' : 'small'", "mid"},
		{"x = 1; x <= 0 || x >= 10 ? x : -x;", int64(-1)},
		{"null < 1", false}, // Maestro's answer
		{"(0.0 / 0) == (0.0 / 0)", false},
	})
}

func TestVariablesAndAssignment(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"int x = 1; x += 2; x", int64(3)},
		{"x = 10; x -= 3; x *= 2; x /= 4; x %= 2; x", int64(1)},
		{"long x = 5; x += 1.9; x", int64(6)},
		{"double d = 1; d", 1.0},
		{"double d = 7; d /= 2; d", 3.5},
		{"Double d = 2; d", 2.0},
		{"float f = 1.5f; f * 2", 3.0},
		{"String s = 'a'; s += 1; s += true; s", "a1true"},
		{"int i = 0; i++; i++; i", int64(2)},
		{"int i = 5; int j = i++; j * 10 + i", int64(56)},
		{"int i = 5; int j = ++i; j", int64(6)},
		{"i = 3; i--; --i; i", int64(1)},
		{"double d = 0.5; d++; d", 1.5},
		{"int[] a = new int[3]; a[1] = 5; a[2] += 7; a[1]++; a", []int64{0, 6, 7}},
		{"x = y = 4; x + y", int64(8)},
		{"int a = 1, b = 2; a + b", int64(3)},
		{"String s; s == null", true},
		{"int n; n", int64(0)},
		{"Long n = null; n == null", true},
		{"x = null; x = 'now a string'; x", "now a string"},
		{"boolean b = (int) 3.9 == 3; b", true},
		{"(long) -2.5", int64(-2)},
		{"(int) 3000000000L", int64(-1294967296)},
		{"(double) 3", 3.0},
		{"(int) 1e20", int64(math.MaxInt32)},
		{"(long) (0.0 / 0)", int64(0)},
		{"if (true) { int z = 4; } return z;", int64(4)}, // one flat scope
		{"Object o = 'x'; o = 5; o", int64(5)},
		{"x = 5; return x;", int64(5)},
	})
}

func TestStatements(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"x = 0; for (int i = 0; i < 5; i++) { x += i; } x", int64(10)},
		{"x = 0; for (int i = 0; i < 10; i++) { if (i % 2 == 0) continue; if (i > 7) break; x += i; } x", int64(16)},
		{"i = 0; while (i < 10) i += 3; i", int64(12)},
		{"s = 0; for (long v : new long[]{1, 2, 3}) s += v; s", int64(6)},
		{"String out = ''; for (String p : 'a-b-c'.split('-')) out = out + p; out", "abc"},
		{"x = 1; if (x > 1) x = 3; else if (x < 1) x = -3; else x = -x; return x;", int64(-1)},
		{"x = 0; if (x == 0) x = 10; x", int64(10)},
		{"for (;;) { return 7; }", int64(7)},
		{"{ 1; 2; }", int64(2)},
		{"x = 1; ;", int64(1)},
		{"return 5; 6;", int64(5)},
		{"x = 0; for (int i = 0, j = 10; i < j; i++, j--) x++; x", int64(5)},
		{"x = 1; for (i = 2; i < 10; i += 1) { x += 1; if (x > 10) return x; x += 1; } return x;", int64(12)},
		{"x = 1; while (true) { x += 1; if (x > 10) break; x += 1; } return x;", int64(12)},
		{"n = 0; for (int i = 0; i < 3; i++) for (int j = 0; j < 4; j++) n++; n", int64(12)},
		{"n = 0; for (int i = 0; i < 3; i++) { for (int j = 0; j < 4; j++) { if (j == 1) break; n++; } } n", int64(3)},
		{"if (1 > 2) { return 'a'; } else { return 'b'; }", "b"},
		{"if (true) return 1; else return 2", int64(1)},
		{"int x = 3\n; x", int64(3)},
	})
}

func TestMapsListsArrays(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"Map m = new HashMap(); m.put('a', 1); m.put('b', 'x'); m.size()", int64(2)},
		{"m = new Map(); m.put('a', 1); m.get('a') + m.getOrDefault('z', 5)", int64(6)},
		{"m = new HashMap(); m.containsKey('a')", false},
		{"m = new HashMap(); m.put('k', 1); m.put('k', 2)", int64(1)},
		{"m = new HashMap(); m.get('missing')", nil},
		{"m = new LinkedHashMap(); m['x'] = 3; m['x']", int64(3)},
		{"m = new HashMap(); m.put('b', 1); m.put('a', 2); m.keySet()", []string{"a", "b"}},
		{"m = new HashMap(); m.put('b', 1); m.put('a', 2); Set<String> ks = m.keySet(); ks.size() + (ks.contains('a') ? 10 : 0)", int64(12)},
		{"m = new HashMap(); m.put('x', 1); m.put('y', 2); n = 0; for (String k : m.keySet()) n += m.get(k); n", int64(3)},
		{"m = new HashMap(); String.join('+', m.keySet())", ""},
		{"m = new HashMap(); m.put('b', 1); m.put('a', true); '' + m", "{a=true, b=1}"},
		{"m = new HashMap(); y = 123; m.put('foo', y); y = 111; return m;", map[string]any{"foo": int64(123)}},
		{"m = new HashMap(); m.put('n', new HashMap()); m.get('n').put('x', new String[]{'p'}); m",
			map[string]any{"n": map[string]any{"x": []string{"p"}}}},
		{"Map<String, Object> m = new HashMap<>(); m.put('a', 1L); m.remove('a'); m.isEmpty()", true},
		{"m = new HashMap(); m.put('a', 1); n = new HashMap(m); n.put('b', 2); m.size() * 10 + n.size()", int64(12)},
		{"List<String> l = new ArrayList<>(); l.add('a'); l.add('b'); l", []string{"a", "b"}},
		{"l = new ArrayList(); l.add(1); l.add(2.5); l", []float64{1, 2.5}},
		{"l = new ArrayList(); l.add(3); l.add(4); l.get(1) + l.size()", int64(6)},
		{"l = new ArrayList(); l.add('x'); l.contains('x') && !l.isEmpty()", true},
		{"l = new ArrayList(); for (int i = 0; i < 3; i++) l.add(i * i); l.toArray()", []int64{0, 1, 4}},
		{"l = new ArrayList(); l.add('a'); l.add(0, 'b'); l.set(1, 'c'); l.remove(0); l", []string{"c"}},
		{"l = new ArrayList(); l", []string{}},
		{"l = new ArrayList(); l.add(true); for (boolean b : l) x = b; x", true},
		{"new String[]{'a', 'b'}.length", int64(2)},
		{"String[] a = new String[2]; a[0] = 'x'; a[0]", "x"},
		{"new boolean[]{true, 1 > 2}", []bool{true, false}},
		{"new double[]{1, 2.5}", []float64{1, 2.5}},
		{"int[] a = {4, 5}; a[1]", int64(5)},
		{"new Long[]{1, 2}", []int64{1, 2}},
		{"new Integer[]{}", []int64{}},
		{"new double[0]", []float64{}},
		{"new float[]{1.5f}", []float64{1.5}},
		{"b = new long[]{1, 2}; c = b; c[0] = 9; b[0]", int64(9)},
		{"Arrays.asList(new String[]{'q'})", []string{"q"}},
		{"new long[]{1, 2} == new long[]{1, 2}", false},
		{"a = new long[]{1}; b = a; a == b", true},
	})
}

func TestMath(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"Math.max(3, 7)", int64(7)},
		{"Math.min(3, 7)", int64(3)},
		{"Math.max(1, 2.5)", 2.5},
		{"Math.min(-0.0, 0.0)", math.Copysign(0, -1)},
		{"Math.abs(-4)", int64(4)},
		{"Math.abs(-2.5)", 2.5},
		{"Math.abs(Long.MIN_VALUE)", int64(math.MinInt64)},
		{"Math.pow(2, 10)", 1024.0},
		{"Math.sqrt(16)", 4.0},
		{"Math.floor(-1.5)", -2.0},
		{"Math.ceil(1.2)", 2.0},
		{"Math.round(2.5)", int64(3)},
		{"Math.round(-2.5)", int64(-2)},
		{"Math.round(0.49999999999999994)", int64(0)},
		{"Math.round(1e30)", int64(math.MaxInt64)},
		{"Math.round(7)", int64(7)},
		{"Math.PI > 3.14 && Math.E < 2.72", true},
	})
}

func TestMathNaN(t *testing.T) {
	v := mustEval(t, "Math.pow(1, 0.0 / 0)", nil)
	if f, ok := v.(float64); !ok || !math.IsNaN(f) {
		t.Fatalf("Math.pow(1, NaN) = %v, want NaN as Java gives", v)
	}
}

func TestStringMethods(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"'Hello'.length()", int64(5)},
		{"'héllo'.length()", int64(5)},
		{"'😀a'.length()", int64(3)}, // UTF-16 units, as in Java
		{"'😀a'.substring(2)", "a"},
		{"'😀a'.indexOf('a')", int64(2)},
		{"'héllo'.indexOf('l')", int64(2)},
		{"'hello'.substring(1, 3)", "el"},
		{"'hello'.substring(5)", ""},
		{"'hello'.indexOf('l')", int64(2)},
		{"'hello'.lastIndexOf('l')", int64(3)},
		{"'hello'.indexOf('l', 3)", int64(3)},
		{"'hello'.lastIndexOf('l', 2)", int64(2)},
		{"'hello'.indexOf('z')", int64(-1)},
		{"'hello'.contains('ell')", true},
		{"'hello'.startsWith('he') && 'hello'.endsWith('lo')", true},
		{"'Hi'.toUpperCase() + 'Hi'.toLowerCase()", "HIhi"},
		{"'  x \\t'.trim()", "x"},
		{"'a.b.c'.replace('.', '/')", "a/b/c"},
		{"'abc'.replace('', '-')", "-a-b-c-"},
		{"'a1b22c'.replaceAll('[0-9]+', '#')", "a#b#c"},
		{"'a1b22c'.replaceFirst('[0-9]+', '#')", "a#b22c"},
		{"'2024-01-05'.replaceAll('(\\\\d+)-(\\\\d+)-(\\\\d+)', '$3/$2/$1')", "05/01/2024"},
		{"'cost'.replaceAll('cost', '\\\\$5')", "$5"},
		{"'a,b,,c,,'.split(',')", []string{"a", "b", "", "c"}},
		{"'a.b'.split('.')", []string{}},
		{"'a.b'.split('\\\\.')", []string{"a", "b"}},
		{"'a1b2c3'.split('[0-9]')", []string{"a", "b", "c"}},
		{"'abc'.split('')", []string{"a", "b", "c"}},
		{"'a,b,c'.split(',', 2)", []string{"a", "b,c"}},
		{"'a,b,,'.split(',', -1)", []string{"a", "b", "", ""}},
		{"''.split(',')", []string{""}},
		{"'hello world'.split(' ')[1]", "world"},
		{"'x'.equals('x') && !'x'.equals(1)", true},
		{"'X'.equalsIgnoreCase('x')", true},
		{"'apple'.compareTo('banana')", int64(-1)},
		{"'ab'.compareTo('abc')", int64(-1)},
		{"'b'.compareTo('a') > 0", true},
		{"''.isEmpty()", true},
		{"'abc'.charAt(1)", "b"},
		{"'ab'.concat('cd')", "abcd"},
		{"'ab'.repeat(3)", "ababab"},
		{"'abc'.matches('[a-c]+')", true},
		{"'abcd'.matches('[a-c]+')", false},
		{"'abc'.hashCode()", int64(96354)},
		{"String.valueOf(3.0)", "3.0"},
		{"String.valueOf(12)", "12"},
		{"String.valueOf(true)", "true"},
		{"String.valueOf(null)", "null"},
		{"String.join('-', 'a', 'b', 'c')", "a-b-c"},
		{"String.join(',', new String[]{'x', 'y'})", "x,y"},
		{"String.join(' ', 'hello', 'world');", "hello world"},
		{"String.escape('a\\tb\"c')", "a\\tb\\\"c"},
		{"'q\\n'.escape()", "q\\n"},
		{"new String('s') + new String()", "s"},
	})
}

func TestStringFormat(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"String.format('%05d|%-4s|%x|%,d', 42, 'ab', 255, 1234567)", "00042|ab  |ff|1,234,567"},
		{"String.format('%.2f %.0f %.1f', 0.125, 2.5, 0.05)", "0.13 3 0.1"},
		{"String.format('%f', 1.5)", "1.500000"},
		{"String.format('%e', 12345.678)", "1.234568e+04"},
		{"String.format('%.3e', 0.0)", "0.000e+00"},
		{"String.format('%g', 0.0001234)", "0.000123400"},
		{"String.format('%g', 123456789.0)", "1.23457e+08"},
		{"String.format('%+d %+d % d (%(d)', 5, -5, 5, -5)", "+5 -5  5 ((5))"},
		{"String.format('%8.3f|%-8.2f|', 3.14159, 2.5)", "   3.142|2.50    |"},
		{"String.format('%,.2f', 1234567.891)", "1,234,567.89"},
		{"String.format('Q%s-%s', ((7 - 1) / 3) + 1, 2021)", "Q3-2021"},
		{"String.format('%s_%d_%d_%s_%d', 'wf', 1, 2, 'step', 3)", "wf_1_2_step_3"},
		{"String.format('%b %c %%%n', null, 65)", "false A %\n"},
		{"String.format('%2$s %1$s %<s', 'a', 'b')", "b a a"},
		{"String.format('%S %.2s', 'abc', 'xyz')", "ABC xy"},
		{"String.format('%X %o %#x', 255, 8, 255)", "FF 10 0xff"},
		{"String.format('%x', -1)", "ffffffffffffffff"},
		{"String.format('%s', 1.0)", "1.0"},
		{"String.format('%s %s', new String[]{'a', 'b'})", "a b"},
		{"String.format('%.1f', -0.04)", "-0.0"},
		{"String.format('%.2f', 1.005)", "1.01"},
		{"String.format('%.2f', 999.999)", "1000.00"},
	})
	runErrCases(t, nil, []errCase{
		{"String.format('%s %s', 'a')", KindRuntime, "no matching argument"},
		{"String.format('%d', 1.5)", KindRuntime, "integer argument"},
		{"String.format('%f', 2)", KindRuntime, "floating-point argument"},
		{"String.format('%q', 2)", KindRuntime, "unknown format conversion"},
		{"String.format('%999999999d', 2)", KindLimit, "width"},
	})
}

func TestNumberConversions(t *testing.T) {
	runCases(t, nil, []evalCase{
		{"Long.valueOf('42') + 1", int64(43)},
		{"Integer.parseInt('-7')", int64(-7)},
		{"Long.parseLong('9000000000')", int64(9000000000)},
		{"Integer.valueOf('9000000000')", int64(9000000000)}, // Maestro reads it as a long
		{"Double.parseDouble('1.5') * 2", 3.0},
		{"Double.parseDouble(' 2.5d ')", 2.5},
		{"Double.parseDouble('1e2')", 100.0},
		{"Integer.valueOf(5)", int64(5)},
		{"Double.valueOf('2')", 2.0},
		{"Double.valueOf(2)", 2.0},
		{"Boolean.parseBoolean('TRUE')", true},
		{"Boolean.parseBoolean('yes')", false},
		{"Boolean.valueOf(false)", false},
		{"new Long('3')", int64(3)},
		{"new Double(3)", 3.0},
		{"new Boolean('true')", true},
		{"x = 5; x.toString()", "5"},
		{"x = 2.7; x.intValue()", int64(2)},
		{"x = -2.7; x.longValue()", int64(-2)},
		{"x = 4; x.doubleValue()", 4.0},
		{"Long.toString(9)", "9"},
		{"Double.toString(0.5)", "0.5"},
		{"Boolean.toString(true)", "true"},
		{"x = 3; x.compareTo(5)", int64(-1)},
	})
	runErrCases(t, nil, []errCase{
		{"Integer.parseInt('3000000000')", KindRuntime, "not an int"},
		{"Long.parseLong('12x')", KindRuntime, "not a long"},
		{"Long.parseLong(' 12')", KindRuntime, "not a long"},
		{"Double.parseDouble('abc')", KindRuntime, "not a double"},
		{"Double.parseDouble('inf')", KindRuntime, "not a double"},
		{"Long.valueOf(1.5)", KindRuntime, "needs a String"},
	})
}

func TestParamsAccess(t *testing.T) {
	env := testEnv{
		params: map[string]Value{
			"foo": "bar", "n": int64(3), "arr": []int64{1, 2}, "sm": map[string]string{"k": "v"},
			"d": 2.5, "b": true, "i32": 7, "strs": []string{"x", "y"},
			"nested": map[string]any{"inner": map[string]any{"list": []float64{0.5}}},
		},
		steps: map[string]Value{"s1/out": "o1", "a_/x": int64(9), "job1/count": int64(4)},
	}
	runCases(t, env, []evalCase{
		{"foo + n", "bar3"},
		{"params.get('foo')", "bar"},
		{"params['n'] * 2", int64(6)},
		{"params.get('missing')", nil},
		{"params.containsKey('foo')", true},
		{"params.containsKey('nope')", false},
		{"s1__out", "o1"},
		{"job1__count + 1", int64(5)},
		{"params.getFromStep('s1', 'out')", "o1"},
		{"a___x", int64(9)},
		{"arr[1] + arr.length", int64(4)},
		{"arr[0] = 5; arr", []int64{5, 2}},
		{"sm.get('k')", "v"},
		{"i32 + 1", int64(8)},
		{"d > 2 && b", true},
		{"String.join('+', strs)", "x+y"},
		{"nested.get('inner').get('list')[0]", 0.5},
		{"n = 'x'; n", "x"},
	})
	if got := env.params["arr"].([]int64)[0]; got != 1 {
		t.Errorf("evaluation changed the caller's array: arr[0] = %d", got)
	}
	runErrCases(t, env, []errCase{
		{"unknownParam + 1", KindRuntime, `unknown variable or param "unknownParam"`},
		{"params.getFromStep('s1', 'nope')", KindRuntime, `step "s1" has no param "nope"`},
		{"params.getFromSignal('sig', 'p')", KindRuntime, "not supported"},
		{"params", KindRuntime, "cannot produce a params"},
		{"params['foo'] = 1", KindRuntime, "cannot be modified"},
	})
}

func TestEnvCapabilities(t *testing.T) {
	env := fullEnv{now: 1700000000123}
	runCases(t, env, []evalCase{
		{"params.getFromInstance('RUN_POLICY')", "START_FRESH_NEW_RUN"},
		{"params.getFromInstance('workflow_instance_id') + 1", int64(13)},
		{"System.currentTimeMillis()", int64(1700000000123)},
		{"new DateTime().getMillis()", int64(1700000000123)},
		{"UUID.randomUUID().toString()", "00000000-0000-4000-8000-000000000001"},
		{"Util.timeoutForDateTimeDeadline(new DateTime(1700000000000), '1 second')", "877 milliseconds"},
		// now is 2023-11-14T22:13:20.123Z; the date int is that day's midnight.
		{"Util.timeoutForDateIntDeadline(20231114, '1 day, 2 hours and 3 minutes')", "13779877 milliseconds"},
		{"Util.timeoutForDateIntDeadline(20231114, '2 hours')", "0 milliseconds"},
		{"Util.timeoutForDateIntDeadline('20231115', '1 day')", "92799877 milliseconds"},
	})
	runErrCases(t, testEnv{}, []errCase{
		{"System.currentTimeMillis()", KindRuntime, "no clock"},
		{"new DateTime()", KindRuntime, "no clock"},
		{"UUID.randomUUID()", KindRuntime, "no UUID source"},
		{"System.exit(0)", KindRuntime, "not allowed"},
	})
}

func TestRuntimeErrors(t *testing.T) {
	runErrCases(t, nil, []errCase{
		{"1 / 0", KindRuntime, "division by zero"},
		{"5 % 0", KindRuntime, "division by zero"},
		{"x = 1; x /= 0", KindRuntime, "division by zero"},
		{"x = null; x.length()", KindRuntime, "cannot call length on null"},
		{"String s = null; s.trim()", KindRuntime, "on null"},
		{"int[] a = new int[2]; a[2]", KindRuntime, "index 2 out of bounds for length 2"},
		{"int[] a = new int[2]; a[-1] = 3", KindRuntime, "index -1 out of bounds"},
		{"'abc'[0]", KindRuntime, "cannot index String"},
		{"'a' * 2", KindRuntime, "operator * cannot be applied"},
		{"'a' < 'b'", KindRuntime, "compareTo"},
		{"true + 1", KindRuntime, "operator + cannot be applied"},
		{"'a' == true", KindRuntime, "cannot compare"},
		{"int x = 'str';", KindRuntime, "cannot assign String to a long"},
		{"x = 1; x = 'a';", KindRuntime, "cannot assign String to a long"},
		{"long x = 1.5;", KindRuntime, "cannot assign double to a long"},
		{"int x = null;", KindRuntime, "cannot assign null"},
		{"int[] a = new double[1];", KindRuntime, "cannot assign double[]"},
		{"long[] a = new long[1]; a[0] = 'x';", KindRuntime, "cannot assign String"},
		{"throw 'bad value ' + 3;", KindThrown, "bad value 3"},
		{"throw new MaestroRuntimeException('boom');", KindThrown, "boom"},
		{"throw new IllegalArgumentException('bad arg')", KindThrown, "bad arg"},
		{"throw null;", KindRuntime, "cannot throw null"},
		{"Math.random()", KindRuntime, "deterministic"},
		{"if (1) 2;", KindRuntime, "condition must be a boolean"},
		{"while ('x') {}", KindRuntime, "condition must be a boolean"},
		{"int x = 5;", KindRuntime, "produces no value"},
		{"if (true) 5;", KindRuntime, "produces no value"},
		{"Math.nope(1)", KindRuntime, "has no method nope"},
		{"'x'.nope()", KindRuntime, "String has no method nope"},
		{"new Foo()", KindRuntime, "class Foo is not supported"},
		{"new List()", KindRuntime, "interface"},
		{"true && 1", KindRuntime, "boolean operands"},
		{"1 || true", KindRuntime, "boolean operands"},
		{"!5", KindRuntime, "operator ! cannot be applied"},
		{"'abc'.substring(2, 1)", KindRuntime, "begin 2, end 1, length 3"},
		{"'abc'.charAt(3)", KindRuntime, "out of bounds"},
		{"DateTimeZone.forID('Mars/Base')", KindRuntime, "not recognised"},
		{"DateTimeZone.forID('Local')", KindRuntime, "not recognised"},
		{"DateTimeZone.forID('../../etc/passwd')", KindRuntime, "not recognised"},
		{"new int[-1]", KindRuntime, "negative array size"},
		{"new int['a']", KindRuntime, "array size must be a long"},
		{"Foo f = 1;", KindRuntime, "unsupported type Foo"},
		{"DateTime[] d = null;", KindRuntime, "arrays of DateTime are not supported"},
		{"String[] a = new String[]{null}; a", KindRuntime, "cannot hold it"},
		{"m = new HashMap(); m.put('a', null); m", KindRuntime, "is null"},
		{"new DateTime(0)", KindRuntime, "cannot produce a DateTime"},
		{"m = new HashMap(); m.put(1, 2)", KindRuntime, "key must be a String"},
		{"l = new ArrayList(); l.add(1); l.add('a'); l", KindRuntime, "mixing"},
		{"for (String s : 5) {}", KindRuntime, "cannot iterate over long"},
		{"for (String s : new HashMap()) {}", KindRuntime, "keySet"},
		{"for (long s : new String[]{'a'}) {}", KindRuntime, "cannot assign String to a long"},
		{"'x'.replaceAll('(?<=a)b', 'c')", KindRuntime, "unsupported regular expression"},
		{"'x'.replaceAll('a', '$2')", KindRuntime, "no group 2"},
		{"m = new HashMap(); m.put('self', m); m", KindRuntime, "nested too deeply"},
		{"m = new HashMap(); m.put('self', m); '' + m", KindRuntime, "nested too deeply"},
		{"(int) 'x'", KindRuntime, "cannot cast String to int"},
		{"x = 'a'; x++", KindRuntime, "need a number"},
	})
}

func TestErrorPositions(t *testing.T) {
	cases := []struct {
		src       string
		line, col int
	}{
		{"x = 1;\ny = x / 0;", 2, 7},
		{"a = 1;\n  b = a.foo();", 2, 9},
		{"\n\n   throw 'no';", 3, 4},
		{"x = 1;\n\tz = missing;", 2, 6},
		{"s = 'é';\ns = s + 1 + missing", 2, 13},
		{"for (int i = 0; ; i++) {}", 1, 1},
	}
	for _, c := range cases {
		_, err := eval(t, c.src, nil)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("%q: got %v, want an *Error", c.src, err)
			continue
		}
		if se.Line != c.line || se.Col != c.col {
			t.Errorf("%q: error %v at %d:%d, want %d:%d", c.src, err, se.Line, se.Col, c.line, c.col)
		}
	}
}

func TestProgramIsReusable(t *testing.T) {
	p, err := Parse("x = n * 2; x")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int64{1, 2, 3} {
		env := testEnv{params: map[string]Value{"n": n}}
		v, err := p.Eval(env, Limits{})
		if err != nil || v != n*2 {
			t.Fatalf("n=%d: got %v, %v", n, v, err)
		}
	}
	done := make(chan bool)
	for i := range 8 {
		go func() {
			env := testEnv{params: map[string]Value{"n": int64(i)}}
			v, err := p.Eval(env, Limits{})
			done <- err == nil && v == int64(i)*2
		}()
	}
	for range 8 {
		if !<-done {
			t.Fatal("concurrent evaluation gave a wrong result")
		}
	}
}

func TestResultTypes(t *testing.T) {
	// Each documented result type, checked by its Go type.
	cases := []struct {
		src  string
		want reflect.Type
	}{
		{"true", reflect.TypeOf(true)},
		{"1", reflect.TypeOf(int64(0))},
		{"1.0", reflect.TypeOf(0.0)},
		{"'s'", reflect.TypeOf("")},
		{"new int[]{1}", reflect.TypeOf([]int64{})},
		{"new double[]{1}", reflect.TypeOf([]float64{})},
		{"new boolean[]{true}", reflect.TypeOf([]bool{})},
		{"new String[]{'a'}", reflect.TypeOf([]string{})},
		{"new HashMap()", reflect.TypeOf(map[string]any{})},
	}
	for _, c := range cases {
		v := mustEval(t, c.src, nil)
		if reflect.TypeOf(v) != c.want {
			t.Errorf("%q gave %T, want %v", c.src, v, c.want)
		}
	}
	if v := mustEval(t, "null", nil); v != nil {
		t.Errorf("null gave %#v", v)
	}
}

// A program the parser could never produce makes the evaluator fail
// internally; Eval must still return an error rather than panic.
func TestInternalFailureBecomesError(t *testing.T) {
	p := &Program{stmts: []stmt{nil}}
	v, err := p.Eval(nil, Limits{})
	var se *Error
	if v != nil || !errors.As(err, &se) || se.Kind != KindRuntime || !strings.Contains(se.Msg, "internal error") {
		t.Fatalf("got %v, %v", v, err)
	}
}

func TestArraySize(t *testing.T) {
	p, err := Parse("param != null && param.size() > 2 && new long[]{1, 2}.size() == 2")
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.Eval(sizeEnv{}, DefaultLimits())
	if err != nil || v != true {
		t.Fatalf("got %v, %v; want true", v, err)
	}
	if err := Check("param.size()"); err != nil {
		t.Fatalf("Check rejects size() on an array param: %v", err)
	}
}

type sizeEnv struct{}

func (sizeEnv) Param(name string) (Value, bool) {
	if name == "param" {
		return []int64{1, 2, 3}, true
	}
	return nil, false
}
func (sizeEnv) StepParam(string, string) (Value, bool) { return nil, false }
