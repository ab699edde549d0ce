package sel

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

// wantKind evaluates src under lim and requires an *Error of kind
// containing msg.
func wantKind(t *testing.T, src string, env Env, lim Limits, kind ErrorKind, msg string) {
	t.Helper()
	p, err := Parse(src)
	if err != nil {
		t.Fatalf("%q: %v", src, err)
	}
	v, err := p.Eval(env, lim)
	var se *Error
	if !errors.As(err, &se) || se.Kind != kind || !strings.Contains(se.Msg, msg) {
		short := src
		if len(short) > 120 {
			short = short[:120] + "..."
		}
		t.Errorf("%q: got %T value and error %v, want %v containing %q", short, v, err, kind, msg)
	}
}

// allocDuring reports how many bytes the Go runtime allocated while f ran.
func allocDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func TestResultSizeLimit(t *testing.T) {
	const msg = "result exceeds the limit of 1000000 bytes"
	// One string shared by every slot of an array: 25 GB once copied out.
	wantKind(t, "String s = 'x'.repeat(1000000); String[] a = new String[25000]; for (int i = 0; i < 25000; i++) { a[i] = s; } return a;",
		nil, Limits{}, KindLimit, msg)
	// One array under many keys: export used to copy it once per key.
	wantKind(t, "long[] a = new long[25000]; Map m = new HashMap(); for (int i = 0; i < 100; i++) { m.put('k' + i, a); } return m;",
		nil, Limits{}, KindLimit, msg)
	// The same through a list and through nested maps of empty strings,
	// whose elements cost nothing but their slot.
	wantKind(t, "String[] e = new String[25000]; for (int i = 0; i < 25000; i++) e[i] = ''; Map m = new HashMap(); for (int i = 0; i < 100; i++) m.put('k' + i, e); return m;",
		nil, Limits{}, KindLimit, msg)
	wantKind(t, "List l = new ArrayList(); s = 'y'.repeat(100000); for (int i = 0; i < 11; i++) l.add(s); return l;",
		nil, Limits{}, KindLimit, msg)
	// A chain of maps, each holding the one below under two keys: the
	// walk is exponential in the depth, and must stop at the budget.
	wantKind(t, "Map m = new HashMap(); m.put('v', 1); for (int i = 0; i < 20; i++) { Map n = new HashMap(); n.put('a', m); n.put('b', m); m = n; } return m;",
		nil, Limits{}, KindLimit, msg)
	// A smaller limit is honoured.
	wantKind(t, "return 'x'.repeat(101);", nil, Limits{MaxResultBytes: 100}, KindLimit, "result exceeds the limit of 100 bytes")
}

func TestResultSizeWithinLimit(t *testing.T) {
	if d := DefaultLimits(); d.MaxResultBytes != 1_000_000 || (Limits{}).withDefaults().MaxResultBytes != d.MaxResultBytes {
		t.Errorf("MaxResultBytes defaults to %d", d.MaxResultBytes)
	}
	// The largest string a program may build is a valid result.
	if v := mustEval(t, "return 'x'.repeat(1000000);", nil); len(v.(string)) != 1000000 {
		t.Errorf("1,000,000-byte string: got %d bytes", len(v.(string)))
	}
	// A full long array, and a map holding one array twice.
	if v := mustEval(t, "return new long[25000];", nil); len(v.([]int64)) != 25000 {
		t.Errorf("long[25000]: got %v", len(v.([]int64)))
	}
	v := mustEval(t, "long[] a = new long[1000]; Map m = new HashMap(); m.put('x', a); m.put('y', a); return m;", nil)
	if m := v.(map[string]any); len(m["x"].([]int64)) != 1000 || len(m["y"].([]int64)) != 1000 {
		t.Errorf("shared array: got %v", m)
	}
	// Exactly at the limit: 10 strings of 92 bytes plus 8 per slot.
	if _, err := eval(t, "String[] a = new String[10]; for (int i = 0; i < 10; i++) a[i] = 'z'.repeat(92); return a;", nil); err != nil {
		t.Errorf("result at the default limit: %v", err)
	}
	p, _ := Parse("String[] a = new String[10]; for (int i = 0; i < 10; i++) a[i] = 'z'.repeat(92); return a;")
	if _, err := p.Eval(nil, Limits{MaxResultBytes: 1000}); err != nil {
		t.Errorf("result of exactly MaxResultBytes: %v", err)
	}
	if _, err := p.Eval(nil, Limits{MaxResultBytes: 999}); err == nil {
		t.Errorf("result one byte over MaxResultBytes: no error")
	}
}

// recordingEnv serves params.getFromSignal and counts its calls.
type recordingEnv struct {
	testEnv
	calls int
}

func (e *recordingEnv) CallParams(method string, args []Value) (Value, error) {
	e.calls++
	return "ok", nil
}

func TestParamsExtensionArgumentSizeLimit(t *testing.T) {
	env := &recordingEnv{}
	wantKind(t, "String s = 'x'.repeat(100000); String[] a = new String[100]; for (int i = 0; i < 100; i++) a[i] = s; return params.getFromSignal(a, 'x');",
		env, Limits{}, KindLimit, "params.getFromSignal: argument 1 exceeds the limit of 1000000 bytes")
	if env.calls != 0 {
		t.Errorf("the extension was called %d times with an oversized argument", env.calls)
	}
	// Each exported argument is charged to the allocation budget, so a
	// loop cannot copy a large one out without bound.
	wantKind(t, "String s = 'x'.repeat(900000); for (int i = 0; i < 1000; i++) params.getFromSignal(s, 'x'); return 1;",
		&recordingEnv{}, Limits{}, KindLimit, "allocated more than")
	if v, err := eval(t, "return params.getFromSignal('sig', 'p');", &recordingEnv{}); err != nil || v != "ok" {
		t.Errorf("small arguments: got %v, %v", v, err)
	}
}

// manyGroups is a regex of n empty groups: it matches at every position,
// and Go's regexp keeps 16 bytes per group for each match.
func manyGroups(n int) string { return strings.Repeat("()", n) }

func TestRegexMatchesChargedBeforeSearch(t *testing.T) {
	lim := Limits{MaxAllocBytes: 4 << 20}
	for _, src := range []string{
		"'a'.repeat(20000).replaceAll('" + manyGroups(499) + "', '')",
		"'a'.repeat(20000).split('" + manyGroups(499) + "')",
		"'a'.repeat(20000).split('" + manyGroups(499) + "', 30000)",
	} {
		// Unbounded, the search keeps 8 KB for each of 20,001 matches:
		// 160 MB. Bounded, it stops near the 4 MB budget.
		n := allocDuring(func() { wantKind(t, src, nil, lim, KindLimit, "allocated more than") })
		if n > 64<<20 {
			t.Errorf("%.40q...: allocated %d MB under a 4 MB budget", src, n>>20)
		}
	}
	// Ordinary uses are unchanged.
	runCases(t, nil, []evalCase{
		{"'a1b22c'.replaceAll('[0-9]+', '#')", "a#b#c"},
		{"'a1b22c'.replaceFirst('[0-9]+', '#')", "a#b22c"},
		{"'abc'.replaceAll('', '-')", "-a-b-c-"},
		{"'2024-01-02'.replaceAll('(\\\\d+)-(\\\\d+)-(\\\\d+)', '$3/$2/$1')", "02/01/2024"},
		{"'ab'.replaceAll('(?P<x>a)', '[${x}]')", "[a]b"},
		{"'ab'.replaceAll('(a)|(z)', '<$2>')", "<>b"},
		{"'a$b'.replaceAll('b', '\\\\$')", "a$$"},
		{"'a,b,,c,,'.split(',')", []string{"a", "b", "", "c"}},
		{"'a1b2c'.split('[0-9]')", []string{"a", "b", "c"}},
		{"'a1b2c'.split('([0-9])', 2)", []string{"a", "b2c"}},
	})
}

func TestReplacementExpansionBounded(t *testing.T) {
	// One match expanded through 50,000 references to the whole match
	// would be 50 MB, built before the string limit was checked.
	src := "'a'.repeat(1000).replaceAll('.+', '$0'.repeat(50000))"
	n := allocDuring(func() { wantKind(t, src, nil, Limits{}, KindLimit, "exceeds the limit of 1000000 bytes") })
	if n > 30<<20 {
		t.Errorf("expansion allocated %d MB before failing", n>>20)
	}
	// Many empty group references at every position add nothing to the
	// output but cost work for every match: the step budget stops it.
	wantKind(t, "'a'.repeat(20000).replaceAll('()', '$1'.repeat(20000))", nil, Limits{}, KindLimit, "steps")
	// Java's errors for bad group names.
	runErrCases(t, nil, []errCase{
		{"'ab'.replaceAll('(a)', '${y}')", KindRuntime, "no group with name {y}"},
		{"'ab'.replaceAll('(a)', '${}')", KindRuntime, "0 length name"},
		{"'ab'.replaceAll('(a)', '${x')", KindRuntime, "missing trailing '}'"},
		{"'ab'.replaceAll('(a)', '${1}')", KindRuntime, "starts with digit"},
		{"'ab'.replaceAll('(a)', '$2')", KindRuntime, "no group 2"},
	})
}

func TestIntegerDecodeRange(t *testing.T) {
	runErrCases(t, nil, []errCase{
		{"Integer.decode('3000000000')", KindRuntime, "is not an int"},
		{"Integer.decode('-2147483649')", KindRuntime, "is not an int"},
	})
	runCases(t, nil, []evalCase{
		{"Integer.decode('2147483647')", int64(2147483647)},
		{"Integer.decode('-2147483648')", int64(-2147483648)},
		// Maestro's Integer.valueOf parses a long; see TestNumberConversions.
		{"Integer.valueOf('3000000000')", int64(3000000000)},
		{"Long.valueOf('3000000000')", int64(3000000000)},
		{"Long.decode('3000000000')", int64(3000000000)},
	})
}

func TestIndexOfInsideSurrogatePair(t *testing.T) {
	// Java indexes UTF-16 units: 😀 is units 0 and 1, x is unit 2.
	runCases(t, nil, []evalCase{
		{"'😀x'.lastIndexOf('', 1)", int64(1)},
		{"'😀x'.indexOf('', 1)", int64(1)},
		{"'😀x'.lastIndexOf('x', 1)", int64(-1)},
		{"'😀😀'.lastIndexOf('😀', 1)", int64(0)},
		{"'😀😀'.lastIndexOf('😀', 2)", int64(2)},
		{"'😀x'.indexOf('x', 1)", int64(2)},
		{"'😀x'.lastIndexOf('', 9)", int64(3)},
		{"'😀x'.indexOf('', 9)", int64(3)},
		{"'😀x'.lastIndexOf('', -1)", int64(-1)},
		{"'hello'.lastIndexOf('', 2)", int64(2)},
	})
}
