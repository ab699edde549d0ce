package main

import (
	"fmt"
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
		limit int
		stale bool
	)
	cmd := &cobra.Command{
		Use:   "list NAME",
		Short: "List the newest signals of a name",
		Args:  positional("NAME"),
		RunE: func(cmd *cobra.Command, a []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.signals.List(cmd.Context(), connect.NewRequest(&signalv1.ListRequest{Name: a[0], Limit: int32(limit), Stale: stale}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("SEQ", "TIME", "SOURCE", "PARAMS")
				for _, sg := range res.Msg.GetSignals() {
					t.row(strconv.FormatInt(sg.GetSeq(), 10), fmtTime(sg.GetTime()), sg.GetSource(), fmtParams(sg.GetParams()))
				}
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many")
	addStaleFlag(cmd, &stale)
	return cmd
}
