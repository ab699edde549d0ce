package sel

import (
	"errors"
	"strings"
	"testing"
)

func TestSyntaxErrors(t *testing.T) {
	cases := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"x = 1 +;", 1, 8, "expected an expression, found ';'"},
		{"x = 1;\ny = (2 + 3;", 2, 11, "expected ')'"},
		{"int x = 1\nint y = 2;", 2, 1, "expected ';'"},
		{"if (x > 1 { }", 1, 11, "expected ')'"},
		{"'unterminated", 1, 1, "unterminated string"},
		{"\"line\nbreak\"", 1, 1, "line break"},
		{"x = 'bad \\q escape';", 1, 10, "invalid escape"},
		{"/* never closed", 1, 1, "unterminated comment"},
		{"x = 1 # 2", 1, 7, "unexpected character '#'"},
		{"x = 5 & 3;", 1, 7, "operator & is not supported"},
		{"x = 1 << 2;", 1, 7, "operator << is not supported"},
		{"x |= 1;", 1, 3, "operator |= is not supported"},
		{"~x", 1, 1, "operator ~ is not supported"},
		{"x instanceof String", 1, 3, "instanceof"},
		{"switch (x) {}", 1, 1, "'switch' is not supported"},
		{"do { } while (true);", 1, 1, "'do' is not supported"},
		{"try { } catch (e) { }", 1, 1, "'try' is not supported"},
		{"break;", 1, 1, "break outside of a loop"},
		{"if (true) { continue; }", 1, 13, "continue outside of a loop"},
		{"return;", 1, 1, "return needs a value"},
		{"1 = 2;", 1, 3, "left side of = must be a variable"},
		{"int x = 1 + 1 = 3;", 1, 15, "left side of ="},
		{"foo(1);", 1, 1, "SEL has no functions"},
		{"new int[2][3]", 1, 11, "multi-dimensional"},
		{"int[][] a;", 1, 6, "multi-dimensional"},
		{"new java.util.HashMap()", 1, 9, "qualified class names"},
		{"char c = 'a';", 1, 1, "type char is not supported"},
		{"this.x", 1, 1, "'this' is not supported"},
		{"x = 99999999999999999999;", 1, 5, "out of range"},
		{"x = 123abc;", 1, 5, "malformed number"},
		{"x = 1e;", 1, 5, "malformed number"},
		{"{ x = 1;", 1, 9, "expected '}'"},
		{"x.;", 1, 3, "expected a method or field name"},
		{"a[1;", 1, 4, "expected ']'"},
		{"new int[]{1, 2", 1, 15, "expected ',' or '}'"},
		{"f(x) ? 1 : 2", 1, 1, "SEL has no functions"},
		{"x = 'é' + ;", 1, 11, "expected an expression"},
		{"import ;", 1, 8, "expected a name after import"},
		{"x++ ++;", 1, 5, "expected ';'"},
		{"5++;", 1, 2, "++ needs a variable"},
	}
	for _, c := range cases {
		_, err := Parse(c.src)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v, want a syntax error", c.src, err)
			continue
		}
		if se.Kind != KindSyntax || se.Line != c.line || se.Col != c.col || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Parse(%q): got %v (%d:%d), want %d:%d containing %q", c.src, err, se.Line, se.Col, c.line, c.col, c.msg)
		}
	}
}

func TestErrorString(t *testing.T) {
	_, err := Parse("x = ;")
	if got, want := err.Error(), "sel: syntax error at 1:5: expected an expression, found ';'"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	_, err = eval(t, "throw 'stop here';", nil)
	if got, want := err.Error(), "sel: expression threw at 1:1: stop here"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestParseAccepts(t *testing.T) {
	for _, src := range []string{
		"",
		"   // only a comment",
		"x = 1",
		"return x",
		"if (a) return 1; else return 2",
		"Map<String, List<Long>> m = new HashMap<>();",
		"List<Map<String, Object>> l = new ArrayList<Map<String, Object>>(10);",
		"for (int i = 0; i < 3; i++) {}",
		"for (String s : list) ;",
		"x = a < b;",
		"x = a < b > c;", // parses; fails when run
		"int[] a = {1, 2, 3,};",
		"new String[]{'a',}",
		"x = -9223372036854775808L;",
		"y = (int) -x;",
		"z = (x) + 1;",
		"import static java.lang.Math.*; Math.max(1, 2)",
		"a.b.c.d().e[1].f",
		"Util.dateIntsBetween(s, e, 1);;",
		"\ufeffx",
	} {
		if _, err := Parse(src); err != nil {
			t.Errorf("Parse(%q): %v", src, err)
		}
	}
}

func TestSourceLimits(t *testing.T) {
	_, err := Parse(strings.Repeat(" ", MaxSourceLen+1))
	if err == nil || !strings.Contains(err.Error(), "over the limit") {
		t.Errorf("oversized source: got %v", err)
	}
	for _, src := range []string{
		strings.Repeat("(", 10000) + "1" + strings.Repeat(")", 10000),
		strings.Repeat("-", 20000) + "1",
		strings.Repeat("!", 20000) + "true",
		strings.Repeat("{", 5000) + strings.Repeat("}", 5000),
		strings.Repeat("if (true) ", 3000) + "x = 1;",
		strings.Repeat("a[", 3000) + "0" + strings.Repeat("]", 3000),
		strings.Repeat("f(", 3000),
		strings.Repeat("x = ", 5000) + "1",
		strings.Repeat("a ? b : ", 5000) + "c",
		strings.Repeat("new int[]{", 3000),
	} {
		_, err := Parse(src)
		var se *Error
		if !errors.As(err, &se) || se.Kind != KindSyntax {
			t.Errorf("deeply nested source of %d bytes: got %v, want a syntax error", len(src), err)
			continue
		}
		if !strings.Contains(se.Msg, "nested more than") && !strings.Contains(se.Msg, "SEL has no functions") {
			t.Errorf("deeply nested source: unexpected message %q", se.Msg)
		}
	}
	// Long flat chains are fine: they do not nest.
	chain := strings.Repeat("1 + ", 10000) + "1"
	if v := mustEval(t, chain, nil); v != int64(10001) {
		t.Errorf("long chain = %v", v)
	}
	calls := "'x'" + strings.Repeat(".trim()", 5000)
	if v := mustEval(t, calls, nil); v != "x" {
		t.Errorf("long call chain = %v", v)
	}
	elseIfs := "x = 7; " + strings.Repeat("if (x == 0) x = 1; else ", 2000) + "x = 2; x"
	if v := mustEval(t, elseIfs, nil); v != int64(2) {
		t.Errorf("long else-if chain = %v", v)
	}
	if _, err := Parse("x = \xff;"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8: got %v", err)
	}
}
