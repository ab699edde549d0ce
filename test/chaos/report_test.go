package chaos

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// reportRow is one scenario's line in the summary table.
type reportRow struct {
	scenario, backend string
	seed              uint64
	took              time.Duration
	faults            string
	ops               map[string]int64
	checks            []checkResult
	notes             []string
	timings           map[string][]time.Duration
}

type summary struct {
	mu   sync.Mutex
	rows []reportRow
}

// report collects every scenario of the test process; TestMain prints it.
var report summary

func (s *summary) add(r *run) {
	r.mu.Lock()
	row := reportRow{
		scenario: r.scenario, backend: fmt.Sprintf("%s ×%d", r.c.b.kind(), len(r.c.members())),
		seed: r.seed, took: time.Since(r.began), ops: r.stats.all(),
		checks: append([]checkResult(nil), r.checks...), notes: append([]string(nil), r.notes...),
		timings: map[string][]time.Duration{},
	}
	for k, v := range r.timings {
		row.timings[k] = append([]time.Duration(nil), v...)
	}
	r.mu.Unlock()
	row.faults = r.faultCounts()
	s.mu.Lock()
	s.rows = append(s.rows, row)
	s.mu.Unlock()
}

// opsLine lists the operation counters that say how much was done.
func opsLine(ops map[string]int64) string {
	order := []string{"starts acknowledged", "start retries", "starts never acknowledged", "instances", "step attempts",
		"ledger executions", "attempts re-executed", "fenced attempts that ran", "probes",
		"signal keys", "signals acknowledged", "signal retries", "signals emitted", "cron fires",
		"noise signals acknowledged", "noise signal retries", "noise signals deleted", "signal trigger fires", "stops", "restarts", "step actions",
		"workflow actions", "late copies sent", "actions answered as repeats",
		"workflow pushes", "workflow activations", "workflow reads", "instance reads", "linearizability ops", "hostile requests"}
	var parts []string
	listed := map[string]bool{}
	for _, k := range order {
		listed[k] = true
		if v, ok := ops[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %d", k, v))
		}
	}
	// A counter not in the order above is still shown, after the rest.
	for _, k := range sortedKeys(ops) {
		if !listed[k] {
			parts = append(parts, fmt.Sprintf("%s %d", k, ops[k]))
		}
	}
	return strings.Join(parts, ", ")
}

// print writes the table: one block per scenario with its faults,
// operations and each check's verdict.
func (s *summary) print(w io.Writer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.rows) == 0 {
		return
	}
	fmt.Fprintln(w, "\n=== chaos summary")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tBACKEND\tSEED\tTIME\tFAULTS\tCHECKS")
	for _, r := range s.rows {
		passed, failed, skipped := 0, 0, 0
		for _, c := range r.checks {
			switch {
			case c.skipped != "":
				skipped++
			case len(c.violations) > 0:
				failed++
			default:
				passed++
			}
		}
		verdict := fmt.Sprintf("%d passed", passed)
		if failed > 0 {
			verdict += fmt.Sprintf(", %d FAILED", failed)
		}
		if skipped > 0 {
			verdict += fmt.Sprintf(", %d skipped", skipped)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", r.scenario, r.backend, r.seed, r.took.Round(time.Second), r.faults, verdict)
	}
	_ = tw.Flush()
	for _, r := range s.rows {
		fmt.Fprintf(w, "\n--- %s (seed %d)\n", r.scenario, r.seed)
		fmt.Fprintf(w, "faults:     %s\n", r.faults)
		fmt.Fprintf(w, "operations: %s\n", opsLine(r.ops))
		for _, k := range sortedKeys(r.timings) {
			fmt.Fprintf(w, "timing:     %s: %s\n", k, distribution(r.timings[k]))
		}
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, c := range r.checks {
			detail := fmt.Sprintf("%d checked", c.checked)
			if c.skipped != "" {
				detail = c.skipped
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", c.name, c.verdict(), detail)
		}
		_ = tw.Flush()
		for _, n := range r.notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
	}
}

// printReport prints the summary to stdout and, with BATON_CHAOS_REPORT
// set, appends it to that file.
func printReport() {
	report.print(os.Stdout)
	if path := os.Getenv("BATON_CHAOS_REPORT"); path != "" {
		if f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			report.print(f)
			_ = f.Close()
		}
	}
}

// distribution summarizes timings: count, min, median, p90 and max.
func distribution(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := append([]time.Duration(nil), ds...)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	r := func(d time.Duration) string { return d.Round(10 * time.Millisecond).String() }
	return fmt.Sprintf("n=%d min %s median %s p90 %s max %s", len(s), r(s[0]), r(at(0.5)), r(at(0.9)), r(s[len(s)-1]))
}
