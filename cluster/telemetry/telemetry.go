// Package telemetry keeps the agent's metrics (Raft's, the log store's,
// gossip's and the Go runtime's, which those libraries report through
// go-metrics) as running totals since the process started, and serves them
// as JSON or in Prometheus' text format.
//
// Totals rather than the usual fixed intervals, so that any two reads make
// an exact window: a benchmark reads before and after its workload and
// divides the difference of sums by the difference of counts, and a
// Prometheus server computes rates the same way. What totals cannot give is
// a percentile; a sample series has its count, sum, min and max.
package telemetry

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
)

// Path is where the agent serves its metrics on the API port.
const Path = "/v1/metrics"

// Kind says how a series aggregates what it is given.
type Kind string

const (
	// Sample series are timings (in milliseconds) and sizes: each value is
	// one observation.
	Sample Kind = "sample"
	// Counter series add up what they are given.
	Counter Kind = "counter"
	// Gauge series keep the last value.
	Gauge Kind = "gauge"
)

// Series is one metric with one set of labels.
type Series struct {
	Name   string            `json:"name"`
	Labels map[string]string `json:"labels,omitempty"`
	Kind   Kind              `json:"kind"`
	// Count is how many values a sample series was given (for a counter,
	// how many increments).
	Count uint64 `json:"count"`
	// Sum is a sample series' total and a counter's value.
	Sum float64 `json:"sum"`
	// Min and Max are a sample series' extremes; Value is a gauge's last
	// value.
	Min   float64 `json:"min,omitempty"`
	Max   float64 `json:"max,omitempty"`
	Value float64 `json:"value,omitempty"`
}

// Mean is a sample series' average, 0 when it has none.
func (s Series) Mean() float64 {
	if s.Count == 0 {
		return 0
	}
	return s.Sum / float64(s.Count)
}

// Snapshot is every series at one moment.
type Snapshot struct {
	Time   time.Time `json:"time"`
	Series []Series  `json:"series"`
}

// Sink is a go-metrics sink that keeps running totals.
type Sink struct {
	now    func() time.Time
	mu     sync.Mutex
	series map[seriesID]*Series
}

// seriesID tells series apart: by kind, then by name and labels.
type seriesID struct {
	kind Kind
	key  string
}

// NewSink returns an empty sink.
func NewSink() *Sink { return &Sink{now: time.Now, series: map[seriesID]*Series{}} }

// Install makes s the process's go-metrics sink, with every name prefixed
// by service. Raft, its log store, memberlist and serf report to that
// global sink; the Go runtime's figures are sampled every few seconds.
func Install(s *Sink, service string) error {
	cfg := metrics.DefaultConfig(service)
	cfg.EnableHostname = false
	cfg.HostName = ""
	cfg.ProfileInterval = 5 * time.Second
	if _, err := metrics.NewGlobal(cfg, s); err != nil {
		return fmt.Errorf("install metrics sink: %w", err)
	}
	return nil
}

// seriesKey identifies a series: its name, then its labels in order.
func seriesKey(name string, labels []metrics.Label) string {
	if len(labels) == 0 {
		return name
	}
	var b strings.Builder
	b.WriteString(name)
	for _, l := range sortedLabels(labels) {
		b.WriteByte(0)
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(l.Value)
	}
	return b.String()
}

func sortedLabels(labels []metrics.Label) []metrics.Label {
	if sort.SliceIsSorted(labels, func(i, j int) bool { return labels[i].Name < labels[j].Name }) {
		return labels
	}
	out := append([]metrics.Label(nil), labels...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// get returns the series, creating it; the caller holds mu.
func (s *Sink) get(key []string, labels []metrics.Label, kind Kind) *Series {
	name := strings.Join(key, ".")
	k := seriesID{kind, seriesKey(name, labels)}
	if ser, ok := s.series[k]; ok {
		return ser
	}
	ser := &Series{Name: name, Kind: kind}
	if len(labels) > 0 {
		ser.Labels = make(map[string]string, len(labels))
		for _, l := range labels {
			ser.Labels[l.Name] = l.Value
		}
	}
	s.series[k] = ser
	return ser
}

// SetGauge implements go-metrics' sink.
func (s *Sink) SetGauge(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// SetGaugeWithLabels implements go-metrics' sink.
func (s *Sink) SetGaugeWithLabels(key []string, val float32, labels []metrics.Label) {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := s.get(key, labels, Gauge)
	g.Count++
	g.Value = float64(val)
}

// EmitKey implements go-metrics' sink; a key emitted is kept as a gauge.
func (s *Sink) EmitKey(key []string, val float32) { s.SetGaugeWithLabels(key, val, nil) }

// IncrCounter implements go-metrics' sink.
func (s *Sink) IncrCounter(key []string, val float32) { s.IncrCounterWithLabels(key, val, nil) }

// IncrCounterWithLabels implements go-metrics' sink.
func (s *Sink) IncrCounterWithLabels(key []string, val float32, labels []metrics.Label) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.get(key, labels, Counter)
	c.Count++
	c.Sum += float64(val)
}

// AddSample implements go-metrics' sink.
func (s *Sink) AddSample(key []string, val float32) { s.AddSampleWithLabels(key, val, nil) }

// AddSampleWithLabels implements go-metrics' sink.
func (s *Sink) AddSampleWithLabels(key []string, val float32, labels []metrics.Label) {
	v := float64(val)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.get(key, labels, Sample)
	if a.Count == 0 || v < a.Min {
		a.Min = v
	}
	if a.Count == 0 || v > a.Max {
		a.Max = v
	}
	a.Count++
	a.Sum += v
}

// Snapshot copies every series, ordered by name, then kind, then labels.
func (s *Sink) Snapshot() Snapshot {
	s.mu.Lock()
	out := Snapshot{Time: s.now().UTC(), Series: make([]Series, 0, len(s.series))}
	for _, ser := range s.series {
		c := *ser
		c.Labels = maps.Clone(ser.Labels)
		out.Series = append(out.Series, c)
	}
	s.mu.Unlock()
	sort.Slice(out.Series, func(i, j int) bool {
		a, b := out.Series[i], out.Series[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return labelString(a.Labels) < labelString(b.Labels)
	})
	return out
}

func labelString(labels map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(0)
	}
	return b.String()
}

// ServeHTTP serves the snapshot: JSON, or Prometheus' text format with
// ?format=prometheus.
func (s *Sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "metrics: use GET", http.StatusMethodNotAllowed)
		return
	}
	snap := s.Snapshot()
	switch f := r.URL.Query().Get("format"); f {
	case "", "json":
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(snap)
	case "prometheus":
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = WritePrometheus(w, snap)
	default:
		http.Error(w, fmt.Sprintf("metrics: format %q: want json or prometheus", f), http.StatusBadRequest)
	}
}

// WritePrometheus writes snap in Prometheus' text exposition format: a
// sample series as a summary without quantiles (_sum and _count), a counter
// as a counter, a gauge as a gauge. Names have every character Prometheus
// does not allow replaced by '_'.
func WritePrometheus(w io.Writer, snap Snapshot) error {
	typed := map[string]bool{}
	for _, ser := range snap.Series {
		name := promName(ser.Name)
		if ser.Kind == Counter {
			name += "_total"
		}
		if !typed[name] {
			typed[name] = true
			kind := map[Kind]string{Sample: "summary", Counter: "counter", Gauge: "gauge"}[ser.Kind]
			if _, err := fmt.Fprintf(w, "# TYPE %s %s\n", name, kind); err != nil {
				return err
			}
		}
		labels := promLabels(ser.Labels)
		var err error
		switch ser.Kind {
		case Sample:
			_, err = fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, promFloat(ser.Sum), name, labels, ser.Count)
		case Counter:
			_, err = fmt.Fprintf(w, "%s%s %s\n", name, labels, promFloat(ser.Sum))
		default:
			_, err = fmt.Fprintf(w, "%s%s %s\n", name, labels, promFloat(ser.Value))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func promName(s string) string {
	b := []byte(s)
	for i, c := range b {
		ok := c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}

func promLabels(labels map[string]string) string {
	if len(labels) == 0 {
		return ""
	}
	names := slices.Sorted(maps.Keys(labels))
	parts := make([]string, len(names))
	for i, k := range names {
		v := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(labels[k])
		parts[i] = promName(k) + `="` + v + `"`
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func promFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Window is what happened between two snapshots of one process: for each
// sample and counter series present in the later one, the count and sum
// added since the earlier (Min and Max are the later one's, over the
// process's life). A series whose count went down, as when the process
// restarted between the two, has no window.
func Window(before, after Snapshot) []Series {
	prev := map[string]Series{}
	for _, s := range before.Series {
		prev[string(s.Kind)+"\x00"+s.Name+"\x00"+labelString(s.Labels)] = s
	}
	var out []Series
	for _, s := range after.Series {
		if s.Kind == Gauge {
			continue
		}
		p := prev[string(s.Kind)+"\x00"+s.Name+"\x00"+labelString(s.Labels)]
		if s.Count < p.Count {
			continue
		}
		s.Count -= p.Count
		s.Sum -= p.Sum
		out = append(out, s)
	}
	return out
}

// Sum adds up the window's series of one name whatever their labels (the
// same figure from each peer, say): a series with their total count and sum.
func Sum(window []Series, name string) Series {
	total := Series{Name: name}
	for _, s := range window {
		if s.Name == name {
			total.Kind = s.Kind
			total.Count += s.Count
			total.Sum += s.Sum
		}
	}
	return total
}
