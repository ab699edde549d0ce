package main

import (
	"fmt"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

func newStepCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("step", "Inspect the steps of an instance",
		`A step is named by its instance (workflow and id) and its step id. Steps of
a foreach or while iteration belong to the iteration's instance: its workflow
is WORKFLOW:INSTANCE:STEP of the loop step, its id the iteration number.`)
	cmd.AddCommand(newStepGetCommand(c),
		newStepActionCommand(c, "skip", "SKIP", "Skip a step that has not succeeded: it counts as done and its successors run"),
		newStepActionCommand(c, "pause", "PAUSE", "Hold back a step that has not started until it is resumed"),
		newStepActionCommand(c, "resume", "RESUME", "Let a paused step start"),
		newStepActionCommand(c, "stop", "STOP", "Stop a step that has not ended (STOPPED)"),
		newStepActionCommand(c, "kill", "KILL", "End a step that has not ended as FATALLY_FAILED, without retries"),
		newStepActionCommand(c, "bypass-signals", "BYPASS_SIGNALS", "Let a step waiting for signals run without them"),
		newStepActionCommand(c, "restart", "RESTART", "Run a failed, timed-out or stopped step again; of an ended instance, restart the instance from the step"))
	return cmd
}

func newStepActionCommand(c *cli, use, action, short string) *cobra.Command {
	var reason, requestID string
	cmd := &cobra.Command{
		Use:   use + " WORKFLOW ID STEP",
		Short: short,
		Args:  positional("WORKFLOW", "ID", "STEP"),
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
			res, err := sendAgain(cmd.Context(), c, &instancev1.StepActionRequest{
				WorkflowId: a[0], InstanceId: id, StepId: a[2], Action: action, Reason: reason, RequestId: requestID,
			}, api.instances.StepAction)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				if steps := res.GetSteps(); len(steps) > 0 {
					t.text(fmt.Sprintf("instance %s %d is %s; steps to run again: %s\n", a[0], id, res.GetInstance().GetStatus(), strings.Join(steps, ", ")))
					return
				}
				t.text(fmt.Sprintf("step %s of %s %d is %s%s\n", a[2], a[0], id, res.GetStep().GetStatus(), repeatedNote(res.GetRepeated(), requestID)))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the instance (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

func newStepGetCommand(c *cli) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "get WORKFLOW ID STEP",
		Short: "Show a step's attempts with the params they ran with and their outputs",
		Args:  positional("WORKFLOW", "ID", "STEP"),
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
			var step *statepb.Step
			var ids []string
			for _, s := range res.Msg.GetSteps() {
				ids = append(ids, s.GetStepId())
				if s.GetStepId() == a[2] {
					step = s
				}
			}
			if step == nil {
				return fmt.Errorf("instance %s %d has no step %q (its steps: %s)", a[0], id, a[2], strings.Join(ids, ", "))
			}
			var children *instancev1.ChildSummary
			for _, ch := range res.Msg.GetChildren() {
				if ch.GetStepId() == step.GetStepId() {
					children = ch
				}
			}
			return c.out.print(step, func(t *table) { stepTable(t, step, children) })
		},
	}
	addStaleFlag(cmd, &stale)
	return cmd
}

func stepTable(t *table, s *statepb.Step, children *instancev1.ChildSummary) {
	t.row("Step", s.GetStepId())
	t.row("Type", s.GetType())
	t.row("Status", s.GetStatus())
	t.row("Reason", s.GetReason())
	t.row("Node", s.GetNode())
	t.row("Started", fmtTime(s.GetStartTime()))
	t.row("Ended", fmtTime(s.GetEndTime()))
	if s.GetRetryAt() != nil {
		t.row("Retry at", fmtTime(s.GetRetryAt()))
	}
	t.row("Outputs", fmtParams(s.GetOutputs()))
	if l := s.GetLoop(); l != nil {
		t.row("Progress", loopProgress(l))
		if len(l.GetValues()) > 0 {
			t.row("Loop params", fmtParams(l.GetValues()))
		}
	}
	if children != nil {
		ids := make([]string, len(children.GetInstanceIds()))
		for i, id := range children.GetInstanceIds() {
			ids[i] = fmtInt(id)
		}
		t.row("Children", fmt.Sprintf("%d in %s (%s)", children.GetCount(), children.GetWorkflowId(), strings.Join(ids, ", ")))
	}
	for _, a := range s.GetAttempts() {
		t.blank()
		t.row("Attempt", strconv.FormatInt(a.GetAttemptNumber(), 10))
		t.row("  Status", a.GetStatus())
		t.row("  Node", a.GetNode())
		t.row("  Generation", strconv.FormatUint(a.GetGeneration(), 10))
		t.row("  Started", fmtTime(a.GetStartTime()))
		t.row("  Ended", fmtTime(a.GetEndTime()))
		if a.GetDeadline() != nil {
			t.row("  Deadline", fmtTime(a.GetDeadline()))
		}
		t.row("  Executions", strconv.Itoa(int(a.GetExecutions())))
		t.row("  Error", a.GetError())
		t.row("  Params", fmtParams(a.GetParams()))
		t.row("  Outputs", fmtParams(a.GetOutputs()))
	}
	if last := lastAttempt(s); last != nil && strings.TrimSpace(last.GetLogTail()) != "" {
		var b strings.Builder
		fmt.Fprintf(&b, "\nLog tail (attempt %d):\n", last.GetAttemptNumber())
		for _, line := range strings.Split(strings.TrimRight(last.GetLogTail(), "\n"), "\n") {
			b.WriteString("  " + line + "\n")
		}
		t.text(b.String())
	}
}
