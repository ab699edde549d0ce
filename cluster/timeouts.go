package cluster

import (
	"fmt"
	"time"
)

// Raft's timers, tuned for a LAN cluster of 3–5 servers. Raft's own
// defaults (1 s, 1 s, 500 ms) put a leader's death about 2 s before a new
// leader places work; halving the heartbeat and election timeouts brings
// that near 1 s. The cost: a follower that hears nothing for
// HeartbeatTimeout (the leader stalled by a long GC pause, an fsync stuck
// behind a saturated disk, CPU starvation) starts an election, so a badly
// overloaded server causes elections that the defaults would have ridden
// out. Each election makes writes wait about one HeartbeatTimeout; nothing
// is lost or applied twice either way. The lease stays at Raft's 500 ms: it
// only bounds how long a leader cut off from its quorum goes on leading,
// not how soon a dead one is replaced, and at 250 ms leaders stepped down
// while their followers were busy applying a cron storm.
const (
	DefaultHeartbeatTimeout   = 500 * time.Millisecond
	DefaultElectionTimeout    = 500 * time.Millisecond
	DefaultLeaderLeaseTimeout = 500 * time.Millisecond
)

// transportTimeout bounds one Raft RPC between servers (a snapshot gets
// longer in proportion to its size). It is also how long the leader takes to
// notice a heartbeat that went nowhere, which is what tells it a server
// gossip calls alive cannot be reached.
const transportTimeout = 3 * time.Second

// Timeouts are Raft's timers; zero fields take the defaults above.
type Timeouts struct {
	Heartbeat   time.Duration
	Election    time.Duration
	LeaderLease time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Heartbeat == 0 {
		t.Heartbeat = DefaultHeartbeatTimeout
	}
	if t.Election == 0 {
		t.Election = DefaultElectionTimeout
	}
	if t.LeaderLease == 0 {
		t.LeaderLease = min(DefaultLeaderLeaseTimeout, t.Heartbeat)
	}
	return t
}

// Check refuses timers Raft would refuse, with the reason.
func (t Timeouts) Check() error {
	t = t.withDefaults()
	const floor = 5 * time.Millisecond
	for name, d := range map[string]time.Duration{"heartbeat_timeout": t.Heartbeat, "election_timeout": t.Election, "leader_lease_timeout": t.LeaderLease} {
		if d < floor {
			return fmt.Errorf("raft %s %s: want at least %s", name, d, floor)
		}
	}
	if t.LeaderLease > t.Heartbeat {
		return fmt.Errorf("raft leader_lease_timeout %s must not exceed heartbeat_timeout %s", t.LeaderLease, t.Heartbeat)
	}
	return nil
}

// String describes the timers, for the conditions a benchmark prints.
func (t Timeouts) String() string {
	t = t.withDefaults()
	return fmt.Sprintf("heartbeat %s, election %s, leader lease %s", t.Heartbeat, t.Election, t.LeaderLease)
}
