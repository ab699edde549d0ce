package rpc

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
)

// Reporter is a node's client of the leader: it sends attempt results and
// fetches assignments through this node's own API, which forwards them to
// whichever node leads at the time.
type Reporter struct {
	client clusterv1connect.ClusterServiceClient
}

// NewReporter returns a Reporter for the API at baseURL.
func NewReporter(baseURL string) *Reporter {
	hc := &http.Client{Transport: PeerTransport()}
	return &Reporter{client: clusterv1connect.NewClusterServiceClient(hc, baseURL)}
}

// ReportResult implements scheduler.Reporter.
func (r *Reporter) ReportResult(ctx context.Context, res *statepb.ReportResult) (bool, string, error) {
	out, err := r.client.ReportResult(ctx, connect.NewRequest(&clusterv1.ReportResultRequest{Result: res}))
	if err != nil {
		if code := connect.CodeOf(err); code == connect.CodeNotFound || code == connect.CodeInvalidArgument {
			// The step is gone or the result is malformed: retrying cannot help.
			return false, err.Error(), nil
		}
		return false, "", err
	}
	return out.Msg.Accepted, out.Msg.Reason, nil
}

// Assignments implements scheduler.Reporter: the leader's view of what runs on node.
func (r *Reporter) Assignments(ctx context.Context, node string) ([]*statepb.Step, error) {
	out, err := r.client.Assignments(ctx, connect.NewRequest(&clusterv1.AssignmentsRequest{Node: node}))
	if err != nil {
		return nil, err
	}
	return out.Msg.Steps, nil
}
