// Package cluster wires Raft and serf together: it forms the cluster from
// gossip (bootstrap once bootstrap_expect servers are seen, later servers
// join as voters through the leader), commits commands, and runs the
// leader's work only while this node leads.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"
	"github.com/hashicorp/raft"
	"github.com/hashicorp/serf/serf"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/storage"
)

// Serf tags every Baton server carries.
const (
	tagRole   = "role"
	tagRaft   = "raft"
	tagAPI    = "api"
	tagExpect = "expect"
	// tagReady is set once the node belongs to a formed Raft cluster; a new
	// server that sees it joins through the leader instead of bootstrapping.
	tagReady  = "raft_ready"
	roleValue = "baton-server"
	// tagProtocol is the newest command protocol the server applies
	// (fsm.Protocol); servers from before it carry none, which is 1.
	tagProtocol = "protocol"
)

// ErrNotLeader is returned by Apply on a node that is not the leader; the
// command was not appended, so it is safe to send again.
var ErrNotLeader = errors.New("this node is not the Raft leader")

// ErrOutcomeUnknown is returned by Apply when leadership was lost after the
// command was appended: it may still commit under the next leader, or not.
// Sending it again could apply it twice, so callers must not retry it
// blindly; a request id makes a retry safe.
var ErrOutcomeUnknown = errors.New("leadership was lost before the write was confirmed; it may or may not have been applied")

// Config configures one server.
type Config struct {
	NodeName        string
	Data            storage.Dir
	RaftAddr        string // host:port, bound and advertised
	SerfAddr        string // host:port, bound and advertised
	APIAddr         string // base URL other nodes use to reach this node's API
	BootstrapExpect int
	RetryJoin       []string
	Tags            map[string]string

	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	TrailingLogs      uint64
	SnapshotsRetained int
	ApplyTimeout      time.Duration
	Timeouts          Timeouts

	// DeadServerCleanup removes a server from Raft once gossip has reported
	// it failed for this long (0 disables), but only while at least
	// MinVoters voters remain, so cleanup never costs the quorum.
	DeadServerCleanup time.Duration
	MinVoters         int

	Logger *slog.Logger
}

// Member is a server as gossip sees it.
type Member struct {
	Name     string
	Addr     string
	Status   string
	RaftAddr string
	APIAddr  string
	Tags     map[string]string
}

// Node is one running server.
type Node struct {
	cfg    Config
	log    *slog.Logger
	raft   *raft.Raft
	stores *storage.RaftStores
	trans  *raft.NetworkTransport
	serf   *serf.Serf
	fsm    *fsm.FSM
	pace   *snapshotPacer

	events   chan serf.Event
	notifyCh chan bool

	mu             sync.Mutex
	membersChanged chan struct{}
	// unreachable are the servers the leader has failed to heartbeat for a
	// while (reachability.go).
	unreachable map[string]bool
	// suspect are the servers whose latest heartbeat from this leader failed.
	suspect map[string]bool
	// confirmed are the servers this node has reached since it became
	// leader (reachability.go); nil while it does not lead.
	confirmed map[string]bool
	// leadTerm counts this node's leaderships, so that a confirmation
	// loop from an earlier one stops.
	leadTerm int
	// knownLeader is the leader this node last knew (empty for none), and
	// knownLeaderCtx is cancelled once it knows another (LeaderUntilChange).
	knownLeader       string
	knownLeaderCtx    context.Context
	knownLeaderCancel context.CancelFunc

	stop     chan struct{}
	wg       sync.WaitGroup
	leaderFn func(ctx context.Context)

	// startIndex is the last log index on disk at start; until the FSM has
	// applied it, this node's state is older than what it already served.
	startIndex uint64
	// readyForReads is set while this node leads and its post-election
	// barrier has applied everything earlier leaders committed.
	readyMu       sync.Mutex
	readyForReads bool

	// failedSince is when the leader first saw each server failed.
	failedSince map[string]time.Time
}

// Start opens the stores, starts Raft and gossip, and begins forming or
// joining the cluster. leaderFn runs while this node leads, with a context
// canceled when leadership is lost.
func Start(cfg Config, f *fsm.FSM, leaderFn func(ctx context.Context)) (*Node, error) {
	if cfg.ApplyTimeout == 0 {
		cfg.ApplyTimeout = 10 * time.Second
	}
	if cfg.SnapshotsRetained == 0 {
		cfg.SnapshotsRetained = 2
	}
	n := &Node{
		cfg: cfg, log: cfg.Logger, fsm: f, leaderFn: leaderFn,
		events: make(chan serf.Event, 256), notifyCh: make(chan bool, 16),
		membersChanged: make(chan struct{}), stop: make(chan struct{}), unreachable: map[string]bool{}, suspect: map[string]bool{},
	}
	if err := n.startRaft(); err != nil {
		return nil, err
	}
	if err := n.startSerf(); err != nil {
		_ = n.raft.Shutdown().Error()
		_ = n.stores.Close()
		return nil, err
	}
	n.wg.Add(5)
	go n.leadershipLoop()
	go n.eventLoop()
	go n.joinLoop()
	go n.watchHeartbeats()
	go n.watchCandidate()
	return n, nil
}

func (n *Node) startRaft() error {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(n.cfg.NodeName)
	rc.Logger = newHCLogger("raft", n.log)
	rc.NotifyCh = n.notifyCh
	rc.ShutdownOnRemove = false
	// Each per-peer figure once, with the peer as a label, not twice.
	rc.NoLegacyTelemetry = true
	t := n.cfg.Timeouts.withDefaults()
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = t.Heartbeat, t.Election, t.LeaderLease
	// Commands that arrive while the leader writes its log wait in a buffer
	// and go to disk together, one fsync for up to MaxAppendEntries.
	rc.BatchApplyCh = true
	if n.cfg.SnapshotThreshold > 0 {
		rc.SnapshotThreshold = n.cfg.SnapshotThreshold
	}
	if n.cfg.SnapshotInterval > 0 {
		rc.SnapshotInterval = n.cfg.SnapshotInterval
	}
	if n.cfg.TrailingLogs > 0 {
		rc.TrailingLogs = n.cfg.TrailingLogs
	}
	stores, err := n.cfg.Data.OpenRaftStores(n.cfg.SnapshotsRetained, os.Stderr)
	if err != nil {
		return err
	}
	n.stores = stores
	addr, err := net.ResolveTCPAddr("tcp", n.cfg.RaftAddr)
	if err != nil {
		_ = stores.Close()
		return fmt.Errorf("raft address %q: %w", n.cfg.RaftAddr, err)
	}
	trans, err := raft.NewTCPTransportWithLogger(n.cfg.RaftAddr, addr, 3, transportTimeout, newHCLogger("raft-net", n.log))
	if err != nil {
		_ = stores.Close()
		return fmt.Errorf("listen for raft on %s: %w", n.cfg.RaftAddr, err)
	}
	n.trans = trans
	if last, err := stores.Log.LastIndex(); err == nil {
		n.startIndex = last
	}
	n.pace = newSnapshotPacer(n.log)
	r, err := raft.NewRaft(rc, pacedFSM{FSM: n.fsm, pace: n.pace}, stores.Log, stores.Stable, stores.Snapshots, trans)
	if err != nil {
		_ = trans.Close()
		_ = stores.Close()
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	n.pace.attach(r)
	return nil
}

func (n *Node) startSerf() error {
	host, portStr, err := net.SplitHostPort(n.cfg.SerfAddr)
	if err != nil {
		return fmt.Errorf("serf address %q: %w", n.cfg.SerfAddr, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("serf address %q: bad port", n.cfg.SerfAddr)
	}
	// memberlist binds and advertises an IP; accept a host name (a
	// container's service name) and use the address it resolves to.
	if net.ParseIP(host) == nil {
		ip, err := net.ResolveIPAddr("ip4", host)
		if err != nil {
			return fmt.Errorf("serf address %q: resolve %s: %w", n.cfg.SerfAddr, host, err)
		}
		host = ip.IP.String()
	}
	sc := serf.DefaultConfig()
	sc.NodeName = n.cfg.NodeName
	sc.EventCh = n.events
	sc.SnapshotPath = n.cfg.Data.SerfSnapshot()
	sc.RejoinAfterLeave = true
	sc.Logger = newStdLogger("serf", n.log)
	sc.Tags = map[string]string{}
	for k, v := range n.cfg.Tags {
		sc.Tags[k] = v
	}
	sc.Tags[tagRole] = roleValue
	sc.Tags[tagRaft] = n.cfg.RaftAddr
	sc.Tags[tagAPI] = n.cfg.APIAddr
	sc.Tags[tagExpect] = strconv.Itoa(n.cfg.BootstrapExpect)
	sc.Tags[tagProtocol] = strconv.Itoa(fsm.Protocol)
	if has, _ := raft.HasExistingState(n.stores.Log, n.stores.Stable, n.stores.Snapshots); has {
		sc.Tags[tagReady] = "1"
	}
	ml := memberlist.DefaultLANConfig()
	ml.Name = n.cfg.NodeName
	ml.BindAddr = host
	ml.BindPort = port
	ml.AdvertiseAddr = host
	ml.AdvertisePort = port
	ml.Logger = newStdLogger("memberlist", n.log)
	sc.MemberlistConfig = ml
	s, err := serf.Create(sc)
	if err != nil {
		return fmt.Errorf("start gossip on %s: %w", n.cfg.SerfAddr, err)
	}
	n.serf = s
	return nil
}

// joinLoop contacts the retry-join addresses until one answers, and
// bootstraps Raft once enough servers are known.
func (n *Node) joinLoop() {
	defer n.wg.Done()
	joined := len(n.cfg.RetryJoin) == 0
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		if !joined {
			if _, err := n.serf.Join(n.cfg.RetryJoin, true); err == nil {
				joined = true
				n.log.Info("joined gossip", "addresses", n.cfg.RetryJoin)
			} else {
				n.log.Debug("gossip join failed; will retry", "err", err)
			}
		}
		if n.maybeBootstrap() && joined {
			return
		}
		select {
		case <-n.stop:
			return
		case <-tick.C:
		}
	}
}

// maybeBootstrap bootstraps Raft when this node has no state and exactly the
// expected number of servers is visible; it returns true once nothing more is
// to be done.
func (n *Node) maybeBootstrap() bool {
	if has, _ := raft.HasExistingState(n.stores.Log, n.stores.Stable, n.stores.Snapshots); has {
		n.markReady()
		return true
	}
	if n.cfg.BootstrapExpect <= 0 {
		return false
	}
	var servers []raft.Server
	for _, m := range n.serverMembers() {
		if m.Status != serf.StatusAlive.String() {
			continue
		}
		if m.Tags[tagReady] == "1" {
			// A cluster already exists: the leader adds us.
			return false
		}
		if e, _ := strconv.Atoi(m.Tags[tagExpect]); e != n.cfg.BootstrapExpect {
			n.log.Warn("server has a different bootstrap_expect; not bootstrapping", "server", m.Name, "its_expect", m.Tags[tagExpect], "ours", n.cfg.BootstrapExpect)
			return false
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.Name), Address: raft.ServerAddress(m.RaftAddr)})
	}
	if len(servers) < n.cfg.BootstrapExpect {
		return false
	}
	slices.SortFunc(servers, func(a, b raft.Server) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	n.log.Info("bootstrapping raft", "servers", len(servers))
	if err := n.raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
		n.log.Error("bootstrap failed", "err", err)
		return false
	}
	n.markReady()
	return true
}

func (n *Node) markReady() {
	tags := n.serf.LocalMember().Tags
	if tags[tagReady] == "1" {
		return
	}
	nt := map[string]string{}
	for k, v := range tags {
		nt[k] = v
	}
	nt[tagReady] = "1"
	if err := n.serf.SetTags(nt); err != nil {
		n.log.Warn("cannot update gossip tags", "err", err)
	}
}

// eventLoop tracks membership: it wakes the scheduler and, on the leader,
// adds joining servers to Raft and removes servers that left gracefully.
func (n *Node) eventLoop() {
	defer n.wg.Done()
	reconcile := time.NewTicker(2 * time.Second)
	defer reconcile.Stop()
	for {
		select {
		case <-n.stop:
			return
		case e := <-n.events:
			if me, ok := e.(serf.MemberEvent); ok {
				n.bumpMembers()
				if n.IsLeader() {
					n.reconcile(me.Members)
				}
			}
		case <-reconcile.C:
			// The periodic pass also catches what no leader saw happen:
			// a server that left while another was leader, or the leader
			// itself leaving, which only its successor can act on.
			if n.IsLeader() {
				n.reconcile(n.serf.Members())
				n.cleanupDeadServers(time.Now())
			}
		}
	}
}

// reconcile makes the Raft configuration follow gossip for the given
// members: a server that left gracefully is removed, and an alive server
// that is not in the configuration is added. It goes by each member's
// status rather than by the event that reported it, so the same pass
// serves events and the periodic sweep.
func (n *Node) reconcile(members []serf.Member) {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	known := map[raft.ServerID]raft.Server{}
	for _, s := range cf.Configuration().Servers {
		known[s.ID] = s
	}
	for _, m := range members {
		if m.Tags[tagRole] != roleValue || m.Name == n.cfg.NodeName {
			continue
		}
		id := raft.ServerID(m.Name)
		_, in := known[id]
		switch {
		case m.Status == serf.StatusLeft && in:
			n.log.Info("removing server that left", "server", m.Name)
			if err := n.raft.RemoveServer(id, 0, 0).Error(); err != nil {
				n.log.Warn("remove server failed", "server", m.Name, "err", err)
			}
		case m.Status == serf.StatusAlive && !in:
			n.log.Info("adding server", "server", m.Name, "raft", m.Tags[tagRaft])
			if err := n.raft.AddVoter(id, raft.ServerAddress(m.Tags[tagRaft]), 0, 0).Error(); err != nil {
				n.log.Warn("add server failed", "server", m.Name, "err", err)
			}
		}
	}
}

// cleanupDeadServers removes at most one server that has been failed longer
// than DeadServerCleanup, if at least MinVoters voters would remain.
func (n *Node) cleanupDeadServers(now time.Time) {
	if n.cfg.DeadServerCleanup <= 0 {
		return
	}
	if n.failedSince == nil {
		n.failedSince = map[string]time.Time{}
	}
	failed := map[string]bool{}
	for _, m := range n.serf.Members() {
		if m.Tags[tagRole] == roleValue && m.Status == serf.StatusFailed {
			failed[m.Name] = true
			if _, ok := n.failedSince[m.Name]; !ok {
				n.failedSince[m.Name] = now
			}
		}
	}
	for name := range n.failedSince {
		if !failed[name] {
			delete(n.failedSince, name)
		}
	}
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return
	}
	voters := 0
	for _, s := range cf.Configuration().Servers {
		if s.Suffrage == raft.Voter {
			voters++
		}
	}
	minVoters := max(n.cfg.MinVoters, 1)
	for _, s := range cf.Configuration().Servers {
		since, ok := n.failedSince[string(s.ID)]
		if !ok || now.Sub(since) < n.cfg.DeadServerCleanup {
			continue
		}
		if voters-1 < minVoters {
			n.log.Warn("dead server kept: removing it would leave fewer voters than min_voters",
				"server", s.ID, "voters", voters, "min_voters", minVoters)
			return
		}
		n.log.Info("removing dead server", "server", s.ID, "failed_for", now.Sub(since).Round(time.Second))
		if err := n.raft.RemoveServer(s.ID, 0, 0).Error(); err != nil {
			n.log.Warn("remove dead server failed", "server", s.ID, "err", err)
		}
		delete(n.failedSince, string(s.ID))
		return
	}
}

func (n *Node) bumpMembers() {
	n.mu.Lock()
	close(n.membersChanged)
	n.membersChanged = make(chan struct{})
	n.mu.Unlock()
}

// leadershipLoop runs leaderFn while this node leads. After winning an
// election it first waits for a barrier, so the FSM holds every entry the old
// leader committed before anything is planned from it.
func (n *Node) leadershipLoop() {
	defer n.wg.Done()
	type term struct {
		cancel context.CancelFunc
		done   chan struct{}
	}
	var cur *term
	stopLeading := func() {
		n.setReadyForReads(false)
		if cur != nil {
			cur.cancel()
			<-cur.done
			cur = nil
			n.log.Info("stopped leader duties")
		}
	}
	defer stopLeading()
	for {
		select {
		case <-n.stop:
			return
		case isLeader := <-n.notifyCh:
			if !isLeader {
				stopLeading()
				continue
			}
			if cur != nil {
				continue
			}
			if !n.barrier() {
				continue
			}
			n.setReadyForReads(true)
			ctx, cancel := context.WithCancel(context.Background())
			cur = &term{cancel: cancel, done: make(chan struct{})}
			n.log.Info("leading: scheduling starts", "applied_index", n.fsm.AppliedIndex())
			go func(done chan struct{}) {
				defer close(done)
				n.leaderFn(ctx)
			}(cur.done)
		}
	}
}

// barrier waits until every entry of earlier terms is applied, retrying while
// this node still leads; it returns false once leadership is gone.
func (n *Node) barrier() bool {
	for {
		err := n.raft.Barrier(n.cfg.ApplyTimeout).Error()
		if err == nil {
			return true
		}
		if n.raft.State() != raft.Leader {
			return false
		}
		n.log.Warn("barrier after election failed; retrying", "err", err)
		select {
		case <-n.stop:
			return false
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Node) setReadyForReads(v bool) {
	n.readyMu.Lock()
	n.readyForReads = v
	n.readyMu.Unlock()
}

// VerifyLeader confirms, with a round of heartbeats to a quorum, that this
// node leads and its state holds every write committed before the call, so
// a read served from it now is linearizable.
func (n *Node) VerifyLeader() error {
	n.readyMu.Lock()
	ready := n.readyForReads
	n.readyMu.Unlock()
	if !ready {
		return ErrNotLeader
	}
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	}
	return nil
}

// ReadyToLead reports whether this node leads and has applied every entry
// of earlier terms (its post-election barrier passed). Until then its state
// may miss writes the previous leader committed, so it must not judge a
// write against it (which version is active, whether content is new).
func (n *Node) ReadyToLead() bool {
	n.readyMu.Lock()
	ready := n.readyForReads
	n.readyMu.Unlock()
	return ready && n.raft.State() == raft.Leader
}

// Replayed reports whether the state machine has applied the log this node
// had on disk when it started, so its reads are no older than before.
func (n *Node) Replayed() bool { return n.raft.AppliedIndex() >= n.startIndex }

// Apply commits a command and returns the FSM's result for it.
func (n *Node) Apply(ctx context.Context, m proto.Message) (any, error) {
	return n.Propose(ctx, m)()
}

// Propose hands a command to Raft and returns at once; the function it
// returns waits for the command's outcome, as Apply does. Commands proposed
// one after another commit in that order, so a caller can have several in
// flight: later ones replicate while this node applies earlier ones.
func (n *Node) Propose(ctx context.Context, m proto.Message) func() (any, error) {
	if n.raft.State() != raft.Leader {
		return func() (any, error) { return nil, ErrNotLeader }
	}
	data, err := fsm.Encode(m)
	if err != nil {
		return func() (any, error) { return nil, err }
	}
	// Raft reads a timeout of zero or less as "wait for ever", so a caller
	// out of time must be answered here, before anything is appended.
	if err := ctx.Err(); err != nil {
		return func() (any, error) { return nil, fmt.Errorf("not proposed: %w", err) }
	}
	timeout := n.cfg.ApplyTimeout
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return func() (any, error) { return nil, fmt.Errorf("not proposed: %w", context.DeadlineExceeded) }
		}
		timeout = min(timeout, left)
	}
	f := n.raft.Apply(data, timeout)
	return func() (any, error) { return applied(f) }
}

// applied waits for a proposed command and returns what the FSM made of it.
func applied(f raft.ApplyFuture) (any, error) {
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrLeadershipLost) {
			return nil, ErrOutcomeUnknown
		}
		// A server shutting down fails the commands it holds, whether
		// or not they were appended and replicated.
		if errors.Is(err, raft.ErrRaftShutdown) {
			return nil, fmt.Errorf("%w: %v", ErrOutcomeUnknown, err)
		}
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipTransferInProgress) {
			return nil, fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return nil, fmt.Errorf("raft apply: %w", err)
	}
	return f.Response(), nil
}

// IsLeader reports whether this node is the Raft leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// Leader returns the leader's id and its API address, if known.
func (n *Node) Leader() (id, apiAddr string) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", ""
	}
	for _, m := range n.serverMembers() {
		if m.Name == string(lid) {
			return m.Name, m.APIAddr
		}
	}
	return string(lid), ""
}

// LeaderUntilChange is Leader, with a context that is cancelled once this
// node learns of another leader, or of none (a follower that stops hearing
// from the leader stands for election, and knows none from then on). A
// call forwarded to a leader that hangs or died without closing its sockets
// is abandoned then, at the election, not when its connection times out.
func (n *Node) LeaderUntilChange() (id, apiAddr string, until context.Context) {
	for {
		id, apiAddr = n.Leader()
		n.mu.Lock()
		n.noteLeaderLocked(id)
		until = n.knownLeaderCtx
		n.mu.Unlock()
		// Raft may have moved on since Leader read it, and its observation
		// may have been noted before this stale id: look once more, so the
		// context returned is never that of a leader already replaced.
		if _, cur := n.raft.LeaderWithID(); string(cur) == id {
			return id, apiAddr, until
		}
	}
}

// noteLeader records the leader Raft knows now; watchHeartbeats calls it on
// every leader observation, and reads Raft again rather than trusting the
// observation, which may be older than an id LeaderUntilChange noted.
func (n *Node) noteLeader() {
	_, id := n.raft.LeaderWithID()
	n.mu.Lock()
	n.noteLeaderLocked(string(id))
	n.mu.Unlock()
}

func (n *Node) noteLeaderLocked(id string) {
	if n.knownLeaderCtx != nil && id == n.knownLeader {
		return
	}
	if n.knownLeaderCancel != nil {
		n.knownLeaderCancel()
	}
	n.knownLeader = id
	n.knownLeaderCtx, n.knownLeaderCancel = context.WithCancel(context.Background())
}

// Name returns this node's name.
func (n *Node) Name() string { return n.cfg.NodeName }

// Members returns the servers gossip knows, in name order.
func (n *Node) Members() []Member { return n.serverMembers() }

// MembersChanged is closed at the next membership change.
func (n *Node) MembersChanged() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.membersChanged
}

// MinProtocol is the oldest command protocol among the servers of the Raft
// configuration, as their gossip tags say, whether they are up or not: a
// server that comes back replays every entry written meanwhile. A server
// gossip does not know (yet, or any more) counts as protocol 1.
func (n *Node) MinProtocol() int {
	cf := n.raft.GetConfiguration()
	if cf.Error() != nil {
		return 1
	}
	tags := map[string]map[string]string{}
	for _, m := range n.serverMembers() {
		tags[m.Name] = m.Tags
	}
	lowest := fsm.Protocol
	for _, s := range cf.Configuration().Servers {
		lowest = min(lowest, memberProtocol(tags[string(s.ID)]))
	}
	return lowest
}

// memberProtocol reads a server's protocol tag: none, or one that does not
// parse, is protocol 1.
func memberProtocol(tags map[string]string) int {
	if p, err := strconv.Atoi(tags[tagProtocol]); err == nil && p >= 1 {
		return p
	}
	return 1
}

func (n *Node) serverMembers() []Member {
	var out []Member
	for _, m := range n.serf.Members() {
		if m.Tags[tagRole] != roleValue {
			continue
		}
		out = append(out, Member{
			Name: m.Name, Addr: net.JoinHostPort(m.Addr.String(), strconv.Itoa(int(m.Port))),
			Status: m.Status.String(), RaftAddr: m.Tags[tagRaft], APIAddr: m.Tags[tagAPI], Tags: m.Tags,
		})
	}
	slices.SortFunc(out, func(a, b Member) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return out
}

// Status is this node's view of Raft.
type Status struct {
	State        string
	LeaderID     string
	LeaderRaft   string
	LeaderAPI    string
	Peers        []raft.Server
	LastApplied  uint64
	CommitIndex  uint64
	LastLogIndex uint64
	Term         uint64
	// FirstLogIndex is the oldest entry still in the log on disk.
	FirstLogIndex     uint64
	LastSnapshotIndex uint64
}

// Status reports this node's Raft state.
func (n *Node) Status() Status {
	addr, id := n.raft.LeaderWithID()
	st := Status{State: n.raft.State().String(), LeaderID: string(id), LeaderRaft: string(addr), LastApplied: n.raft.AppliedIndex()}
	_, st.LeaderAPI = n.Leader()
	if cf := n.raft.GetConfiguration(); cf.Error() == nil {
		st.Peers = cf.Configuration().Servers
	}
	stats := n.raft.Stats()
	st.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	st.LastLogIndex, _ = strconv.ParseUint(stats["last_log_index"], 10, 64)
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.LastSnapshotIndex, _ = strconv.ParseUint(stats["last_snapshot_index"], 10, 64)
	st.FirstLogIndex, _ = n.stores.Log.FirstIndex()
	return st
}

// Shutdown stops the node. With leave, it first leaves gossip gracefully so
// the leader removes it from Raft.
func (n *Node) Shutdown(leave bool) error {
	var errs []error
	if leave {
		if err := n.serf.Leave(); err != nil {
			errs = append(errs, fmt.Errorf("leave gossip: %w", err))
		}
	}
	close(n.stop)
	n.wg.Wait()
	if err := n.serf.Shutdown(); err != nil {
		errs = append(errs, fmt.Errorf("stop gossip: %w", err))
	}
	if err := n.raft.Shutdown().Error(); err != nil {
		errs = append(errs, fmt.Errorf("stop raft: %w", err))
	}
	n.pace.stop()
	if err := n.trans.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raft transport: %w", err))
	}
	if err := n.stores.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close raft log: %w", err))
	}
	return errors.Join(errs...)
}
