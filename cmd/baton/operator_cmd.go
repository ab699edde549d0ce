package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/batonhq/baton/cluster"
	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/rpc"
	operatorv1 "github.com/batonhq/baton/rpc/gen/baton/operator/v1"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
)

// uploadChunk is how much of a snapshot file one restore message carries.
const uploadChunk = 256 << 10

// newOperatorCommands returns the top-level members command and the operator
// group.
func newOperatorCommands(c *cli) []*cobra.Command {
	return []*cobra.Command{newMembersCommand(c), newOperatorCommand(c)}
}

// operator returns an OperatorService client for --address. It goes through
// clients so that a bad --address is reported the same way everywhere.
func (c *cli) operator() (operatorv1connect.OperatorServiceClient, error) {
	api, err := c.clients()
	if err != nil {
		return nil, err
	}
	return operatorv1connect.NewOperatorServiceClient(newHTTPClient(), api.address,
		connect.WithInterceptors(unaryTimeout{})), nil
}

func newMembersCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "members",
		Short: "List the nodes gossip knows, with their status and tags",
		Long: `Members lists every node the contacted server knows through gossip: alive
ones, and those that failed or left. It answers from that server alone, so it
works while the cluster has no leader. A failed server that is still a Raft
peer can be removed with 'baton operator raft remove-peer'.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			res, err := op.Members(cmd.Context(), connect.NewRequest(&operatorv1.MembersRequest{}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("NAME", "ADDRESS", "STATUS", "TAGS")
				for _, m := range res.Msg.Members {
					t.row(m.Name, m.Address, m.Status, fmtTags(m.Tags))
				}
			})
		},
	}
}

func fmtTags(tags map[string]string) string {
	parts := make([]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ",")
}

func newOperatorCommand(c *cli) *cobra.Command {
	cmd := newGroupCommand("operator", "Look after the cluster: Raft peers, leadership and snapshots",
		`Operator commands inspect and repair the cluster. See docs/OPERATOR.md.`)
	raftCmd := newGroupCommand("raft", "List and remove Raft peers, transfer leadership",
		`The Raft configuration is the set of servers that vote on every write. A
server gossip reports failed stays in it, and counts toward the quorum,
until the dead-server cleanup or remove-peer takes it out.`)
	raftCmd.AddCommand(newListPeersCommand(c), newRemovePeerCommand(c), newTransferLeaderCommand(c))
	snapCmd := newGroupCommand("snapshot", "Save, restore and inspect snapshots of the whole cluster state",
		`A snapshot file holds the whole replicated state (workflows, versions,
instances, steps, events) as of one Raft index, with the Raft metadata and
a SHA-256 checksum. Step logs and other node-local files are not in it.`)
	snapCmd.AddCommand(newSnapshotSaveCommand(c), newSnapshotRestoreCommand(c), newSnapshotInspectCommand(c))
	cmd.AddCommand(raftCmd, snapCmd, newStateHashCommand(c))
	return cmd
}

func newStateHashCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "state-hash",
		Short: "Print a digest of the contacted server's replicated state",
		Long: `State-hash prints the contacted server's applied Raft index and a SHA-256
over its whole replicated state (every table, every record, in key order),
read together from one point-in-time view, with each table's record count.
It answers from that server alone.

Servers that report the same applied index must report the same hash. Run
it against every server once writes have stopped; a server whose hash
differs at an equal index has a state machine that diverged.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			res, err := op.StateHash(cmd.Context(), connect.NewRequest(&operatorv1.StateHashRequest{}))
			if err != nil {
				return err
			}
			m := res.Msg
			return c.out.print(m, func(t *table) {
				t.row("Node", m.Node)
				t.row("Applied index", u64(m.AppliedIndex))
				t.row("SHA-256", m.Sha256)
				t.blank()
				t.row("TABLE", "RECORDS")
				for _, tc := range m.Tables {
					t.row(tc.Table, fmtInt(tc.Records))
				}
			})
		},
	}
}

func newListPeersCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "list-peers",
		Short: "List the servers of the Raft configuration",
		Long: `List-peers shows the Raft configuration as the contacted server knows it:
each server's id (its node name), Raft address, whether it votes, and which
one leads. It answers from that server alone.`,
		Args: positional(),
		RunE: func(cmd *cobra.Command, _ []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			res, err := op.RaftListPeers(cmd.Context(), connect.NewRequest(&operatorv1.RaftListPeersRequest{}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.row("ID", "ADDRESS", "VOTER", "LEADER")
				for _, p := range res.Msg.Peers {
					t.row(p.Id, p.Address, yesNo(p.Voter), yesNo(p.Leader))
				}
			})
		},
	}
}

func newRemovePeerCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "remove-peer ID",
		Short: "Remove a dead server from the Raft configuration",
		Long: `Remove-peer takes the server ID (its node name, as list-peers shows it) out
of the Raft configuration, so that it no longer counts toward the quorum.

It is for servers that are gone: the leader refuses to remove itself
(transfer leadership first) and refuses a server gossip still reports alive,
since it would add that server back at once. To retire a healthy server,
stop it with Ctrl-C: it leaves the cluster and is removed from Raft.`,
		Args: positional("ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			res, err := op.RaftRemovePeer(cmd.Context(), connect.NewRequest(&operatorv1.RaftRemovePeerRequest{Id: args[0]}))
			if err != nil {
				return err
			}
			return c.out.print(res.Msg, func(t *table) {
				t.text(fmt.Sprintf("Removed %s from the Raft configuration.\n", args[0]))
			})
		},
	}
}

func newTransferLeaderCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "transfer-leader [ID]",
		Short: "Hand Raft leadership to another server",
		Long: `Transfer-leader makes the leader hand over to the voter ID, or without ID to
the voter whose log is most up to date, and prints the new leader. Use it
before restarting or removing the leader's machine: writes pause only for
the handover, not for an election timeout.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), args[1])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			req := &operatorv1.RaftTransferLeaderRequest{}
			if len(args) == 1 {
				req.Id = args[0]
			}
			res, err := op.RaftTransferLeader(cmd.Context(), connect.NewRequest(req))
			if err != nil {
				return err
			}
			m := res.Msg
			return c.out.print(m, func(t *table) {
				where := ""
				if m.LeaderApiAddress != "" {
					where = " (" + m.LeaderApiAddress + ")"
				}
				t.text(fmt.Sprintf("%s now leads%s.\n", m.LeaderId, where))
			})
		},
	}
}

func newSnapshotSaveCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "save FILE",
		Short: "Save a snapshot of the whole cluster state to FILE",
		Long: `Save asks the leader (through any server) for a point-in-time snapshot that
includes every write committed before the command, and writes it to FILE.
The data goes to FILE.tmp and is checked before it is renamed to FILE, so
FILE is never left half-written.`,
		Args: positional("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			path := args[0]
			tmp := path + ".tmp"
			// The snapshot holds every param of every instance.
			f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
			if err != nil {
				return err
			}
			done := false
			defer func() {
				if !done {
					f.Close()
					os.Remove(tmp)
				}
			}()
			stream, err := op.SnapshotSave(cmd.Context(), connect.NewRequest(&operatorv1.SnapshotSaveRequest{}))
			if err != nil {
				return err
			}
			defer stream.Close()
			for stream.Receive() {
				if _, err := f.Write(stream.Msg().Data); err != nil {
					return fmt.Errorf("write %s: %w", tmp, err)
				}
			}
			if err := stream.Err(); err != nil {
				return err
			}
			if err := f.Sync(); err != nil {
				return fmt.Errorf("write %s: %w", tmp, err)
			}
			sf, err := openSnapshotFile(f)
			if err != nil {
				return fmt.Errorf("the snapshot received is unusable: %w", err)
			}
			if err := sf.Verify(); err != nil {
				return fmt.Errorf("the snapshot received is unusable: %w", err)
			}
			if err := f.Close(); err != nil {
				return fmt.Errorf("write %s: %w", tmp, err)
			}
			if err := os.Rename(tmp, path); err != nil {
				return err
			}
			done = true
			info := rpc.SnapshotInfo(sf.SnapshotSummary)
			info.File = path
			return c.out.print(info, func(t *table) { snapshotTable(t, info) })
		},
	}
}

func newSnapshotRestoreCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Replace the whole cluster state with a snapshot file",
		Long: `Restore sends FILE to the leader (through any server), which checks all of it
and then replaces the state of every server with it through Raft. Everything
the cluster held before is gone: workflows, instances and their history.
The cluster keeps its own servers; the configuration stored in the file is
not applied. A damaged or truncated file is refused and changes nothing.`,
		Args: positional("FILE"),
		RunE: func(cmd *cobra.Command, args []string) error {
			op, err := c.operator()
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			// Checked here too, so a bad file is not uploaded for nothing.
			sf, err := openSnapshotFile(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			if err := sf.Verify(); err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			up := op.SnapshotRestore(cmd.Context())
			buf := make([]byte, uploadChunk)
			r := io.NewSectionReader(f, 0, sf.FileSize)
			for {
				n, err := io.ReadFull(r, buf)
				if n > 0 {
					if sendErr := up.Send(&operatorv1.SnapshotRestoreRequest{Data: buf[:n]}); sendErr != nil {
						// The server stopped reading; CloseAndReceive says why.
						break
					}
				}
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					break
				}
				if err != nil {
					_, _ = up.CloseAndReceive()
					return fmt.Errorf("read %s: %w", args[0], err)
				}
			}
			res, err := up.CloseAndReceive()
			if err != nil {
				return err
			}
			m := res.Msg
			return c.out.print(m, func(t *table) {
				s := m.Snapshot
				t.text(fmt.Sprintf("Restored the snapshot taken at index %d, term %d (%d bytes of state) on %s.\n"+
					"The cluster's state was replaced at Raft index %d.\n",
					s.GetIndex(), s.GetTerm(), s.GetSize(), cell(s.GetNode()), m.RestoredIndex))
			})
		},
	}
}

func newSnapshotInspectCommand(c *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "inspect FILE",
		Short: "Describe a snapshot file and count its records (offline)",
		Long: `Inspect reads FILE locally, with no server: its Raft index and term, size,
whether its checksum matches, who took it and when, and how many records
each table holds. It exits 1 if the file is damaged.`,
		Args: positional("FILE"),
		RunE: func(_ *cobra.Command, args []string) error {
			f, err := os.Open(args[0])
			if err != nil {
				return err
			}
			defer f.Close()
			sf, err := openSnapshotFile(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			info := rpc.SnapshotInfo(sf.SnapshotSummary)
			info.File = args[0]
			var damaged error
			if err := sf.Verify(); err != nil {
				damaged = fmt.Errorf("%s: %w", args[0], err)
			} else if info.Tables, err = countRecords(sf.Data()); err != nil {
				damaged = fmt.Errorf("%s: %w", args[0], err)
			}
			if err := c.out.print(info, func(t *table) { snapshotTable(t, info) }); err != nil {
				return err
			}
			return damaged
		},
	}
}

func openSnapshotFile(f *os.File) (*cluster.SnapshotFile, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return cluster.OpenSnapshotFile(f, st.Size())
}

// tableOrder lists the state tables in the order of their dependencies;
// tables this list does not know follow in name order.
var tableOrder = []string{"workflows", "versions", "instances", "steps", "events"}

// countRecords parses a snapshot's state data and counts each table's
// records. The fsm package has no counting API, so this walks the tables
// of the store the snapshot builds.
func countRecords(r io.Reader) ([]*operatorv1.TableCount, error) {
	db, _, err := fsm.ReadSnapshot(r)
	if err != nil {
		return nil, fmt.Errorf("state data: %w", err)
	}
	names := slices.SortedFunc(maps.Keys(db.DBSchema().Tables), func(a, b string) int {
		ia, ib := slices.Index(tableOrder, a), slices.Index(tableOrder, b)
		switch {
		case ia >= 0 && ib >= 0:
			return ia - ib
		case ia >= 0:
			return -1
		case ib >= 0:
			return 1
		}
		return strings.Compare(a, b)
	})
	txn := db.Txn(false)
	var out []*operatorv1.TableCount
	for _, name := range names {
		it, err := txn.Get(name, "id_prefix")
		if err != nil {
			return nil, fmt.Errorf("count %s: %w", name, err)
		}
		tc := &operatorv1.TableCount{Table: name}
		for o := it.Next(); o != nil; o = it.Next() {
			tc.Records++
		}
		out = append(out, tc)
	}
	return out, nil
}

func snapshotTable(t *table, s *operatorv1.SnapshotInfo) {
	checksum := "ok"
	if !s.ChecksumOk {
		checksum = "MISMATCH (the file is damaged)"
	}
	taken := s.Node
	if when := fmtTime(s.CreatedTime); when != "" {
		taken += " at " + when
	}
	t.row("File", s.File)
	t.row("Index", u64(s.Index))
	t.row("Term", u64(s.Term))
	t.row("Size", fmtInt(s.Size)+" bytes of state, "+fmtInt(s.FileSize)+" bytes in the file")
	t.row("Checksum", checksum)
	t.row("SHA-256", s.Checksum)
	t.row("Taken on", taken)
	if len(s.Configuration) > 0 {
		t.blank()
		t.row("RAFT PEER", "ADDRESS", "VOTER")
		for _, p := range s.Configuration {
			t.row(p.Id, p.Address, yesNo(p.Voter))
		}
	}
	if len(s.Tables) > 0 {
		t.blank()
		t.row("TABLE", "RECORDS")
		for _, tc := range s.Tables {
			t.row(tc.Table, fmtInt(tc.Records))
		}
	}
}
