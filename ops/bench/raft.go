package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/batonhq/baton/cluster/telemetry"
)

// raftMeter reads every local agent's metrics (telemetry.Path) when the
// measured window begins and when it ends, and reports what Raft and the
// leader's scheduler did in between: how long a commit took and what it was
// made of, and how long a round planned. Next to a workload's own figures
// these say how much of a step or a start is the log itself. Like the CPU window, only the first window of a run counts.
type raftMeter struct {
	mu     sync.Mutex
	begun  bool
	leader string
	// windows holds each agent whose metrics were read at both ends.
	windows map[string][]telemetry.Series
	// bounds are the leader's bucket bounds, for the percentiles.
	bounds  []float64
	missing []string
	err     error
}

// metricsTimeout bounds one read of an agent's metrics.
const metricsTimeout = 5 * time.Second

// readMetrics fetches one agent's running totals.
func readMetrics(ctx context.Context, baseURL string) (telemetry.Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(baseURL, "/")+telemetry.Path, nil)
	if err != nil {
		return telemetry.Snapshot{}, err
	}
	resp, err := httpClient(baseURL).Do(req)
	if err != nil {
		return telemetry.Snapshot{}, fmt.Errorf("metrics of %s: %w", baseURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return telemetry.Snapshot{}, fmt.Errorf("metrics of %s: %w", baseURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		return telemetry.Snapshot{}, fmt.Errorf("metrics of %s: %s", baseURL, resp.Status)
	}
	var snap telemetry.Snapshot
	if err := json.Unmarshal(body, &snap); err != nil {
		return telemetry.Snapshot{}, fmt.Errorf("metrics of %s: %w", baseURL, err)
	}
	return snap, nil
}

func (m *raftMeter) begin(ctx context.Context, cl *Cluster, leaderURL string) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.begun || cl == nil {
		return func() {}
	}
	m.begun = true
	before := map[string]telemetry.Snapshot{}
	urls := map[string]string{}
	for _, a := range cl.Running() {
		snap, err := readMetrics(ctx, a.URL())
		if err != nil {
			m.err = err
			return func() {}
		}
		before[a.Name], urls[a.Name] = snap, a.URL()
		if a.URL() == leaderURL {
			m.leader, m.bounds = a.Name, snap.Bounds
		}
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			windows := map[string][]telemetry.Series{}
			var missing []string
			for name, b := range before {
				after, err := readMetrics(ctx, urls[name])
				if err != nil {
					missing = append(missing, name)
					continue
				}
				windows[name] = telemetry.Window(b, after)
			}
			sort.Strings(missing)
			m.mu.Lock()
			m.windows, m.missing = windows, missing
			m.mu.Unlock()
		})
	}
}

// raftFigure is one figure the meter reports: the mean of a series summed
// over its labels, or with quantile its quantile estimated from the
// buckets, on the leader or over the followers.
type raftFigure struct {
	name, series string
	onLeader     bool
	unit, help   string
	quantile     float64
}

var raftFigures = []raftFigure{
	{"raft_commit_ms_mean", "baton.raft.commitTime", true, "ms",
		"mean time from the leader handing an entry to its log to the entry's commit (its own write, the replication, a follower's write and answer; not the apply): Raft's commitTime on the leader", 0},
	{"raft_commit_ms_p50", "baton.raft.commitTime", true, "ms",
		"the same, median, estimated from the metric's buckets (to within the bucket: 0.3, 0.5, 0.75, 1, 1.5, 2, 3 ms...)", 0.5},
	{"raft_commit_ms_p99", "baton.raft.commitTime", true, "ms",
		"the same, 99th percentile, estimated from the metric's buckets", 0.99},
	{"raft_leader_write_ms_mean", "baton.raft.boltdb.storeLogs", true, "ms",
		"mean time of one append to the leader's log store (bolt: the pages and their fdatasync, then the meta page and its fdatasync), for a batch of entries", 0},
	{"raft_replicate_ms_mean", "baton.raft.replication.appendEntries.rpc", true, "ms",
		"mean round trip of one AppendEntries from the leader to a follower, the follower's write included", 0},
	{"raft_follower_write_ms_mean", "baton.raft.rpc.appendEntries.storeLogs", false, "ms",
		"mean time of one append to a follower's log store, for a batch of entries", 0},
	{"raft_entries_per_write", "baton.raft.boltdb.logsPerBatch", true, "entries",
		"entries per append to the leader's log store: how much Raft's batching gathered", 0},
	{"raft_apply_ms_mean", "baton.raft.fsm.applyBatch", true, "ms",
		"mean time the leader's state machine took to apply one batch of committed entries", 0},
	{"round_plan_ms_mean", "baton.scheduler.plan", true, "ms",
		"mean time the leader's scheduler took to plan a round that committed something", 0},
	{"round_commit_ms_mean", "baton.scheduler.commit", true, "ms",
		"mean time from a round planned to its entry applied on the leader: Raft's queue, the commit and the apply", 0},
	{"round_commit_ms_p99", "baton.scheduler.commit", true, "ms",
		"the same, 99th percentile, estimated from the metric's buckets", 0.99},
}

// report adds the window's Raft figures to res: nothing against a cluster
// given by address, where this command does not know which agents exist.
func (m *raftMeter) report(res *Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.begun {
		return
	}
	why := ""
	switch {
	case m.err != nil:
		why = "cannot read the agents' metrics: " + m.err.Error()
	case m.windows == nil:
		why = "the run did not end its measured window"
	case m.leader == "":
		why = "the leader was not among the agents when the window began"
	}
	if _, ok := m.windows[m.leader]; why == "" && !ok {
		why = "the leader's metrics could not be read when the window ended (stopped or restarted)"
	}
	const entriesHelp = "entries the leader committed in the window"
	const roundsHelp = "the leader's scheduling rounds that committed something in the window"
	if why != "" {
		for _, f := range raftFigures {
			res.Metrics = append(res.Metrics, Metric{Name: f.name, Unit: f.unit, Help: f.help})
		}
		res.Metrics = append(res.Metrics, Metric{Name: "raft_entries", Unit: "entries", Help: entriesHelp},
			Metric{Name: "rounds", Unit: "rounds", Help: roundsHelp})
		res.Notes = append(res.Notes, "raft_*, round_*, rounds: "+why)
		return
	}
	for _, f := range raftFigures {
		var windows []telemetry.Series
		for name, w := range m.windows {
			if (name == m.leader) == f.onLeader {
				windows = append(windows, w...)
			}
		}
		total := telemetry.Sum(windows, f.series)
		if total.Count == 0 {
			why := "the leader reported no " + f.series + " in the window"
			if !f.onLeader {
				why = "no follower reported " + f.series + " in the window"
			}
			res.unknown(f.name, f.unit, f.help, why)
			continue
		}
		if f.quantile == 0 {
			res.add(f.name, round3(total.Mean()), f.unit, f.help)
			continue
		}
		v, ok := total.Quantile(m.bounds, f.quantile)
		if !ok {
			res.unknown(f.name, f.unit, f.help, "the agents' "+f.series+" has no buckets (an agent of an older version)")
			continue
		}
		res.add(f.name, round3(v), f.unit, f.help)
	}
	c := telemetry.Sum(m.windows[m.leader], "baton.raft.commitTime")
	res.add("raft_entries", float64(c.Count), "entries", entriesHelp)
	r := telemetry.Sum(m.windows[m.leader], "baton.scheduler.plan")
	res.add("rounds", float64(r.Count), "rounds", roundsHelp)
	if len(m.missing) > 0 {
		res.Notes = append(res.Notes, "the raft_* and round_* figures leave out "+strings.Join(m.missing, ", ")+": metrics unreadable when the window ended")
	}
}
