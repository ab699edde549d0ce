// Package e2e runs the real baton binary: agents are child processes with
// real Raft state on disk, driven through the CLI as a user would.
package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/storage"
	"github.com/batonhq/baton/test/harness"
)

func getInstance(t *testing.T, addr, wf string, id int64) *instancev1.GetResponse {
	t.Helper()
	var res instancev1.GetResponse
	harness.CLIJSON(t, addr, &res, "instance", "get", wf, strconv.FormatInt(id, 10))
	return &res
}

func stepByID(t *testing.T, res *instancev1.GetResponse, id string) *statepb.Step {
	t.Helper()
	for _, s := range res.Steps {
		if s.StepId == id {
			return s
		}
	}
	t.Fatalf("instance has no step %q", id)
	return nil
}

func output(t *testing.T, st *statepb.Step, name string) int64 {
	t.Helper()
	p, ok := st.Outputs[name]
	if !ok {
		t.Fatalf("step %s has no output %q (outputs: %v)", st.StepId, name, st.Outputs)
	}
	v, err := scheduler.ValueFromParam(p)
	if err != nil {
		t.Fatalf("step %s output %s: %v", st.StepId, name, err)
	}
	n, ok := v.Raw.(int64)
	if !ok {
		t.Fatalf("step %s output %s is %T, want int64", st.StepId, name, v.Raw)
	}
	return n
}

func startID(t *testing.T, r harness.Result) int64 {
	t.Helper()
	id, err := strconv.ParseInt(strings.TrimSpace(r.Stdout), 10, 64)
	if err != nil {
		t.Fatalf("instance start printed %q, want an instance id (stderr: %s)", r.Stdout, r.Stderr)
	}
	return id
}

// A diamond of Shell steps passes output params from a to b and c, and from
// both to the join d, which runs only after both.
func TestDiamondShellStepsPassOutputs(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/diamond.yaml")

	r := harness.CLI(t, addr, "instance", "start", "e2e-diamond", "-p", "base=7", "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait exited %d, want 0\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	id := startID(t, r)
	res := getInstance(t, addr, "e2e-diamond", id)
	if res.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance status %s, want SUCCEEDED (reason %q)", res.Instance.Status, res.Instance.Reason)
	}
	for _, s := range res.Steps {
		if s.Status != "SUCCEEDED" || len(s.Attempts) != 1 {
			t.Errorf("step %s: status %s with %d attempts, want SUCCEEDED with 1", s.StepId, s.Status, len(s.Attempts))
		}
	}
	if got := output(t, stepByID(t, res, "a"), "n"); got != 70 {
		t.Errorf("a.n = %d, want 70", got)
	}
	if got := output(t, stepByID(t, res, "b"), "double"); got != 140 {
		t.Errorf("b.double = %d, want 140", got)
	}
	if got := output(t, stepByID(t, res, "c"), "plus"); got != 71 {
		t.Errorf("c.plus = %d, want 71", got)
	}
	if got := output(t, stepByID(t, res, "d"), "total"); got != 211 {
		t.Errorf("d.total = %d, want 211", got)
	}
	// The join started only after both branches ended.
	d := stepByID(t, res, "d").Attempts[0].StartTime.AsTime()
	for _, id := range []string{"b", "c"} {
		if end := stepByID(t, res, id).Attempts[0].EndTime.AsTime(); d.Before(end) {
			t.Errorf("join d started at %s, before %s ended at %s", d, id, end)
		}
	}
	if out := harness.MustCLI(t, addr, "instance", "list", "e2e-diamond"); !strings.Contains(out, "SUCCEEDED") {
		t.Errorf("instance list does not show the instance:\n%s", out)
	}
}

// A failing Shell step fails the instance with its exit code recorded, and
// its successors never run.
func TestFailingStepFailsInstance(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/fail.json")
	r := harness.CLI(t, addr, "instance", "start", "e2e-fail", "--wait")
	if r.Code != 3 {
		t.Fatalf("start --wait of a failing workflow exited %d, want 3 (FAILED)\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-fail", startID(t, r))
	if res.Instance.Status != "FAILED" {
		t.Fatalf("instance status %s, want FAILED", res.Instance.Status)
	}
	boom := stepByID(t, res, "boom")
	if boom.Status != "FATALLY_FAILED" {
		t.Errorf("boom status %s, want FATALLY_FAILED", boom.Status)
	}
	if len(boom.Attempts) != 1 || boom.Attempts[0].ExitCode != 3 {
		t.Fatalf("boom attempts %v, want one with exit code 3", boom.Attempts)
	}
	if tail := boom.Attempts[0].LogTail; !strings.Contains(tail, "about to fail") || !strings.Contains(tail, "bad thing") {
		t.Errorf("log tail %q lacks the step's stdout and stderr", tail)
	}
	if st := stepByID(t, res, "never").Status; st != "NOT_CREATED" {
		t.Errorf("successor of the failed step is %s, want NOT_CREATED", st)
	}
	if !strings.Contains(res.Instance.Reason, "boom") {
		t.Errorf("instance reason %q does not name the failed step", res.Instance.Reason)
	}
}

// SIGKILL during a Sleep step: the agent restarted on the same data dir still
// has the workflow and the instance, and the instance finishes.
func TestKilledAgentFinishesInstanceAfterRestart(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sleep.json")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-sleep"))

	deadline := time.Now().Add(30 * time.Second)
	for {
		res := getInstance(t, addr, "e2e-sleep", id)
		if stepByID(t, res, "nap").Status == "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("nap never started: %v", res)
		}
		time.Sleep(50 * time.Millisecond)
	}
	a.Kill()
	a.Restart(t)
	// A read right after restart waits for the node to lead and replay its
	// log; it never reports the instance as missing.
	a.WaitAPI(t, 30*time.Second)
	if st := getInstance(t, addr, "e2e-sleep", id).Instance.Status; st != "IN_PROGRESS" && st != "SUCCEEDED" {
		t.Fatalf("instance right after restart is %s", st)
	}

	r := harness.CLI(t, addr, "instance", "watch", "e2e-sleep", strconv.FormatInt(id, 10))
	if r.Code != 0 {
		t.Fatalf("watch after restart exited %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-sleep", id)
	if res.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance after restart: %s (%s), want SUCCEEDED", res.Instance.Status, res.Instance.Reason)
	}
	if got := harness.MustCLI(t, addr, "workflow", "list"); !strings.Contains(got, "e2e-sleep") {
		t.Errorf("workflow list after restart lacks the workflow:\n%s", got)
	}
	for _, s := range res.Steps {
		if s.Status != "SUCCEEDED" {
			t.Errorf("step %s: %s, want SUCCEEDED", s.StepId, s.Status)
		}
	}
}

// Bad input gets a precise error and writes nothing to Raft.
func TestBadInputIsRejectedAndWritesNothing(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/fail.json")
	ctx := context.Background()
	before, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}

	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), addr)
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), addr)
	cases := []struct {
		name string
		call func() error
		code connect.Code
		want string
	}{
		{"malformed JSON", func() error {
			_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: `{"workflow": {"id": "x",}`}))
			return err
		}, connect.CodeInvalidArgument, "invalid definition"},
		{"unknown field", func() error {
			_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: `{"workflow": {"id": "x", "stepz": []}}`}))
			return err
		}, connect.CodeInvalidArgument, "stepz"},
		{"oversized definition", func() error {
			_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: `{"workflow": {"id": "x", "description": "` + strings.Repeat("x", 2<<20) + `"}}`}))
			return err
		}, connect.CodeInvalidArgument, "limit"},
		{"oversized request", func() error {
			_, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: strings.Repeat("x", 5<<20)}))
			return err
		}, connect.CodeResourceExhausted, ""},
		{"unknown workflow", func() error {
			_, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "nope"}))
			return err
		}, connect.CodeNotFound, `workflow "nope" not found`},
		{"unknown instance", func() error {
			_, err := in.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "e2e-fail", InstanceId: 99}))
			return err
		}, connect.CodeNotFound, "no instance 99"},
		{"unknown version", func() error {
			_, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "e2e-fail", Version: "7"}))
			return err
		}, connect.CodeNotFound, "no version 7"},
		{"stop unknown instance", func() error {
			_, err := in.Stop(ctx, connect.NewRequest(&instancev1.StopRequest{WorkflowId: "e2e-fail", InstanceId: 5}))
			return err
		}, connect.CodeNotFound, "no instance 5"},
		{"stop with an oversized request id", func() error {
			_, err := in.Stop(ctx, connect.NewRequest(&instancev1.StopRequest{WorkflowId: "e2e-fail", InstanceId: 1, RequestId: strings.Repeat("s", 129)}))
			return err
		}, connect.CodeInvalidArgument, "request_id is 129 characters; the limit is 128"},
		{"restart with an oversized request id", func() error {
			_, err := in.Restart(ctx, connect.NewRequest(&instancev1.RestartRequest{WorkflowId: "e2e-fail", InstanceId: 1, RequestId: strings.Repeat("r", 200)}))
			return err
		}, connect.CodeInvalidArgument, "request_id is 200 characters"},
		{"step action with an oversized request id", func() error {
			_, err := in.StepAction(ctx, connect.NewRequest(&instancev1.StepActionRequest{WorkflowId: "e2e-fail", InstanceId: 1, StepId: "a", Action: "SKIP", RequestId: strings.Repeat("p", 129)}))
			return err
		}, connect.CodeInvalidArgument, "request_id is 129 characters"},
		{"delete without a workflow id", func() error {
			_, err := wf.Delete(ctx, connect.NewRequest(&workflowv1.DeleteRequest{}))
			return err
		}, connect.CodeInvalidArgument, "delete needs workflow_id"},
		{"list of a negative number of instances", func() error {
			_, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "e2e-fail", Limit: -5}))
			return err
		}, connect.CodeInvalidArgument, "limit -5: want a number of instances"},
		{"list by an unknown status", func() error {
			_, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "e2e-fail", Statuses: []string{"FAILED", "BROKEN"}}))
			return err
		}, connect.CodeInvalidArgument, `status "BROKEN": want one of CREATED, IN_PROGRESS`},
		{"list before a negative id", func() error {
			_, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "e2e-fail", Before: -1}))
			return err
		}, connect.CodeInvalidArgument, "before -1"},
		{"signal list before a negative number", func() error {
			_, err := signalv1connect.NewSignalServiceClient(harness.HTTPClient(), addr).List(ctx, connect.NewRequest(&signalv1.ListRequest{Name: "x", Before: -2}))
			return err
		}, connect.CodeInvalidArgument, "before -2"},
		{"list without a workflow id", func() error {
			_, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{}))
			return err
		}, connect.CodeInvalidArgument, "workflow_id is required"},
		{"delete of an unknown workflow", func() error {
			_, err := wf.Delete(ctx, connect.NewRequest(&workflowv1.DeleteRequest{WorkflowId: "no-such-workflow"}))
			return err
		}, connect.CodeNotFound, `workflow "no-such-workflow" not found`},
		{"workflow actions with an oversized request id", func() error {
			long := strings.Repeat("w", 129)
			for _, call := range []func() error{
				func() error {
					_, err := wf.Activate(ctx, connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: "e2e-fail", Version: 1, RequestId: long}))
					return err
				},
				func() error {
					_, err := wf.Deactivate(ctx, connect.NewRequest(&workflowv1.DeactivateRequest{WorkflowId: "e2e-fail", RequestId: long}))
					return err
				},
				func() error {
					_, err := wf.SetTriggers(ctx, connect.NewRequest(&workflowv1.SetTriggersRequest{WorkflowId: "e2e-fail", Time: true, RequestId: long}))
					return err
				},
				func() error {
					_, err := wf.Unblock(ctx, connect.NewRequest(&workflowv1.UnblockRequest{WorkflowId: "e2e-fail", RequestId: long}))
					return err
				},
				func() error {
					_, err := wf.SetBreakpoint(ctx, connect.NewRequest(&workflowv1.SetBreakpointRequest{WorkflowId: "e2e-fail", StepId: "a", RequestId: long}))
					return err
				},
				func() error {
					_, err := wf.Delete(ctx, connect.NewRequest(&workflowv1.DeleteRequest{WorkflowId: "e2e-fail", RequestId: long}))
					return err
				},
			} {
				if err := call(); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "request_id is 129 characters") {
					return err
				}
			}
			_, err := wf.DeleteBreakpoint(ctx, connect.NewRequest(&workflowv1.DeleteBreakpointRequest{WorkflowId: "e2e-fail", StepId: "a", RequestId: long}))
			return err
		}, connect.CodeInvalidArgument, "request_id is 129 characters"},
	}
	for _, c := range cases {
		err := c.call()
		if connect.CodeOf(err) != c.code {
			t.Errorf("%s: got %v, want code %s", c.name, err, c.code)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %q does not mention %q", c.name, err, c.want)
		}
	}

	// A bad -p value through the CLI: LONG param given a word.
	harness.MustCLI(t, addr, "workflow", "push", "testdata/diamond.yaml")
	mid, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := harness.CLI(t, addr, "instance", "start", "e2e-diamond", "-p", "base=lots")
	if r.Code != 1 || !strings.Contains(r.Stderr, "base") || !strings.Contains(strings.ToLower(r.Stderr), "invalid") {
		t.Errorf("bad -p value: exit %d, stderr %q; want exit 1 naming the param", r.Code, r.Stderr)
	}
	if r := harness.CLI(t, addr, "instance", "start", "e2e-diamond", "-p", "novalue"); r.Code != 2 {
		t.Errorf("-p without '=': exit %d, want 2 (usage)", r.Code)
	}
	after, err := a.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.LastLogIndex != mid.LastLogIndex {
		t.Errorf("rejected starts wrote to Raft: last index %d -> %d", mid.LastLogIndex, after.LastLogIndex)
	}
	if mid.LastLogIndex != before.LastLogIndex+1 {
		t.Errorf("rejected pushes wrote to Raft: last index %d -> %d (one valid push in between)", before.LastLogIndex, mid.LastLogIndex)
	}
}

// A repeated Start with the same request id returns the same instance.
func TestStartIsIdempotentPerRequestID(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/fail.json")
	first := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-fail", "--request-id", "req-1"))
	second := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-fail", "--request-id", "req-1"))
	third := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-fail", "--request-id", "req-2"))
	if first != second {
		t.Errorf("same request id gave instances %d and %d", first, second)
	}
	if third != first+1 {
		t.Errorf("new request id gave instance %d, want %d (sequential ids)", third, first+1)
	}
}

// The same port serves gRPC (HTTP/2 cleartext) as well as Connect.
func TestGRPCOnTheAPIPort(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	c := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), a.URL(), connect.WithGRPC())
	_, err := c.Push(context.Background(), connect.NewRequest(&workflowv1.PushRequest{Definition: mustRead(t, "testdata/fail.json")}))
	if err != nil {
		t.Fatalf("push over gRPC: %v", err)
	}
	res, err := c.List(context.Background(), connect.NewRequest(&workflowv1.ListRequest{}))
	if err != nil {
		t.Fatalf("list over gRPC: %v", err)
	}
	if len(res.Msg.Workflows) != 1 || res.Msg.Workflows[0].WorkflowId != "e2e-fail" {
		t.Fatalf("list over gRPC: %v", res.Msg.Workflows)
	}
	web := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), a.URL(), connect.WithGRPCWeb())
	if _, err := web.List(context.Background(), connect.NewRequest(&workflowv1.ListRequest{})); err != nil {
		t.Fatalf("list over gRPC-Web: %v", err)
	}
}

// Watch streams every status change of the instance and its steps, in order.
func TestWatchStreamsEveryStatusChange(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/diamond.yaml")
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	start, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "e2e-diamond"}))
	if err != nil {
		t.Fatal(err)
	}
	stream, err := in.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: "e2e-diamond", InstanceId: start.Msg.Instance.InstanceId}))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	var last int64
	for stream.Receive() {
		e := stream.Msg().Event
		if e.Seq != last+1 {
			t.Fatalf("event seq %d after %d: a change was skipped", e.Seq, last)
		}
		last = e.Seq
		who := e.StepId
		if who == "" {
			who = "instance"
		}
		seen = append(seen, who+":"+e.Status)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("watch: %v", err)
	}
	got := strings.Join(seen, " ")
	for _, want := range []string{"instance:CREATED", "instance:IN_PROGRESS", "a:RUNNING", "a:SUCCEEDED", "b:RUNNING", "b:SUCCEEDED", "c:RUNNING", "c:SUCCEEDED", "d:RUNNING", "d:SUCCEEDED", "instance:SUCCEEDED"} {
		if !strings.Contains(got, want) {
			t.Errorf("watch did not send %s; got %s", want, got)
		}
	}
	if !strings.HasSuffix(got, "instance:SUCCEEDED") {
		t.Errorf("watch should end with the terminal status; got %s", got)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Stop ends a running instance: its running step is STOPPED, its later steps
// never start, and the Sleep attempt's runtime is cancelled on the node.
func TestStopRunningInstance(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/sleep.json")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-sleep"))
	deadline := time.Now().Add(30 * time.Second)
	for stepByID(t, getInstance(t, addr, "e2e-sleep", id), "nap").Status != "RUNNING" {
		if time.Now().After(deadline) {
			t.Fatal("nap never started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	harness.MustCLI(t, addr, "instance", "stop", "e2e-sleep", strconv.FormatInt(id, 10), "--reason", "operator said so")
	res := getInstance(t, addr, "e2e-sleep", id)
	if res.Instance.Status != "STOPPED" || res.Instance.Reason != "operator said so" {
		t.Fatalf("instance %s (%q), want STOPPED with the reason", res.Instance.Status, res.Instance.Reason)
	}
	if st := stepByID(t, res, "nap"); st.Status != "STOPPED" || st.Attempts[0].Status != "STOPPED" {
		t.Errorf("nap: %s / attempt %s, want STOPPED", st.Status, st.Attempts[0].Status)
	}
	if st := stepByID(t, res, "after").Status; st != "NOT_CREATED" {
		t.Errorf("after: %s, want NOT_CREATED", st)
	}
	r := harness.CLI(t, addr, "instance", "stop", "e2e-sleep", strconv.FormatInt(id, 10))
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed_precondition") {
		t.Errorf("stopping a stopped instance: exit %d, stderr %q; want a failed_precondition error", r.Code, r.Stderr)
	}
}

// A step past its timeout is terminated on its node and ends TIMED_OUT
// (timeout_retry_limit defaults to 0), failing the instance.
func TestStepTimeoutTerminatesTheProcess(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/timeout.yaml")
	began := time.Now()
	r := harness.CLI(t, addr, "instance", "start", "e2e-timeout", "--wait")
	if r.Code != 3 {
		t.Fatalf("start --wait exited %d, want 3 (FAILED)\n%s", r.Code, r.Stderr)
	}
	if took := time.Since(began); took > 20*time.Second {
		t.Fatalf("the 30s command was not terminated at its 1s timeout (took %s)", took)
	}
	res := getInstance(t, addr, "e2e-timeout", startID(t, r))
	slow := stepByID(t, res, "slow")
	if slow.Status != "TIMED_OUT" || len(slow.Attempts) != 1 || slow.Attempts[0].Status != "TIMED_OUT" {
		t.Fatalf("slow: %s, attempts %v; want TIMED_OUT after one attempt", slow.Status, slow.Attempts)
	}
	if tail := slow.Attempts[0].LogTail; !strings.Contains(tail, "started") || strings.Contains(tail, "never") {
		t.Errorf("log tail %q: want the output before the timeout only", tail)
	}
}

// The leader applies the retention policy: only the newest finished
// instances of a workflow are kept.
func TestRetentionDeletesOldFinishedInstances(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t, "-retain-finished", "2", "-retention-interval", "200ms", "-retain-attempt-folders-for", "0s")
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/fail.json")
	for i := 0; i < 4; i++ {
		if r := harness.CLI(t, addr, "instance", "start", "e2e-fail", "--wait"); r.Code != 3 {
			t.Fatalf("run %d exited %d", i, r.Code)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list instancev1.ListResponse
		harness.CLIJSON(t, addr, &list, "instance", "list", "e2e-fail")
		var ids []int64
		for _, in := range list.Instances {
			ids = append(ids, in.InstanceId)
		}
		if len(ids) == 2 && ids[0] == 4 && ids[1] == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instances kept: %v, want [4 3]", ids)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r := harness.CLI(t, addr, "instance", "get", "e2e-fail", "1"); r.Code != 1 || !strings.Contains(r.Stderr, "not_found") {
		t.Errorf("a deleted instance: exit %d, %s", r.Code, r.Stderr)
	}
	// The node removes the folders of the deleted instances' attempts: only
	// the kept instances' Shell attempts are left on its disk.
	data := storage.Dir{Path: a.DataDir}
	for {
		dirs, err := data.AttemptDirs()
		if err != nil {
			t.Fatal(err)
		}
		var owners []int64
		for _, d := range dirs {
			o, ok, err := d.Owner()
			if err != nil || !ok {
				t.Fatalf("attempt folder %s: owner %v, %v", d.Path, ok, err)
			}
			owners = append(owners, o.InstanceID)
		}
		slices.Sort(owners)
		if slices.Equal(owners, []int64{3, 4}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("attempt folders of instances %v, want [3 4]", owners)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// With -retain-versions, the leader deletes a workflow's old versions it
// neither runs nor has active, and a start of one says retention deleted it.
// The workflow's own record keeps its newest actions; a copy of a deleted
// one is judged as a new action, and numbering goes on.
func TestRetentionDeletesOldWorkflowActions(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t, "-retain-workflow-actions", "3", "-retention-interval", "200ms")
	addr := a.URL()
	file := filepath.Join(t.TempDir(), "wf.json")
	if err := os.WriteFile(file, []byte(`{"workflow": {"id": "e2e-record", "steps": [{"step": {"id": "s", "type": "NoOp"}}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	harness.MustCLI(t, addr, "workflow", "push", file)
	switches := []string{"disable", "enable", "disable", "enable", "disable", "enable"}
	for i, sw := range switches {
		harness.MustCLI(t, addr, "workflow", "triggers", sw, "e2e-record", "--time", "--request-id", fmt.Sprintf("switch-%d", i+1))
	}
	record := func() string {
		var res workflowv1.GetResponse
		harness.CLIJSON(t, addr, &res, "workflow", "get", "e2e-record")
		var out []string
		for _, e := range res.Actions {
			out = append(out, fmt.Sprintf("%d:%s:%s", e.Seq, e.Action, e.RequestId))
		}
		return strings.Join(out, " ")
	}
	want := "4:ENABLE_TRIGGERS:switch-4 5:DISABLE_TRIGGERS:switch-5 6:ENABLE_TRIGGERS:switch-6"
	deadline := time.Now().Add(30 * time.Second)
	for got := record(); got != want; got = record() {
		if time.Now().After(deadline) {
			t.Fatalf("the workflow's record: %s, want %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// switch-2's record is gone: its copy is a new enable, refused by the
	// triggers as they are. switch-6's is kept: its copy is a repeat.
	if r := harness.CLI(t, addr, "workflow", "triggers", "enable", "e2e-record", "--time", "--request-id", "switch-2"); r.Code == 0 ||
		!strings.Contains(r.Stderr, "failed_precondition") {
		t.Errorf("a copy of a deleted action: exit %d, %s%s", r.Code, r.Stdout, r.Stderr)
	}
	if out := harness.MustCLI(t, addr, "workflow", "triggers", "enable", "e2e-record", "--time", "--request-id", "switch-6"); !strings.Contains(out, "had already been applied") {
		t.Errorf("a copy of a kept action: %q", out)
	}
	if out := harness.MustCLI(t, addr, "workflow", "get", "e2e-record"); !strings.Contains(out, "the newest 3 of 6; retention deleted the older ones") {
		t.Errorf("workflow get does not say older actions were deleted:\n%s", out)
	}
	harness.MustCLI(t, addr, "workflow", "triggers", "disable", "e2e-record", "--time", "--request-id", "switch-7")
	want = "5:DISABLE_TRIGGERS:switch-5 6:ENABLE_TRIGGERS:switch-6 7:DISABLE_TRIGGERS:switch-7"
	deadline = time.Now().Add(30 * time.Second)
	for got := record(); got != want; got = record() {
		if time.Now().After(deadline) {
			t.Fatalf("the workflow's record after one more: %s, want %s", got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRetentionDeletesOldVersions(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t, "-retain-versions", "1", "-retention-interval", "200ms")
	addr := a.URL()
	dir := t.TempDir()
	for v := 1; v <= 3; v++ {
		file := filepath.Join(dir, fmt.Sprintf("v%d.json", v))
		def := fmt.Sprintf(`{"workflow": {"id": "e2e-versions", "steps": [{"step": {"id": "s%d", "type": "NoOp"}}]}}`, v)
		if err := os.WriteFile(file, []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
		harness.MustCLI(t, addr, "workflow", "push", file)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list workflowv1.ListVersionsResponse
		harness.CLIJSON(t, addr, &list, "workflow", "versions", "e2e-versions")
		var kept []int64
		for _, v := range list.Versions {
			kept = append(kept, v.Version)
		}
		if slices.Equal(kept, []int64{3}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("versions kept %v, want [3]", kept)
		}
		time.Sleep(100 * time.Millisecond)
	}
	r := harness.CLI(t, addr, "instance", "start", "e2e-versions", "--version", "1")
	if r.Code != 1 || !strings.Contains(r.Stderr, `no longer has version 1: retention deleted it (latest is 3)`) {
		t.Errorf("start of a deleted version: exit %d, %s", r.Code, r.Stderr)
	}
}

// A workflow's instances are listed a page at a time, newest first, and by
// status; a page that leaves older ones out says how to see the next.
func TestInstanceListPages(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/fail.json")
	for i := 0; i < 3; i++ {
		if r := harness.CLI(t, addr, "instance", "start", "e2e-fail", "--wait"); r.Code != 3 {
			t.Fatalf("run %d exited %d: %s", i, r.Code, r.Stderr)
		}
	}
	listed := func(args ...string) ([]int64, string) {
		t.Helper()
		r := harness.CLI(t, addr, append([]string{"instance", "list", "e2e-fail"}, args...)...)
		if r.Code != 0 {
			t.Fatalf("list %v: exit %d, %s", args, r.Code, r.Stderr)
		}
		var ids []int64
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n")[1:] {
			id, err := strconv.ParseInt(strings.Fields(line)[0], 10, 64)
			if err != nil {
				t.Fatalf("list %v: line %q", args, line)
			}
			ids = append(ids, id)
		}
		return ids, r.Stderr
	}
	ids, more := listed("--limit", "2")
	if !slices.Equal(ids, []int64{3, 2}) || !strings.Contains(more, "baton instance list e2e-fail --before 2 --limit 2") {
		t.Fatalf("first page: %v, %q", ids, more)
	}
	ids, more = listed("--limit", "2", "--before", "2", "--status", "failed")
	if !slices.Equal(ids, []int64{1}) || more != "" {
		t.Fatalf("second page: %v, %q", ids, more)
	}
	if r := harness.CLI(t, addr, "instance", "list", "e2e-fail", "--status", "SUCCEEDED"); r.Code != 0 || r.Stdout != "" ||
		!strings.Contains(r.Stderr, "Workflow e2e-fail has no instances that match.") {
		t.Fatalf("no match: exit %d, %q, %q", r.Code, r.Stdout, r.Stderr)
	}
}
