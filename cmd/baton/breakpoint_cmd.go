package main

import (
	"fmt"
	"strconv"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/fsm"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

func newBreakpointCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("breakpoint", "Pause steps before they start",
		`A breakpoint on a step of a workflow pauses every attempt of that step
before it starts: the step shows PAUSED until it is resumed (baton step
resume) or the breakpoint is deleted. --version and --instance limit a
breakpoint to one version or one instance. A breakpoint on a step nested in
a foreach or while pauses it in every iteration.`)
	cmd.AddCommand(newBreakpointSetCommand(c), newBreakpointListCommand(c), newBreakpointDeleteCommand(c))
	return cmd
}

// breakpointFlags are the flags that pick one breakpoint of a step.
type breakpointFlags struct {
	version, instance int64
	reason, requestID string
}

func (f *breakpointFlags) add(cmd *cobra.Command) {
	cmd.Flags().Int64Var(&f.version, "version", 0, "only this workflow `version` (default: every version)")
	cmd.Flags().Int64Var(&f.instance, "instance", 0, "only this instance `id` (default: every instance)")
	cmd.Flags().StringVar(&f.reason, "reason", "", "why, recorded on the workflow (`text`)")
	addActionRequestIDFlag(cmd, &f.requestID)
}

func (f *breakpointFlags) check() error {
	if f.version < 0 {
		return usageError{fmt.Errorf("--version %d: want a version number", f.version)}
	}
	if f.instance < 0 {
		return usageError{fmt.Errorf("--instance %d: want an instance id", f.instance)}
	}
	return nil
}

func newBreakpointSetCommand(c *cli) *cobra.Command {
	var f breakpointFlags
	cmd := &cobra.Command{
		Use:   "set WORKFLOW STEP [--version V] [--instance N]",
		Short: "Pause every attempt of a step before it starts",
		Args:  positional("WORKFLOW", "STEP"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := f.check(); err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.SetBreakpointRequest{
				WorkflowId: a[0], StepId: a[1], Version: f.version, InstanceId: f.instance, Reason: f.reason,
				RequestId: ensureRequestID(&f.requestID),
			}, api.workflows.SetBreakpoint)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				state := "set"
				switch {
				case res.GetRepeated():
					state = "was set" + repeatedNote(true, f.requestID)
				case !res.GetCreated():
					state = "was already set"
				}
				t.text(fmt.Sprintf("breakpoint %s %s\n", fsm.BreakpointKey(res.GetBreakpoint()), state))
			})
		},
	}
	f.add(cmd)
	return cmd
}

func newBreakpointListCommand(c *cli) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "list WORKFLOW [STEP]",
		Short: "List a workflow's breakpoints and the steps they hold",
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) <= 1 {
				return positional("WORKFLOW")(cmd, a)
			}
			return positional("WORKFLOW", "STEP")(cmd, a)
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			step := ""
			if len(a) == 2 {
				step = a[1]
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.workflows.ListBreakpoints(cmd.Context(), connect.NewRequest(&workflowv1.ListBreakpointsRequest{
				WorkflowId: a[0], StepId: step, Stale: stale,
			}))
			if err != nil {
				return err
			}
			if len(res.Msg.GetBreakpoints()) == 0 && !c.out.json {
				fmt.Fprintln(c.stderr, "No breakpoints.")
				return nil
			}
			return c.out.print(res.Msg, func(t *table) {
				held := map[string]int{}
				for _, p := range res.Msg.GetPaused() {
					held[p.GetBreakpoint()]++
				}
				t.row("BREAKPOINT", "STEP", "VERSION", "INSTANCE", "PAUSED", "SET", "BY", "REASON")
				for _, b := range res.Msg.GetBreakpoints() {
					t.row(fsm.BreakpointKey(b), b.GetStepId(), allOr(b.GetVersion()), allOr(b.GetInstanceId()),
						strconv.Itoa(held[fsm.BreakpointKey(b)]), fmtTime(b.GetCreateTime()), b.GetActor(), b.GetReason())
				}
				if len(res.Msg.GetPaused()) > 0 {
					t.blank()
					t.row("PAUSED STEP", "INSTANCE", "ATTEMPT", "BREAKPOINT")
					for _, p := range res.Msg.GetPaused() {
						t.row(p.GetStepId(), p.GetWorkflowId()+" "+fmtInt(p.GetInstanceId()), fmtInt(p.GetAttemptNumber()), p.GetBreakpoint())
					}
				}
			})
		},
	}
	addStaleFlag(cmd, &stale)
	return cmd
}

func allOr(n int64) string {
	if n == 0 {
		return "all"
	}
	return fmtInt(n)
}

func newBreakpointDeleteCommand(c *cli) *cobra.Command {
	var (
		f          breakpointFlags
		keepPaused bool
	)
	cmd := &cobra.Command{
		Use:   "delete WORKFLOW STEP [--version V] [--instance N] [--keep-paused]",
		Short: "Remove a breakpoint and resume the steps it paused",
		Long: `Delete removes the breakpoint that set created with the same --version and
--instance. The steps it holds PAUSED resume at once, as in Maestro; with
--keep-paused they stay PAUSED until each is resumed with baton step resume.`,
		Args: positional("WORKFLOW", "STEP"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := f.check(); err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.DeleteBreakpointRequest{
				WorkflowId: a[0], StepId: a[1], Version: f.version, InstanceId: f.instance, KeepPaused: keepPaused, Reason: f.reason,
				RequestId: ensureRequestID(&f.requestID),
			}, api.workflows.DeleteBreakpoint)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				if res.GetRepeated() {
					t.text(fmt.Sprintf("breakpoint %s was deleted%s\n", fsm.BreakpointKey(res.GetBreakpoint()), repeatedNote(true, f.requestID)))
					return
				}
				t.text(fmt.Sprintf("breakpoint %s deleted; %d paused %s resumed\n", fsm.BreakpointKey(res.GetBreakpoint()),
					res.GetResumed(), plural(int(res.GetResumed()), "step", "steps")))
			})
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&keepPaused, "keep-paused", false, "leave the steps it paused PAUSED")
	return cmd
}
