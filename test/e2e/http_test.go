package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/test/harness"
)

// Http steps call only the hosts the agent allows, map 2xx to success and
// 4xx to a failure that is not retried, and record status and body.
func TestHTTPStepsOnlyReachAllowedHosts(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var got []string
	delivered := map[string]string{} // attempt id -> generation, per path
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Run")+" "+string(body))
		delivered[r.URL.Path] = r.Header.Get("Baton-Attempt-Id") + " " + r.Header.Get("Baton-Generation") + " " + r.Header.Get("Baton-Node")
		mu.Unlock()
		if r.URL.Path != "/echo" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"echo":"`+string(body)+`"}`)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	a := harness.StartDev(t, "-http-allow-host", host)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/http.yaml")
	r := harness.CLI(t, addr, "instance", "start", "e2e-http", "-p", "base="+srv.URL, "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait exited %d\nstderr: %s", r.Code, r.Stderr)
	}
	res := getInstance(t, addr, "e2e-http", startID(t, r))

	post := stepByID(t, res, "post")
	if post.Status != "SUCCEEDED" || output(t, post, "status_code") != 201 {
		t.Fatalf("post: %s, outputs %v", post.Status, post.Outputs)
	}
	if body := post.Outputs["response_body"].GetValue().GetStringValue(); body != `{"echo":"hello from e2e-http"}` {
		t.Errorf("post response_body %q", body)
	}
	missing := stepByID(t, res, "missing")
	if missing.Status != "COMPLETED_WITH_ERROR" || len(missing.Attempts) != 1 || missing.Attempts[0].Status != "FATALLY_FAILED" {
		t.Errorf("missing: %s after %d attempts (%s), want one FATALLY_FAILED attempt", missing.Status, len(missing.Attempts), harness.DescribeSteps(res.Steps))
	}
	elsewhere := stepByID(t, res, "elsewhere")
	if elsewhere.Status != "COMPLETED_WITH_ERROR" || len(elsewhere.Attempts) != 1 ||
		!strings.Contains(elsewhere.Attempts[0].Error, "-http-allow-host") {
		t.Errorf("elsewhere: %s, attempts %d, error %q", elsewhere.Status, len(elsewhere.Attempts), lastErr(elsewhere.Attempts))
	}
	mu.Lock()
	defer mu.Unlock()
	// Each request names the attempt it delivers, with its generation.
	for path, step := range map[string]*statepb.Step{"/echo": post, "/missing": missing} {
		a := step.Attempts[0]
		if want := a.AttemptId + " " + strconv.FormatUint(a.Generation, 10) + " " + a.Node; delivered[path] != want {
			t.Errorf("%s was called with attempt headers %q, want %q", path, delivered[path], want)
		}
	}
	want := []string{"POST /echo 1 hello from e2e-http", "GET /missing  "}
	if len(got) != 2 {
		t.Fatalf("server saw %q, want exactly %q", got, want)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Errorf("server saw %q, want %q among them", got, w)
		}
	}
}

func lastErr(attempts []*statepb.Attempt) string {
	if len(attempts) == 0 {
		return ""
	}
	return attempts[len(attempts)-1].Error
}
