package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/fsm/statepb"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/workflow"
)

func newWorkflowCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("workflow", "Push, check and inspect workflow definitions",
		`Workflow definitions are Maestro-format JSON or YAML files. Each push of a
changed definition stores a new immutable version and makes it the active one,
which instance start uses unless told otherwise.`)
	cmd.AddCommand(
		newWorkflowPushCommand(c),
		newWorkflowValidateCommand(c),
		newWorkflowListCommand(c),
		newWorkflowGetCommand(c),
		newWorkflowVersionsCommand(c),
		newWorkflowActivateCommand(c),
		newWorkflowDeactivateCommand(c),
		newWorkflowTriggersCommand(c),
		newWorkflowUnblockCommand(c),
		newWorkflowDeleteCommand(c),
	)
	return cmd
}

// readDefinition reads a definition file, or standard input for "-".
func readDefinition(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func newWorkflowPushCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "push FILE",
		Short: "Store a definition as the workflow's next version and activate it",
		Long: `Push sends a definition (JSON or YAML; "-" reads standard input) to the
cluster, which validates it and stores it as the workflow's next version, now
the active one. Pushing a definition identical to the latest version changes
nothing and reports that version as unchanged.`,
		Args: positional("FILE"),
		RunE: func(cmd *cobra.Command, a []string) error {
			data, err := readDefinition(a[0])
			if err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.workflows.Push(cmd.Context(), connect.NewRequest(&workflowv1.PushRequest{Definition: string(data)}))
			if err != nil {
				return err
			}
			m := res.Msg
			return c.out.print(m, func(t *table) {
				id := m.GetWorkflow().GetWorkflowId()
				switch active := m.GetWorkflow().GetActiveVersion(); {
				case m.Created:
					t.text(fmt.Sprintf("workflow %s version %d created (active)\n", id, m.Version))
				case active == m.Version:
					t.text(fmt.Sprintf("workflow %s version %d unchanged (active)\n", id, m.Version))
				default:
					t.text(fmt.Sprintf("workflow %s version %d unchanged (the active version is %d)\n", id, m.Version, active))
				}
			})
		},
	}
}

// validation is the -o json form of workflow validate.
type validation struct {
	File       string            `json:"file"`
	Valid      bool              `json:"valid"`
	WorkflowID string            `json:"workflow_id,omitempty"`
	Steps      int               `json:"steps,omitempty"`
	Errors     []validationError `json:"errors,omitempty"`
}

type validationError struct {
	Path    string `json:"path,omitempty"`
	Line    int    `json:"line,omitempty"`
	Col     int    `json:"col,omitempty"`
	Message string `json:"message"`
}

// location is the compiler-style line editors can jump to:
// FILE:LINE:COL: path: message.
func (e validationError) location(file string) string {
	var b strings.Builder
	b.WriteString(file)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Col > 0 {
			fmt.Fprintf(&b, ":%d", e.Col)
		}
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

func newWorkflowValidateCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a definition locally, without a server",
		Long: `Validate parses and checks a definition (JSON or YAML; "-" reads standard
input) exactly as the server would on push, without contacting one. It lists
every problem, one per line with its line and column where known, and exits
with status 1 if there is any.`,
		Args: positional("FILE"),
		RunE: func(cmd *cobra.Command, a []string) error {
			file := a[0]
			data, err := readDefinition(file)
			if err != nil {
				return err
			}
			if file == "-" {
				file = "<stdin>"
			}
			v := validateDefinition(data)
			v.File = file
			if c.out.json {
				if err := c.out.print(v, nil); err != nil {
					return err
				}
			} else if v.Valid {
				fmt.Fprintf(c.stdout, "%s: valid (workflow %s, %d %s)\n", file, v.WorkflowID, v.Steps, plural(v.Steps, "step", "steps"))
			} else {
				for _, e := range v.Errors {
					fmt.Fprintln(c.stderr, e.location(file))
				}
			}
			if !v.Valid {
				return exitStatus(exitError)
			}
			return nil
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func newWorkflowListCommand(c *cli) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List workflows with their active and latest versions",
		Args:  positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.workflows.List(cmd.Context(), connect.NewRequest(&workflowv1.ListRequest{Stale: stale}))
			if err != nil {
				return err
			}
			if len(res.Msg.Workflows) == 0 && !c.out.json {
				fmt.Fprintln(c.stderr, "No workflows.")
				return nil
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("WORKFLOW", "ACTIVE", "LATEST", "INSTANCES", "UPDATED")
				for _, w := range res.Msg.Workflows {
					active := fmtInt(w.ActiveVersion)
					if w.ActiveVersion == 0 {
						active = "none"
					}
					t.row(w.WorkflowId, active, fmtInt(w.LatestVersion),
						fmtInt(w.LastInstanceId), fmtTime(w.UpdateTime))
				}
			})
		},
	}
	addStaleFlag(cmd, &stale)
	return cmd
}

func addStaleFlag(cmd *cobra.Command, stale *bool) {
	cmd.Flags().BoolVar(stale, "stale", false,
		"answer from the contacted server's replica without checking with the leader")
}

// checkVersionRef accepts what the API takes for a version: a number,
// "active" or "latest". Catching a typo here makes it a usage error rather
// than a round trip.
func checkVersionRef(v string) error {
	switch v {
	case "", "active", "latest":
		return nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err != nil || n < 1 {
		return usageError{fmt.Errorf("--version %q: want a version number, \"active\" or \"latest\"", v)}
	}
	return nil
}

func newWorkflowGetCommand(c *cli) *cobra.Command {
	var (
		version    string
		definition bool
		stale      bool
	)
	cmd := &cobra.Command{
		Use:   "get WORKFLOW",
		Short: "Show a version of a workflow (the active one by default)",
		Args:  positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkVersionRef(version); err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.workflows.Get(cmd.Context(), connect.NewRequest(&workflowv1.GetRequest{
				WorkflowId: a[0], Version: version, Stale: stale,
			}))
			if err != nil {
				return err
			}
			if definition {
				_, err := c.stdout.Write(prettyJSON(res.Msg.GetVersion().GetDefinition()))
				return err
			}
			wf, ver := res.Msg.GetWorkflow(), res.Msg.GetVersion()
			return c.out.print(res.Msg, func(t *table) {
				t.row("Workflow", ver.GetWorkflowId())
				t.row("Version", fmtInt(ver.GetVersion())+versionMarks(wf, ver.GetVersion()))
				if wf.GetActiveVersion() == 0 {
					t.row("Active version", "none: "+wf.GetInactiveReason())
				} else {
					t.row("Active version", fmtInt(wf.GetActiveVersion()))
				}
				t.row("Latest version", fmtInt(wf.GetLatestVersion()))
				t.row("Created", fmtTime(ver.GetCreateTime()))
				t.row("Digest", ver.GetDigest())
				workflowTriggerRows(t, wf, ver, res.Msg.GetTriggers())
				actions := res.Msg.GetActions()
				if kept := int64(len(actions)); wf.GetLastEventSeq() > kept {
					// Retention deleted the oldest (-retain-workflow-actions).
					t.row("Actions", fmt.Sprintf("the newest %d of %d; retention deleted the older ones", kept, wf.GetLastEventSeq()))
				}
				for _, e := range actions {
					t.row("Action", fmt.Sprintf("%s  %s by %s  %s", fmtTime(e.GetTime()), e.GetAction(), e.GetActor(), e.GetMessage()))
				}
			})
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "`version` to show: a number, \"active\" (default) or \"latest\"")
	cmd.Flags().BoolVar(&definition, "definition", false, "print only the definition, as indented JSON")
	addStaleFlag(cmd, &stale)
	return cmd
}

// versionMarks says whether a version is the active and/or the latest one.
func versionMarks(wf *statepb.Workflow, v int64) string {
	var marks []string
	if v == wf.GetActiveVersion() {
		marks = append(marks, "active")
	}
	if v == wf.GetLatestVersion() {
		marks = append(marks, "latest")
	}
	if len(marks) == 0 {
		return ""
	}
	return " (" + strings.Join(marks, ", ") + ")"
}

// prettyJSON indents a stored definition; one that is somehow not JSON is
// shown as it is rather than not at all.
func prettyJSON(s string) []byte {
	var buf bytes.Buffer
	if err := json.Indent(&buf, []byte(s), "", "  "); err != nil {
		buf.Reset()
		buf.WriteString(s)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func newWorkflowVersionsCommand(c *cli) *cobra.Command {
	var stale bool
	cmd := &cobra.Command{
		Use:   "versions WORKFLOW",
		Short: "List the versions of a workflow",
		Args:  positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.workflows.ListVersions(cmd.Context(), connect.NewRequest(&workflowv1.ListVersionsRequest{
				WorkflowId: a[0], Stale: stale,
			}))
			if err != nil {
				return err
			}
			if c.out.json {
				return c.out.print(res.Msg, nil)
			}
			// The version list does not say which version is active; the
			// workflow record does. Without it the table still stands.
			var wf *statepb.Workflow
			if got, err := api.workflows.Get(cmd.Context(), connect.NewRequest(&workflowv1.GetRequest{
				WorkflowId: a[0], Stale: stale,
			})); err == nil {
				wf = got.Msg.GetWorkflow()
			} else if code := connect.CodeOf(err); code != connect.CodeFailedPrecondition && code != connect.CodeNotFound {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("VERSION", "ACTIVE", "CREATED", "DIGEST")
				for _, v := range res.Msg.Versions {
					active := ""
					if wf != nil && v.Version == wf.ActiveVersion {
						active = "*"
					}
					t.row(fmtInt(v.Version), active, fmtTime(v.CreateTime), truncate(v.Digest, 13))
				}
			})
		},
	}
	addStaleFlag(cmd, &stale)
	return cmd
}

func newWorkflowActivateCommand(c *cli) *cobra.Command {
	var reason, requestID string
	cmd := &cobra.Command{
		Use:   "activate WORKFLOW VERSION",
		Short: "Make an existing version the one new instances run (and its triggers fire)",
		Args:  positional("WORKFLOW", "VERSION"),
		RunE: func(cmd *cobra.Command, a []string) error {
			version, err := strconv.ParseInt(a[1], 10, 64)
			if err != nil || version < 1 {
				return usageError{fmt.Errorf("VERSION %q: want a version number", a[1])}
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.ActivateRequest{
				WorkflowId: a[0], Version: version, Reason: reason, RequestId: ensureRequestID(&requestID),
			}, api.workflows.Activate)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(activeText(a[0], res.GetWorkflow()) + repeatedNote(res.GetRepeated(), requestID) + "\n")
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the workflow (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

// activeText says which version of a workflow is active, after an
// activation or deactivation (or a repeat of one, when it may since have
// changed).
func activeText(workflowID string, wf *statepb.Workflow) string {
	if wf.GetActiveVersion() == 0 {
		return fmt.Sprintf("workflow %s is inactive (latest version %d)", workflowID, wf.GetLatestVersion())
	}
	return fmt.Sprintf("workflow %s version %d is active", workflowID, wf.GetActiveVersion())
}

func newWorkflowDeactivateCommand(c *cli) *cobra.Command {
	var reason, requestID string
	cmd := &cobra.Command{
		Use:   "deactivate WORKFLOW",
		Short: "Leave a workflow without an active version: starts are refused and its triggers stop",
		Long: `Deactivate leaves the workflow without an active version. A start of the
active version (the default) is refused with the reason given here; a start
of a version by number still works. Its time and signal triggers stop: no
scheduled time fires and no signal is consumed until a version is active
again (workflow activate, or a push). Running instances run on.`,
		Args: positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.DeactivateRequest{
				WorkflowId: a[0], Reason: reason, RequestId: ensureRequestID(&requestID),
			}, api.workflows.Deactivate)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(activeText(a[0], res.GetWorkflow()) + repeatedNote(res.GetRepeated(), requestID) + "\n")
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the workflow and shown to starts meanwhile (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

func newWorkflowTriggersCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("triggers", "Switch a workflow's time or signal triggers off and on",
		`A workflow's time and signal triggers fire while it has an active version,
its definition does not switch them off (properties.time_trigger_disabled,
signal_trigger_disabled) and an operator has not. Switched off, a time
trigger forgets its schedule and a signal trigger its place among the
signals: switched back on, they fire from the next scheduled time, or for
the signals sent from then on.`)
	cmd.AddCommand(newWorkflowTriggersSwitchCommand(c, "disable", false), newWorkflowTriggersSwitchCommand(c, "enable", true))
	return cmd
}

func newWorkflowTriggersSwitchCommand(c *cli, use string, enabled bool) *cobra.Command {
	var (
		timeTriggers, signalTriggers bool
		reason, requestID            string
	)
	short := "Switch a workflow's time and/or signal triggers off"
	if enabled {
		short = "Switch a workflow's time and/or signal triggers back on"
	}
	cmd := &cobra.Command{
		Use:   use + " WORKFLOW --time|--signal",
		Short: short,
		Args:  positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if !timeTriggers && !signalTriggers {
				return usageError{fmt.Errorf("%s: say which triggers: --time, --signal or both", cmd.CommandPath())}
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.SetTriggersRequest{
				WorkflowId: a[0], Enabled: enabled, Time: timeTriggers, Signal: signalTriggers, Reason: reason,
				RequestId: ensureRequestID(&requestID),
			}, api.workflows.SetTriggers)
			if err != nil {
				return err
			}
			wf := res.GetWorkflow()
			return c.out.print(res, func(t *table) {
				t.text(fmt.Sprintf("workflow %s: time triggers %s, signal triggers %s%s\n", a[0],
					onOff(!wf.GetTimeTriggersDisabled()), onOff(!wf.GetSignalTriggersDisabled()), repeatedNote(res.GetRepeated(), requestID)))
			})
		},
	}
	cmd.Flags().BoolVar(&timeTriggers, "time", false, "the time triggers")
	cmd.Flags().BoolVar(&signalTriggers, "signal", false, "the signal triggers")
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the workflow (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

func newWorkflowUnblockCommand(c *cli) *cobra.Command {
	var reason, requestID string
	cmd := &cobra.Command{
		Use:   "unblock WORKFLOW",
		Short: "Let a STRICT_SEQUENTIAL workflow run its queued instances past the failed ones",
		Args:  positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.UnblockRequest{
				WorkflowId: a[0], Reason: reason, RequestId: ensureRequestID(&requestID),
			}, api.workflows.Unblock)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(fmt.Sprintf("workflow %s unblocked: failed instances up to %d no longer hold its queue%s\n", a[0],
					res.GetWorkflow().GetUnblockedThrough(), repeatedNote(res.GetRepeated(), requestID)))
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded on the workflow (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

// workflowTriggerRows shows whether a workflow's triggers are on, and why
// not, then each trigger's state.
func workflowTriggerRows(t *table, wf *statepb.Workflow, ver *statepb.WorkflowVersion, triggers []*statepb.Trigger) {
	var props *workflow.Properties
	if def, err := workflow.Parse([]byte(ver.GetDefinition())); err == nil {
		props = def.Properties
	}
	state := func(operatorOff bool, definitionOff *bool, field string) string {
		switch {
		case wf.GetActiveVersion() == 0:
			return "off (no active version)"
		case operatorOff:
			return "off (switched off by an operator)"
		case definitionOff != nil && *definitionOff:
			return "off (properties." + field + ")"
		}
		return "on"
	}
	var timeOff, signalOff *bool
	if props != nil {
		timeOff, signalOff = props.TimeTriggerDisabled, props.SignalTriggerDisabled
	}
	t.row("Time triggers", state(wf.GetTimeTriggersDisabled(), timeOff, "time_trigger_disabled"))
	t.row("Signal triggers", state(wf.GetSignalTriggersDisabled(), signalOff, "signal_trigger_disabled"))
	for _, tr := range triggers {
		var desc string
		if strings.HasPrefix(tr.GetTriggerId(), "signal-") {
			names := make([]string, 0, len(tr.GetCheckpoints()))
			for n := range tr.GetCheckpoints() {
				names = append(names, n)
			}
			sort.Strings(names)
			for i, n := range names {
				names[i] = fmt.Sprintf("%s after #%d", n, tr.GetCheckpoints()[n])
			}
			desc = fmt.Sprintf("fired %d, started nothing %d", tr.GetFires(), tr.GetSkipped())
			if tr.GetLastSkipReason() != "" {
				desc += " (last: " + tr.GetLastSkipReason() + ")"
			}
			desc += "; next signals: " + strings.Join(names, ", ")
		} else {
			desc = fmt.Sprintf("next %s, fired %d, skipped %d", fmtTime(tr.GetNext()), tr.GetFires(), tr.GetSkipped())
		}
		t.row("Trigger", tr.GetTriggerId()+"  "+desc)
	}
}
