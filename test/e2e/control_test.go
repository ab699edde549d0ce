package e2e

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// A foreach runs every combination of its loop params exactly once, never
// more than its concurrency at a time, with a nested foreach inside each
// iteration; instance get rolls up every leaf step of the tree.
func TestForeachRunsEachIterationOnceWithinConcurrency(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/foreach.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-foreach", "-p", "dir="+dir, "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait exited %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	id := startID(t, r)
	res := getInstance(t, addr, "e2e-foreach", id)

	var want, wantLeaves []string
	for _, x := range []string{"1", "2", "3", "4"} {
		for _, y := range []string{"a", "b"} {
			want = append(want, x+"-"+y)
			for _, z := range []string{"7", "8"} {
				wantLeaves = append(wantLeaves, x+"-"+y+"-"+z)
			}
		}
	}
	checkLines(t, filepath.Join(dir, "seen"), want)
	checkLines(t, filepath.Join(dir, "leaves"), wantLeaves)

	// 1 pre + 8 iterations x (record + 2 leaves).
	if got := res.Rollup["SUCCEEDED"]; got != 25 || len(res.Rollup) != 1 {
		t.Errorf("rollup %v, want SUCCEEDED=25 only", res.Rollup)
	}
	loop := stepByID(t, res, "loop")
	if loop.Status != "SUCCEEDED" || loop.Loop.GetTotal() != 8 || loop.Loop.GetFinished() != 8 {
		t.Fatalf("loop step %s with %+v, want SUCCEEDED after 8 of 8", loop.Status, loop.Loop)
	}
	iterWF := loop.Loop.ChildWorkflowId
	var iters []*instancev1.GetResponse
	for i := int64(1); i <= 8; i++ {
		it := getInstance(t, addr, iterWF, i)
		if it.Instance.Status != "SUCCEEDED" || it.Instance.Parent.GetStepId() != "loop" {
			t.Errorf("iteration %d: %s, parent %v", i, it.Instance.Status, it.Instance.Parent)
		}
		iters = append(iters, it)
	}
	// Iteration 3 is x=2, y=a: the last loop param varies fastest.
	if got := fmtParamsForTest(iters[2].Instance.Params, "x", "y"); got != "2 a" {
		t.Errorf("iteration 3 params x y = %q, want \"2 a\"", got)
	}
	// At no instant were more than 3 iterations in progress.
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, it := range iters {
		edges = append(edges, edge{it.Instance.StartTime.AsTime(), +1}, edge{it.Instance.EndTime.AsTime(), -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if !edges[i].at.Equal(edges[j].at) {
			return edges[i].at.Before(edges[j].at)
		}
		return edges[i].delta < edges[j].delta
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	if peak > 3 || peak < 2 {
		t.Errorf("peak of %d iterations in progress, want 2..3 (concurrency 3)", peak)
	}
	// The CLI drills into an iteration and its nested foreach.
	out := harness.MustCLI(t, addr, "instance", "get", iterWF, "3")
	if !strings.Contains(out, "inner") || !strings.Contains(out, "Parent") {
		t.Errorf("instance get of an iteration:\n%s", out)
	}
	harness.MustCLI(t, addr, "instance", "list", iterWF)
	harness.MustCLI(t, addr, "step", "get", "e2e-foreach", "1", "loop")
}

func fmtParamsForTest(params map[string]*statepb.Param, names ...string) string {
	var parts []string
	for _, n := range names {
		p := params[n]
		if p == nil {
			parts = append(parts, "<none>")
			continue
		}
		v, err := scheduler.ValueFromParam(p)
		if err != nil {
			parts = append(parts, err.Error())
			continue
		}
		parts = append(parts, v.String())
	}
	return strings.Join(parts, " ")
}

func checkLines(t *testing.T, path string, want []string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(string(data))
	sort.Strings(got)
	w := append([]string{}, want...)
	sort.Strings(w)
	if strings.Join(got, " ") != strings.Join(w, " ") {
		t.Errorf("%s holds %v, want each of %v once", filepath.Base(path), got, w)
	}
}

// A failed iteration stops the foreach from starting more (failure mode
// FAIL_AFTER_RUNNING) and fails it once the running ones end.
func TestForeachIterationFailureFailsTheLoop(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/foreach_fail.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-foreach-fail", "--wait")
	if r.Code != 3 {
		t.Fatalf("start --wait exited %d, want 3 (FAILED)\nstderr: %s", r.Code, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-foreach-fail", startID(t, r))
	loop := stepByID(t, res, "loop")
	if loop.Status != "FATALLY_FAILED" || loop.Loop.GetLaunched() != 2 || loop.Loop.GetCounts()["FAILED"] != 1 {
		t.Fatalf("loop %s %+v, want FATALLY_FAILED after launching 2 with 1 failed", loop.Status, loop.Loop)
	}
	if !strings.Contains(loop.Reason, "2 iterations not started") {
		t.Errorf("loop reason %q does not say what was not started", loop.Reason)
	}
	if res.Rollup["SUCCEEDED"] != 1 || res.Rollup["FATALLY_FAILED"] != 1 {
		t.Errorf("rollup %v, want SUCCEEDED=1 FATALLY_FAILED=1", res.Rollup)
	}
}

// Subworkflows pass the parent's params down unless explicit_params says
// otherwise, resolve "latest", and an async one does not hold its step.
func TestSubworkflowParamsAndSync(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sub_child.yaml")
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sub_parent.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-sub-parent", "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait exited %d\nstderr: %s", r.Code, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-sub-parent", startID(t, r))
	seen := func(step string) (string, *instancev1.GetResponse) {
		st := stepByID(t, res, step)
		if st.Status != "SUCCEEDED" || st.Loop.GetChildInstanceId() == 0 {
			t.Fatalf("step %s: %s %+v", step, st.Status, st.Loop)
		}
		ids := []int64{st.Loop.ChildInstanceId}
		child := harness.WaitInstancesEnded(t, addr, "e2e-sub-child", ids, time.Minute)[st.Loop.ChildInstanceId]
		report := stepByID(t, child, "report")
		return report.Outputs["seen"].GetValue().GetStringValue(), child
	}
	if got, child := seen("passdown"); got != "from-parent" || child.Instance.Parent.GetDetached() {
		t.Errorf("passdown child saw p=%q (detached %v), want from-parent", got, child.Instance.Parent.GetDetached())
	}
	if got, child := seen("explicit"); got != "child-default" || child.Instance.Params["q"] == nil {
		t.Errorf("explicit child saw p=%q with params %v, want child-default and q passed", got, child.Instance.Params)
	}
	if _, child := seen("async"); !child.Instance.Parent.GetDetached() {
		t.Errorf("async child is not detached")
	}
}

// A workflow that starts itself is cut off: a sequential one at once, as a
// cycle it would deadlock on, a parallel one at the nesting limit.
func TestSubworkflowCycles(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sub_cycle.json")
	r := harness.CLI(t, addr, "instance", "start", "e2e-sub-cycle", "--wait")
	if r.Code != 3 {
		t.Fatalf("start --wait exited %d, want 3 (FAILED)\nstderr: %s", r.Code, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-sub-cycle", startID(t, r))
	if st := stepByID(t, res, "again"); st.Status != "FATALLY_FAILED" || !strings.Contains(st.Reason, "subworkflow cycle e2e-sub-cycle -> e2e-sub-cycle") {
		t.Fatalf("sequential self-start: step %s %q", st.Status, st.Reason)
	}

	harness.MustCLI(t, addr, "workflow", "push", "testdata/sub_cycle_parallel.json")
	r = harness.CLI(t, addr, "instance", "start", "e2e-sub-cycle-par", "--wait")
	if r.Code != 3 {
		t.Fatalf("start --wait exited %d, want 3 (FAILED)\nstderr: %s", r.Code, r.Stderr)
	}
	deepest := getInstance(t, addr, "e2e-sub-cycle-par", 11)
	if st := stepByID(t, deepest, "again"); st.Status != "FATALLY_FAILED" || !strings.Contains(st.Reason, "deeper than 10") {
		t.Fatalf("deepest instance step: %s %q", st.Status, st.Reason)
	}
	if deepest.Instance.Depth != 10 {
		t.Errorf("deepest instance depth %d, want 10", deepest.Instance.Depth)
	}
	if r := harness.CLI(t, addr, "instance", "get", "e2e-sub-cycle-par", "12"); r.Code == 0 {
		t.Errorf("a 12th instance was started:\n%s", r.Stdout)
	}
	root := getInstance(t, addr, "e2e-sub-cycle-par", 1)
	if root.Instance.Status != "FAILED" || root.Rollup["FATALLY_FAILED"] != 0 {
		// Every level's step is a subworkflow, so no leaf step exists.
		t.Errorf("root %s with rollup %v", root.Instance.Status, root.Rollup)
	}
}

// Stopping an instance stops the iterations its foreach is running, and
// starts no more.
func TestStopReachesForeachIterations(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/foreach_sleep.json")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-foreach-sleep"))
	iterWF := "e2e-foreach-sleep:" + strconv.FormatInt(id, 10) + ":loop"
	deadline := time.Now().Add(30 * time.Second)
	for {
		res := harness.CLI(t, addr, "instance", "get", iterWF, "2")
		if res.Code == 0 && strings.Contains(res.Stdout, "RUNNING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("iteration 2 never ran: %s %s", res.Stdout, res.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	harness.MustCLI(t, addr, "instance", "stop", "e2e-foreach-sleep", strconv.FormatInt(id, 10))
	ended := harness.WaitInstancesEnded(t, addr, iterWF, []int64{1, 2}, time.Minute)
	for i, it := range ended {
		if it.Instance.Status != "STOPPED" {
			t.Errorf("iteration %d is %s, want STOPPED", i, it.Instance.Status)
		}
	}
	res := getInstance(t, addr, "e2e-foreach-sleep", id)
	if res.Instance.Status != "STOPPED" || stepByID(t, res, "loop").Loop.GetLaunched() != 2 {
		t.Errorf("instance %s, loop %+v; want STOPPED with 2 launched", res.Instance.Status, stepByID(t, res, "loop").Loop)
	}
}
