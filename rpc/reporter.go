package rpc

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

// Reporter is a node's client of the leader: it sends attempt results and
// fetches assignments through this node's own API handlers, which forward
// them to whichever node leads at the time.
//
// Results go in calls of many (ReportResults): up to maxReportCalls calls
// are in flight at once, and results that finish meanwhile wait to share
// the next one, so a lone result goes at once and a burst costs a few
// calls rather than one per result. A call can hang (its leader died with
// the connection open): once no call has started for reportStall, waiting
// results go in a call of their own, to whichever server leads by then.
type Reporter struct {
	client reportClient

	mu        sync.Mutex
	queue     []*queuedResult
	inFlight  int
	lastStart time.Time   // when the newest call started
	recheck   *time.Timer // armed while results wait behind full calls
	// oneByOneUntil is set when the leader turned ReportResults down as
	// unknown (a build from before it, part-way through an upgrade): until
	// then each result takes a call of its own, and batches are tried
	// again after, since the leader may have been upgraded or replaced.
	oneByOneUntil time.Time
}

// oneByOneFor is how long a node sends results one by one after a leader
// turned ReportResults down.
const oneByOneFor = time.Minute

// reportClient is the part of the cluster service a Reporter calls.
type reportClient interface {
	ReportResult(context.Context, *connect.Request[clusterv1.ReportResultRequest]) (*connect.Response[clusterv1.ReportResultResponse], error)
	ReportResults(context.Context, *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error)
	Assignments(context.Context, *connect.Request[clusterv1.AssignmentsRequest]) (*connect.Response[clusterv1.AssignmentsResponse], error)
}

// maxReportCalls bounds the result calls a node has in flight.
const maxReportCalls = 4

// reportCallTimeout bounds one call of results; its callers then send
// them again. A caller that stops waiting earlier leaves the call to finish
// for the others.
const reportCallTimeout = 10 * time.Second

// reportStall is how long results wait behind full calls before they go
// in one more. (A variable so that tests can shorten it.)
var reportStall = time.Second

type queuedResult struct {
	r        *statepb.ReportResult
	done     chan struct{}
	accepted bool
	reason   string
	err      error
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
	q := &queuedResult{r: res, done: make(chan struct{})}
	r.mu.Lock()
	if time.Now().Before(r.oneByOneUntil) {
		r.mu.Unlock()
		return r.reportOne(ctx, res)
	}
	r.queue = append(r.queue, q)
	r.startSenderLocked()
	r.mu.Unlock()
	select {
	case <-q.done:
		return q.accepted, q.reason, q.err
	case <-ctx.Done():
		return false, "", ctx.Err()
	}
}

// startSenderLocked starts a sender for the queued results if a call may
// start now, or makes sure they are looked at again once the calls in
// flight count as stalled.
func (r *Reporter) startSenderLocked() {
	if len(r.queue) == 0 {
		return
	}
	stalled := time.Since(r.lastStart)
	if r.inFlight < maxReportCalls || stalled >= reportStall {
		r.inFlight++
		r.lastStart = time.Now()
		go r.send()
		return
	}
	if r.recheck == nil {
		r.recheck = time.AfterFunc(reportStall-stalled, func() {
			r.mu.Lock()
			r.recheck = nil
			r.startSenderLocked()
			r.mu.Unlock()
		})
	}
}

// send makes calls of the queued results until none is left.
func (r *Reporter) send() {
	for {
		r.mu.Lock()
		n := min(len(r.queue), maxResultsPerCall)
		if n == 0 {
			r.inFlight--
			r.mu.Unlock()
			return
		}
		batch := r.queue[:n:n]
		r.queue = r.queue[n:]
		r.lastStart = time.Now()
		r.mu.Unlock()
		r.call(batch)
	}
}

// call sends one batch and answers its callers.
func (r *Reporter) call(batch []*queuedResult) {
	ctx, cancel := context.WithTimeout(context.Background(), reportCallTimeout)
	defer cancel()
	req := &clusterv1.ReportResultsRequest{Results: make([]*statepb.ReportResult, len(batch))}
	for i, q := range batch {
		req.Results[i] = q.r
	}
	out, err := r.client.ReportResults(ctx, connect.NewRequest(req))
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		r.mu.Lock()
		r.oneByOneUntil = time.Now().Add(oneByOneFor)
		r.mu.Unlock()
		for _, q := range batch {
			q.accepted, q.reason, q.err = r.reportOne(ctx, q.r)
			close(q.done)
		}
		return
	}
	if err == nil && len(out.Msg.Outcomes) != len(batch) {
		err = fmt.Errorf("the leader answered %d of %d results", len(out.Msg.Outcomes), len(batch))
	}
	for i, q := range batch {
		switch {
		case err != nil && refusal(err):
			q.reason = err.Error()
		case err != nil:
			q.err = err
		default:
			o := out.Msg.Outcomes[i]
			q.accepted, q.reason = o.Accepted, o.Reason
			if o.Refused != "" {
				q.reason = o.Refused
			}
		}
		close(q.done)
	}
}

// reportOne sends one result in a call of its own.
func (r *Reporter) reportOne(ctx context.Context, res *statepb.ReportResult) (bool, string, error) {
	out, err := r.client.ReportResult(ctx, connect.NewRequest(&clusterv1.ReportResultRequest{Result: res}))
	if err != nil {
		if refusal(err) {
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
