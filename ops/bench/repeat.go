package bench

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Summarize folds several runs of one workload into one result: each figure
// is the median of the runs that knew it, and Runs keeps every run for the
// spread. The conditions are the first run's (each run's fsync latency and
// CPU load stay with it). Problems are kept per run; a note every run gave
// appears once.
func Summarize(runs []*Result) *Result {
	if len(runs) == 1 {
		return runs[0]
	}
	first := runs[0]
	out := &Result{
		Workload:   first.Workload,
		Params:     first.Params,
		Conditions: first.Conditions,
		Runs:       runs,
	}
	for _, m := range first.Metrics {
		var vals []float64
		for _, r := range runs {
			if v, ok := r.metric(m.Name); ok {
				vals = append(vals, v)
			}
		}
		if len(vals) == 0 {
			out.Metrics = append(out.Metrics, Metric{Name: m.Name, Unit: m.Unit, Help: m.Help})
			continue
		}
		out.Metrics = append(out.Metrics, Metric{Name: m.Name, Value: median(vals), Known: true, Unit: m.Unit, Help: m.Help})
		if len(vals) < len(runs) {
			out.Notes = append(out.Notes, fmt.Sprintf("%s: the median of the %d runs of %d that measured it", m.Name, len(vals), len(runs)))
		}
	}
	// Notes by text, with the runs that gave each.
	var texts []string
	byText := map[string][]int{}
	for i, r := range runs {
		for _, p := range r.Problems {
			out.Problems = append(out.Problems, fmt.Sprintf("run %d: %s", i+1, p))
		}
		for _, n := range r.Notes {
			if _, ok := byText[n]; !ok {
				texts = append(texts, n)
			}
			byText[n] = append(byText[n], i+1)
		}
		out.Profiles = append(out.Profiles, r.Profiles...)
	}
	for _, n := range texts {
		if which := byText[n]; len(which) < len(runs) {
			n = runList(which) + ": " + n
		}
		out.Notes = append(out.Notes, n)
	}
	return out
}

// metric is the value of the named figure, if the run knew it.
func (r *Result) metric(name string) (float64, bool) {
	for _, m := range r.Metrics {
		if m.Name == name {
			return m.Value, m.Known
		}
	}
	return 0, false
}

// median of vals (not empty): the middle value, or the mean of the two
// middle ones to four decimals (the figures have at most three).
func median(vals []float64) float64 {
	s := append([]float64(nil), vals...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return math.Round((s[n/2-1]+s[n/2])/2*1e4) / 1e4
}

// runList names runs: "run 2", "runs 1, 3".
func runList(runs []int) string {
	parts := make([]string, len(runs))
	for i, r := range runs {
		parts[i] = strconv.Itoa(r)
	}
	if len(runs) == 1 {
		return "run " + parts[0]
	}
	return "runs " + strings.Join(parts, ", ")
}

// runValues lists the runs' values of one figure for the table: "1.9 2.1 -".
func (r *Result) runValues(name string) string {
	parts := make([]string, len(r.Runs))
	for i, run := range r.Runs {
		parts[i] = "-"
		if v, ok := run.metric(name); ok {
			parts[i] = formatValue(v)
		}
	}
	return strings.Join(parts, " ")
}

// runFigures is one run as the summary's JSON lists it: its figures, then
// the conditions that vary from run to run.
func (r *Result) runFigures() map[string]any {
	out := map[string]any{}
	for _, m := range r.Metrics {
		var v any
		if m.Known {
			v = m.Value
		}
		out[m.Name] = v
	}
	out["problems"] = nonNil(r.Problems)
	out["fsync_ms_p50"] = r.Conditions.FsyncP50Ms
	out["cpu_busy_pct"] = r.Conditions.CPUBusyPct
	out["time"] = r.Conditions.Time
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
