package rpc

import (
	"context"
	"errors"
	"fmt"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
	"sort"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
)

type clusterService struct{ *Server }

var _ clusterv1connect.ClusterServiceHandler = (*clusterService)(nil)

func (c *clusterService) Status(context.Context, *connect.Request[clusterv1.StatusRequest]) (*connect.Response[clusterv1.StatusResponse], error) {
	st := c.Node.Status()
	res := &clusterv1.StatusResponse{
		Node: c.Node.Name(), RaftState: st.State, LeaderId: st.LeaderID, LeaderRaftAddress: st.LeaderRaft,
		LeaderApiAddress: st.LeaderAPI, LastAppliedIndex: st.LastApplied, CommitIndex: st.CommitIndex,
		LastLogIndex: st.LastLogIndex, Term: st.Term, FirstLogIndex: st.FirstLogIndex, LastSnapshotIndex: st.LastSnapshotIndex,
		Protocol: fsm.Protocol, ClusterProtocol: int32(c.Node.MinProtocol()),
	}
	for _, p := range st.Peers {
		res.Peers = append(res.Peers, &clusterv1.Peer{
			Id: string(p.ID), Address: string(p.Address), Voter: p.Suffrage.String() == "Voter", Leader: string(p.ID) == st.LeaderID,
		})
	}
	return connect.NewResponse(res), nil
}

func (c *clusterService) ReportResult(ctx context.Context, req *connect.Request[clusterv1.ReportResultRequest]) (*connect.Response[clusterv1.ReportResultResponse], error) {
	r := req.Msg.Result
	if r == nil || r.WorkflowId == "" || r.StepId == "" || r.AttemptNumber < 1 || r.EndTime == nil {
		return nil, invalid(errors.New("result needs workflow_id, instance_id, step_id, attempt_number and end_time"))
	}
	return onLeader(ctx, c.Server, req, func(ctx context.Context, m *clusterv1.ReportResultRequest) (*clusterv1.ReportResultResponse, error) {
		// A result fenced by the leader's own state needs no Raft entry; the
		// FSM checks again when applying, which is what makes it safe.
		r := m.Result
		// The result names the entry that placed the attempt; until this
		// leader has applied it, the step would look unassigned and the
		// result would be fenced by mistake.
		if err := c.waitApplied(ctx, r.Generation); err != nil {
			return nil, err
		}
		step := c.FSM.State().Step(nil, r.WorkflowId, r.InstanceId, r.StepId)
		if step == nil {
			return nil, notFound(fmt.Errorf("no step %q in instance %s/%d", r.StepId, r.WorkflowId, r.InstanceId))
		}
		if why := fsm.StaleResult(step, r); why != "" {
			return &clusterv1.ReportResultResponse{Accepted: false, Reason: why}, nil
		}
		c.checkOutputModes(m.Result)
		if c.Results != nil {
			accepted, reason, err := c.Results.Submit(ctx, m.Result)
			if !errors.Is(err, scheduler.ErrNotPlanning) {
				if err != nil {
					return nil, applyError(err)
				}
				return &clusterv1.ReportResultResponse{Accepted: accepted, Reason: reason}, nil
			}
		}
		res, err := c.apply(ctx, m.Result)
		if err != nil {
			return nil, err
		}
		out := res.(*fsm.ReportResultOutcome)
		return &clusterv1.ReportResultResponse{Accepted: out.Accepted, Reason: out.Reason}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[clusterv1.ReportResultRequest]) (*connect.Response[clusterv1.ReportResultResponse], error) {
		return p.cluster.ReportResult
	})
}

func (c *clusterService) Assignments(ctx context.Context, req *connect.Request[clusterv1.AssignmentsRequest]) (*connect.Response[clusterv1.AssignmentsResponse], error) {
	if req.Msg.Node == "" {
		return nil, invalid(errors.New("node is required"))
	}
	return onRead(ctx, c.Server, req, false, func(context.Context, *clusterv1.AssignmentsRequest) (*clusterv1.AssignmentsResponse, error) {
		var steps []*statepb.Step
		for _, st := range c.FSM.State().StepsOnNode(nil, req.Msg.Node) {
			if st.Status == fsm.StepRunning {
				steps = append(steps, st)
			}
		}
		return &clusterv1.AssignmentsResponse{Steps: steps, AppliedIndex: c.FSM.AppliedIndex()}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[clusterv1.AssignmentsRequest]) (*connect.Response[clusterv1.AssignmentsResponse], error) {
		return p.cluster.Assignments
	})
}

func (c *clusterService) Poke(_ context.Context, req *connect.Request[clusterv1.PokeRequest]) (*connect.Response[clusterv1.PokeResponse], error) {
	if c.Worker != nil {
		if len(req.Msg.Steps) > 0 {
			c.Worker.Accept(req.Msg.Steps)
		} else {
			c.Worker.Poke()
		}
	}
	return connect.NewResponse(&clusterv1.PokeResponse{}), nil
}

// Poke tells node that attempts were placed on it, with the steps that
// carry them (none: the node fetches them). Best effort: the node's replica
// remains the fallback, so a lost poke only costs latency.
func (s *Server) Poke(ctx context.Context, node string, steps []*statepb.Step) {
	if node == s.Node.Name() {
		return // this node's worker watches the same state the leader writes
	}
	for _, m := range s.Node.Members() {
		if m.Name == node && m.APIAddr != "" {
			if _, err := s.peer(m.APIAddr).cluster.Poke(ctx, connect.NewRequest(&clusterv1.PokeRequest{Steps: steps})); err != nil {
				s.Log.Debug("poke failed", "node", node, "err", err)
			}
			return
		}
	}
}

// checkOutputModes turns a success whose outputs change a param the step
// declared as not MUTABLE into a user failure naming the param: only MUTABLE
// params may be changed by the code a step runs.
func (c *clusterService) checkOutputModes(r *statepb.ReportResult) {
	if r.Outcome != fsm.AttemptSucceeded || len(r.Outputs) == 0 {
		return
	}
	st := c.FSM.State()
	inst := st.Instance(nil, r.WorkflowId, r.InstanceId)
	if inst == nil {
		return
	}
	def, _, err := scheduler.InstanceDefinition(st, c.Defs, inst)
	if err != nil {
		return
	}
	sd := def.Step(r.StepId)
	if sd == nil {
		return
	}
	names := make([]string, 0, len(r.Outputs))
	for name := range r.Outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d, ok := sd.Params[name]; ok && !workflow.SettableByOutput(d.Mode) {
			r.Outcome = fsm.AttemptUserFailed
			r.Error = fmt.Sprintf("output param %s: the param is %s and cannot be changed by the step", name, d.Mode)
			r.Outputs = nil
			return
		}
	}
}
