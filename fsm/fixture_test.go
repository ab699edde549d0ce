package fsm

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
)

// t0 anchors every time in these tests. The state machine takes its times
// from commands, so fixed times keep snapshots byte-comparable.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// at is t0 plus sec seconds.
func at(sec int) *timestamppb.Timestamp {
	return timestamppb.New(t0.Add(time.Duration(sec) * time.Second))
}

// firstIndex is unlike any attempt number, instance id or event seq, so a
// generation copied from the wrong counter cannot pass by coincidence.
const firstIndex uint64 = 1000

// The scenario most tests build on: workflow etl, steps extract and load.
const (
	wfETL   = "etl"
	defETL  = `{"workflow":{"id":"etl","steps":["extract","load"]}}`
	defETL2 = `{"workflow":{"id":"etl","steps":["extract","load","report"]}}`
	nodeA   = "node-a"
	nodeB   = "node-b"
)

// fixture drives one FSM through ApplyLocal with consecutive Raft indexes.
type fixture struct {
	t    testing.TB
	fsm  *FSM
	next uint64
}

func newFixture(t testing.TB) *fixture {
	return &fixture{t: t, fsm: New(), next: firstIndex}
}

// apply applies m at the next index and returns the Apply result.
func (x *fixture) apply(m proto.Message) any {
	i := x.next
	x.next++
	res := x.fsm.ApplyLocal(i, m)
	if _, isTest := x.t.(*testing.T); isTest {
		// Benchmarks skip the check: it reads the whole state.
		checkIndexes(x.t, x.fsm)
		checkTimelines(x.t, x.fsm)
	}
	return res
}

// lastIndex is the index the latest apply used.
func (x *fixture) lastIndex() uint64 { return x.next - 1 }

// applyAs applies m and fails the test unless the result has type T.
func applyAs[T any](x *fixture, m proto.Message) T {
	x.t.Helper()
	res := x.apply(m)
	out, ok := res.(T)
	if !ok {
		x.t.Fatalf("apply %T at index %d: result %#v, want a %T", m, x.lastIndex(), res, out)
	}
	return out
}

// reject applies m and fails the test unless it is rejected with code.
func (x *fixture) reject(m proto.Message, code RejectCode) *Rejection {
	x.t.Helper()
	rej := applyAs[*Rejection](x, m)
	if rej.Code != code {
		x.t.Fatalf("apply %T: rejection code %d (%q), want %d", m, rej.Code, rej.Msg, code)
	}
	return rej
}

func (x *fixture) state() *State { return x.fsm.State() }

func (x *fixture) plan(now int, actions ...*statepb.PlanAction) *PlanResult {
	x.t.Helper()
	return applyAs[*PlanResult](x, &statepb.ApplyPlan{Now: at(now), Actions: actions})
}

// runningInstance pushes etl, starts instance 1 and runs its first plan:
// the instance goes IN_PROGRESS and extract's attempt 1 goes to node-a. It
// returns that attempt's generation.
func (x *fixture) runningInstance() uint64 {
	x.t.Helper()
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	applyAs[*StartResult](x, startCmd(wfETL, "req-1", 1, 1))
	res := x.plan(2,
		instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""),
		assignAct(wfETL, 1, "extract", 1, nodeA))
	if res.Applied != 2 || res.Skipped != 0 {
		x.t.Fatalf("first plan: %+v, want 2 applied", res)
	}
	return x.lastIndex()
}

func digestOf(definition string) string {
	sum := sha256.Sum256([]byte(definition))
	return hex.EncodeToString(sum[:])
}

func pushCmd(workflowID, definition string, now int) *statepb.PushWorkflow {
	return &statepb.PushWorkflow{WorkflowId: workflowID, Definition: definition, Digest: digestOf(definition), Now: at(now)}
}

// startCmd starts an instance with steps extract and load.
func startCmd(workflowID, requestID string, version int64, now int) *statepb.StartInstance {
	return &statepb.StartInstance{
		RequestId: requestID, WorkflowId: workflowID, WorkflowVersion: version,
		Params: map[string]*statepb.Param{"date": param("STRING", "2026-03-01")},
		Steps:  []*statepb.StepSeed{{StepId: "extract", Type: "shell"}, {StepId: "load", Type: "sql"}},
		Now:    at(now),
	}
}

func stopCmd(workflowID string, instanceID int64, reason string, now int) *statepb.StopInstance {
	return &statepb.StopInstance{WorkflowId: workflowID, InstanceId: instanceID, Reason: reason, Now: at(now)}
}

func reportCmd(stepID string, attempt int64, generation uint64, outcome string, now int) *statepb.ReportResult {
	return &statepb.ReportResult{
		WorkflowId: wfETL, InstanceId: 1, StepId: stepID, AttemptNumber: attempt, Generation: generation,
		Outcome: outcome, EndTime: at(now), Executions: 1,
	}
}

func assignAct(workflowID string, instanceID int64, stepID string, attempt int64, node string) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{
		WorkflowId: workflowID, InstanceId: instanceID, StepId: stepID, AttemptNumber: attempt, Node: node,
		Params: map[string]*statepb.Param{"attempt": param("LONG", float64(attempt))},
	}}}
}

func stepAct(workflowID string, instanceID int64, stepID, from, to, reason string) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_StepStatus{StepStatus: &statepb.SetStepStatus{
		WorkflowId: workflowID, InstanceId: instanceID, StepId: stepID, FromStatus: from, Status: to, Reason: reason,
	}}}
}

func instanceAct(workflowID string, instanceID int64, from, to, reason string) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_InstanceStatus{InstanceStatus: &statepb.SetInstanceStatus{
		WorkflowId: workflowID, InstanceId: instanceID, FromStatus: from, Status: to, Reason: reason,
	}}}
}

func param(typ string, v any) *statepb.Param {
	val, err := structpb.NewValue(v)
	if err != nil {
		panic(err)
	}
	return &statepb.Param{Type: typ, Value: val}
}

// wideParams has enough keys that Go's map order differs from run to run,
// which any encoding that followed it would betray.
func wideParams() map[string]*statepb.Param {
	out := map[string]*statepb.Param{}
	for i := range 32 {
		out[fmt.Sprintf("p%02d", i)] = param("MAP", map[string]any{"n": float64(i), "s": "x", "l": []any{true, nil}})
	}
	return out
}

// sampleCommands holds one fully populated command of every type.
func sampleCommands() []proto.Message {
	retry := stepAct(wfETL, 1, "load", StepUserFailed, StepCreated, "retry")
	retry.GetStepStatus().RetryAt = at(9)
	assign := assignAct(wfETL, 1, "load", 2, nodeB)
	assign.GetAssign().Deadline = at(600)
	report := reportCmd("extract", 3, 1234, AttemptUserFailed, 7)
	report.Node, report.ExitCode, report.Error, report.LogTail = nodeA, 2, "exit 2", "boom\n"
	report.Outputs = map[string]*statepb.Param{"rows": param("LONG", 12.0), "tags": param("STRING_ARRAY", []any{"a", "b"})}
	return []proto.Message{
		pushCmd(wfETL, defETL, 1),
		&statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 3, Now: at(2)},
		startCmd(wfETL, "req-9", 2, 3),
		stopCmd(wfETL, 4, "operator", 4),
		&statepb.ApplyPlan{Now: at(5), Actions: []*statepb.PlanAction{
			instanceAct(wfETL, 1, InstanceCreated, InstanceInProgress, ""), assign, retry,
		}},
		report,
		&statepb.WorkflowAction{WorkflowId: wfETL, Action: WorkflowDisableTriggers, TimeTriggers: true, SignalTriggers: true,
			Actor: "anonymous", Reason: "maintenance", Now: at(8)},
		&statepb.SetBreakpoint{WorkflowId: wfETL, StepId: "load", Version: 2, InstanceId: 7, Actor: "anonymous", Reason: "debug", Now: at(9)},
		&statepb.DeleteBreakpoint{WorkflowId: wfETL, StepId: "load", Version: 2, InstanceId: 7, KeepPaused: true, Actor: "anonymous", Now: at(10)},
		&statepb.DeleteWorkflow{WorkflowId: wfETL, Actor: "anonymous", Reason: "retired", RequestId: "del", Now: at(11)},
	}
}

// sameParams fails the test unless got and want hold equal params.
func sameParams(t testing.TB, what string, got, want map[string]*statepb.Param) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d params %v, want %d %v", what, len(got), got, len(want), want)
	}
	for k, w := range want {
		if !proto.Equal(got[k], w) {
			t.Fatalf("%s[%q] = %v, want %v", what, k, got[k], w)
		}
	}
}

// sameTime fails the test unless got is the instant want.
func sameTime(t testing.TB, what string, got, want *timestamppb.Timestamp) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// memSink is a raft.SnapshotSink in memory.
type memSink struct {
	bytes.Buffer
	fail              bool
	closed, cancelled bool
}

func (s *memSink) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("disk full")
	}
	return s.Buffer.Write(p)
}
func (s *memSink) ID() string    { return "mem" }
func (s *memSink) Close() error  { s.closed = true; return nil }
func (s *memSink) Cancel() error { s.cancelled = true; return nil }

var _ raft.SnapshotSink = (*memSink)(nil)

// persist writes snap the way Raft does and returns the stored bytes.
func persist(t testing.TB, snap raft.FSMSnapshot) []byte {
	t.Helper()
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("persist: %v", err)
	}
	snap.Release()
	if !sink.closed || sink.cancelled {
		t.Fatalf("persist left the sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// snapshotBytes is what Raft would store for a snapshot of f taken now.
func snapshotBytes(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return persist(t, snap)
}

// contents serialises f's store without its applied index, which every
// entry advances, rejected or not.
func contents(t testing.TB, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	var b bytes.Buffer
	if err := WriteSnapshot(&b, snap.(*snapshot).db, 0); err != nil {
		t.Fatalf("write snapshot: %v", err)
	}
	return b.Bytes()
}

// restore loads snapshot bytes into f.
func restore(t testing.TB, f *FSM, data []byte) {
	t.Helper()
	if err := f.Restore(readCloser(data)); err != nil {
		t.Fatalf("restore: %v", err)
	}
}

func readCloser(data []byte) *closeRecorder {
	return &closeRecorder{Reader: bytes.NewReader(data)}
}

// closeRecorder notes Close, which Restore owes Raft.
type closeRecorder struct {
	*bytes.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

// fired reports whether a signal channel is closed, without waiting.
func fired(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
