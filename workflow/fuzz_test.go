package workflow

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes the package panic, and that any
// definition that parses has a canonical form which parses back to the same
// definition and the same bytes.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, s := range []string{
		`{"workflow": {"id": "w", "steps": [{"step": {"id": "a", "type": "NoOp", "timeout": "1500ms"}}]}}`,
		"workflow: {id: w, params: {m: {type: MAP, value: {a: {type: DOUBLE, value: 1e-7}}}}}",
		"a: &x {b: *x}",
		"{\"workflow\": {\"id\": \"\\ud83d\\ude00\\udc00\"}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse(data)
		if err != nil {
			if _, ok := err.(*Errors); !ok {
				t.Fatalf("Parse error is %T", err)
			}
			return
		}
		// None of these may panic, whatever they decide.
		_ = d.Validate(DefaultLimits())
		_ = CheckSupported(d)
		_, _ = d.DAG()
		_, _ = ResolveParams(d.Workflow.Params, nil)
		for i := range d.Workflow.Steps {
			s := &d.Workflow.Steps[i]
			_ = s.RetryPolicy.Limit(ErrorFailure)
			_ = s.RetryPolicy.Backoff(PlatformFailure, 3)
			_, _ = s.RetryPolicy.Resolve(nil)
		}

		c1, err := Canonical(d)
		if err != nil {
			t.Fatalf("Canonical failed on a parsed definition: %v", err)
		}
		d2, err := Parse(c1)
		if err != nil {
			t.Fatalf("canonical form does not parse: %v\n%s", err, c1)
		}
		if !d.Equal(d2) {
			t.Fatalf("canonical form parses to a different definition:\n%s\n%#v\n%#v", c1, *d, *d2)
		}
		c2, err := Canonical(d2)
		if err != nil || !bytes.Equal(c1, c2) {
			t.Fatalf("canonical form is not stable (%v):\n%s\n%s", err, c1, c2)
		}
	})
}
