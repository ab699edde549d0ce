package runtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

// server is a loopback HTTP server that counts the requests reaching it.
type server struct {
	*httptest.Server
	hits atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// addr is the server's host:port, the entry that allows exactly it.
func (s *server) addr() string { return s.Listener.Addr().String() }

func (s *server) wantHits(t *testing.T, n int32) {
	t.Helper()
	if got := s.hits.Load(); got != n {
		t.Fatalf("server got %d requests, want %d", got, n)
	}
}

func httpSpec(rawURL string, allowed ...string) Spec {
	return Spec{
		AttemptID:    "wf/3/call/1",
		StepID:       "call",
		StepType:     "Http",
		StartedAt:    time.Now(),
		HTTP:         &HTTPSpec{URL: rawURL},
		AllowedHosts: allowed,
	}
}

func reply(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
}

func responseBody(t *testing.T, r Result) string {
	t.Helper()
	o, ok := r.Outputs["response_body"]
	if !ok || o.Type != "STRING" {
		t.Fatalf("response_body output = %+v (present %v), want a STRING", o, ok)
	}
	var s string
	if err := json.Unmarshal(o.JSON, &s); err != nil {
		t.Fatalf("response_body JSON %q: %v", o.JSON, err)
	}
	return s
}

func TestHTTPSuccessSendsRequestAndSetsOutputs(t *testing.T) {
	t.Parallel()
	type seen struct {
		method, path, query, contentType, token, host, body, attempt, generation, node string
	}
	got := make(chan seen, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("X-Token"), r.Host, string(b),
			r.Header.Get("Baton-Attempt-Id"), r.Header.Get("Baton-Generation"), r.Header.Get("Baton-Node")}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"42","note":"<ok> & done"}`)
	})
	s := httpSpec(srv.URL+"/jobs?key=s3cret", srv.addr())
	s.HTTP.Method = "post"
	s.HTTP.Headers = map[string]string{"Content-Type": "application/json", "x-token": "abc", "Host": "api.internal"}
	s.HTTP.Body = `{"run":true}`
	s.Generation, s.Node = 417, "n2"
	r := Run(context.Background(), s)
	wantOutcome(t, r, Succeeded, -1)
	if r.Error != "" {
		t.Fatalf("error = %q on success", r.Error)
	}
	req := <-got
	want := seen{"POST", "/jobs", "key=s3cret", "application/json", "abc", "api.internal", `{"run":true}`, "wf/3/call/1", "417", "n2"}
	if req != want {
		t.Fatalf("server saw %+v, want %+v", req, want)
	}
	wantOutputs(t, r, map[string]Output{
		"status_code":   {Type: "LONG", JSON: []byte("201")},
		"response_body": r.Outputs["response_body"],
	})
	if b := responseBody(t, r); b != `{"id":"42","note":"<ok> & done"}` {
		t.Fatalf("response_body = %q", b)
	}
	wantTail := "POST " + srv.URL + "/jobs?... -> 201 (32 bytes)"
	if r.LogTail != wantTail {
		t.Fatalf("log tail = %q, want %q", r.LogTail, wantTail)
	}
	srv.wantHits(t, 1)
}

// A step's own header replaces the one Baton sets.
func TestHTTPStepHeadersReplaceBatons(t *testing.T) {
	t.Parallel()
	got := make(chan http.Header, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() })
	s := httpSpec(srv.URL, srv.addr())
	s.HTTP.Headers = map[string]string{"baton-attempt-id": "mine"}
	wantOutcome(t, Run(context.Background(), s), Succeeded, -1)
	h := <-got
	if a := h.Values("Baton-Attempt-Id"); len(a) != 1 || a[0] != "mine" {
		t.Fatalf("Baton-Attempt-Id = %q, want the step's own", a)
	}
	if g := h.Get("Baton-Generation"); g != "0" {
		t.Fatalf("Baton-Generation = %q", g)
	}
}

func TestHTTPDefaultsToGetWithoutBody(t *testing.T) {
	t.Parallel()
	type seen struct {
		method string
		length int64
	}
	got := make(chan seen, 1)
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.Method, r.ContentLength}
	})
	r := Run(context.Background(), httpSpec(srv.URL, srv.addr()))
	wantOutcome(t, r, Succeeded, -1)
	if req := <-got; req.method != "GET" || req.length != 0 {
		t.Fatalf("server saw %s with %d body bytes, want GET with none", req.method, req.length)
	}
	if r.LogTail != "GET "+srv.URL+" -> 200 (0 bytes)" {
		t.Fatalf("log tail = %q", r.LogTail)
	}
}

func TestHTTPStatusMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code int
		want Outcome
	}{
		{200, Succeeded},
		{204, Succeeded},
		{299, Succeeded},
		{304, UserFailed},
		{400, FatallyFailed},
		{404, FatallyFailed},
		{499, FatallyFailed},
		{500, UserFailed},
		{503, UserFailed},
	}
	for _, tc := range cases {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, reply(tc.code, "why"))
			r := Run(context.Background(), httpSpec(srv.URL+"/x", srv.addr()))
			wantOutcome(t, r, tc.want, -1)
			wantOutputs(t, r, map[string]Output{
				"status_code":   {Type: "LONG", JSON: []byte(strconv.Itoa(tc.code))},
				"response_body": r.Outputs["response_body"],
			})
			if tc.want == Succeeded {
				if r.Error != "" {
					t.Fatalf("error = %q on success", r.Error)
				}
				return
			}
			if !strings.Contains(r.Error, "HTTP "+strconv.Itoa(tc.code)) || !strings.Contains(r.Error, srv.URL+"/x") {
				t.Fatalf("error = %q, want the status and the URL", r.Error)
			}
		})
	}
}

func TestHTTPConnectionRefusedIsRetryable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r := Run(context.Background(), httpSpec("http://"+addr+"/", addr))
	wantOutcome(t, r, UserFailed, -1)
	if !strings.Contains(r.Error, "refused") {
		t.Fatalf("error = %q", r.Error)
	}
	if r.Outputs != nil {
		t.Fatalf("outputs = %v without a response", r.Outputs)
	}
}

func TestHTTPHostNotAllowed(t *testing.T) {
	t.Parallel()
	srv := newServer(t, reply(200, "should not be reached"))
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	for _, allowed := range [][]string{
		nil,
		{},
		{"example.com"},
		{"127.0.0.1:1"},
		{"*.0.0.1"},
		{"localhost"},
		{"127.0.0.2"},
		{"http://127.0.0.1:" + port},
	} {
		r := Run(context.Background(), httpSpec(srv.URL+"/", allowed...))
		wantOutcome(t, r, FatallyFailed, -1)
		for _, want := range []string{srv.addr(), "not allowed", "-http-allow-host=127.0.0.1"} {
			if !strings.Contains(r.Error, want) {
				t.Fatalf("allowed %q: error = %q, want it to mention %q", allowed, r.Error, want)
			}
		}
		if len(allowed) == 0 && !strings.Contains(r.Error, "allows no host") {
			t.Fatalf("error = %q, want it to say that no host is allowed", r.Error)
		}
	}
	srv.wantHits(t, 0)

	// The allowed forms for the same server, so the cases above fail for
	// the host and not for anything else.
	for _, allowed := range []string{"127.0.0.1", srv.addr(), " 127.0.0.1:" + port + " "} {
		if r := Run(context.Background(), httpSpec(srv.URL+"/", "example.com", allowed)); r.Outcome != Succeeded {
			t.Fatalf("allowed %q: %+v", allowed, r)
		}
	}
}

// TestHTTPWildcardOverTLS reaches a named host through a dialer that maps it
// to the loopback server, since the policy is on the URL's host and the
// test must not depend on DNS.
func TestHTTPWildcardOverTLS(t *testing.T) {
	t.Parallel()
	var host atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host.Store(r.Host)
		io.WriteString(w, "secure")
	}))
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	var dialed []string
	var mu sync.Mutex
	opt := httpOptions{
		tls: &tls.Config{RootCAs: roots},
		dial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, srv.Listener.Addr().String())
		},
	}
	run := func(rawURL string, allowed ...string) Result {
		return runHTTP(context.Background(), httpSpec(rawURL, allowed...), time.Now(), opt)
	}

	r := run("https://API.Example.com/v1", "*.EXAMPLE.COM")
	wantOutcome(t, r, Succeeded, -1)
	if h := host.Load(); h != "API.Example.com" {
		t.Fatalf("server saw host %v", h)
	}
	if r.LogTail != "GET https://API.Example.com/v1 -> 200 (6 bytes)" {
		t.Fatalf("log tail = %q", r.LogTail)
	}
	wantOutcome(t, run("https://a.example.com./", "*.example.com"), Succeeded, -1)
	wantOutcome(t, run("https://a.example.com/", "*.example.com:443"), Succeeded, -1)

	for _, tc := range []struct{ url, allowed string }{
		{"https://example.com/", "*.example.com"},
		{"https://badexample.com/", "*.example.com"},
		{"https://example.com.evil.net/", "*.example.com"},
		{"https://a.example.com/", "*.example.com:8443"},
		{"https://a.example.com/", "example.com"},
	} {
		r := run(tc.url, tc.allowed)
		wantOutcome(t, r, FatallyFailed, -1)
		if !strings.Contains(r.Error, "not allowed") {
			t.Fatalf("%s with %s: error = %q", tc.url, tc.allowed, r.Error)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(dialed) != 3 {
		t.Fatalf("dialed %q, want only the 3 allowed hosts", dialed)
	}
	if dialed[0] != "API.Example.com:443" {
		t.Fatalf("dialed %q first, want the URL's host and default port", dialed[0])
	}
}

func TestHTTPRedirects(t *testing.T) {
	t.Parallel()
	target := newServer(t, reply(200, "landed"))
	// localhost rather than 127.0.0.1, so that the host differs even though
	// both listen on loopback.
	targetURL := "http://localhost:" + target.URL[strings.LastIndex(target.URL, ":")+1:] + "/final"
	origin := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, targetURL, http.StatusFound)
	})

	r := Run(context.Background(), httpSpec(origin.URL+"/start", origin.addr()))
	wantOutcome(t, r, FatallyFailed, -1)
	if !strings.Contains(r.Error, "localhost:") || !strings.Contains(r.Error, "not allowed") {
		t.Fatalf("error = %q, want it to name the redirect's host", r.Error)
	}
	origin.wantHits(t, 1)
	target.wantHits(t, 0)

	r = Run(context.Background(), httpSpec(origin.URL+"/start", origin.addr(), "LocalHost"))
	wantOutcome(t, r, Succeeded, -1)
	if b := responseBody(t, r); b != "landed" {
		t.Fatalf("response_body = %q", b)
	}
	if !strings.Contains(r.LogTail, "redirected to "+targetURL) {
		t.Fatalf("log tail = %q", r.LogTail)
	}
	target.wantHits(t, 1)

	ftp := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "ftp://"+origin.addr()+"/file", http.StatusFound)
	})
	r = Run(context.Background(), httpSpec(ftp.URL, ftp.addr(), origin.addr()))
	wantOutcome(t, r, FatallyFailed, -1)
	if !strings.Contains(r.Error, "ftp") {
		t.Fatalf("error = %q", r.Error)
	}

	var loops atomic.Int32
	loop := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		loops.Add(1)
		http.Redirect(w, r, "/again", http.StatusFound)
	})
	r = Run(context.Background(), httpSpec(loop.URL, loop.addr()))
	wantOutcome(t, r, UserFailed, -1)
	if n := loops.Load(); n != maxRedirects {
		t.Fatalf("followed %d requests in a redirect loop, want %d", n, maxRedirects)
	}
}

// TestHTTPDialChecksPolicy covers the check at the dialer by itself, which
// holds even on paths that skip the URL checks.
func TestHTTPDialChecksPolicy(t *testing.T) {
	t.Parallel()
	srv := newServer(t, reply(200, "no"))
	client := newHTTPClient(parseAllowedHosts([]string{"example.com"}), httpOptions{})
	_, err := client.Get(srv.URL)
	var pe *policyError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %v, want a policy error", err)
	}
	srv.wantHits(t, 0)
	if tr := client.Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("the transport uses a proxy, which would then be the host actually dialed")
	}
}

func TestHTTPBodyCap(t *testing.T) {
	t.Parallel()
	t.Run("sized", func(t *testing.T) {
		t.Parallel()
		// One byte, then two-byte runes, so the cap falls inside a rune.
		body := "a" + strings.Repeat("é", 60<<10)
		srv := newServer(t, reply(200, body))
		r := Run(context.Background(), httpSpec(srv.URL, srv.addr()))
		wantOutcome(t, r, Succeeded, -1)
		got := responseBody(t, r)
		if !utf8.ValidString(got) || !strings.HasPrefix(body, got) || len(got) != MaxHTTPResponseBytes-1 {
			t.Fatalf("response_body has %d bytes (valid UTF-8 %v), want the first %d of the body", len(got), utf8.ValidString(got), MaxHTTPResponseBytes-1)
		}
		want := "(" + strconv.Itoa(len(body)) + " bytes; response_body truncated to the first " + strconv.Itoa(MaxHTTPResponseBytes-1) + " bytes)"
		if !strings.HasSuffix(r.LogTail, want) {
			t.Fatalf("log tail = %q, want it to end %q", r.LogTail, want)
		}
	})
	t.Run("exactly the cap", func(t *testing.T) {
		t.Parallel()
		body := strings.Repeat("x", MaxHTTPResponseBytes)
		srv := newServer(t, reply(200, body))
		r := Run(context.Background(), httpSpec(srv.URL, srv.addr()))
		if got := responseBody(t, r); got != body || strings.Contains(r.LogTail, "truncated") {
			t.Fatalf("%d bytes, log tail %q; want the whole body, not truncated", len(got), r.LogTail)
		}
	})
	t.Run("endless", func(t *testing.T) {
		t.Parallel()
		var written atomic.Int64
		srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			chunk := []byte(strings.Repeat("z", 32<<10))
			for {
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		})
		s := httpSpec(srv.URL, srv.addr())
		// Reading the body without a bound would end only here.
		s.Deadline = s.StartedAt.Add(10 * time.Second)
		r := Run(context.Background(), s)
		wantOutcome(t, r, Succeeded, -1)
		if got := responseBody(t, r); len(got) != MaxHTTPResponseBytes {
			t.Fatalf("response_body has %d bytes", len(got))
		}
		if !strings.Contains(r.LogTail, "more than "+strconv.Itoa(MaxHTTPResponseBytes)+" bytes; response_body truncated") {
			t.Fatalf("log tail = %q", r.LogTail)
		}
		// The client stopped reading; the server's writes must fail soon
		// rather than filling memory somewhere.
		srv.Close()
		if w := written.Load(); w > 64<<20 {
			t.Fatalf("server wrote %d bytes", w)
		}
	})
}

// hang is a handler that never answers until the client goes away.
func hang(w http.ResponseWriter, r *http.Request) {
	<-r.Context().Done()
}

// hangInBody sends the headers and part of the body, then stalls.
func hangInBody(w http.ResponseWriter, r *http.Request) {
	io.WriteString(w, "partial")
	w.(http.Flusher).Flush()
	<-r.Context().Done()
}

func TestHTTPDeadline(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{"headers": hang, "body": hangInBody} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, h)
			s := httpSpec(srv.URL, srv.addr())
			s.Deadline = s.StartedAt.Add(300 * time.Millisecond)
			start := time.Now()
			r := Run(context.Background(), s)
			wantOutcome(t, r, TimedOut, -1)
			if d := time.Since(start); d < 250*time.Millisecond || d > slow {
				t.Fatalf("timed out after %v", d)
			}
			if r.Error != "timed out after 300ms" {
				t.Fatalf("error = %q", r.Error)
			}
		})
	}

	t.Run("already passed", func(t *testing.T) {
		t.Parallel()
		srv := newServer(t, reply(200, ""))
		s := httpSpec(srv.URL, srv.addr())
		s.Deadline = time.Now().Add(-time.Second)
		wantOutcome(t, Run(context.Background(), s), TimedOut, -1)
		srv.wantHits(t, 0)
	})
}

func TestHTTPCancel(t *testing.T) {
	t.Parallel()
	for name, h := range map[string]http.HandlerFunc{"headers": hang, "body": hangInBody} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, h)
			s := httpSpec(srv.URL, srv.addr())
			s.Deadline = time.Now().Add(slow)
			ctx, cancel := context.WithCancelCause(context.Background())
			time.AfterFunc(200*time.Millisecond, func() { cancel(errors.New("leader stopped it")) })
			r := Run(ctx, s)
			wantOutcome(t, r, Stopped, -1)
			if r.Error != "stopped: leader stopped it" {
				t.Fatalf("error = %q", r.Error)
			}
		})
	}
}

func TestHTTPStateFunc(t *testing.T) {
	t.Parallel()
	errBad := errors.New("no field status")
	cases := []struct {
		name      string
		code      int
		f         func(int, string) (Outcome, error)
		want      Outcome
		wantError string
	}{
		{"5xx judged a success", 503, func(int, string) (Outcome, error) { return Succeeded, nil }, Succeeded, ""},
		{"2xx judged fatal", 200, func(int, string) (Outcome, error) { return FatallyFailed, nil }, FatallyFailed, "state function decided FATALLY_FAILED for HTTP 200"},
		{"2xx judged retryable", 200, func(int, string) (Outcome, error) { return UserFailed, nil }, UserFailed, "state function decided USER_FAILED for HTTP 200"},
		{"error", 200, func(int, string) (Outcome, error) { return Succeeded, errBad }, FatallyFailed, "state function on HTTP 200: no field status"},
		{"retryable error", 200, func(int, string) (Outcome, error) { return UserFailed, errBad }, UserFailed, "state function on HTTP 200: no field status"},
		{"unknown outcome", 200, func(int, string) (Outcome, error) { return Stopped, nil }, FatallyFailed, `state function returned "STOPPED" for HTTP 200; want SUCCEEDED, USER_FAILED or FATALLY_FAILED`},
		{"panic", 200, func(int, string) (Outcome, error) { panic("nil map") }, FatallyFailed, "state function panicked on HTTP 200: nil map"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newServer(t, reply(tc.code, `{"state":"done"}`))
			s := httpSpec(srv.URL, srv.addr())
			var gotCode int
			var gotBody string
			s.HTTP.StateFunc = func(code int, body string) (Outcome, error) {
				gotCode, gotBody = code, body
				return tc.f(code, body)
			}
			r := Run(context.Background(), s)
			wantOutcome(t, r, tc.want, -1)
			if r.Error != tc.wantError {
				t.Fatalf("error = %q, want %q", r.Error, tc.wantError)
			}
			if gotCode != tc.code || gotBody != `{"state":"done"}` {
				t.Fatalf("state function got %d %q", gotCode, gotBody)
			}
			if string(r.Outputs["status_code"].JSON) != strconv.Itoa(tc.code) {
				t.Fatalf("outputs = %v", r.Outputs)
			}
		})
	}

	t.Run("not called without a response", func(t *testing.T) {
		t.Parallel()
		s := httpSpec("http://127.0.0.1:1/", "127.0.0.1:1")
		s.HTTP.StateFunc = func(int, string) (Outcome, error) {
			t.Error("state function called")
			return Succeeded, nil
		}
		wantOutcome(t, Run(context.Background(), s), UserFailed, -1)
	})
}

func TestHTTPBadSpec(t *testing.T) {
	t.Parallel()
	srv := newServer(t, reply(200, ""))
	cases := []struct {
		name    string
		spec    HTTPSpec
		wantErr string
	}{
		{"no spec", HTTPSpec{}, "no url"},
		{"blank url", HTTPSpec{URL: "  "}, "no url"},
		{"file scheme", HTTPSpec{URL: "file:///etc/passwd"}, `scheme "file"`},
		{"ftp scheme", HTTPSpec{URL: "ftp://" + srv.addr() + "/"}, `scheme "ftp"`},
		{"relative", HTTPSpec{URL: "/path"}, `scheme ""`},
		{"no host", HTTPSpec{URL: "http:///path"}, "no host"},
		{"bad url", HTTPSpec{URL: "http://" + srv.addr() + "/%zz"}, "invalid URL escape"},
		{"non-ASCII host", HTTPSpec{URL: "http://bücher.example/"}, "punycode"},
		{"bad method", HTTPSpec{URL: srv.URL, Method: "GE T"}, "not a valid HTTP method"},
		{"bad header name", HTTPSpec{URL: srv.URL, Headers: map[string]string{"X Bad": "v"}}, "header name"},
		{"header injection", HTTPSpec{URL: srv.URL, Headers: map[string]string{"X-A": "v\r\nX-B: w"}}, "control character"},
		{"bad Host header", HTTPSpec{URL: srv.URL, Headers: map[string]string{"Host": "a b"}}, "Host header"},
	}
	for _, tc := range cases {
		s := httpSpec("", srv.addr(), "bücher.example")
		s.HTTP = &tc.spec
		if tc.name == "no spec" {
			s.HTTP = nil
		}
		r := Run(context.Background(), s)
		wantOutcome(t, r, FatallyFailed, -1)
		if !strings.Contains(r.Error, tc.wantErr) {
			t.Fatalf("%s: error = %q, want it to contain %q", tc.name, r.Error, tc.wantErr)
		}
	}
	srv.wantHits(t, 0)
}

func TestHTTPKeepsSecretsOutOfResults(t *testing.T) {
	t.Parallel()
	srv := newServer(t, reply(500, ""))
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("bob", "hunter2")
	u.RawQuery = "api_key=topsecret"
	r := Run(context.Background(), httpSpec(u.String(), srv.addr()))
	wantOutcome(t, r, UserFailed, -1)
	for _, text := range []string{r.Error, r.LogTail} {
		if strings.Contains(text, "hunter2") || strings.Contains(text, "topsecret") || !strings.Contains(text, srv.addr()) {
			t.Fatalf("result text %q", text)
		}
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r = Run(context.Background(), httpSpec("http://bob:hunter2@"+addr+"/?api_key=topsecret", addr))
	wantOutcome(t, r, UserFailed, -1)
	if strings.Contains(r.Error, "hunter2") || strings.Contains(r.Error, "topsecret") {
		t.Fatalf("error = %q", r.Error)
	}
}

func TestCheckAllowedHost(t *testing.T) {
	t.Parallel()
	for _, ok := range []string{"example.com", "API.Example.com", "example.com.", "a_b.internal", "10.0.0.7", "10.0.0.7:8080", "::1", "[::1]", "[::1]:8080", "*.example.com", "*.example.com:443", "localhost:65535"} {
		if err := CheckAllowedHost(ok); err != nil {
			t.Errorf("CheckAllowedHost(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", " ", "*", "*.", "*.10.0.0.1", "example.*.com", "http://example.com", "example.com/path", "user@example.com", "example.com:0", "example.com:65536", "example.com:http", "[::1", "exämple.com"} {
		if err := CheckAllowedHost(bad); err == nil {
			t.Errorf("CheckAllowedHost(%q) = nil, want an error", bad)
		}
	}

	p := parseAllowedHosts([]string{"Example.com", "10.0.0.7:8080", "::1", "*.svc.local", "bad/entry"})
	cases := []struct {
		host, port string
		want       bool
	}{
		{"example.com", "443", true},
		{"EXAMPLE.COM.", "80", true},
		{"www.example.com", "443", false},
		{"10.0.0.7", "8080", true},
		{"10.0.0.7", "80", false},
		{"0:0::1", "80", true},
		{"::2", "80", false},
		{"a.svc.local", "1", true},
		{"a.b.svc.local", "1", true},
		{"svc.local", "1", false},
		{".svc.local", "1", false},
		{"xsvc.local", "1", false},
		{"bad", "80", false},
	}
	for _, tc := range cases {
		if got := p.allows(tc.host, tc.port); got != tc.want {
			t.Errorf("allows(%s, %s) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
}
