package main

import (
	"fmt"
	"strconv"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
)

func newStatusCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the contacted server's view of the cluster",
		Long: `Status shows the server at --address: its Raft state, the leader it knows of
and how far it has applied the log, then the Raft peers. It answers from that
server alone, so it works while the cluster has no leader.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := c.clients()
			if err != nil {
				return err
			}
			res, err := api.cluster.Status(cmd.Context(), connect.NewRequest(&clusterv1.StatusRequest{}))
			if err != nil {
				return err
			}
			m := res.Msg
			return c.out.print(m, func(t *table) {
				leader := "(none)"
				if m.LeaderId != "" {
					leader = m.LeaderId
					if m.LeaderApiAddress != "" {
						leader += " (" + m.LeaderApiAddress + ")"
					}
				}
				t.row("Node", m.Node)
				t.row("Raft state", m.RaftState)
				t.row("Leader", leader)
				t.row("Term", u64(m.Term))
				t.row("Last applied index", u64(m.LastAppliedIndex))
				t.row("Commit index", u64(m.CommitIndex))
				t.row("Last log index", u64(m.LastLogIndex))
				if m.Protocol != 0 {
					proto := strconv.Itoa(int(m.Protocol))
					if m.ClusterProtocol != m.Protocol {
						proto += fmt.Sprintf(" (the cluster runs %d until every server has it)", m.ClusterProtocol)
					}
					t.row("Protocol", proto)
				}
				if len(m.Peers) == 0 {
					return
				}
				t.blank()
				t.row("PEER", "ADDRESS", "VOTER", "LEADER")
				for _, p := range m.Peers {
					t.row(p.Id, p.Address, yesNo(p.Voter), yesNo(p.Leader))
				}
			})
		},
	}
}

func u64(n uint64) string { return strconv.FormatUint(n, 10) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
