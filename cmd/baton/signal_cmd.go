package main

import (
	"fmt"
	"math"
	"strconv"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
)

func newSignalCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("signal", "Send and list signals",
		`A signal is a name with params. Steps with signal_dependencies wait until a
signal of each name they name has arrived with matching params; steps with
signal_outputs send signals when they succeed. Signals of one name are
numbered 1, 2, 3, … in the order the cluster recorded them.`)
	cmd.AddCommand(newSignalSendCommand(c), newSignalListCommand(c))
	return cmd
}

func newSignalSendCommand(c *cli) *cobra.Command {
	var (
		params    []string
		requestID string
	)
	cmd := &cobra.Command{
		Use:   "send NAME [-p NAME=VALUE]...",
		Short: "Send a signal; a repeated --request-id sends nothing new",
		Args:  positional("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			p, err := parseParams(params)
			if err != nil {
				return err
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			ensureRequestID(&requestID)
			res, err := sendAgain(cmd.Context(), c, &signalv1.SendRequest{
				Name: a[0], Params: p, RequestId: requestID,
			}, api.signals.Send)
			if err != nil {
				return err
			}
			return c.out.print(res, func(t *table) {
				t.text(fmt.Sprintf("signal %s #%d\n", res.GetSignal().GetName(), res.GetSignal().GetSeq()))
			})
		},
	}
	cmd.Flags().StringArrayVarP(&params, "param", "p", nil, "signal param `NAME=VALUE` (repeatable)")
	cmd.Flags().StringVar(&requestID, "request-id", "", "idempotency `key` (default: random)")
	return cmd
}

func newSignalListCommand(c *cli) *cobra.Command {
	var (
		limit  int
		before int64
		stale  bool
	)
	cmd := &cobra.Command{
		Use:   "list NAME",
		Short: "List the signals of a name, newest first, a page at a time",
		Long: `List the signals of a name that retention keeps, newest first: the newest
100, or --limit of them. When older ones are kept too, the list ends with
the command that shows the next page (--before the last one listed).`,
		Args: positional("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			if limit < 0 || limit > math.MaxInt32 {
				return usageError{fmt.Errorf("--limit %d: want a positive number", limit)}
			}
			if before < 0 {
				return usageError{fmt.Errorf("--before %d: want a signal number", before)}
			}
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.signals.List(cmd.Context(), connect.NewRequest(&signalv1.ListRequest{Name: a[0], Limit: int32(limit), Stale: stale, Before: before}))
			if err != nil {
				return err
			}
			err = c.out.print(res.Msg, func(t *table) {
				t.row("SEQ", "TIME", "SOURCE", "PARAMS")
				for _, sg := range res.Msg.GetSignals() {
					t.row(strconv.FormatInt(sg.GetSeq(), 10), fmtTime(sg.GetTime()), sg.GetSource(), fmtParams(sg.GetParams()))
				}
			})
			if err == nil && res.Msg.NextBefore > 0 && !c.out.json {
				fmt.Fprintf(c.stderr, "Older signals are kept too: baton signal list %s --before %d --limit %d\n", a[0], res.Msg.NextBefore, limit)
			}
			return err
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	cmd.Flags().Int64Var(&before, "before", 0, "only signals numbered below `SEQ` (the next page)")
	addStaleFlag(cmd, &stale)
	return cmd
}
