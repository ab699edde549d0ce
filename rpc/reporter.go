package rpc

import (
	"context"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

// Reporter is a node's client of the leader: it sends attempt results and
// fetches assignments through this node's own API handlers, which forward
// them to whichever node leads at the time.
type Reporter struct {
	client *clusterService
}

// LocalReporter returns a Reporter for the worker in this server's process:
// it calls the API's handlers directly, so a result takes no loopback HTTP
// hop before it is forwarded to the leader or, on the leader, handed to the
// scheduling loop.
func (s *Server) LocalReporter() *Reporter {
	return &Reporter{client: &clusterService{s}}
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
