package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/batonhq/baton/ops/bench"
)

const benchHelp = `Run a benchmark workload and report its figures and the conditions they
were measured under (CPU count, fsync latency of the data dir, node count,
Raft settings).

The workload runs against the cluster at --address, or, with --local N,
against N agents this command starts itself: children of this executable on
free loopback ports, each in its own temporary data dir (Raft log in bolt,
fsync on, as in production), stopped and removed when the run ends. With
--local the clients talk to the leader, so figures measure the engine rather
than forwarding.

  baton bench chain --steps 1000 --local 3
  baton bench starts --clients 64 --local 3
  baton bench starts --rate 2000 --duration 10s --local 3
  baton bench foreach --iterations 10000 --concurrency 1000 --local 3
  baton bench failover --local 3
  baton bench cron --schedules 10000 --local 3

-o json prints one JSON object per workload on one line, with the figures
as top-level fields. --repeat N runs the workload N times (each on fresh
agents with --local) and prints one summary: each figure is the median of
the runs, and by_run (in the table, RUNS) lists every run's value, since one
run on a shared machine can be off by a tenth or more. The command exits 1
when a run found lost, duplicated or missed work (the figures are printed
first).`

// benchFlags are the flags every workload shares.
type benchFlags struct {
	local      int
	agentFlags []string
	profile    string
	dataRoot   string
	keep       bool
	repeat     int
}

func newBenchCommand(c *cli) *cobra.Command {
	f := &benchFlags{}
	cmd := newGroupCommand("bench", "Measure a workload against a cluster, or against agents it starts (--local N)", benchHelp)
	pf := cmd.PersistentFlags()
	pf.IntVar(&f.local, "local", 0, "start `N` agents on loopback for the run (1 to 7) instead of using --address")
	pf.StringArrayVar(&f.agentFlags, "agent-flag", nil, "extra `FLAG` for every local agent, e.g. --agent-flag=-raft-snapshot-threshold=1000 (repeatable)")
	pf.StringVar(&f.profile, "profile", "", "save CPU profiles of the leader during the workload and a heap profile at its end in `DIR` (local agents run with -enable-pprof)")
	pf.BoolVar(&f.keep, "keep", false, "leave the local agents' data dirs and logs in place after the run")
	pf.IntVar(&f.repeat, "repeat", 1, "run the workload `N` times, each on fresh local agents with --local, and report each figure's median with every run's value")
	pf.StringVar(&f.dataRoot, "data-root", "", "`DIR` for the local agents' temporary data dirs, where fsync is measured (default: the system's temporary dir)")

	chain := bench.Chain{}
	chainCmd := &cobra.Command{
		Use:   "chain [--steps N] [--runs R] [--waiting W]",
		Short: "One instance of N NoOp steps in a line: per_step_ms_p50, per_step_ms_p99, start_ms",
		Long: `One instance of a workflow of N NoOp steps in a line (R instances one after
another with --runs). Figures, from the times the leader recorded:
  per_step_ms_p50, per_step_ms_p99, per_step_ms_max
      one step's placement to the next one's: the engine's overhead per step
  start_ms    the leader accepting the Start (the instance's creation time)
              to the first step placed
  makespan_s  the instance's start to its end
With --waiting W, W instances of one hour-long Sleep step are started first
and wait while the chain runs (they are stopped at the end): the chain's
figures then include what each planning round pays for instances it has
nothing to do for.
With --local, agents get -max-workflow-steps when N is above 300; a cluster at
--address must allow N steps itself.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := positive(cmd, "runs"); err != nil {
				return err
			}
			return runBench(cmd, c, f, chain)
		},
	}
	chainCmd.Flags().IntVar(&chain.Steps, "steps", 1000, "steps in the chain (at least 2)")
	chainCmd.Flags().IntVar(&chain.Runs, "runs", 1, "instances to run one after another")
	chainCmd.Flags().IntVar(&chain.Waiting, "waiting", 0, "instances to start first, each waiting on an hour-long Sleep step while the chain runs (stopped at the end)")

	starts := bench.Starts{}
	startsCmd := &cobra.Command{
		Use:   "starts (--rate R | --clients C) [--duration D]",
		Short: "Start one-step instances (open loop at a fixed rate, or closed loop): starts_per_s, ack_ms_p50, ack_ms_p99",
		Long: `Start instances of a one-step NoOp workflow for --duration, each with its own
request id, and measure how many the cluster acknowledges per second and how
long each acknowledgement takes.
  --rate R     open loop: a start is due every 1/R s whether or not earlier
               ones were answered; latency counts from when it was due, so a
               stalled server shows as latency (no coordinated omission)
  --clients C  closed loop: C clients each send a start, wait for the answer
               and send the next
Figures: starts_per_s (starts / elapsed_s), ack_ms_p50, ack_ms_p99,
ack_ms_max, starts, errors, elapsed_s (first start sent to last answer).`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, c, f, starts) },
	}
	startsCmd.Flags().Float64Var(&starts.Rate, "rate", 0, "open loop: starts per second")
	startsCmd.Flags().IntVar(&starts.Clients, "clients", 0, "closed loop: concurrent clients")
	startsCmd.Flags().DurationVar(&starts.Duration, "duration", 10*time.Second, "how long to send starts")

	foreach := bench.Foreach{}
	foreachCmd := &cobra.Command{
		Use:   "foreach [--iterations N] [--concurrency C]",
		Short: "One foreach of N NoOp iterations, C at a time: makespan_s, iterations_per_s, leader_rss_mb",
		Long: `One instance whose foreach step runs N NoOp iterations, at most C at once.
One loop runs at most 25,000 iterations; above that an outer foreach runs
N/25,000 (rounded up) inner ones at once, each with an equal share of N and
of C, so N must divide evenly (100000 runs 4 loops of 25,000).
Figures: makespan_s (the instance's start to end, leader's clock),
iterations_per_s (N / makespan_s), leader_rss_mb (peak resident memory of
the leader process; only with --local, null against --address).`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBench(cmd, c, f, foreach) },
	}
	foreachCmd.Flags().IntVar(&foreach.Iterations, "iterations", 10000, "iterations of the foreach")
	foreachCmd.Flags().IntVar(&foreach.Concurrency, "concurrency", 1000, "iterations running at once")

	failover := bench.Failover{}
	failoverCmd := &cobra.Command{
		Use:   "failover --local N [--rate R] [--warmup D] [--after D]",
		Short: "SIGKILL the leader under steady load: unavailable_ms, resume_ms, lost, duplicated",
		Long: `Keep N local agents (3 or more) under a steady open-loop load of starts sent
to the followers, SIGKILL the leader, and follow the cluster until every
acknowledged instance has ended. Each instance is a NoOp step then a Shell
step that appends its attempt id to a ledger file, so executions are counted
outside the cluster. Figures:
  unavailable_ms  last commit before the kill to the first commit of the new
                  leader's term (every node's commit index polled every 2 ms)
  resume_ms       the kill to the first step the new leader placed
  lost            acknowledged starts with no instance, or not ended
  duplicated      attempts executed twice (ledger) or with two results, and
                  request ids that started two instances
Needs --local: only agents it started can be killed.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Zero means "the default" to the library; here it was typed.
			if err := positive(cmd, "rate", "warmup", "after"); err != nil {
				return err
			}
			return runBench(cmd, c, f, failover)
		},
	}
	failoverCmd.Flags().Float64Var(&failover.Rate, "rate", 50, "steady load, starts per second")
	failoverCmd.Flags().DurationVar(&failover.Warmup, "warmup", 3*time.Second, "load before the kill")
	failoverCmd.Flags().DurationVar(&failover.After, "after", 2*time.Second, "load after the new leader's first commit")

	cron := bench.Cron{}
	cronCmd := &cobra.Command{
		Use:   "cron [--schedules N] [--wait D]",
		Short: "N schedules due in the same second: lag_ms_p50, lag_ms_p99, lag_ms_max, missed",
		Long: `Push N workflows whose time triggers all fire in the same second (a CRON
expression naming that second, chosen so that every push lands before it),
then read each one's fired instance. Figures: lag_ms_p50, lag_ms_p99,
lag_ms_max (the due second to the instance starting, leader's clock), missed
(schedules with no started instance --wait after the due second),
duplicated, push_s.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := positive(cmd, "wait"); err != nil {
				return err
			}
			return runBench(cmd, c, f, cron)
		},
	}
	cronCmd.Flags().IntVar(&cron.Schedules, "schedules", 10000, "workflows whose schedules are due in the same second")
	cronCmd.Flags().DurationVar(&cron.Wait, "wait", 30*time.Second, "how long after the due second fires may arrive before they count as missed")

	cmd.AddCommand(chainCmd, startsCmd, foreachCmd, failoverCmd, cronCmd)
	return cmd
}

// positive refuses a zero or negative value for the named flags.
func positive(cmd *cobra.Command, names ...string) error {
	for _, name := range names {
		fl := cmd.Flags().Lookup(name)
		if fl == nil {
			continue
		}
		v := fl.Value.String()
		switch fl.Value.Type() {
		case "duration":
			if d, err := time.ParseDuration(v); err == nil && d <= 0 {
				return usageError{fmt.Errorf("--%s %s: want a positive duration", name, v)}
			}
		default:
			if x, err := strconv.ParseFloat(v, 64); err == nil && x <= 0 {
				return usageError{fmt.Errorf("--%s %s: want a number above 0", name, v)}
			}
		}
	}
	return nil
}

func runBench(cmd *cobra.Command, c *cli, f *benchFlags, w bench.Workload) error {
	if f.local > 0 && cmd.Flags().Changed("address") {
		return usageError{errors.New("--address and --local exclude each other: --local starts its own agents")}
	}
	if f.local < 0 || f.local > bench.MaxLocal {
		return usageError{fmt.Errorf("--local %d: want 1 to %d agents", f.local, bench.MaxLocal)}
	}
	if f.local == 0 {
		for _, name := range []string{"agent-flag", "data-root", "keep"} {
			if cmd.Flags().Changed(name) {
				return usageError{fmt.Errorf("--%s applies only to agents started with --local", name)}
			}
		}
	}
	if f.repeat < 1 {
		return usageError{fmt.Errorf("--repeat %d: want 1 or more runs", f.repeat)}
	}
	if err := w.Check(f.local); err != nil {
		return usageError{err}
	}
	for _, af := range f.agentFlags {
		if err := bench.CheckAgentFlag(af); err != nil {
			return usageError{err}
		}
	}
	var runs []*bench.Result
	for i := 1; i <= f.repeat; i++ {
		o := bench.Options{
			Address: c.address, Local: f.local, AgentFlags: f.agentFlags,
			DataRoot: f.dataRoot, ProfileDir: f.profile, Progress: c.stderr, Keep: f.keep,
		}
		if f.repeat > 1 {
			fmt.Fprintf(c.stderr, "bench: run %d of %d\n", i, f.repeat)
			if o.ProfileDir != "" {
				o.ProfileDir = filepath.Join(o.ProfileDir, fmt.Sprintf("run-%d", i))
			}
		}
		res, err := bench.Run(cmd.Context(), w, o)
		var ue *bench.UsageError
		if errors.As(err, &ue) {
			return usageError{err}
		}
		if err != nil {
			if f.repeat > 1 {
				return fmt.Errorf("run %d of %d: %w", i, f.repeat, err)
			}
			return err
		}
		runs = append(runs, res)
	}
	res := bench.Summarize(runs)
	var err error
	if c.output == "json" {
		err = res.WriteJSON(c.stdout)
	} else {
		err = res.WriteTable(c.stdout)
	}
	if err != nil {
		return err
	}
	if len(res.Problems) > 0 {
		return fmt.Errorf("%s found %d problem(s): %s", w.Name(), len(res.Problems), strings.Join(res.Problems, "; "))
	}
	return nil
}
