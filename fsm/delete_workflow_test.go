package fsm

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func deleteWorkflowCmd(workflowID, requestID string, now int) *statepb.DeleteWorkflow {
	return &statepb.DeleteWorkflow{WorkflowId: workflowID, RequestId: requestID, Actor: "ops", Reason: "retired", Now: at(now)}
}

func tableNames(h StateHash) []string {
	var out []string
	for _, t := range h.Tables {
		out = append(out, t.Table)
	}
	return out
}

// Deleting a workflow is refused while an instance of it is unfinished, and
// changes nothing then. Once allowed, it removes the workflow with its
// versions, triggers and breakpoints at once, and nothing of another
// workflow whose id starts the same; it leaves a record of the numbers the
// id gave out, which a workflow pushed again under the id goes on from.
// Its request id makes a late copy a repeat, even after the push again.
func TestDeleteWorkflow(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 3))
	applyAs[*PushResult](x, pushCmd("etl2", `{"workflow":{"id":"etl2","steps":["a"]}}`, 3))
	applyAs[*StartResult](x, startCmd("etl2", "etl2-1", 1, 3))
	for _, id := range []string{wfETL, "etl2"} {
		x.plan(4, &statepb.PlanAction{Action: &statepb.PlanAction_SetTrigger{SetTrigger: &statepb.SetTrigger{
			WorkflowId: id, TriggerId: "time-0", Version: 1, Spec: `{"type":"CRON"}`, Next: at(60),
		}}})
	}
	applyAs[*BreakpointResult](x, setBreakpoint("load", 0, 0, 5))
	off := workflowAction(WorkflowDisableTriggers, true, false, "", 6)
	off.RequestId = "off-1"
	applyAs[*WorkflowActionResult](x, off)
	if h := mustHash(t, x.fsm); slices.Contains(tableNames(h), tableDeletedWorkflows) {
		t.Fatalf("a state that deleted nothing hashes the %s table: %v", tableDeletedWorkflows, tableNames(h))
	}

	before := mustHash(t, x.fsm)
	rej := x.reject(deleteWorkflowCmd(wfETL, "del-1", 7), RejectFailedPrecondition)
	if !strings.Contains(rej.Msg, "1 unfinished instance(s), etl/1 (IN_PROGRESS)") {
		t.Fatalf("refusal: %q", rej.Msg)
	}
	if after := mustHash(t, x.fsm); after.SHA256 != before.SHA256 {
		t.Fatal("a refused deletion changed the state")
	}
	if rej := x.reject(deleteWorkflowCmd("nope", "", 7), RejectNotFound); rej.Msg != `workflow "nope" not found` {
		t.Fatalf("unknown workflow: %q", rej.Msg)
	}

	applyAs[*StopResult](x, stopCmd(wfETL, 1, "done with it", 8))
	applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 9))
	if inst := x.state().Instance(nil, wfETL, 1); !InstanceTerminal(inst.Status) {
		t.Fatalf("instance 1 is %s after its stop", inst.Status)
	}
	w := x.state().Workflow(nil, wfETL)
	res := applyAs[*DeleteWorkflowResult](x, deleteWorkflowCmd(wfETL, "del-1", 10))
	if res.Repeated || res.Versions != 2 || res.Triggers != 1 || res.Breakpoints != 1 || res.Instances != 1 {
		t.Fatalf("deletion: %+v, want 2 versions, 1 trigger, 1 breakpoint and 1 instance left", res)
	}
	st := x.state()
	d := st.DeletedWorkflow(wfETL)
	if d == nil || d.LatestVersion != 2 || d.LastInstanceId != 1 || d.LastEventSeq != w.LastEventSeq || d.LastEventSeq == 0 ||
		d.Actor != "ops" || d.Reason != "retired" || !slices.Equal(d.RequestIds, []string{"del-1"}) || d.Deletions != 1 {
		t.Fatalf("deleted record: %+v (workflow was %+v)", d, w)
	}
	if st.Workflow(nil, wfETL) != nil || len(st.Versions(nil, wfETL)) != 0 || len(st.Triggers(nil, wfETL)) != 0 || len(st.Breakpoints(nil, wfETL, "")) != 0 {
		t.Fatal("the workflow, a version, a trigger or a breakpoint is left")
	}
	if st.Instance(nil, wfETL, 1) == nil || len(st.Events(nil, wfETL, 0, 0)) == 0 {
		t.Fatal("the finished instance and the workflow's actions are for the leader to delete, after")
	}
	if st.Workflow(nil, "etl2") == nil || len(st.Versions(nil, "etl2")) != 1 || len(st.Triggers(nil, "etl2")) != 1 || st.Instance(nil, "etl2", 1) == nil {
		t.Fatal("etl2 lost something with etl")
	}
	if h := mustHash(t, x.fsm); !slices.Contains(tableNames(h), tableDeletedWorkflows) {
		t.Fatalf("the hash leaves out the deleted record: %v", tableNames(h))
	}

	// A copy of the deletion is a repeat; another is refused, naming it.
	before = mustHash(t, x.fsm)
	if again := applyAs[*DeleteWorkflowResult](x, deleteWorkflowCmd(wfETL, "del-1", 11)); !again.Repeated {
		t.Fatalf("copy of the deletion: %+v, want repeated", again)
	}
	rej = x.reject(deleteWorkflowCmd(wfETL, "del-x", 11), RejectNotFound)
	if !strings.Contains(rej.Msg, "it was deleted by ops at ") || !strings.HasSuffix(rej.Msg, ": retired") {
		t.Fatalf("second deletion: %q", rej.Msg)
	}
	x.reject(startCmd(wfETL, "late-start", 2, 11), RejectNotFound)
	restart := &statepb.Action{WorkflowId: wfETL, InstanceId: 1, Action: "RESTART", RestartPolicy: "RESTART_FROM_BEGINNING",
		ResetSteps: []string{"extract", "load"}, Now: at(11)}
	rej = x.reject(restart, RejectFailedPrecondition)
	if !strings.Contains(rej.Msg, "version 1 of workflow \"etl\" is gone with the workflow") {
		t.Fatalf("restart of a deleted workflow's instance: %q", rej.Msg)
	}
	if rej := CheckRunnable(x.state(), x.state().Instance(nil, wfETL, 1)); rej == nil || !strings.Contains(rej.Msg, "the instance is being deleted too") {
		t.Fatal("the leader's check lets the restart through")
	}
	if after := mustHash(t, x.fsm); after.SHA256 != before.SHA256 {
		t.Fatal("a repeat or a refusal changed the state")
	}

	// A snapshot keeps the record.
	f := New()
	restore(t, f, snapshotBytes(t, x.fsm))
	if got := f.State().DeletedWorkflow(wfETL); got == nil || got.LastEventSeq != d.LastEventSeq || !slices.Equal(got.RequestIds, d.RequestIds) {
		t.Fatalf("restored record: %+v", got)
	}
	if a, b := mustHash(t, x.fsm), mustHash(t, f); a.SHA256 != b.SHA256 {
		t.Fatal("the restored state hashes otherwise")
	}

	// Pushed again, before the leader has deleted what was left: numbers
	// go on, and the old instance and actions are still told apart.
	p := applyAs[*PushResult](x, pushCmd(wfETL, defETL, 20))
	if p.Version != 3 || p.Workflow.LastInstanceId != 1 || p.Workflow.LastEventSeq != d.LastEventSeq {
		t.Fatalf("pushed again: version %d, %+v", p.Version, p.Workflow)
	}
	if s := applyAs[*StartResult](x, startCmd(wfETL, "again-1", 3, 21)); s.Instance.InstanceId != 2 {
		t.Fatalf("first instance after the push again: %d, want 2", s.Instance.InstanceId)
	}
	on := workflowAction(WorkflowEnableTriggers, true, false, "", 22)
	on.RequestId = "off-1" // the deleted workflow's key: it no longer holds
	if r := applyAs[*Rejection](x, on); r.Code != RejectInvalid {
		t.Fatalf("a key of the deleted workflow's action, before the leader deleted it: %+v", r)
	}
	if again := applyAs[*DeleteWorkflowResult](x, deleteWorkflowCmd(wfETL, "del-1", 23)); !again.Repeated || x.state().Workflow(nil, wfETL) == nil {
		t.Fatalf("a late copy of the first deletion: %+v, and the workflow pushed again is gone", again)
	}
	if !PurgedWithWorkflow(d, x.state().Instance(nil, wfETL, 1)) || PurgedWithWorkflow(d, x.state().Instance(nil, wfETL, 2)) {
		t.Fatal("the purge would take the new instance, or leave the old one")
	}
}

// What the deletion leaves goes with the plan actions the leader already
// has; after, the state holds only the record of the numbers.
func TestDeletedWorkflowIsPurged(t *testing.T) {
	x := newFixture(t)
	applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
	applyAs[*StartResult](x, startCmd(wfETL, "req-1", 1, 1))
	applyAs[*StopResult](x, stopCmd(wfETL, 1, "", 2))
	for i := range 3 {
		c := workflowAction(WorkflowDisableTriggers, true, false, "", 3+i)
		if i%2 == 1 {
			c.Action = WorkflowEnableTriggers
		}
		applyAs[*WorkflowActionResult](x, c)
	}
	res := applyAs[*DeleteWorkflowResult](x, deleteWorkflowCmd(wfETL, "", 10))
	if res.Instances != 1 {
		t.Fatalf("deletion: %+v", res)
	}
	through := res.Deleted.LastEventSeq
	if got := x.plan(11, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{DeleteInstance: &statepb.DeleteInstance{WorkflowId: wfETL, InstanceId: 1}}},
		deleteWorkflowEventsAct(wfETL, through)); got.Applied != 2 {
		t.Fatalf("purge: %+v", got)
	}
	st := x.state()
	if st.Instance(nil, wfETL, 1) != nil || len(st.Steps(nil, wfETL, 1)) != 0 || len(st.Events(nil, wfETL, 1, 0)) != 0 || len(st.Events(nil, wfETL, 0, 0)) != 0 {
		t.Fatal("something of the deleted workflow is left")
	}
	if st.DeletedWorkflow(wfETL) == nil {
		t.Fatal("the record of the numbers went too")
	}
}

// A deletion from protocol 7 keeps the request ids of the workflow's newest
// pushes and starts: a late copy of one is refused, before the leader has
// purged the instances and after, with the id gone or pushed again, and
// changes nothing. A deletion written without the flag keeps none, so a
// log replays alike on every build.
func TestDeletedWorkflowKeepsRequestIDs(t *testing.T) {
	x := newFixture(t)
	push := func(def, requestID string, now int) *PushResult {
		c := pushCmd(wfETL, def, now)
		c.RequestId = requestID
		return applyAs[*PushResult](x, c)
	}
	push(defETL, "push-1", 0)
	push(defETL2, "push-2", 1)
	for i, req := range []string{"start-1", "", "start-3"} {
		s := applyAs[*StartResult](x, startCmd(wfETL, req, 2, 2+i))
		applyAs[*StopResult](x, stopCmd(wfETL, s.Instance.InstanceId, "", 5))
	}
	del := deleteWorkflowCmd(wfETL, "del-1", 10)
	del.KeepRequestIds = true
	d := applyAs[*DeleteWorkflowResult](x, del).Deleted
	wantPushes := []string{"push-1@1", "push-2@2"}
	wantStarts := []string{"start-1@1", "start-3@3"}
	checkKept := func(d *statepb.DeletedWorkflow) {
		t.Helper()
		if got := keptStrings(d.Pushes); !slices.Equal(got, wantPushes) {
			t.Fatalf("kept pushes %v, want %v", got, wantPushes)
		}
		if got := keptStrings(d.Starts); !slices.Equal(got, wantStarts) {
			t.Fatalf("kept starts %v, want %v", got, wantStarts)
		}
	}
	checkKept(d)

	lateStart := func(req string, now int) {
		t.Helper()
		before := mustHash(t, x.fsm)
		rej := x.reject(startCmd(wfETL, req, 3, now), RejectNotFound)
		if !strings.Contains(rej.Msg, `request_id "start-3" started instance etl/3, which was deleted with its workflow: it was deleted by ops at`) {
			t.Fatalf("late start: %q", rej.Msg)
		}
		if DeletedStart(x.state().DeletedWorkflow(wfETL), req) == nil {
			t.Fatal("the API's check lets the late start through")
		}
		if after := mustHash(t, x.fsm); after.SHA256 != before.SHA256 {
			t.Fatal("a refused late start changed the state")
		}
	}
	latePush := func(now int) {
		t.Helper()
		before := mustHash(t, x.fsm)
		c := pushCmd(wfETL, defETL, now)
		c.RequestId = "push-1"
		rej := x.reject(c, RejectNotFound)
		if !strings.Contains(rej.Msg, `request_id "push-1" pushed version 1 of workflow "etl", which went with the workflow: it was deleted by ops at`) {
			t.Fatalf("late push: %q", rej.Msg)
		}
		if after := mustHash(t, x.fsm); after.SHA256 != before.SHA256 {
			t.Fatal("a refused late push changed the state")
		}
	}

	// Before the purge the instance answers a copy of its start as before.
	if s := applyAs[*StartResult](x, startCmd(wfETL, "start-3", 2, 11)); s.Created || s.Instance.InstanceId != 3 {
		t.Fatalf("a copy of a start whose instance is still there: %+v", s)
	}
	latePush(11)
	var purge []*statepb.PlanAction
	for id := int64(1); id <= 3; id++ {
		purge = append(purge, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{DeleteInstance: &statepb.DeleteInstance{WorkflowId: wfETL, InstanceId: id}}})
	}
	x.plan(12, purge...)
	lateStart("start-3", 13)
	latePush(13)
	if x.state().Workflow(nil, wfETL) != nil {
		t.Fatal("a late push created the deleted workflow again")
	}

	// Pushed again: a late copy still starts and pushes nothing.
	push(defETL, "push-3", 20)
	lateStart("start-3", 21)
	latePush(21)
	if w := x.state().Workflow(nil, wfETL); w.LatestVersion != 3 || w.LastInstanceId != 3 {
		t.Fatalf("after the late copies the workflow is at version %d, instance %d; want 3 and 3", w.LatestVersion, w.LastInstanceId)
	}
	applyAs[*StartResult](x, startCmd(wfETL, "start-4", 3, 22))
	applyAs[*StopResult](x, stopCmd(wfETL, 4, "", 23))

	// A second deletion adds to what the first kept; a snapshot keeps it.
	del = deleteWorkflowCmd(wfETL, "del-2", 30)
	del.KeepRequestIds = true
	d = applyAs[*DeleteWorkflowResult](x, del).Deleted
	wantPushes = append(wantPushes, "push-3@3")
	wantStarts = append(wantStarts, "start-4@4")
	checkKept(d)
	f := New()
	restore(t, f, snapshotBytes(t, x.fsm))
	checkKept(f.State().DeletedWorkflow(wfETL))
	if a, b := mustHash(t, x.fsm), mustHash(t, f); a.SHA256 != b.SHA256 {
		t.Fatal("the restored state hashes otherwise")
	}

	// Without the flag (a deletion written before protocol 7) nothing is
	// kept, and a late copy is judged as before.
	y := newFixture(t)
	c := pushCmd("old", defETL, 0)
	c.WorkflowId, c.RequestId = "old", "old-push"
	applyAs[*PushResult](y, c)
	if d := applyAs[*DeleteWorkflowResult](y, deleteWorkflowCmd("old", "", 1)).Deleted; len(d.Pushes)+len(d.Starts) != 0 {
		t.Fatalf("a deletion without keep_request_ids kept %v and %v", d.Pushes, d.Starts)
	}
	if p := applyAs[*PushResult](y, c); !p.Created || p.Version != 2 {
		t.Fatalf("a late push after a deletion without the flag: %+v", p)
	}
}

func keptStrings(kept []*statepb.KeptRequest) []string {
	var out []string
	for _, k := range kept {
		out = append(out, fmt.Sprintf("%s@%d", k.RequestId, k.Number))
	}
	return out
}

// The record keeps the newest maxKeptRequests, lowest number first, across
// deletions, each once.
func TestKeepRequestsKeepsTheNewest(t *testing.T) {
	var rows []any
	for i := int64(1); i <= maxKeptRequests+8; i++ {
		rows = append(rows, &statepb.Instance{WorkflowId: wfETL, InstanceId: i, RequestId: fmt.Sprintf("r%d", i)})
	}
	rows = append(rows, &statepb.Instance{WorkflowId: wfETL, InstanceId: 100})
	rising := func(kept []*statepb.KeptRequest) {
		t.Helper()
		for i := 1; i < len(kept); i++ {
			if kept[i].Number <= kept[i-1].Number {
				t.Fatalf("kept out of order, or twice: %v", keptStrings(kept))
			}
		}
	}
	// The second deletion meets rows 6 to 10 again: instances the first
	// left and the leader had not deleted yet.
	kept := keepRequests(keepRequests(nil, rows[:10]), rows[5:20])
	rising(kept)
	if len(kept) != 20 || kept[0].Number != 1 || kept[19].Number != 20 {
		t.Fatalf("kept %v, want r1 to r20", keptStrings(kept))
	}
	kept = keepRequests(kept, rows[20:])
	rising(kept)
	if len(kept) != maxKeptRequests || kept[0].Number != 9 || kept[len(kept)-1].Number != maxKeptRequests+8 {
		t.Fatalf("kept %v, want the newest %d", keptStrings(kept), maxKeptRequests)
	}
}
