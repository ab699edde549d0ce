package sel

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func limitErr(t *testing.T, src string, lim Limits, msg string) {
	t.Helper()
	p, err := Parse(src)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	start := time.Now()
	_, err = p.Eval(nil, lim)
	elapsed := time.Since(start)
	var se *Error
	if !errors.As(err, &se) || se.Kind != KindLimit || !strings.Contains(se.Msg, msg) {
		t.Errorf("%q: got %v, want a limit error containing %q", src, err, msg)
	}
	if se != nil && se.Line == 0 {
		t.Errorf("%q: limit error has no position", src)
	}
	if elapsed > 5*time.Second {
		t.Errorf("%q: took %v to fail", src, elapsed)
	}
}

func TestLoopLimits(t *testing.T) {
	limitErr(t, "while (true) {}", Limits{}, "loop ran more than 25000 iterations")
	limitErr(t, "for (;;) {}", Limits{}, "loop ran more than")
	limitErr(t, "x = 0; while (true) x++;", Limits{MaxLoopIterations: 100}, "more than 100 iterations")
	// With a loop budget too large to matter the step budget stops it.
	limitErr(t, "while (true) {}", Limits{MaxLoopIterations: 1 << 40}, "more than 10000000 steps")
	// Nested loops each stay under the iteration limit but not the steps.
	limitErr(t, "n = 0; for (int i = 0; i < 20000; i++) for (int j = 0; j < 20000; j++) n++;", Limits{}, "steps")

	// Exactly the limit is fine.
	v := mustEval(t, "n = 0; for (int i = 0; i < 25000; i++) n++; n", nil)
	if v != int64(25000) {
		t.Errorf("25000 iterations: got %v", v)
	}
	limitErr(t, "n = 0; for (int i = 0; i < 25001; i++) n++; n", Limits{}, "25000 iterations")
	limitErr(t, "l = new ArrayList(); l.add(1); for (long x : l) l.add(x);", Limits{}, "")
}

func TestStringAndArrayLimits(t *testing.T) {
	limitErr(t, "s = 'ab'; while (true) s = s + s;", Limits{}, "exceeds the limit of 1000000 bytes")
	limitErr(t, "s = 'ab'; while (true) s += s;", Limits{}, "exceeds the limit")
	limitErr(t, "s = 'x'; for (int i = 0; i < 100; i++) s = s.concat(s);", Limits{}, "exceeds the limit")
	limitErr(t, "'ab'.repeat(2000000000)", Limits{}, "exceeds the limit")
	limitErr(t, "'abc'.replace('', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx').repeat(20000)", Limits{}, "exceeds the limit")
	limitErr(t, "s = 'x'.repeat(1001); s.replace('x', s)", Limits{}, "exceeds the limit")
	limitErr(t, "String.format('%s%s', 'x'.repeat(600000), 'y'.repeat(600000))", Limits{}, "exceeds the limit")
	limitErr(t, "x = 'a'; for (int i = 0; i < 25; i++) x = String.join(x, x, x);", Limits{}, "exceeds the limit")
	limitErr(t, "new int[100000000]", Limits{}, "array size 100000000 exceeds the limit of 25000")
	limitErr(t, "new long[1000]", Limits{MaxArrayLen: 10}, "exceeds the limit of 10")
	limitErr(t, "l = new ArrayList(); while (true) l.add(1);", Limits{MaxLoopIterations: 1 << 30}, "array size")
	limitErr(t, "m = new HashMap(); for (int i = 0; ; i++) m.put('' + i, i);", Limits{MaxLoopIterations: 1 << 30}, "map size")
	limitErr(t, "'a,'.repeat(30000).split(',')", Limits{}, "exceeds the limit of 25000")
	limitErr(t, "Util.intsBetween(0, 2000000000, 1)", Limits{}, "array limit")
	// Many strings that each fit still exhaust the allocation budget.
	limitErr(t, "String[] a = new String[20000]; s = 'x'.repeat(100000); for (int i = 0; i < 20000; i++) a[i] = s + i;",
		Limits{}, "allocated more than")
	limitErr(t, "s = 'x'; for (int i = 0; i < 20; i++) s = s + s;", Limits{MaxStringLen: 1000}, "exceeds the limit of 1000 bytes")
}

func TestStepAndDepthLimits(t *testing.T) {
	limitErr(t, "x = 0; for (int i = 0; i < 100; i++) x++;", Limits{MaxSteps: 50}, "more than 50 steps")
	// Work inside library calls counts too.
	limitErr(t, "s = 'x'.repeat(900000); n = 0; for (int i = 0; i < 20000; i++) if (s.contains('y')) n++;", Limits{}, "steps")
	limitErr(t, "s = 'x'.repeat(900000); for (int i = 0; i < 20000; i++) s.split('y');", Limits{}, "steps")

	nested := strings.Repeat("(", 100) + "1" + strings.Repeat(")", 100)
	p, err := Parse(nested)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Eval(nil, Limits{MaxDepth: 50}); err == nil || !strings.Contains(err.Error(), "over the limit of 50") {
		t.Errorf("depth 100 under MaxDepth 50: got %v", err)
	}
	if v, err := p.Eval(nil, Limits{MaxDepth: 200}); err != nil || v != int64(1) {
		t.Errorf("depth 100 under MaxDepth 200: got %v, %v", v, err)
	}
}

func TestDefaultLimits(t *testing.T) {
	d := DefaultLimits()
	if d.MaxLoopIterations != 25000 || d.MaxArrayLen != 25000 || d.MaxSteps <= 0 || d.MaxStringLen <= 0 || d.MaxDepth <= 0 || d.MaxAllocBytes <= 0 {
		t.Errorf("unexpected defaults %+v", d)
	}
	if got := (Limits{}).withDefaults(); got != d {
		t.Errorf("zero Limits should take the defaults, got %+v", got)
	}
	custom := Limits{MaxSteps: 7}.withDefaults()
	if custom.MaxSteps != 7 || custom.MaxArrayLen != d.MaxArrayLen {
		t.Errorf("partial Limits: got %+v", custom)
	}
}
