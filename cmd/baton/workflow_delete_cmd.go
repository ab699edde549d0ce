package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

func newWorkflowDeleteCommand(c *cli) *cobra.Command {
	var reason, requestID string
	cmd := &cobra.Command{
		Use:   "delete WORKFLOW",
		Short: "Delete a workflow whose instances have all ended, with its history",
		Long: `Delete removes a workflow: its versions, time and signal triggers and
breakpoints at once, then, in the background (at the leader's next
retention pass), its finished instances with their steps and timelines, and
the record of operator actions on it. It is refused while any instance of
the workflow is unfinished: stop those first (instance stop), or wait for
them to end. A subworkflow instance started by another workflow's instance
stays with that instance until retention deletes it.

The id can be pushed again. The new workflow numbers its versions,
instances and actions on from where the deleted one left them, so no number
means two things; starts, gets and activations of the deleted id are
answered "not found", saying when and by whom it was deleted.

Sent again with the same --request-id (as the CLI does by itself when the
leader is briefly away), a deletion does nothing more, even after the id was
pushed again. The deletion keeps the request ids of the workflow's newest
32 pushes and starts, so that a late copy of one creates nothing.`,
		Args: positional("WORKFLOW"),
		RunE: func(cmd *cobra.Command, a []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := sendAgain(cmd.Context(), c, &workflowv1.DeleteRequest{
				WorkflowId: a[0], Reason: reason, RequestId: ensureRequestID(&requestID),
			}, api.workflows.Delete)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(deleteText(a[0], res) + repeatedNote(res.GetRepeated(), requestID) + "\n")
			})
		},
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why, recorded with the deletion and shown to calls that name the id (`text`)")
	addActionRequestIDFlag(cmd, &requestID)
	return cmd
}

// deleteText says what a deletion removed and what it left to the leader.
func deleteText(workflowID string, res *workflowv1.DeleteResponse) string {
	if res.GetRepeated() {
		return fmt.Sprintf("workflow %s was deleted", workflowID)
	}
	var gone []string
	for _, n := range []struct {
		n         int64
		one, many string
	}{{res.GetVersions(), "version", "versions"}, {res.GetTriggers(), "trigger", "triggers"}, {res.GetBreakpoints(), "breakpoint", "breakpoints"}} {
		if n.n > 0 {
			gone = append(gone, fmt.Sprintf("%d %s", n.n, plural(int(n.n), n.one, n.many)))
		}
	}
	msg := fmt.Sprintf("deleted workflow %s", workflowID)
	if len(gone) > 0 {
		msg += " with its " + strings.Join(gone, ", ")
	}
	if n := res.GetInstances(); n > 0 {
		msg += fmt.Sprintf("; its %d finished %s go in the background", n, plural(int(n), "instance", "instances"))
	}
	if d := res.GetDeleted(); d != nil {
		msg += fmt.Sprintf("\na workflow pushed again as %s numbers on from version %d, instance %d", workflowID, d.GetLatestVersion()+1, d.GetLastInstanceId()+1)
	}
	return msg
}
