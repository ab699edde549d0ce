package rpc

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
)

type instanceService struct{ *Server }

var _ instancev1connect.InstanceServiceHandler = (*instanceService)(nil)

// maxRequestIDLength bounds an idempotency key.
const maxRequestIDLength = 128

func (s *instanceService) Start(ctx context.Context, req *connect.Request[instancev1.StartRequest]) (*connect.Response[instancev1.StartResponse], error) {
	if req.Msg.WorkflowId == "" {
		return nil, invalid(errors.New("workflow_id is required"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	if n, most := len(req.Msg.Params), workflow.DefaultLimits().MaxParams; n > most {
		return nil, invalid(fmt.Errorf("%d run params; the limit is %d", n, most))
	}
	// The key is fixed before forwarding, so every retry below is idempotent.
	if req.Msg.RequestId == "" {
		req.Msg.RequestId = newRequestID()
	}
	return onLeader(ctx, s.Server, req, s.startLocal, func(p *peerClients) func(context.Context, *connect.Request[instancev1.StartRequest]) (*connect.Response[instancev1.StartResponse], error) {
		return p.instance.Start
	})
}

func (s *instanceService) startLocal(ctx context.Context, req *instancev1.StartRequest) (*instancev1.StartResponse, error) {
	st := s.FSM.State()
	if inst := st.InstanceByRequest(req.RequestId); inst != nil {
		if inst.WorkflowId != req.WorkflowId {
			return nil, invalid(fmt.Errorf("request_id %q already started an instance of workflow %q", req.RequestId, inst.WorkflowId))
		}
		return &instancev1.StartResponse{Instance: inst, Created: false}, nil
	}
	if rej := fsm.DeletedStart(st.DeletedWorkflow(req.WorkflowId), req.RequestId); rej != nil {
		return nil, rejectionError(rej)
	}
	_, ver, err := resolveVersion(st, req.WorkflowId, req.Version)
	if err != nil {
		return nil, err
	}
	def, dag, err := s.Defs.Definition(ver)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	now := s.Now()
	params, err := startParams(def, req.Params, now)
	if err != nil {
		return nil, invalid(err)
	}
	cmd := &statepb.StartInstance{
		RequestId: req.RequestId, WorkflowId: req.WorkflowId, WorkflowVersion: ver.Version,
		Params: params, Now: timestamppb.New(now),
	}
	for _, id := range dag.Order {
		cmd.Steps = append(cmd.Steps, &statepb.StepSeed{StepId: id, Type: def.Step(id).Type})
	}
	res, err := s.apply(ctx, cmd)
	if err != nil {
		return nil, err
	}
	r := res.(*fsm.StartResult)
	return &instancev1.StartResponse{Instance: r.Instance, Created: r.Created}, nil
}

// startParams merges the definition's workflow params with the run params
// (parsed by their declared type; STRING when undeclared) and evaluates them.
//
// The merge order is Maestro's: system defaults, then the definition's
// params, then the run params; CONSTANT and IMMUTABLE params cannot be set
// at start.
func startParams(def *workflow.Definition, run map[string]string, now time.Time) (map[string]*statepb.Param, error) {
	defs := workflow.SystemParams(now)
	for name, p := range def.Workflow.Params {
		defs[name] = p
	}
	names := make([]string, 0, len(run))
	for name := range run {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if name == "" {
			return nil, errors.New("a run param has an empty name")
		}
		t := workflow.String
		if d, ok := defs[name]; ok {
			if !workflow.SettableAtStart(d.Mode) {
				return nil, fmt.Errorf("run param %s: the param is %s and cannot be set at start", name, strings.ToUpper(d.Mode))
			}
			if d.Type != "" {
				t = d.Type
			}
		}
		v, err := workflow.ParseValueString(t, run[name])
		if err != nil {
			return nil, fmt.Errorf("run param %s: %w", name, err)
		}
		defs[name] = workflow.ParamDef{Type: t, Value: &v}
	}
	values, err := workflow.ResolveParamsWith(defs, nil, workflow.EvalOptions{Now: now, NewUUID: workflow.RandomUUID})
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	out := make(map[string]*statepb.Param, len(values))
	for name, v := range values {
		p, err := scheduler.ParamFromValue(v)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

func (s *instanceService) Get(ctx context.Context, req *connect.Request[instancev1.GetRequest]) (*connect.Response[instancev1.GetResponse], error) {
	return onRead(ctx, s.Server, req, req.Msg.Stale, func(context.Context, *instancev1.GetRequest) (*instancev1.GetResponse, error) {
		st := s.FSM.State()
		inst := st.Instance(nil, req.Msg.WorkflowId, req.Msg.InstanceId)
		if inst == nil {
			return nil, s.instanceNotFound(st, req.Msg.WorkflowId, req.Msg.InstanceId)
		}
		res := &instancev1.GetResponse{Instance: inst, Steps: s.orderedSteps(st, inst), Rollup: map[string]int64{}}
		for _, e := range st.Events(nil, inst.WorkflowId, inst.InstanceId, 0) {
			if e.Action != "" {
				res.Actions = append(res.Actions, e)
			}
		}
		rollup(st, inst, res.Steps, res.Rollup)
		for _, step := range res.Steps {
			if step.Loop == nil {
				continue
			}
			kids := st.Children(nil, inst.WorkflowId, inst.InstanceId, step.StepId)
			if len(kids) == 0 {
				continue
			}
			sum := &instancev1.ChildSummary{StepId: step.StepId, WorkflowId: step.Loop.ChildWorkflowId, Count: int64(len(kids))}
			for i, k := range kids {
				if i == maxChildIDs {
					break
				}
				sum.InstanceIds = append(sum.InstanceIds, k.InstanceId)
			}
			res.Children = append(res.Children, sum)
		}
		return res, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[instancev1.GetRequest]) (*connect.Response[instancev1.GetResponse], error) {
		return p.instance.Get
	})
}

// maxChildIDs bounds the child instance ids a Get lists per step.
const maxChildIDs = 20

// rollup counts the leaf steps of inst and of every instance under it by
// status. The tree is bounded: loops cap their iterations and nesting depth.
func rollup(st *fsm.State, inst *statepb.Instance, steps []*statepb.Step, counts map[string]int64) {
	if steps == nil {
		steps = st.Steps(nil, inst.WorkflowId, inst.InstanceId)
	}
	for _, step := range steps {
		if step.Loop == nil && !workflow.IsControl(step.Type) {
			counts[step.Status]++
			continue
		}
		for _, child := range st.Children(nil, inst.WorkflowId, inst.InstanceId, step.StepId) {
			rollup(st, child, nil, counts)
		}
	}
}

// orderedSteps lists an instance's steps in definition order.
func (s *Server) orderedSteps(st *fsm.State, inst *statepb.Instance) []*statepb.Step {
	steps := st.Steps(nil, inst.WorkflowId, inst.InstanceId)
	_, dag, err := scheduler.InstanceDefinition(st, s.Defs, inst)
	if err != nil {
		return steps
	}
	pos := map[string]int{}
	for i, id := range dag.Order {
		pos[id] = i
	}
	sort.SliceStable(steps, func(i, j int) bool { return pos[steps[i].StepId] < pos[steps[j].StepId] })
	return steps
}

func (s *Server) instanceNotFound(st *fsm.State, workflowID string, id int64) error {
	if workflowID == "" {
		return invalid(errors.New("workflow_id is required"))
	}
	if st.Workflow(nil, workflowID) == nil && !workflow.IsInlineWorkflowID(workflowID) {
		return rejectionError(fsm.WorkflowNotFound(st, workflowID))
	}
	return notFound(fmt.Errorf("workflow %q has no instance %d", workflowID, id))
}

func (s *instanceService) List(ctx context.Context, req *connect.Request[instancev1.ListRequest]) (*connect.Response[instancev1.ListResponse], error) {
	page, err := instancePage(req.Msg)
	if err != nil {
		return nil, err
	}
	return onRead(ctx, s.Server, req, req.Msg.Stale, func(context.Context, *instancev1.ListRequest) (*instancev1.ListResponse, error) {
		st := s.FSM.State()
		list, more := st.InstancesPage(page)
		// Iterations of a foreach or while have no workflow record of their
		// own; their workflow id exists while iterations do.
		wf := req.Msg.WorkflowId
		if st.Workflow(nil, wf) == nil && (!workflow.IsInlineWorkflowID(wf) || len(st.Instances(nil, wf, 1)) == 0) {
			return nil, rejectionError(fsm.WorkflowNotFound(st, wf))
		}
		res := &instancev1.ListResponse{Instances: list}
		if more {
			res.NextBefore = list[len(list)-1].InstanceId
		}
		return res, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[instancev1.ListRequest]) (*connect.Response[instancev1.ListResponse], error) {
		return p.instance.List
	})
}

// instancePage checks a list request and says which page it asks for.
func instancePage(m *instancev1.ListRequest) (fsm.InstancePage, error) {
	p := fsm.InstancePage{WorkflowID: m.WorkflowId, Before: m.Before, Limit: int(m.Limit)}
	if m.WorkflowId == "" {
		return p, invalid(errors.New("workflow_id is required"))
	}
	limit, err := checkPage(m.Limit, m.Before, "instances", "an instance id")
	if err != nil {
		return p, err
	}
	p.Limit = limit
	for _, status := range m.Statuses {
		if !slices.Contains(fsm.InstanceStatuses, status) {
			return p, invalid(fmt.Errorf("status %q: want one of %s", status, strings.Join(fsm.InstanceStatuses, ", ")))
		}
	}
	p.Statuses = m.Statuses
	return p, nil
}

// checkPage checks a list's page and says how many to list (100 when the
// caller did not say).
func checkPage(limit int32, before int64, things, number string) (int, error) {
	switch {
	case limit < 0:
		return 0, invalid(fmt.Errorf("limit %d: want a number of %s (0 for 100)", limit, things))
	case before < 0:
		return 0, invalid(fmt.Errorf("before %d: want %s, or 0 for the newest", before, number))
	case limit == 0:
		return 100, nil
	}
	return int(limit), nil
}

func (s *instanceService) Stop(ctx context.Context, req *connect.Request[instancev1.StopRequest]) (*connect.Response[instancev1.StopResponse], error) {
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, s.Server, req, func(ctx context.Context, m *instancev1.StopRequest) (*instancev1.StopResponse, error) {
		// Checked on the leader before Raft, so a refused stop writes nothing.
		st := s.FSM.State()
		inst := st.Instance(nil, m.WorkflowId, m.InstanceId)
		if inst == nil {
			return nil, s.instanceNotFound(st, m.WorkflowId, m.InstanceId)
		}
		action := "STOP"
		if m.Kill {
			action = "KILL"
		}
		// A stop sent again is judged by what its first copy did, before
		// the state it left (the instance now STOPPED) refuses it.
		if repeated, err := repeatedAction(st, m.WorkflowId, m.InstanceId, m.RequestId, "", action); err != nil {
			return nil, err
		} else if repeated {
			return &instancev1.StopResponse{Instance: inst, Repeated: repeated}, nil
		}
		if fsm.InstanceTerminal(inst.Status) {
			return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
				"instance %s/%d is already %s; only CREATED or IN_PROGRESS instances can be stopped", m.WorkflowId, m.InstanceId, inst.Status))
		}
		if m.Kill {
			res, err := s.apply(ctx, &statepb.Action{WorkflowId: m.WorkflowId, InstanceId: m.InstanceId, Action: "KILL",
				Actor: actor(ctx), Reason: m.Reason, Now: timestamppb.New(s.Now()), RequestId: m.RequestId})
			if err != nil {
				return nil, err
			}
			r := res.(*fsm.ActionResult)
			return &instancev1.StopResponse{Instance: r.Instance, Repeated: r.Repeated}, nil
		}
		res, err := s.apply(ctx, &statepb.StopInstance{WorkflowId: m.WorkflowId, InstanceId: m.InstanceId, Reason: m.Reason, Actor: actor(ctx),
			Now: timestamppb.New(s.Now()), RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.StopResult)
		return &instancev1.StopResponse{Instance: r.Instance, Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[instancev1.StopRequest]) (*connect.Response[instancev1.StopResponse], error) {
		return p.instance.Stop
	})
}

// Watch streams the instance's timeline from after_seq, then each new event
// as it is applied, and ends after the event that made the instance terminal.
func (s *instanceService) Watch(ctx context.Context, req *connect.Request[instancev1.WatchRequest], stream *connect.ServerStream[instancev1.WatchResponse]) error {
	if err := s.waitReplayed(ctx); err != nil {
		return err
	}
	after := req.Msg.AfterSeq
	var catchUp time.Time // set once the leader confirmed the instance exists
	for {
		ws := memdb.NewWatchSet()
		st := s.FSM.State()
		inst := st.Instance(ws, req.Msg.WorkflowId, req.Msg.InstanceId)
		if inst == nil {
			// This replica may simply be behind the leader (the instance was
			// just started through it): ask the leader, then wait to catch up.
			if catchUp.IsZero() {
				get := connect.NewRequest(&instancev1.GetRequest{WorkflowId: req.Msg.WorkflowId, InstanceId: req.Msg.InstanceId})
				if _, err := s.Get(ctx, get); err != nil {
					return err
				}
				catchUp = time.Now().Add(s.ForwardWait)
			}
			if time.Now().After(catchUp) {
				return connect.NewError(connect.CodeUnavailable, errors.New("this node's replica is behind the leader; retry later"))
			}
			wctx, cancel := context.WithDeadline(ctx, catchUp)
			_ = ws.WatchCtx(wctx)
			cancel()
			if ctx.Err() != nil {
				return connect.NewError(connect.CodeCanceled, ctx.Err())
			}
			continue
		}
		for _, e := range st.Events(ws, req.Msg.WorkflowId, req.Msg.InstanceId, after) {
			if err := stream.Send(&instancev1.WatchResponse{Event: e}); err != nil {
				return err
			}
			after = e.Seq
		}
		if fsm.InstanceTerminal(inst.Status) && after >= inst.LastEventSeq {
			return nil
		}
		if err := ws.WatchCtx(ctx); err != nil {
			return connect.NewError(connect.CodeCanceled, err)
		}
	}
}

// checkRequestID refuses an idempotency key longer than the limit.
func checkRequestID(id string) error {
	if len(id) > maxRequestIDLength {
		return invalid(fmt.Errorf("request_id is %d characters; the limit is %d", len(id), maxRequestIDLength))
	}
	return nil
}

// repeatedAction reports whether an operator action with this request id was
// already applied to the instance, or why the id cannot be used for it.
func repeatedAction(st *fsm.State, workflowID string, instanceID int64, requestID, stepID, action string) (bool, error) {
	return repeatError(fsm.CheckRepeat(st.ActionByRequest(workflowID, instanceID, requestID), stepID, action))
}

// repeatedWorkflowAction is repeatedAction for an action on a workflow,
// aimed at target (see fsm.CheckWorkflowRepeat).
func repeatedWorkflowAction(st *fsm.State, workflowID, requestID, action, target string) (bool, error) {
	return repeatError(fsm.CheckWorkflowRepeat(st.ActionByRequest(workflowID, 0, requestID), action, target))
}

func repeatError(repeated bool, rej *fsm.Rejection) (bool, error) {
	if rej != nil {
		return false, rejectionError(rej)
	}
	return repeated, nil
}

// restartedSteps is what a repeated restart (of an instance, or of a step)
// answers: the steps its first copy set back to run again.
func restartedSteps(st *fsm.State, workflowID string, instanceID int64, requestID string) []string {
	if e := st.ActionByRequest(workflowID, instanceID, requestID); e != nil {
		return st.RestartedSteps(e)
	}
	return nil
}

// actor is who calls: there is no authentication yet, so every action is
// recorded as done by "anonymous".
func actor(context.Context) string { return "anonymous" }

func (s *instanceService) Restart(ctx context.Context, req *connect.Request[instancev1.RestartRequest]) (*connect.Response[instancev1.RestartResponse], error) {
	policy := strings.ToUpper(strings.TrimSpace(req.Msg.Policy))
	switch policy {
	case "":
		policy = "RESTART_FROM_INCOMPLETE"
	case "RESTART_FROM_INCOMPLETE", "RESTART_FROM_BEGINNING":
	case "RESTART_FROM_SPECIFIC":
		if req.Msg.StepId == "" {
			return nil, invalid(errors.New("RESTART_FROM_SPECIFIC needs step_id"))
		}
	default:
		return nil, invalid(fmt.Errorf("unknown restart policy %q (want RESTART_FROM_INCOMPLETE, RESTART_FROM_BEGINNING or RESTART_FROM_SPECIFIC)", req.Msg.Policy))
	}
	req.Msg.Policy = policy
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, s.Server, req, func(ctx context.Context, m *instancev1.RestartRequest) (*instancev1.RestartResponse, error) {
		st := s.FSM.State()
		inst := st.Instance(nil, m.WorkflowId, m.InstanceId)
		if inst == nil {
			return nil, s.instanceNotFound(st, m.WorkflowId, m.InstanceId)
		}
		if repeated, err := repeatedAction(st, m.WorkflowId, m.InstanceId, m.RequestId, "", "RESTART"); err != nil {
			return nil, err
		} else if repeated {
			return &instancev1.RestartResponse{Instance: inst, Steps: restartedSteps(st, m.WorkflowId, m.InstanceId, m.RequestId), Repeated: true}, nil
		}
		cmd := &statepb.Action{WorkflowId: m.WorkflowId, InstanceId: m.InstanceId, Action: "RESTART", RestartPolicy: m.Policy,
			Actor: actor(ctx), Reason: m.Reason, Now: timestamppb.New(s.Now()), RequestId: m.RequestId}
		if rej := fsm.CheckAction(inst, nil, cmd); rej != nil {
			return nil, rejectionError(rej)
		}
		reset, err := s.restartSteps(st, inst, m.Policy, m.StepId)
		if err != nil {
			return nil, err
		}
		cmd.ResetSteps = reset
		if rej := fsm.CheckRestartSteps(inst, cmd); rej != nil {
			return nil, rejectionError(rej)
		}
		res, err := s.apply(ctx, cmd)
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.ActionResult)
		if r.Repeated {
			// A copy of this call was applied while this one waited.
			reset = restartedSteps(s.FSM.State(), m.WorkflowId, m.InstanceId, m.RequestId)
		}
		return &instancev1.RestartResponse{Instance: r.Instance, Steps: reset, Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[instancev1.RestartRequest]) (*connect.Response[instancev1.RestartResponse], error) {
		return p.instance.Restart
	})
}

// restartSteps chooses, in definition order, the steps a restart runs again.
func (s *Server) restartSteps(st *fsm.State, inst *statepb.Instance, policy, from string) ([]string, error) {
	if rej := fsm.CheckRunnable(st, inst); rej != nil {
		return nil, rejectionError(rej)
	}
	_, dag, err := scheduler.InstanceDefinition(st, s.Defs, inst)
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	steps := map[string]*statepb.Step{}
	for _, step := range st.Steps(nil, inst.WorkflowId, inst.InstanceId) {
		steps[step.StepId] = step
	}
	pick := map[string]bool{}
	switch policy {
	case "RESTART_FROM_BEGINNING":
		for _, id := range dag.Order {
			pick[id] = true
		}
	case "RESTART_FROM_INCOMPLETE":
		for _, id := range dag.Order {
			if step := steps[id]; step == nil || (step.Status != fsm.StepSucceeded && step.Status != fsm.StepCompletedWithError && step.Status != fsm.StepSkipped) {
				pick[id] = true
			}
		}
	case "RESTART_FROM_SPECIFIC":
		if _, ok := dag.Preds[from]; !ok {
			return nil, notFound(fmt.Errorf("instance %s/%d has no step %q (its steps: %s)", inst.WorkflowId, inst.InstanceId, from, strings.Join(dag.Order, ", ")))
		}
		queue := []string{from}
		for len(queue) > 0 {
			id := queue[0]
			queue = queue[1:]
			if pick[id] {
				continue
			}
			pick[id] = true
			for _, e := range dag.Succs[id] {
				queue = append(queue, e.To)
			}
		}
	}
	var out []string
	for _, id := range dag.Order {
		if pick[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func (s *instanceService) StepAction(ctx context.Context, req *connect.Request[instancev1.StepActionRequest]) (*connect.Response[instancev1.StepActionResponse], error) {
	if req.Msg.StepId == "" {
		return nil, invalid(errors.New("step_id is required"))
	}
	req.Msg.Action = strings.ToUpper(strings.TrimSpace(req.Msg.Action))
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, s.Server, req, func(ctx context.Context, m *instancev1.StepActionRequest) (*instancev1.StepActionResponse, error) {
		st := s.FSM.State()
		inst := st.Instance(nil, m.WorkflowId, m.InstanceId)
		if inst == nil {
			return nil, s.instanceNotFound(st, m.WorkflowId, m.InstanceId)
		}
		step := st.Step(nil, m.WorkflowId, m.InstanceId, m.StepId)
		if repeated, err := repeatedAction(st, m.WorkflowId, m.InstanceId, m.RequestId, m.StepId, m.Action); err != nil {
			return nil, err
		} else if repeated {
			out := &instancev1.StepActionResponse{Step: step, Instance: inst, Repeated: true}
			if m.Action == "RESTART" {
				out.Steps = restartedSteps(st, m.WorkflowId, m.InstanceId, m.RequestId)
			}
			return out, nil
		}
		cmd := &statepb.Action{WorkflowId: m.WorkflowId, InstanceId: m.InstanceId, StepId: m.StepId, Action: m.Action,
			Actor: actor(ctx), Reason: m.Reason, Now: timestamppb.New(s.Now()), RequestId: m.RequestId}
		if rej := fsm.CheckAction(inst, step, cmd); rej != nil {
			return nil, rejectionError(rej)
		}
		steps := []string{m.StepId}
		if m.Action == "RESTART" && fsm.InstanceTerminal(inst.Status) {
			// Of an ended instance, a step restart is a restart of the
			// instance from that step.
			reset, err := s.restartSteps(st, inst, "RESTART_FROM_SPECIFIC", m.StepId)
			if err != nil {
				return nil, err
			}
			cmd.RestartPolicy, cmd.ResetSteps, steps = "RESTART_FROM_SPECIFIC", reset, reset
		}
		res, err := s.apply(ctx, cmd)
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.ActionResult)
		out := &instancev1.StepActionResponse{Step: r.Step, Instance: r.Instance, Repeated: r.Repeated}
		switch {
		case m.Action == "RESTART" && r.Repeated:
			// A copy of this call was applied while this one waited.
			now := s.FSM.State()
			out.Step, out.Steps = now.Step(nil, m.WorkflowId, m.InstanceId, m.StepId), restartedSteps(now, m.WorkflowId, m.InstanceId, m.RequestId)
		case m.Action == "RESTART":
			out.Steps = steps
			if out.Step == nil {
				out.Step = s.FSM.State().Step(nil, m.WorkflowId, m.InstanceId, m.StepId)
			}
		}
		return out, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[instancev1.StepActionRequest]) (*connect.Response[instancev1.StepActionResponse], error) {
		return p.instance.StepAction
	})
}
