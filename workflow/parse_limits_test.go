package workflow

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// allocated returns the bytes allocated while f runs. The tests using it are
// not parallel, so nothing else allocates much meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxAllocPerByte is how many bytes parsing may allocate per byte of a JSON
// input made of long keys nested deep, which has few nodes. Building a path
// string per node made it hundreds of times the input.
const maxAllocPerByte = 50

func checkAlloc(t *testing.T, what string, got uint64, size int) {
	t.Helper()
	if got > uint64(maxAllocPerByte*size) {
		t.Errorf("%s: parsing %d bytes allocated %d bytes (%dx), want at most %dx",
			what, size, got, got/uint64(size), maxAllocPerByte)
	}
}

// deepJSON nests objects levels deep, each with one key of keyLen bytes,
// around a list of elems zeros. It also returns the keys and the offset of
// the list's last element.
func deepJSON(levels, keyLen, elems int) (doc string, keys []string, last int) {
	var b strings.Builder
	for i := 0; i < levels; i++ {
		k := strconv.Itoa(i) + strings.Repeat("k", keyLen)
		keys = append(keys, k)
		b.WriteString(`{"` + k + `": `)
	}
	b.WriteString("[0" + strings.Repeat(", 0", elems-1))
	last = b.Len() - 1
	b.WriteString("]" + strings.Repeat("}", levels))
	return b.String(), keys, last
}

func keysPath(base string, keys []string) string {
	for _, k := range keys {
		base = keyPath(base, k)
	}
	return base
}

func errorList(t *testing.T, err error) Errors {
	t.Helper()
	var es *Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v is %T, want *Errors", err, err)
	}
	return *es
}

// Every node under signal_triggers has its position recorded; with long keys
// nested deep, a path string per node made that quadratic in the input.
func TestParseDeepSignalTriggersBounded(t *testing.T) {
	deep, keys, last := deepJSON(100, 2000, 500)
	const head = `{"workflow": {"id": "w", "signal_triggers": [`
	data := []byte(head + deep + `], "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	var (
		d   *Definition
		err error
	)
	checkAlloc(t, "signal_triggers", allocated(func() { d, err = Parse(data) }), len(data))
	if err != nil {
		t.Fatal(err)
	}
	// The positions are still there for errors found later.
	p := indexPath(keysPath("workflow.signal_triggers[0]", keys), 499)
	if got, want := d.src.at(p), (position{line: 1, col: len(head) + last + 1}); got != want {
		t.Errorf("position of the last element: got %v, want %v", got, want)
	}
	if got, want := d.src.at(p+".nothing.here"), (position{line: 1, col: len(head) + last + 1}); got != want {
		t.Errorf("position below the last element: got %v, want %v", got, want)
	}
	checkSourceAt(t)
}

// checkSourceAt looks positions up by path strings written with keyPath and
// indexPath, some extended with text of the validator's own, as before
// positions were recorded without path strings.
func checkSourceAt(t *testing.T) {
	t.Helper()
	data := []byte(`{"workflow": {"id": "w",
 "signal_triggers": [{"a.b": {"": [7, {"x": 1}]}, "q\"]": 2, "1a": 3}],
 "steps": [{"step": {"id": "s", "type": "NoOp"}}]}}`)
	d, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path      string
		line, col int
	}{
		{"", 1, 1},
		{"workflow", 1, 14},
		{"workflow.signal_triggers", 2, 21},
		{`workflow.signal_triggers[0]["a.b"][""][1].x`, 2, 45},
		{`workflow.signal_triggers[0]["a.b"][""][1].x.more`, 2, 45},
		{`workflow.signal_triggers[0]["a.b"][""][0]`, 2, 36},
		{`workflow.signal_triggers[0]["q\"]"]`, 2, 59},
		{`workflow.signal_triggers[0]["1a"]`, 2, 68},
		{`workflow.signal_triggers[0].1a`, 2, 22},      // not how keyPath writes it
		{`workflow.signal_triggers[0]["id"]`, 2, 22},   // nor this
		{`workflow.signal_triggers[0][""][01]`, 2, 22}, // nor this
		{"workflow.steps[0].step.id", 3, 28},
		{"workflow.steps[0].step.transition.successors", 3, 21},
		{"workflow.steps[1].step", 3, 11},
		{".workflow", 1, 1},
		{"nothing", 1, 1},
	} {
		if got := d.src.at(tc.path); got != (position{tc.line, tc.col}) {
			t.Errorf("at(%s) = %d:%d, want %d:%d", tc.path, got.line, got.col, tc.line, tc.col)
		}
	}
}

// The JSON parser used to build the path of every value as it went, even
// for input that the decoder then rejects at its first key.
func TestParseDeepUnknownFieldBounded(t *testing.T) {
	deep, _, _ := deepJSON(100, 2000, 500)
	data := []byte(`{"x": ` + deep + `}`)
	var err error
	checkAlloc(t, "unknown field", allocated(func() { _, err = Parse(data) }), len(data))
	if got, want := errorList(t, err).Error(), `line 1:2: unknown field "x"`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// A syntax error deep inside still names the full path.
func TestParseDeepSyntaxErrorPath(t *testing.T) {
	deep, keys, last := deepJSON(100, 2000, 500)
	deep = deep[:last] + "x" + deep[last+1:]
	data := []byte(`{"x": ` + deep + `}`)
	var err error
	checkAlloc(t, "syntax error", allocated(func() { _, err = Parse(data) }), len(data))
	es := errorList(t, err)
	want := Error{Path: indexPath(keysPath("x", keys), 499), Line: 1, Col: len(`{"x": `) + last + 1,
		Msg: "unexpected character 'x', expected a value"}
	if len(es) != 1 || *es[0] != want {
		t.Errorf("got %v, want %v", es, &want)
	}
}

// deepParams nests MAP params levels deep, each named by a key of keyLen
// bytes, around leaves LONG params whose value is value.
func deepParams(levels, keyLen, leaves int, value string) (doc string, keys []string) {
	var b strings.Builder
	b.WriteString(`{"workflow": {"id": "w", "steps": [{"step": {"id": "a", "type": "NoOp"}}], "params": `)
	for i := 0; i < levels; i++ {
		k := strconv.Itoa(i) + strings.Repeat("k", keyLen)
		keys = append(keys, k, "value")
		b.WriteString(`{"` + k + `": {"type": "MAP", "value": `)
	}
	b.WriteString("{")
	for i := 0; i < leaves; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"x` + strconv.Itoa(i) + `": {"type": "LONG", "value": ` + value + `}`)
	}
	b.WriteString("}" + strings.Repeat("}}", levels) + "}}")
	return b.String(), keys
}

// The decoder records the position of every param, and names each bad one
// in an error.
func TestParseDeepParamsBounded(t *testing.T) {
	doc, keys := deepParams(60, 2000, 300, "1")
	data := []byte(doc)
	var (
		d   *Definition
		err error
	)
	checkAlloc(t, "params", allocated(func() { d, err = Parse(data) }), len(data))
	if err != nil {
		t.Fatal(err)
	}
	p := keyPath(keysPath("workflow.params", keys), "x299") + ".value"
	if got, want := d.src.at(p), (position{line: 1, col: strings.LastIndex(doc, "1}") + 1}); got != want {
		t.Errorf("position of the last value: got %v, want %v", got, want)
	}

	// Each error holds its path, so the list stops once they add up to far
	// more than any real definition's errors.
	doc, keys = deepParams(60, 2000, 300, `"z"`)
	data = []byte(doc)
	checkAlloc(t, "bad params", allocated(func() { _, err = Parse(data) }), len(data))
	es := errorList(t, err)
	if len(es) < 2 || len(es) > maxErrors+1 {
		t.Fatalf("got %d errors", len(es))
	}
	p = keyPath(keysPath("workflow.params", keys), "x0") + ".value"
	if es[0].Path != p || es[0].Msg != `expected LONG, got "z"` {
		t.Errorf("first error: got %s: %s", es[0].Path, es[0].Msg)
	}
	if last := es[len(es)-1]; *last != (Error{Msg: "too many errors"}) {
		t.Errorf("last error: got %v, want too many errors", last)
	}
}

// Aliases may not make a YAML document cost much more than a document of the
// same size without them. The budget used to be 16 nodes per byte of input,
// each with its own path string.
func TestParseYAMLAliasesBounded(t *testing.T) {
	aliases := []byte("a: &a [0" + strings.Repeat(",0", 999) + "]\nb: [*a" + strings.Repeat(",*a", 9999) + "]\n")
	// As many nodes as YAML fits in that many bytes.
	plain := []byte("a: [0" + strings.Repeat(",0", len(aliases)/2-4) + "]\n")
	var err error
	got := allocated(func() { _, err = Parse(aliases) })
	base := allocated(func() { _, _ = Parse(plain) })
	if got > 2*base {
		t.Errorf("parsing %d bytes with aliases allocated %d bytes, %d without: want at most twice",
			len(aliases), got, base)
	}
	es := errorList(t, err)
	if len(es) != 1 || !strings.HasPrefix(es[0].Path, "b[") ||
		es[0].Msg != "YAML aliases expand to a document that is too large" {
		t.Errorf("got %v", err)
	}

	// Documents without aliases never run out of budget, however dense.
	var keys strings.Builder
	for i := 0; keys.Len() < 1<<20; i++ {
		keys.WriteString(strconv.FormatInt(int64(i), 36) + ",")
	}
	for name, doc := range map[string]string{
		"numbers":     "[0" + strings.Repeat(",0", 1<<19) + "]",
		"keys":        "k: {" + keys.String() + "}",
		"null values": "[" + strings.Repeat(`"":,`, 1<<18) + "]",
		"escapes":     `"` + strings.Repeat(`\L`, 1<<19) + `"`,
	} {
		if _, err := parseTree([]byte(doc)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
