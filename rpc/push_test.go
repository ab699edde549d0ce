package rpc

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/workflow"
)

// A request id names one push: sent again with the same definition it is
// answered from the state, sent with another definition (or another
// workflow's) it is refused, not answered with what the first push made.
func TestPushRequestIDNamesOneDefinition(t *testing.T) {
	const first = `{"workflow":{"id":"one","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`
	lead := &fakeLeadership{}
	lead.ready.Store(true)
	w := &workflowService{&Server{FSM: pushedFSM(t, first, "p1"), Leadership: lead, Limits: workflow.DefaultLimits(), Now: time.Now}}
	push := func(definition string) (*workflowv1.PushResponse, error) {
		res, err := w.Push(context.Background(), connect.NewRequest(&workflowv1.PushRequest{Definition: definition, RequestId: "p1"}))
		if err != nil {
			return nil, err
		}
		return res.Msg, nil
	}
	if res, err := push(first); err != nil || res.Version != 1 || res.Workflow.GetWorkflowId() != "one" {
		t.Fatalf("the same push again: %v, %v", res, err)
	}
	for _, other := range []string{
		`{"workflow":{"id":"one","steps":[{"step":{"id":"b","type":"NoOp"}}]}}`,
		`{"workflow":{"id":"two","steps":[{"step":{"id":"a","type":"NoOp"}}]}}`,
	} {
		if _, err := push(other); connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), `request_id "p1" already pushed version 1 of workflow "one"`) {
			t.Errorf("%s with a used request id: %v", other, err)
		}
	}
}

// pushedFSM is a state machine whose first entry pushed definition (with
// requestID), as the API would have: parsed, in canonical form, digested.
func pushedFSM(t *testing.T, definition, requestID string) *fsm.FSM {
	t.Helper()
	def, err := workflow.Parse([]byte(definition))
	if err != nil {
		t.Fatal(err)
	}
	canon, err := workflow.Canonical(def)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(canon)
	f := fsm.New()
	res := f.ApplyLocal(1, &statepb.PushWorkflow{WorkflowId: def.Workflow.ID, Definition: string(canon), Digest: hex.EncodeToString(sum[:]), RequestId: requestID})
	if _, ok := res.(*fsm.PushResult); !ok {
		t.Fatalf("push not applied: %v", res)
	}
	return f
}
