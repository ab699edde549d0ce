package rpc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/cluster"
	operatorv1 "github.com/batonhq/baton/rpc/gen/baton/operator/v1"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
)

// snapshotChunk is the most snapshot bytes one stream message carries, well
// under MaxRequestBytes.
const snapshotChunk = 256 << 10

type operatorService struct{ *Server }

var _ operatorv1connect.OperatorServiceHandler = (*operatorService)(nil)

func (o *operatorService) Members(context.Context, *connect.Request[operatorv1.MembersRequest]) (*connect.Response[operatorv1.MembersResponse], error) {
	res := &operatorv1.MembersResponse{Node: o.Node.Name()}
	for _, m := range o.Node.GossipMembers() {
		res.Members = append(res.Members, &operatorv1.Member{Name: m.Name, Address: m.Addr, Status: m.Status, Tags: m.Tags})
	}
	return connect.NewResponse(res), nil
}

func (o *operatorService) RaftListPeers(context.Context, *connect.Request[operatorv1.RaftListPeersRequest]) (*connect.Response[operatorv1.RaftListPeersResponse], error) {
	peers, err := o.Node.RaftPeers()
	if err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	res := &operatorv1.RaftListPeersResponse{Node: o.Node.Name()}
	for _, p := range peers {
		res.Peers = append(res.Peers, &operatorv1.RaftPeer{Id: p.ID, Address: p.Address, Voter: p.Voter, Leader: p.Leader})
	}
	return connect.NewResponse(res), nil
}

func (o *operatorService) RaftRemovePeer(ctx context.Context, req *connect.Request[operatorv1.RaftRemovePeerRequest]) (*connect.Response[operatorv1.RaftRemovePeerResponse], error) {
	if req.Msg.Id == "" {
		return nil, invalid(errors.New("id is required: the Raft id (node name) of the server to remove"))
	}
	return onLeaderMovingIt(ctx, o.Server, req, func(_ context.Context, m *operatorv1.RaftRemovePeerRequest) (*operatorv1.RaftRemovePeerResponse, error) {
		if err := o.Node.RemovePeer(m.Id); err != nil {
			return nil, operatorError(err)
		}
		return &operatorv1.RaftRemovePeerResponse{}, nil
	}, forwardTo(o, operatorv1connect.OperatorServiceClient.RaftRemovePeer))
}

func (o *operatorService) RaftTransferLeader(ctx context.Context, req *connect.Request[operatorv1.RaftTransferLeaderRequest]) (*connect.Response[operatorv1.RaftTransferLeaderResponse], error) {
	return onLeaderMovingIt(ctx, o.Server, req, func(ctx context.Context, m *operatorv1.RaftTransferLeaderRequest) (*operatorv1.RaftTransferLeaderResponse, error) {
		li, err := o.Node.TransferLeader(ctx, m.Id)
		if err != nil {
			return nil, operatorError(err)
		}
		return &operatorv1.RaftTransferLeaderResponse{LeaderId: li.ID, LeaderRaftAddress: li.RaftAddr, LeaderApiAddress: li.APIAddr}, nil
	}, forwardTo(o, operatorv1connect.OperatorServiceClient.RaftTransferLeader))
}

// SnapshotSave streams the leader's snapshot; another node relays the
// leader's stream, so the caller may contact any server.
func (o *operatorService) SnapshotSave(ctx context.Context, req *connect.Request[operatorv1.SnapshotSaveRequest], out *connect.ServerStream[operatorv1.SnapshotSaveResponse]) error {
	addr, err := o.streamLeader(ctx, req.Header().Get(forwardedHeader) != "")
	if err != nil {
		return err
	}
	if addr != "" {
		fwd := connect.NewRequest(req.Msg)
		fwd.Header().Set(forwardedHeader, o.Node.Name())
		in, err := o.operatorClient(addr).SnapshotSave(ctx, fwd)
		if err != nil {
			return err
		}
		defer in.Close()
		for in.Receive() {
			if err := out.Send(in.Msg()); err != nil {
				return err
			}
		}
		return in.Err()
	}
	w := bufio.NewWriterSize(chunkSender{out}, snapshotChunk)
	if _, err := o.Node.SaveSnapshot(ctx, w); err != nil {
		return streamError(err)
	}
	return w.Flush()
}

// SnapshotRestore restores on the leader; another node relays the upload to
// the leader and its answer back.
func (o *operatorService) SnapshotRestore(ctx context.Context, in *connect.ClientStream[operatorv1.SnapshotRestoreRequest]) (*connect.Response[operatorv1.SnapshotRestoreResponse], error) {
	addr, err := o.streamLeader(ctx, in.RequestHeader().Get(forwardedHeader) != "")
	if err != nil {
		return nil, err
	}
	if addr != "" {
		up := o.operatorClient(addr).SnapshotRestore(ctx)
		up.RequestHeader().Set(forwardedHeader, o.Node.Name())
		for in.Receive() {
			if err := up.Send(in.Msg()); err != nil {
				// The leader stopped reading; CloseAndReceive says why.
				break
			}
		}
		if err := in.Err(); err != nil {
			_, _ = up.CloseAndReceive()
			return nil, err
		}
		return up.CloseAndReceive()
	}
	sum, index, err := o.Node.RestoreSnapshot(ctx, &chunkReader{in: in})
	if err != nil {
		return nil, streamError(err)
	}
	return connect.NewResponse(&operatorv1.SnapshotRestoreResponse{Snapshot: SnapshotInfo(*sum), RestoredIndex: index}), nil
}

// StateHash answers from this server's replica, never forwarded: comparing
// replicas is its whole point.
func (o *operatorService) StateHash(context.Context, *connect.Request[operatorv1.StateHashRequest]) (*connect.Response[operatorv1.StateHashResponse], error) {
	h, err := o.FSM.Hash()
	if err != nil {
		return nil, connect.NewError(connect.CodeInternal, err)
	}
	res := &operatorv1.StateHashResponse{Node: o.Node.Name(), AppliedIndex: h.AppliedIndex, Sha256: h.SHA256}
	for _, t := range h.Tables {
		res.Tables = append(res.Tables, &operatorv1.TableCount{Table: t.Table, Records: t.Records})
	}
	return connect.NewResponse(res), nil
}

// SnapshotInfo is the API's description of a snapshot file.
func SnapshotInfo(s cluster.SnapshotSummary) *operatorv1.SnapshotInfo {
	h := s.Header
	info := &operatorv1.SnapshotInfo{
		Index: h.Index, Term: h.Term, Size: h.Size, FileSize: s.FileSize, ChecksumOk: s.ChecksumOK,
		Checksum: s.Checksum, Node: h.Node,
	}
	if !h.Created.IsZero() {
		info.CreatedTime = timestamppb.New(h.Created)
	}
	for _, srv := range h.Configuration {
		info.Configuration = append(info.Configuration, &operatorv1.RaftPeer{Id: srv.ID, Address: srv.Address, Voter: srv.Suffrage == "Voter"})
	}
	return info
}

// forwardTo adapts an operator client method to onLeader's remote call. The
// shared peerClients carry no operator client, so this dials the leader
// onLeader has just found.
func forwardTo[Req, Res any](o *operatorService, call func(operatorv1connect.OperatorServiceClient, context.Context, *connect.Request[Req]) (*connect.Response[Res], error),
) func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error) {
	return func(*peerClients) func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error) {
		return func(ctx context.Context, req *connect.Request[Req]) (*connect.Response[Res], error) {
			_, addr := o.Node.Leader()
			if addr == "" {
				// onLeader retries an unavailable leader.
				return nil, connect.NewError(connect.CodeUnavailable, errors.New("the leader went away while forwarding"))
			}
			return call(o.operatorClient(addr), ctx, req)
		}
	}
}

func (o *operatorService) operatorClient(addr string) operatorv1connect.OperatorServiceClient {
	o.peer(addr) // makes the shared HTTP client on first use
	o.mu.Lock()
	hc := o.http
	o.mu.Unlock()
	return operatorv1connect.NewOperatorServiceClient(hc, addr)
}

// streamLeader is onLeader's wait for a leader, for streams, which onLeader
// cannot relay: it returns "" when this node leads, else the leader's API
// address.
func (o *operatorService) streamLeader(ctx context.Context, forwarded bool) (string, error) {
	deadline := time.Now().Add(o.ForwardWait)
	for {
		if o.Node.IsLeader() {
			return "", nil
		}
		if _, addr := o.Node.Leader(); addr != "" && !forwarded {
			return addr, nil
		}
		if forwarded || time.Now().After(deadline) {
			return "", connect.NewError(connect.CodeUnavailable, errors.New("no Raft leader is available; retry later"))
		}
		select {
		case <-ctx.Done():
			return "", connect.NewError(connect.CodeDeadlineExceeded, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// operatorError gives a cluster refusal its API code. ErrNotLeader passes
// through unchanged so that onLeader retries on the new leader.
func operatorError(err error) error {
	var ce *connect.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce
	case errors.Is(err, cluster.ErrNotLeader):
		return err
	case errors.Is(err, cluster.ErrUnknownPeer):
		return connect.NewError(connect.CodeNotFound, err)
	case errors.Is(err, cluster.ErrRefused):
		return connect.NewError(connect.CodeFailedPrecondition, err)
	case errors.Is(err, cluster.ErrInvalidSnapshot):
		return connect.NewError(connect.CodeInvalidArgument, err)
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeUnavailable, err)
}

// streamError is operatorError for the snapshot streams, which have no
// retry loop: losing leadership midway is the caller's to retry.
func streamError(err error) error {
	if errors.Is(err, cluster.ErrNotLeader) {
		return connect.NewError(connect.CodeUnavailable, fmt.Errorf("leadership moved during the operation; retry: %w", err))
	}
	return operatorError(err)
}

// chunkSender sends what is written as snapshot stream messages.
type chunkSender struct {
	out *connect.ServerStream[operatorv1.SnapshotSaveResponse]
}

func (c chunkSender) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		n := min(len(p), snapshotChunk)
		// Send marshals before returning, so p may be reused afterwards.
		if err := c.out.Send(&operatorv1.SnapshotSaveResponse{Data: p[:n]}); err != nil {
			return written, err
		}
		written += n
		p = p[n:]
	}
	return written, nil
}

// chunkReader reads the bytes of an uploaded snapshot stream.
type chunkReader struct {
	in  *connect.ClientStream[operatorv1.SnapshotRestoreRequest]
	buf []byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if !r.in.Receive() {
			if err := r.in.Err(); err != nil {
				return 0, err
			}
			return 0, io.EOF
		}
		r.buf = r.in.Msg().Data
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}
