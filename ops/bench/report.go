package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
)

// MarshalJSON writes the result as one object: workload, params, every
// metric as a top-level field named as in the docs (null when unknown), then
// problems, notes, profiles and conditions.
func (r *Result) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name string, v any) error {
		raw, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(name)
		b.Write(k)
		b.WriteByte(':')
		b.Write(raw)
		return nil
	}
	if err := field("workload", r.Workload); err != nil {
		return nil, err
	}
	params := map[string]any{}
	for _, p := range r.Params {
		params[p.Name] = p.Value
	}
	if err := field("params", params); err != nil {
		return nil, err
	}
	if len(r.Runs) > 0 {
		if err := field("repeat", len(r.Runs)); err != nil {
			return nil, err
		}
	}
	for _, m := range r.Metrics {
		var v any
		if m.Known {
			v = m.Value
		}
		if err := field(m.Name, v); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		v    []string
	}{{"problems", r.Problems}, {"notes", r.Notes}, {"profiles", r.Profiles}} {
		v := f.v
		if v == nil {
			v = []string{}
		}
		if err := field(f.name, v); err != nil {
			return nil, err
		}
	}
	if len(r.Runs) > 0 {
		runs := make([]map[string]any, len(r.Runs))
		for i, run := range r.Runs {
			runs[i] = run.runFigures()
		}
		if err := field("by_run", runs); err != nil {
			return nil, err
		}
	}
	if err := field("conditions", r.Conditions); err != nil {
		return nil, err
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// WriteJSON writes the result as one compact JSON object on one line, so a
// series of runs appended to a file can be read line by line.
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	_, err = w.Write(b)
	return err
}

// WriteTable writes the result for people: the workload and its parameters,
// one row per figure, problems and notes, then the conditions.
func (r *Result) WriteTable(w io.Writer) error {
	var params []string
	for _, p := range r.Params {
		params = append(params, fmt.Sprintf("%s=%v", p.Name, p.Value))
	}
	repeat := ""
	if len(r.Runs) > 0 {
		repeat = fmt.Sprintf(" (repeated %d times: each figure's median, then every run's)", len(r.Runs))
	}
	if _, err := fmt.Fprintf(w, "workload  %s %s%s\n\n", r.Workload, strings.Join(params, " "), repeat); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if len(r.Runs) > 0 {
		fmt.Fprintln(tw, "FIGURE\tMEDIAN\tRUNS\tUNIT\tMEANING")
	} else {
		fmt.Fprintln(tw, "FIGURE\tVALUE\tUNIT\tMEANING")
	}
	for _, m := range r.Metrics {
		v := "-"
		if m.Known {
			v = formatValue(m.Value)
		}
		unit := m.Unit
		if unit == "" {
			unit = "-"
		}
		if len(r.Runs) > 0 {
			v += "\t" + r.runValues(m.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, v, unit, m.Help)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Problems) > 0 {
		fmt.Fprintln(w, "\nPROBLEMS")
		for _, p := range r.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w, "\nnotes")
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	c := r.Conditions
	fmt.Fprintln(w, "\nconditions")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	load := "-"
	if c.LoadAvg1 != nil {
		load = strconv.FormatFloat(*c.LoadAvg1, 'f', 2, 64)
	}
	fsync := "not measured (the agents' data dirs are not local)"
	if c.FsyncP50Ms != nil {
		fsync = fmt.Sprintf("p50 %s ms, p99 %s ms (4 KiB write + fsync in %s)", formatValue(*c.FsyncP50Ms), formatValue(*c.FsyncP99Ms), c.FsyncDir)
	}
	busy := "-"
	if c.CPUBusyPct != nil {
		busy = strconv.FormatFloat(*c.CPUBusyPct, 'f', 0, 64) + "%"
	}
	fmt.Fprintf(tw, "  cpus\t%d (GOMAXPROCS %d); %s busy in the half second before the run, load average %s\n", c.CPUs, c.GOMAXPROCS, busy, load)
	if len(r.Runs) > 0 && c.FsyncP50Ms != nil {
		fsync = "run 1: " + fsync
		for i, run := range r.Runs[1:] {
			if p50 := run.Conditions.FsyncP50Ms; p50 != nil {
				fsync += fmt.Sprintf("; run %d: p50 %s ms", i+2, formatValue(*p50))
			}
		}
	}
	fmt.Fprintf(tw, "  fsync\t%s\n", fsync)
	fmt.Fprintf(tw, "  nodes\t%d Raft server(s); %s\n", c.Nodes, c.Target)
	fmt.Fprintf(tw, "  raft\t%s\n", c.Raft.RaftSummary())
	build := c.Go
	if c.Commit != "" {
		build += ", commit " + c.Commit
	}
	fmt.Fprintf(tw, "  build\t%s; run at %s\n", build, c.Time.Format("2006-01-02 15:04:05Z"))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.Profiles) > 0 {
		fmt.Fprintf(w, "\nprofiles (go tool pprof -top FILE...)\n")
		for _, p := range r.Profiles {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	return nil
}

// formatValue shows integers without decimals and other values with at
// most three significant decimals.
func formatValue(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
