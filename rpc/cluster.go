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
	if err := checkResult(req.Msg.Result); err != nil {
		return nil, err
	}
	return onLeader(ctx, c.Server, req, func(ctx context.Context, m *clusterv1.ReportResultRequest) (*clusterv1.ReportResultResponse, error) {
		outs, err := c.judgeAndCommit(ctx, []*statepb.ReportResult{m.Result})
		if err != nil {
			return nil, err
		}
		if outs[0].err != nil {
			return nil, outs[0].err
		}
		return &clusterv1.ReportResultResponse{Accepted: outs[0].Accepted, Reason: outs[0].Reason}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[clusterv1.ReportResultRequest]) (*connect.Response[clusterv1.ReportResultResponse], error) {
		return p.cluster.ReportResult
	})
}

// maxResultsPerCall bounds a ReportResults call.
const maxResultsPerCall = 2000

func (c *clusterService) ReportResults(ctx context.Context, req *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error) {
	if n := len(req.Msg.Results); n == 0 || n > maxResultsPerCall {
		return nil, invalid(fmt.Errorf("a call carries 1 to %d results, not %d", maxResultsPerCall, n))
	}
	return onLeader(ctx, c.Server, req, func(ctx context.Context, m *clusterv1.ReportResultsRequest) (*clusterv1.ReportResultsResponse, error) {
		outs, err := c.judgeAndCommit(ctx, m.Results)
		if err != nil {
			return nil, err
		}
		res := &clusterv1.ReportResultsResponse{Outcomes: make([]*clusterv1.ReportResultOutcome, len(outs))}
		for i, o := range outs {
			if o.err != nil {
				if !refusal(o.err) {
					// Not about this result: the caller sends them all again.
					return nil, o.err
				}
				o.Refused = o.err.Error()
			}
			res.Outcomes[i] = o.ReportResultOutcome
		}
		return res, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error) {
		return p.cluster.ReportResults
	})
}

func checkResult(r *statepb.ReportResult) error {
	if r == nil || r.WorkflowId == "" || r.StepId == "" || r.AttemptNumber < 1 || r.EndTime == nil {
		return invalid(errors.New("result needs workflow_id, instance_id, step_id, attempt_number and end_time"))
	}
	return nil
}

// refusal reports whether err says a result can never apply, so that
// sending it again cannot help.
func refusal(err error) bool {
	code := connect.CodeOf(err)
	return code == connect.CodeNotFound || code == connect.CodeInvalidArgument
}

// judgedResult is what became of one result: an outcome, or err (a Connect
// error) when the result was refused or its commit failed.
type judgedResult struct {
	*clusterv1.ReportResultOutcome
	err error
}

// judgeAndCommit decides on results on the leader: those its state fences
// are answered at once with no Raft entry (the FSM checks again when
// applying, which is what makes it safe); the others are committed. It
// fails as a whole only when it cannot judge or commit any.
func (c *clusterService) judgeAndCommit(ctx context.Context, rs []*statepb.ReportResult) ([]judgedResult, error) {
	outs := make([]judgedResult, len(rs))
	// A result names the entry that placed its attempt; until this leader
	// has applied it, the step would look unassigned and the result would
	// be fenced by mistake.
	var newest uint64
	for _, r := range rs {
		newest = max(newest, r.GetGeneration())
	}
	if err := c.waitApplied(ctx, newest); err != nil {
		return nil, err
	}
	st := c.FSM.State()
	var commit []*statepb.ReportResult
	var at []int
	for i, r := range rs {
		outs[i].ReportResultOutcome = &clusterv1.ReportResultOutcome{}
		if err := checkResult(r); err != nil {
			outs[i].err = err
			continue
		}
		step := st.Step(nil, r.WorkflowId, r.InstanceId, r.StepId)
		if step == nil {
			outs[i].err = notFound(fmt.Errorf("no step %q in instance %s/%d", r.StepId, r.WorkflowId, r.InstanceId))
			continue
		}
		if why := fsm.StaleResult(step, r); why != "" {
			outs[i].Reason = why
			continue
		}
		c.checkOutputModes(r)
		commit = append(commit, r)
		at = append(at, i)
	}
	if len(commit) == 0 {
		return outs, nil
	}
	if c.Results != nil {
		// The scheduling loop commits them in the entry that places the
		// steps they let start.
		done, err := c.Results.SubmitAll(ctx, commit)
		if err == nil {
			for j, o := range done {
				i := at[j]
				outs[i].Accepted, outs[i].Reason = o.Accepted, o.Reason
				if o.Err != nil {
					outs[i].err = applyError(o.Err)
				}
				if o.Accepted {
					// Accepted results are committed; the others may
					// have been refused by the loop's speculation alone.
					markCommitted(ctx)
				}
			}
			return outs, nil
		}
		if !errors.Is(err, scheduler.ErrNotPlanning) {
			return nil, applyError(err)
		}
	}
	for j, r := range commit {
		i := at[j]
		res, err := c.apply(ctx, r)
		if err != nil {
			outs[i].err = err
			continue
		}
		o := res.(*fsm.ReportResultOutcome)
		outs[i].Accepted, outs[i].Reason = o.Accepted, o.Reason
	}
	return outs, nil
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
