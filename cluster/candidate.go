package cluster

import (
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// A server can be left a candidate that names a leader, and with it the
// whole cluster without one, by hashicorp/raft (v1.7.3; v1.8.0 is the
// same):
//
//  1. A follower cut off from the leader stands for election. With pre-vote
//     its term stays the leader's, and the other servers, which still hear
//     the leader, refuse it; it stays a candidate.
//  2. The leader, which has compacted the log the follower lacks, sends it a
//     snapshot. The snapshot's term is the candidate's own, so the candidate
//     installs it and takes the sender as its leader, but does not turn back
//     into a follower (an AppendEntries would do that; an InstallSnapshot
//     does not).
//  3. That leader dies. The candidate refuses every other server's vote
//     "since we have a leader", and cannot win itself, its log being
//     behind. With one server of three dead, no leader is ever elected:
//     found by the long chaos pass (a bridged partition, then a leader kill).
//
// watchCandidate looks for a candidate naming a leader and, once it has
// stayed one for a while, sends this server the heartbeat that leader would
// have sent it: its term, no entries, nothing to commit. Raft takes it like
// any heartbeat of the term's leader and makes the server a follower, which
// is what the snapshot should have done, and which changes no log, no
// commit index and no vote. The follower then misses the next heartbeats,
// forgets the leader, and votes as usual.
//
// Outside this case a candidate names a leader only during a leadership
// transfer (the old leader's heartbeats reach the new one's candidate
// before its election ends), which ends within an election timeout; hence
// the wait.

// StuckCandidateLog is the warning a server logs when it sends itself the
// heartbeat of the leader it still names as a candidate: the chaos suite
// counts it.
const StuckCandidateLog = "raft: a candidate that still names a leader sends itself that leader's heartbeat to become a follower again"

// stuckCandidateAfter is how many election timeouts a server must stay a
// candidate naming a leader before it sends itself that leader's heartbeat.
const stuckCandidateAfter = 3

// watchCandidate runs unstickCandidate for this node until it stops.
func (n *Node) watchCandidate() {
	defer n.wg.Done()
	unstickCandidate(n.stop, n.raft, n.trans, raft.ServerID(n.cfg.NodeName), n.cfg.Timeouts.withDefaults().Election, n.log)
}

// unstickCandidate checks r twice per election timeout until stop closes,
// and sends it, through trans, the heartbeat of the leader it names once it
// has been a candidate naming that leader for stuckCandidateAfter election
// timeouts.
func unstickCandidate(stop <-chan struct{}, r *raft.Raft, trans raft.Transport, self raft.ServerID, election time.Duration, log *slog.Logger) {
	tick := time.NewTicker(election / 2)
	defer tick.Stop()
	var since time.Time
	var named raft.ServerID
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		addr, id := r.LeaderWithID()
		if r.State() != raft.Candidate || addr == "" {
			since = time.Time{}
			continue
		}
		if since.IsZero() || id != named {
			since, named = time.Now(), id
			continue
		}
		if time.Since(since) < stuckCandidateAfter*election {
			continue
		}
		term := r.CurrentTerm()
		log.Warn(StuckCandidateLog,
			"leader", string(id), "term", term, "candidate_for", time.Since(since).Round(time.Millisecond))
		req := &raft.AppendEntriesRequest{
			RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: trans.EncodePeer(id, addr)},
			Term:      term,
		}
		var resp raft.AppendEntriesResponse
		if err := trans.AppendEntries(self, trans.LocalAddr(), req, &resp); err != nil {
			log.Warn("raft: the heartbeat to itself failed; trying again", "err", err)
		}
		since = time.Time{}
	}
}
