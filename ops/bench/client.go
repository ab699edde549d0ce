package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
)

// callTimeout bounds each unary call (a write may wait up to ten seconds on
// the server for a leader).
const callTimeout = 30 * time.Second

// Client talks to one agent's API.
type Client struct {
	URL       string
	Workflows workflowv1connect.WorkflowServiceClient
	Instances instancev1connect.InstanceServiceClient
	Cluster   clusterv1connect.ClusterServiceClient
}

// NewClient returns clients for the agent at url (a base URL).
func NewClient(url string) *Client {
	hc := httpClient(url)
	opts := []connect.ClientOption{connect.WithInterceptors(unaryTimeout{})}
	return &Client{
		URL:       url,
		Workflows: workflowv1connect.NewWorkflowServiceClient(hc, url, opts...),
		Instances: instancev1connect.NewInstanceServiceClient(hc, url, opts...),
		Cluster:   clusterv1connect.NewClusterServiceClient(hc, url, opts...),
	}
}

var (
	transportOnce sync.Once
	h2c, tlsHTTP  *http.Client
)

// httpClient returns the client shared by every call. Cleartext addresses
// get HTTP/2 with prior knowledge (h2c, which the agent serves), so that
// thousands of concurrent starts share a few connections instead of
// opening one each; https addresses negotiate HTTP/2 over TLS.
func httpClient(u string) *http.Client {
	transportOnce.Do(func() {
		p := &http.Protocols{}
		p.SetUnencryptedHTTP2(true)
		h2c = &http.Client{Transport: &http.Transport{
			Protocols:   p,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			HTTP2:       &http.HTTP2Config{SendPingTimeout: 5 * time.Second, PingTimeout: 5 * time.Second},
		}}
		tp := http.DefaultTransport.(*http.Transport).Clone()
		tp.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		tp.ForceAttemptHTTP2 = true
		tp.MaxIdleConnsPerHost = 256
		tlsHTTP = &http.Client{Transport: tp}
	})
	if strings.HasPrefix(u, "https://") {
		return tlsHTTP
	}
	return h2c
}

type unaryTimeout struct{}

func (unaryTimeout) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if _, ok := ctx.Deadline(); ok {
			return next(ctx, req)
		}
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return next(ctx, req)
	}
}

func (unaryTimeout) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (unaryTimeout) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// NormalizeAddress accepts host:port as well as an http(s) URL, as the CLI's
// --address does.
func NormalizeAddress(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("--address is empty")
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("--address %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("--address %q: want an http:// or https:// URL", s)
	}
	if u.Host == "" {
		return "", fmt.Errorf("--address %q: no host", s)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Status asks the agent for its view of the cluster.
func (c *Client) Status(ctx context.Context) (*clusterv1.StatusResponse, error) {
	res, err := c.Cluster.Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// pushGiveUp bounds how long one push is retried.
const pushGiveUp = time.Minute

// Push stores a definition. It carries a request id of its own, so that it
// can be sent again while the cluster elects a leader or after an answer
// that leaves the outcome unknown, and is still stored once. It explains the
// one refusal a benchmark commonly meets.
func (c *Client) Push(ctx context.Context, def string) error {
	req := &workflowv1.PushRequest{Definition: def, RequestId: "bench-push-" + newRunID() + newRunID()}
	deadline := time.Now().Add(pushGiveUp)
	backoff := 50 * time.Millisecond
	for {
		_, err := c.Workflows.Push(ctx, connect.NewRequest(req))
		switch {
		case err == nil:
			return nil
		case connect.CodeOf(err) == connect.CodeInvalidArgument && strings.Contains(err.Error(), "steps"):
			return fmt.Errorf("push: %w (for long chains, start the agents with -max-workflow-steps)", err)
		case !retryable(err) || ctx.Err() != nil || time.Now().Add(backoff).After(deadline):
			return fmt.Errorf("push: %w", err)
		}
		if sleepCtx(ctx, backoff) != nil {
			return fmt.Errorf("push: %w", err)
		}
		backoff = min(2*backoff, time.Second)
	}
}

// retryable reports whether a failed call may succeed when made again with
// the same request id: anything but a definite refusal, as the CLI decides.
// The leader may have been away, the write's outcome may be unknown, or a
// connection broke (a follower forwarding to a leader that dies mid-call
// answers Canceled).
func retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeFailedPrecondition,
		connect.CodeOutOfRange, connect.CodeUnimplemented:
		return false
	}
	return true
}

// startRetrying starts an instance with a fixed request id, retrying through
// the given clients in turn while the error is retryable, until it is
// acknowledged or giveUp passes. It also returns the last error it retried
// on (nil when the first call was answered).
func startRetrying(ctx context.Context, via []*Client, wf, requestID string, giveUp time.Duration) (res *instancev1.StartResponse, retriedOn, err error) {
	deadline := time.Now().Add(giveUp)
	backoff := 50 * time.Millisecond
	for i := 0; ; i++ {
		c := via[i%len(via)]
		got, err := c.Instances.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: wf, RequestId: requestID}))
		if err == nil {
			return got.Msg, retriedOn, nil
		}
		if !retryable(err) || ctx.Err() != nil || time.Now().Add(backoff).After(deadline) {
			return nil, retriedOn, err
		}
		if sleepCtx(ctx, backoff) != nil {
			return nil, retriedOn, err
		}
		retriedOn = err
		backoff = min(2*backoff, time.Second)
	}
}

// waitEnded follows an instance until it has reached a terminal status and
// returns its final view. It watches the event stream and, if the stream
// breaks, polls.
func waitEnded(ctx context.Context, c *Client, wf string, id int64, timeout time.Duration) (*instancev1.GetResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		stream, err := c.Instances.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: wf, InstanceId: id}))
		if err == nil {
			for stream.Receive() {
			}
			_ = stream.Close()
		}
		got, err := c.Instances.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: wf, InstanceId: id}))
		if err == nil && fsm.InstanceTerminal(got.Msg.Instance.GetStatus()) {
			return got.Msg, nil
		}
		if ctx.Err() != nil {
			status := "unknown"
			if err == nil {
				status = got.Msg.Instance.GetStatus()
			}
			return nil, fmt.Errorf("instance %s/%d did not end within %s (last status %s)", wf, id, timeout, status)
		}
		if err != nil && !retryable(err) {
			return nil, fmt.Errorf("get instance %s/%d: %w", wf, id, err)
		}
		if sleepCtx(ctx, 200*time.Millisecond) != nil {
			continue
		}
	}
}
