package cluster

import (
	"log/slog"
	"math"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
	"github.com/hashicorp/raft"

	"github.com/batonhq/baton/fsm"
)

// snapshotShare is the most of a server's time that writing snapshots may
// take. Raft snapshots every SnapshotThreshold entries whatever the state's
// size, and a snapshot writes the whole state: with a fixed count, the work
// per entry grows with the state (a hundred thousand retained instances
// are a quarter of a gigabyte written every 8,192 entries, seconds of CPU
// on every server), so under steady load the total grows with the square of
// the state. After a snapshot that took T, the next waits at least
// T×(1−share)/share, which keeps the share bounded and the work per entry
// flat; the log then holds the entries of that wait, which a restart
// replays.
const snapshotShare = 0.1

// minSnapshotRest is the shortest rest worth pacing: a snapshot check runs
// every SnapshotInterval anyway, so a small state's snapshots go as before.
const minSnapshotRest = time.Second

// raftReloader is the part of *raft.Raft the pacer changes.
type raftReloader interface {
	ReloadableConfig() raft.ReloadableConfig
	ReloadConfig(raft.ReloadableConfig) error
}

// snapshotPacer holds Raft's snapshot threshold out of reach for a rest
// after each snapshot, then puts the configured one back.
type snapshotPacer struct {
	log *slog.Logger
	// afterFunc is time.AfterFunc, and minRest minSnapshotRest; tests
	// replace them.
	afterFunc func(time.Duration, func()) *time.Timer
	minRest   time.Duration

	mu      sync.Mutex
	raft    raftReloader
	base    uint64
	resting *time.Timer
}

func newSnapshotPacer(log *slog.Logger) *snapshotPacer {
	return &snapshotPacer{log: log, afterFunc: time.AfterFunc, minRest: minSnapshotRest}
}

// attach gives the pacer the Raft it paces; snapshots persisted before it
// are not paced.
func (p *snapshotPacer) attach(r raftReloader) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.raft = r
	p.base = r.ReloadableConfig().SnapshotThreshold
}

// snapshotRest is how long snapshots rest after one that took took.
func snapshotRest(took time.Duration) time.Duration {
	return time.Duration(float64(took) * (1 - snapshotShare) / snapshotShare)
}

// persisted is told of each snapshot written.
func (p *snapshotPacer) persisted(took time.Duration) {
	rest := snapshotRest(took)
	if rest < p.minRest {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.raft == nil {
		return
	}
	if p.resting != nil {
		p.resting.Stop()
	}
	if err := p.setThreshold(math.MaxUint64); err != nil {
		p.log.Warn("snapshot pacing: could not hold off the next snapshot", "err", err)
		return
	}
	p.log.Info("snapshot written; the next waits so that snapshots take at most a tenth of the time",
		"took", took.Round(time.Millisecond), "rest", rest.Round(time.Millisecond))
	metrics.AddSample([]string{"snapshot", "rest"}, float32(rest.Milliseconds()))
	var timer *time.Timer
	timer = p.afterFunc(rest, func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.resting != timer {
			return // a later snapshot started its own rest
		}
		p.resting = nil
		if err := p.setThreshold(p.base); err != nil {
			p.log.Warn("snapshot pacing: could not restore the snapshot threshold", "threshold", p.base, "err", err)
		}
	})
	p.resting = timer
}

func (p *snapshotPacer) setThreshold(v uint64) error {
	rc := p.raft.ReloadableConfig()
	rc.SnapshotThreshold = v
	return p.raft.ReloadConfig(rc)
}

// stop ends a rest without restoring the threshold (Raft is shutting down).
func (p *snapshotPacer) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.resting != nil {
		p.resting.Stop()
		p.resting = nil
	}
}

// pacedFSM is the FSM Raft sees: snapshots tell the pacer how long they
// took to write. It keeps the FSM's batched apply.
var _ raft.BatchingFSM = pacedFSM{}

type pacedFSM struct {
	*fsm.FSM
	pace *snapshotPacer
}

func (f pacedFSM) Snapshot() (raft.FSMSnapshot, error) {
	s, err := f.FSM.Snapshot()
	if err != nil {
		return nil, err
	}
	return &pacedSnapshot{FSMSnapshot: s, pace: f.pace}, nil
}

type pacedSnapshot struct {
	raft.FSMSnapshot
	pace *snapshotPacer
}

func (s *pacedSnapshot) Persist(sink raft.SnapshotSink) error {
	start := time.Now()
	if err := s.FSMSnapshot.Persist(sink); err != nil {
		return err
	}
	s.pace.persisted(time.Since(start))
	return nil
}
