package telemetry

import (
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
)

func find(t *testing.T, snap Snapshot, name string, kind Kind, labels map[string]string) Series {
	t.Helper()
	for _, s := range snap.Series {
		if s.Name == name && s.Kind == kind && labelString(s.Labels) == labelString(labels) {
			return s
		}
	}
	t.Fatalf("no %s series %s%v in %+v", kind, name, labels, snap.Series)
	return Series{}
}

func TestSinkKeepsRunningTotals(t *testing.T) {
	s := NewSink()
	for _, v := range []float32{2, 0.5, 4} {
		s.AddSample([]string{"raft", "commitTime"}, v)
	}
	s.IncrCounter([]string{"raft", "apply"}, 3)
	s.IncrCounter([]string{"raft", "apply"}, 2)
	s.SetGauge([]string{"runtime", "num_goroutines"}, 40)
	s.SetGauge([]string{"runtime", "num_goroutines"}, 38)
	// The same name with other labels, in either order, is another series
	// and one series respectively.
	s.AddSampleWithLabels([]string{"rpc"}, 1, []metrics.Label{{Name: "peer", Value: "n1"}, {Name: "kind", Value: "a"}})
	s.AddSampleWithLabels([]string{"rpc"}, 3, []metrics.Label{{Name: "kind", Value: "a"}, {Name: "peer", Value: "n1"}})
	s.AddSampleWithLabels([]string{"rpc"}, 7, []metrics.Label{{Name: "peer", Value: "n2"}, {Name: "kind", Value: "a"}})

	snap := s.Snapshot()
	c := find(t, snap, "raft.commitTime", Sample, nil)
	if c.Count != 3 || c.Sum != 6.5 || c.Min != 0.5 || c.Max != 4 || c.Mean() != 6.5/3 {
		t.Errorf("commitTime = %+v, want count 3 sum 6.5 min 0.5 max 4", c)
	}
	if a := find(t, snap, "raft.apply", Counter, nil); a.Sum != 5 || a.Count != 2 {
		t.Errorf("counter = %+v, want sum 5 over 2 increments", a)
	}
	if g := find(t, snap, "runtime.num_goroutines", Gauge, nil); g.Value != 38 {
		t.Errorf("gauge = %+v, want the last value 38", g)
	}
	n1 := find(t, snap, "rpc", Sample, map[string]string{"peer": "n1", "kind": "a"})
	n2 := find(t, snap, "rpc", Sample, map[string]string{"peer": "n2", "kind": "a"})
	if n1.Count != 2 || n1.Sum != 4 || n2.Count != 1 || n2.Sum != 7 {
		t.Errorf("labelled series: n1 %+v, n2 %+v", n1, n2)
	}
	if len(snap.Series) != 5 {
		t.Errorf("%d series, want 5: %+v", len(snap.Series), snap.Series)
	}
	if got := (Series{}).Mean(); got != 0 {
		t.Errorf("empty mean = %v", got)
	}
}

// The libraries report through go-metrics with the service's prefix and
// timers in milliseconds; the sink must see them that way.
func TestSinkBehindGoMetrics(t *testing.T) {
	s := NewSink()
	cfg := metrics.DefaultConfig("baton")
	cfg.EnableHostname = false
	cfg.EnableRuntimeMetrics = false
	m, err := metrics.New(cfg, s)
	if err != nil {
		t.Fatal(err)
	}
	m.MeasureSince([]string{"raft", "commitTime"}, time.Now().Add(-1500*time.Microsecond))
	m.IncrCounterWithLabels([]string{"raft", "replication", "appendEntries", "logs"}, 4, []metrics.Label{{Name: "peer_id", Value: "n2"}})
	snap := s.Snapshot()
	c := find(t, snap, "baton.raft.commitTime", Sample, nil)
	if c.Count != 1 || c.Sum < 1.5 || c.Sum > 1000 {
		t.Errorf("commitTime = %+v, want one sample of at least 1.5 (ms)", c)
	}
	if l := find(t, snap, "baton.raft.replication.appendEntries.logs", Counter, map[string]string{"peer_id": "n2"}); l.Sum != 4 {
		t.Errorf("logs = %+v", l)
	}
}

func TestServeJSONAndPrometheus(t *testing.T) {
	s := NewSink()
	s.now = func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }
	s.bounds = []float64{1, 2}
	s.AddSample([]string{"baton", "raft", "commitTime"}, 1.5)
	s.AddSample([]string{"baton", "raft", "commitTime"}, 0.5)
	s.AddSample([]string{"baton", "raft", "commitTime"}, 3)
	s.IncrCounterWithLabels([]string{"baton", "raft", "replication", "appendEntries", "logs"}, 4, []metrics.Label{{Name: "peer_id", Value: `n"2`}})
	s.SetGauge([]string{"baton", "runtime", "alloc-bytes"}, 1024)

	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path, nil))
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("json: %d %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	var snap Snapshot
	if err := json.Unmarshal(rec.Body.Bytes(), &snap); err != nil {
		t.Fatalf("decode: %v\n%s", err, rec.Body)
	}
	if c := find(t, snap, "baton.raft.commitTime", Sample, nil); c.Count != 3 || c.Sum != 5 || !slices.Equal(c.Buckets, []uint64{1, 1, 1}) {
		t.Errorf("decoded commitTime = %+v, want 3 values, one in each bucket", c)
	}
	if !slices.Equal(snap.Bounds, []float64{1, 2}) {
		t.Errorf("bounds = %v", snap.Bounds)
	}
	if !snap.Time.Equal(s.now()) {
		t.Errorf("time = %v", snap.Time)
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path+"?format=prometheus", nil))
	want := `# TYPE baton_raft_commitTime histogram
baton_raft_commitTime_bucket{le="1"} 1
baton_raft_commitTime_bucket{le="2"} 2
baton_raft_commitTime_bucket{le="+Inf"} 3
baton_raft_commitTime_sum 5
baton_raft_commitTime_count 3
# TYPE baton_raft_replication_appendEntries_logs_total counter
baton_raft_replication_appendEntries_logs_total{peer_id="n\"2"} 4
# TYPE baton_runtime_alloc_bytes gauge
baton_runtime_alloc_bytes 1024
`
	if got := rec.Body.String(); got != want {
		t.Errorf("prometheus text:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain") {
		t.Errorf("prometheus content type %q", rec.Header().Get("Content-Type"))
	}

	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, Path+"?format=xml", nil))
	if rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), `format "xml": want json or prometheus`) {
		t.Errorf("bad format: %d %s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, Path, nil))
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

func TestWindowAndSum(t *testing.T) {
	before := Snapshot{Series: []Series{
		{Name: "rpc", Kind: Sample, Labels: map[string]string{"peer_id": "n1"}, Count: 10, Sum: 20, Max: 9, Buckets: []uint64{6, 4}},
		{Name: "rpc", Kind: Sample, Labels: map[string]string{"peer_id": "n2"}, Count: 4, Sum: 4, Buckets: []uint64{4, 0}},
		{Name: "apply", Kind: Counter, Count: 2, Sum: 30},
		{Name: "restarted", Kind: Sample, Count: 50, Sum: 50},
	}}
	after := Snapshot{Series: []Series{
		{Name: "rpc", Kind: Sample, Labels: map[string]string{"peer_id": "n1"}, Count: 13, Sum: 29, Min: 0.5, Max: 9, Buckets: []uint64{6, 7}},
		{Name: "rpc", Kind: Sample, Labels: map[string]string{"peer_id": "n2"}, Count: 6, Sum: 10, Min: 0.25, Max: 6, Buckets: []uint64{5, 1}},
		{Name: "rpc", Kind: Sample, Labels: map[string]string{"peer_id": "n3"}, Count: 1, Sum: 2, Min: 2, Max: 2, Buckets: []uint64{0, 1}},
		{Name: "apply", Kind: Counter, Count: 3, Sum: 45},
		{Name: "restarted", Kind: Sample, Count: 5, Sum: 5},
		{Name: "heap", Kind: Gauge, Count: 9, Value: 7},
	}}
	w := Window(before, after)
	rpc := Sum(w, "rpc")
	if rpc.Count != 3+2+1 || rpc.Sum != 9+6+2 || rpc.Kind != Sample {
		t.Errorf("rpc over the window = %+v, want count 6 sum 17", rpc)
	}
	if !slices.Equal(rpc.Buckets, []uint64{0 + 1 + 0, 3 + 1 + 1}) || rpc.Min != 0.25 || rpc.Max != 9 {
		t.Errorf("rpc over the window = %+v, want buckets [1 5], min 0.25, max 9", rpc)
	}
	if before.Series[0].Buckets[1] != 4 || after.Series[0].Buckets[1] != 7 {
		t.Errorf("the window changed the snapshots' buckets: %v, %v", before.Series[0].Buckets, after.Series[0].Buckets)
	}
	if a := Sum(w, "apply"); a.Sum != 15 || a.Count != 1 {
		t.Errorf("apply = %+v", a)
	}
	if r := Sum(w, "restarted"); r.Count != 0 {
		t.Errorf("a series that went backwards has no window: %+v", r)
	}
	if h := Sum(w, "heap"); h.Count != 0 {
		t.Errorf("gauges have no window: %+v", h)
	}
	if none := Sum(w, "absent"); none.Count != 0 || none.Mean() != 0 {
		t.Errorf("absent = %+v", none)
	}
}

// Buckets count each value once, at the first bound not below it, and
// carry labels next to le in Prometheus' text.
func TestSampleBuckets(t *testing.T) {
	s := NewSink()
	s.bounds = []float64{0.5, 1, 2}
	for _, v := range []float32{0.25, 0.5, 0.75, 1, 1.5, 2, 9, 40} {
		s.AddSampleWithLabels([]string{"rpc"}, v, []metrics.Label{{Name: "peer_id", Value: "n2"}})
	}
	snap := s.Snapshot()
	c := find(t, snap, "rpc", Sample, map[string]string{"peer_id": "n2"})
	if !slices.Equal(c.Buckets, []uint64{2, 2, 2, 2}) {
		t.Errorf("buckets %v, want [2 2 2 2]: a value equal to a bound counts in that bound's bucket", c.Buckets)
	}
	// The snapshot is a copy: later samples do not change it.
	s.AddSampleWithLabels([]string{"rpc"}, 0.1, []metrics.Label{{Name: "peer_id", Value: "n2"}})
	if c.Buckets[0] != 2 {
		t.Errorf("snapshot changed by a later sample: %v", c.Buckets)
	}
	var b strings.Builder
	if err := WritePrometheus(&b, snap); err != nil {
		t.Fatal(err)
	}
	want := `# TYPE rpc histogram
rpc_bucket{le="0.5",peer_id="n2"} 2
rpc_bucket{le="1",peer_id="n2"} 4
rpc_bucket{le="2",peer_id="n2"} 6
rpc_bucket{le="+Inf",peer_id="n2"} 8
rpc_sum{peer_id="n2"} 55
rpc_count{peer_id="n2"} 8
`
	if b.String() != want {
		t.Errorf("prometheus text:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestQuantile(t *testing.T) {
	bounds := []float64{1, 2, 4}
	for _, tc := range []struct {
		name    string
		s       Series
		q, want float64
		ok      bool
	}{
		// 100 values: 10 up to 1, 80 in (1, 2], 10 in (2, 4].
		{"median", Series{Buckets: []uint64{10, 80, 10, 0}}, 0.5, 1.5, true},
		{"p10 at a bucket's top", Series{Buckets: []uint64{10, 80, 10, 0}}, 0.1, 1, true},
		{"p95", Series{Buckets: []uint64{10, 80, 10, 0}}, 0.95, 3, true},
		{"first bucket from 0", Series{Buckets: []uint64{4, 0, 0, 0}}, 0.5, 0.5, true},
		{"kept within min and max", Series{Buckets: []uint64{4, 0, 0, 0}, Min: 0.8, Max: 0.9}, 0.5, 0.8, true},
		{"past the last bound", Series{Buckets: []uint64{0, 0, 1, 9}}, 0.99, 4, true},
		{"empty buckets before", Series{Buckets: []uint64{0, 0, 2, 0}}, 0.5, 3, true},
		{"no values", Series{Buckets: []uint64{0, 0, 0, 0}}, 0.5, 0, false},
		{"other bounds", Series{Buckets: []uint64{1, 1}}, 0.5, 0, false},
		{"q out of range", Series{Buckets: []uint64{1, 0, 0, 0}}, 1, 0, false},
	} {
		got, ok := tc.s.Quantile(bounds, tc.q)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: Quantile(%v) = %v, %v; want %v, %v", tc.name, tc.q, got, ok, tc.want, tc.ok)
		}
	}
}

// What a sample costs the code that reports it: Raft reports a few per
// entry on each server, from several goroutines.
func BenchmarkSinkAddSample(b *testing.B) {
	s := NewSink()
	key := []string{"baton", "raft", "commitTime"}
	labels := []metrics.Label{{Name: "peer_id", Value: "n2"}}
	b.Run("plain", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.AddSample(key, 1.5)
			}
		})
	})
	b.Run("labelled", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.AddSampleWithLabels(key, 1.5, labels)
			}
		})
	})
}
