package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
)

// callTimeout bounds each unary call. A write may wait up to ten seconds on
// the server for a leader election, so this leaves room for that.
const callTimeout = 30 * time.Second

// retryBase is the first delay between retries; each later one doubles, up to
// twenty times retryBase. Tests shrink it.
var retryBase = 250 * time.Millisecond

func retryDelay(attempt int) time.Duration {
	limit := 20 * retryBase
	d := retryBase
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// cli holds the global flags and what the commands share.
type cli struct {
	stdout, stderr io.Writer
	address        string
	output         string
	out            *renderer

	// Built on first use, so commands that need no server (validate, agent)
	// never trip over a bad --address.
	api *apiClients
}

type apiClients struct {
	address   string
	workflows workflowv1connect.WorkflowServiceClient
	instances instancev1connect.InstanceServiceClient
	cluster   clusterv1connect.ClusterServiceClient
	signals   signalv1connect.SignalServiceClient
}

func newCLI(stdout, stderr io.Writer) *cli {
	return &cli{stdout: stdout, stderr: stderr}
}

func defaultAddr() string {
	if v := os.Getenv("BATON_ADDR"); v != "" {
		return v
	}
	return defaultAddress
}

// setup checks the global flags once cobra has parsed them.
func (c *cli) setup(*cobra.Command) error {
	switch c.output {
	case "table", "json":
	default:
		return usageError{fmt.Errorf("-o %q: want table or json", c.output)}
	}
	c.out = &renderer{w: c.stdout, json: c.output == "json"}
	return nil
}

// clients returns the API clients for --address.
func (c *cli) clients() (*apiClients, error) {
	if c.api != nil {
		return c.api, nil
	}
	addr, err := normalizeAddress(c.address)
	if err != nil {
		return nil, usageError{err}
	}
	hc := newHTTPClient()
	opts := []connect.ClientOption{connect.WithInterceptors(unaryTimeout{})}
	c.api = &apiClients{
		address:   addr,
		workflows: workflowv1connect.NewWorkflowServiceClient(hc, addr, opts...),
		instances: instancev1connect.NewInstanceServiceClient(hc, addr, opts...),
		signals:   signalv1connect.NewSignalServiceClient(hc, addr, opts...),
		cluster:   clusterv1connect.NewClusterServiceClient(hc, addr, opts...),
	}
	return c.api, nil
}

// normalizeAddress accepts host:port as well as a URL, since that is how the
// agent's -api-addr is written.
func normalizeAddress(s string) (string, error) {
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

// newHTTPClient returns the one client every call shares. Unary calls go over
// HTTP/1.1, which any proxy in between understands. Watch streams go over
// HTTP/2 (cleartext h2c for http:// addresses, which the agent speaks) so
// that pings notice a dead connection during a long, quiet watch; over
// HTTP/1.1 a vanished server would leave the watch hanging until TCP gave up.
func newHTTPClient() *http.Client {
	unary := http.DefaultTransport.(*http.Transport).Clone()
	unary.Protocols = new(http.Protocols)
	unary.Protocols.SetHTTP1(true)
	unary.Protocols.SetHTTP2(true) // only over TLS, where ALPN negotiates it

	stream := http.DefaultTransport.(*http.Transport).Clone()
	stream.Protocols = new(http.Protocols)
	stream.Protocols.SetHTTP2(true)
	stream.Protocols.SetUnencryptedHTTP2(true)
	stream.HTTP2 = &http.HTTP2Config{SendPingTimeout: 15 * time.Second, PingTimeout: 10 * time.Second}

	return &http.Client{Transport: &splitTransport{unary: unary, stream: stream}}
}

// splitTransport routes Connect streaming calls and unary calls to their own
// transports; see newHTTPClient.
type splitTransport struct {
	unary, stream *http.Transport
}

func (t *splitTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	// The Connect protocol marks streaming calls by content type
	// (application/connect+proto); unary ones are application/proto.
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/connect+") {
		return t.stream.RoundTrip(r)
	}
	return t.unary.RoundTrip(r)
}

func (t *splitTransport) CloseIdleConnections() {
	t.unary.CloseIdleConnections()
	t.stream.CloseIdleConnections()
}

// unaryTimeout gives each unary call a deadline; streams run until the
// instance ends or the user interrupts.
type unaryTimeout struct{}

func (unaryTimeout) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
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

// describeError turns an error into the line shown after "Error: ", saying
// what to do where the cause is a common setup mistake.
func (c *cli) describeError(err error) string {
	addr := c.address
	if c.api != nil {
		addr = c.api.address
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "dial" {
		if errors.Is(err, syscall.ECONNREFUSED) {
			return fmt.Sprintf("cannot reach Baton at %s (is the agent running? set --address or BATON_ADDR)", addr)
		}
		return fmt.Sprintf("cannot reach Baton at %s: %v (set --address or BATON_ADDR)", addr, opErr.Err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("Baton at %s did not answer within %s", addr, callTimeout)
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		if ce.Code() == connect.CodeUnimplemented && strings.Contains(ce.Message(), "404") {
			return fmt.Sprintf("%v (is %s a Baton agent?)", ce, addr)
		}
		return ce.Error()
	}
	return err.Error()
}

// idempotentAttempts bounds how often a call that carries a request id is
// sent while the cluster cannot answer it (no leader during an election, an
// agent restarting, a leader that changed before confirming the write).
const idempotentAttempts = 5

// sendAgain makes a call whose request carries a request id, and while it
// fails without an answer (Unavailable, or Aborted: the outcome is unknown)
// makes it again after a growing delay. The request id makes each later
// copy do nothing if an earlier one was applied.
func sendAgain[Req, Res any](ctx context.Context, c *cli, req *Req, call func(context.Context, *connect.Request[Req]) (*connect.Response[Res], error)) (*Res, error) {
	for attempt := 1; ; attempt++ {
		res, err := call(ctx, connect.NewRequest(req))
		if err == nil {
			return res.Msg, nil
		}
		if code := connect.CodeOf(err); (code != connect.CodeUnavailable && code != connect.CodeAborted) || attempt == idempotentAttempts || ctx.Err() != nil {
			return nil, err
		}
		d := retryDelay(attempt)
		fmt.Fprintf(c.stderr, "%s; retrying in %s\n", c.describeError(err), d)
		if err := sleepCtx(ctx, d); err != nil {
			return nil, err
		}
	}
}

// addActionRequestIDFlag adds --request-id to an operator action's command.
func addActionRequestIDFlag(cmd *cobra.Command, id *string) {
	cmd.Flags().StringVar(id, "request-id", "", "idempotency `key`: the same action sent again with it does nothing more (default: random)")
}

// ensureRequestID gives *id a random key unless the caller chose one, and
// returns it.
func ensureRequestID(id *string) string {
	if *id == "" {
		*id = newRequestID()
	}
	return *id
}

// repeatedNote tells that an action's request id had already been applied.
func repeatedNote(repeated bool, requestID string) string {
	if !repeated {
		return ""
	}
	return " (request " + requestID + " had already been applied; nothing more was done)"
}

// retryable reports whether a call that failed with err may succeed if made
// again: the server or its leader was briefly away, or the connection broke.
func retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeAlreadyExists,
		connect.CodePermissionDenied, connect.CodeUnauthenticated, connect.CodeFailedPrecondition,
		connect.CodeOutOfRange, connect.CodeUnimplemented:
		return false
	}
	return true
}
