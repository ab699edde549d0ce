package rpc

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
)

type signalService struct{ *Server }

var _ signalv1connect.SignalServiceHandler = (*signalService)(nil)

const maxSignalNameLength = 256

// signalParam types a param given as text the way a user means it.
func signalParam(text string) (*statepb.Param, error) {
	v := workflow.Value{Type: workflow.String, Raw: text}
	if n, err := strconv.ParseInt(text, 10, 64); err == nil {
		v = workflow.Value{Type: workflow.Long, Raw: n}
	} else if f, err := strconv.ParseFloat(text, 64); err == nil && strings.ContainsAny(text, ".eE") {
		v = workflow.Value{Type: workflow.Double, Raw: f}
	} else if b, err := strconv.ParseBool(text); err == nil && (text == "true" || text == "false") {
		v = workflow.Value{Type: workflow.Boolean, Raw: b}
	}
	return scheduler.ParamFromValue(v)
}

func (s *signalService) Send(ctx context.Context, req *connect.Request[signalv1.SendRequest]) (*connect.Response[signalv1.SendResponse], error) {
	name := strings.TrimSpace(req.Msg.Name)
	switch {
	case name == "":
		return nil, invalid(errors.New("signal name is required"))
	case workflow.CheckSignalName(name) != nil:
		return nil, invalid(workflow.CheckSignalName(name))
	case len(name) > maxSignalNameLength:
		return nil, invalid(fmt.Errorf("signal name is %d characters; the limit is %d", len(name), maxSignalNameLength))
	case checkRequestID(req.Msg.RequestId) != nil:
		return nil, checkRequestID(req.Msg.RequestId)
	case len(req.Msg.Params) > workflow.DefaultLimits().MaxParams:
		return nil, invalid(fmt.Errorf("%d params; the limit is %d", len(req.Msg.Params), workflow.DefaultLimits().MaxParams))
	}
	req.Msg.Name = name
	if req.Msg.RequestId == "" {
		req.Msg.RequestId = newRequestID()
	}
	return onLeader(ctx, s.Server, req, func(ctx context.Context, m *signalv1.SendRequest) (*signalv1.SendResponse, error) {
		cmd := &statepb.SendSignal{Name: m.Name, RequestId: m.RequestId, Source: "api", Now: timestamppb.New(s.Now()),
			Params: map[string]*statepb.Param{}}
		keys := make([]string, 0, len(m.Params))
		for k := range m.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "" {
				return nil, invalid(errors.New("a signal param has an empty name"))
			}
			p, err := signalParam(m.Params[k])
			if err != nil {
				return nil, invalid(fmt.Errorf("param %s: %w", k, err))
			}
			cmd.Params[k] = p
		}
		res, err := s.apply(ctx, cmd)
		if err != nil {
			return nil, err
		}
		return &signalv1.SendResponse{Signal: res.(*fsm.SignalResult).Signal}, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[signalv1.SendRequest]) (*connect.Response[signalv1.SendResponse], error) {
		return p.signal.Send
	})
}

func (s *signalService) List(ctx context.Context, req *connect.Request[signalv1.ListRequest]) (*connect.Response[signalv1.ListResponse], error) {
	if req.Msg.Name == "" {
		return nil, invalid(errors.New("signal name is required"))
	}
	limit, err := checkPage(req.Msg.Limit, req.Msg.Before, "signals", "a signal number")
	if err != nil {
		return nil, err
	}
	return onRead(ctx, s.Server, req, req.Msg.Stale, func(context.Context, *signalv1.ListRequest) (*signalv1.ListResponse, error) {
		list, more := s.FSM.State().SignalsPage(req.Msg.Name, req.Msg.Before, limit)
		res := &signalv1.ListResponse{Signals: list}
		if more {
			res.NextBefore = list[len(list)-1].Seq
		}
		return res, nil
	}, func(p *peerClients) func(context.Context, *connect.Request[signalv1.ListRequest]) (*connect.Response[signalv1.ListResponse], error) {
		return p.signal.List
	})
}
