package rpc

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

func (w *workflowService) Delete(ctx context.Context, req *connect.Request[workflowv1.DeleteRequest]) (*connect.Response[workflowv1.DeleteResponse], error) {
	if req.Msg.WorkflowId == "" {
		return nil, invalid(errors.New("delete needs workflow_id"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, w.deleteLocal, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.DeleteRequest]) (*connect.Response[workflowv1.DeleteResponse], error) {
		return p.workflow.Delete
	})
}

func (w *workflowService) deleteLocal(ctx context.Context, m *workflowv1.DeleteRequest) (*workflowv1.DeleteResponse, error) {
	st := w.FSM.State()
	// Judged before the state (the workflow gone) refuses the call.
	if d := st.DeletedWorkflow(m.WorkflowId); fsm.IsDeletion(d, m.RequestId) {
		return &workflowv1.DeleteResponse{Deleted: d, Repeated: true}, nil
	}
	if rej := fsm.CheckDeleteWorkflow(st, m.WorkflowId); rej != nil {
		return nil, rejectionError(rej)
	}
	res, err := w.apply(ctx, &statepb.DeleteWorkflow{WorkflowId: m.WorkflowId, Now: timestamppb.New(w.Now()),
		Actor: actor(ctx), Reason: m.Reason, RequestId: m.RequestId, KeepRequestIds: true})
	if err != nil {
		return nil, err
	}
	r := res.(*fsm.DeleteWorkflowResult)
	return &workflowv1.DeleteResponse{Deleted: r.Deleted, Versions: int64(r.Versions), Triggers: int64(r.Triggers),
		Breakpoints: int64(r.Breakpoints), Instances: int64(r.Instances), Repeated: r.Repeated}, nil
}
