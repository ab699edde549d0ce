// Package telemetry keeps the agent's metrics (Raft's, the log store's,
// gossip's and the Go runtime's, which those libraries report through
// go-metrics) as running totals since the process started, and serves them
// as JSON or in Prometheus' text format.
//
// Totals rather than the usual fixed intervals, so that any two reads make
// an exact window: a benchmark reads before and after its workload and
// divides the difference of sums by the difference of counts, and a
// Prometheus server computes rates the same way. A sample series also
// counts its values in fixed buckets (Bounds), which subtract the same way,
// so that a window has percentiles too, to the buckets' resolution.
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
	// Buckets counts a sample series' values by Bounds: Buckets[i] those
	// above Bounds[i-1] and at most Bounds[i], the last those above every
	// bound. Not cumulative, so that windows and sums add them as they
	// are.
	Buckets []uint64 `json:"buckets,omitempty"`
}

// Bounds are the upper bounds of the buckets a sample series counts its
// values in. Most samples are timings in milliseconds, so the bounds run
// from 10 µs to a minute in steps of 1.5 to 2.5, finest where a commit,
// an fsync and a round lie.
var Bounds = []float64{
	0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10,
	15, 20, 30, 50, 75, 100, 150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000,
}

// Quantile estimates a sample series' q-quantile (0 < q < 1) from its
// buckets, counted by bounds (a Snapshot's Bounds), as Prometheus'
// histogram_quantile does: linearly within the bucket that holds it, the
// first bucket starting at 0 and the one past the last bound answering
// that bound. The estimate is kept within Min and Max. ok is false for a
// series with no values in buckets of those bounds.
func (s Series) Quantile(bounds []float64, q float64) (v float64, ok bool) {
	var total uint64
	for _, n := range s.Buckets {
		total += n
	}
	if total == 0 || len(s.Buckets) != len(bounds)+1 || q <= 0 || q >= 1 {
		return 0, false
	}
	rank := q * float64(total)
	var below uint64
	for i, n := range s.Buckets {
		if n == 0 || float64(below+n) < rank {
			below += n
			continue
		}
		if i == len(bounds) {
			v = bounds[len(bounds)-1]
		} else {
			lo := 0.0
			if i > 0 {
				lo = bounds[i-1]
			}
			v = lo + (bounds[i]-lo)*(rank-float64(below))/float64(n)
		}
		break
	}
	if s.Max != 0 || s.Min != 0 {
		v = min(max(v, s.Min), s.Max)
	}
	return v, true
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
	Time time.Time `json:"time"`
	// Bounds are the upper bounds of the sample series' buckets (the
	// package's Bounds).
	Bounds []float64 `json:"bounds"`
	Series []Series  `json:"series"`
}

// Sink is a go-metrics sink that keeps running totals.
type Sink struct {
	now    func() time.Time
	bounds []float64
	mu     sync.Mutex
	series map[seriesID]*Series
}

// seriesID tells series apart: by kind, then by name and labels.
type seriesID struct {
	kind Kind
	key  string
}

// NewSink returns an empty sink.
func NewSink() *Sink { return &Sink{now: time.Now, bounds: Bounds, series: map[seriesID]*Series{}} }

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
	if a.Buckets == nil {
		a.Buckets = make([]uint64, len(s.bounds)+1)
	}
	a.Buckets[sort.SearchFloat64s(s.bounds, v)]++
}

// Snapshot copies every series, ordered by name, then kind, then labels.
func (s *Sink) Snapshot() Snapshot {
	s.mu.Lock()
	out := Snapshot{Time: s.now().UTC(), Bounds: s.bounds, Series: make([]Series, 0, len(s.series))}
	for _, ser := range s.series {
		c := *ser
		c.Labels = maps.Clone(ser.Labels)
		c.Buckets = slices.Clone(ser.Buckets)
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
// sample series as a histogram (cumulative _bucket series by le, _sum and
// _count), a counter as a counter, a gauge as a gauge. Names have every
// character Prometheus does not allow replaced by '_'.
func WritePrometheus(w io.Writer, snap Snapshot) error {
	typed := map[string]bool{}
	for _, ser := range snap.Series {
		name := promName(ser.Name)
		if ser.Kind == Counter {
			name += "_total"
		}
		if !typed[name] {
			typed[name] = true
			kind := map[Kind]string{Sample: "histogram", Counter: "counter", Gauge: "gauge"}[ser.Kind]
			if _, err := fmt.Fprintf(w, "# TYPE %s %s\n", name, kind); err != nil {
				return err
			}
		}
		labels := promLabels(ser.Labels)
		var err error
		switch ser.Kind {
		case Sample:
			err = writeBuckets(w, name, ser, snap.Bounds)
			if err == nil {
				_, err = fmt.Fprintf(w, "%s_sum%s %s\n%s_count%s %d\n", name, labels, promFloat(ser.Sum), name, labels, ser.Count)
			}
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

// writeBuckets writes a sample series' cumulative buckets, the last one
// (le="+Inf") equal to its count as Prometheus requires. A series without
// buckets, or with buckets for other bounds, has only that one.
func writeBuckets(w io.Writer, name string, ser Series, bounds []float64) error {
	le := func(bound string) string {
		l := maps.Clone(ser.Labels)
		if l == nil {
			l = map[string]string{}
		}
		l["le"] = bound
		return promLabels(l)
	}
	if len(ser.Buckets) == len(bounds)+1 {
		var cum uint64
		for i, b := range bounds {
			cum += ser.Buckets[i]
			if _, err := fmt.Fprintf(w, "%s_bucket%s %d\n", name, le(promFloat(b)), cum); err != nil {
				return err
			}
		}
	}
	_, err := fmt.Fprintf(w, "%s_bucket%s %d\n", name, le("+Inf"), ser.Count)
	return err
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
// sample and counter series present in the later one, the count, sum and
// bucket counts added since the earlier (Min and Max are the later one's,
// over the process's life). A series whose count went down, as when the
// process restarted between the two, has no window.
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
		if len(p.Buckets) == len(s.Buckets) {
			s.Buckets = slices.Clone(s.Buckets)
			for i, n := range p.Buckets {
				s.Buckets[i] -= min(n, s.Buckets[i])
			}
		}
		out = append(out, s)
	}
	return out
}

// Sum adds up the window's series of one name whatever their labels (the
// same figure from each peer, say): a series with their total count, sum
// and bucket counts, and the extremes of their Min and Max.
func Sum(window []Series, name string) Series {
	total := Series{Name: name}
	first := true
	for _, s := range window {
		if s.Name != name {
			continue
		}
		total.Kind = s.Kind
		total.Count += s.Count
		total.Sum += s.Sum
		if first || s.Min < total.Min {
			total.Min = s.Min
		}
		if first || s.Max > total.Max {
			total.Max = s.Max
		}
		first = false
		if len(s.Buckets) > 0 {
			if total.Buckets == nil {
				total.Buckets = make([]uint64, len(s.Buckets))
			}
			if len(s.Buckets) == len(total.Buckets) {
				for i, n := range s.Buckets {
					total.Buckets[i] += n
				}
			}
		}
	}
	return total
}
