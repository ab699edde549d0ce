package e2e

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// paramOf returns the evaluated value of a param as the step's last attempt
// ran with it, printed as Maestro interpolates it.
func paramOf(t *testing.T, st *statepb.Step, name string) string {
	t.Helper()
	if len(st.Attempts) == 0 {
		t.Fatalf("step %s never ran", st.StepId)
	}
	p, ok := st.Attempts[len(st.Attempts)-1].Params[name]
	if !ok {
		t.Fatalf("step %s ran without param %s", st.StepId, name)
	}
	v, err := scheduler.ValueFromParam(p)
	if err != nil {
		t.Fatal(err)
	}
	return v.String()
}

func runToEnd(t *testing.T, addr, file, wf string, want int, params ...string) int64 {
	t.Helper()
	harness.MustCLI(t, addr, "workflow", "push", file)
	args := append([]string{"instance", "start", wf, "--wait"}, params...)
	r := harness.CLI(t, addr, args...)
	if r.Code != want {
		t.Fatalf("start %s --wait exited %d, want %d\nstderr: %s", wf, r.Code, want, r.Stderr)
	}
	return startID(t, r)
}

// Params built from Joda and Util calls are evaluated once by the leader and
// recorded; later steps read earlier steps' params by stepid__name and
// params.getFromStep.
func TestSELParamsAcrossADiamond(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	id := runToEnd(t, addr, "testdata/sel_diamond.yaml", "e2e-sel-diamond", 0)
	res := getInstance(t, addr, "e2e-sel-diamond", id)
	// 1569018000000 ms is 2019-09-20T22:20:00Z.
	if got := res.Instance.Params["month"].GetValue().GetStringValue(); got != "September" {
		t.Errorf("month = %q, want September", got)
	}
	checks := []struct{ step, param, want string }{
		{"a", "label", "run-september-20191002"},
		{"b", "left", "10"},
		{"c", "right", "2019/09/19"},
		{"d", "joined", "run-september-20191002 10 2019/09/19"},
	}
	for _, c := range checks {
		if got := paramOf(t, stepByID(t, res, c.step), c.param); got != c.want {
			t.Errorf("%s.%s = %q, want %q", c.step, c.param, got, c.want)
		}
	}
	// step get shows the evaluated params.
	out := harness.MustCLI(t, addr, "step", "get", "e2e-sel-diamond", strconv.FormatInt(id, 10), "d")
	if !strings.Contains(out, "run-september-20191002 10 2019/09/19") {
		t.Errorf("step get does not show the evaluated param:\n%s", out)
	}
}

// A condition picks a branch; the other is UNSATISFIED, and the join runs
// because one path reached it. Each side is taken once.
func TestSELConditionsTakeEachBranch(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	for _, tc := range []struct {
		size, ran, skipped string
	}{{"5", "small", "big"}, {"50", "big", "small"}} {
		id := runToEnd(t, addr, "testdata/sel_branches.yaml", "e2e-sel-branches", 0, "-p", "size="+tc.size)
		res := getInstance(t, addr, "e2e-sel-branches", id)
		if st := stepByID(t, res, tc.ran); st.Status != "SUCCEEDED" {
			t.Errorf("size %s: %s is %s, want SUCCEEDED", tc.size, tc.ran, st.Status)
		}
		if st := stepByID(t, res, tc.skipped); st.Status != "UNSATISFIED" || len(st.Attempts) != 0 {
			t.Errorf("size %s: %s is %s with %d attempts, want UNSATISFIED and never run", tc.size, tc.skipped, st.Status, len(st.Attempts))
		}
		if st := stepByID(t, res, "done"); st.Status != "SUCCEEDED" {
			t.Errorf("size %s: join is %s, want SUCCEEDED", tc.size, st.Status)
		}
	}
}

// A Shell step's output param decides which branch runs.
func TestShellOutputDrivesCondition(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	for _, tc := range []struct{ rows, ran, skipped string }{{"3", "load", "skip"}, {"2", "skip", "load"}} {
		id := runToEnd(t, addr, "testdata/sel_shell_condition.yaml", "e2e-sel-shell", 0, "-p", "rows="+tc.rows)
		res := getInstance(t, addr, "e2e-sel-shell", id)
		if a, b := stepByID(t, res, tc.ran).Status, stepByID(t, res, tc.skipped).Status; a != "SUCCEEDED" || b != "UNSATISFIED" {
			t.Errorf("rows %s: %s %s, %s %s", tc.rows, tc.ran, a, tc.skipped, b)
		}
	}
}

// A foreach over Util.dateIntsBetween runs a small DAG per day, and a
// nested foreach whose range depends on the outer day.
func TestForeachOverDateIntsWithDependentInnerRange(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	id := runToEnd(t, addr, "testdata/sel_dates.yaml", "e2e-sel-dates", 0, "-p", "dir="+dir)
	var want []string
	for _, d := range []int{20240227, 20240228, 20240229, 20240301} {
		for n := 0; n < d%100; n++ {
			want = append(want, strconv.Itoa(d)+":"+strconv.Itoa(n))
		}
	}
	checkLines(t, filepath.Join(dir, "marks"), want)
	res := getInstance(t, addr, "e2e-sel-dates", id)
	if got := res.Rollup["SUCCEEDED"]; got != int64(4+len(want)) {
		t.Errorf("rollup %v, want SUCCEEDED=%d", res.Rollup, 4+len(want))
	}
}

// A while loop feeds each iteration's params into the next check: it counts
// a date int up across a leap day and a month end, then stops.
func TestWhileCountsADateIntUp(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	id := runToEnd(t, addr, "testdata/sel_while.yaml", "e2e-sel-while", 0)
	res := getInstance(t, addr, "e2e-sel-while", id)
	loop := stepByID(t, res, "count")
	if loop.Status != "SUCCEEDED" || loop.Loop.GetLaunched() != 4 {
		t.Fatalf("while: %s after %d iterations, want SUCCEEDED after 4", loop.Status, loop.Loop.GetLaunched())
	}
	if got := loop.Loop.Values["day"].GetValue().GetNumberValue(); got != 20240302 {
		t.Errorf("loop day ended at %v, want 20240302", got)
	}
	for i, want := range []string{"20240227", "20240228", "20240229", "20240301"} {
		it := getInstance(t, addr, loop.Loop.ChildWorkflowId, int64(i+1))
		v, _ := scheduler.ValueFromParam(it.Instance.Params["day"])
		if v.String() != want {
			t.Errorf("iteration %d ran with day %s, want %s", i+1, v.String(), want)
		}
	}
}
