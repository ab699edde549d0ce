package cluster

import (
	"net"
	"sync"
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
				n.leadTerm++
				if string(d.LeaderID) == n.cfg.NodeName {
					n.confirmed = map[string]bool{}
					n.wg.Add(1)
					go n.confirmServers(n.leadTerm)
				} else {
					n.confirmed = nil
				}
				changed = true
			}
			n.mu.Unlock()
			if _, ok := o.Data.(raft.LeaderObservation); ok {
				n.noteLeader()
			}
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
// failed, or the leader has not reached it since it was elected (false
// on a follower, which does not know). A suspect server gets no new steps,
// but keeps those it runs until it is unreachable: after an election the
// old leader, usually dead, stays suspect until it answers, where waiting
// for the new leader's first failed heartbeat to it let the first rounds
// place steps there, to be run again only after their grace.
func (n *Node) Suspect(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.suspect[name] {
		return true
	}
	return n.confirmed != nil && name != n.cfg.NodeName && !n.confirmed[name]
}

// Timings of the leader's confirmation of servers: how long to wait before
// pinging the servers still unconfirmed again, or, once all are confirmed,
// before looking for new ones. A ping waits for its answer as long as
// gossip's own probes do.
const (
	confirmRetry = 200 * time.Millisecond
	confirmIdle  = time.Second
)

// confirmServers runs while this node leads (term is its leadership's
// count): it pings, through gossip, every server gossip lists that it has
// not reached yet, and marks those that answer. Raft reports a failed
// heartbeat, and a resumed one after failures, but not a first success, so
// the leader makes its own contact. Only a running process answers a ping
// (a stopped one's kernel would still accept a connection), and a server
// the leader cannot reach over the network does not answer either.
func (n *Node) confirmServers(term int) {
	defer n.wg.Done()
	for {
		var todo []Member
		n.mu.Lock()
		if n.leadTerm != term {
			n.mu.Unlock()
			return
		}
		n.mu.Unlock()
		for _, m := range n.serverMembers() {
			n.mu.Lock()
			done := n.confirmed[m.Name]
			n.mu.Unlock()
			if m.Name != n.cfg.NodeName && !done {
				todo = append(todo, m)
			}
		}
		var wg sync.WaitGroup
		for _, m := range todo {
			wg.Add(1)
			go func() {
				defer wg.Done()
				addr, err := net.ResolveUDPAddr("udp", m.Addr)
				if err != nil {
					return
				}
				if _, err := n.serf.Memberlist().Ping(m.Name, addr); err != nil {
					return
				}
				n.mu.Lock()
				fresh := n.leadTerm == term && !n.confirmed[m.Name]
				if fresh {
					n.confirmed[m.Name] = true
				}
				n.mu.Unlock()
				if fresh {
					n.log.Info("leader reached server", "server", m.Name)
					n.bumpMembers()
				}
			}()
		}
		wg.Wait()
		wait := confirmRetry
		if len(todo) == 0 {
			wait = confirmIdle
		}
		select {
		case <-n.stop:
			return
		case <-time.After(wait):
		}
	}
}

// Reachable reports whether this leader can heartbeat the server (true on a
// follower, which does not know).
func (n *Node) Reachable(name string) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return !n.unreachable[name]
}
