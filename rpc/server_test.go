package rpc

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/cluster"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

// fakeLeadership leads from the start but passes its post-election barrier
// only once ready is set; once deposed is set, a quorum no longer confirms
// it leads, though it does not know it yet.
type fakeLeadership struct{ ready, deposed atomic.Bool }

func (f *fakeLeadership) Name() string      { return "n1" }
func (f *fakeLeadership) ReadyToLead() bool { return f.ready.Load() }
func (f *fakeLeadership) IsLeader() bool    { return true }
func (f *fakeLeadership) VerifyLeader() error {
	if f.deposed.Load() {
		return errors.New("a quorum follows another leader")
	}
	return nil
}
func (f *fakeLeadership) LeaderUntilChange() (string, string, context.Context) {
	return "n1", "http://127.0.0.1:1", context.Background()
}

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

// forwardFailing forwards a call of the given kind from a follower to a
// leader whose every answer is fail, waiting at most wait for a leader; it
// returns how many calls reached the leader and the caller's error.
func forwardFailing(kind callKind, wait time.Duration, fail error) (calls int, err error) {
	s := &Server{Leadership: followerLeadership{}, ForwardWait: wait}
	_, err = runOnLeader(context.Background(), s, connect.NewRequest(&struct{}{}), nil,
		func(*peerClients) func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
			return func(context.Context, *connect.Request[struct{}]) (*connect.Response[struct{}], error) {
				calls++
				return nil, fail
			}
		}, kind)
	return calls, err
}

func (followerLeadership) Name() string      { return "n2" }
func (followerLeadership) ReadyToLead() bool { return false }
func (followerLeadership) IsLeader() bool    { return false }
func (followerLeadership) VerifyLeader() error {
	return cluster.ErrNotLeader
}
func (followerLeadership) LeaderUntilChange() (string, string, context.Context) {
	return "n1", "http://127.0.0.1:1", context.Background()
}

// A forwarded call whose leader went away mid-call (the transport reports
// it canceled, though the caller did not cancel, or its answer broke off)
// may have been applied: the client gets Aborted, which it may retry with
// its request id, and no server sends it again by itself.
func TestForwardToALeaderThatWentAwayIsAborted(t *testing.T) {
	for _, broke := range []error{
		connect.NewError(connect.CodeCanceled, errors.New("read: connection reset by peer")),
		connect.NewError(connect.CodeUnknown, errors.New("read message: unexpected EOF")),
	} {
		calls, err := forwardFailing(writeOnce, time.Second, broke)
		if connect.CodeOf(err) != connect.CodeAborted || calls != 1 {
			t.Fatalf("forward that broke off with %v: error %v (code %s) after %d calls, want Aborted after one", broke, err, connect.CodeOf(err), calls)
		}
	}
}

type leaderAt struct{ addr string }

func (leaderAt) Name() string      { return "n2" }
func (leaderAt) ReadyToLead() bool { return false }
func (leaderAt) IsLeader() bool    { return false }
func (leaderAt) VerifyLeader() error {
	return cluster.ErrNotLeader
}
func (l leaderAt) LeaderUntilChange() (string, string, context.Context) {
	return "n1", l.addr, context.Background()
}

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
	calls, err := forwardFailing(writeOnce, 300*time.Millisecond,
		connect.NewWireError(connect.CodeUnavailable, errors.New("no Raft leader is available; retry later")))
	if connect.CodeOf(err) != connect.CodeUnavailable || calls < 2 {
		t.Fatalf("error %v after %d calls, want Unavailable after several", err, calls)
	}
}

// movingLeader is a follower whose known leader changes when the test says:
// to another server's address, or to itself (ready to lead).
type movingLeader struct {
	mu     sync.Mutex
	addr   string
	self   bool
	until  context.Context
	change context.CancelFunc
}

func newMovingLeader(addr string) *movingLeader {
	m := &movingLeader{addr: addr}
	m.until, m.change = context.WithCancel(context.Background())
	return m
}

func (m *movingLeader) moveToSelf() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.change()
	m.addr, m.self = "", true
	m.until, m.change = context.WithCancel(context.Background())
}

func (m *movingLeader) Name() string { return "n2" }
func (m *movingLeader) ReadyToLead() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.self
}
func (m *movingLeader) IsLeader() bool { return m.ReadyToLead() }
func (m *movingLeader) VerifyLeader() error {
	if !m.ReadyToLead() {
		return cluster.ErrNotLeader
	}
	return nil
}
func (m *movingLeader) LeaderUntilChange() (string, string, context.Context) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.self {
		return "n2", "", m.until
	}
	return "n1", m.addr, m.until
}

// hungLeader accepts connections and answers nothing on them. accepted
// receives once per connection.
func hungLeader(t *testing.T) (addr string, accepted <-chan struct{}) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 16)
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
			ch <- struct{}{}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), ch
}

// serverWithoutPing forwards over HTTP/2 without the keepalive ping, so a
// call to a hung leader ends only when something else ends it.
func serverWithoutPing(lead Leadership) *Server {
	p := &http.Protocols{}
	p.SetUnencryptedHTTP2(true)
	s := &Server{Leadership: lead, ForwardWait: time.Minute}
	s.clients = map[string]*peerClients{}
	s.http = &http.Client{Transport: &http.Transport{Protocols: p}}
	return s
}

// callWhileTheLeaderIsReplaced forwards a call of the given kind to a
// leader that hangs and, once the call reached it, makes this server the
// leader. It returns how many times the new leader ran the call, and the
// call's error.
func callWhileTheLeaderIsReplaced(t *testing.T, kind callKind) (runs int32, err error) {
	addr, accepted := hungLeader(t)
	lead := newMovingLeader(addr)
	s := serverWithoutPing(lead)
	go func() {
		<-accepted
		lead.moveToSelf()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var local atomic.Int32
	run := func(context.Context, *clusterv1.ReportResultsRequest) (*clusterv1.ReportResultsResponse, error) {
		local.Add(1)
		return &clusterv1.ReportResultsResponse{}, nil
	}
	_, err = runOnLeader(ctx, s, connect.NewRequest(&clusterv1.ReportResultsRequest{}), run, forwardResults, kind)
	return local.Load(), err
}

// A read forwarded to a leader that hangs is sent again once this server
// learns of a new leader, without waiting for the connection to the old
// one to fail: here the connection never fails, and this server becomes
// the leader.
func TestReadIsResentWhenTheLeaderChanges(t *testing.T) {
	runs, err := callWhileTheLeaderIsReplaced(t, readOnly)
	if err != nil || runs != 1 {
		t.Fatalf("read after the leader changed: %v, run %d times by the new leader; want it answered by the new leader once", err, runs)
	}
}

// A write forwarded to a leader that hangs is answered Aborted once this
// server learns of a new leader (it may have arrived, and only the client
// knows whether sending it again is safe), not at the caller's deadline,
// and the new leader does not run it: not even one with a request id, whose
// first copy may still arrive late.
func TestWriteForwardedToAReplacedLeaderIsAborted(t *testing.T) {
	runs, err := callWhileTheLeaderIsReplaced(t, writeOnce)
	if connect.CodeOf(err) != connect.CodeAborted || runs != 0 {
		t.Fatalf("write after the leader changed: %v (code %s), run %d times by the new leader; want Aborted, not run", err, connect.CodeOf(err), runs)
	}
}

// A read whose forwards keep breaking off after they went out is sent again
// until the server's forward wait runs out, and then answered Unavailable:
// a read changed nothing.
func TestReadThatKeepsGoingAwayIsUnavailableAtTheWait(t *testing.T) {
	calls, err := forwardFailing(readOnly, 300*time.Millisecond,
		connect.NewError(connect.CodeCanceled, errors.New("read: connection reset by peer")))
	if connect.CodeOf(err) != connect.CodeUnavailable || calls < 2 {
		t.Fatalf("error %v (code %s) after %d calls, want Unavailable after several", err, connect.CodeOf(err), calls)
	}
}
