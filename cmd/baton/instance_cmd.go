package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// watchAttempts bounds how many times in a row a watch may fail to reconnect
// before the command gives up; any event received resets the count.
const watchAttempts = 10

func newInstanceCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("instance", "Start, follow, inspect and stop workflow instances",
		`An instance is one run of a workflow version. Instance ids are numbered per
workflow, so commands name an instance by its workflow and its id.`)
	cmd.AddCommand(
		newInstanceStartCommand(c),
		newInstanceGetCommand(c),
		newInstanceListCommand(c),
		newInstanceWatchCommand(c),
		newInstanceStopCommand(c),
		newInstanceRestartCommand(c),
	)
	return cmd
}

// parseParams turns repeated -p NAME=VALUE flags into the run params. The
// value is everything after the first "=", so values may contain "=".
func parseParams(flags []string) (map[string]string, error) {
	params := map[string]string{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, "=")
		if !ok {
			return nil, usageError{fmt.Errorf("-p %q: want NAME=VALUE", f)}
		}
		if name = strings.TrimSpace(name); name == "" {
			return nil, usageError{fmt.Errorf("-p %q: the param name is empty", f)}
		}
		if _, dup := params[name]; dup {
			return nil, usageError{fmt.Errorf("-p: param %q is given more than once", name)}
		}
		params[name] = value
	}
	return params, nil
}

func parseInstanceID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, usageError{fmt.Errorf("instance ID %q: want a number >= 1", s)}
	}
	return id, nil
}

// newRequestID makes the idempotency key for instance start. It is made here
// rather than left to the server so that retries after a lost response
// return the instance the first request created instead of starting another.
func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// exitCodeFor maps an instance's terminal status to the process exit code.
func exitCodeFor(status string) int {
	switch status {
	case fsm.InstanceSucceeded:
		return exitOK
	case fsm.InstanceFailed:
		return exitFailed
	case fsm.InstanceStopped:
		return exitStopped
	}
	return exitUnsuccessful
}

// finish ends a command that followed an instance with the exit code its
// final status calls for.
func finish(status string) error {
	if code := exitCodeFor(status); code != exitOK {
		return exitStatus(code)
	}
	return nil
}

func newInstanceStartCommand(c *cli) *cobra.Command {
	var (
		params    []string
		version   string
		requestID string
		wait      bool
	)
	cmd := &cobra.Command{
		Use:   "start WORKFLOW [-p NAME=VALUE]...",
		Short: "Start an instance of a workflow",
		Long: `Start runs the workflow's active version (or --version) with the given params,
each parsed by the type the definition declares for it, and prints the new
instance's id.

The request carries an idempotency key (--request-id, random by default), so
start may safely retry while the cluster elects a leader: it never starts two
instances for one command. Giving the same --request-id again returns the
instance the first call started.

With --wait it then follows the instance, printing its events to stderr, and
exits 0 if it succeeded, 3 if it failed, 4 if it was stopped and 5 for any
other end.`,
		Args: positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := parseParams(params)
			if err != nil {
				return err
			}
			if err := checkVersionRef(version); err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			givenID := requestID != ""
			if !givenID {
				requestID = newRequestID()
			}
			res, err := sendAgain(cmd.Context(), c, &instancev1.StartRequest{
				WorkflowId: a[0], Version: version, Params: p, RequestId: requestID,
			}, api.instances.Start)
			if err != nil {
				return err
			}
			inst := res.GetInstance()
			if !res.Created && givenID {
				fmt.Fprintf(c.stderr, "request %s had already started instance %d\n", requestID, inst.GetInstanceId())
			}
			// Just the number, so that id=$(baton instance start ...) works.
			if err := c.out.print(res, func(t *table) { t.text(fmtInt(inst.GetInstanceId()) + "\n") }); err != nil {
				return err
			}
			if !wait {
				return nil
			}
			status, err := c.follow(cmd.Context(), api, inst.GetWorkflowId(), inst.GetInstanceId(), func(r *instancev1.WatchResponse) error {
				_, err := fmt.Fprintln(c.stderr, fmtEvent(r.GetEvent()))
				return err
			})
			if err != nil {
				return err
			}
			return finish(status)
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "run param `NAME=VALUE` (repeatable)")
	cmd.Flags().StringVar(&version, "version", "", "workflow `version`: a number, \"active\" (default) or \"latest\"")
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency `key` (default: random)")
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the instance until it ends; the exit code tells how it ended")
	return cmd
}

// follow streams an instance's events to emit until the instance has ended,
// and returns its final status. A broken stream is reopened after the last
// event seen, so no event is shown twice or skipped.
func (c *cli) follow(ctx context.Context, api *apiClients, workflowID string, id int64, emit func(*instancev1.WatchResponse) error) (string, error) {
	var (
		last     int64
		final    string
		failures int
	)
	for {
		err := func() error {
			stream, err := api.instances.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{
				WorkflowId: workflowID, InstanceId: id, AfterSeq: last,
			}))
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
				ev := stream.Msg().GetEvent()
				if ev == nil || ev.Seq <= last {
					continue
				}
				last, failures = ev.Seq, 0
				if ev.StepId == "" {
					// A restart follows an end with a fresh start, so only
					// an end after the last instance event counts.
					final = ""
					if fsm.InstanceTerminal(ev.Status) {
						final = ev.Status
					}
				}
				if err := emit(stream.Msg()); err != nil {
					return outputError{err}
				}
			}
			return stream.Err()
		}()
		if err == nil {
			if final != "" {
				return final, nil
			}
			// The server ends a watch only once the instance has ended, but
			// when that happened before after_seq there is no event left to
			// say how; the instance record does.
			res, gerr := api.instances.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: workflowID, InstanceId: id}))
			if gerr == nil && fsm.InstanceTerminal(res.Msg.GetInstance().GetStatus()) {
				return res.Msg.GetInstance().GetStatus(), nil
			}
			err = gerr
			if err == nil {
				err = errors.New("the watch ended before the instance did")
			}
		}
		var outErr outputError
		if errors.As(err, &outErr) {
			return "", err
		}
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		if final != "" {
			// How the instance ended is known; only trailing step events
			// would be missing.
			return final, nil
		}
		failures++
		// Once events have arrived the instance exists, so a "not found"
		// comes from a server that restarted and has not yet replayed its
		// log; it will find the instance again.
		restarted := connect.CodeOf(err) == connect.CodeNotFound && last > 0
		if !restarted && !retryable(err) || failures >= watchAttempts {
			return "", err
		}
		d := retryDelay(failures)
		fmt.Fprintf(c.stderr, "watch interrupted (%s); reconnecting in %s\n", c.describeError(err), d)
		if err := sleepCtx(ctx, d); err != nil {
			return "", err
		}
	}
}

// outputError is a failure to print, which reconnecting cannot fix.
type outputError struct{ error }

func (e outputError) Unwrap() error { return e.error }

func newInstanceWatchCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "watch WORKFLOW ID",
		Short: "Print an instance's events until it ends",
		Long: `Watch prints the instance's timeline from the start, then each status change
of the instance and its steps as it happens, until the instance ends; with
-o json, one JSON object per line. It reconnects if the connection drops.
The exit code tells how the instance ended: 0 succeeded, 3 failed, 4 stopped,
5 any other end.`,
		Args: positional("WORKFLOW", "ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := parseInstanceID(a[1])
			if err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			status, err := c.follow(cmd.Context(), api, a[0], id, func(r *instancev1.WatchResponse) error {
				return c.out.printLine(r, fmtEvent(r.GetEvent()))
			})
			if err != nil {
				return err
			}
			return finish(status)
		},
	}
}

// failedStep reports whether a step's status is a failure whose log is worth
// showing under instance get.
func failedStep(status string) bool {
	switch status {
	case fsm.StepUserFailed, fsm.StepPlatformFailed, fsm.StepTimeoutFailed, fsm.StepFatallyFailed,
		fsm.StepTimedOut, fsm.StepCompletedWithError:
		return true
	}
	return false
}

func newInstanceGetCommand(c *cli) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "get WORKFLOW ID",
		Short: "Show an instance, its steps and the logs of failed steps",
		Args:  positional("WORKFLOW", "ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := parseInstanceID(a[1])
			if err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.instances.Get(cmd.Context(), connect.NewRequest(&instancev1.GetRequest{
				WorkflowId: a[0], InstanceId: id, Stale: stale,
			}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) { instanceTable(t, res.Msg) })
		},
	}
	addStaleFlag(cmd, &stale)
	return cmd
}

func instanceTable(t *table, m *instancev1.GetResponse) {
	inst := m.GetInstance()
	t.row("Instance", fmtInt(inst.GetInstanceId()))
	t.row("Workflow", fmt.Sprintf("%s (version %d)", inst.GetWorkflowId(), inst.GetWorkflowVersion()))
	t.row("Status", inst.GetStatus())
	t.row("Reason", inst.GetReason())
	t.row("Params", fmtParams(inst.GetParams()))
	t.row("Created", fmtTime(inst.GetCreateTime()))
	t.row("Started", fmtTime(inst.GetStartTime()))
	t.row("Ended", fmtTime(inst.GetEndTime()))
	t.row("Request ID", inst.GetRequestId())
	if p := inst.GetParent(); p != nil {
		t.row("Parent", fmt.Sprintf("%s %d, step %s", p.GetWorkflowId(), p.GetInstanceId(), p.GetStepId()))
	}
	if si := inst.GetSignalInitiator(); si != nil {
		t.row("Started by", "signal trigger "+si.GetTriggerId()+" ("+fmtSignals(si.GetSignals())+")")
	}
	if len(m.GetChildren()) > 0 {
		t.row("Rollup", fmtCounts(m.GetRollup()))
		for _, c := range m.GetChildren() {
			ids := make([]string, len(c.GetInstanceIds()))
			for i, id := range c.GetInstanceIds() {
				ids[i] = fmtInt(id)
			}
			more := ""
			if int64(len(ids)) < c.GetCount() {
				more = ", …"
			}
			t.row("Children", fmt.Sprintf("step %s: %d in %s (%s%s)", c.GetStepId(), c.GetCount(), c.GetWorkflowId(), strings.Join(ids, ", "), more))
		}
	}
	for _, e := range m.GetActions() {
		what := e.GetAction()
		if e.GetStepId() != "" {
			what += " step " + e.GetStepId()
		}
		t.row("Action", fmt.Sprintf("%s  %s by %s  %s", fmtTime(e.GetTime()), what, e.GetActor(), e.GetMessage()))
	}
	if len(m.GetSteps()) == 0 {
		return
	}
	t.blank()
	t.row("STEP", "TYPE", "STATUS", "ATTEMPTS", "NODE", "EXIT", "ERROR")
	for _, s := range m.GetSteps() {
		node, exit, msg := s.GetNode(), "", s.GetReason()
		if last := lastAttempt(s); last != nil {
			if node == "" {
				node = last.GetNode()
			}
			// A negative code means no process exited (a NoOp step, a
			// runtime that could not start one); the error column says why.
			if last.GetStatus() != fsm.AttemptRunning && last.GetExitCode() >= 0 {
				exit = strconv.Itoa(int(last.GetExitCode()))
			}
			if last.GetError() != "" {
				msg = last.GetError()
			}
		}
		if l := s.GetLoop(); l != nil {
			exit = ""
			if msg == "" || s.GetStatus() == fsm.StepRunning {
				msg = loopProgress(l)
			}
		}
		t.row(s.GetStepId(), s.GetType(), s.GetStatus(), strconv.Itoa(len(s.GetAttempts())), node, exit, truncate(cell(msg), 72))
	}
	for _, s := range m.GetSteps() {
		last := lastAttempt(s)
		if !failedStep(s.GetStatus()) || last == nil || strings.TrimSpace(last.GetLogTail()) == "" {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "\nLog tail of step %s (attempt %d, %s):\n", s.GetStepId(), last.GetAttemptNumber(), last.GetStatus())
		for _, line := range strings.Split(strings.TrimRight(last.GetLogTail(), "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
		t.text(b.String())
	}
}

// loopProgress says how far a foreach, while or subworkflow step has got.
func loopProgress(l *statepb.Loop) string {
	if l.GetTotal() > 0 {
		return fmt.Sprintf("%d/%d iterations done, %d running", l.GetFinished(), l.GetTotal(), l.GetLaunched()-l.GetFinished())
	}
	if l.GetChildInstanceId() > 0 {
		return fmt.Sprintf("child %s %d", l.GetChildWorkflowId(), l.GetChildInstanceId())
	}
	return fmt.Sprintf("%d iterations done, %d running", l.GetFinished(), l.GetLaunched()-l.GetFinished())
}

// fmtCounts prints status counts in a fixed order: by status name.
func fmtCounts(m map[string]int64) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func lastAttempt(s *statepb.Step) *statepb.Attempt {
	if n := len(s.GetAttempts()); n > 0 {
		return s.GetAttempts()[n-1]
	}
	return nil
}

func newInstanceListCommand(c *cli) *cobra.Command {
	var (
		limit    int
		before   int64
		statuses []string
		stale    bool
	)
	cmd := &cobra.Command{
		Use:   "list WORKFLOW",
		Short: "List a workflow's instances, newest first, a page at a time",
		Long: `List a workflow's instances, newest first: the newest 100, or --limit
of them. When older ones match too, the list ends with the command that
shows the next page (--before the last one listed).
--status keeps the instances in the statuses named (repeat it, or give a
comma-separated list): CREATED, IN_PROGRESS, SUCCEEDED, FAILED, STOPPED,
TIMED_OUT.`,
		Args: positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if limit < 0 || limit > math.MaxInt32 {
				return usageError{fmt.Errorf("--limit %d: want a positive number", limit)}
			}
			if before < 0 {
				return usageError{fmt.Errorf("--before %d: want an instance id", before)}
			}
			for i, s := range statuses {
				statuses[i] = strings.ToUpper(strings.TrimSpace(s))
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.instances.List(cmd.Context(), connect.NewRequest(&instancev1.ListRequest{
				WorkflowId: a[0], Limit: int32(limit), Stale: stale, Before: before, Statuses: statuses,
			}))
			if err != nil {
				return err
			}
			if len(res.Msg.Instances) == 0 && !c.out.json {
				what := "no instances"
				if len(statuses) > 0 || before > 0 {
					what = "no instances that match"
				}
				fmt.Fprintf(c.stderr, "Workflow %s has %s.\n", a[0], what)
				return nil
			}
			err = c.out.print(res.Msg, func(t *table) {
				t.row("ID", "VERSION", "STATUS", "CREATED", "ENDED", "REASON")
				for _, i := range res.Msg.Instances {
					t.row(fmtInt(i.InstanceId), fmtInt(i.WorkflowVersion), i.Status,
						fmtTime(i.CreateTime), fmtTime(i.EndTime), truncate(cell(i.Reason), 72))
				}
			})
			if err == nil && res.Msg.NextBefore > 0 && !c.out.json {
				next := fmt.Sprintf("baton instance list %s --before %d", a[0], res.Msg.NextBefore)
				if limit > 0 {
					next += fmt.Sprintf(" --limit %d", limit)
				}
				if len(statuses) > 0 {
					next += " --status " + strings.Join(statuses, ",")
				}
				fmt.Fprintf(c.stderr, "Older instances match too: %s\n", next)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, "show at most `N` instances (default: the server's, 100)")
	cmd.Flags().Int64Var(&before, "before", 0, "show only instances numbered below `ID` (the next page)")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "show only instances in this `STATUS` (repeatable, or comma-separated)")
	addStaleFlag(cmd, &stale)
	return cmd
}

func newInstanceStopCommand(c *cli) *cobra.Command {
	var reason, requestID string
	var kill bool
	cmd := &cobra.Command{
		Use:   "stop WORKFLOW ID",
		Short: "Stop a running instance and its running steps",
		Args:  positional("WORKFLOW", "ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := parseInstanceID(a[1])
			if err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			ensureRequestID(&requestID)
			res, err := sendAgain(cmd.Context(), c, &instancev1.StopRequest{
				WorkflowId: a[0], InstanceId: id, Reason: reason, Kill: kill, RequestId: requestID,
			}, api.instances.Stop)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(fmt.Sprintf("instance %d of %s is %s%s\n", id, a[0], res.GetInstance().GetStatus(), repeatedNote(res.GetRepeated(), requestID)))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the instance (`text`)")
	cmd.Flags().BoolVar(&kill, "kill", false, "end the instance FAILED instead of STOPPED")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

func newInstanceRestartCommand(c *cli) *cobra.Command {
	var reason, policy, step, requestID string
	cmd := &cobra.Command{
		Use:   "restart WORKFLOW ID",
		Short: "Run a FAILED, STOPPED or TIMED_OUT instance again",
		Long: `Restart runs a finished instance again under its workflow's run strategy.
--policy RESTART_FROM_INCOMPLETE (the default) runs the steps that did not
succeed; RESTART_FROM_BEGINNING runs every step; RESTART_FROM_SPECIFIC runs
--step and every step after it. Earlier attempts stay in the history and do
not count against retry limits.`,
		Args: positional("WORKFLOW", "ID"),
		RunE: func(cmd *cobra.Command, a []string) error {
			id, err := parseInstanceID(a[1])
			if err != nil {
				return err
			}
			if step != "" && policy == "" {
				policy = "RESTART_FROM_SPECIFIC"
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			ensureRequestID(&requestID)
			res, err := sendAgain(cmd.Context(), c, &instancev1.RestartRequest{
				WorkflowId: a[0], InstanceId: id, Policy: policy, StepId: step, Reason: reason, RequestId: requestID,
			}, api.instances.Restart)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				if res.GetRepeated() {
					t.text(fmt.Sprintf("instance %d of %s is %s; the restart set back: %s%s\n", id, a[0], res.GetInstance().GetStatus(),
						strings.Join(res.GetSteps(), ", "), repeatedNote(true, requestID)))
					return
				}
				t.text(fmt.Sprintf("instance %d of %s restarted; steps to run again: %s\n", id, a[0], strings.Join(res.GetSteps(), ", ")))
			})
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "", "RESTART_FROM_INCOMPLETE (default), RESTART_FROM_BEGINNING or RESTART_FROM_SPECIFIC")
	cmd.Flags().StringVar(&step, "step", "", "with RESTART_FROM_SPECIFIC (implied), the step to restart from")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the instance (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}
