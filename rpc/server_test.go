package rpc

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
)

// fakeLeadership leads from the start but passes its post-election barrier
// only once ready is set.
type fakeLeadership struct{ ready atomic.Bool }

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
