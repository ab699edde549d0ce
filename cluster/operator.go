package cluster

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"

	"github.com/batonhq/baton/fsm"
)

// Kinds of refusal an operator command can meet, so the API can tell a typo
// from a request that is unsafe now. Test with errors.Is.
var (
	// ErrUnknownPeer: the id is not in the Raft configuration.
	ErrUnknownPeer = errors.New("unknown Raft peer")
	// ErrRefused: the cluster's current state does not allow the command.
	ErrRefused = errors.New("refused in the cluster's current state")
	// ErrInvalidSnapshot: a snapshot file is malformed, truncated or corrupt.
	ErrInvalidSnapshot = errors.New("invalid snapshot file")
)

// kindError carries one of the errors above for errors.Is while printing
// only its own, specific message.
type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

func refused(format string, args ...any) error {
	return &kindError{ErrRefused, fmt.Sprintf(format, args...)}
}

func invalidSnapshot(format string, args ...any) error {
	return &kindError{ErrInvalidSnapshot, fmt.Sprintf(format, args...)}
}

// raftErr reports the errors that mean leadership moved as ErrNotLeader, so
// the API retries on the new leader instead of failing.
func raftErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress) {
		return fmt.Errorf("%w: %s: %v", ErrNotLeader, op, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// GossipMembers returns every node gossip knows, whatever its role or
// status, in name order. Members, by contrast, keeps only Baton servers.
func (n *Node) GossipMembers() []Member {
	var out []Member
	for _, m := range n.serf.Members() {
		out = append(out, Member{
			Name: m.Name, Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
			Status: m.Status.String(), RaftAddr: m.Tags[tagRaft], APIAddr: m.Tags[tagAPI], Tags: maps.Clone(m.Tags),
		})
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Peer is one server of the Raft configuration.
type Peer struct {
	ID      string
	Address string
	Voter   bool
	Leader  bool
}

// RaftPeers returns this node's view of the Raft configuration.
func (n *Node) RaftPeers() ([]Peer, error) {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, fmt.Errorf("read Raft configuration: %w", err)
	}
	_, leader := n.raft.LeaderWithID()
	var out []Peer
	for _, s := range cf.Configuration().Servers {
		out = append(out, Peer{ID: string(s.ID), Address: string(s.Address), Voter: s.Suffrage == raft.Voter, Leader: s.ID == leader})
	}
	return out, nil
}

func (n *Node) configServer(id string) (raft.Server, []raft.Server, error) {
	cf := n.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return raft.Server{}, nil, raftErr("read Raft configuration", err)
	}
	servers := cf.Configuration().Servers
	for _, s := range servers {
		if string(s.ID) == id {
			return s, servers, nil
		}
	}
	if id == "" {
		return raft.Server{}, servers, nil
	}
	return raft.Server{}, servers, &kindError{ErrUnknownPeer, fmt.Sprintf("no server %q in the Raft configuration (see baton operator raft list-peers)", id)}
}

// RemovePeer removes a server from the Raft configuration. It runs on the
// leader. It refuses to remove the leader itself, and a server gossip still
// reports alive: the leader adds alive servers back within seconds, so such
// a removal would not last.
func (n *Node) RemovePeer(id string) error {
	if !n.IsLeader() {
		return ErrNotLeader
	}
	if _, _, err := n.configServer(id); err != nil {
		return err
	}
	if id == n.cfg.NodeName {
		return refused("%s is the Raft leader and cannot remove itself; transfer leadership first (baton operator raft transfer-leader), then remove it", id)
	}
	for _, m := range n.serf.Members() {
		if m.Name == id && m.Tags[tagRole] == roleValue && m.Status == serf.StatusAlive {
			return refused("server %s is alive in gossip, and the leader adds alive servers back to Raft; "+
				"stop it first (Ctrl-C makes it leave the cluster, which also removes it from Raft), "+
				"or remove it once baton members shows it failed", id)
		}
	}
	n.log.Info("removing server from Raft at an operator's request", "server", id)
	return raftErr("remove server", n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout).Error())
}

// LeaderInfo names a leader and where to reach it.
type LeaderInfo struct {
	ID       string
	RaftAddr string
	APIAddr  string
}

// TransferLeader hands leadership from this node, the leader, to the voter
// id, or with an empty id to the voter Raft finds most up to date. It
// returns the new leader once this node has heard from it.
func (n *Node) TransferLeader(ctx context.Context, id string) (LeaderInfo, error) {
	if !n.IsLeader() {
		return LeaderInfo{}, ErrNotLeader
	}
	self := n.cfg.NodeName
	target, servers, err := n.configServer(id)
	if err != nil {
		return LeaderInfo{}, err
	}
	var fut raft.Future
	switch {
	case id == self:
		// Already where the operator wants it.
		return n.leaderInfo(), nil
	case id != "":
		if target.Suffrage != raft.Voter {
			return LeaderInfo{}, refused("%s is not a voter, so it cannot lead", id)
		}
		fut = n.raft.LeadershipTransferToServer(target.ID, target.Address)
	default:
		if !slices.ContainsFunc(servers, func(s raft.Server) bool { return s.Suffrage == raft.Voter && string(s.ID) != self }) {
			return LeaderInfo{}, refused("%s is the only voter; there is no server to hand leadership to", self)
		}
		fut = n.raft.LeadershipTransfer()
	}
	n.log.Info("transferring leadership at an operator's request", "to", cmp.Or(id, "(any voter)"))
	if err := fut.Error(); err != nil {
		if errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return LeaderInfo{}, refused("a leadership transfer is already in progress")
		}
		return LeaderInfo{}, raftErr("transfer leadership", err)
	}
	// The old leader learns its successor from the successor's first
	// heartbeat, which follows the election within milliseconds.
	deadline := time.Now().Add(n.cfg.ApplyTimeout)
	for {
		if _, lid := n.raft.LeaderWithID(); lid != "" && string(lid) != self {
			return n.leaderInfo(), nil
		}
		if time.Now().After(deadline) {
			return LeaderInfo{}, fmt.Errorf("leadership was handed over, but no new leader was known within %s; check baton status", n.cfg.ApplyTimeout)
		}
		select {
		case <-ctx.Done():
			return LeaderInfo{}, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (n *Node) leaderInfo() LeaderInfo {
	addr, lid := n.raft.LeaderWithID()
	li := LeaderInfo{ID: string(lid), RaftAddr: string(addr)}
	_, li.APIAddr = n.Leader()
	return li
}

// SaveSnapshot takes a snapshot of the state on the leader, once every
// entry committed before the call is applied, and writes it to w as a Baton
// snapshot file.
func (n *Node) SaveSnapshot(ctx context.Context, w io.Writer) (*SnapshotHeader, error) {
	if !n.IsLeader() {
		return nil, ErrNotLeader
	}
	cfgIndex, _ := strconv.ParseUint(n.raft.Stats()["latest_configuration_index"], 10, 64)
	if applied := n.fsm.AppliedIndex(); applied == 0 || applied < cfgIndex {
		if err := raftErr("prepare snapshot", n.raft.Apply([]byte{byte(fsm.CmdNoop)}, n.cfg.ApplyTimeout).Error()); err != nil {
			return nil, err
		}
	}
	if err := raftErr("barrier", n.raft.Barrier(n.cfg.ApplyTimeout).Error()); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fut := n.raft.Snapshot()
	if err := fut.Error(); err != nil {
		return nil, raftErr("take snapshot", err)
	}
	meta, rc, err := fut.Open()
	if err != nil {
		return nil, fmt.Errorf("open snapshot: %w", err)
	}
	defer rc.Close()
	h := &SnapshotHeader{
		Index: meta.Index, Term: meta.Term, Size: meta.Size, RaftVersion: int(meta.Version),
		ConfigurationIndex: meta.ConfigurationIndex, Node: n.cfg.NodeName, Created: time.Now().UTC(),
	}
	for _, s := range meta.Configuration.Servers {
		h.Configuration = append(h.Configuration, SnapshotServer{ID: string(s.ID), Address: string(s.Address), Suffrage: s.Suffrage.String()})
	}
	if err := WriteSnapshotFile(w, h, rc); err != nil {
		return nil, err
	}
	n.log.Info("snapshot saved at an operator's request", "index", h.Index, "term", h.Term, "size", h.Size)
	return h, nil
}

// restoreTimeout bounds how long a restore waits to be taken up by Raft and
// then for the followers to install the restored state.
const restoreTimeout = 2 * time.Minute

// RestoreSnapshot replaces the whole cluster's state with a Baton snapshot
// file read from r. It runs on the leader. The file is stored and checked
// completely (header, length, checksum, every record) before Raft is
// touched: Raft cannot back out of a restore once the state machine has
// started reading one. It returns what the file held and the Raft index
// after the restore.
func (n *Node) RestoreSnapshot(ctx context.Context, r io.Reader) (*SnapshotSummary, uint64, error) {
	if !n.IsLeader() {
		return nil, 0, ErrNotLeader
	}
	tmp, err := os.CreateTemp(n.cfg.Data.RaftDir(), "restore-*.tmp")
	if err != nil {
		return nil, 0, fmt.Errorf("store snapshot for restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	size, err := io.Copy(tmp, r)
	if err != nil {
		return nil, 0, fmt.Errorf("receive snapshot: %w", err)
	}
	sf, err := OpenSnapshotFile(tmp, size)
	if err != nil {
		return nil, 0, err
	}
	if err := sf.Verify(); err != nil {
		return nil, 0, err
	}
	if v := raft.SnapshotVersion(sf.Header.RaftVersion); v < raft.SnapshotVersionMin || v > raft.SnapshotVersionMax {
		return nil, 0, invalidSnapshot("snapshot file: Raft snapshot version %d is not supported (want %d to %d)", v, raft.SnapshotVersionMin, raft.SnapshotVersionMax)
	}
	if _, _, err := fsm.ReadSnapshot(sf.Data()); err != nil {
		return nil, 0, invalidSnapshot("snapshot file: state data: %v", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	if !n.IsLeader() {
		return nil, 0, ErrNotLeader
	}
	meta := &raft.SnapshotMeta{
		Version: raft.SnapshotVersion(sf.Header.RaftVersion), Index: sf.Header.Index, Term: sf.Header.Term,
		Size: sf.Header.Size, ConfigurationIndex: sf.Header.ConfigurationIndex,
	}
	n.log.Warn("restoring snapshot at an operator's request: replacing the cluster's state",
		"snapshot_index", sf.Header.Index, "snapshot_term", sf.Header.Term, "size", sf.Header.Size, "taken_on", sf.Header.Node)
	if err := n.raft.Restore(meta, sf.Data(), restoreTimeout); err != nil {
		if errors.Is(err, raft.ErrEnqueueTimeout) {
			return nil, 0, fmt.Errorf("restore did not finish within %s: %w", restoreTimeout, err)
		}
		return nil, 0, raftErr("restore snapshot", err)
	}
	idx := n.raft.AppliedIndex()
	n.log.Info("snapshot restored", "index", idx)
	return &sf.SnapshotSummary, idx, nil
}

// A Baton snapshot file is
//
//	magic "baton-snapshot\n", one format-version byte,
//	header length (uint32, big endian), header (JSON, SnapshotHeader),
//	the Raft snapshot's data (header.size bytes, the fsm snapshot format),
//	SHA-256 of everything before it (32 bytes).
//
// The header keeps Raft's metadata so a restore can hand it back to Raft.
const (
	snapshotFileMagic   = "baton-snapshot\n"
	SnapshotFileVersion = 1
	maxSnapshotHeader   = 1 << 20
	snapshotPrefixLen   = len(snapshotFileMagic) + 1 + 4
)

// SnapshotHeader is the metadata at the start of a Baton snapshot file.
type SnapshotHeader struct {
	// Index and Term of the last Raft entry the data reflects.
	Index uint64 `json:"index"`
	Term  uint64 `json:"term"`
	// Size of the data, in bytes.
	Size               int64            `json:"size"`
	RaftVersion        int              `json:"raft_snapshot_version"`
	ConfigurationIndex uint64           `json:"configuration_index"`
	Configuration      []SnapshotServer `json:"configuration"`
	// Node is the leader that took the snapshot.
	Node    string    `json:"node"`
	Created time.Time `json:"created"`
}

// SnapshotServer is a server of the Raft configuration a snapshot recorded.
type SnapshotServer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"`
}

// WriteSnapshotFile writes a Baton snapshot file: h, then h.Size bytes of
// data, then the checksum.
func WriteSnapshotFile(w io.Writer, h *SnapshotHeader, data io.Reader) error {
	body, err := json.Marshal(h)
	if err != nil {
		return fmt.Errorf("encode snapshot header: %w", err)
	}
	sum := sha256.New()
	mw := io.MultiWriter(w, sum)
	prefix := append([]byte(snapshotFileMagic), SnapshotFileVersion)
	prefix = binary.BigEndian.AppendUint32(prefix, uint32(len(body)))
	if _, err := mw.Write(append(prefix, body...)); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	n, err := io.Copy(mw, data)
	if err != nil {
		return fmt.Errorf("write snapshot data: %w", err)
	}
	if n != h.Size {
		return fmt.Errorf("snapshot data is %d bytes, Raft announced %d", n, h.Size)
	}
	if _, err := w.Write(sum.Sum(nil)); err != nil {
		return fmt.Errorf("write snapshot checksum: %w", err)
	}
	return nil
}

// SnapshotSummary describes a Baton snapshot file.
type SnapshotSummary struct {
	Header   SnapshotHeader
	FileSize int64
	// Checksum is the hex SHA-256 of the file's content; ChecksumOK reports
	// whether the trailer stored in the file matches it.
	Checksum   string
	ChecksumOK bool
}

// SnapshotFile is a Baton snapshot file whose layout has been checked.
type SnapshotFile struct {
	SnapshotSummary

	r       io.ReaderAt
	dataOff int64
}

// OpenSnapshotFile reads the header of the size-byte file r, checks that the
// file is exactly as long as the header says, and computes its checksum. A
// checksum mismatch is not an error here (see Verify), so that inspecting a
// damaged file still shows its header.
func OpenSnapshotFile(r io.ReaderAt, size int64) (*SnapshotFile, error) {
	if size < int64(snapshotPrefixLen) {
		return nil, invalidSnapshot("snapshot file is only %d bytes: not a Baton snapshot, or truncated", size)
	}
	prefix := make([]byte, snapshotPrefixLen)
	if _, err := r.ReadAt(prefix, 0); err != nil {
		return nil, fmt.Errorf("read snapshot file: %w", err)
	}
	if !bytes.HasPrefix(prefix, []byte(snapshotFileMagic)) {
		return nil, invalidSnapshot("not a Baton snapshot file (it does not start with %q)", strings.TrimSpace(snapshotFileMagic))
	}
	if v := prefix[len(snapshotFileMagic)]; v != SnapshotFileVersion {
		return nil, invalidSnapshot("snapshot file format version %d is not supported (this Baton reads version %d)", v, SnapshotFileVersion)
	}
	hlen := int64(binary.BigEndian.Uint32(prefix[len(snapshotFileMagic)+1:]))
	if hlen > maxSnapshotHeader {
		return nil, invalidSnapshot("snapshot file header claims %d bytes: corrupt", hlen)
	}
	if size < int64(snapshotPrefixLen)+hlen {
		return nil, invalidSnapshot("snapshot file is truncated: it ends inside its header")
	}
	body := make([]byte, hlen)
	if _, err := r.ReadAt(body, int64(snapshotPrefixLen)); err != nil {
		return nil, fmt.Errorf("read snapshot header: %w", err)
	}
	f := &SnapshotFile{SnapshotSummary: SnapshotSummary{FileSize: size}, r: r, dataOff: int64(snapshotPrefixLen) + hlen}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&f.Header); err != nil {
		return nil, invalidSnapshot("snapshot file header is corrupt: %v", err)
	}
	if f.Header.Size < 0 {
		return nil, invalidSnapshot("snapshot file header is corrupt: negative size")
	}
	if want := f.dataOff + f.Header.Size + sha256.Size; size != want {
		what := "truncated"
		if size > want {
			what = "longer than its header says"
		}
		return nil, invalidSnapshot("snapshot file is %s: %d bytes, want %d for %d bytes of data", what, size, want, f.Header.Size)
	}
	sum := sha256.New()
	if _, err := io.Copy(sum, io.NewSectionReader(r, 0, size-sha256.Size)); err != nil {
		return nil, fmt.Errorf("read snapshot file: %w", err)
	}
	stored := make([]byte, sha256.Size)
	if _, err := r.ReadAt(stored, size-sha256.Size); err != nil {
		return nil, fmt.Errorf("read snapshot checksum: %w", err)
	}
	computed := sum.Sum(nil)
	f.Checksum = hex.EncodeToString(computed)
	f.ChecksumOK = bytes.Equal(stored, computed)
	return f, nil
}

// Verify returns an error unless the file's checksum matches its content.
func (f *SnapshotFile) Verify() error {
	if !f.ChecksumOK {
		return invalidSnapshot("snapshot file is corrupt: its SHA-256 checksum does not match its content")
	}
	return nil
}

// Data returns a fresh reader of the snapshot's data (the fsm snapshot).
func (f *SnapshotFile) Data() io.Reader { return io.NewSectionReader(f.r, f.dataOff, f.Header.Size) }
