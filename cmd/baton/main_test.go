package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
)

func TestParseParams(t *testing.T) {
	got, err := parseParams([]string{"a=1", "expr=x=y", "empty=", " b =two words"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"a": "1", "expr": "x=y", "empty": "", "b": "two words"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for _, bad := range [][]string{{"novalue"}, {"=1"}, {"a=1", "a=2"}} {
		_, err := parseParams(bad)
		var u usageError
		if !errors.As(err, &u) {
			t.Errorf("parseParams(%q) = %v, want a usage error", bad, err)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	f := newFakeServer(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"instance", "start", "demo", "-p", "base"}, `-p "base": want NAME=VALUE`},
		{[]string{"instance", "start"}, "missing WORKFLOW"},
		{[]string{"instance", "start", "demo", "--version", "newest"}, `--version "newest"`},
		{[]string{"instance", "get", "demo"}, "missing ID"},
		{[]string{"instance", "get", "demo", "seven"}, `instance ID "seven"`},
		{[]string{"instance", "list", "demo", "--limit", "-1"}, "--limit -1"},
		{[]string{"instance", "list", "demo", "--before", "-3"}, "--before -3"},
		{[]string{"workflow", "activate", "demo", "two"}, `VERSION "two"`},
		{[]string{"workflow", "get", "demo", "extra"}, `unexpected argument "extra"`},
		{[]string{"workflow", "lst"}, `unknown command "lst" for "baton workflow" (did you mean "list"?)`},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"status", "-o", "yaml"}, `-o "yaml"`},
		{[]string{"status", "--address", "ftp://x"}, "want an http:// or https:// URL"},
		{[]string{"breakpoint", "set", "demo"}, "missing STEP"},
		{[]string{"breakpoint", "set", "demo", "load", "--version", "-2"}, "--version -2: want a version number"},
		{[]string{"breakpoint", "delete", "demo", "load", "--instance", "x"}, `invalid argument "x" for "--instance"`},
		{[]string{"breakpoint", "list"}, "missing WORKFLOW"},
		{[]string{"breakpoint", "list", "demo", "load", "more"}, `unexpected argument "more"`},
		{[]string{"workflow", "triggers", "disable", "demo"}, "say which triggers: --time, --signal or both"},
		{[]string{"workflow", "deactivate"}, "missing WORKFLOW"},
		{[]string{"step", "restart", "demo", "1"}, "missing STEP"},
		{[]string{"step", "bypass-signals", "demo", "one", "wait"}, `instance ID "one"`},
	} {
		args := tc.args
		if !slices.Contains(args, "--address") {
			args = append(args, "--address", f.URL)
		}
		code, stdout, stderr := runCLI(t, args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d; stderr %q", tc.args, code, exitUsage, stderr)
		}
		if !strings.Contains(stderr, tc.msg) || !strings.Contains(stderr, "--help' for usage") {
			t.Errorf("%q: stderr %q, want it to contain %q and a usage hint", tc.args, stderr, tc.msg)
		}
		if stdout != "" {
			t.Errorf("%q: stdout %q, want nothing", tc.args, stdout)
		}
	}
	if len(f.inst.starts) != 0 {
		t.Errorf("a usage error still reached the server: %v", f.inst.starts)
	}
}

func TestBareGroupShowsHelp(t *testing.T) {
	code, stdout, _ := runCLI(t, "instance")
	if code != exitOK || !strings.Contains(stdout, "Available Commands") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
	code, stdout, _ = runCLI(t, "--help")
	if code != exitOK || !strings.Contains(stdout, "Exit codes:") {
		t.Errorf("root help: exit %d, stdout %q", code, stdout)
	}
}

func TestExitCodeFor(t *testing.T) {
	for status, want := range map[string]int{
		"SUCCEEDED": 0, "FAILED": 3, "STOPPED": 4, "TIMED_OUT": 5, "SOMETHING_NEW": 5,
	} {
		if got := exitCodeFor(status); got != want {
			t.Errorf("exitCodeFor(%s) = %d, want %d", status, got, want)
		}
	}
}

func TestRenderJSONUsesProtoNames(t *testing.T) {
	var buf bytes.Buffer
	r := &renderer{w: &buf, json: true}
	msg := &instancev1.GetResponse{
		Instance: &statepb.Instance{WorkflowId: "demo", InstanceId: 7, Status: "SUCCEEDED"},
		Steps:    []*statepb.Step{{StepId: "a", Status: "SUCCEEDED"}},
	}
	if err := r.print(msg, nil); err != nil {
		t.Fatal(err)
	}
	want := `{
  "instance": {
    "workflow_id": "demo",
    "instance_id": "7",
    "status": "SUCCEEDED"
  },
  "steps": [
    {
      "step_id": "a",
      "status": "SUCCEEDED"
    }
  ]
}
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := r.printLine(&instancev1.WatchResponse{Event: &statepb.Event{Seq: 3, StepId: "a", Status: "RUNNING"}}, ""); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != `{"event":{"seq":"3","step_id":"a","status":"RUNNING"}}`+"\n" {
		t.Errorf("printLine: %q", got)
	}
}

func TestTableCells(t *testing.T) {
	var buf bytes.Buffer
	tb := newTable(&buf)
	tb.row("KEY", "VALUE")
	tb.row("empty", "")
	tb.row("multi", "first line\nsecond\tline")
	if err := tb.flush(); err != nil {
		t.Fatal(err)
	}
	want := "KEY    VALUE\nempty  -\nmulti  first line …\n"
	if buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}

func TestWorkflowCommands(t *testing.T) {
	f := newFakeServer(t)
	dir := t.TempDir()
	file := dir + "/demo.yaml"
	writeFile(t, file, "workflow:\n  id: demo\n")

	f.wf.created = true
	code, stdout, stderr := runCLI(t, "workflow", "push", file, "--address", f.URL)
	if code != 0 || stdout != "workflow demo version 3 created (active)\n" {
		t.Errorf("push: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if len(f.wf.pushed) != 1 || f.wf.pushed[0] != "workflow:\n  id: demo\n" {
		t.Errorf("pushed %q", f.wf.pushed)
	}
	f.wf.created = false
	_, stdout, _ = runCLI(t, "workflow", "push", file, "--address", f.URL)
	if stdout != "workflow demo version 3 unchanged (active)\n" {
		t.Errorf("unchanged push: %q", stdout)
	}
	_, stdout, _ = runCLI(t, "workflow", "push", file, "--address", f.URL, "-o", "json")
	if stdout != "{\n  \"workflow\": {\n    \"workflow_id\": \"demo\",\n    \"latest_version\": \"3\",\n    \"active_version\": \"3\"\n  },\n  \"version\": \"3\"\n}\n" {
		t.Errorf("push -o json: %q", stdout)
	}

	code, stdout, stderr = runCLI(t, "workflow", "list", "--stale", "--address", f.URL)
	wantList := "WORKFLOW  ACTIVE  LATEST  INSTANCES  UPDATED\n" +
		"demo      2       3       7          2026-03-01T12:01:00Z\n"
	if code != 0 || stdout != wantList {
		t.Errorf("list: exit %d, stdout\n%s\nstderr %q", code, stdout, stderr)
	}

	_, stdout, _ = runCLI(t, "workflow", "get", "demo", "--address", f.URL)
	wantGet := "Workflow         demo\n" +
		"Version          2 (active)\n" +
		"Active version   2\n" +
		"Latest version   3\n" +
		"Created          2026-03-01T12:00:30Z\n" +
		"Digest           abcdef0123456789\n" +
		"Time triggers    on\n" +
		"Signal triggers  on\n"
	if stdout != wantGet {
		t.Errorf("get:\n%s\nwant\n%s", stdout, wantGet)
	}
	_, stdout, _ = runCLI(t, "workflow", "get", "demo", "--version", "latest", "--address", f.URL)
	if !strings.Contains(stdout, "Version          3 (latest)\n") {
		t.Errorf("get --version latest:\n%s", stdout)
	}
	_, stdout, _ = runCLI(t, "workflow", "get", "demo", "--definition", "--address", f.URL)
	if stdout != "{\n  \"workflow\": {\n    \"id\": \"demo\",\n    \"steps\": []\n  }\n}\n" {
		t.Errorf("get --definition: %q", stdout)
	}
	_, stdout, _ = runCLI(t, "workflow", "get", "demo", "-o", "json", "--address", f.URL)
	var got struct {
		Workflow struct {
			ActiveVersion string `json:"active_version"`
		} `json:"workflow"`
		Version struct {
			Version    string `json:"version"`
			Definition string `json:"definition"`
		} `json:"version"`
	}
	if err := json.Unmarshal([]byte(stdout), &got); err != nil || got.Workflow.ActiveVersion != "2" || got.Version.Definition == "" {
		t.Errorf("get -o json: %v, %+v from %s", err, got, stdout)
	}

	_, stdout, _ = runCLI(t, "workflow", "versions", "demo", "--address", f.URL)
	wantVersions := "VERSION  ACTIVE  CREATED               DIGEST\n" +
		"1        -       2026-03-01T12:00:00Z  111111111111…\n" +
		"2        *       2026-03-01T12:00:30Z  222222222222…\n" +
		"3        -       2026-03-01T12:01:00Z  333333333333…\n"
	if stdout != wantVersions {
		t.Errorf("versions:\n%s\nwant\n%s", stdout, wantVersions)
	}

	_, stdout, _ = runCLI(t, "workflow", "activate", "demo", "1", "--address", f.URL)
	if stdout != "workflow demo version 1 is active\n" {
		t.Errorf("activate: %q", stdout)
	}
}

func TestInstanceStartRetriesWithOneRequestID(t *testing.T) {
	f := newFakeServer(t)
	f.inst.startUnavailable = 2
	code, stdout, stderr := runCLI(t, "instance", "start", "demo", "-p", "base=20", "-p", "q=a=b", "--address", f.URL)
	if code != 0 || stdout != "8\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Count(stderr, "retrying in") != 2 {
		t.Errorf("stderr %q, want two retry notes", stderr)
	}
	if len(f.inst.starts) != 3 {
		t.Fatalf("%d Start calls, want 3", len(f.inst.starts))
	}
	id := f.inst.starts[0].RequestId
	if b, err := hex.DecodeString(id); err != nil || len(b) != 16 {
		t.Errorf("request id %q is not 16 random bytes in hex", id)
	}
	for _, s := range f.inst.starts {
		if s.RequestId != id {
			t.Errorf("request ids differ: %q vs %q", s.RequestId, id)
		}
		if !reflect.DeepEqual(s.Params, map[string]string{"base": "20", "q": "a=b"}) {
			t.Errorf("params %v", s.Params)
		}
	}

	// Another command makes another key.
	runCLI(t, "instance", "start", "demo", "--address", f.URL)
	if f.inst.starts[3].RequestId == id {
		t.Error("two commands sent the same request id")
	}
	runCLI(t, "instance", "start", "demo", "--request-id", "mine", "--version", "2", "--address", f.URL)
	if s := f.inst.starts[4]; s.RequestId != "mine" || s.Version != "2" {
		t.Errorf("request id %q, version %q", s.RequestId, s.Version)
	}

	_, stdout, _ = runCLI(t, "instance", "start", "demo", "--request-id", "r", "-o", "json", "--address", f.URL)
	var res struct {
		Instance struct {
			InstanceID string `json:"instance_id"`
			Status     string `json:"status"`
			RequestID  string `json:"request_id"`
		} `json:"instance"`
		Created bool `json:"created"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || res.Instance.InstanceID != "8" || !res.Created || res.Instance.RequestID != "r" {
		t.Errorf("start -o json: %v %+v from %s", err, res, stdout)
	}
}

func TestInstanceStartGivesUpWhenUnavailable(t *testing.T) {
	f := newFakeServer(t)
	f.inst.startUnavailable = 100
	code, _, stderr := runCLI(t, "instance", "start", "demo", "--address", f.URL)
	if code != exitError || !strings.HasSuffix(stderr, "Error: unavailable: no Raft leader is available; retry later\n") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if len(f.inst.starts) != idempotentAttempts {
		t.Errorf("%d attempts, want %d", len(f.inst.starts), idempotentAttempts)
	}
}

func TestInstanceStartWaitExitCodes(t *testing.T) {
	for status, want := range map[string]int{"SUCCEEDED": 0, "FAILED": 3, "STOPPED": 4, "TIMED_OUT": 5} {
		t.Run(status, func(t *testing.T) {
			f := newFakeServer(t)
			f.inst.events = timeline(status)
			code, stdout, stderr := runCLI(t, "instance", "start", "demo", "--wait", "--address", f.URL)
			if code != want {
				t.Errorf("exit %d, want %d; stderr %q", code, want, stderr)
			}
			if stdout != "8\n" {
				t.Errorf("stdout %q, want just the id", stdout)
			}
			wantErr := "2026-03-01T12:00:00Z  instance  IN_PROGRESS\n" +
				"2026-03-01T12:00:01Z  a  attempt 1  RUNNING  on n1\n" +
				"2026-03-01T12:00:02Z  a  attempt 1  SUCCEEDED\n" +
				"2026-03-01T12:00:03Z  instance  " + status + "  done\n"
			if stderr != wantErr {
				t.Errorf("stderr\n%s\nwant\n%s", stderr, wantErr)
			}
		})
	}
}

func TestWatchReconnectsAfterLastSeq(t *testing.T) {
	f := newFakeServer(t)
	f.inst.events = timeline("FAILED")
	f.inst.breakAfter = 2
	code, stdout, stderr := runCLI(t, "instance", "watch", "demo", "7", "--address", f.URL, "-o", "json")
	if code != exitFailed {
		t.Errorf("exit %d, want %d; stderr %q", code, exitFailed, stderr)
	}
	if !reflect.DeepEqual(f.inst.watches, []int64{0, 2}) {
		t.Errorf("watch calls with after_seq %v, want [0 2]", f.inst.watches)
	}
	if !strings.Contains(stderr, "watch interrupted (unavailable: node shutting down); reconnecting") {
		t.Errorf("stderr %q", stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want one per event:\n%s", len(lines), stdout)
	}
	for i, line := range lines {
		var ev struct {
			Event struct {
				Seq string `json:"seq"`
			} `json:"event"`
		}
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Event.Seq != string(rune('1'+i)) {
			t.Errorf("line %d: %q (%v)", i, line, err)
		}
	}
}

func TestWatchRetriesNotFoundOnceTheInstanceWasSeen(t *testing.T) {
	// A restarted agent answers "not found" until it has replayed its log.
	f := newFakeServer(t)
	f.inst.events = timeline("SUCCEEDED")
	f.inst.breakAfter = 1
	f.inst.breakCode = connect.CodeNotFound
	code, stdout, stderr := runCLI(t, "instance", "watch", "demo", "7", "--address", f.URL)
	if code != 0 || strings.Count(stdout, "\n") != 4 || !reflect.DeepEqual(f.inst.watches, []int64{0, 1}) {
		t.Errorf("exit %d, watches %v, stdout %q, stderr %q", code, f.inst.watches, stdout, stderr)
	}
}

func TestWatchAsksForStatusWhenNoEventSaysIt(t *testing.T) {
	f := newFakeServer(t)
	f.inst.events = timeline("SUCCEEDED")[:3]
	f.inst.final = "SUCCEEDED"
	code, stdout, stderr := runCLI(t, "instance", "watch", "demo", "7", "--address", f.URL)
	if code != 0 || strings.Count(stdout, "\n") != 3 {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A restarted instance has its old end in its timeline: a watch that
// breaks after that end but after the restart too must reconnect and wait
// for the new end, not report the old one.
func TestWatchOfARestartedInstanceWaitsForItsNewEnd(t *testing.T) {
	f := newFakeServer(t)
	f.inst.events = []*statepb.Event{
		{WorkflowId: "demo", InstanceId: 7, Seq: 1, Time: ts(0), Status: "CREATED"},
		{WorkflowId: "demo", InstanceId: 7, Seq: 2, Time: ts(1), Status: "FAILED"},
		{WorkflowId: "demo", InstanceId: 7, Seq: 3, Time: ts(2), Status: "CREATED", Message: "restarted"},
		{WorkflowId: "demo", InstanceId: 7, Seq: 4, Time: ts(3), StepId: "a", Status: "RUNNING"},
		{WorkflowId: "demo", InstanceId: 7, Seq: 5, Time: ts(4), Status: "SUCCEEDED"},
	}
	f.inst.breakAfter = 3
	code, _, stderr := runCLI(t, "instance", "watch", "demo", "7", "--address", f.URL)
	if code != 0 || !reflect.DeepEqual(f.inst.watches, []int64{0, 3}) {
		t.Errorf("exit %d, watches %v, want 0 after reconnecting at 3; stderr %q", code, f.inst.watches, stderr)
	}
}

func TestStreamsUseHTTP2AndUnaryHTTP1(t *testing.T) {
	f := newFakeServer(t)
	f.inst.events = timeline("SUCCEEDED")
	if code, _, stderr := runCLI(t, "instance", "start", "demo", "--wait", "--address", f.URL); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if p := f.proto(instancev1connect.InstanceServiceWatchProcedure); p != "HTTP/2.0" {
		t.Errorf("watch went over %s", p)
	}
	if p := f.proto(instancev1connect.InstanceServiceStartProcedure); p != "HTTP/1.1" {
		t.Errorf("start went over %s", p)
	}
}

func TestInstanceGet(t *testing.T) {
	f := newFakeServer(t)
	code, stdout, stderr := runCLI(t, "instance", "get", "demo", "7", "--address", f.URL)
	want := "Instance    7\n" +
		"Workflow    demo (version 2)\n" +
		"Status      FAILED\n" +
		"Reason      step b failed\n" +
		"Params      base=20, name=\"x y\"\n" +
		"Created     2026-03-01T12:00:00Z\n" +
		"Started     2026-03-01T12:00:01Z\n" +
		"Ended       2026-03-01T12:00:09Z\n" +
		"Request ID  r-1\n" +
		"\n" +
		"STEP  TYPE   STATUS          ATTEMPTS  NODE  EXIT  ERROR\n" +
		"a     NoOp   SUCCEEDED       1         n1    -     -\n" +
		"b     Shell  FATALLY_FAILED  2         n2    2     exit status 2 …\n" +
		"c     Shell  STOPPED         0         -     -     upstream step b failed\n" +
		"\n" +
		"Log tail of step b (attempt 2, USER_FAILED):\n" +
		"  starting\n" +
		"  boom\n"
	if code != 0 || stdout != want {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", code, stderr, stdout, want)
	}

	_, stdout, _ = runCLI(t, "instance", "get", "demo", "7", "-o", "json", "--address", f.URL)
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatal(err)
	}
	inst := got["instance"].(map[string]any)
	step := got["steps"].([]any)[0].(map[string]any)
	if inst["status"] != "FAILED" || inst["workflow_version"] != "2" || step["step_id"] != "a" || step["status"] != "SUCCEEDED" {
		t.Errorf("instance get -o json:\n%s", stdout)
	}
}

func TestInstanceListAndStop(t *testing.T) {
	f := newFakeServer(t)
	_, stdout, stderr := runCLI(t, "instance", "list", "demo", "--limit", "2", "--address", f.URL)
	want := "ID  VERSION  STATUS     CREATED               ENDED                 REASON\n" +
		"7   2        FAILED     2026-03-01T12:00:00Z  2026-03-01T12:00:09Z  step b failed\n" +
		"6   1        SUCCEEDED  2026-03-01T11:59:00Z  2026-03-01T11:59:10Z  -\n"
	if stdout != want {
		t.Errorf("list: stderr %q, stdout\n%s\nwant\n%s", stderr, stdout, want)
	}
	if stderr != "" {
		t.Errorf("the last page says more follow: %q", stderr)
	}
	// A page further back, filtered: the flags reach the server, and the
	// answer ends with the command for the page after.
	_, stdout, stderr = runCLI(t, "instance", "list", "demo", "--limit", "2", "--before", "9", "--status", "failed,STOPPED", "--status", "timed_out", "--address", f.URL)
	if want := "Older instances match too: baton instance list demo --before 6 --limit 2 --status FAILED,STOPPED,TIMED_OUT\n"; stderr != want || !strings.HasPrefix(stdout, "ID ") {
		t.Errorf("list --before: stdout\n%s\nstderr %q, want %q", stdout, stderr, want)
	}
	f.inst.mu.Lock()
	last := f.inst.lists[len(f.inst.lists)-1]
	f.inst.mu.Unlock()
	if last.Before != 9 || strings.Join(last.Statuses, ",") != "FAILED,STOPPED,TIMED_OUT" {
		t.Errorf("list request: %v", last)
	}
	code, stdout, stderr := runCLI(t, "instance", "stop", "demo", "7", "--reason", "enough", "--address", f.URL)
	if code != 0 || stdout != "instance 7 of demo is STOPPED\n" {
		t.Errorf("stop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// A stop whose outcome is unknown (Aborted) is sent again with the same
// request id, and the answer says the first copy had done it.
func TestInstanceStopIsSentAgainWithItsRequestID(t *testing.T) {
	f := newFakeServer(t)
	f.inst.stopAborted = 2
	code, stdout, stderr := runCLI(t, "instance", "stop", "demo", "7", "--reason", "enough", "--address", f.URL)
	if code != 0 || stdout != "instance 7 of demo is STOPPED (request "+f.inst.stops[0].RequestId+" had already been applied; nothing more was done)\n" {
		t.Errorf("stop: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if strings.Count(stderr, "aborted: the leader changed before the write was confirmed; retrying in") != 2 {
		t.Errorf("stderr %q, want two retries", stderr)
	}
	if len(f.inst.stops) != 3 || f.inst.stops[0].RequestId == "" {
		t.Fatalf("%d stops sent, first with request id %q", len(f.inst.stops), f.inst.stops[0].GetRequestId())
	}
	for _, s := range f.inst.stops {
		if s.RequestId != f.inst.stops[0].RequestId {
			t.Errorf("request ids differ: %q vs %q", s.RequestId, f.inst.stops[0].RequestId)
		}
	}
	f.inst.stops = nil
	runCLI(t, "instance", "stop", "demo", "7", "--reason", "enough", "--request-id", "mine", "--address", f.URL)
	if len(f.inst.stops) != 1 || f.inst.stops[0].RequestId != "mine" {
		t.Errorf("--request-id mine sent %v", f.inst.stops)
	}
}

func TestStatus(t *testing.T) {
	f := newFakeServer(t)
	_, stdout, _ := runCLI(t, "status", "--address", f.URL)
	wantAll := "Node                n1\n" +
		"Raft state          Follower\n" +
		"Leader              n2 (http://10.0.0.2:7420)\n" +
		"Term                5\n" +
		"Last applied index  42\n" +
		"Commit index        42\n" +
		"Last log index      43\n" +
		"Protocol            2 (the cluster runs 1 until every server has it)\n" +
		"\n" +
		"PEER  ADDRESS        VOTER  LEADER\n" +
		"n1    10.0.0.1:7421  yes    no\n" +
		"n2    10.0.0.2:7421  yes    yes\n"
	if stdout != wantAll {
		t.Errorf("status:\n%s\nwant\n%s", stdout, wantAll)
	}
	_, stdout, _ = runCLI(t, "status", "-o", "json", "--address", f.URL)
	if !strings.Contains(stdout, `"leader_api_address": "http://10.0.0.2:7420"`) || !strings.Contains(stdout, `"last_applied_index": "42"`) {
		t.Errorf("status -o json:\n%s", stdout)
	}
}

func TestAPIErrors(t *testing.T) {
	f := newFakeServer(t)
	code, stdout, stderr := runCLI(t, "instance", "get", "x", "9", "--address", f.URL)
	if code != exitError || stdout != "" || stderr != "Error: not_found: workflow \"x\" has no instance 9\n" {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, _, stderr = runCLI(t, "instance", "watch", "x", "9", "--address", f.URL)
	if code != exitError || stderr != "Error: not_found: workflow \"x\" has no instance 9\n" {
		t.Errorf("watch: exit %d, stderr %q (a not-found watch must not retry)", code, stderr)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	code, _, stderr := runCLI(t, "status", "--address", addr)
	want := "Error: cannot reach Baton at http://" + addr + " (is the agent running? set --address or BATON_ADDR)\n"
	if code != exitError || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}

func TestAddressFromEnvironment(t *testing.T) {
	f := newFakeServer(t)
	t.Setenv("BATON_ADDR", strings.TrimPrefix(f.URL, "http://"))
	if code, stdout, stderr := runCLI(t, "status"); code != 0 || !strings.Contains(stdout, "n1") {
		t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestNotABatonServer(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	defer srv.Close()
	code, _, stderr := runCLI(t, "status", "--address", srv.URL)
	want := "Error: unimplemented: 404 Not Found (is " + srv.URL + " a Baton agent?)\n"
	if code != exitError || stderr != want {
		t.Errorf("exit %d, stderr %q, want %q", code, stderr, want)
	}
}
