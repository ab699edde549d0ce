package e2e

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	"github.com/batonhq/baton/test/harness"
)

// A call of several results answers each on its own: one for a step that
// does not exist and a malformed one are refused, one for an attempt that
// already ended is fenced, and none of them changes the instance. A call
// with no results, or too many, is refused whole.
func TestReportResultsJudgesEachResult(t *testing.T) {
	t.Parallel()
	addr := harness.StartDev(t).URL()
	id := runToEnd(t, addr, "testdata/diamond.yaml", "e2e-diamond", 0)
	before := getInstance(t, addr, "e2e-diamond", id)
	done := stepByID(t, before, "a")
	attempt := done.Attempts[len(done.Attempts)-1]

	c := clusterv1connect.NewClusterServiceClient(harness.HTTPClient(), addr)
	now := timestamppb.Now()
	req := &clusterv1.ReportResultsRequest{Results: []*statepb.ReportResult{
		{WorkflowId: "e2e-diamond", InstanceId: id, StepId: "nope", AttemptNumber: 1, Generation: attempt.Generation, Outcome: "SUCCEEDED", EndTime: now},
		{WorkflowId: "e2e-diamond", InstanceId: id, StepId: "a", AttemptNumber: attempt.AttemptNumber, Generation: attempt.Generation, Outcome: "FATALLY_FAILED", EndTime: now},
		{WorkflowId: "e2e-diamond", InstanceId: id, StepId: "a", AttemptNumber: 1, Outcome: "SUCCEEDED"},
	}}
	res, err := c.ReportResults(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatalf("ReportResults: %v", err)
	}
	out := res.Msg.Outcomes
	if len(out) != 3 {
		t.Fatalf("%d outcomes for 3 results", len(out))
	}
	if out[0].Accepted || !strings.Contains(out[0].Refused, `no step "nope"`) {
		t.Errorf("result for a missing step: %v", out[0])
	}
	if out[1].Accepted || out[1].Refused != "" || !strings.Contains(out[1].Reason, "not RUNNING") {
		t.Errorf("result for an ended attempt: %v", out[1])
	}
	if out[2].Accepted || !strings.Contains(out[2].Refused, "end_time") {
		t.Errorf("malformed result: %v", out[2])
	}
	after := getInstance(t, addr, "e2e-diamond", id)
	if got := stepByID(t, after, "a"); got.Status != done.Status || len(got.Attempts) != len(done.Attempts) || after.Instance.Status != before.Instance.Status {
		t.Errorf("the calls changed the instance: step a %s with %d attempts, instance %s", got.Status, len(got.Attempts), after.Instance.Status)
	}

	for _, n := range []int{0, 2001} {
		many := &clusterv1.ReportResultsRequest{}
		for range n {
			many.Results = append(many.Results, req.Results[1])
		}
		if _, err := c.ReportResults(context.Background(), connect.NewRequest(many)); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("a call of %d results: %v, want InvalidArgument", n, err)
		}
	}
}
