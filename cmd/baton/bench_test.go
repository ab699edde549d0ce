package main

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/batonhq/baton/test/harness"
)

func TestBenchRefusesBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "chain", "--steps", "0", "--local", "1"}, "--steps 0: want at least 2"},
		{[]string{"bench", "failover"}, "failover needs --local N (N ≥ 3)"},
		{[]string{"bench", "failover", "--local", "2"}, "failover needs --local 3 or more, got 2"},
		{[]string{"bench", "starts", "--local", "1"}, "starts needs --rate R (open loop"},
		{[]string{"bench", "starts", "--rate", "10", "--clients", "2", "--local", "1"}, "--rate and --clients exclude each other"},
		{[]string{"bench", "starts", "--clients", "2", "--duration", "0s", "--local", "1"}, "--duration 0s"},
		{[]string{"bench", "foreach", "--iterations", "0", "--local", "1"}, "--iterations 0"},
		{[]string{"bench", "cron", "--schedules", "-1", "--local", "1"}, "--schedules -1"},
		{[]string{"bench", "chain", "--local", "1", "--address", "127.0.0.1:1"}, "--address and --local exclude each other"},
		{[]string{"bench", "chain", "--local", "9"}, "--local 9: want 1 to 7"},
		{[]string{"bench", "chain", "--local", "1", "--agent-flag", "-data-dir=/x"}, "the launcher sets -data-dir itself"},
		{[]string{"bench", "chain", "--local", "1", "--agent-flag", "300ms"}, "want an agent flag"},
		{[]string{"bench", "chain", "--agent-flag=-raft-heartbeat-timeout=300ms"}, "--agent-flag applies only to agents started with --local"},
		{[]string{"bench", "chain", "--steps", "many"}, "invalid argument"},
		{[]string{"bench", "chain", "extra"}, `unexpected argument "extra"`},
		{[]string{"bench", "chian"}, `did you mean "chain"`},
		{[]string{"bench", "failover", "--local", "3", "--rate", "0"}, "--rate 0: want a number above 0"},
		{[]string{"bench", "failover", "--local", "3", "--warmup", "0s"}, "--warmup 0s: want a positive duration"},
		{[]string{"bench", "cron", "--local", "1", "--wait", "-1s"}, "--wait -1s: want a positive duration"},
		{[]string{"bench", "chain", "--local", "1", "--runs", "0"}, "--runs 0: want a number above 0"},
		{[]string{"bench", "chain", "--local", "1", "--repeat", "0"}, "--repeat 0: want 1 or more runs"},
	} {
		code, stdout, stderr := runCLI(t, tc.args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) || stdout != "" {
			t.Errorf("baton %s: exit %d, stderr %q, stdout %q; want exit 2 and %q", strings.Join(tc.args, " "), code, stderr, stdout, tc.want)
		}
	}
}

// TestBenchLocalChain runs the real command line: the binary starts an
// agent from its own executable, runs a short chain, prints one JSON
// object, and removes what it made.
func TestBenchLocalChain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real agent")
	}
	root := t.TempDir()
	out := harness.MustCLI(t, "http://127.0.0.1:1", "bench", "chain", "--steps", "20", "--local", "1", "--data-root", root, "-o", "json")
	if strings.Count(out, "\n") != 1 {
		t.Errorf("want one line of JSON, got %q", out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, f := range []string{"per_step_ms_p50", "per_step_ms_p99", "start_ms"} {
		if v, ok := m[f].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v", f, m[f])
		}
	}
	c, _ := m["conditions"].(map[string]any)
	if c["nodes"] != 1.0 || c["fsync_ms_p50"] == nil || c["cpus"] == nil {
		t.Errorf("conditions: %v", c)
	}
	if m["workload"] != "chain" || m["params"].(map[string]any)["steps"] != 20.0 {
		t.Errorf("workload and params: %v %v", m["workload"], m["params"])
	}
	if entries, _ := filepathEntries(root); len(entries) > 0 {
		t.Errorf("the local agents' dirs were left behind: %v", entries)
	}
}

func filepathEntries(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names, err
}

// TestBenchRepeat runs a workload twice on fresh agents and prints one JSON
// object: each figure the median of the two runs, which it also lists.
func TestBenchRepeat(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agents")
	}
	root := t.TempDir()
	res := harness.CLI(t, "http://127.0.0.1:1", "bench", "chain", "--steps", "5", "--local", "1", "--repeat", "2", "--data-root", root, "-o", "json")
	if res.Code != 0 || strings.Count(res.Stdout, "\n") != 1 {
		t.Fatalf("exit %d, want 0 and one line of JSON: %q (stderr %s)", res.Code, res.Stdout, res.Stderr)
	}
	if !strings.Contains(res.Stderr, "run 2 of 2") {
		t.Errorf("progress does not say which run: %s", res.Stderr)
	}
	var m struct {
		Repeat int              `json:"repeat"`
		P50    float64          `json:"per_step_ms_p50"`
		ByRun  []map[string]any `json:"by_run"`
	}
	if err := json.Unmarshal([]byte(res.Stdout), &m); err != nil {
		t.Fatalf("%v: %s", err, res.Stdout)
	}
	if m.Repeat != 2 || len(m.ByRun) != 2 {
		t.Fatalf("repeat %d with %d runs listed, want 2 and 2: %s", m.Repeat, len(m.ByRun), res.Stdout)
	}
	a, _ := m.ByRun[0]["per_step_ms_p50"].(float64)
	b, _ := m.ByRun[1]["per_step_ms_p50"].(float64)
	if a <= 0 || b <= 0 || math.Abs(m.P50-(a+b)/2) > 1e-3 {
		t.Errorf("per_step_ms_p50 %g, want the mean of the two runs' %g and %g", m.P50, a, b)
	}
	if entries, _ := filepathEntries(root); len(entries) > 0 {
		t.Errorf("the local agents' dirs were left behind: %v", entries)
	}
}
