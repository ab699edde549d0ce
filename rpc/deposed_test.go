package rpc

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/workflow"
)

// A write that a leader answers from its own state, with no entry (a
// refusal, a repeated push), is answered only while a quorum confirms it
// still leads. A leader paused while another was elected wakes up with a
// stale state and still thinking it leads: it refused an activation of a
// version pushed meanwhile as not found, which no order of the calls
// explains. Deposed, it answers nothing and the caller goes on to look
// for the leader.
func TestADeposedLeaderDoesNotAnswerFromItsState(t *testing.T) {
	const def = `{"workflow":{"id":"one","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`
	lead := &fakeLeadership{}
	lead.ready.Store(true)
	w := &workflowService{&Server{FSM: pushedFSM(t, def, ""), Leadership: lead, Limits: workflow.DefaultLimits(), Now: time.Now, ForwardWait: 300 * time.Millisecond}}
	activate := func() error {
		_, err := w.Activate(context.Background(), connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: "one", Version: 2}))
		return err
	}
	repush := func() (*workflowv1.PushResponse, error) {
		res, err := w.Push(context.Background(), connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}

	if err := activate(); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("activate version 2 on the leader: %v, want not_found", err)
	}
	if res, err := repush(); err != nil || res.Created || res.Version != 1 {
		t.Fatalf("repush on the leader: %v, %v; want version 1 not created", res, err)
	}

	lead.deposed.Store(true)
	if err := activate(); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("activate version 2 on a deposed leader: %v, want unavailable", err)
	}
	if res, err := repush(); connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("repush on a deposed leader: %v, %v; want unavailable", res, err)
	}
}
