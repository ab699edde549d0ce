package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// nemesis is one kind of fault. run injects it, holds it, undoes it and
// returns what it hit; the scheduler then waits for the cluster to agree
// and schedule again before the next fault.
type nemesis struct {
	name string
	// needs names a capability the backend must have: "partition" or
	// "network" (docker network disconnect), or "".
	needs string
	run   func(r *run) (targets, note string, err error)
}

var nemeses = map[string]nemesis{
	"kill-leader":     {name: "kill-leader", run: killLeader},
	"kill-follower":   {name: "kill-follower", run: killFollower},
	"kill-majority":   {name: "kill-majority", run: killMajority},
	"pause-leader":    {name: "pause-leader", run: pauseLeader},
	"wipe-restart":    {name: "wipe-restart", run: wipeRestart},
	"remove-readd":    {name: "remove-readd", run: removeReadd},
	"add-remove":      {name: "add-remove", run: addRemove},
	"isolate-leader":  {name: "isolate-leader", needs: "partition", run: isolateLeader},
	"split-halves":    {name: "split-halves", needs: "partition", run: splitHalves},
	"bridge":          {name: "bridge", needs: "partition", run: bridge},
	"disconnect-node": {name: "disconnect-node", needs: "network", run: disconnectNode},
}

// supported says why the backend cannot inject nm, or "".
func (r *run) supported(nm nemesis) string {
	switch nm.needs {
	case "partition":
		return r.c.b.partitionSupport()
	case "network":
		if r.c.b.kind() != "docker" {
			return "only containers have a network interface to take away"
		}
	}
	return ""
}

// inject runs one nemesis and then requires the cluster to recover: agree
// on a leader with every member, and run a probe instance to success.
func (r *run) inject(name string) {
	r.t.Helper()
	nm, ok := nemeses[name]
	if !ok {
		r.t.Fatalf("unknown nemesis %q", name)
	}
	if why := r.supported(nm); why != "" {
		// On CI a container run that cannot partition would pass without
		// having tested what it is there for.
		if r.c.b.kind() == "docker" && os.Getenv("CI") == "true" {
			r.t.Fatalf("%s cannot be injected: %s (CI=true, so this is a failure, not a skip)", name, why)
		}
		r.note("%s not injected: %s", name, why)
		return
	}
	began := time.Now()
	targets, note, err := nm.run(r)
	took := time.Since(began)
	if err != nil {
		r.t.Fatalf("fault %s: %v", name, err)
	}
	r.addFault(fault{kind: name, targets: targets, at: began.Sub(r.began), took: took, note: note})
	if _, err := r.c.waitAgreement(2 * time.Minute); err != nil {
		r.t.Fatalf("after %s: %v", name, err)
	}
	if err := r.probe(2 * time.Minute); err != nil {
		r.t.Fatalf("after %s the cluster does not schedule: %v", name, err)
	}
}

// hold keeps a fault in effect for between min and max, chosen by the
// schedule's random source so a seed replays it.
func (r *run) hold(min, max time.Duration) time.Duration {
	d := min
	if max > min {
		d += time.Duration(r.sched.Int64N(int64(max - min)))
	}
	time.Sleep(d)
	return d
}

func (r *run) leader() (*node, error) {
	return r.c.waitAgreement(2 * time.Minute)
}

func (r *run) follower(leader *node) *node {
	f := r.liveExcept(leader)
	return f[r.sched.IntN(len(f))]
}

func (r *run) restart(n *node) error {
	if err := r.c.b.start(n, len(r.c.members()), r.c.others(n)); err != nil {
		return err
	}
	r.c.setState(n, stateUp)
	return nil
}

func killLeader(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	killed := time.Now()
	if err := r.c.b.kill(leader); err != nil {
		return leader.name, "", err
	}
	r.c.setState(leader, stateDown)
	// How soon the survivors schedule again is the figure users feel.
	survivors := r.c.live()
	resumed := make(chan error, 1)
	go func() { resumed <- r.probe(time.Minute, survivors...) }()
	next, err := r.c.waitNewLeader(survivors, leader, time.Minute)
	if err != nil {
		return leader.name, "", err
	}
	elected := time.Since(killed)
	if err := <-resumed; err != nil {
		return leader.name, "", fmt.Errorf("the survivors did not schedule after the leader was killed: %w", err)
	}
	resumedAfter := time.Since(killed)
	r.measure("new leader after leader kill", elected)
	r.measure("probe succeeded after leader kill", resumedAfter)
	down := r.hold(500*time.Millisecond, 3*time.Second)
	return leader.name, fmt.Sprintf("%s led %s after the kill, a probe succeeded after %s; restarted after %s", next.name,
		elected.Round(10*time.Millisecond), resumedAfter.Round(10*time.Millisecond), down.Round(100*time.Millisecond)), r.restart(leader)
}

// killFollower sometimes keeps the follower down long enough for gossip to
// declare it failed and the leader to fence and retry its attempts.
func killFollower(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	f := r.follower(leader)
	if err := r.c.b.kill(f); err != nil {
		return f.name, "", err
	}
	r.c.setState(f, stateDown)
	down := r.hold(time.Second, 20*time.Second)
	return f.name, fmt.Sprintf("down %s", down.Round(100*time.Millisecond)), r.restart(f)
}

// killMajority kills a quorum's worth of servers: the survivors must refuse
// writes rather than acknowledge what they cannot commit.
func killMajority(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	members := r.c.members()
	victims := []*node{}
	if r.sched.IntN(2) == 0 {
		victims = append(victims, leader)
	}
	for _, n := range r.sched.Perm(len(members)) {
		if len(victims) == len(members)/2+1 {
			break
		}
		if members[n] != leader {
			victims = append(victims, members[n])
		}
	}
	for _, v := range victims {
		if err := r.c.b.kill(v); err != nil {
			return names(victims), "", err
		}
		r.c.setState(v, stateDown)
	}
	// A write to a survivor must not be acknowledged without a quorum.
	refused := 0
	for _, s := range r.c.live() {
		rec := r.newStart(probeWorkflow, fmt.Sprintf("%s-noquorum-%d", r.scenario, r.nextID()), "no quorum")
		_, err := r.tryStart(rec, s, 4*time.Second, nil)
		if err == nil {
			return names(victims), "", fmt.Errorf("%s acknowledged a start (request %s) while a majority was down", s.name, rec.requestID)
		}
		if !retriable(err) {
			return names(victims), "", fmt.Errorf("%s refused a start without a quorum with %v; want Unavailable or a timeout", s.name, err)
		}
		refused++
	}
	down := r.hold(time.Second, 5*time.Second)
	for _, v := range victims {
		if err := r.restart(v); err != nil {
			return names(victims), "", err
		}
	}
	return names(victims), fmt.Sprintf("%d writes to the survivors refused; down %s", refused, down.Round(100*time.Millisecond)), nil
}

// pauseLeader stops the leader's process (SIGSTOP) until the others have
// elected a new leader, then lets it run again: a zombie that still
// believes it leads, with requests queued while it was stopped.
func pauseLeader(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	if err := r.c.b.stop(leader); err != nil {
		return leader.name, "", err
	}
	r.c.setState(leader, statePaused)
	paused := time.Now()
	next, err := r.c.waitNewLeader(r.liveExcept(leader), leader, time.Minute)
	if err != nil {
		_ = r.c.b.cont(leader)
		return leader.name, "", err
	}
	elected := time.Since(paused)
	r.measure("new leader after leader pause", elected)
	r.hold(200*time.Millisecond, 2*time.Second)
	total := time.Since(paused)
	if err := r.c.b.cont(leader); err != nil {
		return leader.name, "", err
	}
	r.c.setState(leader, stateUp)
	return leader.name, fmt.Sprintf("paused %s; %s led after %s", total.Round(100*time.Millisecond), next.name, elected.Round(10*time.Millisecond)), nil
}

// wipeRestart kills a server, deletes its data dir and starts it again with
// the same name and address: it must catch up from the others.
func wipeRestart(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	v := r.follower(leader)
	if r.sched.IntN(3) == 0 {
		v = leader
	}
	if err := r.c.b.kill(v); err != nil {
		return v.name, "", err
	}
	r.c.setState(v, stateDown)
	if err := r.c.b.wipe(v); err != nil {
		return v.name, "", err
	}
	r.c.mu.Lock()
	v.wiped = append(v.wiped, time.Now())
	r.c.mu.Unlock()
	down := r.hold(500*time.Millisecond, 3*time.Second)
	if err := r.restart(v); err != nil {
		return v.name, "", err
	}
	caught, err := r.waitCaughtUp(v, 2*time.Minute)
	if err != nil {
		return v.name, "", err
	}
	return v.name, fmt.Sprintf("down %s; caught up in %s", down.Round(100*time.Millisecond), caught.Round(100*time.Millisecond)), nil
}

// waitCaughtUp waits until n has applied what the leader had committed when
// the wait began.
func (r *run) waitCaughtUp(n *node, timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	leader, err := r.c.waitAgreement(timeout)
	if err != nil {
		return 0, err
	}
	st, err := r.c.status(leader, 5*time.Second)
	if err != nil {
		return 0, err
	}
	want := st.CommitIndex
	for {
		s, err := r.c.status(n, 2*time.Second)
		if err == nil && s.LastAppliedIndex >= want {
			return time.Since(began), nil
		}
		if time.Since(began) > timeout {
			return 0, fmt.Errorf("%s did not apply index %d within %s (%v %v)", n.name, want, timeout, s, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// removeReadd makes a follower leave gracefully (SIGINT), waits until the
// leader has removed it, then starts it again and waits until it is a
// voter again.
func removeReadd(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	f := r.follower(leader)
	if err := r.c.b.interrupt(f); err != nil {
		return f.name, "", err
	}
	r.c.mu.Lock()
	f.state = stateLeft
	delete(r.c.voters, f.name)
	r.c.mu.Unlock()
	left := time.Now()
	if _, err := r.c.waitAgreement(time.Minute); err != nil {
		return f.name, "", fmt.Errorf("after %s left: %w", f.name, err)
	}
	removed := time.Since(left)
	if err := r.probe(time.Minute); err != nil {
		return f.name, "", fmt.Errorf("without %s: %w", f.name, err)
	}
	r.c.mu.Lock()
	r.c.voters[f.name] = true
	r.c.mu.Unlock()
	if err := r.restart(f); err != nil {
		return f.name, "", err
	}
	return f.name, fmt.Sprintf("removed from Raft %s after leaving", removed.Round(100*time.Millisecond)), nil
}

// addRemove starts a new server, waits until it is a voter and has taken
// part in the work, then makes it leave again.
func addRemove(r *run) (string, string, error) {
	r.c.mu.Lock()
	name := fmt.Sprintf("n%d", len(r.c.nodes)+1)
	r.c.mu.Unlock()
	n, err := r.c.b.newNode(name)
	if err != nil {
		return name, "", err
	}
	size := len(r.c.members())
	r.c.mu.Lock()
	r.c.nodes = append(r.c.nodes, n)
	r.c.voters[n.name] = true
	r.c.mu.Unlock()
	added := time.Now()
	if err := r.c.b.start(n, size, r.c.others(n)); err != nil {
		return name, "", err
	}
	if _, err := r.c.waitAgreement(2 * time.Minute); err != nil {
		return name, "", fmt.Errorf("after adding %s: %w", name, err)
	}
	joined := time.Since(added)
	if _, err := r.waitCaughtUp(n, time.Minute); err != nil {
		return name, "", err
	}
	r.hold(2*time.Second, 6*time.Second)
	if err := r.c.b.interrupt(n); err != nil {
		return name, "", err
	}
	r.c.mu.Lock()
	n.state = stateLeft
	delete(r.c.voters, n.name)
	r.c.mu.Unlock()
	return name, fmt.Sprintf("a voter %s after its start", joined.Round(100*time.Millisecond)), nil
}

// minorityRecord is what the suite saw of one server on the minority side
// of a partition.
type minorityRecord struct {
	fault        string
	node         string
	commitAtCut  uint64
	appliedAtCut uint64
	// bound is the highest index it may ever learn is committed.
	bound      uint64
	maxCommit  uint64
	maxApplied uint64
	polls      int
	writes     int
	acked      []string
	requestIDs []string
	healedAt   time.Time
}

// partition cuts the members into sides (each pair of servers on different
// sides loses all traffic, both ways), watches every server outside the
// majority side while the cut holds — its commit and applied indexes must
// not move, writes sent to it must fail — and requires the majority side to
// keep scheduling. bridges are connected to every side.
func (r *run) partition(kind string, sides [][]*node, bridges []*node) (string, error) {
	var pairs [][2]*node
	for i := range sides {
		for j := i + 1; j < len(sides); j++ {
			for _, a := range sides[i] {
				for _, b := range sides[j] {
					pairs = append(pairs, [2]*node{a, b})
				}
			}
		}
	}
	quorum := len(r.c.members())/2 + 1
	var majority, minority []*node
	for _, s := range sides {
		if len(s)+len(bridges) >= quorum {
			majority = append(majority, s...)
		} else {
			minority = append(minority, s...)
		}
	}
	majority = append(majority, bridges...)
	if err := r.c.b.partition(pairs); err != nil {
		return "", err
	}
	r.c.mu.Lock()
	for _, n := range minority {
		n.cut = true
	}
	r.c.mu.Unlock()
	// The bound: messages still in flight when the cut began carry no
	// commit index above what some server had committed then, and a leader
	// cut off can still learn that entries it had already appended are
	// committed, but nothing it appends later. Read right after the cut,
	// every member's commit index and a cut-off leader's last log index
	// bound what a server without a quorum may ever commit.
	records := map[string]*minorityRecord{}
	var bound uint64
	for _, n := range r.c.members() {
		if r.c.stateOf(n) != stateUp {
			continue
		}
		st, err := r.c.status(n, 5*time.Second)
		if err != nil {
			return "", fmt.Errorf("status of %s after the cut: %w", n.name, err)
		}
		bound = max(bound, st.CommitIndex)
		if slices.Contains(minority, n) {
			if st.RaftState == "Leader" {
				bound = max(bound, st.LastLogIndex)
			}
			records[n.name] = &minorityRecord{fault: kind, node: n.name, commitAtCut: st.CommitIndex, appliedAtCut: st.LastAppliedIndex,
				maxCommit: st.CommitIndex, maxApplied: st.LastAppliedIndex}
		}
	}
	for _, rec := range records {
		rec.bound = bound
	}
	// The majority side must keep scheduling while the cut holds.
	type probed struct {
		id  int64
		err error
	}
	probeDone := make(chan probed, 1)
	go func() {
		if len(majority) < quorum {
			probeDone <- probed{}
			return
		}
		id, err := r.probeInstance(time.Minute, majority...)
		probeDone <- probed{id, err}
	}()
	hold := time.Duration(5+r.sched.IntN(6)) * time.Second
	end := time.Now().Add(hold)
	for time.Now().Before(end) {
		for _, n := range minority {
			rec := records[n.name]
			if st, err := r.c.status(n, 2*time.Second); err == nil {
				rec.polls++
				rec.maxCommit = max(rec.maxCommit, st.CommitIndex)
				rec.maxApplied = max(rec.maxApplied, st.LastAppliedIndex)
			}
			if rec.writes < 2 && time.Until(end) > 4*time.Second {
				rec.writes++
				sr := r.newStart(probeWorkflow, fmt.Sprintf("%s-minority-%d", r.scenario, r.nextID()), "minority")
				rec.requestIDs = append(rec.requestIDs, sr.requestID)
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				_, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: probeWorkflow, RequestId: sr.requestID}))
				cancel()
				r.starts.update(func() { sr.tries++ })
				if err == nil {
					rec.acked = append(rec.acked, sr.requestID)
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	pr := <-probeDone
	// A stalled probe is diagnosed while the cut still holds.
	stall := ""
	if pr.err != nil && pr.id != 0 {
		stall = r.stalledOnUnreachable(pr.id, pairs, majority)
	}
	healed := time.Now()
	if err := r.c.b.heal(); err != nil {
		return "", err
	}
	r.mu.Lock()
	for _, n := range minority {
		records[n.name].healedAt = healed
		r.minority = append(r.minority, *records[n.name])
	}
	r.mu.Unlock()
	r.c.mu.Lock()
	for _, n := range minority {
		n.cut = false
	}
	r.c.mu.Unlock()
	if pr.err != nil {
		if stall != "" {
			pr.err = fmt.Errorf("%w; %s", pr.err, stall)
		}
		return "", fmt.Errorf("the majority side %s stopped scheduling while %s was cut off: %w", names(majority), names(minority), pr.err)
	}
	r.mu.Lock()
	r.progress = append(r.progress, checkResult{name: "the majority side keeps scheduling during a partition", checked: 1})
	r.mu.Unlock()
	desc := ""
	for i, s := range sides {
		if i > 0 {
			desc += " | "
		}
		desc += names(s)
	}
	if len(bridges) > 0 {
		desc += " bridged by " + names(bridges)
	}
	return fmt.Sprintf("%s held %s", desc, hold), nil
}

func isolateLeader(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	note, err := r.partition("isolate-leader", [][]*node{{leader}, r.liveExcept(leader)}, nil)
	return leader.name, note, err
}

func splitHalves(r *run) (string, string, error) {
	if _, err := r.leader(); err != nil {
		return "", "", err
	}
	members := r.c.live()
	perm := r.sched.Perm(len(members))
	var a, b []*node
	for i, p := range perm {
		if i < (len(members)-1)/2 {
			a = append(a, members[p])
		} else {
			b = append(b, members[p])
		}
	}
	note, err := r.partition("split-halves", [][]*node{a, b}, nil)
	return names(a) + " from " + names(b), note, err
}

// bridge cuts the servers into two sides joined only through one server,
// which sees all of them: no side has a quorum without the bridge.
func bridge(r *run) (string, string, error) {
	if _, err := r.leader(); err != nil {
		return "", "", err
	}
	members := r.c.live()
	perm := r.sched.Perm(len(members))
	mid := members[perm[0]]
	var a, b []*node
	for i, p := range perm[1:] {
		if i%2 == 0 {
			a = append(a, members[p])
		} else {
			b = append(b, members[p])
		}
	}
	note, err := r.partition("bridge", [][]*node{a, b}, []*node{mid})
	return mid.name, note, err
}

// disconnectNode takes a server's network interface away (docker network
// disconnect) and gives it back with the same address. The test cannot
// reach it meanwhile, so nothing is observed on its side.
func disconnectNode(r *run) (string, string, error) {
	leader, err := r.leader()
	if err != nil {
		return "", "", err
	}
	v := leader
	if r.sched.IntN(2) == 0 {
		v = r.follower(leader)
	}
	if err := r.c.b.disconnect(v); err != nil {
		return v.name, "", err
	}
	r.c.mu.Lock()
	v.cut = true
	r.c.mu.Unlock()
	if _, err := r.c.waitNewLeader(r.liveExcept(v), v, time.Minute); err != nil && v == leader {
		_ = r.c.b.reconnect(v)
		return v.name, "", err
	}
	if err := r.probe(time.Minute, r.liveExcept(v)...); err != nil {
		_ = r.c.b.reconnect(v)
		return v.name, "", fmt.Errorf("without %s: %w", v.name, err)
	}
	held := r.hold(time.Second, 5*time.Second)
	if err := r.c.b.reconnect(v); err != nil {
		return v.name, "", err
	}
	r.c.mu.Lock()
	v.cut = false
	r.c.mu.Unlock()
	return v.name, fmt.Sprintf("interface gone %s beyond the new election", held.Round(100*time.Millisecond)), nil
}

// checkMinority: no server cut off from a quorum committed or applied
// anything while cut off, none acknowledged a write, and none of the writes
// sent to it exists afterwards.
func (r *run) checkMinority(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "a minority never commits"}
	r.mu.Lock()
	recs := append([]minorityRecord(nil), r.minority...)
	r.mu.Unlock()
	if len(recs) == 0 {
		res.skipped = "no partition left a server without a quorum in this run"
		return res
	}
	byReq := map[string]string{}
	for k, fi := range final {
		byReq[fi.inst.RequestId] = k
	}
	late := 0
	defer func() {
		if late > 0 {
			r.note("%d starts sent to a cut-off server timed out there and took effect after the cut healed", late)
		}
	}()
	for _, m := range recs {
		res.checked++
		if m.polls == 0 {
			res.violations = append(res.violations, fmt.Sprintf("%s (%s): never answered a status call while cut off, so nothing was observed", m.node, m.fault))
		}
		if m.maxCommit > m.bound || m.maxApplied > m.bound {
			res.violations = append(res.violations, fmt.Sprintf("%s (%s): commit index %d -> %d, applied %d -> %d while cut off from a quorum; nothing past %d was committed when the cut began",
				m.node, m.fault, m.commitAtCut, m.maxCommit, m.appliedAtCut, m.maxApplied, m.bound))
		}
		for _, rid := range m.acked {
			res.violations = append(res.violations, fmt.Sprintf("%s (%s) acknowledged start %s while cut off from a quorum", m.node, m.fault, rid))
		}
		// A start that timed out has no known outcome: the request can sit
		// in a connection's send buffer and reach the leader once the cut
		// heals. Taking effect then is allowed; before, it would have
		// crossed the cut.
		for _, rid := range m.requestIDs {
			k, ok := byReq[rid]
			if !ok {
				continue
			}
			created := final[k].inst.CreateTime.AsTime()
			if created.Before(m.healedAt) {
				res.violations = append(res.violations, fmt.Sprintf("start %s, sent to %s while it was cut off (%s), was created as %s at %s, before the cut healed at %s",
					rid, m.node, m.fault, k, created.Format("15:04:05.000"), m.healedAt.Format("15:04:05.000")))
			} else {
				late++
			}
		}
	}
	return res
}

// stalledOnUnreachable explains a probe that did not run while a cut held,
// if its attempts all went to servers the leader has no link to (the bug
// fixed in 6575e14). It returns the evidence, or "".
func (r *run) stalledOnUnreachable(id int64, pairs [][2]*node, majority []*node) string {
	var leaderID string
	for _, n := range majority {
		if st, err := r.c.status(n, 2*time.Second); err == nil && st.RaftState == "Leader" {
			leaderID = n.name
		}
	}
	if leaderID == "" {
		return ""
	}
	cut := map[string]bool{}
	for _, p := range pairs {
		if p[0].name == leaderID {
			cut[p[1].name] = true
		}
		if p[1].name == leaderID {
			cut[p[0].name] = true
		}
	}
	for _, n := range majority {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: probeWorkflow, InstanceId: id, Stale: true}))
		cancel()
		if err != nil || len(res.Msg.Steps) == 0 {
			continue
		}
		// Every attempt went to a server the leader cannot reach: one
		// still waiting there, or fenced when gossip flapped and placed
		// there again.
		st := res.Msg.Steps[0]
		unreachable := len(st.Attempts) > 0
		for _, a := range st.Attempts {
			unreachable = unreachable && cut[a.Node]
		}
		if unreachable && !fsm.StepTerminal(st.Status) {
			return fmt.Sprintf("probe %s/%d waited a minute on servers the leader %s cannot reach: %s (read from %s's replica)",
				probeWorkflow, id, leaderID, harness.DescribeSteps(res.Msg.Steps), n.name)
		}
	}
	return ""
}

// checkProgress gathers the partitions' scheduling verdicts.
func (r *run) checkProgress() checkResult {
	res := checkResult{name: "the majority side keeps scheduling during a partition"}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.progress) == 0 {
		res.skipped = "no partition in this run"
		return res
	}
	for _, p := range r.progress {
		res.checked += p.checked
		res.violations = append(res.violations, p.violations...)
	}
	return res
}
