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

// actionsAgent starts a dev agent with e2e-actions pushed, and a dir whose
// ok file lets the gate step pass.
func actionsAgent(t *testing.T) (addr, dir string) {
	t.Helper()
	addr = harness.StartDev(t).URL()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")
	return addr, dir
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
	addr, dir := actionsAgent(t)
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
	addr, dir := actionsAgent(t)
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

// A failed step restarted while its instance still runs gets a new attempt
// with a fresh retry budget and the instance goes on; a restart of a step
// that has not ended is refused naming the statuses that allow it. A step
// restart of an ended instance restarts the instance from that step.
func TestStepRestart(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	dir := t.TempDir()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/step_restart.yaml")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-step-restart", "-p", "dir="+dir))
	sid := strconv.FormatInt(id, 10)
	waitStep(t, addr, "e2e-step-restart", id, "gate", "FATALLY_FAILED")
	waitStep(t, addr, "e2e-step-restart", id, "nap", "RUNNING")
	bad := harness.CLI(t, addr, "step", "restart", "e2e-step-restart", sid, "nap")
	if bad.Code != 1 || !strings.Contains(bad.Stderr, "failed_precondition: step nap is RUNNING; restart is allowed when it is FATALLY_FAILED, TIMED_OUT, STOPPED while its instance runs") {
		t.Errorf("restart of a running step: exit %d, %s", bad.Code, bad.Stderr)
	}
	if err := os.WriteFile(filepath.Join(dir, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "step", "restart", "e2e-step-restart", sid, "gate", "--reason", "input fixed")
	waitStep(t, addr, "e2e-step-restart", id, "after", "SUCCEEDED")
	res := getInstance(t, addr, "e2e-step-restart", id)
	if gate := stepByID(t, res, "gate"); gate.Status != "SUCCEEDED" || len(gate.Attempts) != 2 || res.Instance.Status != "IN_PROGRESS" {
		t.Fatalf("after restarting gate: %s, %s", res.Instance.Status, harness.DescribeSteps(res.Steps))
	}
	harness.MustCLI(t, addr, "step", "skip", "e2e-step-restart", sid, "nap")
	ended := harness.WaitInstancesEnded(t, addr, "e2e-step-restart", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance: %s (%s)", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	var acts []string
	for _, e := range ended.Actions {
		acts = append(acts, e.Action+" "+e.StepId+" "+e.Message)
	}
	if got := strings.Join(acts, ", "); got != "RESTART gate input fixed, SKIP nap " {
		t.Errorf("actions on record: %q", got)
	}

	// Of an ended instance: the instance restarts from the step.
	dir2 := t.TempDir()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/actions.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir2, "--wait")
	if r.Code != 3 {
		t.Fatalf("first run exited %d, want 3 (FAILED): %s", r.Code, r.Stderr)
	}
	failed := startID(t, r)
	if err := os.WriteFile(filepath.Join(dir2, "ok"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	out := harness.MustCLI(t, addr, "step", "restart", "e2e-actions", strconv.FormatInt(failed, 10), "gate")
	if !strings.Contains(out, "steps to run again: gate, nap, after") {
		t.Errorf("step restart of a failed instance: %s", out)
	}
	ended = harness.WaitInstancesEnded(t, addr, "e2e-actions", []int64{failed}, time.Minute)[failed]
	if ended.Instance.Status != "SUCCEEDED" || len(ended.Actions) != 1 || ended.Actions[0].Action != "RESTART" || ended.Actions[0].StepId != "gate" {
		t.Fatalf("after a step restart of the failed instance: %s, actions %v", ended.Instance.Status, ended.Actions)
	}
}

// A step waiting for its signals runs without them once bypassed; the
// bypass is on the record, and refused for a step not waiting for signals.
func TestBypassSignalDependencies(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/signals.json")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-signals"))
	sid := strconv.FormatInt(id, 10)
	waitStep(t, addr, "e2e-signals", id, "wait", "WAITING_FOR_SIGNALS")
	bad := harness.CLI(t, addr, "step", "bypass-signals", "e2e-signals", sid, "announce")
	if bad.Code != 1 || !strings.Contains(bad.Stderr, "step announce is NOT_CREATED; bypass-signals is allowed when it is WAITING_FOR_SIGNALS") {
		t.Errorf("bypass of a step not waiting: exit %d, %s", bad.Code, bad.Stderr)
	}
	harness.MustCLI(t, addr, "step", "bypass-signals", "e2e-signals", sid, "wait", "--reason", "table checked by hand")
	ended := harness.WaitInstancesEnded(t, addr, "e2e-signals", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance: %s (%s)", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	if w := stepByID(t, ended, "wait"); !w.SignalsBypassed || len(w.Attempts) != 1 {
		t.Errorf("wait after the bypass: %v", w)
	}
	if acts := ended.Actions; len(acts) != 1 || acts[0].Action != "BYPASS_SIGNALS" || acts[0].Actor != "anonymous" || acts[0].Message != "table checked by hand" {
		t.Errorf("actions on record: %v", acts)
	}
}

// An operator action sent again with its request id does nothing more, even
// after a later action: a stop repeated after a restart leaves the
// restarted instance running. A key reused for another action is refused.
func TestActionRequestIDs(t *testing.T) {
	t.Parallel()
	addr, dir := actionsAgent(t)
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-actions", "-p", "dir="+dir, "-p", "nap=300"))
	sid := strconv.FormatInt(id, 10)
	waitStep(t, addr, "e2e-actions", id, "nap", "RUNNING")
	harness.MustCLI(t, addr, "instance", "stop", "e2e-actions", sid, "--request-id", "stop-1")
	again := harness.MustCLI(t, addr, "instance", "stop", "e2e-actions", sid, "--request-id", "stop-1")
	if !strings.Contains(again, "is STOPPED (request stop-1 had already been applied; nothing more was done)") {
		t.Errorf("stop sent again: %s", again)
	}
	first := harness.MustCLI(t, addr, "instance", "restart", "e2e-actions", sid, "--request-id", "restart-1")
	waitStep(t, addr, "e2e-actions", id, "nap", "RUNNING")
	// A repeat names the steps the first copy set back.
	steps := strings.TrimSuffix(strings.TrimPrefix(first, "instance "+sid+" of e2e-actions restarted; steps to run again: "), "\n")
	if again := harness.MustCLI(t, addr, "instance", "restart", "e2e-actions", sid, "--request-id", "restart-1"); steps == first ||
		again != "instance "+sid+" of e2e-actions is IN_PROGRESS; the restart set back: "+steps+" (request restart-1 had already been applied; nothing more was done)\n" {
		t.Errorf("restart %q sent again: %q", first, again)
	}
	late := harness.MustCLI(t, addr, "instance", "stop", "e2e-actions", sid, "--request-id", "stop-1", "-o", "json")
	if !strings.Contains(late, `"repeated": true`) {
		t.Errorf("stop sent again after the restart, -o json: %s", late)
	}
	if res := getInstance(t, addr, "e2e-actions", id); res.Instance.Status != "IN_PROGRESS" || stepByID(t, res, "nap").Status != "RUNNING" {
		t.Fatalf("the restarted instance after the stop's copy: %s, %s", res.Instance.Status, harness.DescribeSteps(res.Steps))
	}
	bad := harness.CLI(t, addr, "instance", "stop", "e2e-actions", sid, "--kill", "--request-id", "stop-1")
	if bad.Code == 0 || !strings.Contains(bad.Stderr, `invalid_argument: request_id "stop-1" was already used for STOP of instance e2e-actions/`+sid) {
		t.Errorf("kill with the stop's key: exit %d, %s", bad.Code, bad.Stderr)
	}
	harness.MustCLI(t, addr, "step", "pause", "e2e-actions", sid, "after", "--request-id", "pause-1")
	harness.MustCLI(t, addr, "step", "resume", "e2e-actions", sid, "after", "--request-id", "resume-1")
	if out := harness.MustCLI(t, addr, "step", "pause", "e2e-actions", sid, "after", "--request-id", "pause-1"); !strings.Contains(out, "step after of e2e-actions "+sid+" is NOT_CREATED (request pause-1 had already been applied") {
		t.Errorf("pause sent again after the resume: %s", out)
	}
	harness.MustCLI(t, addr, "step", "skip", "e2e-actions", sid, "nap")
	ended := harness.WaitInstancesEnded(t, addr, "e2e-actions", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("after the skip: %s, %s", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	var acts []string
	for _, e := range ended.Actions {
		acts = append(acts, strings.TrimSpace(e.Action+" "+e.StepId))
	}
	if got := strings.Join(acts, ", "); got != "STOP, RESTART, PAUSE after, RESUME after, SKIP nap" {
		t.Errorf("actions on record: %s", got)
	}
}

// Workflow actions sent again with their request id do nothing more, even
// after a later action undid them: a late copy of a trigger switch, a
// deactivation or a breakpoint call does not take effect a second time.
func TestWorkflowActionRequestIDs(t *testing.T) {
	t.Parallel()
	addr, _ := actionsAgent(t)
	const wf = "e2e-actions"
	repeated := func(id string) string { return "(request " + id + " had already been applied; nothing more was done)" }

	harness.MustCLI(t, addr, "workflow", "triggers", "disable", wf, "--time", "--request-id", "off-1")
	harness.MustCLI(t, addr, "workflow", "triggers", "enable", wf, "--time", "--request-id", "on-1")
	if out := harness.MustCLI(t, addr, "workflow", "triggers", "disable", wf, "--time", "--request-id", "off-1"); out != "workflow "+wf+": time triggers on, signal triggers on "+repeated("off-1")+"\n" {
		t.Errorf("disable sent again after the enable: %q", out)
	}
	if r := harness.CLI(t, addr, "workflow", "triggers", "disable", wf, "--signal", "--request-id", "off-1"); r.Code == 0 ||
		!strings.Contains(r.Stderr, `invalid_argument: request_id "off-1" was already used for DISABLE_TRIGGERS (time) of workflow `+wf) {
		t.Errorf("the key reused for the signal triggers: exit %d, %s", r.Code, r.Stderr)
	}

	harness.MustCLI(t, addr, "workflow", "deactivate", wf, "--request-id", "deact-1")
	harness.MustCLI(t, addr, "workflow", "activate", wf, "1", "--request-id", "act-1")
	if out := harness.MustCLI(t, addr, "workflow", "deactivate", wf, "--request-id", "deact-1"); out != "workflow "+wf+" version 1 is active "+repeated("deact-1")+"\n" {
		t.Errorf("deactivate sent again after the activation: %q", out)
	}

	harness.MustCLI(t, addr, "breakpoint", "set", wf, "nap", "--request-id", "bp-set-1")
	harness.MustCLI(t, addr, "breakpoint", "delete", wf, "nap", "--request-id", "bp-del-1")
	if out := harness.MustCLI(t, addr, "breakpoint", "set", wf, "nap", "--request-id", "bp-set-1"); out != "breakpoint "+wf+"/nap was set "+repeated("bp-set-1")+"\n" {
		t.Errorf("set sent again after the delete: %q", out)
	}
	if r := harness.CLI(t, addr, "breakpoint", "list", wf); r.Code != 0 || strings.TrimSpace(r.Stderr) != "No breakpoints." {
		t.Errorf("breakpoints after the late set: exit %d, stdout %q, stderr %q", r.Code, r.Stdout, r.Stderr)
	}
	harness.MustCLI(t, addr, "breakpoint", "set", wf, "nap", "--request-id", "bp-set-2")
	if out := harness.MustCLI(t, addr, "breakpoint", "delete", wf, "nap", "--request-id", "bp-del-1", "-o", "json"); !strings.Contains(out, `"repeated": true`) {
		t.Errorf("delete sent again after a new set, -o json: %s", out)
	}
	if out := harness.MustCLI(t, addr, "breakpoint", "list", wf); !strings.Contains(out, wf+"/nap") {
		t.Errorf("the late delete removed the breakpoint set after it: %q", out)
	}

	harness.MustCLI(t, addr, "workflow", "unblock", wf, "--request-id", "unblock-1")
	if out := harness.MustCLI(t, addr, "workflow", "unblock", wf, "--request-id", "unblock-1"); !strings.HasSuffix(out, repeated("unblock-1")+"\n") {
		t.Errorf("unblock sent again: %q", out)
	}

	// Each action is on the workflow's record once.
	var res workflowv1.GetResponse
	harness.CLIJSON(t, addr, &res, "workflow", "get", wf)
	var got []string
	for _, e := range res.Actions {
		got = append(got, e.Action)
	}
	want := "DISABLE_TRIGGERS ENABLE_TRIGGERS DEACTIVATE ACTIVATE SET_BREAKPOINT DELETE_BREAKPOINT SET_BREAKPOINT UNBLOCK"
	if strings.Join(got, " ") != want {
		t.Errorf("the workflow's record: %v, want %s", got, want)
	}
}
