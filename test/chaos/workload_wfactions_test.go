package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
)

// The workflow actions workload. One client acts on wfActionsWorkflow in
// rounds, each a pair of actions where the second undoes the first: its
// time triggers switched off then on, the workflow deactivated then one of
// its two versions activated, a breakpoint on its step set then deleted.
// Each call carries its request id and is sent again, to any server, while
// its outcome is unknown. After the second call is answered, half the time
// the first one's copy is sent again, as one held up in a socket would
// arrive late: it must be answered as a repeat and change nothing. The
// workflow's record must then hold each answered action exactly once, in
// the order the client was answered, and nothing the client did not send;
// and the workflow must be as the last answered actions left it.
const (
	wfActionsWorkflow = "chaos-wf-actions"
	wfActionsStep     = "only"
	// The setup pushes two versions; the second push leaves version 2
	// active.
	wfActionsVersions = 2
)

var wfActionsDefinitions = []string{
	definition(wfActionsWorkflow, noopStep(wfActionsStep)),
	definition(wfActionsWorkflow, noopStep(wfActionsStep, "after"), noopStep("after")),
}

// wfActionRecord is one action the client sent (late copies aside).
type wfActionRecord struct {
	requestID, action, target string
	// answered: a copy was answered, so the action took effect once.
	answered bool
}

// wfCall is one workflow action: what it is, and how to send it.
type wfCall struct {
	action, target string
	send           func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (repeated bool, err error)
}

type wfActionsWorkload struct {
	interval time.Duration

	clientRecords[wfActionRecord]
}

func newWfActionsWorkload(interval time.Duration) *wfActionsWorkload {
	return &wfActionsWorkload{interval: interval}
}

func (w *wfActionsWorkload) name() string { return "workflow actions" }
func (w *wfActionsWorkload) clients() int { return 1 }

func (w *wfActionsWorkload) setup(r *run) error {
	for _, def := range wfActionsDefinitions {
		if err := r.setupWorkflow(wfActionsWorkflow, def, false); err != nil {
			return err
		}
	}
	return nil
}

func (w *wfActionsWorkload) client(r *run, id int, stop <-chan struct{}) {
	const within = 5 * time.Minute
	for round := 0; r.pace(w.interval, stop); round++ {
		var first, undo wfCall
		switch round % 3 {
		case 0:
			first, undo = triggersCall(false), triggersCall(true)
		case 1:
			first, undo = deactivateCall(), activateCall(int64(1+r.intn(wfActionsVersions)))
		default:
			first, undo = setBreakpointCall(), deleteBreakpointCall()
		}
		base := fmt.Sprintf("%s-wfa-%d", r.scenario, r.nextID())
		firstID := base + "-" + strings.ToLower(first.action)
		if !w.send(r, first, firstID, within) {
			continue
		}
		time.Sleep(time.Duration(r.intn(300)) * time.Millisecond)
		if !w.send(r, undo, base+"-"+strings.ToLower(undo.action), within) || !r.chance(0.5) {
			continue
		}
		if err := w.sendLate(r, first, firstID, within); err != nil {
			w.unexpected("%v", err)
		}
	}
}

// send sends an action until it is answered, and says whether it was. A
// refusal is an error: with one client, each action finds the state its
// previous round left, which allows it.
func (w *wfActionsWorkload) send(r *run, c wfCall, requestID string, within time.Duration) bool {
	rec := &wfActionRecord{requestID: requestID, action: c.action, target: c.target}
	w.add(rec)
	err := r.call(describeWfAction(c.action, c.target, requestID), within, func(ctx context.Context, n *node) error {
		repeated, err := c.send(ctx, r.c.workflowClient(n), requestID)
		if err == nil {
			r.countAction("workflow actions", repeated)
		}
		return err
	})
	if err != nil {
		w.unexpected("%v", err)
		return false
	}
	w.set(func() { rec.answered = true })
	return true
}

// sendLate sends an answered action's copy after the action that undid it;
// it must be answered as a repeat.
func (w *wfActionsWorkload) sendLate(r *run, c wfCall, requestID string, within time.Duration) error {
	what := "late copy of " + describeWfAction(c.action, c.target, requestID)
	return r.call(what, within, func(ctx context.Context, n *node) error {
		repeated, err := c.send(ctx, r.c.workflowClient(n), requestID)
		if err != nil {
			return err
		}
		if !repeated {
			return verdictf("%s through %s was not answered as a repeat", what, n.name)
		}
		r.stats.add("late copies sent", 1)
		return nil
	})
}

func describeWfAction(action, target, requestID string) string {
	if target != "" {
		action += " (" + target + ")"
	}
	return fmt.Sprintf("%s of %s, request %s", action, wfActionsWorkflow, requestID)
}

func triggersCall(enabled bool) wfCall {
	action := fsm.WorkflowDisableTriggers
	if enabled {
		action = fsm.WorkflowEnableTriggers
	}
	return wfCall{action: action, target: "time", send: func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (bool, error) {
		return repeatedAnswer(c.SetTriggers(ctx, connect.NewRequest(&workflowv1.SetTriggersRequest{WorkflowId: wfActionsWorkflow, Enabled: enabled, Time: true,
			Reason: "chaos", RequestId: requestID})))
	}}
}

func deactivateCall() wfCall {
	return wfCall{action: fsm.WorkflowDeactivate, send: func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (bool, error) {
		return repeatedAnswer(c.Deactivate(ctx, connect.NewRequest(&workflowv1.DeactivateRequest{WorkflowId: wfActionsWorkflow, Reason: "chaos", RequestId: requestID})))
	}}
}

func activateCall(version int64) wfCall {
	return wfCall{action: "ACTIVATE", target: fsm.ActivateTarget(version), send: func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (bool, error) {
		return repeatedAnswer(c.Activate(ctx, connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: wfActionsWorkflow, Version: version, Reason: "chaos", RequestId: requestID})))
	}}
}

var wfActionsBreakpoint = fsm.BreakpointKey(&statepb.Breakpoint{WorkflowId: wfActionsWorkflow, StepId: wfActionsStep})

func setBreakpointCall() wfCall {
	return wfCall{action: "SET_BREAKPOINT", target: wfActionsBreakpoint, send: func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (bool, error) {
		return repeatedAnswer(c.SetBreakpoint(ctx, connect.NewRequest(&workflowv1.SetBreakpointRequest{WorkflowId: wfActionsWorkflow, StepId: wfActionsStep,
			Reason: "chaos", RequestId: requestID})))
	}}
}

func deleteBreakpointCall() wfCall {
	return wfCall{action: "DELETE_BREAKPOINT", target: wfActionsBreakpoint, send: func(ctx context.Context, c workflowv1connect.WorkflowServiceClient, requestID string) (bool, error) {
		return repeatedAnswer(c.DeleteBreakpoint(ctx, connect.NewRequest(&workflowv1.DeleteBreakpointRequest{WorkflowId: wfActionsWorkflow, StepId: wfActionsStep,
			Reason: "chaos", RequestId: requestID})))
	}}
}

// repeatedAnswer says whether a call that carries a request id was answered
// as a repeat.
func repeatedAnswer[T any, PT interface {
	*T
	GetRepeated() bool
}](res *connect.Response[T], err error) (bool, error) {
	if err != nil {
		return false, err
	}
	return PT(res.Msg).GetRepeated(), nil
}

func (w *wfActionsWorkload) check(r *run) {
	records, errs := w.snapshot()
	r.addCheck(checkResult{name: "workflow action clients' calls all answered", checked: len(records), violations: errs})
	var got *workflowv1.GetResponse
	var breakpoints []*statepb.Breakpoint
	// Retention runs every few seconds: wait for the pass after the last
	// action.
	deadline := time.Now().Add(time.Minute)
	for {
		err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
			g, err := r.c.workflowClient(n).Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: wfActionsWorkflow}))
			if err != nil {
				return err
			}
			b, err := r.c.workflowClient(n).ListBreakpoints(ctx, connect.NewRequest(&workflowv1.ListBreakpointsRequest{WorkflowId: wfActionsWorkflow}))
			if err != nil {
				return err
			}
			got, breakpoints = g.Msg, b.Msg.Breakpoints
			return nil
		})
		if err != nil {
			r.addCheck(checkResult{name: wfActionsCheckName, violations: []string{"read " + wfActionsWorkflow + ": " + err.Error()}})
			return
		}
		if len(got.Actions) <= retainWorkflowActions || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(got.Actions) > 0 {
		r.stats.add("workflow actions deleted by retention", got.Actions[0].Seq-1)
	}
	r.addCheck(checkWorkflowActions(records, len(errs) == 0, got.Actions, got.Workflow, breakpoints))
}

const wfActionsCheckName = "workflow actions on record once each, in order, the oldest deleted by retention, and the workflow as the last left it"

// checkWorkflowActions: each answered action is on the workflow's record
// exactly once, after the actions answered before it, unless retention
// deleted it: the record keeps the newest retainWorkflowActions, numbered
// without a gap up to the workflow's newest, so only actions older than
// every one on record may be gone. Every action on record was sent by the
// client as it is recorded; and, when every call was answered (settled),
// the workflow's triggers, active version and breakpoints are what
// replaying the answered actions gives.
func checkWorkflowActions(records []wfActionRecord, settled bool, events []*statepb.Event, wf *statepb.Workflow, breakpoints []*statepb.Breakpoint) checkResult {
	res := checkResult{name: wfActionsCheckName}
	sent := map[string]wfActionRecord{}
	for _, a := range records {
		sent[a.requestID] = a
	}
	onRecord := map[string][]*statepb.Event{}
	for _, e := range events {
		a, ok := sent[e.RequestId]
		switch {
		case !ok:
			res.violations = append(res.violations, fmt.Sprintf("%s at index %d was never sent", describeWfAction(e.Action, e.Target, e.RequestId), e.Index))
		case e.Action != a.action || e.Target != a.target:
			res.violations = append(res.violations, fmt.Sprintf("%s is on record as %s %q at index %d",
				describeWfAction(a.action, a.target, a.requestID), e.Action, e.Target, e.Index))
		}
		onRecord[e.RequestId] = append(onRecord[e.RequestId], e)
	}
	// What retention deleted: the numbers below the oldest on record, or
	// every one when none is left. The k-th answered action is numbered k
	// or more, so it may be gone only if at least k were deleted.
	deleted := wf.GetLastEventSeq()
	if len(events) > 0 {
		deleted = events[0].Seq - 1
	}
	if want := wf.GetLastEventSeq(); len(events) > 0 && events[len(events)-1].Seq != want {
		res.violations = append(res.violations, fmt.Sprintf("the newest action on record is #%d, but %s numbered its actions up to #%d",
			events[len(events)-1].Seq, wfActionsWorkflow, want))
	}
	for i, e := range events {
		if i > 0 && e.Seq != events[i-1].Seq+1 {
			res.violations = append(res.violations, fmt.Sprintf("the record skips from #%d to #%d: retention deleted an action newer than one it kept", events[i-1].Seq, e.Seq))
		}
	}
	timeOff, active, breakpoint := false, int64(wfActionsVersions), false
	var before *statepb.Event
	gone := 0 // answered actions no longer on record
	for _, a := range records {
		res.checked++
		got := onRecord[a.requestID]
		if a.answered && len(got) == 0 && before == nil && int64(gone) < deleted {
			// Older than every answered action on record, and retention
			// deleted at least as many as are missing.
			gone++
		} else if len(got) > 1 || (a.answered && len(got) == 0) {
			res.violations = append(res.violations, fmt.Sprintf("%s is on record %d times (answered: %t; %d older actions deleted)",
				describeWfAction(a.action, a.target, a.requestID), len(got), a.answered, deleted))
			continue
		}
		if !a.answered {
			continue
		}
		if len(got) > 0 {
			e := got[0]
			if before != nil && e.Index <= before.Index {
				res.violations = append(res.violations, fmt.Sprintf("%s is on record at index %d, not after request %s at %d, which was answered before it was sent",
					describeWfAction(a.action, a.target, a.requestID), e.Index, before.RequestId, before.Index))
			}
			before = e
		}
		switch a.action {
		case fsm.WorkflowDisableTriggers, fsm.WorkflowEnableTriggers:
			timeOff = a.action == fsm.WorkflowDisableTriggers
		case fsm.WorkflowDeactivate:
			active = 0
		case "ACTIVATE":
			if _, err := fmt.Sscanf(a.target, "version %d", &active); err != nil {
				res.violations = append(res.violations, fmt.Sprintf("activation target %q: %v", a.target, err))
			}
		case "SET_BREAKPOINT", "DELETE_BREAKPOINT":
			breakpoint = a.action == "SET_BREAKPOINT"
		}
	}
	if settled && len(events) > retainWorkflowActions {
		res.violations = append(res.violations, fmt.Sprintf("%d actions (#%d to #%d) are on record a minute after the load stopped, where retention keeps %d",
			len(events), events[0].Seq, events[len(events)-1].Seq, retainWorkflowActions))
	}
	if settled && wf.GetLastEventSeq() > retainWorkflowActions && len(events) < retainWorkflowActions {
		res.violations = append(res.violations, fmt.Sprintf("%d actions are on record where retention keeps the newest %d of %d", len(events), retainWorkflowActions, wf.GetLastEventSeq()))
	}
	if !settled {
		return res
	}
	if wf.GetTimeTriggersDisabled() != timeOff {
		res.violations = append(res.violations, fmt.Sprintf("%s has its time triggers disabled=%t; the answered actions leave %t", wfActionsWorkflow, wf.GetTimeTriggersDisabled(), timeOff))
	}
	if wf.GetActiveVersion() != active {
		res.violations = append(res.violations, fmt.Sprintf("%s has version %d active (0: none); the answered actions leave %d", wfActionsWorkflow, wf.GetActiveVersion(), active))
	}
	var keys []string
	for _, b := range breakpoints {
		keys = append(keys, fsm.BreakpointKey(b))
	}
	if want := map[bool]string{true: wfActionsBreakpoint, false: ""}[breakpoint]; strings.Join(keys, ", ") != want {
		res.violations = append(res.violations, fmt.Sprintf("%s has breakpoints [%s]; the answered actions leave [%s]", wfActionsWorkflow, strings.Join(keys, ", "), want))
	}
	return res
}
