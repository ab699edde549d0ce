package cluster

import (
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// countFSM counts the entries it applies; its snapshot is the count.
type countFSM struct {
	mu sync.Mutex
	n  uint64
}

func (f *countFSM) Apply(*raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return nil
}

func (f *countFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return countSnapshot(f.n), nil
}

func (f *countFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [8]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	f.n = binary.BigEndian.Uint64(b[:])
	f.mu.Unlock()
	return nil
}

type countSnapshot uint64

func (s countSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(s))
	if _, err := sink.Write(b[:]); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (countSnapshot) Release() {}

// cutTransport loses, while told to, the AppendEntries (heartbeats among
// them) or the snapshots sent to one address, as a network that drops one
// connection and not another would.
type cutTransport struct {
	*raft.NetworkTransport
	to                      raft.ServerAddress
	cutAppends, cutInstalls *atomic.Bool
}

var errCut = errors.New("cut off by the test")

func (c *cutTransport) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	if target == c.to && c.cutAppends.Load() {
		return errCut
	}
	return c.NetworkTransport.AppendEntries(id, target, args, resp)
}

// AppendEntriesPipeline is refused for the cut address, so that every
// append to it goes through AppendEntries.
func (c *cutTransport) AppendEntriesPipeline(id raft.ServerID, target raft.ServerAddress) (raft.AppendPipeline, error) {
	if target == c.to {
		return nil, raft.ErrPipelineReplicationNotSupported
	}
	return c.NetworkTransport.AppendEntriesPipeline(id, target)
}

func (c *cutTransport) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	if target == c.to && c.cutInstalls.Load() {
		return errCut
	}
	return c.NetworkTransport.InstallSnapshot(id, target, args, resp, data)
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server cut off from the leader's appends stands for election and is
// then sent a snapshot by that leader: hashicorp/raft installs it, names
// the leader, and leaves the server a candidate. Once that leader dies, the
// candidate refuses the other survivor's votes, and no leader is elected
// until the candidate sends itself the dead leader's heartbeat.
func TestCandidateNamingADeadLeaderIsUnstuck(t *testing.T) {
	const election = 200 * time.Millisecond
	var cutAppends, cutInstalls atomic.Bool
	names := []string{"n1", "n2", "n3"}
	nets := make([]*raft.NetworkTransport, 3)
	for i := range nets {
		tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, time.Second, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		nets[i] = tr
	}
	var servers []raft.Server
	for i, tr := range nets {
		servers = append(servers, raft.Server{ID: raft.ServerID(names[i]), Address: tr.LocalAddr()})
	}
	nodes := make([]*raft.Raft, 3)
	trans := make([]*cutTransport, 3)
	for i := range nodes {
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(names[i])
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = election, election, election/2
		cfg.CommitTimeout = 5 * time.Millisecond
		cfg.SnapshotThreshold, cfg.SnapshotInterval, cfg.TrailingLogs = 1<<20, time.Hour, 4
		cfg.Logger = newHCLogger("raft-"+names[i], slog.New(slog.DiscardHandler))
		trans[i] = &cutTransport{NetworkTransport: nets[i], to: nets[0].LocalAddr(), cutAppends: &cutAppends, cutInstalls: &cutInstalls}
		r, err := raft.NewRaft(cfg, &countFSM{}, raft.NewInmemStore(), raft.NewInmemStore(), raft.NewInmemSnapshotStore(), trans[i])
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = r
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
			t.Fatal(err)
		}
	}
	stopped := make([]bool, 3)
	t.Cleanup(func() {
		for i, r := range nodes {
			if !stopped[i] {
				_ = r.Shutdown().Error()
				_ = nets[i].Close()
			}
		}
	})
	leaderOf := func(among ...int) int {
		for _, i := range among {
			if nodes[i].State() == raft.Leader {
				return i
			}
		}
		return -1
	}
	waitFor(t, 10*time.Second, "a leader", func() bool { return leaderOf(0, 1, 2) >= 0 })
	if leaderOf(0) == 0 {
		if err := nodes[0].LeadershipTransferToServer(servers[1].ID, servers[1].Address).Error(); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a leader other than n1", func() bool { return leaderOf(1, 2) >= 0 })
	}
	lead := leaderOf(1, 2)
	other := 3 - lead // of n2 and n3, the one that does not lead

	// n1 hears nothing from the leader and stands for election; the other
	// follower, which still hears the leader, refuses it.
	cutAppends.Store(true)
	cutInstalls.Store(true)
	waitFor(t, 10*time.Second, "n1 a candidate", func() bool { return nodes[0].State() == raft.Candidate })
	// The leader moves on and compacts its log, so that n1 can only catch
	// up from a snapshot, which the network now lets through.
	for range 20 {
		if err := nodes[lead].Apply([]byte("x"), time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if err := nodes[lead].Snapshot().Error(); err != nil {
		t.Fatal(err)
	}
	cutInstalls.Store(false)
	waitFor(t, 30*time.Second, "n1 installing the leader's snapshot", func() bool { return nodes[0].LastIndex() >= nodes[lead].LastIndex()-1 })
	if _, id := nodes[0].LeaderWithID(); nodes[0].State() != raft.Candidate || id != servers[lead].ID {
		t.Fatalf("n1 is %v naming %q after the snapshot; the case this works around needs a candidate naming %s (has hashicorp/raft changed?)",
			nodes[0].State(), id, servers[lead].ID)
	}

	// More entries reach the other follower only: n1 is behind it.
	for range 5 {
		if err := nodes[lead].Apply([]byte("x"), time.Second).Error(); err != nil {
			t.Fatal(err)
		}
	}
	if nodes[0].LastIndex() >= nodes[other].LastIndex() {
		t.Fatalf("n1's log (%d) is not behind %s's (%d)", nodes[0].LastIndex(), names[other], nodes[other].LastIndex())
	}

	// The leader dies; the network heals.
	_ = nodes[lead].Shutdown().Error()
	_ = nets[lead].Close()
	stopped[lead] = true
	cutAppends.Store(false)
	// Ten election timeouts: without help, nobody wins.
	time.Sleep(10 * election)
	if i := leaderOf(0, other); i >= 0 {
		t.Fatalf("%s was elected without help; the case this works around did not arise", names[i])
	}
	if _, id := nodes[0].LeaderWithID(); nodes[0].State() != raft.Candidate || id != servers[lead].ID {
		t.Fatalf("n1 is %v naming %q, want a candidate naming the dead %s", nodes[0].State(), id, servers[lead].ID)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, i := range []int{0, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			unstickCandidate(stop, nodes[i], trans[i], servers[i].ID, election, slog.New(slog.DiscardHandler))
		}()
	}
	defer wg.Wait()
	defer close(stop)
	waitFor(t, 20*time.Second, "a new leader of n1 and "+names[other], func() bool { return leaderOf(0, other) >= 0 })
	// n1's log is behind; only the other can have won.
	if leaderOf(other) != other {
		t.Errorf("%s leads, want %s", names[leaderOf(0, other)], names[other])
	}
	if err := nodes[other].Apply([]byte("y"), time.Second).Error(); err != nil {
		t.Errorf("the new leader cannot commit: %v", err)
	}
}
