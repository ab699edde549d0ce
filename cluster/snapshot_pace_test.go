package cluster

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// fakeRaft keeps the reloadable config the pacer sets.
type fakeRaft struct {
	mu sync.Mutex
	rc raft.ReloadableConfig
}

func (f *fakeRaft) ReloadableConfig() raft.ReloadableConfig {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rc
}

func (f *fakeRaft) ReloadConfig(rc raft.ReloadableConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rc = rc
	return nil
}

func (f *fakeRaft) threshold() uint64 { return f.ReloadableConfig().SnapshotThreshold }

// pendingTimer is a rest the test ends by hand.
type pendingTimer struct {
	d  time.Duration
	fn func()
}

// After a snapshot that took long, Raft takes no other until the rest,
// nine times as long, is over; then the configured threshold is back, and
// the other settings never change. A short snapshot is not paced, and a
// rest cut short by a later snapshot's leaves that one's in force.
func TestSnapshotPacerRestsAfterALongSnapshot(t *testing.T) {
	r := &fakeRaft{rc: raft.ReloadableConfig{SnapshotThreshold: 8192, TrailingLogs: 10240, SnapshotInterval: 5 * time.Second,
		HeartbeatTimeout: 500 * time.Millisecond, ElectionTimeout: 500 * time.Millisecond}}
	orig := r.ReloadableConfig()
	var timers []pendingTimer
	p := newSnapshotPacer(slog.New(slog.DiscardHandler))
	p.afterFunc = func(d time.Duration, fn func()) *time.Timer {
		timers = append(timers, pendingTimer{d, fn})
		return time.NewTimer(time.Hour) // stands for the timer; never fires
	}
	p.persisted(2 * time.Second) // before attach: not paced
	p.attach(r)

	p.persisted(100 * time.Millisecond)
	if len(timers) != 0 || r.threshold() != 8192 {
		t.Fatalf("a 100 ms snapshot was paced: %d rests, threshold %d", len(timers), r.threshold())
	}

	p.persisted(2 * time.Second)
	if len(timers) != 1 || timers[0].d != 18*time.Second {
		t.Fatalf("rests %+v, want one of 18s after a 2s snapshot", timers)
	}
	if r.threshold() != math.MaxUint64 {
		t.Fatalf("threshold %d during the rest", r.threshold())
	}
	timers[0].fn()
	if got := r.ReloadableConfig(); got != orig {
		t.Fatalf("after the rest: %+v, want %+v", got, orig)
	}

	// A second long snapshot before the first rest ends: the first rest's
	// end restores nothing, the second's does.
	p.persisted(time.Second)
	p.persisted(3 * time.Second)
	if len(timers) != 3 {
		t.Fatalf("rests %+v", timers)
	}
	timers[1].fn()
	if r.threshold() != math.MaxUint64 {
		t.Fatal("an earlier rest's end restored the threshold during a later rest")
	}
	timers[2].fn()
	if got := r.ReloadableConfig(); got != orig {
		t.Fatalf("after the last rest: %+v, want %+v", got, orig)
	}
}

func TestSnapshotRestKeepsTheShare(t *testing.T) {
	for _, took := range []time.Duration{time.Millisecond, time.Second, 7 * time.Second} {
		rest := snapshotRest(took)
		if share := float64(took) / float64(took+rest); math.Abs(share-snapshotShare) > 1e-9 {
			t.Errorf("a %s snapshot rests %s: a share of %.4f, want %.2f", took, rest, share, snapshotShare)
		}
	}
}

// On a real Raft: after a snapshot, none is taken while the rest lasts,
// however far the log runs past the threshold; once it ends, the next
// snapshot comes at the configured threshold.
func TestSnapshotPacerHoldsRealRaft(t *testing.T) {
	state := fsm.New()
	p := newSnapshotPacer(slog.New(slog.DiscardHandler))
	p.minRest = 0
	var rests []pendingTimer
	var mu sync.Mutex
	p.afterFunc = func(d time.Duration, fn func()) *time.Timer {
		mu.Lock()
		defer mu.Unlock()
		rests = append(rests, pendingTimer{d, fn})
		return time.NewTimer(time.Hour)
	}
	rc := raft.DefaultConfig()
	rc.LocalID = "n1"
	rc.Logger = newHCLogger("raft", slog.New(slog.DiscardHandler))
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = 50*time.Millisecond, 50*time.Millisecond, 50*time.Millisecond
	rc.SnapshotThreshold, rc.SnapshotInterval, rc.TrailingLogs = 16, 5*time.Millisecond, 4
	snaps, err := raft.NewFileSnapshotStore(t.TempDir(), 5, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	addr, trans := raft.NewInmemTransport("n1")
	logs := raft.NewInmemStore()
	r, err := raft.NewRaft(rc, pacedFSM{FSM: state, pace: p}, logs, logs, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Shutdown().Error() })
	p.attach(r)
	if err := r.BootstrapCluster(raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}).Error(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-r.LeaderCh():
	case <-time.After(10 * time.Second):
		t.Fatal("no leader")
	}
	apply := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			data, err := fsm.Encode(&statepb.PushWorkflow{WorkflowId: fmt.Sprintf("w%d", i), Definition: "{}", Digest: "d"})
			if err != nil {
				t.Fatal(err)
			}
			if err := r.Apply(data, 5*time.Second).Error(); err != nil {
				t.Fatal(err)
			}
		}
	}
	count := func() int {
		list, err := snaps.List()
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	waitSnapshots := func(n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for count() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d snapshot(s) after 10s, want %d", count(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	rested := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(rests)
	}
	apply(0, 20)
	waitSnapshots(1)
	// The pacer hears of the snapshot once its file is closed, on Raft's
	// snapshot goroutine, before that goroutine checks for another.
	for deadline := time.Now().Add(10 * time.Second); rested() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the pacer never heard of the snapshot")
		}
	}
	if got := r.ReloadableConfig().SnapshotThreshold; got != math.MaxUint64 {
		t.Fatalf("threshold %d after a snapshot, want it held off", got)
	}
	// Ten times the threshold, and forty snapshot checks: still one.
	apply(20, 180)
	time.Sleep(200 * time.Millisecond)
	if n := count(); n != 1 {
		t.Fatalf("%d snapshots during the rest, want 1", n)
	}
	mu.Lock()
	if len(rests) != 1 {
		t.Fatalf("rests %v, want 1", rests)
	}
	end := rests[0].fn
	mu.Unlock()
	end()
	waitSnapshots(2)
	if got := r.ReloadableConfig(); got.HeartbeatTimeout != rc.HeartbeatTimeout || got.TrailingLogs != rc.TrailingLogs {
		t.Fatalf("pacing changed other settings: %+v", got)
	}
}
