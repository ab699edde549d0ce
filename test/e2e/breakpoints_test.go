package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/test/harness"
)

// A breakpoint pauses a step before it starts, in every instance it covers;
// a step resume lets one go; deleting the breakpoint resumes every step it
// holds, unless --keep-paused. Bad breakpoints are refused precisely.
func TestBreakpointPausesStepsUntilResumedOrDeleted(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	const wf = "e2e-actions"
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")

	for _, bad := range []struct {
		args []string
		msg  string
	}{
		{[]string{"nope"}, `not_found: workflow "e2e-actions" has no step "nope" in any version (the latest has: gate, nap, after)`},
		{[]string{"after", "--version", "3"}, `not_found: workflow "e2e-actions" has no version 3 (latest is 1)`},
		{[]string{"after", "--instance", "9"}, `not_found: workflow "e2e-actions" has no instance 9`},
	} {
		r := harness.CLI(t, addr, append([]string{"breakpoint", "set", wf}, bad.args...)...)
		if r.Code != 1 || !strings.Contains(r.Stderr, bad.msg) {
			t.Errorf("breakpoint set %v: exit %d, %s", bad.args, r.Code, r.Stderr)
		}
	}
	if out := harness.CLI(t, addr, "breakpoint", "list", wf); !strings.Contains(out.Stderr, "No breakpoints.") {
		t.Fatalf("refused breakpoints were stored: %s %s", out.Stdout, out.Stderr)
	}

	if out := harness.MustCLI(t, addr, "breakpoint", "set", wf, "after", "--reason", "inspect gate's output"); !strings.Contains(out, "breakpoint e2e-actions/after set") {
		t.Fatalf("breakpoint set: %s", out)
	}
	if out := harness.MustCLI(t, addr, "breakpoint", "set", wf, "after"); !strings.Contains(out, "was already set") {
		t.Fatalf("breakpoint set again: %s", out)
	}
	start := func() int64 {
		return startID(t, harness.CLI(t, addr, "instance", "start", wf, "-p", "dir="+dir))
	}
	one := start()
	waitStep(t, addr, wf, one, "after", "PAUSED")
	if st := stepByID(t, getInstance(t, addr, wf, one), "after"); !strings.Contains(st.Reason, "paused at breakpoint e2e-actions/after") || len(st.Attempts) != 0 {
		t.Fatalf("paused step: %v", st)
	}
	var list workflowv1.ListBreakpointsResponse
	harness.CLIJSON(t, addr, &list, "breakpoint", "list", wf)
	if len(list.Breakpoints) != 1 || len(list.Paused) != 1 || list.Paused[0].InstanceId != one || list.Paused[0].AttemptNumber != 1 {
		t.Fatalf("breakpoint list: %v", &list)
	}
	// Resume lets this attempt go; the breakpoint stays for the others.
	harness.MustCLI(t, addr, "step", "resume", wf, strconv.FormatInt(one, 10), "after")
	if ended := harness.WaitInstancesEnded(t, addr, wf, []int64{one}, time.Minute)[one]; ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("after resume: %s (%s)", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}

	two, three := start(), start()
	waitStep(t, addr, wf, two, "after", "PAUSED")
	waitStep(t, addr, wf, three, "after", "PAUSED")
	if out := harness.MustCLI(t, addr, "breakpoint", "delete", wf, "after"); !strings.Contains(out, "2 paused steps resumed") {
		t.Fatalf("breakpoint delete: %s", out)
	}
	for id, ended := range harness.WaitInstancesEnded(t, addr, wf, []int64{two, three}, time.Minute) {
		if ended.Instance.Status != "SUCCEEDED" {
			t.Fatalf("instance %d after the breakpoint was deleted: %s", id, ended.Instance.Status)
		}
		if acts := ended.Actions; len(acts) != 1 || acts[0].Action != "RESUME" || !strings.Contains(acts[0].Message, "breakpoint e2e-actions/after deleted") {
			t.Errorf("instance %d actions: %v", id, acts)
		}
	}

	// Limited to a version, and deleted with --keep-paused.
	harness.MustCLI(t, addr, "breakpoint", "set", wf, "nap", "--version", "1")
	four := start()
	waitStep(t, addr, wf, four, "nap", "PAUSED")
	if out := harness.MustCLI(t, addr, "breakpoint", "delete", wf, "nap", "--version", "1", "--keep-paused"); !strings.Contains(out, "0 paused steps resumed") {
		t.Fatalf("breakpoint delete --keep-paused: %s", out)
	}
	if st := stepByID(t, getInstance(t, addr, wf, four), "nap"); st.Status != "PAUSED" {
		t.Fatalf("nap after delete --keep-paused: %s", st.Status)
	}
	r := harness.CLI(t, addr, "breakpoint", "delete", wf, "nap", "--version", "1")
	if r.Code != 1 || !strings.Contains(r.Stderr, `not_found: workflow "e2e-actions" has no breakpoint e2e-actions/nap@v1 (it has none)`) {
		t.Errorf("deleting it again: exit %d, %s", r.Code, r.Stderr)
	}
	harness.MustCLI(t, addr, "step", "resume", wf, strconv.FormatInt(four, 10), "nap")
	if ended := harness.WaitInstancesEnded(t, addr, wf, []int64{four}, time.Minute)[four]; ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance %d: %s", four, ended.Instance.Status)
	}

	var got workflowv1.GetResponse
	harness.CLIJSON(t, addr, &got, "workflow", "get", wf)
	var acts []string
	for _, e := range got.Actions {
		acts = append(acts, e.Action+" "+e.Message)
	}
	// The second set, of a breakpoint that existed, is on record too: it
	// carried the CLI's request id.
	want := "SET_BREAKPOINT e2e-actions/after inspect gate's output, SET_BREAKPOINT e2e-actions/after (already set), DELETE_BREAKPOINT e2e-actions/after (resumed 2 paused steps), " +
		"SET_BREAKPOINT e2e-actions/nap@v1, DELETE_BREAKPOINT e2e-actions/nap@v1 (paused steps kept paused)"
	if strings.Join(acts, ", ") != want {
		t.Errorf("workflow actions:\n got %s\nwant %s", strings.Join(acts, ", "), want)
	}
}
