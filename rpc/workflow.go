package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/workflow"
)

type workflowService struct{ *Server }

var _ workflowv1connect.WorkflowServiceHandler = (*workflowService)(nil)

// checkDefinition parses, validates and checks that this engine can run a
// definition, returning it with its canonical form.
func (s *Server) checkDefinition(text string) (*workflow.Definition, []byte, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil, invalid(errors.New("definition is empty"))
	}
	if max := s.Limits.MaxDefinitionBytes; max > 0 && len(text) > max {
		return nil, nil, invalid(fmt.Errorf("definition is %d bytes; the limit is %d", len(text), max))
	}
	def, err := workflow.Parse([]byte(text))
	if err != nil {
		return nil, nil, invalid(fmt.Errorf("invalid definition: %w", err))
	}
	if err := def.Validate(s.Limits); err != nil {
		return nil, nil, invalid(fmt.Errorf("invalid definition: %w", err))
	}
	if err := workflow.CheckSupported(def); err != nil {
		return nil, nil, invalid(fmt.Errorf("definition uses features this version cannot run: %w", err))
	}
	canon, err := workflow.Canonical(def)
	if err != nil {
		return nil, nil, invalid(fmt.Errorf("definition: %w", err))
	}
	return def, canon, nil
}

func (w *workflowService) Push(ctx context.Context, req *connect.Request[workflowv1.PushRequest]) (*connect.Response[workflowv1.PushResponse], error) {
	if _, _, err := w.checkDefinition(req.Msg.Definition); err != nil {
		return nil, err
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	// Fixed before forwarding, so a resend between servers is idempotent.
	if req.Msg.RequestId == "" {
		req.Msg.RequestId = newRequestID()
	}
	return onLeader(ctx, w.Server, req, w.pushLocal, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.PushRequest]) (*connect.Response[workflowv1.PushResponse], error) {
		return p.workflow.Push
	})
}

func (w *workflowService) pushLocal(ctx context.Context, req *workflowv1.PushRequest) (*workflowv1.PushResponse, error) {
	def, canon, err := w.checkDefinition(req.Definition)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	digest := hex.EncodeToString(sum[:])
	// A resent request, and an identical re-push, are answered without a
	// Raft entry.
	st := w.FSM.State()
	if v := st.VersionByRequest(req.RequestId); v != nil {
		if v.WorkflowId != def.Workflow.ID || v.Digest != digest {
			return nil, invalid(fmt.Errorf("request_id %q already pushed version %d of workflow %q, with another definition", req.RequestId, v.Version, v.WorkflowId))
		}
		return &workflowv1.PushResponse{Workflow: st.Workflow(nil, v.WorkflowId), Version: v.Version, Created: true}, nil
	}
	if rej := fsm.DeletedPush(st.DeletedWorkflow(def.Workflow.ID), req.RequestId); rej != nil {
		return nil, rejectionError(rej)
	}
	if wf := st.Workflow(nil, def.Workflow.ID); wf != nil {
		if latest := st.Version(nil, wf.WorkflowId, wf.LatestVersion); latest != nil && latest.Digest == digest {
			return &workflowv1.PushResponse{Workflow: wf, Version: latest.Version, Created: false}, nil
		}
	}
	res, err := w.apply(ctx, &statepb.PushWorkflow{
		WorkflowId: def.Workflow.ID, Definition: string(canon), Digest: digest,
		Now: timestamppb.New(w.Now()), RequestId: req.RequestId,
	})
	if err != nil {
		return nil, err
	}
	r := res.(*fsm.PushResult)
	return &workflowv1.PushResponse{Workflow: r.Workflow, Version: r.Version, Created: r.Created}, nil
}

func (w *workflowService) Validate(_ context.Context, req *connect.Request[workflowv1.ValidateRequest]) (*connect.Response[workflowv1.ValidateResponse], error) {
	def, _, err := w.checkDefinition(req.Msg.Definition)
	if err != nil {
		return nil, err
	}
	dag, err := def.DAG()
	if err != nil {
		return nil, invalid(err)
	}
	return connect.NewResponse(&workflowv1.ValidateResponse{WorkflowId: def.Workflow.ID, StepCount: int32(len(dag.Order))}), nil
}

// resolveVersion turns "", "active", "latest" or a number into a version.
func resolveVersion(st *fsm.State, workflowID, ref string) (*statepb.Workflow, *statepb.WorkflowVersion, error) {
	if workflowID == "" {
		return nil, nil, invalid(errors.New("workflow_id is required"))
	}
	wf := st.Workflow(nil, workflowID)
	if wf == nil {
		return nil, nil, rejectionError(fsm.WorkflowNotFound(st, workflowID))
	}
	var n int64
	switch ref {
	case "", "active":
		n = wf.ActiveVersion
		if n == 0 {
			return nil, nil, inactiveError(wf)
		}
	case "latest":
		n = wf.LatestVersion
	default:
		v, err := strconv.ParseInt(ref, 10, 64)
		if err != nil || v < 1 {
			return nil, nil, invalid(fmt.Errorf("version %q: want a number >= 1, \"active\" or \"latest\"", ref))
		}
		n = v
	}
	ver := st.Version(nil, workflowID, n)
	if ver == nil {
		return nil, nil, notFound(errors.New(fsm.MissingVersion(st.DeletedWorkflow(workflowID), workflowID, n, wf.LatestVersion)))
	}
	return wf, ver, nil
}

func (w *workflowService) Get(ctx context.Context, req *connect.Request[workflowv1.GetRequest]) (*connect.Response[workflowv1.GetResponse], error) {
	return onRead(ctx, w.Server, req, req.Msg.Stale, func(context.Context, *workflowv1.GetRequest) (*workflowv1.GetResponse, error) {
		st := w.FSM.State()
		ref := req.Msg.Version
		if wf := st.Workflow(nil, req.Msg.WorkflowId); ref == "" && wf != nil && wf.ActiveVersion == 0 {
			// A deactivated workflow shows its latest version by default.
			ref = "latest"
		}
		wf, ver, err := resolveVersion(st, req.Msg.WorkflowId, ref)
		if err != nil {
			return nil, err
		}
		triggers, actions := workflowTimeline(st, wf.WorkflowId)
		return &workflowv1.GetResponse{Workflow: wf, Version: ver, Triggers: triggers, Actions: actions}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.GetRequest]) (*connect.Response[workflowv1.GetResponse], error) {
		return p.workflow.Get
	})
}

func (w *workflowService) List(ctx context.Context, req *connect.Request[workflowv1.ListRequest]) (*connect.Response[workflowv1.ListResponse], error) {
	return onRead(ctx, w.Server, req, req.Msg.Stale, func(context.Context, *workflowv1.ListRequest) (*workflowv1.ListResponse, error) {
		return &workflowv1.ListResponse{Workflows: w.FSM.State().Workflows(nil)}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.ListRequest]) (*connect.Response[workflowv1.ListResponse], error) {
		return p.workflow.List
	})
}

func (w *workflowService) ListVersions(ctx context.Context, req *connect.Request[workflowv1.ListVersionsRequest]) (*connect.Response[workflowv1.ListVersionsResponse], error) {
	return onRead(ctx, w.Server, req, req.Msg.Stale, func(context.Context, *workflowv1.ListVersionsRequest) (*workflowv1.ListVersionsResponse, error) {
		st := w.FSM.State()
		if st.Workflow(nil, req.Msg.WorkflowId) == nil {
			return nil, rejectionError(fsm.WorkflowNotFound(st, req.Msg.WorkflowId))
		}
		var out []*statepb.WorkflowVersion
		for _, v := range st.Versions(nil, req.Msg.WorkflowId) {
			c := proto.Clone(v).(*statepb.WorkflowVersion)
			c.Definition = ""
			out = append(out, c)
		}
		return &workflowv1.ListVersionsResponse{Versions: out}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.ListVersionsRequest]) (*connect.Response[workflowv1.ListVersionsResponse], error) {
		return p.workflow.ListVersions
	})
}

func (w *workflowService) Activate(ctx context.Context, req *connect.Request[workflowv1.ActivateRequest]) (*connect.Response[workflowv1.ActivateResponse], error) {
	if req.Msg.WorkflowId == "" || req.Msg.Version < 1 {
		return nil, invalid(errors.New("activate needs workflow_id and a version >= 1"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.ActivateRequest) (*workflowv1.ActivateResponse, error) {
		st := w.FSM.State()
		if wf := st.Workflow(nil, m.WorkflowId); wf != nil {
			if repeated, err := repeatedWorkflowAction(st, m.WorkflowId, m.RequestId, "ACTIVATE", fsm.ActivateTarget(m.Version)); err != nil {
				return nil, err
			} else if repeated {
				return &workflowv1.ActivateResponse{Workflow: wf, Repeated: true}, nil
			}
		}
		if _, _, err := resolveVersion(st, m.WorkflowId, strconv.FormatInt(m.Version, 10)); err != nil {
			return nil, err
		}
		res, err := w.apply(ctx, &statepb.ActivateWorkflow{WorkflowId: m.WorkflowId, Version: m.Version, Now: timestamppb.New(w.Now()),
			Actor: actor(ctx), Reason: m.Reason, RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.ActivateResult)
		return &workflowv1.ActivateResponse{Workflow: r.Workflow, Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.ActivateRequest]) (*connect.Response[workflowv1.ActivateResponse], error) {
		return p.workflow.Activate
	})
}

func (w *workflowService) Unblock(ctx context.Context, req *connect.Request[workflowv1.UnblockRequest]) (*connect.Response[workflowv1.UnblockResponse], error) {
	if req.Msg.WorkflowId == "" {
		return nil, invalid(errors.New("unblock needs workflow_id"))
	}
	if err := checkRequestID(req.Msg.RequestId); err != nil {
		return nil, err
	}
	return onLeader(ctx, w.Server, req, func(ctx context.Context, m *workflowv1.UnblockRequest) (*workflowv1.UnblockResponse, error) {
		st := w.FSM.State()
		wf := st.Workflow(nil, m.WorkflowId)
		if wf == nil {
			return nil, rejectionError(fsm.WorkflowNotFound(st, m.WorkflowId))
		}
		if repeated, err := repeatedWorkflowAction(st, m.WorkflowId, m.RequestId, "UNBLOCK", ""); err != nil {
			return nil, err
		} else if repeated {
			return &workflowv1.UnblockResponse{Workflow: wf, Repeated: true}, nil
		}
		res, err := w.apply(ctx, &statepb.UnblockWorkflow{WorkflowId: m.WorkflowId, Reason: m.Reason, Now: timestamppb.New(w.Now()),
			Actor: actor(ctx), RequestId: m.RequestId})
		if err != nil {
			return nil, err
		}
		r := res.(*fsm.UnblockResult)
		return &workflowv1.UnblockResponse{Workflow: r.Workflow, Repeated: r.Repeated}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[workflowv1.UnblockRequest]) (*connect.Response[workflowv1.UnblockResponse], error) {
		return p.workflow.Unblock
	})
}
