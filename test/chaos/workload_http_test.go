package chaos

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The Http workload. Its steps call httpLedger, a server in the test
// process that every server is allowed to reach (-http-allow-host): on
// loopback for the process backend, on the docker network's gateway for
// containers. The server writes a ledger line for each request from the
// headers every Http step sends (attempt id, generation, node), as the
// chaos Shell step does for each execution, so the ledger check holds Http
// steps to the same rule: every call belongs to a placement the cluster
// committed, a succeeded attempt called at least once, and an attempt
// that called more than once was fenced or records its executions.
// httpFlaky answers 503 to each step's first attempt, so that its user
// retries run too.
const (
	httpWorkflow = "chaos-http"
	httpFlaky    = "flaky"
)

var httpDefinition = definition(httpWorkflow,
	httpStep("call", "/call", "flaky"),
	httpStep(httpFlaky, "/"+httpFlaky, "after"),
	noopStep("after"))

// httpStep POSTs to path on the ledger server named by the http_base param.
func httpStep(id, path string, successors ...string) string {
	return fmt.Sprintf(`{"step": {"id": %q, "type": "Http",
  "params": {"http": {"type": "MAP", "value": {
    "url": {"type": "STRING", "expression": %q},
    "method": {"type": "STRING", "value": "POST"},
    "body": {"type": "STRING", "value": "chaos"}}}},
  "retry_policy": %s%s}}`, id, fmt.Sprintf("http_base + %q", path), retryPolicy, transition(successors))
}

// httpLedger is the service the chaos Http steps call.
type httpLedger struct {
	srv  *http.Server
	addr string // host:port
	mu   sync.Mutex
	file *os.File
}

// newHTTPLedger serves on host (an address of this machine) and writes the
// ledger to dir/http.ledger, where the backend's ledgers() finds it.
func newHTTPLedger(t *testing.T, host, dir string) *httpLedger {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(dir, "http.ledger"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		f.Close()
		t.Fatalf("http ledger on %s: %v", host, err)
	}
	h := &httpLedger{addr: ln.Addr().String(), file: f}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := h.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("http ledger: %v", err)
		}
	}()
	t.Cleanup(func() {
		_ = h.srv.Close()
		<-done
		h.mu.Lock()
		defer h.mu.Unlock()
		_ = h.file.Close()
	})
	return h
}

// allowFlags let an agent's Http steps reach the ledger.
func (h *httpLedger) allowFlags() []string { return []string{"-http-allow-host", h.addr} }

// ServeHTTP records the call, as `attempt generation node attempt-number
// nanos 0`, before it answers: a call whose answer is lost is recorded.
func (h *httpLedger) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	id, gen, node := r.Header.Get("Baton-Attempt-Id"), r.Header.Get("Baton-Generation"), r.Header.Get("Baton-Node")
	number := id[strings.LastIndex(id, "/")+1:]
	if id == "" || gen == "" || node == "" || strings.ContainsAny(id+gen+node, " \n") {
		http.Error(w, fmt.Sprintf("missing or bad attempt headers: %q %q %q", id, gen, node), http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	_, err := fmt.Fprintf(h.file, "%s %s %s %s %d 0\n", id, gen, node, number, time.Now().UnixNano())
	h.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if r.URL.Path == "/"+httpFlaky && number == "1" {
		http.Error(w, "first attempts fail here", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusCreated)
	_, _ = io.WriteString(w, `{"recorded":`+strconv.Quote(id)+`}`)
}

// httpWorkload starts chaos-http instances; the general checks (every
// instance ends and succeeds, the ledgers) are what hold its steps.
type httpWorkload struct {
	n        int
	interval time.Duration

	clientRecords[int64]
}

func newHTTPWorkload(clients int, interval time.Duration) *httpWorkload {
	return &httpWorkload{n: clients, interval: interval}
}

func (w *httpWorkload) name() string { return "Http steps" }
func (w *httpWorkload) clients() int { return w.n }

func (w *httpWorkload) setup(r *run) error {
	return r.setupWorkflow(httpWorkflow, httpDefinition, true)
}

func (w *httpWorkload) client(r *run, id int, stop <-chan struct{}) {
	r.instanceRounds(httpWorkflow, "http", w.interval, 5*time.Minute, stop, w.unexpected, func(instanceID int64) {
		w.add(&instanceID)
	})
}

func (w *httpWorkload) check(r *run) {
	records, errs := w.snapshot()
	r.addCheck(checkResult{name: "Http clients' starts all answered", checked: len(records), violations: errs})
}
