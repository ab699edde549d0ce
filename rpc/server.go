// Package rpc serves Baton's Connect API. Every node serves every call:
// writes are forwarded to the Raft leader, reads come from the local replica.
// Connect, gRPC and gRPC-Web share one port (HTTP/1.1 and h2c), with gRPC
// health and reflection so grpcurl and buf curl work.
package rpc

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/cluster"
	"github.com/batonhq/baton/cluster/telemetry"
	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/workflow"
)

// MaxRequestBytes caps any request message; a definition has its own, lower
// limit (workflow.Limits.MaxDefinitionBytes) reported with a precise error.
const MaxRequestBytes = 4 << 20

// forwardedHeader marks a request one node forwarded to the leader, so a
// request never bounces between nodes that each think the other leads.
const forwardedHeader = "Baton-Forwarded"

// Server holds what the handlers share.
type Server struct {
	FSM    *fsm.FSM
	Node   *cluster.Node
	Defs   *scheduler.DefinitionCache
	Limits workflow.Limits
	// Profiling serves Go's pprof endpoints under /debug/pprof/ on the API
	// port (agent flag -enable-pprof); off by default, since profiles show
	// internals to anyone who can reach the port.
	Profiling bool
	// Metrics, if set, is served under telemetry.Path: the process's
	// running totals of Raft's, gossip's and the runtime's metrics.
	Metrics http.Handler
	Now     func() time.Time
	Log     *slog.Logger
	// ForwardWait bounds how long a write waits for a leader to exist.
	ForwardWait time.Duration
	// Worker is this node's step worker, woken by the leader's pokes.
	Worker interface {
		Poke()
		Accept(steps []*statepb.Step)
	}
	// Results is the leader's scheduling loop's inbox: attempt results given
	// to it are committed with the steps they let start. When no loop runs
	// here, a result is applied as its own entry.
	Results *scheduler.Results
	// Leadership, if set, replaces Node's view of who leads (tests).
	Leadership Leadership

	mu      sync.Mutex
	clients map[string]*peerClients
	http    *http.Client
}

type peerClients struct {
	workflow workflowv1connect.WorkflowServiceClient
	instance instancev1connect.InstanceServiceClient
	cluster  clusterv1connect.ClusterServiceClient
	signal   signalv1connect.SignalServiceClient
}

// compressMinBytes is the smallest answer the API gzips (when the client
// accepts gzip).
const compressMinBytes = 16 << 10

// Handler returns the HTTP handler serving every service.
func (s *Server) Handler() http.Handler {
	if s.ForwardWait == 0 {
		s.ForwardWait = 10 * time.Second
	}
	mux := http.NewServeMux()
	opts := HandlerOptions()
	mux.Handle(workflowv1connect.NewWorkflowServiceHandler(&workflowService{s}, opts...))
	mux.Handle(instancev1connect.NewInstanceServiceHandler(&instanceService{s}, opts...))
	mux.Handle(clusterv1connect.NewClusterServiceHandler(&clusterService{s}, opts...))
	mux.Handle(operatorv1connect.NewOperatorServiceHandler(&operatorService{s}, opts...))
	mux.Handle(signalv1connect.NewSignalServiceHandler(&signalService{s}, opts...))
	names := []string{
		workflowv1connect.WorkflowServiceName,
		instancev1connect.InstanceServiceName,
		clusterv1connect.ClusterServiceName,
		operatorv1connect.OperatorServiceName,
		signalv1connect.SignalServiceName,
	}
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(names...)))
	reflector := grpcreflect.NewStaticReflector(names...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
	if s.Metrics != nil {
		mux.Handle(telemetry.Path, s.Metrics)
	}
	if s.Profiling {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// MaxReasonBytes caps the reason a client gives for an action. It is kept
// in the Raft log and in the instance's history, so it must stay small.
const MaxReasonBytes = 4096

// reasonLimit refuses any request whose reason is longer than
// MaxReasonBytes, before it is forwarded or written.
var reasonLimit = connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if r, ok := req.Any().(interface{ GetReason() string }); ok && len(r.GetReason()) > MaxReasonBytes {
			return nil, invalid(fmt.Errorf("reason is %d bytes; the limit is %d", len(r.GetReason()), MaxReasonBytes))
		}
		return next(ctx, req)
	}
})

// HandlerOptions are the options of every API service's handler.
func HandlerOptions() []connect.HandlerOption {
	return []connect.HandlerOption{
		connect.WithReadMaxBytes(MaxRequestBytes),
		connect.WithInterceptors(reasonLimit),
		// Most answers are a few hundred bytes: compressing them cost a
		// tenth of the leader's CPU under a flood of Starts (a gzip writer
		// reset per answer) and saved nothing on a LAN.
		connect.WithCompressMinBytes(compressMinBytes),
	}
}

// Protocols is what the API port speaks: HTTP/1.1 and cleartext HTTP/2.
func Protocols() *http.Protocols {
	p := &http.Protocols{}
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return p
}

// PeerTransport is how one agent talks to another agent's API: cleartext
// HTTP/2 only, so that many concurrent calls (forwarded requests, results
// of a wide fan-out) share one connection instead of opening one each.
//
// A connection that has been silent for peerPingAfter is pinged, and closed
// when the ping goes unanswered for peerPingTimeout, failing its calls. A
// hung agent (stopped, or cut off by a partition that drops packets) keeps
// its sockets open, so without the ping a call forwarded to a hung leader
// would wait out its caller's whole deadline, even once a new leader was
// elected.
func PeerTransport() *http.Transport {
	p := &http.Protocols{}
	p.SetUnencryptedHTTP2(true)
	return &http.Transport{Protocols: p, HTTP2: &http.HTTP2Config{SendPingTimeout: peerPingAfter, PingTimeout: peerPingTimeout}}
}

// A hung peer holds a call at most peerPingAfter + peerPingTimeout after its
// last frame. A leader too busy to answer a ping for peerPingTimeout has
// long lost its lease (hundreds of milliseconds), and with it leadership.
const (
	peerPingAfter   = 2 * time.Second
	peerPingTimeout = 2 * time.Second
)

func (s *Server) peer(addr string) *peerClients {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.clients == nil {
		s.clients = map[string]*peerClients{}
		s.http = &http.Client{Transport: PeerTransport()}
	}
	if c, ok := s.clients[addr]; ok {
		return c
	}
	c := &peerClients{
		workflow: workflowv1connect.NewWorkflowServiceClient(s.http, addr),
		instance: instancev1connect.NewInstanceServiceClient(s.http, addr),
		cluster:  clusterv1connect.NewClusterServiceClient(s.http, addr),
		signal:   signalv1connect.NewSignalServiceClient(s.http, addr),
	}
	s.clients[addr] = c
	return c
}

// Leadership is what onLeader needs to know of Raft (cluster.Node).
type Leadership interface {
	Name() string
	ReadyToLead() bool
	IsLeader() bool
	// VerifyLeader confirms with a quorum that this server still leads, so
	// that what its state says now is what any server would say.
	VerifyLeader() error
	// LeaderUntilChange names the leader this server knows (apiAddr empty
	// when it knows none, or not its API yet), with a context cancelled
	// once it knows another or none.
	LeaderUntilChange() (id, apiAddr string, until context.Context)
}

func (s *Server) leadership() Leadership {
	if s.Leadership != nil {
		return s.Leadership
	}
	return s.Node
}

// onLeader runs local on the leader once it has applied every earlier term's
// entries, or remote against the leader's API from any other node, waiting
// a bounded time while there is no leader ready. A call forwarded to a
// leader that this server then sees replaced (its heartbeats stopped, a new
// one was elected) is abandoned at once and, since it may have arrived, the
// caller gets Aborted: only the client can tell whether sending it again is
// safe.
func onLeader[Req, Res any](
	ctx context.Context, s *Server, req *connect.Request[Req],
	local func(context.Context, *Req) (*Res, error),
	remote func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*connect.Response[Res], error) {
	return runOnLeader(ctx, s, req, local, remote, writeOnce)
}

// onLeaderMovingIt is onLeader for a call that may itself replace the
// leader (a transfer of leadership, the removal of the leader): its forward
// is not abandoned at a change of leader, which it may be causing.
func onLeaderMovingIt[Req, Res any](
	ctx context.Context, s *Server, req *connect.Request[Req],
	local func(context.Context, *Req) (*Res, error),
	remote func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*connect.Response[Res], error) {
	return runOnLeader(ctx, s, req, local, remote, movesLeader)
}

// commitMark records that a call run on the leader committed an entry
// (s.apply, or results committed by the scheduling loop): the leader led
// when the entry committed, after every judgement the call made before.
type commitMark struct{ committed atomic.Bool }

type commitMarkKey struct{}

// markCommitted notes, for the call of ctx, that an entry it proposed was
// committed.
func markCommitted(ctx context.Context) {
	if m, ok := ctx.Value(commitMarkKey{}).(*commitMark); ok {
		m.committed.Store(true)
	}
}

// judged reports whether a call's outcome is an answer that depends on the
// state (success, or a refusal), not a failure to reach a decision.
func judged(err error) bool {
	if err == nil {
		return true
	}
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeAborted, connect.CodeDeadlineExceeded, connect.CodeCanceled:
		return false
	}
	return !errors.Is(err, cluster.ErrNotLeader)
}

// errLeaderChanged is why a forwarded call was cut off.
var errLeaderChanged = errors.New("the leader changed")

// callKind says what a server may do with a forwarded call whose leader went
// away before answering.
//
// A write is never sent again by a server, even one that carries its
// request id: the copy already sent may still arrive, late, from a TCP
// buffer that outlived its connection (a partition heals, and the kernel
// delivers what a closed socket still held), and be applied after the
// second copy was answered. A push whose second copy found its content
// already the latest wrote nothing and recorded no request id, so the late
// first copy created a version no client was told of. The client, told
// Aborted, knows the outcome is unknown.
type callKind int

const (
	writeOnce   callKind = iota // answer Aborted: only the client can tell whether to send it again
	readOnly                    // send it again; if no leader answers in time, Unavailable (nothing changed)
	movesLeader                 // as writeOnce, but the forward outlives a change of leader, which it may cause
)

func runOnLeader[Req, Res any](
	ctx context.Context, s *Server, req *connect.Request[Req],
	local func(context.Context, *Req) (*Res, error),
	remote func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
	kind callKind,
) (*connect.Response[Res], error) {
	deadline := time.Now().Add(s.ForwardWait)
	forwarded := req.Header().Get(forwardedHeader) != ""
	var lastErr error
	for {
		wait := 100 * time.Millisecond
		lead := s.leadership()
		var changed <-chan struct{} // stays nil on the leader
		if lead.ReadyToLead() {
			mark := &commitMark{}
			res, err := local(context.WithValue(ctx, commitMarkKey{}, mark), req.Msg)
			if kind == writeOnce && !mark.committed.Load() && judged(err) {
				// Answered from this server's state alone (a refusal, a
				// repeated request): a leader deposed without knowing it
				// yet (paused, or cut off) may hold a stale state, so the
				// answer stands only once a quorum says it still leads.
				// An entry committed in the call says so already.
				if verr := lead.VerifyLeader(); verr != nil {
					err = fmt.Errorf("%w: %v", cluster.ErrNotLeader, verr)
				}
			}
			if !errors.Is(err, cluster.ErrNotLeader) {
				if err != nil {
					return nil, err
				}
				return connect.NewResponse(res), nil
			}
			lastErr = err
		} else if lead.IsLeader() {
			// Elected, but still applying the previous terms' entries: a
			// write judged now could read a replaced version.
			wait = 10 * time.Millisecond
		} else if _, addr, until := lead.LeaderUntilChange(); addr != "" && !forwarded {
			changed = until.Done()
			fwd := connect.NewRequest(req.Msg)
			fwd.Header().Set(forwardedHeader, lead.Name())
			cutAt := until
			if kind == movesLeader {
				cutAt = context.Background()
			}
			res, replaced, err := forwardUntil(ctx, cutAt, remote(s.peer(addr)), fwd)
			switch {
			case replaced || (err != nil && ctx.Err() == nil && mayHaveArrived(err)):
				// The leader's side of the call went away (it died, hung
				// or lost leadership mid-call, or this server saw another
				// elected), not this caller: a write may or may not have
				// been applied, and only the client can tell whether to
				// send it again. A read is sent again.
				why := "went away"
				if replaced {
					why = "was replaced"
				}
				if kind != readOnly {
					return nil, connect.NewError(connect.CodeAborted, fmt.Errorf("the leader %s %s before answering; the call may or may not have taken effect: %w", addr, why, err))
				}
				lastErr = fmt.Errorf("the leader %s %s before answering: %w", addr, why, err)
			case err == nil || connect.CodeOf(err) != connect.CodeUnavailable:
				return res, err
			default:
				lastErr = err
			}
		} else {
			changed = until.Done()
		}
		if (forwarded && !lead.IsLeader()) || time.Now().After(deadline) {
			msg := "no Raft leader is available; retry later"
			if lastErr != nil {
				msg += " (" + lastErr.Error() + ")"
			}
			return nil, connect.NewError(connect.CodeUnavailable, errors.New(msg))
		}
		select {
		case <-ctx.Done():
			return nil, connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
		case <-changed:
			// A leader elected, or the one known gone: look again now.
		case <-time.After(wait):
		}
	}
}

// forwardUntil makes a forwarded call that is cut off once until is done,
// and reports whether that is what ended it.
func forwardUntil[Req, Res any](ctx, until context.Context,
	call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error), req *connect.Request[Req],
) (res *connect.Response[Res], replaced bool, err error) {
	fctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(until, func() { cancel(errLeaderChanged) })
	res, err = call(fctx, req)
	stop()
	replaced = err != nil && ctx.Err() == nil && !connect.IsWireError(err) && errors.Is(context.Cause(fctx), errLeaderChanged)
	return res, replaced, err
}

// mayHaveArrived reports whether a forwarded call that failed may still
// have reached the leader and been applied: its connection broke after the
// call went out (the leader was killed, or hung until the ping gave up on
// it), or while its answer was read (a leader killed mid-answer leaves
// "unknown: read message: unexpected EOF"). An answer from the leader
// itself (a wire error) says what happened, and a call that could not
// connect never arrived.
func mayHaveArrived(err error) bool {
	if connect.IsWireError(err) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return false
	}
	switch connect.CodeOf(err) {
	case connect.CodeCanceled, connect.CodeUnavailable, connect.CodeUnknown:
		return true
	}
	return false
}

// onRead serves a read. By default it is linearizable: it runs on the leader
// (forwarded there from other nodes, and sent again if that leader is
// replaced before it answers) after VerifyLeader. With stale it runs on
// this node's replica at once, once the replica has replayed its own log.
func onRead[Req, Res any](
	ctx context.Context, s *Server, req *connect.Request[Req], stale bool,
	read func(context.Context, *Req) (*Res, error),
	remote func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) (*connect.Response[Res], error) {
	if stale {
		if err := s.waitReplayed(ctx); err != nil {
			return nil, err
		}
		res, err := read(ctx, req.Msg)
		if err != nil {
			return nil, err
		}
		return connect.NewResponse(res), nil
	}
	// A read changes nothing, so one cut off by a change of leader is
	// always safe to send again.
	return runOnLeader(ctx, s, req, func(ctx context.Context, m *Req) (*Res, error) {
		if err := s.leadership().VerifyLeader(); err != nil {
			return nil, err
		}
		return read(ctx, m)
	}, remote, readOnly)
}

// waitApplied waits, for a bounded time, until this node's state machine has
// applied the entry at index. Raft applies a committed entry on each server
// in its own time, so a follower can act on an entry (run an attempt it was
// assigned) before the leader's own state shows it; the leader must not
// judge the follower's report against an older state.
func (s *Server) waitApplied(ctx context.Context, index uint64) error {
	deadline := time.Now().Add(s.ForwardWait)
	for {
		changed := s.FSM.Changed()
		if s.FSM.AppliedIndex() >= index {
			return nil
		}
		if time.Now().After(deadline) {
			return connect.NewError(connect.CodeUnavailable, fmt.Errorf("this node has not applied entry %d yet; retry later", index))
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitReplayed waits, for a bounded time, until this node's state machine
// has applied the log it had on disk at start, so that a restarted node does
// not answer "not found" for records it simply has not replayed yet.
func (s *Server) waitReplayed(ctx context.Context) error {
	deadline := time.Now().Add(s.ForwardWait)
	for !s.Node.Replayed() {
		if time.Now().After(deadline) {
			return connect.NewError(connect.CodeUnavailable, errors.New("this node is still replaying its Raft log; retry later"))
		}
		select {
		case <-ctx.Done():
			return connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// apply commits a command on this node, which must be the leader, with the
// fields every server's build applies, and maps an FSM rejection to a
// Connect error.
func (s *Server) apply(ctx context.Context, cmd proto.Message) (any, error) {
	if rej := fsm.CheckProtocol(cmd, s.Node.MinProtocol); rej != nil {
		return nil, rejectionError(rej)
	}
	fsm.ForProtocol(cmd, s.Node.MinProtocol)
	res, err := s.Node.Apply(ctx, cmd)
	if err != nil {
		return nil, applyError(err)
	}
	// Committed, a rejection too: the FSM judged it in log order.
	markCommitted(ctx)
	if rej, ok := res.(*fsm.Rejection); ok {
		return nil, rejectionError(rej)
	}
	return res, nil
}

// applyError is what a client sees of a failed commit.
func applyError(err error) error {
	var rej *fsm.Rejection
	switch {
	case errors.Is(err, cluster.ErrNotLeader):
		return err // onLeader sends the call to the new leader
	case errors.Is(err, cluster.ErrOutcomeUnknown):
		// Aborted, not Unavailable: neither this server nor a server
		// that forwarded the call sends it again by itself.
		return connect.NewError(connect.CodeAborted, err)
	case errors.As(err, &rej):
		return rejectionError(rej)
	}
	return connect.NewError(connect.CodeUnavailable, err)
}

func rejectionError(r *fsm.Rejection) error {
	code := connect.CodeInvalidArgument
	switch r.Code {
	case fsm.RejectNotFound:
		code = connect.CodeNotFound
	case fsm.RejectFailedPrecondition:
		code = connect.CodeFailedPrecondition
	}
	return connect.NewError(code, errors.New(r.Msg))
}

func invalid(err error) error { return connect.NewError(connect.CodeInvalidArgument, err) }

func notFound(err error) error { return connect.NewError(connect.CodeNotFound, err) }

// newRequestID makes an idempotency key for a request that came without one.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
