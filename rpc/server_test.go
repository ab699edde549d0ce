package rpc

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
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
