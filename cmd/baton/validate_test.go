package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const goodDefinition = `workflow:
  id: demo
  steps:
    - step:
        id: a
        type: NoOp
        transition:
          successors:
            b: "true"
    - step:
        id: b
        type: NoOp
`

// badDefinition has two problems: a step without an id and one of a type
// that does not exist.
const badDefinition = `workflow:
  id: demo
  steps:
    - step:
        type: NoOp
    - step:
        id: b
        type: NoSuchType
`

func TestWorkflowValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeFile(t, good, goodDefinition)
	writeFile(t, bad, badDefinition)

	// No --address: validate must not need a server.
	code, stdout, stderr := runCLI(t, "workflow", "validate", good, "--address", "http://127.0.0.1:1")
	if code != 0 || stdout != good+": valid (workflow demo, 2 steps)\n" || stderr != "" {
		t.Errorf("good: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	code, stdout, stderr = runCLI(t, "workflow", "validate", bad)
	if code != exitError || stdout != "" {
		t.Errorf("bad: exit %d, stdout %q", code, stdout)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) < 2 {
		t.Errorf("bad: want one line per problem, got %q", stderr)
	}
	located := regexp.MustCompile(`^` + regexp.QuoteMeta(bad) + `:\d+:\d+: `)
	for _, line := range lines {
		if !located.MatchString(line) {
			t.Errorf("bad: line %q does not start with FILE:LINE:COL", line)
		}
	}

	code, stdout, _ = runCLI(t, "workflow", "validate", bad, "-o", "json")
	var v validation
	if err := json.Unmarshal([]byte(stdout), &v); err != nil || code != exitError || v.Valid || len(v.Errors) < 2 || v.Errors[0].Line == 0 {
		t.Errorf("bad -o json: exit %d, %v, %+v from %s", code, err, v, stdout)
	}

	code, _, stderr = runCLI(t, "workflow", "validate", filepath.Join(dir, "missing.yaml"))
	if code != exitError || !strings.HasPrefix(stderr, "Error: open ") {
		t.Errorf("missing file: exit %d, stderr %q", code, stderr)
	}
}
