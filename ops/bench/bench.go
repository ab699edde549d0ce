// Package bench is the one model of Baton's benchmark workloads: a chain of
// NoOp steps, instance starts (open and closed loop), a foreach fan-out, a
// leader failover under load and a cron storm. Each workload runs through the
// public Connect API against a cluster, either one given by address or one
// this package starts itself: N `baton agent` processes on loopback ports in
// temporary data dirs, with the Raft log in bolt and an fsync per write, as in
// production.
//
// `baton bench` (cmd/baton/bench.go) and the Go benchmarks in test/bench both
// call Run, so a figure means the same thing wherever it was measured.
// Nothing here asserts a time: workloads measure and report, and flag only
// correctness problems (lost, duplicated or missed work).
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Workload is one benchmark with its parameters.
type Workload interface {
	// Name is the workload's command name (chain, starts, foreach, failover,
	// cron).
	Name() string
	// Check validates the parameters for a run on local agents (local is
	// the number of agents; 0 means a cluster given by address).
	Check(local int) error
	// Params lists the parameters, in order, for the report.
	Params() []Field
	// AgentFlags are agent flags local agents need for this workload (e.g.
	// a higher step limit for a long chain).
	AgentFlags() []string
	// Run runs the workload once against env and measures it.
	Run(ctx context.Context, env *Env) (*Result, error)
}

// UsageError is a parameter problem: the run was refused before anything
// started.
type UsageError struct{ Err error }

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

func usagef(format string, args ...any) error {
	return &UsageError{fmt.Errorf(format, args...)}
}

// Options says where and how to run a workload.
type Options struct {
	// Address is the API of a running cluster; used when Local is 0.
	Address string
	// Local > 0 starts that many agents on loopback for the run and stops
	// them afterwards.
	Local int
	// Binary is the baton executable whose `agent` command runs the local
	// agents; the running executable when empty.
	Binary string
	// AgentFlags are passed to every local agent after the flags the
	// launcher and the workload set (e.g. "-raft-snapshot-threshold=1000").
	AgentFlags []string
	// DataRoot is where the local agents' temporary data dirs go (default:
	// the system's temporary directory). The fsync figure in the conditions
	// is measured there.
	DataRoot string
	// ProfileDir, when set, receives CPU profiles of the leader taken during
	// the workload and a heap profile at its end (local agents then run with
	// -enable-pprof; a cluster given by address must already have it).
	ProfileDir string
	// Progress receives what the run is doing, for people; nil discards it.
	Progress io.Writer
	// Keep leaves the local agents' directory (data dirs and logs) in
	// place after the run, for a look at the agents' logs.
	Keep bool
}

// Env is what a workload runs against.
type Env struct {
	// API is the node the workload's clients talk to: the leader of a local
	// cluster (so that figures measure the engine, not forwarding), or the
	// agent at Options.Address.
	API *Client
	// Local is the local cluster; nil against a cluster given by address.
	Local *Cluster
	// RunID is unique per run; workloads use it in request ids and, where
	// names must not collide with earlier runs, in workflow ids.
	RunID string

	progress io.Writer
	prof     *profiler
	cpu      cpuMeter
	raft     raftMeter
	mu       sync.Mutex
}

// Logf reports progress, one line per call.
func (e *Env) Logf(format string, args ...any) {
	if e.progress == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(e.progress, "bench: "+format+"\n", args...)
}

// term is the highest Raft term the running agents report (the target
// agent's against an address); 0 if none answers.
func (e *Env) term(ctx context.Context) uint64 {
	via := []*Client{e.API}
	if e.Local != nil {
		via = nil
		for _, a := range e.Local.Running() {
			via = append(via, a.Client())
		}
	}
	var term uint64
	for _, c := range via {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		st, err := c.Status(sctx)
		cancel()
		if err == nil {
			term = max(term, st.Term)
		}
	}
	return term
}

// leaderName is the name of the server that leads, as the node the clients
// talk to sees it.
func (e *Env) leaderName(ctx context.Context) (string, bool) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	st, err := e.API.Status(sctx)
	if err != nil || st.LeaderId == "" {
		return "", false
	}
	return st.LeaderId, true
}

// Profile marks the part of a workload that measures: it starts recording
// CPU profiles of the leader, if profiling was asked for, the CPU time of
// the local agents and their Raft metrics, and returns the function that
// ends all three (it may be called more than once). Workloads call it around the part they measure.
func (e *Env) Profile(ctx context.Context) (stop func()) {
	var leaderURL string
	if e.API != nil {
		leaderURL = e.API.URL
	}
	// The metrics are read outside the CPU window: reading them is work
	// the workload did not ask for.
	endRaft := e.raft.begin(ctx, e.Local, leaderURL)
	endCPU := e.cpu.begin(e.Local, leaderURL)
	endProf := func() {}
	if e.prof != nil {
		endProf = e.prof.start(ctx)
	}
	return func() {
		endProf()
		endCPU()
		endRaft()
	}
}

// Run runs w once as o says: it measures the conditions, starts local agents
// if asked, runs the workload and stops what it started. The result carries
// the conditions; its Problems list correctness violations, which are not an
// error of the run.
func Run(ctx context.Context, w Workload, o Options) (*Result, error) {
	if err := w.Check(o.Local); err != nil {
		return nil, err
	}
	for _, f := range o.AgentFlags {
		if err := CheckAgentFlag(f); err != nil {
			return nil, err
		}
	}
	if o.Local < 0 || o.Local > MaxLocal {
		return nil, usagef("--local %d: want 1 to %d agents", o.Local, MaxLocal)
	}
	env := &Env{RunID: newRunID(), progress: o.Progress}
	root := o.DataRoot
	if root == "" {
		root = os.TempDir()
	}
	cond := measureConditions(root, o.Local > 0)

	var agentFlags []string
	if o.Local > 0 {
		agentFlags = append(agentFlags, w.AgentFlags()...)
		if o.ProfileDir != "" {
			agentFlags = append(agentFlags, "-enable-pprof")
		}
		agentFlags = append(agentFlags, o.AgentFlags...)
		env.Logf("starting %d local agent(s) in %s", o.Local, root)
		cl, err := StartLocal(ctx, LocalOptions{
			Nodes: o.Local, Binary: o.Binary, Flags: agentFlags, Root: root, Log: env.Logf,
		})
		if err != nil {
			return nil, err
		}
		if o.Keep {
			defer func() {
				cl.Kill()
				env.Logf("kept the agents' data dirs and logs in %s", cl.Dir)
			}()
		} else {
			defer cl.Stop()
		}
		leader, err := cl.WaitAgreement(ctx, agreementTimeout)
		if err != nil {
			return nil, err
		}
		env.Local = cl
		env.API = NewClient(leader.URL())
		cond.Target = fmt.Sprintf("%d local agents, clients talk to the leader %s (%s)", o.Local, leader.Name, leader.URL())
		if o.Local == 1 {
			cond.Target = fmt.Sprintf("1 local agent (%s)", leader.URL())
		}
	} else {
		addr, err := NormalizeAddress(o.Address)
		if err != nil {
			return nil, &UsageError{err}
		}
		env.API = NewClient(addr)
		cond.Target = addr
	}
	st, err := env.API.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("status of %s: %w", env.API.URL, err)
	}
	if st.LeaderId == "" {
		return nil, fmt.Errorf("%s knows no Raft leader; the cluster must be up to run a benchmark (see baton status)", env.API.URL)
	}
	cond.Nodes = len(st.Peers)
	cond.Raft = raftSettings(o.Local > 0, agentFlags)
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return nil, fmt.Errorf("--profile: %w", err)
		}
		env.prof = newProfiler(o.ProfileDir, w.Name(), env)
	}
	env.Logf("conditions: %s", cond.Summary())
	res, err := w.Run(ctx, env)
	if env.prof != nil {
		env.prof.finish(ctx)
	}
	if err != nil {
		if env.Local != nil {
			// What the agents said is the first thing to read about a
			// run that failed, and the launcher removes their logs.
			for _, a := range env.Local.Agents {
				env.Logf("log of agent %s (last 4 KiB):\n%s", a.Name, a.LogTail(4<<10))
			}
		}
		return nil, fmt.Errorf("%s: %w", w.Name(), err)
	}
	env.cpu.report(res)
	env.raft.report(res)
	if end := env.term(ctx); end > st.Term {
		res.Notes = append(res.Notes, fmt.Sprintf("the Raft term went from %d to %d during the run: the cluster held elections", st.Term, end))
	}
	res.Notes = append(res.Notes, cond.notes()...)
	res.Workload = w.Name()
	res.Params = w.Params()
	res.Conditions = cond
	if env.prof != nil {
		res.Profiles = env.prof.files()
	}
	return res, nil
}

// MaxLocal is the most local agents Run starts (the agent's
// -bootstrap-expect allows up to 7).
const MaxLocal = 7

// agreementTimeout bounds the wait for local agents to agree on a leader.
const agreementTimeout = 60 * time.Second

// launcherFlags are the agent flags the local launcher sets itself.
var launcherFlags = []string{"node", "data-dir", "api-addr", "raft-addr", "serf-addr", "bootstrap-expect", "retry-join", "dev", "config"}

// CheckAgentFlag checks one flag passed through to local agents: it must be
// a flag (start with -) and must not be one the launcher sets.
func CheckAgentFlag(f string) error {
	if !strings.HasPrefix(f, "-") || strings.TrimLeft(f, "-") == "" {
		return usagef("--agent-flag %q: want an agent flag such as -raft-snapshot-threshold=1000 (write it as --agent-flag=-name=value)", f)
	}
	name, _, _ := strings.Cut(strings.TrimLeft(f, "-"), "=")
	for _, l := range launcherFlags {
		if name == l {
			return usagef("--agent-flag %q: the launcher sets -%s itself for every local agent", f, l)
		}
	}
	return nil
}

func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Field is one named parameter of a run.
type Field struct {
	Name  string
	Value any
}

// Metric is one measured figure.
type Metric struct {
	Name string
	// Value is meaningless when Known is false (shown as null / -).
	Value float64
	Known bool
	Unit  string
	// Help says what the figure measures, for the table.
	Help string
}

// Result is what one run of a workload measured.
type Result struct {
	Workload   string
	Params     []Field
	Metrics    []Metric
	Conditions Conditions
	// Problems are correctness violations the run saw: lost, duplicated or
	// missed work. A benchmark reports them rather than failing.
	Problems []string
	// Notes explain figures (e.g. why one is unknown).
	Notes []string
	// Profiles are the files written under Options.ProfileDir.
	Profiles []string
	// Runs, in a summary of repeated runs (Summarize), are the runs; each
	// figure above is their median.
	Runs []*Result
}

func (r *Result) add(name string, v float64, unit, help string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Value: v, Known: true, Unit: unit, Help: help})
}

func (r *Result) unknown(name, unit, help, why string) {
	r.Metrics = append(r.Metrics, Metric{Name: name, Unit: unit, Help: help})
	r.Notes = append(r.Notes, name+": "+why)
}

func (r *Result) addMs(name string, d time.Duration, help string) {
	r.add(name, ms(d), "ms", help)
}

func (r *Result) problemf(format string, args ...any) {
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Metric returns the named figure.
func (r *Result) Metric(name string) (Metric, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m, true
		}
	}
	return Metric{}, false
}

// ms is a duration in milliseconds, rounded to microseconds.
func ms(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }

func round3(v float64) float64 {
	if v < 0 {
		return -round3(-v)
	}
	return float64(int64(v*1000+0.5)) / 1000
}

// percentile is the nearest-rank percentile (0 < p ≤ 1) of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}

func sortDurations(d []time.Duration) {
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// errorCounter keeps the count of errors and the first few distinct ones.
type errorCounter struct {
	mu    sync.Mutex
	n     int
	first []string
}

func (c *errorCounter) add(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	msg := err.Error()
	for _, f := range c.first {
		if f == msg {
			return
		}
	}
	if len(c.first) < 3 {
		c.first = append(c.first, msg)
	}
}

func (c *errorCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

func (c *errorCounter) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == 0 {
		return nil
	}
	return errors.New(strings.Join(c.first, "; "))
}
