package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/test/harness"
)

func waitStep(t *testing.T, addr, wf string, id int64, step, status string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		res := getInstance(t, addr, wf, id)
		if st := stepByID(t, res, step); st.Status == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("step %s never reached %s: %s", step, status, harness.DescribeSteps(res.Steps))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A failed instance restarted from its incomplete steps runs only those,
// with fresh retry budgets, and the restart is on its record with who and
// why; a restart of an unfinished instance is refused naming the statuses
// that allow it.
func TestRestartFromIncomplete(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir, "--wait")
	if r.Code != 3 {
		t.Fatalf("first run exited %d, want 3 (FAILED): %s", r.Code, r.Stderr)
	}
	id := startID(t, r)
	sid := strconv.FormatInt(id, 10)
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := harness.MustCLI(t, addr, "instance", "restart", "e2e-actions", sid, "--reason", "fixed the input")
	if !strings.Contains(out, "gate, nap, after") {
		t.Errorf("restart did not list the steps to run again: %s", out)
	}
	ended := harness.WaitInstancesEnded(t, addr, "e2e-actions", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("after restart: %s (%s)", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	gate := stepByID(t, ended, "gate")
	if len(gate.Attempts) != 2 || gate.Attempts[0].Status != "USER_FAILED" || gate.Attempts[1].Status != "SUCCEEDED" {
		t.Errorf("gate attempts: %s", harness.DescribeSteps(ended.Steps))
	}
	if len(ended.Actions) != 1 || ended.Actions[0].Action != "RESTART" || ended.Actions[0].Actor != "anonymous" ||
		!strings.Contains(ended.Actions[0].Message, "fixed the input") {
		t.Errorf("actions on record: %v", ended.Actions)
	}
	if got := harness.MustCLI(t, addr, "instance", "get", "e2e-actions", sid); !strings.Contains(got, "RESTART by anonymous") {
		t.Errorf("instance get does not show the restart:\n%s", got)
	}
	// Not allowed on a SUCCEEDED instance: FailedPrecondition with the list.
	bad := harness.CLI(t, addr, "instance", "restart", "e2e-actions", sid)
	if bad.Code == 0 || !strings.Contains(bad.Stderr, "failed_precondition") || !strings.Contains(bad.Stderr, "FAILED, STOPPED, TIMED_OUT") {
		t.Errorf("restart of a SUCCEEDED instance: exit %d, %s", bad.Code, bad.Stderr)
	}
}

// A running step can be skipped (its successors run), a waiting one paused
// and resumed; a step action outside its allowed statuses is refused.
func TestSkipPauseResume(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir, "-p", "nap=300"))
	sid := strconv.FormatInt(id, 10)
	harness.MustCLI(t, addr, "step", "pause", "e2e-actions", sid, "after")
	waitStep(t, addr, "e2e-actions", id, "nap", "RUNNING")
	harness.MustCLI(t, addr, "step", "skip", "e2e-actions", sid, "nap", "--reason", "no need to wait")
	waitStep(t, addr, "e2e-actions", id, "nap", "SKIPPED")
	// after is paused: the instance waits.
	time.Sleep(500 * time.Millisecond)
	res := getInstance(t, addr, "e2e-actions", id)
	if res.Instance.Status != "IN_PROGRESS" || stepByID(t, res, "after").Status != "PAUSED" {
		t.Fatalf("with after paused: %s, %s", res.Instance.Status, harness.DescribeSteps(res.Steps))
	}
	bad := harness.CLI(t, addr, "step", "pause", "e2e-actions", sid, "nap")
	if bad.Code == 0 || !strings.Contains(bad.Stderr, "pause is allowed when it is NOT_CREATED, CREATED, WAITING_FOR_PERMITS") {
		t.Errorf("pausing a skipped step: exit %d, %s", bad.Code, bad.Stderr)
	}
	harness.MustCLI(t, addr, "step", "resume", "e2e-actions", sid, "after")
	ended := harness.WaitInstancesEnded(t, addr, "e2e-actions", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" || stepByID(t, ended, "after").Status != "SUCCEEDED" {
		t.Fatalf("after resume: %s, %s", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	var acts []string
	for _, e := range ended.Actions {
		acts = append(acts, e.Action+" "+e.StepId)
	}
	if got := strings.Join(acts, ", "); got != "PAUSE after, SKIP nap, RESUME after" {
		t.Errorf("actions on record: %s", got)
	}
}

// Kill ends an instance FAILED (stop ends it STOPPED); a killed step is
// FATALLY_FAILED without retries. Both are on the record.
func TestKillInstanceAndStep(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")
	first := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir, "-p", "nap=300"))
	waitStep(t, addr, "e2e-actions", first, "nap", "RUNNING")
	harness.MustCLI(t, addr, "instance", "stop", "e2e-actions", strconv.FormatInt(first, 10), "--kill", "--reason", "runaway")
	res := getInstance(t, addr, "e2e-actions", first)
	if res.Instance.Status != "FAILED" || stepByID(t, res, "nap").Status != "STOPPED" ||
		len(res.Actions) != 1 || res.Actions[0].Action != "KILL" || res.Actions[0].Message != "runaway" {
		t.Fatalf("after kill: %s, %s, actions %v", res.Instance.Status, harness.DescribeSteps(res.Steps), res.Actions)
	}
	second := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir, "-p", "nap=300"))
	waitStep(t, addr, "e2e-actions", second, "nap", "RUNNING")
	harness.MustCLI(t, addr, "step", "kill", "e2e-actions", strconv.FormatInt(second, 10), "nap")
	ended := harness.WaitInstancesEnded(t, addr, "e2e-actions", []int64{second}, time.Minute)[second]
	nap := stepByID(t, ended, "nap")
	if ended.Instance.Status != "FAILED" || nap.Status != "FATALLY_FAILED" || len(nap.Attempts) != 1 {
		t.Fatalf("after step kill: %s, %s", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
}
