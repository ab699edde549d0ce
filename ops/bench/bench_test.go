package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/cluster/telemetry"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
	"github.com/batonhq/baton/workflow"
)

// Unit tests: no agents.

func TestCheckRefusesBadParameters(t *testing.T) {
	for _, tc := range []struct {
		w     Workload
		local int
		want  string
	}{
		{Chain{Steps: 0}, 1, "--steps 0: want at least 2"},
		{Chain{Steps: 1}, 1, "--steps 1: want at least 2"},
		{Chain{Steps: 10, Runs: -1}, 1, "--runs -1"},
		{Starts{Duration: time.Second}, 1, "starts needs --rate R (open loop"},
		{Starts{Rate: 10, Clients: 2, Duration: time.Second}, 1, "--rate and --clients exclude each other"},
		{Starts{Rate: -1, Duration: time.Second}, 1, "--rate -1"},
		{Starts{Clients: 2}, 1, "--duration 0s: want a positive duration"},
		{Starts{Rate: 0.5, Duration: time.Second}, 1, "sends no start"},
		{Foreach{Iterations: 0, Concurrency: 1}, 1, "--iterations 0"},
		{Foreach{Iterations: 10, Concurrency: 0}, 1, "--concurrency 0"},
		{Foreach{Iterations: 100001, Concurrency: 10}, 1, "want a multiple of 5"},
		{Failover{}, 0, "failover needs --local N (N ≥ 3)"},
		{Failover{}, 2, "failover needs --local 3 or more, got 2"},
		{Failover{Rate: -5}, 3, "--rate -5"},
		{Cron{Schedules: 0}, 1, "--schedules 0"},
	} {
		err := tc.w.Check(tc.local)
		var ue *UsageError
		if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v --local %d: got %v, want a usage error containing %q", tc.w.Name(), tc.w, tc.local, err, tc.want)
		}
	}
	for _, w := range []Workload{Chain{Steps: 2}, Starts{Rate: 1, Duration: time.Second}, Starts{Clients: 1, Duration: time.Second},
		Foreach{Iterations: 1, Concurrency: 1}, Failover{}, Cron{Schedules: 1}} {
		if err := w.Check(3); err != nil {
			t.Errorf("%s %+v: %v", w.Name(), w, err)
		}
	}
}

func TestCheckAgentFlag(t *testing.T) {
	for _, ok := range []string{"-raft-snapshot-threshold=1000", "--log-level=debug", "-enable-pprof"} {
		if err := CheckAgentFlag(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for f, want := range map[string]string{
		"raft-snapshot-threshold=1": "want an agent flag",
		"-":                         "want an agent flag",
		"-data-dir=/x":              "the launcher sets -data-dir itself",
		"--bootstrap-expect=5":      "the launcher sets -bootstrap-expect itself",
		"-node":                     "the launcher sets -node itself",
	} {
		if err := CheckAgentFlag(f); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", f, err, want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for p, want := range map[float64]time.Duration{0.5: 50 * time.Millisecond, 0.99: 99 * time.Millisecond, 1: 100 * time.Millisecond, 0.001: time.Millisecond} {
		if got := percentile(d, p); got != want {
			t.Errorf("p%g = %s, want %s", p*100, got, want)
		}
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("one value: %s", got)
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("no values: %s", got)
	}
}

// Above one loop's limit the iterations are split evenly between inner
// loops that share the concurrency.
func TestForeachShape(t *testing.T) {
	for _, c := range []struct{ n, conc, outer, inner, innerConc int }{
		{10000, 1000, 1, 10000, 1000},
		{25000, 1000, 1, 25000, 1000},
		{100000, 1000, 4, 25000, 250},
		{50000, 1, 2, 25000, 1},
	} {
		o, i, ic := foreachShape(c.n, c.conc)
		if o != c.outer || i != c.inner || ic != c.innerConc {
			t.Errorf("foreachShape(%d, %d) = %d, %d, %d; want %d, %d, %d", c.n, c.conc, o, i, ic, c.outer, c.inner, c.innerConc)
		}
	}
	if def := foreachDefinition("f", 100000, 1000); !strings.Contains(def, `"id":"outer"`) || !strings.Contains(def, "Util.intsBetween(0, 25000, 1)") {
		t.Errorf("100,000 iterations: %s", def)
	}
}

func TestDefinitionsAreValid(t *testing.T) {
	due := time.Date(2030, 5, 6, 7, 8, 9, 0, time.UTC)
	limits := workflow.DefaultLimits()
	limits.MaxSteps = 1000
	for name, def := range map[string]string{
		"chain":           chainDefinition("c", 1000),
		"one":             oneStepDefinition("o"),
		"foreach":         foreachDefinition("f", 10000, 1000),
		"foreach-nested":  foreachDefinition("f", 100000, 1000),
		"cron":            cronDefinition("t", &due),
		"cron-no-trigger": cronDefinition("t", nil),
		"failover":        failoverDefinition("x", "/tmp/some dir/ledger", 200*time.Millisecond),
	} {
		d, err := workflow.Parse([]byte(def))
		if err == nil {
			err = d.Validate(limits)
		}
		if err == nil {
			err = workflow.CheckSupported(d)
		}
		if err != nil {
			t.Errorf("%s: %v\n%s", name, err, def)
		}
	}
	if def := cronDefinition("t", &due); !strings.Contains(def, `"cron":"9 8 7 6 5 ? 2030"`) {
		t.Errorf("cron expression for %s: %s", due, def)
	}
}

func TestResultJSONAndTable(t *testing.T) {
	r := &Result{Workload: "foreach", Params: []Field{{"iterations", 10}}}
	r.add("makespan_s", 1.5, "s", "span")
	r.unknown("leader_rss_mb", "MB", "rss", "unknown against --address")
	r.add("succeeded", 10, "", "done")
	var b bytes.Buffer
	if err := r.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Count(b.String(), "\n") != 1 {
		t.Errorf("want one line: %q", b.String())
	}
	var m map[string]any
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m["makespan_s"] != 1.5 || m["succeeded"] != 10.0 || m["workload"] != "foreach" {
		t.Errorf("fields: %v", m)
	}
	if v, ok := m["leader_rss_mb"]; !ok || v != nil {
		t.Errorf("an unknown figure must be null, got %v (present %v)", v, ok)
	}
	if _, ok := m["conditions"].(map[string]any); !ok {
		t.Errorf("no conditions: %v", m)
	}
	b.Reset()
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"workload  foreach iterations=10", "makespan_s", "1.5", "leader_rss_mb  -", "conditions", "unknown against --address"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestFsyncLatency(t *testing.T) {
	p50, p99, err := FsyncLatency(t.TempDir(), 10)
	if err != nil || p50 <= 0 || p99 < p50 {
		t.Fatalf("p50 %s p99 %s err %v", p50, p99, err)
	}
}

func TestConditionNotesSaySlowFsync(t *testing.T) {
	at := func(v float64) Conditions { return Conditions{FsyncDir: "/data", FsyncP50Ms: &v} }
	if n := at(0.43).notes(); len(n) != 1 || !strings.Contains(n[0], "fsync p50 is above 0.3 ms") {
		t.Errorf("fsync p50 0.43 ms: notes %q, want one about the slow fsync", n)
	}
	if n := at(0.15).notes(); len(n) != 0 {
		t.Errorf("fsync p50 0.15 ms: notes %q, want none", n)
	}
	if n := (Conditions{}).notes(); len(n) != 0 {
		t.Errorf("fsync not measured (a cluster given by address): notes %q, want none", n)
	}
}

// Workloads against real agents, each run small. They check that the
// figures are present and consistent with each other; none asserts a time.

func runLocal(t *testing.T, w Workload, o Options) (*Result, map[string]any) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts real agents")
	}
	o.Binary = harness.Binary(t)
	if o.Local > 0 && o.DataRoot == "" {
		o.DataRoot = t.TempDir()
	}
	var progress bytes.Buffer
	o.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := Run(ctx, w, o)
	if err != nil {
		t.Fatalf("%s: %v\nprogress:\n%s", w.Name(), err, progress.String())
	}
	if len(res.Problems) > 0 {
		t.Errorf("%s: problems: %v", w.Name(), res.Problems)
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s", b)
	if o.Local > 0 {
		// The launcher removes what it made.
		if entries, _ := os.ReadDir(o.DataRoot); len(entries) > 0 {
			t.Errorf("data root not cleaned up: %v", entries)
		}
	}
	return res, m
}

// num returns a numeric field of the JSON object, failing if it is missing.
func num(t *testing.T, m map[string]any, name string) float64 {
	t.Helper()
	v, ok := m[name].(float64)
	if !ok {
		t.Fatalf("field %s missing or not a number: %v", name, m[name])
	}
	return v
}

func ordered(t *testing.T, m map[string]any, names ...string) {
	t.Helper()
	for i := 1; i < len(names); i++ {
		if a, b := num(t, m, names[i-1]), num(t, m, names[i]); a > b {
			t.Errorf("%s %g > %s %g", names[i-1], a, names[i], b)
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 0.01*math.Max(math.Abs(a), math.Abs(b))+0.01 }

func TestChainLocal(t *testing.T) {
	dir := t.TempDir()
	res, m := runLocal(t, Chain{Steps: 20}, Options{Local: 1, ProfileDir: dir})
	ordered(t, m, "per_step_ms_p50", "per_step_ms_p99", "per_step_ms_max")
	if num(t, m, "per_step_ms_p50") <= 0 || num(t, m, "start_ms") <= 0 {
		t.Errorf("times must be positive: %v", m)
	}
	// 19 gaps of at least the median's size in the upper half fit in the span.
	if span, p50 := num(t, m, "makespan_s")*1000, num(t, m, "per_step_ms_p50"); span < 9*p50 {
		t.Errorf("makespan %g ms is shorter than 9 median steps of %g ms", span, p50)
	}
	// One agent: every step ran on the leader.
	if num(t, m, "per_step_ms_p50_leader") != num(t, m, "per_step_ms_p50") {
		t.Errorf("per_step_ms_p50_leader %v, want the median of all steps, %v", m["per_step_ms_p50_leader"], m["per_step_ms_p50"])
	}
	if v, ok := m["per_step_ms_p50_others"]; !ok || v != nil {
		t.Errorf("per_step_ms_p50_others = %v, want null: no step ran on another node", v)
	}
	if !strings.Contains(strings.Join(res.Notes, "\n"), "per_step_ms_p50_others: no step ran there") {
		t.Errorf("notes do not say why per_step_ms_p50_others is unknown: %q", res.Notes)
	}
	c := m["conditions"].(map[string]any)
	if c["nodes"] != 1.0 || c["cpus"].(float64) < 1 || c["fsync_ms_p50"] == nil {
		t.Errorf("conditions: %v", c)
	}
	if raft := c["raft"].(map[string]any); raft["known"] != true || raft["heartbeat_timeout_ms"].(float64) <= 0 {
		t.Errorf("raft settings: %v", raft)
	}
	// Raft's own figures, from the agent's metrics: one agent writes its
	// log and commits on its own, so nothing is replicated.
	if commit, entries := num(t, m, "raft_commit_ms_mean"), num(t, m, "raft_entries"); commit <= 0 || entries < 20 {
		t.Errorf("raft_commit_ms_mean %g over %g entries: want a positive time over at least one entry per step", commit, entries)
	}
	if num(t, m, "raft_leader_write_ms_mean") <= 0 || num(t, m, "raft_apply_ms_mean") <= 0 || num(t, m, "raft_entries_per_write") < 1 {
		t.Errorf("leader's log and apply figures: %v", m)
	}
	// Each step's result is committed by a round of the scheduler's.
	if rounds := num(t, m, "rounds"); rounds < 20 || num(t, m, "round_plan_ms_mean") <= 0 || num(t, m, "round_commit_ms_mean") <= 0 {
		t.Errorf("scheduler rounds: %g rounds, plan %v ms, commit %v ms", rounds, m["round_plan_ms_mean"], m["round_commit_ms_mean"])
	}
	for _, f := range []string{"raft_replicate_ms_mean", "raft_follower_write_ms_mean"} {
		if v, ok := m[f]; !ok || v != nil {
			t.Errorf("%s = %v, want null with one agent", f, v)
		}
	}
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, "raft_follower_write_ms_mean: no follower reported baton.raft.rpc.appendEntries.storeLogs in the window") {
		t.Errorf("notes do not say why the follower's figure is unknown: %q", res.Notes)
	}
	var cpu, heap bool
	for _, p := range res.Profiles {
		cpu = cpu || strings.HasPrefix(filepath.Base(p), "cpu-chain-")
		heap = heap || strings.HasPrefix(filepath.Base(p), "heap-chain-")
		if st, err := os.Stat(p); err != nil || st.Size() == 0 {
			t.Errorf("profile %s: %v", p, err)
		}
	}
	if !cpu || !heap {
		t.Errorf("want a CPU and a heap profile, got %v", res.Profiles)
	}
}

func TestChainAgainstAddress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts real agents")
	}
	cl, err := StartLocal(context.Background(), LocalOptions{Nodes: 1, Binary: harness.Binary(t), Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Stop()
	if _, err := cl.WaitAgreement(context.Background(), time.Minute); err != nil {
		t.Fatal(err)
	}
	_, m := runLocal(t, Chain{Steps: 5}, Options{Address: cl.Agents[0].APIAddr})
	c := m["conditions"].(map[string]any)
	if c["nodes"] != 1.0 || c["fsync_ms_p50"] != nil || c["target"] != cl.Agents[0].URL() {
		t.Errorf("conditions against an address: %v", c)
	}
	if raft := c["raft"].(map[string]any); raft["known"] != false {
		t.Errorf("a client cannot know the agents' Raft settings: %v", raft)
	}
	if _, ok := m["agents_cpu_s"]; ok {
		t.Errorf("a client cannot see the CPU time of a cluster given by address: %v", m)
	}
}

func TestStartsClosedLoopLocal(t *testing.T) {
	_, m := runLocal(t, Starts{Clients: 2, Duration: time.Second}, Options{Local: 1})
	starts, elapsed := num(t, m, "starts"), num(t, m, "elapsed_s")
	if starts < 1 || num(t, m, "errors") != 0 {
		t.Errorf("starts %g errors %g", starts, num(t, m, "errors"))
	}
	if elapsed < 0.99 {
		t.Errorf("elapsed %g s: the clients stop sending after the 1 s duration, not before", elapsed)
	}
	if rate := num(t, m, "starts_per_s"); !near(rate, starts/elapsed) {
		t.Errorf("starts_per_s %g, but %g starts in %g s", rate, starts, elapsed)
	}
	ordered(t, m, "ack_ms_p50", "ack_ms_p99", "ack_ms_max")
	// The one agent is the leader, and it worked for every start.
	agents, leader := num(t, m, "agents_cpu_s"), num(t, m, "leader_cpu_s")
	if agents <= 0 || leader != agents || num(t, m, "bench_cpu_s") <= 0 || num(t, m, "cpus_busy") <= 0 {
		t.Errorf("CPU figures: agents %g s, leader %g s, bench %g s, busy %g", agents, leader, num(t, m, "bench_cpu_s"), num(t, m, "cpus_busy"))
	}
	if per := num(t, m, "agents_cpu_ms_per_start"); !near(per, agents*1000/starts) {
		t.Errorf("agents_cpu_ms_per_start %g, but %g s for %g starts", per, agents, starts)
	}
}

func TestStartsOpenLoopLocal(t *testing.T) {
	_, m := runLocal(t, Starts{Rate: 50, Duration: time.Second}, Options{Local: 1})
	if starts := num(t, m, "starts"); starts != 50 || num(t, m, "errors") != 0 {
		t.Errorf("want all 50 starts due in 1 s at 50/s acknowledged: %v", m)
	}
	if rate := num(t, m, "starts_per_s"); !near(rate, num(t, m, "starts")/num(t, m, "elapsed_s")) || rate > 55 {
		t.Errorf("starts_per_s %g for 50/s", rate)
	}
	ordered(t, m, "ack_ms_p50", "ack_ms_p99", "ack_ms_max")
}

func TestForeachLocal(t *testing.T) {
	_, m := runLocal(t, Foreach{Iterations: 50, Concurrency: 10}, Options{Local: 1})
	if num(t, m, "succeeded") != 50 {
		t.Errorf("succeeded %g of 50", num(t, m, "succeeded"))
	}
	// makespan_s is rounded to the millisecond; iterations_per_s is not.
	span, rate := num(t, m, "makespan_s"), num(t, m, "iterations_per_s")
	if span <= 0 || rate < 50/(span+0.0005) || rate > 50/(span-0.0005) {
		t.Errorf("makespan %g s, iterations_per_s %g", span, num(t, m, "iterations_per_s"))
	}
	if rss := num(t, m, "leader_rss_mb"); rss < 1 || rss > 4096 {
		t.Errorf("leader_rss_mb %g", rss)
	}
}

func TestCronLocal(t *testing.T) {
	_, m := runLocal(t, Cron{Schedules: 20, Wait: 20 * time.Second}, Options{Local: 1})
	if num(t, m, "missed") != 0 || num(t, m, "duplicated") != 0 {
		t.Errorf("missed %g duplicated %g", num(t, m, "missed"), num(t, m, "duplicated"))
	}
	ordered(t, m, "lag_ms_p50", "lag_ms_p99", "lag_ms_max")
	if lag := num(t, m, "lag_ms_p50"); lag < 0 {
		t.Errorf("an instance started %g ms before its schedule was due", -lag)
	}
}

func TestFailoverLocal(t *testing.T) {
	_, m := runLocal(t, Failover{Rate: 30, Warmup: 2 * time.Second, After: time.Second}, Options{Local: 3})
	for _, f := range []string{"lost", "duplicated", "failed", "unacked"} {
		if v := num(t, m, f); v != 0 {
			t.Errorf("%s = %g", f, v)
		}
	}
	if num(t, m, "acked") < 30 {
		t.Errorf("acked %g: the load runs 30/s for at least 3 s", num(t, m, "acked"))
	}
	if num(t, m, "resume_ms") <= 0 || num(t, m, "commit_after_kill_ms") <= 0 {
		t.Errorf("resume and commit times must follow the kill: %v", m)
	}
	// The last commit before the kill is no later than the kill.
	ordered(t, m, "commit_after_kill_ms", "unavailable_ms")
	// The leader the window began with was killed in it, so there is no
	// window of its metrics.
	if v, ok := m["raft_commit_ms_mean"]; !ok || v != nil {
		t.Errorf("raft_commit_ms_mean = %v, want null: the leader died in the window", v)
	}
}

func TestChainThreeLocal(t *testing.T) {
	_, m := runLocal(t, Chain{Steps: 30}, Options{Local: 3})
	for _, f := range []string{"raft_commit_ms_mean", "raft_leader_write_ms_mean", "raft_replicate_ms_mean", "raft_follower_write_ms_mean", "raft_apply_ms_mean"} {
		if num(t, m, f) <= 0 {
			t.Errorf("%s = %g, want a positive time", f, num(t, m, f))
		}
	}
	// A commit waits for the leader's own write, then for a follower's.
	if commit, write := num(t, m, "raft_commit_ms_mean"), num(t, m, "raft_leader_write_ms_mean"); commit <= write {
		t.Errorf("raft_commit_ms_mean %g is not above the leader's own write, %g", commit, write)
	}
	if entries := num(t, m, "raft_entries"); entries < 30 {
		t.Errorf("raft_entries %g for 30 steps", entries)
	}
	// Percentiles come from the agents' buckets, over the same window.
	if p50, p99 := num(t, m, "raft_commit_ms_p50"), num(t, m, "raft_commit_ms_p99"); p50 <= 0 || p99 < p50 {
		t.Errorf("raft_commit_ms_p50 %g, p99 %g: want a positive median and a p99 not below it", p50, p99)
	}
}

// The Raft figures come from the leader's window or the followers', and
// say why when they cannot.
func TestRaftMeterReport(t *testing.T) {
	series := func(name string, count uint64, sum float64, labels map[string]string) telemetry.Series {
		return telemetry.Series{Name: name, Kind: telemetry.Sample, Count: count, Sum: sum, Labels: labels}
	}
	commit := series("baton.raft.commitTime", 4, 4.4, nil)
	commit.Buckets = []uint64{1, 2, 1} // one value up to 1 ms, two up to 2, one above
	m := &raftMeter{begun: true, leader: "n1", bounds: []float64{1, 2}, windows: map[string][]telemetry.Series{
		"n1": {
			commit,
			series("baton.raft.boltdb.storeLogs", 2, 0.8, nil),
			series("baton.raft.replication.appendEntries.rpc", 2, 1.0, map[string]string{"peer_id": "n2"}),
			series("baton.raft.replication.appendEntries.rpc", 2, 2.0, map[string]string{"peer_id": "n3"}),
			series("baton.raft.boltdb.logsPerBatch", 2, 4, nil),
			series("baton.scheduler.plan", 3, 0.3, nil),
		},
		"n2": {series("baton.raft.rpc.appendEntries.storeLogs", 2, 1.0, nil), series("baton.raft.boltdb.storeLogs", 2, 9, nil)},
		"n3": {series("baton.raft.rpc.appendEntries.storeLogs", 1, 2.0, nil)},
	}, missing: []string{"n4"}}
	res := &Result{}
	m.report(res)
	want := map[string]float64{
		"raft_commit_ms_mean":         1.1,
		"raft_commit_ms_p50":          1.5,
		"raft_commit_ms_p99":          2,
		"raft_leader_write_ms_mean":   0.4, // the followers' own bolt writes are not the leader's
		"raft_replicate_ms_mean":      0.75,
		"raft_follower_write_ms_mean": 1,
		"raft_entries_per_write":      2,
		"raft_entries":                4,
		"round_plan_ms_mean":          0.1,
		"rounds":                      3,
	}
	for name, v := range want {
		if got, ok := res.Metric(name); !ok || !got.Known || !near(got.Value, v) {
			t.Errorf("%s = %+v, want %g", name, got, v)
		}
	}
	if got, _ := res.Metric("raft_apply_ms_mean"); got.Known {
		t.Errorf("raft_apply_ms_mean known without a sample: %+v", got)
	}
	notes := strings.Join(res.Notes, "\n")
	if !strings.Contains(notes, "raft_apply_ms_mean: the leader reported no baton.raft.fsm.applyBatch") || !strings.Contains(notes, "leave out n4") {
		t.Errorf("notes: %q", res.Notes)
	}

	// An agent that counts no buckets gives means but no percentiles.
	old := &raftMeter{begun: true, leader: "n1", windows: map[string][]telemetry.Series{"n1": {series("baton.raft.commitTime", 4, 4.4, nil)}}}
	res = &Result{}
	old.report(res)
	if got, _ := res.Metric("raft_commit_ms_mean"); !got.Known || !near(got.Value, 1.1) {
		t.Errorf("mean without buckets: %+v", got)
	}
	if got, ok := res.Metric("raft_commit_ms_p99"); !ok || got.Known {
		t.Errorf("p99 without buckets: %+v", got)
	}
	if notes := strings.Join(res.Notes, "\n"); !strings.Contains(notes, "raft_commit_ms_p99: the agents' baton.raft.commitTime has no buckets") {
		t.Errorf("notes: %q", res.Notes)
	}

	gone := &raftMeter{begun: true, leader: "n1", windows: map[string][]telemetry.Series{"n2": nil}}
	res = &Result{}
	gone.report(res)
	if got, ok := res.Metric("raft_commit_ms_mean"); !ok || got.Known {
		t.Errorf("a leader without a window: %+v", got)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "raft_*, round_*, rounds: the leader's metrics could not be read") {
		t.Errorf("notes: %q", res.Notes)
	}
	res = &Result{}
	(&raftMeter{}).report(res)
	if len(res.Metrics) != 0 {
		t.Errorf("no window, no figures: %+v", res.Metrics)
	}
}

// Repeated runs report each figure's median, keep every run's value, and
// say which run a problem or a note came from.
func TestSummarizeRepeatedRuns(t *testing.T) {
	run := func(p50 float64, rss *float64, problems, notes []string, fsync float64) *Result {
		r := &Result{Workload: "foreach", Params: []Field{{"iterations", 10}}, Problems: problems, Notes: notes}
		r.add("makespan_s", p50, "s", "span")
		if rss != nil {
			r.add("leader_rss_mb", *rss, "MB", "rss")
		} else {
			r.unknown("leader_rss_mb", "MB", "rss", "the leader was killed")
		}
		r.unknown("never_mb", "MB", "never", "not measured")
		r.Conditions.FsyncP50Ms, r.Conditions.FsyncP99Ms = &fsync, &fsync
		return r
	}
	rss := func(v float64) *float64 { return &v }
	runs := []*Result{
		run(3, rss(200), nil, []string{"not measured"}, 0.2),
		run(1, nil, []string{"2 lost"}, nil, 0.3),
		run(1.5, rss(100), nil, nil, 0.1),
	}
	s := Summarize(runs)
	if v, ok := s.metric("makespan_s"); !ok || v != 1.5 {
		t.Errorf("makespan_s median %v (known %v), want 1.5 of 3, 1, 1.5", v, ok)
	}
	if v, ok := s.metric("leader_rss_mb"); !ok || v != 150 {
		t.Errorf("leader_rss_mb median %v (known %v), want 150: the mean of the two runs that knew it", v, ok)
	}
	if _, ok := s.metric("never_mb"); ok {
		t.Error("a figure no run knew must stay unknown")
	}
	if fmt.Sprint(s.Problems) != "[run 2: 2 lost]" {
		t.Errorf("problems %q, want the run named", s.Problems)
	}
	notes := strings.Join(s.Notes, "\n")
	for _, want := range []string{"leader_rss_mb: the median of the 2 runs of 3", "run 2: leader_rss_mb: the leader was killed", "never_mb: not measured"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if strings.Contains(notes, "run 1, 2, 3: never_mb") || strings.Count(notes, "never_mb: not measured") != 1 {
		t.Errorf("a note every run gave must appear once, unprefixed:\n%s", notes)
	}
	if one := Summarize(runs[:1]); one != runs[0] {
		t.Error("one run is its own summary")
	}

	var b bytes.Buffer
	if err := s.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var m struct {
		Repeat   int              `json:"repeat"`
		Makespan float64          `json:"makespan_s"`
		ByRun    []map[string]any `json:"by_run"`
		Workload string           `json:"workload"`
		Problems []string         `json:"problems"`
	}
	if err := json.Unmarshal(b.Bytes(), &m); err != nil {
		t.Fatal(err)
	}
	if m.Repeat != 3 || m.Makespan != 1.5 || len(m.ByRun) != 3 || m.Workload != "foreach" || len(m.Problems) != 1 {
		t.Errorf("summary JSON: %s", b.String())
	}
	for i, want := range []float64{3, 1, 1.5} {
		if m.ByRun[i]["makespan_s"] != want || m.ByRun[i]["fsync_ms_p50"] != *runs[i].Conditions.FsyncP50Ms {
			t.Errorf("by_run[%d] = %v, want makespan_s %g and the run's fsync", i, m.ByRun[i], want)
		}
	}
	if v, ok := m.ByRun[1]["leader_rss_mb"]; !ok || v != nil {
		t.Errorf("by_run[1].leader_rss_mb = %v (present %v), want null", v, ok)
	}
	b.Reset()
	if err := s.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"repeated 3 times", "FIGURE", "MEDIAN", "RUNS", "makespan_s     1.5", "3 1 1.5", "200 - 100", "run 2: p50 0.3 ms"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, b.String())
		}
	}
}

func TestChainTimesSaysWhereEachStepRan(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	step := func(i int, node string, at time.Duration) *statepb.Step {
		return &statepb.Step{StepId: chainStepID(i), Attempts: []*statepb.Attempt{{Node: node, StartTime: timestamppb.New(t0.Add(at))}}}
	}
	got := &instancev1.GetResponse{
		Instance: &statepb.Instance{CreateTime: timestamppb.New(t0), StartTime: timestamppb.New(t0), EndTime: timestamppb.New(t0.Add(9 * time.Millisecond))},
		// Listed out of order, as the API may.
		Steps: []*statepb.Step{step(2, "n1", 6*time.Millisecond), step(0, "n2", 2*time.Millisecond), step(3, "n2", 7*time.Millisecond), step(1, "n1", 3*time.Millisecond)},
	}
	gaps, ranOn, start, span, err := chainTimes(got, 4)
	if err != nil {
		t.Fatal(err)
	}
	wantGaps := []time.Duration{time.Millisecond, 3 * time.Millisecond, time.Millisecond}
	if fmt.Sprint(gaps) != fmt.Sprint(wantGaps) || fmt.Sprint(ranOn) != "[n2 n1 n1]" {
		t.Errorf("gaps %v after steps on %v, want %v after steps on [n2 n1 n1]", gaps, ranOn, wantGaps)
	}
	if start != 2*time.Millisecond || span != 9*time.Millisecond {
		t.Errorf("start %v, span %v; want 2ms and 9ms", start, span)
	}
	got.Steps = got.Steps[:3]
	if _, _, _, _, err := chainTimes(got, 4); err == nil || !strings.Contains(err.Error(), "step s00001 is missing") {
		t.Errorf("a missing step: err %v, want step s00001 is missing", err)
	}
}
