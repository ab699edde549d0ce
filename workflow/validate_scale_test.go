package workflow

import (
	"fmt"
	"strings"
	"testing"
)

// nestedParams builds a definition whose one workflow param is a MAP nested
// depth levels deep; every level holds leaves STRING params besides the
// next level, and every key is keyLen characters long, padded with fill.
// The path of a param at level n is about n*keyLen long, so building a path
// string per param costs depth*depth*keyLen, while the input is
// depth*keyLen.
func nestedParams(depth, keyLen, leaves int, fill string) []byte {
	key := func(level, i int) string {
		k := fmt.Sprintf("k%d_%d_", level, i)
		return k + strings.Repeat(fill, keyLen-len(k))
	}
	var b strings.Builder
	b.WriteString(`{"workflow": {"id": "deep", "steps": [{"step": {"id": "a", "type": "NoOp"}}], "params": {`)
	for level := 0; level < depth; level++ {
		for i := 0; i < leaves; i++ {
			fmt.Fprintf(&b, `"%s": {"type": "STRING", "value": "v"}, `, key(level, i))
		}
		fmt.Fprintf(&b, `"%s": {"type": "MAP", "value": {`, key(level, leaves))
	}
	b.WriteString(`"last": {"type": "LONG", "value": 1}`)
	b.WriteString(strings.Repeat("}}", depth))
	b.WriteString(`}}}`)
	return []byte(b.String())
}

// Validate, Canonical and CheckSupported walk every param of a definition.
// They used to build the full path of each one as a string, which for long
// keys nested a few hundred levels deep is quadratic: on this input they
// allocated over 800 times its size, and on a definition of nearly 1 MB
// over 250 MB each. They now keep the path as a parent and a key, rendered
// only for an error, so what they allocate is in proportion to the input.
// Measured in bytes rather than time, so that the test does not depend on
// the machine.
func TestDeepParamsCostLinear(t *testing.T) {
	// Keys of 120 characters are valid param names, so the walk is done in
	// full and no error path is rendered; about 300 KB of input.
	data := nestedParams(240, 120, 7, "x")
	if len(data) < 250<<10 || len(data) > 350<<10 {
		t.Fatalf("generated %d bytes, want about 300 KB", len(data))
	}
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var (
		verr, cerr, serr error
		canon            []byte
	)
	alloc := allocated(func() {
		verr = d.Validate(DefaultLimits())
		canon, cerr = Canonical(d)
		serr = CheckSupported(d)
	})
	if verr != nil || cerr != nil || serr != nil {
		t.Fatalf("Validate: %v; Canonical: %v; CheckSupported: %v", verr, cerr, serr)
	}
	// The canonical form alone is about the size of the input, and the
	// tree it is written from a few times that.
	if limit := 50 * uint64(len(data)); alloc > limit {
		t.Errorf("Validate, Canonical and CheckSupported allocated %d bytes for a %d-byte definition, over %d", alloc, len(data), limit)
	}
	if d2, err := Parse(canon); err != nil || !d.Equal(d2) {
		t.Errorf("canonical form does not parse back to the definition: %v", err)
	}
}

// Param names over the length limit at every level each give an error
// whose path is longer than the one before; as in the decoder, the list
// stops once the paths add up to maxErrorPaths. The 100 errors it used to
// hold came to 20 MB of paths here, each also read back to find its line.
func TestDeepParamErrorsBounded(t *testing.T) {
	// 4 bytes (and 2 UTF-16 units) a character, quoted in paths
	data := nestedParams(240, 1000, 0, "\U0001F600")
	d, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	var verr error
	alloc := allocated(func() { verr = d.Validate(DefaultLimits()) })
	if limit := 50 * uint64(len(data)); alloc > limit {
		t.Errorf("Validate allocated %d bytes for a %d-byte definition, over %d", alloc, len(data), limit)
	}
	es := *verr.(*Errors)
	var first string
	for k := range d.Workflow.Params { // the only one
		first = keyPath("workflow.params", k)
	}
	if len(es) < 2 || es[0].Path != first || es[0].Msg != "param name is 1995 characters, over the limit of 128" || es[0].Line != 1 {
		t.Fatalf("first error: %.200s", es[0])
	}
	if last := es[len(es)-1]; *last != (Error{Msg: "too many errors"}) {
		t.Errorf("last error: got %v, want too many errors", last)
	}
	total := 0
	for _, e := range es {
		total += len(e.Path)
	}
	if total > 2*maxErrorPaths {
		t.Errorf("%d errors with %d bytes of paths", len(es), total)
	}
}

// Errors deep down still carry their full path: it is rendered from the
// parent chain when the error is recorded.
func TestDeepParamErrorPaths(t *testing.T) {
	inner := `{"type": "STRING", "value": "x", "validator": "((", "mode": "odd"}`
	def := `{"workflow": {"id": "w", "steps": [{"step": {"id": "a", "type": "NoOp"}}], "params": {
	  "m": {"type": "MAP", "value": {"a b": {"type": "MAP", "value": {"c.d": {"type": "MAP", "value": {"e": ` + inner + `}}}}}}}}}`
	d, err := Parse([]byte(def))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	const p = `workflow.params.m.value["a b"].value["c.d"].value.e`
	if got, want := pathMsgs(t, d.Validate(DefaultLimits())), `workflow.params.m.value["a b"]: invalid param name "a b": must match ^[_a-zA-Z][.\-_a-zA-Z0-9]*$; `+
		p+`.mode: unknown param mode "odd" (want one of CONSTANT, IMMUTABLE, MUTABLE, MUTABLE_ON_START, MUTABLE_ON_START_RESTART)`; got != want {
		t.Errorf("Validate:\n got: %s\nwant: %s", got, want)
	}
	if got, want := pathMsgs(t, CheckSupported(d)), p+`.validator: sel: syntax error at 1:3: expected an expression, found end of input`; got != want {
		t.Errorf("CheckSupported:\n got: %s\nwant: %s", got, want)
	}
	if es := d.Validate(DefaultLimits()).(*Errors); (*es)[1].Line != 2 {
		t.Errorf("Validate error at line %d, want 2", (*es)[1].Line)
	}

	bad := Value{Type: Long, Raw: "x"}
	hand := &Definition{Workflow: Workflow{ID: "w", Params: map[string]ParamDef{
		"m": {Type: Map, Fields: map[string]ParamDef{"a b": {Type: Map, Value: &Value{Type: Map, Raw: map[string]Value{"c": bad}}}}},
	}}}
	if _, err := Canonical(hand); err == nil || err.Error() != `workflow.params.m.value["a b"].value: value of Go type map[string]workflow.Value does not match type MAP` {
		t.Errorf("Canonical: %v", err)
	}
}

// The nested keys of an output MAP are added to the error path once, not
// by concatenating a longer string at every level on the way out.
func TestDeepOutputValuePath(t *testing.T) {
	const depth = 200
	key := strings.Repeat("k", 1000)
	in := `{"params": {"m": {"type": "MAP", "evaluated_result": ` +
		strings.Repeat(`{"`+key+`": `, depth) + `null` + strings.Repeat("}", depth) + `}}}`
	_, err := ParseOutputParams([]byte(in))
	es, ok := err.(*Errors)
	if !ok || len(*es) != 1 {
		t.Fatalf("ParseOutputParams: %v", err)
	}
	want := "params.m.evaluated_result" + strings.Repeat("."+key, depth)
	if e := (*es)[0]; e.Path != want || e.Msg != "null is not a supported value" {
		t.Errorf("got %.80s... (%d bytes): %s", e.Path, len(e.Path), e.Msg)
	}
	if n, limit := allocated(func() { _, _ = ParseOutputParams([]byte(in)) }), 50*uint64(len(in)); n > limit {
		t.Errorf("ParseOutputParams allocated %d bytes for %d bytes of output, over %d", n, len(in), limit)
	}
}

// BenchmarkDeepParams runs on definitions of nearly 1 MB: 240 levels of
// 1000-character keys, plain ones with siblings, or quoted ones (each
// character 4 bytes of UTF-8) alone.
func BenchmarkDeepParams(b *testing.B) {
	for _, in := range []struct {
		name string
		data []byte
	}{
		{"plain", nestedParams(240, 1000, 3, "x")},
		{"quoted", nestedParams(240, 1000, 0, "\U0001F600")},
	} {
		d, err := Parse(in.data)
		if err != nil {
			b.Fatalf("Parse: %v", err)
		}
		benchDefinition(b, in.name, in.data, d)
	}
}

func benchDefinition(b *testing.B, name string, data []byte, d *Definition) {
	for _, f := range []struct {
		name string
		run  func()
	}{
		{"Parse", func() { _, _ = Parse(data) }},
		{"Validate", func() { _ = d.Validate(DefaultLimits()) }},
		{"Canonical", func() { _, _ = Canonical(d) }},
		{"CheckSupported", func() { _ = CheckSupported(d) }},
	} {
		b.Run(name+"/"+f.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				f.run()
			}
		})
	}
}

// Each level of a MAP value is still checked in full, though the answer for
// a map is now remembered: a bad value deep down is reported at every MAP
// param whose value holds it.
func TestNestedMapValueChecked(t *testing.T) {
	d, err := Parse([]byte(`{"workflow": {"id": "w", "steps": [{"step": {"id": "a", "type": "NoOp"}}], "params": {
	  "m": {"type": "MAP", "value": {"n": {"type": "MAP", "value": {"o": {"type": "MAP", "value": {"p": {"type": "LONG", "value": 1}}}}}}}}}}`))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := d.Validate(DefaultLimits()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// The innermost map is shared by the values of all three params.
	o := d.Workflow.Params["m"].Fields["n"].Fields["o"]
	o.Value.Raw.(map[string]Value)["q"] = Value{Type: Long, Raw: "x"}
	const msg = `: value of Go type map[string]workflow.Value does not match param type MAP`
	want := "workflow.params.m.value" + msg + "; workflow.params.m.value.n.value" + msg + "; workflow.params.m.value.n.value.o.value" + msg
	if got := pathMsgs(t, d.Validate(DefaultLimits())); got != want {
		t.Errorf("got:  %s\nwant: %s", got, want)
	}
	if _, err := Canonical(d); err != nil {
		t.Errorf("Canonical: %v", err) // it writes Fields, not the value
	}
}
