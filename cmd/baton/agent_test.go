package main

import (
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// configFile writes a config file into a temporary dir and returns its path.
func configFile(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	writeFile(t, p, body)
	return p
}

func TestAgentConfigFilesAndFlags(t *testing.T) {
	want := agentConfig{
		Node: "n1", DataDir: "/var/lib/baton", APIAddr: "10.0.0.1:7420", RaftAddr: "10.0.0.1:7421",
		SerfAddr: "10.0.0.1:7422", BootstrapExpect: 3, RetryJoin: []string{"10.0.0.2:7422", "10.0.0.3:7422"},
		Tags: map[string]string{"pool": "etl"}, Raft: raftConfig{SnapshotThreshold: 100, SnapshotInterval: "30s", TrailingLogs: 50, HeartbeatTimeout: "800ms"},
		Retention: retentionConfig{SignalsPerName: ptr(500), SignalsFor: "720h", VersionsPerWorkflow: ptr(20), ActionsPerWorkflow: ptr(50)},
	}
	hclFile := configFile(t, "baton.hcl", `
node = "n1"
data_dir = "/var/lib/baton"
api_addr = "10.0.0.1:7420"
raft_addr = "10.0.0.1:7421"
serf_addr = "10.0.0.1:7422"
bootstrap_expect = 3
retry_join = ["10.0.0.2:7422", "10.0.0.3:7422"]
tags { pool = "etl" }
raft {
  snapshot_threshold = 100
  snapshot_interval = "30s"
  trailing_logs = 50
  heartbeat_timeout = "800ms"
}
retention {
  signals_per_name = 500
  signals_for = "720h"
  versions_per_workflow = 20
  actions_per_workflow = 50
}
`)
	yamlFile := configFile(t, "baton.yaml", `
node: n1
data_dir: /var/lib/baton
api_addr: 10.0.0.1:7420
raft_addr: 10.0.0.1:7421
serf_addr: 10.0.0.1:7422
bootstrap_expect: 3
retry_join: [10.0.0.2:7422, 10.0.0.3:7422]
tags: {pool: etl}
raft: {snapshot_threshold: 100, snapshot_interval: 30s, trailing_logs: 50, heartbeat_timeout: 800ms}
retention: {signals_per_name: 500, signals_for: 720h, versions_per_workflow: 20, actions_per_workflow: 50}
`)
	for _, f := range []string{hclFile, yamlFile} {
		got, err := parseAgentFlags([]string{"-config", f}, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\ngot  %+v\nwant %+v", filepath.Base(f), got, want)
		}
	}

	// Flags win over the file.
	got, err := parseAgentFlags([]string{"-config", yamlFile, "-node", "n9", "-retry-join", "a:1", "-retry-join", "b:2", "-tag", "zone=x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got.Node != "n9" || !reflect.DeepEqual(got.RetryJoin, []string{"a:1", "b:2"}) || got.Tags["zone"] != "x" || got.Tags["pool"] != "etl" {
		t.Errorf("flags over file: %+v", got)
	}
	// A count flag given as 0 wins over the file's count.
	got, err = parseAgentFlags([]string{"-config", yamlFile, "-retain-signals", "0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if n := got.Retention.SignalsPerName; n == nil || *n != 0 {
		t.Errorf("-retain-signals 0 over signals_per_name 500: %v", n)
	}
}

func ptr[T any](v T) *T { return &v }

func TestRaftTimeouts(t *testing.T) {
	got, err := raftConfig{HeartbeatTimeout: "2s", ElectionTimeout: "1500ms"}.timeouts()
	if err != nil {
		t.Fatal(err)
	}
	if got.Heartbeat != 2*time.Second || got.Election != 1500*time.Millisecond || got.LeaderLease != 0 {
		t.Errorf("timeouts %+v", got)
	}
	for _, c := range []struct {
		cfg  raftConfig
		want string
	}{
		{raftConfig{HeartbeatTimeout: "soon"}, `raft heartbeat_timeout "soon": want a positive duration`},
		{raftConfig{ElectionTimeout: "-1s"}, `raft election_timeout "-1s"`},
		{raftConfig{LeaderLeaseTimeout: "1ms"}, "leader_lease_timeout 1ms: want at least 5ms"},
		{raftConfig{HeartbeatTimeout: "100ms", LeaderLeaseTimeout: "200ms"}, "leader_lease_timeout 200ms must not exceed heartbeat_timeout 100ms"},
	} {
		if _, err := c.cfg.timeouts(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want it to mention %q", c.cfg, err, c.want)
		}
	}
	// A short heartbeat timeout alone brings the lease down with it.
	if _, err := (raftConfig{HeartbeatTimeout: "100ms"}).timeouts(); err != nil {
		t.Errorf("heartbeat 100ms alone: %v", err)
	}
}

func TestAgentConfigErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-config", configFile(t, "bad.yaml", "nod: x\n")}, "field nod not found"},
		{[]string{"-config", configFile(t, "bad.hcl", "node = \"x\n")}, "bad.hcl"},
		{[]string{"-config", configFile(t, "typo.hcl", "node = \"x\"\nbootstrap_expekt = 3\nraft { trailing = 1 }\n")}, "unknown keys: bootstrap_expekt, raft.trailing"},
		{[]string{"-config", configFile(t, "num.hcl", "1 = \"x\"\n")}, "At 1:1"},
		{[]string{"-config", "/nonexistent/baton.hcl"}, "no such file"},
		{[]string{"-tag", "novalue"}, "want key=value"},
		{[]string{"-bogus"}, "flag provided but not defined"},
		{[]string{"extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		_, err := parseAgentFlags(c.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want it to mention %q", c.args, err, c.want)
		}
	}
	cfg := agentConfig{APIAddr: "nohostport"}
	cfg.Dev = true
	cfg.DataDir = t.TempDir()
	if _, err := finishAgentConfig(&cfg); err == nil || !strings.Contains(err.Error(), "-api-addr") {
		t.Errorf("bad address: %v", err)
	}
	cfg = agentConfig{}
	if _, err := finishAgentConfig(&cfg); err == nil || !strings.Contains(err.Error(), "-data-dir is required") {
		t.Errorf("no data dir: %v", err)
	}
	// A bad limit is a usage error found before anything starts.
	cfg = agentConfig{Dev: true, DataDir: t.TempDir(), MinTriggerInterval: "5"}
	var usage usageError
	if err := runAgent(cfg, io.Discard); !errors.As(err, &usage) || !strings.Contains(err.Error(), `min_trigger_interval "5"`) {
		t.Errorf("-min-trigger-interval 5: %v, want a usage error naming it", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-retain-signals", "-1"}, "retention signals_per_name -1: want 0 (keep all) or more"},
		{[]string{"-retain-finished", "-2"}, "retention finished_per_workflow -2"},
		{[]string{"-retain-signals-for", "a week"}, `retention signals_for "a week": want a duration`},
		{[]string{"-retain-attempt-folders-for", "-1h"}, `retention attempt_folders_for "-1h"`},
		{[]string{"-retain-versions", "-5"}, "retention versions_per_workflow -5: want 0 (keep all) or more"},
		{[]string{"-retain-workflow-actions", "-1"}, "retention actions_per_workflow -1: want 0 (keep all) or more"},
	} {
		cfg, err := parseAgentFlags(append([]string{"-dev", "-data-dir", t.TempDir()}, c.args...), io.Discard)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		if err := runAgent(cfg, io.Discard); !errors.As(err, &usage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a usage error mentioning %q", c.args, err, c.want)
		}
	}
}

// -gc-percent reaches the config and is checked; GOGC in the environment
// wins over it.
func TestGCPercent(t *testing.T) {
	cfg, err := parseAgentFlags([]string{"-gc-percent", "300"}, io.Discard)
	if err != nil || cfg.GCPercent != 300 {
		t.Fatalf("-gc-percent 300: %d, %v", cfg.GCPercent, err)
	}
	t.Setenv("GOGC", "")
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	if err := setGCPercent(10); err == nil || !strings.Contains(err.Error(), "want 25 or more") {
		t.Errorf("gc_percent 10: %v", err)
	}
	if err := setGCPercent(0); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("default GOGC %d, want %d", got, defaultGCPercent)
	}
	t.Setenv("GOGC", "150")
	if err := setGCPercent(400); err != nil {
		t.Fatal(err)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC in the environment: the agent set %d", got)
	}
}
