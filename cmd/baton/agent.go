package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/hcl"
	"github.com/hashicorp/hcl/hcl/ast"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"

	"github.com/batonhq/baton/cluster"
	"github.com/batonhq/baton/cluster/telemetry"
	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/rpc"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/scheduler/runtime"
	"github.com/batonhq/baton/storage"
	"github.com/batonhq/baton/workflow"
)

// agentConfig is the agent's configuration, from a file (-config) and flags;
// flags given on the command line win over the file.
type agentConfig struct {
	Node            string            `yaml:"node" hcl:"node"`
	DataDir         string            `yaml:"data_dir" hcl:"data_dir"`
	APIAddr         string            `yaml:"api_addr" hcl:"api_addr"`
	RaftAddr        string            `yaml:"raft_addr" hcl:"raft_addr"`
	SerfAddr        string            `yaml:"serf_addr" hcl:"serf_addr"`
	BootstrapExpect int               `yaml:"bootstrap_expect" hcl:"bootstrap_expect"`
	RetryJoin       []string          `yaml:"retry_join" hcl:"retry_join"`
	Tags            map[string]string `yaml:"tags" hcl:"tags"`
	LogLevel        string            `yaml:"log_level" hcl:"log_level"`
	LogFormat       string            `yaml:"log_format" hcl:"log_format"`
	Raft            raftConfig        `yaml:"raft" hcl:"raft"`
	// MaxWorkflowSteps raises or lowers Maestro's limit of 300 steps per
	// workflow (benchmarks use 1,000-step chains).
	MaxWorkflowSteps int `yaml:"max_workflow_steps" hcl:"max_workflow_steps"`
	// MinTriggerInterval lowers or raises Maestro's 2 minutes between two
	// fires of a time trigger (a duration such as "5s").
	MinTriggerInterval string          `yaml:"min_trigger_interval" hcl:"min_trigger_interval"`
	Retention          retentionConfig `yaml:"retention" hcl:"retention"`
	// DeadServerCleanup and MinVoters: see cluster.Config.
	DeadServerCleanup string `yaml:"dead_server_cleanup" hcl:"dead_server_cleanup"`
	MinVoters         int    `yaml:"min_voters" hcl:"min_voters"`
	// HTTPAllowHosts are the hosts Http steps on this node may call; none
	// when empty, so a workflow cannot reach internal services by default.
	HTTPAllowHosts []string `yaml:"http_allow_hosts" hcl:"http_allow_hosts"`
	// EnablePprof serves Go's profiler on the API port under /debug/pprof/.
	EnablePprof bool `yaml:"enable_pprof" hcl:"enable_pprof"`
	// GCPercent is Go's GOGC for the agent (default defaultGCPercent); the
	// GOGC environment variable, when set, wins.
	GCPercent int  `yaml:"gc_percent" hcl:"gc_percent"`
	Dev       bool `yaml:"-" hcl:"-"`
}

// defaultAttemptFoldersFor is how long a node keeps the folder of an
// attempt retention deleted: a backup restored within it finds the
// attempt's journal, and does not run a finished attempt again.
const defaultAttemptFoldersFor = 24 * time.Hour

// retentionConfig bounds finished history (see scheduler.Retention).
type retentionConfig struct {
	FinishedPerWorkflow *int   `yaml:"finished_per_workflow" hcl:"finished_per_workflow"`
	FinishedFor         string `yaml:"finished_for" hcl:"finished_for"`
	SignalsPerName      *int   `yaml:"signals_per_name" hcl:"signals_per_name"`
	SignalsFor          string `yaml:"signals_for" hcl:"signals_for"`
	AttemptFoldersFor   string `yaml:"attempt_folders_for" hcl:"attempt_folders_for"`
	VersionsPerWorkflow *int   `yaml:"versions_per_workflow" hcl:"versions_per_workflow"`
	ActionsPerWorkflow  *int   `yaml:"actions_per_workflow" hcl:"actions_per_workflow"`
	Interval            string `yaml:"interval" hcl:"interval"`
}

type raftConfig struct {
	SnapshotThreshold int    `yaml:"snapshot_threshold" hcl:"snapshot_threshold"`
	SnapshotInterval  string `yaml:"snapshot_interval" hcl:"snapshot_interval"`
	TrailingLogs      int    `yaml:"trailing_logs" hcl:"trailing_logs"`
	// HeartbeatTimeout and ElectionTimeout bound how long a cluster goes
	// without a leader after its leader dies; LeaderLeaseTimeout is how long
	// a leader that hears from no quorum keeps leading.
	HeartbeatTimeout   string `yaml:"heartbeat_timeout" hcl:"heartbeat_timeout"`
	ElectionTimeout    string `yaml:"election_timeout" hcl:"election_timeout"`
	LeaderLeaseTimeout string `yaml:"leader_lease_timeout" hcl:"leader_lease_timeout"`
}

// timeouts parses Raft's timers; empty ones take cluster's defaults.
func (r raftConfig) timeouts() (cluster.Timeouts, error) {
	var t cluster.Timeouts
	for _, x := range []struct {
		name string
		v    string
		dst  *time.Duration
	}{
		{"heartbeat_timeout", r.HeartbeatTimeout, &t.Heartbeat},
		{"election_timeout", r.ElectionTimeout, &t.Election},
		{"leader_lease_timeout", r.LeaderLeaseTimeout, &t.LeaderLease},
	} {
		if x.v == "" {
			continue
		}
		d, err := time.ParseDuration(x.v)
		if err != nil || d <= 0 {
			return t, fmt.Errorf("raft %s %q: want a positive duration such as 500ms", x.name, x.v)
		}
		*x.dst = d
	}
	return t, t.Check()
}

// Defaults; the dev agent uses the same ports on loopback.
const (
	defaultAPIAddr  = "127.0.0.1:7420"
	defaultRaftAddr = "127.0.0.1:7421"
	defaultSerfAddr = "127.0.0.1:7422"
)

const agentHelp = `Run a Baton server.

  baton agent -dev                      single-node cluster in a temporary data dir
  baton agent -config /etc/baton/baton.hcl

A server keeps its state in -data-dir, replicated through Raft to the other
servers it finds by gossip (-retry-join). The first cluster forms once
-bootstrap-expect servers see each other. Flags override the config file
(YAML, or HCL when the file ends in .hcl).

SIGTERM stops the agent; SIGINT (Ctrl-C) first leaves the cluster
gracefully, so the other servers drop it from Raft. State survives either,
and an agent restarted on the same data dir finishes its in-flight work.`

func newAgentCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "agent [flags]",
		Short:              "Run a Baton server (use -dev for a local single-node cluster)",
		Long:               agentHelp,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := parseAgentFlags(args, cmd.ErrOrStderr())
			if errors.Is(err, flag.ErrHelp) {
				return nil
			}
			if err != nil {
				return usageError{err}
			}
			return runAgent(cfg, cmd.ErrOrStderr())
		},
	}
}

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// parseAgentFlags uses Go's flag package so that single-dash long flags
// (-dev, -data-dir) work as in other HashiCorp-style agents.
func parseAgentFlags(args []string, stderr io.Writer) (agentConfig, error) {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, agentHelp+"\n\nFlags:")
		fs.PrintDefaults()
	}
	var (
		f          agentConfig
		configFile string
		retryJoin  stringList
		tags       stringList
		httpHosts  stringList
		snapInt    time.Duration
	)
	fs.BoolVar(&f.Dev, "dev", false, "run a single-node cluster for development (temporary data dir unless -data-dir)")
	fs.StringVar(&configFile, "config", "", "config file (YAML, or HCL when it ends in .hcl)")
	fs.StringVar(&f.Node, "node", "", "node name, unique in the cluster (default: host name)")
	fs.StringVar(&f.DataDir, "data-dir", "", "directory for Raft state and node-local files")
	fs.StringVar(&f.APIAddr, "api-addr", "", "host:port of the API (default "+defaultAPIAddr+")")
	fs.StringVar(&f.RaftAddr, "raft-addr", "", "host:port for Raft traffic (default "+defaultRaftAddr+")")
	fs.StringVar(&f.SerfAddr, "serf-addr", "", "host:port for gossip (default "+defaultSerfAddr+")")
	fs.IntVar(&f.BootstrapExpect, "bootstrap-expect", 0, "form the cluster once this many servers see each other")
	fs.Var(&retryJoin, "retry-join", "gossip address of another server to join (repeatable)")
	fs.Var(&tags, "tag", "node tag key=value for step constraints (repeatable)")
	fs.BoolVar(&f.EnablePprof, "enable-pprof", false, "serve Go's profiler under /debug/pprof/ on the API port")
	fs.IntVar(&f.GCPercent, "gc-percent", 0, "heap growth between garbage collections, as GOGC (default "+strconv.Itoa(defaultGCPercent)+"; the GOGC environment variable wins)")
	fs.Var(&httpHosts, "http-allow-host", "host, host:port or *.domain that Http steps may call (repeatable; none by default)")
	fs.StringVar(&f.LogLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.StringVar(&f.LogFormat, "log-format", "", "text or json (default text)")
	retainN := fs.Int("retain-finished", 0, "finished instances kept per workflow; 0 keeps all (default 1000)")
	fs.StringVar(&f.Retention.FinishedFor, "retain-finished-for", "", "delete finished instances that ended longer ago than this, e.g. 720h (default: no age limit)")
	retainSignals := fs.Int("retain-signals", 0, "signals kept per signal name, newest first, once signal triggers have consumed them; 0 keeps all (default 10000)")
	fs.StringVar(&f.Retention.SignalsFor, "retain-signals-for", "", "delete signals sent longer ago than this, consumed or not, e.g. 720h (default: no age limit)")
	retainVersions := fs.Int("retain-versions", 0, "versions kept per workflow, newest first, besides the active one and those kept instances run; 0 keeps all (default 0)")
	retainActions := fs.Int("retain-workflow-actions", 0, "operator actions kept on each workflow's own record, newest first, with their request ids; 0 keeps all (default 1000)")
	fs.StringVar(&f.Retention.AttemptFoldersFor, "retain-attempt-folders-for", "", "keep a node's folder of an attempt retention deleted (its logs and journal) this long after the attempt last wrote to it (default 24h)")
	fs.StringVar(&f.DeadServerCleanup, "dead-server-cleanup", "", "remove a server from Raft after gossip has reported it failed this long; 0 disables (default 10m)")
	fs.IntVar(&f.MinVoters, "min-voters", 0, "dead-server cleanup never leaves fewer voters than this (default 3)")
	fs.StringVar(&f.Retention.Interval, "retention-interval", "", "how often the leader applies the retention policy, and each node removes the folders of attempts retention deleted (default 30s)")
	fs.IntVar(&f.MaxWorkflowSteps, "max-workflow-steps", 0, "most steps a definition may have (default 300, as in Maestro)")
	fs.StringVar(&f.MinTriggerInterval, "min-trigger-interval", "", "least time between two fires of a time trigger (default 2m, as in Maestro)")
	fs.IntVar(&f.Raft.SnapshotThreshold, "raft-snapshot-threshold", 0, "log entries between snapshots (default 8192)")
	fs.DurationVar(&snapInt, "raft-snapshot-interval", 0, "how often to check whether to snapshot (default 5s)")
	fs.IntVar(&f.Raft.TrailingLogs, "raft-trailing-logs", 0, "log entries kept after a snapshot (default 10240)")
	fs.StringVar(&f.Raft.HeartbeatTimeout, "raft-heartbeat-timeout", "", "how long a follower waits for the leader before standing for election (default "+cluster.DefaultHeartbeatTimeout.String()+")")
	fs.StringVar(&f.Raft.ElectionTimeout, "raft-election-timeout", "", "how long a candidate waits for votes before trying again (default "+cluster.DefaultElectionTimeout.String()+")")
	fs.StringVar(&f.Raft.LeaderLeaseTimeout, "raft-leader-lease-timeout", "", "how long a leader that hears from no quorum keeps leading (default "+cluster.DefaultLeaderLeaseTimeout.String()+")")
	if err := fs.Parse(args); err != nil {
		return agentConfig{}, err
	}
	if fs.NArg() > 0 {
		return agentConfig{}, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	f.RetryJoin = retryJoin
	f.HTTPAllowHosts = httpHosts
	// Given, even negative (refused with the config's other checks), a
	// count flag wins over the file.
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "retain-finished":
			f.Retention.FinishedPerWorkflow = retainN
		case "retain-signals":
			f.Retention.SignalsPerName = retainSignals
		case "retain-versions":
			f.Retention.VersionsPerWorkflow = retainVersions
		case "retain-workflow-actions":
			f.Retention.ActionsPerWorkflow = retainActions
		}
	})
	if snapInt > 0 {
		f.Raft.SnapshotInterval = snapInt.String()
	}
	if len(tags) > 0 {
		f.Tags = map[string]string{}
		for _, t := range tags {
			k, v, ok := strings.Cut(t, "=")
			if !ok || k == "" {
				return agentConfig{}, fmt.Errorf("-tag %q: want key=value", t)
			}
			f.Tags[k] = v
		}
	}
	cfg := agentConfig{}
	if configFile != "" {
		var err error
		if cfg, err = loadAgentConfig(configFile); err != nil {
			return agentConfig{}, err
		}
	}
	mergeAgentConfig(&cfg, f)
	for _, h := range cfg.HTTPAllowHosts {
		if err := runtime.CheckAllowedHost(h); err != nil {
			return agentConfig{}, fmt.Errorf("-http-allow-host / http_allow_hosts %q: %w", h, err)
		}
	}
	return cfg, nil
}

func loadAgentConfig(path string) (agentConfig, error) {
	var cfg agentConfig
	data, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	if strings.HasSuffix(path, ".hcl") {
		file, err := hcl.Parse(string(data))
		if err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		// HCL ignores keys that match no field; a misspelt key must not be.
		if list, ok := file.Node.(*ast.ObjectList); ok {
			if unknown := unknownHCLKeys(list, reflect.TypeOf(cfg), ""); len(unknown) > 0 {
				return cfg, fmt.Errorf("config %s: unknown keys: %s", path, strings.Join(unknown, ", "))
			}
		}
		if err := hcl.DecodeObject(&cfg, file); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		return cfg, nil
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// unknownHCLKeys lists the keys in list that no hcl tag of t names,
// descending into blocks whose field is a struct.
func unknownHCLKeys(list *ast.ObjectList, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("hcl"), ",")
		if name != "" && name != "-" {
			fields[name] = t.Field(i).Type
		}
	}
	var unknown []string
	for _, item := range list.Items {
		if len(item.Keys) == 0 {
			continue
		}
		k, isStr := item.Keys[0].Token.Value().(string)
		if !isStr {
			k = item.Keys[0].Token.Text
		}
		ft, ok := fields[k]
		if !ok {
			unknown = append(unknown, prefix+k)
			continue
		}
		if ot, isObj := item.Val.(*ast.ObjectType); isObj && ft.Kind() == reflect.Struct {
			unknown = append(unknown, unknownHCLKeys(ot.List, ft, prefix+k+".")...)
		}
	}
	return unknown
}

// mergeAgentConfig lays the flags that were set over the file's values.
func mergeAgentConfig(cfg *agentConfig, f agentConfig) {
	set := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	set(&cfg.Node, f.Node)
	set(&cfg.DataDir, f.DataDir)
	set(&cfg.APIAddr, f.APIAddr)
	set(&cfg.RaftAddr, f.RaftAddr)
	set(&cfg.SerfAddr, f.SerfAddr)
	set(&cfg.LogLevel, f.LogLevel)
	set(&cfg.LogFormat, f.LogFormat)
	set(&cfg.Raft.SnapshotInterval, f.Raft.SnapshotInterval)
	set(&cfg.Raft.HeartbeatTimeout, f.Raft.HeartbeatTimeout)
	set(&cfg.Raft.ElectionTimeout, f.Raft.ElectionTimeout)
	set(&cfg.Raft.LeaderLeaseTimeout, f.Raft.LeaderLeaseTimeout)
	if f.BootstrapExpect != 0 {
		cfg.BootstrapExpect = f.BootstrapExpect
	}
	if len(f.RetryJoin) > 0 {
		cfg.RetryJoin = f.RetryJoin
	}
	if len(f.HTTPAllowHosts) > 0 {
		cfg.HTTPAllowHosts = f.HTTPAllowHosts
	}
	if len(f.Tags) > 0 {
		if cfg.Tags == nil {
			cfg.Tags = map[string]string{}
		}
		for k, v := range f.Tags {
			cfg.Tags[k] = v
		}
	}
	if f.Retention.FinishedPerWorkflow != nil {
		cfg.Retention.FinishedPerWorkflow = f.Retention.FinishedPerWorkflow
	}
	set(&cfg.Retention.FinishedFor, f.Retention.FinishedFor)
	if f.Retention.SignalsPerName != nil {
		cfg.Retention.SignalsPerName = f.Retention.SignalsPerName
	}
	set(&cfg.Retention.SignalsFor, f.Retention.SignalsFor)
	set(&cfg.Retention.AttemptFoldersFor, f.Retention.AttemptFoldersFor)
	if f.Retention.VersionsPerWorkflow != nil {
		cfg.Retention.VersionsPerWorkflow = f.Retention.VersionsPerWorkflow
	}
	if f.Retention.ActionsPerWorkflow != nil {
		cfg.Retention.ActionsPerWorkflow = f.Retention.ActionsPerWorkflow
	}
	set(&cfg.Retention.Interval, f.Retention.Interval)
	set(&cfg.DeadServerCleanup, f.DeadServerCleanup)
	if f.MinVoters != 0 {
		cfg.MinVoters = f.MinVoters
	}
	set(&cfg.MinTriggerInterval, f.MinTriggerInterval)
	if f.MaxWorkflowSteps != 0 {
		cfg.MaxWorkflowSteps = f.MaxWorkflowSteps
	}
	if f.GCPercent != 0 {
		cfg.GCPercent = f.GCPercent
	}
	if f.Raft.SnapshotThreshold != 0 {
		cfg.Raft.SnapshotThreshold = f.Raft.SnapshotThreshold
	}
	if f.Raft.TrailingLogs != 0 {
		cfg.Raft.TrailingLogs = f.Raft.TrailingLogs
	}
	cfg.Dev = cfg.Dev || f.Dev
	cfg.EnablePprof = cfg.EnablePprof || f.EnablePprof
}

// defaultGCPercent trades memory for CPU: the state store is a large,
// long-lived heap that every Raft entry adds short-lived garbage to, and at
// Go's default of 100 a busy leader spent a fifth of its CPU collecting.
// At 200 the heap may grow to three times the live state between
// collections instead of two.
const defaultGCPercent = 200

// setGCPercent applies the agent's GOGC unless the environment sets one.
func setGCPercent(pct int) error {
	if pct == 0 {
		pct = defaultGCPercent
	}
	if pct < 25 {
		return fmt.Errorf("gc_percent %d: want 25 or more", pct)
	}
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(pct)
	}
	return nil
}

func newLogger(cfg agentConfig, w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	switch strings.ToLower(cfg.LogLevel) {
	case "", "info":
		level = slog.LevelInfo
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	default:
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", cfg.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(cfg.LogFormat) {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want text or json", cfg.LogFormat)
}

// finishAgentConfig fills defaults and checks what must be set.
func finishAgentConfig(cfg *agentConfig) (tempDir bool, err error) {
	if cfg.APIAddr == "" {
		cfg.APIAddr = defaultAPIAddr
	}
	if cfg.RaftAddr == "" {
		cfg.RaftAddr = defaultRaftAddr
	}
	if cfg.SerfAddr == "" {
		cfg.SerfAddr = defaultSerfAddr
	}
	if cfg.Node == "" {
		if cfg.Dev {
			cfg.Node = "dev"
		} else if cfg.Node, err = os.Hostname(); err != nil {
			return false, fmt.Errorf("no -node given and no host name: %w", err)
		}
	}
	if cfg.Dev {
		if cfg.BootstrapExpect == 0 {
			cfg.BootstrapExpect = 1
		}
		if cfg.DataDir == "" {
			dir, err := os.MkdirTemp("", "baton-dev-")
			if err != nil {
				return false, fmt.Errorf("temporary data dir: %w", err)
			}
			cfg.DataDir = dir
			tempDir = true
		}
	}
	if cfg.DataDir == "" {
		return false, errors.New("-data-dir is required (or use -dev)")
	}
	for name, addr := range map[string]string{"api-addr": cfg.APIAddr, "raft-addr": cfg.RaftAddr, "serf-addr": cfg.SerfAddr} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return tempDir, fmt.Errorf("-%s %q: want host:port", name, addr)
		}
	}
	if cfg.Raft.SnapshotThreshold < 0 || cfg.Raft.TrailingLogs < 0 || cfg.MaxWorkflowSteps < 0 {
		return tempDir, errors.New("raft snapshot_threshold, trailing_logs and max_workflow_steps cannot be negative")
	}
	if cfg.BootstrapExpect < 0 || cfg.BootstrapExpect > 7 {
		return tempDir, fmt.Errorf("-bootstrap-expect %d: want 1 to 7", cfg.BootstrapExpect)
	}
	return tempDir, nil
}

// processMetrics installs the process's go-metrics sink, once: Raft, its
// log store and gossip report to it (the default sink discards), and the
// runtime's sampler it starts runs for the life of the process.
var processMetrics = sync.OnceValues(func() (*telemetry.Sink, error) {
	sink := telemetry.NewSink()
	return sink, telemetry.Install(sink, "baton")
})

func runAgent(cfg agentConfig, stderr io.Writer) error {
	tempDir, err := finishAgentConfig(&cfg)
	if tempDir {
		defer os.RemoveAll(cfg.DataDir)
	}
	if err != nil {
		return usageError{err}
	}
	log, err := newLogger(cfg, stderr)
	if err != nil {
		return usageError{err}
	}
	if err := setGCPercent(cfg.GCPercent); err != nil {
		return usageError{err}
	}
	metricsSink, err := processMetrics()
	if err != nil {
		return err
	}
	// Raft's own default checks every 2 minutes, which lets a busy minute
	// grow the log far past the threshold; the check itself is cheap.
	snapInterval := 5 * time.Second
	if cfg.Raft.SnapshotInterval != "" {
		if snapInterval, err = time.ParseDuration(cfg.Raft.SnapshotInterval); err != nil {
			return usageError{fmt.Errorf("raft snapshot_interval: %w", err)}
		}
	}
	timeouts, err := cfg.Raft.timeouts()
	if err != nil {
		return usageError{err}
	}
	retention := scheduler.DefaultRetention
	if n := cfg.Retention.FinishedPerWorkflow; n != nil {
		if *n < 0 {
			return usageError{fmt.Errorf("retention finished_per_workflow %d: want 0 (keep all) or more", *n)}
		}
		retention.KeepPerWorkflow = *n
	}
	if cfg.Retention.FinishedFor != "" {
		if retention.MaxAge, err = time.ParseDuration(cfg.Retention.FinishedFor); err != nil || retention.MaxAge < 0 {
			return usageError{fmt.Errorf("retention finished_for %q: want a duration such as 720h", cfg.Retention.FinishedFor)}
		}
	}
	if n := cfg.Retention.SignalsPerName; n != nil {
		if *n < 0 {
			return usageError{fmt.Errorf("retention signals_per_name %d: want 0 (keep all) or more", *n)}
		}
		retention.SignalsPerName = *n
	}
	if cfg.Retention.SignalsFor != "" {
		if retention.SignalMaxAge, err = time.ParseDuration(cfg.Retention.SignalsFor); err != nil || retention.SignalMaxAge < 0 {
			return usageError{fmt.Errorf("retention signals_for %q: want a duration such as 720h", cfg.Retention.SignalsFor)}
		}
	}
	if n := cfg.Retention.VersionsPerWorkflow; n != nil {
		if *n < 0 {
			return usageError{fmt.Errorf("retention versions_per_workflow %d: want 0 (keep all) or more", *n)}
		}
		retention.VersionsPerWorkflow = *n
	}
	if n := cfg.Retention.ActionsPerWorkflow; n != nil {
		if *n < 0 {
			return usageError{fmt.Errorf("retention actions_per_workflow %d: want 0 (keep all) or more", *n)}
		}
		retention.ActionsPerWorkflow = *n
	}
	attemptFoldersFor := defaultAttemptFoldersFor
	if cfg.Retention.AttemptFoldersFor != "" {
		if attemptFoldersFor, err = time.ParseDuration(cfg.Retention.AttemptFoldersFor); err != nil || attemptFoldersFor < 0 {
			return usageError{fmt.Errorf("retention attempt_folders_for %q: want a duration such as 24h, or 0", cfg.Retention.AttemptFoldersFor)}
		}
	}
	var retentionEvery time.Duration
	if cfg.Retention.Interval != "" {
		if retentionEvery, err = time.ParseDuration(cfg.Retention.Interval); err != nil || retentionEvery <= 0 {
			return usageError{fmt.Errorf("retention interval %q: want a positive duration such as 30s", cfg.Retention.Interval)}
		}
	}
	deadCleanup := 10 * time.Minute
	if cfg.DeadServerCleanup != "" {
		if deadCleanup, err = time.ParseDuration(cfg.DeadServerCleanup); err != nil || deadCleanup < 0 {
			return usageError{fmt.Errorf("dead_server_cleanup %q: want a duration such as 10m, or 0 to disable", cfg.DeadServerCleanup)}
		}
	}
	limits := workflow.DefaultLimits()
	if cfg.MinTriggerInterval != "" {
		d, err := time.ParseDuration(cfg.MinTriggerInterval)
		if err != nil || d <= 0 {
			return usageError{fmt.Errorf("min_trigger_interval %q: want a positive duration such as 5s", cfg.MinTriggerInterval)}
		}
		limits.MinTriggerInterval = d
	}
	if cfg.MaxWorkflowSteps > 0 {
		limits.MaxSteps = cfg.MaxWorkflowSteps
	}
	minVoters := 3
	if cfg.MinVoters > 0 {
		minVoters = cfg.MinVoters
	}
	data, err := storage.Open(cfg.DataDir)
	if err != nil {
		return err
	}
	incarnation, err := data.Incarnation()
	if err != nil {
		return err
	}
	tags := map[string]string{}
	for k, v := range cfg.Tags {
		tags[k] = v
	}
	tags[scheduler.IncarnationTag] = incarnation
	ln, err := net.Listen("tcp", cfg.APIAddr)
	if err != nil {
		return fmt.Errorf("listen for the API on %s: %w", cfg.APIAddr, err)
	}
	apiURL := "http://" + cfg.APIAddr

	state := fsm.New()
	defs := scheduler.NewDefinitionCache()
	results := scheduler.NewResults()
	var node *cluster.Node
	var srv *rpc.Server
	nodeReady := make(chan struct{})
	leaderFn := func(ctx context.Context) {
		select {
		case <-nodeReady:
		case <-ctx.Done():
			return
		}
		(&scheduler.Leader{
			State: state, Members: memberSource{node}, Apply: planApplier{node}, Defs: defs,
			Now: time.Now, Log: log.With("component", "scheduler"), Retention: retention, Poke: srv.Poke,
			RetentionInterval: retentionEvery, Results: results, Protocol: node.MinProtocol,
		}).Run(ctx)
	}
	node, err = cluster.Start(cluster.Config{
		NodeName: cfg.Node, Data: data, RaftAddr: cfg.RaftAddr, SerfAddr: cfg.SerfAddr, APIAddr: apiURL,
		BootstrapExpect: cfg.BootstrapExpect, RetryJoin: cfg.RetryJoin, Tags: tags,
		DeadServerCleanup: deadCleanup, MinVoters: minVoters,
		SnapshotThreshold: uint64(cfg.Raft.SnapshotThreshold), SnapshotInterval: snapInterval, TrailingLogs: uint64(cfg.Raft.TrailingLogs),
		Timeouts: timeouts,
		Logger:   log,
	}, state, leaderFn)
	if err != nil {
		ln.Close()
		return err
	}
	worker := &scheduler.Worker{
		Node: cfg.Node, State: state, Data: data,
		Now: time.Now, Log: log.With("component", "worker"), HTTPAllowHosts: cfg.HTTPAllowHosts,
		Incarnation: incarnation, CleanupEvery: retentionEvery, KeepGoneAttemptsFor: attemptFoldersFor,
		Verify: os.Getenv("BATON_VERIFY_QUIET") == "1",
	}
	srv = &rpc.Server{FSM: state, Node: node, Defs: defs, Limits: limits, Now: time.Now, Log: log, Worker: worker, Profiling: cfg.EnablePprof, Metrics: metricsSink, Results: results}
	worker.Reporter = srv.LocalReporter()
	close(nodeReady)
	httpSrv := &http.Server{Handler: srv.Handler(), Protocols: rpc.Protocols(), ReadHeaderTimeout: 10 * time.Second}
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()

	workerCtx, stopWorker := context.WithCancel(context.Background())
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(workerCtx)
	}()

	log.Info("baton agent started", "node", cfg.Node, "api", apiURL, "raft", cfg.RaftAddr, "serf", cfg.SerfAddr,
		"data_dir", data.Path, "dev", cfg.Dev, "bootstrap_expect", cfg.BootstrapExpect)

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	leave := false
	select {
	case sig := <-sigs:
		leave = sig == syscall.SIGINT && !cfg.Dev
		log.Info("shutting down", "signal", sig.String(), "leave", leave)
	case err := <-serveErr:
		log.Error("API server stopped", "err", err)
	}
	stopWorker()
	<-workerDone
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = httpSrv.Shutdown(shutdownCtx)
	if err := node.Shutdown(leave); err != nil {
		log.Warn("shutdown", "err", err)
	}
	log.Info("baton agent stopped", "data_dir", filepath.Clean(data.Path), "kept", !tempDir)
	return nil
}

// memberSource offers the alive servers to the scheduler.
type memberSource struct{ node *cluster.Node }

func (m memberSource) Members() []scheduler.Member {
	var out []scheduler.Member
	for _, mem := range m.node.Members() {
		// A server gossip reports alive but the leader cannot reach gets no
		// new steps, and its running ones are treated as lost after grace.
		if mem.Status == "alive" && m.node.Reachable(mem.Name) {
			out = append(out, scheduler.Member{Name: mem.Name, Tags: mem.Tags, Suspect: m.node.Suspect(mem.Name)})
		}
	}
	return out
}

func (m memberSource) MembersChanged() <-chan struct{} { return m.node.MembersChanged() }

// planApplier commits scheduling plans through Raft.
type planApplier struct{ node *cluster.Node }

func (p planApplier) ApplyPlan(ctx context.Context, plan *statepb.ApplyPlan) (*fsm.PlanResult, error) {
	return p.ProposePlan(ctx, plan)()
}

func (p planApplier) ProposePlan(ctx context.Context, plan *statepb.ApplyPlan) func() (*fsm.PlanResult, error) {
	wait := p.node.Propose(ctx, plan)
	return func() (*fsm.PlanResult, error) { return planResult(wait()) }
}

func planResult(res any, err error) (*fsm.PlanResult, error) {
	if err != nil {
		return nil, err
	}
	switch r := res.(type) {
	case *fsm.Rejection:
		return nil, r
	case *fsm.PlanResult:
		return r, nil
	}
	return nil, fmt.Errorf("apply plan: unexpected result %T", res)
}
