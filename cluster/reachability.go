package cluster

import (
	"time"

	"github.com/hashicorp/raft"
)

// unreachableAfter is how long the leader must have failed to heartbeat a
// server before it stops placing steps there. Gossip alone can keep a server
// "alive" that the leader cannot reach (a partition that other servers
// bridge): steps placed there would wait, unknown to it, until the
// partition heals.
const unreachableAfter = 5 * time.Second

// watchHeartbeats follows Raft's heartbeat observations on the leader and
// keeps the set of servers it cannot reach.
func (n *Node) watchHeartbeats() {
	defer n.wg.Done()
	ch := make(chan raft.Observation, 64)
	obs := raft.NewObserver(ch, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.FailedHeartbeatObservation, raft.ResumedHeartbeatObservation, raft.LeaderObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(obs)
	defer n.raft.DeregisterObserver(obs)
	for {
		select {
		case <-n.stop:
			return
		case o := <-ch:
			changed := false
			n.mu.Lock()
			switch d := o.Data.(type) {
			case raft.FailedHeartbeatObservation:
				id := string(d.PeerID)
				if !n.suspect[id] {
					n.suspect[id], changed = true, true
				}
				if !n.unreachable[id] && !d.LastContact.IsZero() && time.Since(d.LastContact) > unreachableAfter {
					n.unreachable[id], changed = true, true
				}
			case raft.ResumedHeartbeatObservation:
				id := string(d.PeerID)
				if n.unreachable[id] || n.suspect[id] {
					delete(n.unreachable, id)
					delete(n.suspect, id)
					changed = true
				}
			case raft.LeaderObservation:
				// Only the leader heartbeats; a new term starts afresh.
				if len(n.unreachable) > 0 || len(n.suspect) > 0 {
					n.unreachable = map[string]bool{}
					n.suspect = map[string]bool{}
					changed = true
				}
			}
			n.mu.Unlock()
			if changed {
				n.log.Info("leader's reach of servers changed", "unreachable", n.Unreachable())
				n.bumpMembers()
			}
		}
	}
}

// Unreachable lists the servers this leader has failed to heartbeat for a
// while; empty on a follower.
func (n *Node) Unreachable() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]string, 0, len(n.unreachable))
	for id := range n.unreachable {
		out = append(out, id)
	}
	return out
}

// Suspect reports whether this leader's latest heartbeat to the server
// failed (false on a follower, which does not know). A suspect server gets
// no new steps, but keeps those it runs until it is unreachable: after an
// election, the old leader is suspect at the new leader's first heartbeat,
// long before gossip declares it failed.
func (n *Node) Suspect(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.suspect[name]
}

// Reachable reports whether this leader can heartbeat the server (true on a
// follower, which does not know).
func (n *Node) Reachable(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.unreachable[name]
}
