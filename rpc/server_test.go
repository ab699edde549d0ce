package rpc

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

// fakeLeadership leads from the start but passes its post-election barrier
// only once ready is set.
type fakeLeadership struct{ ready atomic.Bool }

func (f *fakeLeadership) Name() string             { return "n1" }
func (f *fakeLeadership) ReadyToLead() bool        { return f.ready.Load() }
func (f *fakeLeadership) IsLeader() bool           { return true }
func (f *fakeLeadership) Leader() (string, string) { return "n1", "http://127.0.0.1:1" }

// A newly elected leader does not judge a write until it has applied the
// previous terms' entries: a Start served before then could read a version
// that was already replaced. The write waits, for a client's call and for
// one another server forwarded, and then runs.
func TestWritesWaitForTheNewLeadersBarrier(t *testing.T) {
	for _, forwarded := range []bool{false, true} {
		lead := &fakeLeadership{}
		s := &Server{Leadership: lead, ForwardWait: 30 * time.Second}
		req := connect.NewRequest(&struct{}{})
		if forwarded {
			req.Header().Set(forwardedHeader, "n2")
		}
		var ranEarly atomic.Bool
		done := make(chan error, 1)
		go func() {
			_, err := onLeader(context.Background(), s, req, func(context.Context, *struct{}) (*struct{}, error) {
				if !lead.ReadyToLead() {
					ranEarly.Store(true)
				}
				return &struct{}{}, nil
			}, nil)
			done <- err
		}()
		select {
		case err := <-done:
			t.Fatalf("forwarded=%v: the write returned (%v) before the barrier", forwarded, err)
		case <-time.After(100 * time.Millisecond):
		}
		lead.ready.Store(true)
		if err := <-done; err != nil {
			t.Fatalf("forwarded=%v: after the barrier: %v", forwarded, err)
		}
		if ranEarly.Load() {
			t.Fatalf("forwarded=%v: the write ran before the barrier", forwarded)
		}
	}
}

type followerLeadership struct{}

func (followerLeadership) Name() string             { return "n2" }
func (followerLeadership) ReadyToLead() bool        { return false }
func (followerLeadership) IsLeader() bool           { return false }
func (followerLeadership) Leader() (string, string) { return "n1", "http://127.0.0.1:1" }

// A forwarded call whose leader went away mid-call (the transport reports
// it canceled, though the caller did not cancel) may have been applied:
// the client gets Aborted, which it may retry with its request id, and no
// server sends it again by itself.
func TestForwardToALeaderThatWentAwayIsAborted(t *testing.T) {
	s := &Server{Leadership: followerLeadership{}, ForwardWait: time.Second}
	calls := 0
	_, err := onLeader(context.Background(), s, connect.NewRequest(&struct{}{}), nil,
		func(*peerClients) func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
			return func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
				calls++
				return nil, connect.NewError(connect.CodeCanceled, errors.New("read: connection reset by peer"))
			}
		})
	if connect.CodeOf(err) != connect.CodeAborted || calls != 1 {
		t.Fatalf("error %v (code %s) after %d calls, want Aborted after one", err, connect.CodeOf(err), calls)
	}
}

type leaderAt struct{ addr string }

func (leaderAt) Name() string               { return "n2" }
func (leaderAt) ReadyToLead() bool          { return false }
func (leaderAt) IsLeader() bool             { return false }
func (l leaderAt) Leader() (string, string) { return "n1", l.addr }

func forwardResults(p *peerClients) func(context.Context, *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error) {
	return p.cluster.ReportResults
}

// A leader that hangs (stopped, or behind a partition that drops packets)
// keeps its connections open and answers nothing, not even HTTP/2 pings.
// The call forwarded to it fails once the ping goes unanswered, long before
// the caller's deadline, and since it may have arrived the caller gets
// Aborted; no server sends it again by itself.
func TestForwardToAHungLeaderIsAbortedByThePing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int32
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			mu.Lock()
			held = append(held, c) // read nothing, answer nothing
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	}()
	s := &Server{Leadership: leaderAt{"http://" + ln.Addr().String()}, ForwardWait: time.Minute}
	const callerDeadline = time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), callerDeadline)
	defer cancel()
	began := time.Now()
	_, err = onLeader(ctx, s, connect.NewRequest(&clusterv1.ReportResultsRequest{}), nil, forwardResults)
	took := time.Since(began)
	if connect.CodeOf(err) != connect.CodeAborted {
		t.Fatalf("forward to a hung leader: %v after %s, want Aborted", err, took)
	}
	if limit := 2 * (peerPingAfter + peerPingTimeout); took > limit {
		t.Fatalf("the forward took %s, more than twice the ping's bound", took)
	}
	if n := accepted.Load(); n != 1 {
		t.Fatalf("the leader saw %d connections; a call that may have arrived must not be sent again", n)
	}
}

// A call that could not connect never arrived: the server tries again until
// its forward wait runs out, and answers Unavailable.
func TestForwardThatCannotConnectIsRetried(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	s := &Server{Leadership: leaderAt{"http://" + addr}, ForwardWait: 500 * time.Millisecond}
	_, err = onLeader(context.Background(), s, connect.NewRequest(&clusterv1.ReportResultsRequest{}), nil, forwardResults)
	if connect.CodeOf(err) != connect.CodeUnavailable || !strings.Contains(err.Error(), "no Raft leader is available") {
		t.Fatalf("forward to a closed port: %v, want Unavailable once the wait ran out", err)
	}
}

// The leader's own Unavailable (it stopped leading before it took the call)
// means nothing was applied: the server tries again.
func TestLeadersOwnUnavailableIsRetried(t *testing.T) {
	s := &Server{Leadership: followerLeadership{}, ForwardWait: 300 * time.Millisecond}
	calls := 0
	_, err := onLeader(context.Background(), s, connect.NewRequest(&struct{}{}), nil,
		func(*peerClients) func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
			return func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
				calls++
				return nil, connect.NewWireError(connect.CodeUnavailable, errors.New("no Raft leader is available; retry later"))
			}
		})
	if connect.CodeOf(err) != connect.CodeUnavailable || calls < 2 {
		t.Fatalf("error %v after %d calls, want Unavailable after several", err, calls)
	}
}
