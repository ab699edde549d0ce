package rpc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

// workflowAction checks an operator's action on a workflow on the leader,
// so a refused one writes nothing, then commits it. repeated is set when
// its request id had already been applied.
func (w *workflowService) workflowAction(ctx context.Context, cmd *statepb.WorkflowAction) (wf *statepb.Workflow, repeated bool, err error) {
	cmd.Actor, cmd.Now = actor(ctx), timestamppb.New(w.Now())
	st := w.FSM.State()
	wf = st.Workflow(nil, cmd.WorkflowId)
	if wf != nil {
		// Judged before the state the first copy left (triggers already
		// disabled, say) refuses the call.
		if repeated, err := repeatedWorkflowAction(st, cmd.WorkflowId, cmd.RequestId, cmd.Action, fsm.WorkflowActionTarget(cmd)); err != nil || repeated {
			return wf, repeated, err
		}
	}
	if rej := fsm.CheckWorkflowAction(wf, cmd); rej != nil {
		return nil, false, rejectionError(rej)
	}
	res, err := w.apply(ctx, cmd)
	if err != nil {
		return nil, false, err
	}
	r := res.(*fsm.WorkflowActionResult)
	return r.Workflow, r.Repeated, nil
}

func (w *workflowService) Deactivate(ctx context.Context, req *connect.Request[workflowv1.DeactivateRequest]) (*connect.Response[workflowv1.DeactivateResponse], error) {
	if req.Msg.WorkflowId == "" {
		return nil, invalid(errors.New("deactivate needs workflow_id"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.DeactivateRequest) (*workflowv1.DeactivateResponse, error) {
		wf, repeated, err := w.workflowAction(ctx, &statepb.WorkflowAction{WorkflowId: m.WorkflowId, Action: fsm.WorkflowDeactivate,
			Reason: m.Reason, RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		return &workflowv1.DeactivateResponse{Workflow: wf, Repeated: repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.DeactivateRequest]) (*connect.Response[workflowv1.DeactivateResponse], error) {
		return p.workflow.Deactivate
	})
}

func (w *workflowService) SetTriggers(ctx context.Context, req *connect.Request[workflowv1.SetTriggersRequest]) (*connect.Response[workflowv1.SetTriggersResponse], error) {
	switch {
	case req.Msg.WorkflowId == "":
		return nil, invalid(errors.New("set triggers needs workflow_id"))
	case !req.Msg.Time && !req.Msg.Signal:
		return nil, invalid(errors.New("name the triggers to switch: time, signal or both"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.SetTriggersRequest) (*workflowv1.SetTriggersResponse, error) {
		action := fsm.WorkflowDisableTriggers
		if m.Enabled {
			action = fsm.WorkflowEnableTriggers
		}
		wf, repeated, err := w.workflowAction(ctx, &statepb.WorkflowAction{WorkflowId: m.WorkflowId, Action: action,
			TimeTriggers: m.Time, SignalTriggers: m.Signal, Reason: m.Reason, RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		return &workflowv1.SetTriggersResponse{Workflow: wf, Repeated: repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.SetTriggersRequest]) (*connect.Response[workflowv1.SetTriggersResponse], error) {
		return p.workflow.SetTriggers
	})
}

// checkBreakpointStep says why a breakpoint cannot name this step: it must
// be a step (nested ones included) of the version the breakpoint is
// limited to, or of some version. Versions never change, so what holds
// here holds when the command applies.
func (w *workflowService) checkBreakpointStep(st *fsm.State, workflowID, stepID string, version int64) error {
	versions := st.Versions(nil, workflowID)
	if version != 0 {
		versions = []*statepb.WorkflowVersion{st.Version(nil, workflowID, version)}
	}
	var known []string
	for _, v := range versions {
		def, _, err := w.Defs.Definition(v)
		if err != nil {
			return connect.NewError(connect.CodeInternal, err)
		}
		if def.FindStep(stepID) != nil {
			return nil
		}
		known = def.StepIDs()
	}
	where := "any version"
	if version != 0 {
		where = fmt.Sprintf("version %d", version)
	}
	return notFound(fmt.Errorf("workflow %q has no step %q in %s (the latest has: %s)", workflowID, stepID, where, strings.Join(known, ", ")))
}

func breakpointRecords(st *fsm.State, workflowID string, version, instanceID int64) (*statepb.Workflow, *statepb.WorkflowVersion, *statepb.Instance) {
	var ver *statepb.WorkflowVersion
	var inst *statepb.Instance
	if version > 0 {
		ver = st.Version(nil, workflowID, version)
	}
	if instanceID > 0 {
		inst = st.Instance(nil, workflowID, instanceID)
	}
	return st.Workflow(nil, workflowID), ver, inst
}

func (w *workflowService) SetBreakpoint(ctx context.Context, req *connect.Request[workflowv1.SetBreakpointRequest]) (*connect.Response[workflowv1.SetBreakpointResponse], error) {
	if rej := fsm.CheckBreakpointArgs(req.Msg.WorkflowId, req.Msg.StepId, req.Msg.Version, req.Msg.InstanceId); rej != nil {
		return nil, rejectionError(rej)
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.SetBreakpointRequest) (*workflowv1.SetBreakpointResponse, error) {
		st := w.FSM.State()
		named := &statepb.Breakpoint{WorkflowId: m.WorkflowId, StepId: m.StepId, Version: m.Version, InstanceId: m.InstanceId}
		existing := st.Breakpoint(m.WorkflowId, m.StepId, m.Version, m.InstanceId)
		if repeated, err := repeatedWorkflowAction(st, m.WorkflowId, m.RequestId, "SET_BREAKPOINT", fsm.BreakpointKey(named)); err != nil {
			return nil, err
		} else if repeated {
			if existing != nil {
				named = existing
			}
			return &workflowv1.SetBreakpointResponse{Breakpoint: named, Repeated: true}, nil
		}
		wf, ver, inst := breakpointRecords(st, m.WorkflowId, m.Version, m.InstanceId)
		if rej := fsm.CheckBreakpointTarget(wf, ver, inst, m.WorkflowId, m.StepId, m.Version, m.InstanceId); rej != nil {
			return nil, rejectionError(rej)
		}
		switch {
		case existing != nil && m.RequestId == "":
			return &workflowv1.SetBreakpointResponse{Breakpoint: existing, Created: false}, nil
		case existing == nil:
			// An existing breakpoint's step was checked when it was set.
			if err := w.checkBreakpointStep(st, m.WorkflowId, m.StepId, m.Version); err != nil {
				return nil, err
			}
		}
		// With a request id even a breakpoint that exists goes through
		// Raft, to record the id (see statepb.SetBreakpoint.request_id).
		res, err := w.apply(ctx, &statepb.SetBreakpoint{WorkflowId: m.WorkflowId, StepId: m.StepId, Version: m.Version,
			InstanceId: m.InstanceId, Actor: actor(ctx), Reason: m.Reason, Now: timestamppb.New(w.Now()), RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.BreakpointResult)
		return &workflowv1.SetBreakpointResponse{Breakpoint: r.Breakpoint, Created: r.Created, Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.SetBreakpointRequest]) (*connect.Response[workflowv1.SetBreakpointResponse], error) {
		return p.workflow.SetBreakpoint
	})
}

func (w *workflowService) ListBreakpoints(ctx context.Context, req *connect.Request[workflowv1.ListBreakpointsRequest]) (*connect.Response[workflowv1.ListBreakpointsResponse], error) {
	if req.Msg.WorkflowId == "" {
		return nil, invalid(errors.New("workflow_id is required"))
	}
	return onRead(ctx, w.Server, req, req.Msg.Stale, func(context.Context, *workflowv1.ListBreakpointsRequest) (*workflowv1.ListBreakpointsResponse, error) {
		st := w.FSM.State()
		if st.Workflow(nil, req.Msg.WorkflowId) == nil {
			return nil, rejectionError(fsm.WorkflowNotFound(st, req.Msg.WorkflowId))
		}
		res := &workflowv1.ListBreakpointsResponse{Breakpoints: st.Breakpoints(nil, req.Msg.WorkflowId, req.Msg.StepId)}
		for _, b := range res.Breakpoints {
			key := fsm.BreakpointKey(b)
			for _, step := range st.StepsPausedAt(nil, key) {
				res.Paused = append(res.Paused, &workflowv1.PausedStep{
					WorkflowId: step.WorkflowId, InstanceId: step.InstanceId, StepId: step.StepId,
					AttemptNumber: int64(len(step.Attempts)) + 1, Breakpoint: key,
				})
			}
		}
		return res, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.ListBreakpointsRequest]) (*connect.Response[workflowv1.ListBreakpointsResponse], error) {
		return p.workflow.ListBreakpoints
	})
}

func (w *workflowService) DeleteBreakpoint(ctx context.Context, req *connect.Request[workflowv1.DeleteBreakpointRequest]) (*connect.Response[workflowv1.DeleteBreakpointResponse], error) {
	if rej := fsm.CheckBreakpointArgs(req.Msg.WorkflowId, req.Msg.StepId, req.Msg.Version, req.Msg.InstanceId); rej != nil {
		return nil, rejectionError(rej)
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.DeleteBreakpointRequest) (*workflowv1.DeleteBreakpointResponse, error) {
		st := w.FSM.State()
		if st.Workflow(nil, m.WorkflowId) == nil {
			return nil, rejectionError(fsm.WorkflowNotFound(st, m.WorkflowId))
		}
		named := &statepb.Breakpoint{WorkflowId: m.WorkflowId, StepId: m.StepId, Version: m.Version, InstanceId: m.InstanceId}
		// Judged before the not-found a repeat would otherwise get.
		if repeated, err := repeatedWorkflowAction(st, m.WorkflowId, m.RequestId, "DELETE_BREAKPOINT", fsm.BreakpointKey(named)); err != nil {
			return nil, err
		} else if repeated {
			return &workflowv1.DeleteBreakpointResponse{Breakpoint: named, Repeated: true}, nil
		}
		if st.Breakpoint(m.WorkflowId, m.StepId, m.Version, m.InstanceId) == nil {
			var have []string
			for _, b := range st.Breakpoints(nil, m.WorkflowId, "") {
				have = append(have, fsm.BreakpointKey(b))
			}
			msg := "it has none"
			if len(have) > 0 {
				msg = "it has " + strings.Join(have, ", ")
			}
			return nil, notFound(fmt.Errorf("workflow %q has no breakpoint %s (%s)", m.WorkflowId, fsm.BreakpointKey(named), msg))
		}
		res, err := w.apply(ctx, &statepb.DeleteBreakpoint{WorkflowId: m.WorkflowId, StepId: m.StepId, Version: m.Version,
			InstanceId: m.InstanceId, KeepPaused: m.KeepPaused, Actor: actor(ctx), Reason: m.Reason, Now: timestamppb.New(w.Now()),
			RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.BreakpointResult)
		return &workflowv1.DeleteBreakpointResponse{Breakpoint: r.Breakpoint, Resumed: int32(r.Resumed), Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.DeleteBreakpointRequest]) (*connect.Response[workflowv1.DeleteBreakpointResponse], error) {
		return p.workflow.DeleteBreakpoint
	})
}

// workflowTimeline returns the operator actions on a workflow and its
// trigger records.
func workflowTimeline(st *fsm.State, workflowID string) ([]*statepb.Trigger, []*statepb.Event) {
	return st.Triggers(nil, workflowID), st.Events(nil, workflowID, 0, 0)
}

// inactiveError is what a start of the active version of a deactivated
// workflow gets.
func inactiveError(wf *statepb.Workflow) error {
	why := wf.InactiveReason
	if why == "" {
		why = "it has no active version"
	}
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
		"workflow %q is inactive (%s); activate a version (baton workflow activate %s VERSION) or start one by number", wf.WorkflowId, why, wf.WorkflowId))
}
