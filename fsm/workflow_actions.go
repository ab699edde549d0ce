package fsm

import (
	"fmt"
	"strings"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
)

// Workflow actions, as WorkflowAction.action names them.
const (
	WorkflowDeactivate      = "DEACTIVATE"
	WorkflowDisableTriggers = "DISABLE_TRIGGERS"
	WorkflowEnableTriggers  = "ENABLE_TRIGGERS"
)

// WorkflowActionResult is the Apply result of WorkflowAction, and of an
// audited ActivateWorkflow.
type WorkflowActionResult struct {
	Workflow *statepb.Workflow
	// The request id had already been applied: nothing was done.
	Repeated bool
}

// WorkflowActionTarget is what a workflow action is aimed at, on its event:
// the kinds of triggers a switch names, nothing for a deactivation.
func WorkflowActionTarget(c *statepb.WorkflowAction) string {
	if c.Action != WorkflowDisableTriggers && c.Action != WorkflowEnableTriggers {
		return ""
	}
	var kinds []string
	if c.TimeTriggers {
		kinds = append(kinds, "time")
	}
	if c.SignalTriggers {
		kinds = append(kinds, "signal")
	}
	return strings.Join(kinds, " and ")
}

// CheckWorkflowAction says why an action cannot be taken on a workflow, or
// nil. The leader calls it before proposing the action, so a refused action
// writes nothing, and Apply calls it again on the state it applies to. w is
// nil when the workflow does not exist.
func CheckWorkflowAction(w *statepb.Workflow, c *statepb.WorkflowAction) *Rejection {
	if w == nil {
		return notFound("workflow %q not found", c.WorkflowId)
	}
	switch c.Action {
	case WorkflowDeactivate:
		if w.ActiveVersion == 0 {
			return precondition("workflow %q is already inactive (%s); activate a version to bring it back", w.WorkflowId, w.InactiveReason)
		}
		return nil
	case WorkflowDisableTriggers, WorkflowEnableTriggers:
		if !c.TimeTriggers && !c.SignalTriggers {
			return &Rejection{Code: RejectInvalid, Msg: "name the triggers: time, signal or both"}
		}
		disable := c.Action == WorkflowDisableTriggers
		var already []string
		if c.TimeTriggers && w.TimeTriggersDisabled == disable {
			already = append(already, "time")
		}
		if c.SignalTriggers && w.SignalTriggersDisabled == disable {
			already = append(already, "signal")
		}
		if len(already) == (boolInt(c.TimeTriggers) + boolInt(c.SignalTriggers)) {
			state := "enabled"
			if disable {
				state = "disabled"
			}
			return precondition("workflow %q already has its %s triggers %s", w.WorkflowId, strings.Join(already, " and "), state)
		}
		return nil
	}
	return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("unknown workflow action %q (want %s, %s or %s)",
		c.Action, WorkflowDeactivate, WorkflowDisableTriggers, WorkflowEnableTriggers)}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (a *applier) workflowAction(c *statepb.WorkflowAction) any {
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	target := WorkflowActionTarget(c)
	if w != nil {
		if repeated, rej := CheckWorkflowRepeat(a.actionByRequest(c.WorkflowId, 0, c.RequestId), c.Action, target); rej != nil {
			return rej
		} else if repeated {
			return &WorkflowActionResult{Workflow: w, Repeated: true}
		}
	}
	if rej := CheckWorkflowAction(w, c); rej != nil {
		return rej
	}
	w = shallow(w)
	msg := c.Reason
	switch c.Action {
	case WorkflowDeactivate:
		msg = strings.TrimSpace(fmt.Sprintf("version %d %s", w.ActiveVersion, c.Reason))
		w.ActiveVersion = 0
		w.InactiveReason = fmt.Sprintf("deactivated by %s at %s", actorOf(c.Actor), a.now.AsTime().UTC().Format(time.RFC3339))
		if c.Reason != "" {
			w.InactiveReason += ": " + c.Reason
		}
	case WorkflowDisableTriggers, WorkflowEnableTriggers:
		disable := c.Action == WorkflowDisableTriggers
		if c.TimeTriggers {
			w.TimeTriggersDisabled = disable
		}
		if c.SignalTriggers {
			w.SignalTriggersDisabled = disable
		}
		msg = strings.TrimSpace(target + " triggers " + c.Reason)
	}
	w.UpdateTime = c.Now
	w = a.auditWorkflow(w, workflowAudit{action: c.Action, actor: c.Actor, msg: msg, target: target, requestID: c.RequestId})
	return &WorkflowActionResult{Workflow: w}
}

// workflowAudit is an operator's action as the workflow's timeline records
// it.
type workflowAudit struct {
	action, actor, msg string
	// What the action was aimed at, and the caller's idempotency key
	// (Event.target, Event.request_id).
	target, requestID string
}

// auditWorkflow stores w (already copied for writing) with one more event on
// the workflow's own timeline — the events of instance 0 — recording who
// did what and why.
func (a *applier) auditWorkflow(w *statepb.Workflow, e workflowAudit) *statepb.Workflow {
	if e.requestID == "" {
		// The target only serves to judge a request id; without one the
		// event is what builds before protocol 4 record.
		e.target = ""
	}
	w.LastEventSeq++
	a.put(tableWorkflows, w)
	a.put(tableEvents, &statepb.Event{
		WorkflowId: w.WorkflowId, InstanceId: 0, Seq: w.LastEventSeq, Index: a.index,
		Time: a.now, Status: "ACTION", Message: e.msg, Action: e.action, Actor: actorOf(e.actor),
		Target: e.target, RequestId: e.requestID,
	})
	return w
}

// BreakpointKey names a breakpoint in one string: WORKFLOW/STEP, then
// @vVERSION and #INSTANCE when it is limited to one. Steps it pauses
// record it.
func BreakpointKey(b *statepb.Breakpoint) string {
	return breakpointKey(b.WorkflowId, b.StepId, b.Version, b.InstanceId)
}

func breakpointKey(workflowID, stepID string, version, instanceID int64) string {
	k := workflowID + "/" + stepID
	if version != 0 {
		k += fmt.Sprintf("@v%d", version)
	}
	if instanceID != 0 {
		k += fmt.Sprintf("#%d", instanceID)
	}
	return k
}

// BreakpointMatches reports whether b pauses an attempt of step stepID in
// an instance of workflowID (the workflow whose definition it runs) at
// version, whose top-level instance is instanceID.
func BreakpointMatches(b *statepb.Breakpoint, workflowID, stepID string, version, instanceID int64) bool {
	return b.WorkflowId == workflowID && b.StepId == stepID &&
		(b.Version == 0 || b.Version == version) && (b.InstanceId == 0 || b.InstanceId == instanceID)
}

// CheckBreakpointTarget says why a breakpoint cannot be set on these
// records, or nil: the workflow, and the version and instance it is
// limited to, must exist. ver and inst are nil when missing (or not asked
// for, when version or instance is 0). Whether the step exists needs the
// definition, which the leader checks before proposing.
func CheckBreakpointTarget(w *statepb.Workflow, ver *statepb.WorkflowVersion, inst *statepb.Instance, workflowID, stepID string, version, instanceID int64) *Rejection {
	if rej := CheckBreakpointArgs(workflowID, stepID, version, instanceID); rej != nil {
		return rej
	}
	switch {
	case w == nil:
		return notFound("workflow %q not found", workflowID)
	case version != 0 && ver == nil:
		return notFound("%s", MissingVersion(nil, workflowID, version, w.LatestVersion))
	case instanceID != 0 && inst == nil:
		return notFound("workflow %q has no instance %d", workflowID, instanceID)
	case instanceID != 0 && version != 0 && inst.WorkflowVersion != version:
		return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("instance %s/%d runs version %d, not %d: the breakpoint could never match",
			workflowID, instanceID, inst.WorkflowVersion, version)}
	}
	return nil
}

// CheckBreakpointArgs says why these cannot name a breakpoint, whatever the
// state: a server checks them before it forwards a request.
func CheckBreakpointArgs(workflowID, stepID string, version, instanceID int64) *Rejection {
	switch {
	case strings.TrimSpace(workflowID) == "" || strings.TrimSpace(stepID) == "":
		return &Rejection{Code: RejectInvalid, Msg: "a breakpoint needs a workflow id and a step id"}
	case version < 0:
		return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("version %d: want a version >= 1, or 0 for every version", version)}
	case instanceID < 0:
		return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("instance %d: want an instance id >= 1, or 0 for every instance", instanceID)}
	}
	return nil
}

// BreakpointResult is the Apply result of SetBreakpoint and DeleteBreakpoint.
type BreakpointResult struct {
	Breakpoint *statepb.Breakpoint
	// SetBreakpoint: false when the breakpoint existed already.
	Created bool
	// DeleteBreakpoint: true, and how many paused steps it resumed.
	Deleted bool
	Resumed int
	// The request id had already been applied: nothing was done, and
	// Breakpoint is the one the request names.
	Repeated bool
	// SetBreakpoint of one that existed: the request id was recorded.
	recorded bool
}

// repeatedBreakpoint judges a breakpoint call's request id (see
// CheckWorkflowRepeat): the result a repeat gets, a rejection, or both nil
// when the call is new.
func (a *applier) repeatedBreakpoint(action, requestID string, b *statepb.Breakpoint) (*BreakpointResult, *Rejection) {
	repeated, rej := CheckWorkflowRepeat(a.actionByRequest(b.WorkflowId, 0, requestID), action, BreakpointKey(b))
	if rej != nil || !repeated {
		return nil, rej
	}
	return &BreakpointResult{Breakpoint: b, Repeated: true}, nil
}

func (a *applier) checkBreakpoint(workflowID, stepID string, version, instanceID int64) *Rejection {
	w, _ := a.get(tableWorkflows, workflowID).(*statepb.Workflow)
	var ver *statepb.WorkflowVersion
	var inst *statepb.Instance
	if version > 0 {
		ver, _ = a.get(tableVersions, workflowID, version).(*statepb.WorkflowVersion)
	}
	if instanceID > 0 {
		inst, _ = a.get(tableInstances, workflowID, instanceID).(*statepb.Instance)
	}
	return CheckBreakpointTarget(w, ver, inst, workflowID, stepID, version, instanceID)
}

func (a *applier) setBreakpoint(c *statepb.SetBreakpoint) any {
	named := &statepb.Breakpoint{WorkflowId: c.WorkflowId, StepId: c.StepId, Version: c.Version, InstanceId: c.InstanceId}
	if res, rej := a.repeatedBreakpoint("SET_BREAKPOINT", c.RequestId, named); rej != nil {
		return rej
	} else if res != nil {
		if b, _ := a.get(tableBreakpoints, c.WorkflowId, c.StepId, c.Version, c.InstanceId).(*statepb.Breakpoint); b != nil {
			res.Breakpoint = b
		}
		return res
	}
	if rej := a.checkBreakpoint(c.WorkflowId, c.StepId, c.Version, c.InstanceId); rej != nil {
		return rej
	}
	w := shallow(a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow))
	audit := workflowAudit{action: "SET_BREAKPOINT", actor: c.Actor, target: BreakpointKey(named), requestID: c.RequestId}
	if b, _ := a.get(tableBreakpoints, c.WorkflowId, c.StepId, c.Version, c.InstanceId).(*statepb.Breakpoint); b != nil {
		if c.RequestId != "" {
			// Recorded so that a late copy of this call, after a delete,
			// is a repeat rather than a new breakpoint.
			audit.msg = strings.TrimSpace(audit.target + " (already set) " + c.Reason)
			a.auditWorkflow(w, audit)
		}
		return &BreakpointResult{Breakpoint: b, Created: false, recorded: c.RequestId != ""}
	}
	b := &statepb.Breakpoint{
		WorkflowId: c.WorkflowId, StepId: c.StepId, Version: c.Version, InstanceId: c.InstanceId,
		CreateTime: c.Now, Actor: actorOf(c.Actor), Reason: c.Reason,
	}
	a.put(tableBreakpoints, b)
	audit.msg = strings.TrimSpace(audit.target + " " + c.Reason)
	a.auditWorkflow(w, audit)
	return &BreakpointResult{Breakpoint: b, Created: true}
}

func (a *applier) deleteBreakpoint(c *statepb.DeleteBreakpoint) any {
	named := &statepb.Breakpoint{WorkflowId: c.WorkflowId, StepId: c.StepId, Version: c.Version, InstanceId: c.InstanceId}
	if res, rej := a.repeatedBreakpoint("DELETE_BREAKPOINT", c.RequestId, named); rej != nil {
		return rej
	} else if res != nil {
		return res
	}
	b, _ := a.get(tableBreakpoints, c.WorkflowId, c.StepId, c.Version, c.InstanceId).(*statepb.Breakpoint)
	if b == nil {
		if a.get(tableWorkflows, c.WorkflowId) == nil {
			return notFound("workflow %q not found", c.WorkflowId)
		}
		return notFound("workflow %q has no breakpoint %s", c.WorkflowId, BreakpointKey(named))
	}
	if err := a.txn.Delete(tableBreakpoints, b); err != nil {
		panic(fmt.Sprintf("delete breakpoint: %v", err))
	}
	key := BreakpointKey(b)
	res := &BreakpointResult{Breakpoint: b, Deleted: true}
	if !c.KeepPaused {
		// Collect first: the writes below change the index being read.
		var held []*statepb.Step
		it, err := a.txn.Get(tableSteps, "paused_at_prefix", key)
		if err != nil {
			panic(fmt.Sprintf("list steps paused at %s: %v", key, err))
		}
		for o := it.Next(); o != nil; o = it.Next() {
			held = append(held, o.(*statepb.Step))
		}
		why := "breakpoint " + key + " deleted"
		if c.Reason != "" {
			why += ": " + c.Reason
		}
		for _, st := range held {
			a.audit(st.WorkflowId, st.InstanceId, st.StepId, "RESUME", c.Actor, why, "")
			a.resume(st, "RESUME by "+actorOf(c.Actor)+": "+why)
			res.Resumed++
		}
	}
	msg := key
	if c.KeepPaused {
		msg += " (paused steps kept paused)"
	} else if res.Resumed > 0 {
		msg += fmt.Sprintf(" (resumed %d paused steps)", res.Resumed)
	}
	w := shallow(a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow))
	a.auditWorkflow(w, workflowAudit{action: "DELETE_BREAKPOINT", actor: c.Actor, msg: strings.TrimSpace(msg + " " + c.Reason),
		target: key, requestID: c.RequestId})
	return res
}

// resume lets a PAUSED step start: its next attempt goes ahead even when a
// breakpoint matches it.
func (a *applier) resume(st *statepb.Step, why string) *statepb.Step {
	st = mutableStep(st)
	st.BreakpointPassed = int64(len(st.Attempts)) + 1
	st.PausedAt = ""
	return a.setStep(st, StepNotCreated, why, nil)
}
