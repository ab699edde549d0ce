package sel

import (
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"
)

func TestRefs(t *testing.T) {
	cases := []struct {
		src  string
		want []string
	}{
		{"1 + 1", []string{}},
		{"foo + 1", []string{"foo"}},
		{"x = 1; x + y", []string{"y"}},
		{"int n = a; for (int i = 0; i < n; i++) total += i;", []string{"a", "total"}},
		{"s1__out + step_2__value", []string{"s1__out", "step_2__value"}},
		{"params.get('p1') + params['p2']", []string{"p1", "p2"}},
		{"params.getFromStep('job', 'count')", []string{"job__count"}},
		{"params.containsKey('maybe') ? params.get('maybe') : 0", []string{"maybe"}},
		{"params.get('a' + b)", []string{"b", "params"}},
		{"m = params; m", []string{"params"}},
		{"params.getFromInstance('owner')", []string{}},
		{"Math.max(a, b) + Util.intsBetween(1, c, 1).length", []string{"a", "b", "c"}},
		{"String s = Long.toString(n); DateTime d = new DateTime(ts, DateTimeZone.UTC); s", []string{"n", "ts"}},
		{"x += 1", []string{"x"}},
		{"y++", []string{"y"}},
		{"a[0] = b", []string{"a", "b"}},
		{"for (String s : list) out = s;", []string{"list"}},
		{"x = x + 1", []string{"x"}},
		{"v = 1; params.get('v')", []string{"v"}},
		{"import java.util.List; List l = new ArrayList(); l", []string{}},
	}
	for _, c := range cases {
		p, err := Parse(c.src)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		got := p.Refs()
		sort.Strings(c.want)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Refs(%q) = %v, want %v", c.src, got, c.want)
		}
	}
}

func TestRefsIsACopy(t *testing.T) {
	p, _ := Parse("a + b")
	r := p.Refs()
	r[0] = "changed"
	if p.Refs()[0] != "a" {
		t.Error("Refs exposes internal state")
	}
}

func TestCheck(t *testing.T) {
	ok := []string{
		"Math.max(1, 2)",
		"DateTimeZone.UTC",
		"Integer.MAX_VALUE",
		"DateTime d = new DateTime(0); d.plusDays(1).getYear()",
		"String s = 'a'; s.toUpperCase()",
		"Map m = new HashMap(); m.put('a', 1); m.keySet()",
		"x = foo.bar()", // foo is a param; its type is unknown here
		"Object o = 1; o.anything()",
		"if (c) { String v = 'a'; } else { long v = 1; } v.foo()", // v has two types
		"throw new MaestroRuntimeException('x')",
		"System.currentTimeMillis()",
		"org + 1", // a param that happens to share a package name
		"Util.dateIntsBetween(20240101, 20240201, 7)",
	}
	for _, src := range ok {
		if err := Check(src); err != nil {
			t.Errorf("Check(%q) = %v, want nil", src, err)
		}
	}
	bad := []struct {
		src       string
		line, col int
		msg       string
	}{
		{"Math.foo(1)", 1, 6, "Math has no method foo"},
		{"Math.random()", 1, 6, "deterministic"},
		{"System.exit(0)", 1, 8, "System has no method exit"},
		{"System.getenv('HOME')", 1, 8, "System has no method getenv"},
		{"Thread.sleep(1000)", 1, 1, "Thread is not available"},
		{"Runtime.getRuntime().exec('ls')", 1, 1, "Runtime is not available"},
		{"x = Class.forName('java.lang.String')", 1, 5, "Class is not available"},
		{"java.lang.System.exit(0)", 1, 1, "qualified names"},
		{"new Foo()", 1, 1, "class Foo is not supported"},
		{"new File('/etc/passwd')", 1, 1, "class File is not supported"},
		{"Foo f = null;", 1, 1, "unknown type Foo"},
		{"DateTime[] a;", 1, 1, "arrays of DateTime"},
		{"new Map[2]", 1, 1, "arrays of Map"},
		{"DateTimeZone.PST", 1, 14, "DateTimeZone has no field PST"},
		{"Util[0]", 1, 5, "cannot be indexed"},
		{"'abc'.size()", 1, 7, "String has no method size"},
		{"DateTime d = new DateTime(0);\nd.plusFortnights(1)", 2, 3, "DateTime has no method plusFortnights"},
		{"Map m = new HashMap(); m.add(1)", 1, 26, "Map has no method add"},
		{"for (String s : list) { s.lenght(); }", 1, 27, "String has no method lenght"},
		{"x = 1 +", 1, 8, "expected an expression"},
	}
	for _, c := range bad {
		err := Check(c.src)
		var se *Error
		if !errors.As(err, &se) {
			t.Errorf("Check(%q) = %v, want an *Error", c.src, err)
			continue
		}
		if se.Line != c.line || se.Col != c.col || !strings.Contains(se.Msg, c.msg) {
			t.Errorf("Check(%q) = %v (%d:%d), want %d:%d containing %q", c.src, err, se.Line, se.Col, c.line, c.col, c.msg)
		}
		if c.msg != "expected an expression" && se.Kind != KindStatic {
			t.Errorf("Check(%q): kind %v, want KindStatic", c.src, se.Kind)
		}
	}
}

// Every method Check accepts must exist at run time, so that Check never
// passes a call that is bound to fail as unknown.
func TestCheckTablesMatchRuntime(t *testing.T) {
	in := &interp{env: fullEnv{now: 1}, lim: DefaultLimits(), vars: map[string]*variable{}, params: map[string]Value{}}
	dt := &dateTime{ms: 0, zone: utcZone}
	receivers := map[kind]Value{
		kString: "s", kLong: int64(1), kDouble: 1.5, kBool: true,
		kMap: &mapVal{m: map[string]Value{}}, kList: &listVal{}, kDateTime: dt, kZone: utcZone,
		kFormatter: dateIntFormat, kProperty: &property{dt: dt, field: fYear}, kDays: &daysVal{n: 1},
		kUUID: &uuidVal{s: "u"}, kException: &exceptionVal{class: "Exception"},
		kLongArr: &array{elem: kLong}, kDoubleArr: &array{elem: kDouble},
		kBoolArr: &array{elem: kBool}, kStringArr: &array{elem: kString},
	}
	known := func(recv Value, name string) bool {
		for n := 0; n <= 8; n++ {
			_, err := in.call(recv, name, make([]Value, n))
			if err == nil || !strings.Contains(err.Error(), "has no method") {
				return true
			}
		}
		return false
	}
	for k, methods := range instanceMethods {
		recv, ok := receivers[k]
		if !ok {
			t.Errorf("no test receiver for %v", k)
			continue
		}
		for m := range methods {
			if !known(recv, m) {
				t.Errorf("Check accepts %v.%s but evaluation does not know it", k, m)
			}
		}
	}
	for class, methods := range staticMethods {
		for m := range methods {
			if !known(&classRef{name: class}, m) {
				t.Errorf("Check accepts %s.%s but evaluation does not know it", class, m)
			}
		}
	}
	for class := range constructible {
		_, err := in.construct(class, []Value{"x"})
		if err != nil && strings.Contains(err.Error(), "is not supported") {
			t.Errorf("Check accepts new %s but evaluation does not", class)
		}
	}
}
