package bench

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/cluster"
)

// Conditions are what the figures depend on; every report carries them.
type Conditions struct {
	Time       time.Time `json:"time"`
	CPUs       int       `json:"cpus"`
	GOMAXPROCS int       `json:"gomaxprocs"`
	// LoadAvg1 is the 1-minute load average when the run began (Linux); it
	// includes the minute before, so an earlier run still shows in it.
	LoadAvg1 *float64 `json:"load_avg_1m"`
	// CPUBusyPct is the share of all CPUs that was busy in the half second
	// before the agents started (Linux): what else the machine was doing.
	CPUBusyPct *float64 `json:"cpu_busy_pct"`
	// FsyncDir is where the fsync latency was measured: the data root of
	// local agents. Against a cluster given by address it is not measured
	// (the data dirs are elsewhere).
	FsyncDir   string   `json:"fsync_dir,omitempty"`
	FsyncP50Ms *float64 `json:"fsync_ms_p50"`
	FsyncP99Ms *float64 `json:"fsync_ms_p99"`
	// Nodes is the number of Raft servers the target agent reports.
	Nodes  int    `json:"nodes"`
	Target string `json:"target"`
	Raft   Raft   `json:"raft"`
	Go     string `json:"go"`
	// Commit is the VCS revision the bench binary was built from ("+dirty"
	// when the tree had changes), when the build recorded it.
	Commit string `json:"commit,omitempty"`
}

// Raft describes the Raft settings of the agents.
type Raft struct {
	// Known is false against a cluster given by address: the client cannot
	// see the agents' settings.
	Known bool `json:"known"`
	// Source says where the values come from.
	Source string `json:"source"`
	// Timers is the heartbeat, election and leader lease timeouts in words.
	Timers             string `json:"timers,omitempty"`
	HeartbeatTimeoutMs int64  `json:"heartbeat_timeout_ms,omitempty"`
	ElectionTimeoutMs  int64  `json:"election_timeout_ms,omitempty"`
	LeaderLeaseMs      int64  `json:"leader_lease_timeout_ms,omitempty"`
	CommitTimeoutMs    int64  `json:"commit_timeout_ms,omitempty"`
	MaxAppendEntries   int    `json:"max_append_entries,omitempty"`
	SnapshotThreshold  uint64 `json:"snapshot_threshold,omitempty"`
	SnapshotInterval   string `json:"snapshot_interval,omitempty"`
	TrailingLogs       uint64 `json:"trailing_logs,omitempty"`
	// Fsync: the Raft log is a bolt file synced on every write.
	Fsync bool `json:"fsync"`
	// AgentFlags are every flag the local agents got beyond the launcher's
	// own; flags naming Raft settings override the values above.
	AgentFlags []string `json:"agent_flags"`
}

// raftSettings describes the local agents' Raft configuration: the agent
// starts from hashicorp/raft's defaults, sets its own timers (cluster's
// defaults) and snapshot check interval (5 s), and applies the -raft-* flags
// it was given, which are read back here from the agent flags.
func raftSettings(local bool, agentFlags []string) Raft {
	if !local {
		return Raft{Source: "not visible to a client: see the agents' configuration", AgentFlags: []string{}}
	}
	d := raft.DefaultConfig()
	var t cluster.Timeouts
	r := Raft{
		Known:             true,
		Source:            "the agent's defaults and the -raft-* agent flags",
		CommitTimeoutMs:   d.CommitTimeout.Milliseconds(),
		MaxAppendEntries:  d.MaxAppendEntries,
		SnapshotThreshold: d.SnapshotThreshold,
		SnapshotInterval:  "5s",
		TrailingLogs:      d.TrailingLogs,
		Fsync:             true,
		AgentFlags:        append([]string{}, agentFlags...),
	}
	for _, f := range agentFlags {
		name, val, ok := strings.Cut(strings.TrimLeft(f, "-"), "=")
		if !ok {
			continue
		}
		dur, durErr := time.ParseDuration(val)
		switch name {
		case "raft-snapshot-threshold":
			if n, err := strconv.ParseUint(val, 10, 64); err == nil && n > 0 {
				r.SnapshotThreshold = n
			}
		case "raft-trailing-logs":
			if n, err := strconv.ParseUint(val, 10, 64); err == nil && n > 0 {
				r.TrailingLogs = n
			}
		case "raft-snapshot-interval":
			r.SnapshotInterval = val
		case "raft-heartbeat-timeout":
			if durErr == nil {
				t.Heartbeat = dur
			}
		case "raft-election-timeout":
			if durErr == nil {
				t.Election = dur
			}
		case "raft-leader-lease-timeout":
			if durErr == nil {
				t.LeaderLease = dur
			}
		}
	}
	// Zero timers take the cluster's defaults; the lease never exceeds
	// the heartbeat timeout (as cluster.Timeouts decides).
	if t.Heartbeat == 0 {
		t.Heartbeat = cluster.DefaultHeartbeatTimeout
	}
	if t.Election == 0 {
		t.Election = cluster.DefaultElectionTimeout
	}
	if t.LeaderLease == 0 {
		t.LeaderLease = min(cluster.DefaultLeaderLeaseTimeout, t.Heartbeat)
	}
	r.Timers = t.String()
	r.HeartbeatTimeoutMs = t.Heartbeat.Milliseconds()
	r.ElectionTimeoutMs = t.Election.Milliseconds()
	r.LeaderLeaseMs = t.LeaderLease.Milliseconds()
	return r
}

// measureConditions reads the machine's state; the fsync latency only when
// the agents' data dirs are local (under root).
func measureConditions(root string, local bool) Conditions {
	c := Conditions{
		Time: time.Now().UTC().Truncate(time.Second), CPUs: runtime.NumCPU(), GOMAXPROCS: runtime.GOMAXPROCS(0),
		Go: runtime.Version(), Commit: buildCommit(),
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if v, err := strconv.ParseFloat(f[0], 64); err == nil {
				c.LoadAvg1 = &v
			}
		}
	}
	if busy, ok := cpuBusy(500 * time.Millisecond); ok {
		c.CPUBusyPct = &busy
	}
	if local {
		if p50, p99, err := FsyncLatency(root, 100); err == nil {
			c.FsyncDir = root
			a, b := ms(p50), ms(p99)
			c.FsyncP50Ms, c.FsyncP99Ms = &a, &b
		}
	}
	return c
}

// slowFsyncMs is the fsync p50 above which a run says its commits cost more
// than on the disks the targets assume (about 0.1 ms; docs/BENCHMARKS.md's
// figures were taken at 0.11-0.25 ms): every commit waits on four of them in
// series, so the latency figures are not comparable with those.
const slowFsyncMs = 0.3

// notes says what in the conditions makes the figures incomparable with
// the documented ones.
func (c Conditions) notes() []string {
	var out []string
	if c.FsyncP50Ms != nil && *c.FsyncP50Ms > slowFsyncMs {
		// No figure in the text: repeated runs list each note once, with
		// the runs that gave it, and each run's fsync is in its conditions.
		out = append(out, fmt.Sprintf("the data dir's fsync p50 is above %.1f ms (see the conditions): each commit waits on four fsyncs in series, two on the leader and two on a follower, so commit-bound figures (chain steps, ack latencies) are slower than on the disks docs/BENCHMARKS.md was measured on", slowFsyncMs))
	}
	return out
}

// FsyncLatency writes and fsyncs a 4 KiB block n times in a scratch file in
// dir and returns the p50 and p99 time per write+fsync. It stops early after
// five seconds (a slow disk) and removes the file.
func FsyncLatency(dir string, n int) (p50, p99 time.Duration, err error) {
	f, err := os.CreateTemp(dir, ".baton-bench-fsync-")
	if err != nil {
		return 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	block := make([]byte, 4096)
	for i := range block {
		block[i] = byte(i)
	}
	var lat []time.Duration
	stop := time.Now().Add(5 * time.Second)
	for i := 0; i < n && time.Now().Before(stop); i++ {
		t := time.Now()
		if _, err := f.Write(block); err != nil {
			return 0, 0, err
		}
		if err := f.Sync(); err != nil {
			return 0, 0, err
		}
		lat = append(lat, time.Since(t))
	}
	sortDurations(lat)
	return percentile(lat, 0.5), percentile(lat, 0.99), nil
}

// cpuBusy samples /proc/stat over d and returns the percentage of CPU time
// that was not idle (idle and iowait count as idle).
func cpuBusy(d time.Duration) (float64, bool) {
	read := func() (idle, total uint64, ok bool) {
		b, err := os.ReadFile("/proc/stat")
		if err != nil {
			return 0, 0, false
		}
		line, _, _ := strings.Cut(string(b), "\n")
		f := strings.Fields(line)
		if len(f) < 6 || f[0] != "cpu" {
			return 0, 0, false
		}
		for i, v := range f[1:] {
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return 0, 0, false
			}
			total += n
			if i == 3 || i == 4 { // idle, iowait
				idle += n
			}
		}
		return idle, total, true
	}
	i0, t0, ok := read()
	if !ok {
		return 0, false
	}
	time.Sleep(d)
	i1, t1, ok := read()
	if !ok || t1 <= t0 {
		return 0, false
	}
	return round3(100 * (1 - float64(i1-i0)/float64(t1-t0))), true
}

func buildCommit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	var rev, dirty string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return ""
	}
	return rev + dirty
}

// Summary is the conditions on one line.
func (c Conditions) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d CPUs", c.CPUs)
	if c.CPUBusyPct != nil {
		fmt.Fprintf(&b, ", %.0f%% busy before the run", *c.CPUBusyPct)
	}
	if c.LoadAvg1 != nil {
		fmt.Fprintf(&b, " (load average %.2f)", *c.LoadAvg1)
	}
	if c.FsyncP50Ms != nil {
		fmt.Fprintf(&b, "; fsync p50 %.2f ms, p99 %.2f ms in %s", *c.FsyncP50Ms, *c.FsyncP99Ms, c.FsyncDir)
	} else {
		b.WriteString("; fsync not measured (remote data dirs)")
	}
	fmt.Fprintf(&b, "; %d Raft node(s); %s", c.Nodes, c.Target)
	return b.String()
}

// RaftSummary is the Raft settings on one line.
func (r Raft) RaftSummary() string {
	if !r.Known {
		return r.Source
	}
	s := fmt.Sprintf("%s, commit %dms, max append %d, snapshot every %d entries (checked %s), trailing %d, fsync on",
		r.Timers, r.CommitTimeoutMs, r.MaxAppendEntries, r.SnapshotThreshold, r.SnapshotInterval, r.TrailingLogs)
	if len(r.AgentFlags) > 0 {
		s += "; agent flags: " + strings.Join(r.AgentFlags, " ")
	}
	return s
}
