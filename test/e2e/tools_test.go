package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/test/harness"
)

// buf curl (run through Go's tool directive, like every tool here) finds the
// services by gRPC reflection and checks health over gRPC, as grpcurl would.
func TestReflectionAndHealthWithBufCurl(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	run := func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append([]string{"tool", "buf", "curl", "--http2-prior-knowledge"}, args...)...)
		cmd.Dir = harness.Path(".")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("buf curl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	services := run("--protocol", "grpc", "--list-services", a.URL())
	for _, s := range []string{"baton.workflow.v1.WorkflowService", "baton.instance.v1.InstanceService", "baton.cluster.v1.ClusterService"} {
		if !strings.Contains(services, s) {
			t.Errorf("reflection does not list %s:\n%s", s, services)
		}
	}
	if out := run("--protocol", "grpc", a.URL()+"/grpc.health.v1.Health/Check"); !strings.Contains(out, "SERVING") {
		t.Errorf("health check: %s", out)
	}
	if out := run("--protocol", "grpc", "-d", "{}", a.URL()+"/baton.cluster.v1.ClusterService/Status"); !strings.Contains(out, `"raftState": "Leader"`) {
		t.Errorf("status over gRPC with reflected schema: %s", out)
	}
}

// Every example in examples/ validates offline, pushes, and runs to SUCCEEDED.
func TestExamplesRun(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(harness.Path("examples/*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	a := harness.StartDev(t)
	for _, f := range files {
		harness.MustCLI(t, a.URL(), "workflow", "validate", f)
		out := harness.MustCLI(t, a.URL(), "workflow", "push", f, "-o", "json")
		id := between(out, `"workflow_id": "`, `"`)
		if id == "" {
			t.Fatalf("push %s printed no workflow id:\n%s", f, out)
		}
		r := harness.CLI(t, a.URL(), "instance", "start", id, "--wait")
		if r.Code != 0 {
			b, _ := os.ReadFile(f)
			t.Errorf("example %s (%s) exited %d\nstderr: %s\ndefinition:\n%s", f, id, r.Code, r.Stderr, b)
		}
	}
}

func between(s, start, end string) string {
	i := strings.Index(s, start)
	if i < 0 {
		return ""
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		return ""
	}
	return s[:j]
}
