package runtime

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/net/http/httpguts"
)

// HTTPSpec describes an Http step. Params are already resolved.
type HTTPSpec struct {
	URL string
	// Method is GET when empty.
	Method  string
	Headers map[string]string
	Body    string
	// StateFunc, when set, decides the outcome of a received response
	// instead of the default mapping (2xx Succeeded, 4xx FatallyFailed,
	// anything else UserFailed). It lets the caller evaluate Maestro's
	// state_expr without this package depending on the expression language.
	// body is the response body as capped for the response_body output.
	//
	// It must return Succeeded, UserFailed or FatallyFailed. When it returns
	// an error the attempt fails with that error, as UserFailed if that is
	// the outcome it returned and as FatallyFailed otherwise, so a broken
	// expression does not re-send the request unless the caller asks for it.
	StateFunc func(statusCode int, body string) (Outcome, error)
}

// MaxHTTPResponseBytes caps the response body an Http step keeps as its
// response_body output. The rest is never read, so a huge or endless body
// costs neither memory nor time.
const MaxHTTPResponseBytes = 64 << 10

// The headers every Http step's request carries: its attempt id
// (workflow/instance/step/attempt), generation and node.
const (
	AttemptIDHeader  = "Baton-Attempt-Id"
	GenerationHeader = "Baton-Generation"
	NodeHeader       = "Baton-Node"
)

// AllowHostFlag is the agent flag that adds an entry to AllowedHosts; error
// messages name it so that an operator knows what to change.
const AllowHostFlag = "-http-allow-host"

const (
	// httpDialTimeout keeps an unreachable address from using up the whole
	// attempt deadline (or, with none, the kernel's much longer connect
	// timeout) before the attempt can be retried.
	httpDialTimeout = 10 * time.Second
	// httpTLSTimeout does the same for a server that accepts connections
	// but never completes the handshake.
	httpTLSTimeout = 10 * time.Second
	// maxRedirects is what net/http allows by default; setting CheckRedirect
	// replaces that default, so it has to be enforced here.
	maxRedirects = 10
)

// httpOptions are the knobs tests turn; the zero value is production.
type httpOptions struct {
	// dial connects to an address the policy has already allowed; nil
	// dials it directly.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// tls is the client TLS configuration; nil uses the system roots.
	tls *tls.Config
}

// policyError is a request the node's policy refuses. It is never worth
// retrying, since the policy does not change between attempts.
type policyError struct{ msg string }

func (e *policyError) Error() string { return e.msg }

func runHTTP(ctx context.Context, s Spec, localStart time.Time, opt httpOptions) Result {
	h := s.HTTP
	if h == nil || strings.TrimSpace(h.URL) == "" {
		return failed(FatallyFailed, "Http step has no url")
	}
	method := strings.ToUpper(strings.TrimSpace(h.Method))
	if method == "" {
		method = http.MethodGet
	}
	u, err := url.Parse(strings.TrimSpace(h.URL))
	if err != nil {
		// url.Error repeats the whole URL, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return failed(FatallyFailed, fmt.Sprintf("Http step url: %v", err))
	}
	policy := parseAllowedHosts(s.AllowedHosts)
	if err := policy.checkURL(u); err != nil {
		return failed(FatallyFailed, err.Error())
	}
	shown := displayURL(u)
	if !httpguts.ValidHeaderFieldName(method) {
		return failed(FatallyFailed, fmt.Sprintf("Http step method %q is not a valid HTTP method", h.Method))
	}
	if err := validateHeaders(h.Headers); err != nil {
		return failed(FatallyFailed, err.Error())
	}
	if !s.Deadline.IsZero() && !time.Now().Before(s.Deadline) {
		return failed(TimedOut, timeoutMessage(s, localStart))
	}

	reqCtx := ctx
	if !s.Deadline.IsZero() {
		var cancel context.CancelFunc
		reqCtx, cancel = context.WithDeadline(ctx, s.Deadline)
		defer cancel()
	}
	var body io.Reader
	if h.Body != "" {
		body = strings.NewReader(h.Body)
	}
	req, err := http.NewRequestWithContext(reqCtx, method, u.String(), body)
	if err != nil {
		return failed(FatallyFailed, fmt.Sprintf("Http step: %v", err))
	}
	// Attempts are delivered at least once: a node that loses its lease
	// runs the attempt again elsewhere, with the same attempt id and a new
	// generation. These headers let the service dedupe; the step's own
	// headers of the same name replace them.
	req.Header.Set(AttemptIDHeader, s.AttemptID)
	req.Header.Set(GenerationHeader, strconv.FormatUint(s.Generation, 10))
	req.Header.Set(NodeHeader, s.Node)
	for k, v := range h.Headers {
		// net/http sends req.Host and ignores a Host entry in the header
		// map; the dialed host is still the URL's, so the policy holds.
		if strings.EqualFold(k, "Host") {
			if !httpguts.ValidHostHeader(v) {
				return failed(FatallyFailed, fmt.Sprintf("Http step Host header %q is not valid", v))
			}
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}

	client := newHTTPClient(policy, opt)
	defer client.CloseIdleConnections()
	transportFailure := func(what string, err error) Result {
		if ctx.Err() != nil {
			return stopped(ctx, -1)
		}
		if errors.Is(reqCtx.Err(), context.DeadlineExceeded) {
			return failed(TimedOut, timeoutMessage(s, localStart))
		}
		var pe *policyError
		if errors.As(err, &pe) {
			return failed(FatallyFailed, pe.Error())
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return failed(UserFailed, fmt.Sprintf("%s %s: %s: %v", method, shown, what, err))
	}
	resp, err := client.Do(req)
	if err != nil {
		return transportFailure("request failed", err)
	}
	data, truncated, err := readCapped(resp.Body, MaxHTTPResponseBytes)
	resp.Body.Close()
	if err != nil {
		return transportFailure("reading the response", err)
	}

	respBody := string(data)
	statusJSON, _ := json.Marshal(resp.StatusCode)
	bodyJSON, _ := json.Marshal(respBody)
	res := Result{
		ExitCode: -1,
		LogTail:  summaryLine(method, shown, resp, len(data), truncated),
		Outputs: map[string]Output{
			"status_code":   {Type: "LONG", JSON: statusJSON},
			"response_body": {Type: "STRING", JSON: bodyJSON},
		},
	}
	if h.StateFunc != nil {
		res.Outcome, res.Error = decideByStateFunc(h.StateFunc, resp.StatusCode, respBody)
		return res
	}
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		res.Outcome = Succeeded
	case code >= 400 && code <= 499:
		res.Outcome = FatallyFailed
		res.Error = fmt.Sprintf("%s %s: HTTP %s", method, shown, resp.Status)
	default:
		res.Outcome = UserFailed
		res.Error = fmt.Sprintf("%s %s: HTTP %s", method, shown, resp.Status)
	}
	return res
}

func decideByStateFunc(f func(int, string) (Outcome, error), code int, body string) (o Outcome, msg string) {
	// The function evaluates user-written expressions; a panic in it must
	// fail this attempt, not bring down the agent and every attempt on it.
	defer func() {
		if r := recover(); r != nil {
			o, msg = FatallyFailed, fmt.Sprintf("state function panicked on HTTP %d: %v", code, r)
		}
	}()
	o, err := f(code, body)
	if err != nil {
		if o != UserFailed {
			o = FatallyFailed
		}
		return o, fmt.Sprintf("state function on HTTP %d: %v", code, err)
	}
	switch o {
	case Succeeded:
		return o, ""
	case UserFailed, FatallyFailed:
		return o, fmt.Sprintf("state function decided %s for HTTP %d", o, code)
	default:
		return FatallyFailed, fmt.Sprintf("state function returned %q for HTTP %d; want %s, %s or %s", o, code, Succeeded, UserFailed, FatallyFailed)
	}
}

// newHTTPClient returns a client of its own for one attempt, so that no
// connection, proxy setting or redirect rule is shared with other code in
// the process, and every host it connects to passes the policy.
func newHTTPClient(policy hostPolicy, opt httpOptions) *http.Client {
	dial := opt.dial
	if dial == nil {
		dial = (&net.Dialer{Timeout: httpDialTimeout, KeepAlive: 30 * time.Second}).DialContext
	}
	tr := &http.Transport{
		// An environment proxy would make the proxy the dialed host and
		// the URL host mere text in a request to it.
		Proxy: nil,
		// Checked here as well as before each request and redirect, since
		// this is the address actually connected to, whatever path led
		// the transport to it.
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if err := policy.check(host, port); err != nil {
				return nil, err
			}
			return dial(ctx, network, addr)
		},
		TLSClientConfig:     opt.tls,
		TLSHandshakeTimeout: httpTLSTimeout,
		ForceAttemptHTTP2:   true,
		DisableKeepAlives:   true,
	}
	return &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= maxRedirects {
				return fmt.Errorf("stopped after %d redirects", maxRedirects)
			}
			return policy.checkURL(req.URL)
		},
	}
}

// readCapped reads at most limit bytes, reporting whether there was more.
// A partial UTF-8 sequence cut at the limit is dropped so the kept text
// stays valid.
func readCapped(r io.Reader, limit int) (data []byte, truncated bool, err error) {
	data, err = io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, false, err
	}
	if len(data) <= limit {
		return data, false, nil
	}
	data = data[:limit]
	for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
		if utf8.RuneStart(data[i]) {
			if !utf8.FullRune(data[i:]) {
				data = data[:i]
			}
			break
		}
	}
	return data, true, nil
}

func summaryLine(method, shown string, resp *http.Response, n int, truncated bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s -> %d", method, shown, resp.StatusCode)
	if resp.Request != nil && resp.Request.URL != nil {
		if final := displayURL(resp.Request.URL); final != shown {
			fmt.Fprintf(&b, " (redirected to %s)", final)
		}
	}
	if truncated {
		size := "more than " + strconv.Itoa(n)
		if resp.ContentLength > int64(n) {
			size = strconv.FormatInt(resp.ContentLength, 10)
		}
		fmt.Fprintf(&b, " (%s bytes; response_body truncated to the first %d bytes)", size, n)
	} else {
		fmt.Fprintf(&b, " (%d bytes)", n)
	}
	return b.String()
}

// displayURL is the URL as it may appear in results, which are stored and
// shown to anyone who can read the workflow: without a password or a query
// string, where API keys are commonly passed.
func displayURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	hadQuery := c.RawQuery != ""
	c.RawQuery, c.ForceQuery = "", false
	if hadQuery {
		return c.String() + "?..."
	}
	return c.String()
}

func validateHeaders(headers map[string]string) error {
	for k, v := range headers {
		if !httpguts.ValidHeaderFieldName(k) {
			return fmt.Errorf("Http step header name %q is not valid", k)
		}
		if !httpguts.ValidHeaderFieldValue(v) {
			return fmt.Errorf("Http step header %s has a value with a control character (such as a newline)", k)
		}
	}
	return nil
}

// hostRule is one parsed AllowedHosts entry.
type hostRule struct {
	// host is lower case without a trailing dot; for a wildcard it is the
	// suffix that matched names end in, with its leading dot.
	host     string
	wildcard bool
	// port is "" for any port.
	port string
}

type hostPolicy []hostRule

// CheckAllowedHost reports whether entry is a valid AllowedHosts entry: a
// host name or IP address ("api.example.com", "10.0.0.7", "::1"), either
// with a port ("api.example.com:8443", "[::1]:8080"), or "*.example.com"
// (optionally with a port) for any subdomain of example.com but not
// example.com itself. Case does not matter. Invalid entries in
// Spec.AllowedHosts allow nothing.
func CheckAllowedHost(entry string) error {
	_, err := parseHostRule(entry)
	return err
}

func parseAllowedHosts(entries []string) hostPolicy {
	var p hostPolicy
	for _, e := range entries {
		if r, err := parseHostRule(e); err == nil {
			p = append(p, r)
		}
	}
	return p
}

func parseHostRule(entry string) (hostRule, error) {
	e := strings.ToLower(strings.TrimSpace(entry))
	if e == "" {
		return hostRule{}, errors.New("empty host")
	}
	host, port := e, ""
	switch {
	case strings.HasPrefix(e, "["):
		if strings.HasSuffix(e, "]") {
			host = e[1 : len(e)-1]
			break
		}
		h, p, err := net.SplitHostPort(e)
		if err != nil {
			return hostRule{}, fmt.Errorf("host %q: %v", entry, err)
		}
		host, port = h, p
	case strings.Count(e, ":") == 1:
		host, port, _ = strings.Cut(e, ":")
	}
	if port != "" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return hostRule{}, fmt.Errorf("host %q: port must be a number from 1 to 65535", entry)
		}
	}
	r := hostRule{port: port}
	if rest, ok := strings.CutPrefix(host, "*."); ok {
		r.wildcard = true
		host = rest
	}
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return hostRule{}, fmt.Errorf("host %q has no name", entry)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if r.wildcard {
			return hostRule{}, fmt.Errorf("host %q: a wildcard needs a domain name, not an IP address", entry)
		}
		r.host = ip.String()
		return r, nil
	}
	for _, c := range host {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return hostRule{}, fmt.Errorf("host %q: want a host name, an IP address or *.domain, optionally with :port (no scheme or path)", entry)
		}
	}
	if r.wildcard {
		host = "." + host
	}
	r.host = host
	return r, nil
}

func canonicalHost(host string) string {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if ip, err := netip.ParseAddr(host); err == nil {
		return ip.String()
	}
	return host
}

func (p hostPolicy) allows(host, port string) bool {
	h := canonicalHost(host)
	_, err := netip.ParseAddr(h)
	isIP := err == nil
	for _, r := range p {
		if r.port != "" && r.port != port {
			continue
		}
		if r.wildcard {
			if !isIP && len(h) > len(r.host) && strings.HasSuffix(h, r.host) {
				return true
			}
		} else if h == r.host {
			return true
		}
	}
	return false
}

// check refuses a dial address the policy does not allow.
func (p hostPolicy) check(host, port string) error {
	if p.allows(host, port) {
		return nil
	}
	shown := net.JoinHostPort(host, port)
	hint := ""
	if len(p) == 0 {
		hint = "; this node allows no host"
	}
	return &policyError{msg: fmt.Sprintf(
		"Http step: host %s is not allowed on this node%s; an operator can allow it by starting the agent with %s=%s (any port) or %s=%s",
		shown, hint, AllowHostFlag, hostForFlag(host), AllowHostFlag, shown)}
}

func hostForFlag(host string) string {
	if strings.Contains(host, ":") {
		return "[" + host + "]"
	}
	return host
}

// checkURL refuses a URL whose scheme or host the policy does not allow.
// The host is taken as written, never resolved: the policy names what may
// be dialed, and resolving here could disagree with the dial itself.
func (p hostPolicy) checkURL(u *url.URL) error {
	port := u.Port()
	switch u.Scheme {
	case "http":
		if port == "" {
			port = "80"
		}
	case "https":
		if port == "" {
			port = "443"
		}
	default:
		return &policyError{msg: fmt.Sprintf("Http step: scheme %q is not supported; use http or https", u.Scheme)}
	}
	host := u.Hostname()
	if host == "" {
		return &policyError{msg: "Http step: url has no host"}
	}
	for i := 0; i < len(host); i++ {
		if host[i] >= utf8.RuneSelf {
			// net/http dials the punycode form, which the policy would
			// then have to list too; asking for it up front is clearer.
			return &policyError{msg: fmt.Sprintf("Http step: host %q is not ASCII; write it in punycode (xn--...)", host)}
		}
	}
	return p.check(host, port)
}
