package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// signalTrigger reads a workflow's signal trigger record.
func signalTrigger(t *testing.T, addr, wf string) *statepb.Trigger {
	t.Helper()
	var res workflowv1.GetResponse
	harness.CLIJSON(t, addr, &res, "workflow", "get", wf)
	for _, tr := range res.Triggers {
		if strings.HasPrefix(tr.TriggerId, "signal-") {
			return tr
		}
	}
	return nil
}

// waitTrigger waits until the workflow's signal trigger satisfies ok.
func waitTrigger(t *testing.T, addr, wf, what string, ok func(*statepb.Trigger) bool) *statepb.Trigger {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		tr := signalTrigger(t, addr, wf)
		if tr != nil && ok(tr) {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("signal trigger never %s: %v", what, tr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitInstances waits until a workflow has n instances and returns them,
// oldest first.
func waitInstances(t *testing.T, addr, wf string, n int) []*statepb.Instance {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var res instancev1.ListResponse
		harness.CLIJSON(t, addr, &res, "instance", "list", wf)
		if len(res.Instances) >= n {
			if len(res.Instances) > n {
				t.Fatalf("%d instances, want %d: %v", len(res.Instances), n, res.Instances)
			}
			out := make([]*statepb.Instance, n)
			for i, inst := range res.Instances {
				out[n-1-i] = inst
			}
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d instances of %s, want %d", len(res.Instances), wf, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func send(t *testing.T, addr, name string, params ...string) int64 {
	t.Helper()
	args := []string{"signal", "send", name}
	for _, p := range params {
		args = append(args, "-p", p)
	}
	out := harness.MustCLI(t, addr, args...)
	i := strings.LastIndex(out, "#")
	seq, err := strconv.ParseInt(strings.TrimSpace(out[i+1:]), 10, 64)
	if i < 0 || err != nil {
		t.Fatalf("signal send printed %q", out)
	}
	return seq
}

// startedBy says which signals started an instance: "orders #N, prices #M".
func startedBy(inst *statepb.Instance) string {
	si := inst.GetSignalInitiator()
	if si == nil {
		return "not a signal trigger"
	}
	return "orders #" + strconv.FormatInt(si.Signals["feed/orders"].GetSeq(), 10) +
		", prices #" + strconv.FormatInt(si.Signals["feed/prices"].GetSeq(), 10)
}

// A signal trigger starts an instance once signals matching both of its
// definitions arrive with equal join values; its steps read the signals.
// A repeated dedup key and a false condition consume their signals and
// start nothing. Switched off by an operator, or with the workflow
// deactivated, it consumes nothing, and once on again only later signals
// fire it. Every switch is on the workflow's record.
func TestSignalTriggerStartsInstances(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	const wf = "e2e-signal-trigger"
	harness.MustCLI(t, addr, "workflow", "push", "testdata/signal_trigger.json")
	waitTrigger(t, addr, wf, "set up", func(*statepb.Trigger) bool { return true })

	send(t, addr, "feed/orders", "day=20240301", "region=eu")  // orders #1
	send(t, addr, "feed/prices", "date=20240301", "version=1") // prices #1: version too low
	send(t, addr, "feed/prices", "date=20240302", "version=3") // prices #2: another day
	send(t, addr, "feed/prices", "date=20240301", "version=2") // prices #3
	first := waitInstances(t, addr, wf, 1)[0]
	if got := startedBy(first); got != "orders #1, prices #3" {
		t.Fatalf("instance 1 started by %s", got)
	}
	ended := harness.WaitInstancesEnded(t, addr, wf, []int64{first.InstanceId}, time.Minute)[first.InstanceId]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance 1: %s (%s)", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	params := stepByID(t, ended, "report").Attempts[0].Params
	for name, want := range map[string]any{"day": int64(20240301), "version": int64(2), "source": "feeds"} {
		v, err := scheduler.ValueFromParam(params[name])
		if err != nil || v.Raw != want {
			t.Errorf("report param %s = %v (%v), want %v", name, v.Raw, err, want)
		}
	}
	if got := harness.MustCLI(t, addr, "instance", "get", wf, "1"); !strings.Contains(got, "signal trigger signal-0 (feed/orders #1, feed/prices #3)") {
		t.Errorf("instance get does not say what started it:\n%s", got)
	}

	// The same day again: the dedup key started instance 1 already.
	send(t, addr, "feed/orders", "day=20240301", "region=eu")  // orders #2
	send(t, addr, "feed/prices", "date=20240301", "version=9") // prices #4
	tr := waitTrigger(t, addr, wf, "consumed the repeated day", func(tr *statepb.Trigger) bool { return tr.Fires == 2 })
	if tr.Skipped != 1 || tr.LastSkipReason != "dedup key already started instance 1" || tr.Checkpoints["feed/prices"] != 4 {
		t.Fatalf("trigger after a repeated dedup key: %v", tr)
	}
	// A false condition consumes its match too.
	send(t, addr, "feed/orders", "day=7", "region=eu")  // orders #3
	send(t, addr, "feed/prices", "date=7", "version=2") // prices #5
	tr = waitTrigger(t, addr, wf, "consumed the false condition", func(tr *statepb.Trigger) bool { return tr.Fires == 3 })
	if tr.Skipped != 2 || tr.LastSkipReason != "condition is false" {
		t.Fatalf("trigger after a false condition: %v", tr)
	}

	// Switched off, the trigger forgets its place; a match sent meanwhile
	// never fires it, the next one after switching on does.
	harness.MustCLI(t, addr, "workflow", "triggers", "disable", wf, "--signal", "--reason", "feed outage")
	waitNoTrigger(t, addr, wf)
	send(t, addr, "feed/orders", "day=20240302", "region=eu")  // orders #4
	send(t, addr, "feed/prices", "date=20240302", "version=2") // prices #6
	harness.MustCLI(t, addr, "workflow", "triggers", "enable", wf, "--signal")
	waitTrigger(t, addr, wf, "came back", func(tr *statepb.Trigger) bool { return tr.Checkpoints["feed/prices"] == 6 })
	send(t, addr, "feed/orders", "day=20240303", "region=eu")  // orders #5
	send(t, addr, "feed/prices", "date=20240303", "version=2") // prices #7
	if got := startedBy(waitInstances(t, addr, wf, 2)[1]); got != "orders #5, prices #7" {
		t.Fatalf("after switching on, instance 2 started by %s", got)
	}

	// Deactivated: starts are refused with the reason, and the trigger
	// stops until a version is active again.
	harness.MustCLI(t, addr, "workflow", "deactivate", wf, "--reason", "feed migration")
	r := harness.CLI(t, addr, "instance", "start", wf)
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed_precondition") || !strings.Contains(r.Stderr, "feed migration") {
		t.Fatalf("start of a deactivated workflow: exit %d, %s", r.Code, r.Stderr)
	}
	waitNoTrigger(t, addr, wf)
	send(t, addr, "feed/orders", "day=20240304", "region=eu")  // orders #6
	send(t, addr, "feed/prices", "date=20240304", "version=2") // prices #8
	harness.MustCLI(t, addr, "workflow", "activate", wf, "1", "--reason", "migrated")
	waitTrigger(t, addr, wf, "came back", func(tr *statepb.Trigger) bool { return tr.Checkpoints["feed/prices"] == 8 })
	send(t, addr, "feed/orders", "day=20240305", "region=eu")  // orders #7
	send(t, addr, "feed/prices", "date=20240305", "version=2") // prices #9
	if got := startedBy(waitInstances(t, addr, wf, 3)[2]); got != "orders #7, prices #9" {
		t.Fatalf("after activating, instance 3 started by %s", got)
	}

	var res workflowv1.GetResponse
	harness.CLIJSON(t, addr, &res, "workflow", "get", wf)
	var acts []string
	for _, e := range res.Actions {
		acts = append(acts, e.Action+" "+e.Actor+" "+e.Message)
	}
	want := "DISABLE_TRIGGERS anonymous signal triggers feed outage, ENABLE_TRIGGERS anonymous signal triggers, " +
		"DEACTIVATE anonymous version 1 feed migration, ACTIVATE anonymous version 1 migrated"
	if got := strings.Join(acts, ", "); got != want {
		t.Errorf("workflow actions:\n got %s\nwant %s", got, want)
	}
	if got := harness.MustCLI(t, addr, "workflow", "get", wf); !strings.Contains(got, "Signal triggers  on") || !strings.Contains(got, "DEACTIVATE by anonymous") {
		t.Errorf("workflow get:\n%s", got)
	}
}

// waitNoTrigger waits until a workflow has no signal trigger record.
func waitNoTrigger(t *testing.T, addr, wf string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for signalTrigger(t, addr, wf) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("the signal trigger of %s kept its record", wf)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// An operator's switch stops a time trigger: no scheduled time between
// switching it off and on again fires, and once on it fires again from
// the next time.
func TestTimeTriggerSwitchedOffByOperator(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t, "-min-trigger-interval", "1s")
	addr := a.URL()
	const wf = "e2e-every-second"
	def := t.TempDir() + "/tick.json"
	writeFile(t, def, `{"properties": {"owner": "e2e", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 100}},
	  "workflow": {"id": "`+wf+`", "time_triggers": [{"type": "CRON", "cron": "* * * * * ? *"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	harness.MustCLI(t, addr, "workflow", "push", def)
	waitRunTS(t, addr, wf, func(int64) bool { return true })

	harness.MustCLI(t, addr, "workflow", "triggers", "disable", wf, "--time", "--reason", "quiet hours")
	var res workflowv1.GetResponse
	deadline := time.Now().Add(time.Minute)
	for {
		harness.CLIJSON(t, addr, &res, "workflow", "get", wf)
		if len(res.Triggers) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("switched-off time trigger kept its record: %v", res.Triggers)
		}
		time.Sleep(100 * time.Millisecond)
	}
	off := res.Actions[len(res.Actions)-1].Time.AsTime()
	// Let several scheduled times pass while it is off.
	for time.Since(off) < 4*time.Second {
		time.Sleep(200 * time.Millisecond)
	}
	harness.MustCLI(t, addr, "workflow", "triggers", "enable", wf, "--time")
	harness.CLIJSON(t, addr, &res, "workflow", "get", wf)
	on := res.Actions[len(res.Actions)-1].Time.AsTime()
	if got := res.Actions[len(res.Actions)-1].Action; got != "ENABLE_TRIGGERS" {
		t.Fatalf("last action %s", got)
	}
	waitRunTS(t, addr, wf, func(ms int64) bool { return time.UnixMilli(ms).After(on) })
	// A time scheduled just as the switch was made may have fired before
	// it applied; none a second or more later may have.
	for _, ms := range runTimes(t, addr, wf) {
		if at := time.UnixMilli(ms); at.After(off.Add(time.Second)) && !at.After(on) {
			t.Errorf("scheduled time %s fired while the trigger was off (%s to %s)", at.UTC(), off.UTC(), on.UTC())
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runTimes lists the RUN_TS of every instance of a workflow.
func runTimes(t *testing.T, addr, wf string) []int64 {
	t.Helper()
	var list instancev1.ListResponse
	harness.CLIJSON(t, addr, &list, "instance", "list", wf, "--limit", "1000")
	var out []int64
	for _, inst := range list.Instances {
		v, err := scheduler.ValueFromParam(inst.Params["RUN_TS"])
		if err != nil {
			t.Fatalf("instance %d RUN_TS: %v", inst.InstanceId, err)
		}
		out = append(out, v.Raw.(int64))
	}
	return out
}

// waitRunTS waits for an instance whose RUN_TS satisfies ok.
func waitRunTS(t *testing.T, addr, wf string, ok func(int64) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		for _, ms := range runTimes(t, addr, wf) {
			if ok(ms) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no instance of %s fired as expected", wf)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
