package scheduler

import (
	"context"
	"log/slog"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// StateSource is the local replica of the state machine.
type StateSource interface {
	State() *fsm.State
	Changed() <-chan struct{}
	// AppliedIndex is the Raft index of the newest command in State.
	AppliedIndex() uint64
}

// MemberSource lists the members that can run steps.
type MemberSource interface {
	Members() []Member
	MembersChanged() <-chan struct{}
}

// Applier commits a plan through Raft and returns what the FSM made of it.
// It fails once this node is no longer the leader.
type Applier interface {
	ApplyPlan(ctx context.Context, plan *statepb.ApplyPlan) (*fsm.PlanResult, error)
}

// Speculator is a StateSource that can show the state as it would be after
// commands not committed yet (fsm.FSM.Speculate).
type Speculator interface {
	Speculate() *fsm.Speculation
}

// maxPasses bounds how many times a round plans again on its own
// decisions.
const maxPasses = 4

// TriggerEpocher is a StateSource that says when what triggers are planned
// from last changed (fsm.FSM.TriggerEpoch).
type TriggerEpocher interface {
	TriggerEpoch() uint64
}

// triggersRefresh is the longest the leader goes without planning triggers
// even when nothing they depend on changed: a bound on the cost of any
// change the epoch would not show.
const triggersRefresh = 5 * time.Second

// triggerMemo is what the leader knows from the last round that planned
// triggers: planning them costs a look at every workflow, so rounds skip
// them while nothing they read changed and none is due.
type triggerMemo struct {
	valid bool
	epoch uint64
	wake  time.Time // earliest due trigger; zero if none
	at    time.Time // when that round ran
}

func (m *triggerMemo) skip(epoch uint64, now time.Time) bool {
	return m.valid && epoch == m.epoch && (m.wake.IsZero() || now.Before(m.wake)) && now.Sub(m.at) < triggersRefresh
}

// maxActionsPerEntry keeps one Raft entry small enough to replicate quickly.
const maxActionsPerEntry = 2000

// Leader runs planning rounds while this node leads. Everything it knows is
// read from the replicated state at each round, so a new leader resumes
// exactly where the old one stopped.
type Leader struct {
	State   StateSource
	Members MemberSource
	Apply   Applier
	Defs    Definitions
	Now     func() time.Time
	Log     *slog.Logger
	// NodeGrace is how long after gaining leadership a node missing from
	// gossip keeps its running attempts (default 10s).
	NodeGrace time.Duration
	// Poke, if set, tells a node that attempts were just placed on it, and
	// which (the steps as committed), so it starts them without waiting to
	// learn of the commit through Raft.
	Poke func(ctx context.Context, node string, steps []*statepb.Step)
	// Retention is the finished-history policy, applied every
	// RetentionInterval (default 30s).
	Retention         Retention
	RetentionInterval time.Duration
	// Results, if set and State is a Speculator, is where this node's API
	// hands attempt results while this loop runs: they are committed in the
	// entry that places the steps they let start.
	Results *Results
	// Protocol, if set, reports the newest command protocol every server
	// applies (cluster.Node.MinProtocol); unset means this build's.
	Protocol func() int

	// signalsFrom is the signal name the next retention pass goes on from.
	signalsFrom string
}

// maxDeletesPerRound bounds the instances one retention entry deletes, and
// maxSignalDeletesPerRound its signals, so pruning a large backlog never
// stalls scheduling. A signal is one record, an instance many.
const (
	maxDeletesPerRound       = 500
	maxSignalDeletesPerRound = 2000
	// maxSignalNamesPerPass bounds the signal names one retention pass
	// looks at (two reads of the store each).
	maxSignalNamesPerPass = 2000
	// maxVersionDeletesPerRound bounds the versions: the FSM reads every
	// instance of the workflow before deleting one.
	maxVersionDeletesPerRound = 100
	// maxActionDeletesPerRound bounds the operator actions on workflows'
	// own timelines: one record each, like a signal.
	maxActionDeletesPerRound = 2000
)

// Run plans until ctx is canceled (leadership lost or shutdown).
func (l *Leader) Run(ctx context.Context) {
	retry := time.NewTimer(0)
	<-retry.C
	grace := l.NodeGrace
	if grace == 0 {
		grace = 10 * time.Second
	}
	deadAfter := l.Now().Add(grace)
	every := l.RetentionInterval
	if every == 0 {
		every = 30 * time.Second
	}
	// A full batch means a backlog: prune again at once (planning still
	// interleaves, since select picks among ready cases), else wait a period.
	pruneTimer := time.NewTimer(every)
	defer pruneTimer.Stop()
	inbox, speculate := l.Results, Speculator(nil)
	if sp, ok := l.State.(Speculator); ok && inbox != nil {
		speculate = sp
		inbox.open()
		defer inbox.close()
	} else {
		inbox = nil
	}
	var trig triggerMemo
	// Step records read in one round serve the next; the term's first
	// round reads each instance whole.
	views := NewStepViews()
	scans := NewSignalScans()
	quiet := NewQuietInstances()
	var resultsWake <-chan struct{}
	if inbox != nil {
		resultsWake = inbox.wake
	}
	for {
		changed := l.State.Changed()
		membersChanged := l.Members.MembersChanged()
		now := l.Now()
		in := Input{Now: now, Members: l.Members.Members(), Defs: l.Defs, Views: views, Scans: scans, Quiet: quiet, NodesDeadAfter: deadAfter}
		if l.Protocol != nil {
			in.Protocol = l.Protocol()
		}
		// Read before the state, so a change after it shows next round.
		ep, hasEpoch := l.State.(TriggerEpocher)
		var epoch uint64
		if hasEpoch {
			epoch = ep.TriggerEpoch()
			in.SkipTriggers = trig.skip(epoch, now)
		}
		var out Output
		var carry []*pendingResult
		chained, unchecked, settled, base := false, 0, false, uint64(0)
		if speculate != nil {
			sp := speculate.Speculate()
			base = sp.Base()
			out, carry, unchecked, settled = l.planAhead(sp, in, inbox.take())
			chained = true
		} else {
			in.State = l.State.State()
			out = Plan(in)
		}
		if out.TriggersPlanned {
			trig = triggerMemo{valid: hasEpoch, epoch: epoch, wake: out.TriggersWakeAt, at: now}
		} else if !trig.wake.IsZero() && (out.WakeAt.IsZero() || trig.wake.Before(out.WakeAt)) {
			out.WakeAt = trig.wake
		}
		if !trig.at.IsZero() && (out.WakeAt.IsZero() || trig.at.Add(triggersRefresh).Before(out.WakeAt)) {
			out.WakeAt = trig.at.Add(triggersRefresh)
		}
		planned := l.Now()
		failed, complete := l.commit(ctx, out.Actions, carry, chained, unchecked)
		if n := len(out.Actions) + len(carry); n > 0 {
			// Rounds that found nothing to do are left out, as they
			// commit nothing.
			committed := l.Now()
			metrics.AddSample([]string{"scheduler", "plan"}, millis(planned.Sub(now)))
			metrics.AddSample([]string{"scheduler", "commit"}, millis(committed.Sub(planned)))
			if l.Log.Enabled(ctx, slog.LevelDebug) {
				l.Log.Debug("planning round", "actions", len(out.Actions), "results", len(carry),
					"plan", planned.Sub(now), "commit", committed.Sub(planned), "failed", failed)
			}
		}
		if !complete {
			// What the memo assumed was committed is not, or not all.
			trig = triggerMemo{}
		}
		// own is the index the state reaches if the next change is this
		// round's one entry and nothing else: a round planned on its
		// speculation, which that entry only makes true, so a round on it
		// would find nothing to do. Skipping it matters in a chain: there
		// it is one round of two, and the next step's result, when the
		// step ran here, waits for it.
		own := uint64(0)
		if chained && settled && !failed && complete && len(out.Actions)+len(carry) > 0 &&
			len(out.Actions) < maxActionsPerEntry && placesOnly(out.Actions) {
			own = base + 1
		}
		if ctx.Err() != nil {
			return
		}
		var wake <-chan time.Time
		if failed {
			retry.Reset(100 * time.Millisecond)
			wake = retry.C
		} else if !out.WakeAt.IsZero() {
			retry.Reset(max(out.WakeAt.Sub(l.Now()), time.Millisecond))
			wake = retry.C
		}
		for waiting := true; waiting; {
			waiting = false
			select {
			case <-ctx.Done():
				retry.Stop()
				return
			case <-changed:
				if own != 0 {
					// Taken before the index is read: a change after it shows.
					next := l.State.Changed()
					if l.State.AppliedIndex() == own {
						changed, own, waiting = next, 0, true
					}
				}
			case <-membersChanged:
			case <-resultsWake:
			case <-wake:
			case <-pruneTimer.C:
				if l.prune(ctx) {
					pruneTimer.Reset(0)
				} else {
					pruneTimer.Reset(every)
				}
			}
		}
		if !retry.Stop() {
			select {
			case <-retry.C:
			default:
			}
		}
	}
}

// planAhead plans a round on a speculation: first the results taken from
// the inbox (those the state refuses are answered now: they are fenced and
// need no entry), then passes of planning, each on the state the previous
// ones leave, while they start work a further pass can plan. It returns the
// actions, in order, the results they were planned on, and how many of the
// actions, at the end, are a last pass that was not applied to the
// speculation: nothing plans on it, so only the entry applies it. settled
// says the passes ended because the last one started nothing a further
// pass could plan, not at a limit (passes, or actions per entry).
func (l *Leader) planAhead(sp *fsm.Speculation, in Input, taken []*pendingResult) (out Output, carry []*pendingResult, unchecked int, settled bool) {
	if len(taken) > 0 {
		rs := make([]*statepb.ReportResult, len(taken))
		for i, p := range taken {
			rs[i] = p.r
		}
		outs := sp.Results(rs)
		for i, p := range taken {
			if o, ok := outs[i].(*fsm.ReportResultOutcome); ok && o.Accepted {
				carry = append(carry, p)
				continue
			}
			// Refused results write nothing, so the speculation holds
			// exactly the carried ones.
			answer([]*pendingResult{p}, outs[i:i+1])
		}
	}
	ts := timestamppb.New(in.Now)
	for pass := 0; pass < maxPasses; pass++ {
		in.State = sp.State()
		o := Plan(in)
		if pass == 0 {
			out.TriggersPlanned, out.TriggersWakeAt = o.TriggersPlanned, o.TriggersWakeAt
		}
		// Later passes see only what this round's own actions changed,
		// which the next round's triggers see as well; and the signals
		// those actions sent, which are not committed yet.
		in.SkipTriggers = true
		in.Speculated = true
		if out.WakeAt.IsZero() || (!o.WakeAt.IsZero() && o.WakeAt.Before(out.WakeAt)) {
			out.WakeAt = o.WakeAt
		}
		// A round that fills an entry commits it first: planning further
		// on would only delay that commit. A server from before protocol 2
		// would apply an unchecked tail as chained, so while one is in the
		// cluster the last pass is checked like the others.
		open := opensWork(o.Actions, o.settled)
		full := len(out.Actions)+len(o.Actions) >= maxActionsPerEntry
		last := pass == maxPasses-1 || !open || full
		if last && in.protocol() >= 2 {
			out.Actions = append(out.Actions, o.Actions...)
			return out, carry, len(o.Actions), !open && !full
		}
		applied := sp.Plan(ts, o.Actions)
		out.Actions = append(out.Actions, applied...)
		if open = opensWork(applied, o.settled); last || !open {
			return out, carry, 0, !open && !full
		}
	}
	return out, carry, 0, false
}

// placesOnly reports whether actions only place plain steps: what they
// change is the steps of instances the round that chose them planned
// whole, so once they are committed, planning again finds nothing new.
// Anything else (a loop, a child, an instance's end, signals, triggers)
// may let another instance or trigger go on, and is planned again.
func placesOnly(actions []*statepb.PlanAction) bool {
	for _, a := range actions {
		if x := a.GetAssign(); x == nil || x.Loop != nil {
			return false
		}
	}
	return true
}

// opensWork reports whether actions may let a further pass plan more at
// once: an instance started by a loop or a trigger (it can be set going), a
// loop step started, an instance ended (its parent's loop goes on, its run
// strategy admits the next). The round already planned what a settled
// action leads to.
func opensWork(actions []*statepb.PlanAction, settled map[*statepb.PlanAction]bool) bool {
	for _, a := range actions {
		switch {
		case settled[a]:
		case a.GetStartChild() != nil, a.GetFireTrigger() != nil, a.GetFireSignalTrigger() != nil:
			return true
		case a.GetAssign() != nil && a.GetAssign().Loop != nil:
			return true
		case a.GetInstanceStatus() != nil && fsm.InstanceTerminal(a.GetInstanceStatus().Status):
			return true
		}
	}
	return false
}

// Proposer is an Applier that can have several entries in flight: the
// function ProposePlan returns waits for one entry's outcome.
type Proposer interface {
	ProposePlan(ctx context.Context, plan *statepb.ApplyPlan) func() (*fsm.PlanResult, error)
}

// commit applies a round's actions, in entries of at most
// maxActionsPerEntry; the first also carries the results the round was
// planned on, whose senders are answered once it committed. The last
// unchecked actions are a pass the speculation did not check. Each entry
// is stamped with the time it is proposed, so what it records (an instance
// starting, an attempt placed) is dated no earlier than that, however long
// the round took to plan or its earlier entries to commit. It reports
// whether an entry failed, and whether every action applied.
//
// An entry waits for the one before it while that one may drop what
// follows (its results refused, a checked action not applying). Entries
// holding only unchecked actions depend on nothing but those before them
// having applied, so once those have, they are proposed together and
// replicate while the leader applies the first of them: a cron storm's
// fires, or a large fan-out's placements, commit at the pace of the disk
// and the followers, not of the leader's apply.
func (l *Leader) commit(ctx context.Context, actions []*statepb.PlanAction, carry []*pendingResult, chained bool, unchecked int) (failed, complete bool) {
	complete = true
	tail := len(actions) - unchecked
	entry := func(start, end int) *statepb.ApplyPlan {
		plan := &statepb.ApplyPlan{Now: timestamppb.New(l.Now()), Actions: actions[start:end], Chained: chained}
		if chained && end > tail {
			plan.Unchecked = int32(end - max(start, tail))
		}
		if start == 0 {
			for _, p := range carry {
				plan.Results = append(plan.Results, p.r)
			}
		}
		return plan
	}
	// done takes one entry's outcome and reports whether to go on.
	done := func(start, end int, res *fsm.PlanResult, err error) bool {
		if start == 0 && len(carry) > 0 {
			if err != nil {
				for _, p := range carry {
					p.finish(false, "", err)
				}
			} else {
				answer(carry, res.Results)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				l.Log.Warn("apply plan failed; retrying", "err", err)
			}
			failed, complete = true, false
			return false
		}
		if res.Dropped {
			// A result was fenced after all, or an action did not apply;
			// the rest of the plan assumed them. The state changed, so the
			// next round replans.
			complete = false
			return false
		}
		if res.Skipped > 0 {
			complete = false
		}
		l.pokeAssigned(ctx, actions[start:end])
		return true
	}
	proposer, _ := l.Apply.(Proposer)
	start := 0
	for ; start < len(actions) || (start == 0 && len(carry) > 0); start += maxActionsPerEntry {
		if proposer != nil && chained && start >= tail && (start > 0 || len(carry) == 0) {
			break
		}
		end := min(start+maxActionsPerEntry, len(actions))
		res, err := l.Apply.ApplyPlan(ctx, entry(start, end))
		if !done(start, end, res, err) {
			return failed, complete
		}
	}
	type inFlight struct {
		start, end int
		wait       func() (*fsm.PlanResult, error)
	}
	var flying []inFlight
	for ; start < len(actions); start += maxActionsPerEntry {
		end := min(start+maxActionsPerEntry, len(actions))
		flying = append(flying, inFlight{start, end, proposer.ProposePlan(ctx, entry(start, end))})
	}
	for _, f := range flying {
		res, err := f.wait()
		if !done(f.start, f.end, res, err) {
			return failed, complete
		}
	}
	return failed, complete
}

// prune commits one batch of retention deletions and reports whether to
// prune again at once: the batch was full (a backlog), or signal names are
// left to look at. A pass that goes on through the signal names looks at
// nothing else: the instances, versions and workflows' actions were looked
// at by the pass that started the round of names.
func (l *Leader) prune(ctx context.Context) (again bool) {
	now := l.Now()
	st := l.State.State()
	var instances, versions, actionDels, purged, purgedActions []*statepb.PlanAction
	signals, actions := 0, 0
	var del []*statepb.PlanAction
	protocol := fsm.Protocol
	if l.Protocol != nil {
		protocol = l.Protocol()
	}
	if l.signalsFrom == "" {
		// What deleted workflows left goes first, whatever the policy:
		// the deletion asked for it (only a cluster at protocol 6 has
		// deleted any). The policy's own instance deletions wait for it,
		// so a batch stays one batch in size.
		purged, purgedActions = PruneDeleted(st, maxDeletesPerRound)
		if len(purged)+len(purgedActions) == 0 {
			instances = Prune(st, now, l.Retention, maxDeletesPerRound)
		}
		if protocol >= 5 {
			// A server from before protocol 5 would skip these deletions
			// and keep the workflows' actions the others deleted.
			actionDels, actions = PruneWorkflowActions(st, l.Retention, maxActionDeletesPerRound)
		}
	}
	if protocol >= 3 {
		// Likewise from protocol 3 for signals and versions.
		if l.signalsFrom == "" {
			versions = PruneVersions(st, l.Retention, maxVersionDeletesPerRound)
		}
		del, signals, l.signalsFrom = PruneSignals(st, now, l.Retention, maxSignalDeletesPerRound, l.signalsFrom, maxSignalNamesPerPass)
	} else {
		l.signalsFrom = ""
	}
	more := l.signalsFrom != ""
	instances = append(purged, instances...)
	plan := append(append(append(append(instances, versions...), del...), actionDels...), purgedActions...)
	if len(plan) == 0 {
		return more
	}
	res, err := l.Apply.ApplyPlan(ctx, &statepb.ApplyPlan{Now: timestamppb.New(now), Actions: plan})
	if err != nil {
		if ctx.Err() == nil {
			l.Log.Warn("retention: delete finished instances, old signals, versions and workflow actions failed", "err", err)
		}
		return false
	}
	l.Log.Debug("retention: deleted finished instances, old signals, versions and workflow actions", "instances", len(instances), "of_deleted_workflows", len(purged), "signals", signals, "versions", len(versions), "workflow_actions", actions, "applied", res.Applied)
	// What the plan asked for: a stale action (rare) deletes less.
	metrics.IncrCounter([]string{"retention", "instances_deleted"}, float32(len(instances)))
	metrics.IncrCounter([]string{"retention", "signals_deleted"}, float32(signals))
	metrics.IncrCounter([]string{"retention", "versions_deleted"}, float32(len(versions)))
	metrics.IncrCounter([]string{"retention", "workflow_actions_deleted"}, float32(actions))
	metrics.IncrCounter([]string{"retention", "deleted_workflow_instances"}, float32(len(purged)))
	if res.Applied == 0 {
		// A plan the state refused whole (stale): the next pass, a
		// period from now, plans on the newer state.
		return false
	}
	return more || len(instances) >= maxDeletesPerRound || len(purged) > 0 || len(purgedActions) > 0 || signals >= maxSignalDeletesPerRound || len(versions) == maxVersionDeletesPerRound ||
		actions >= maxActionDeletesPerRound
}

// pokeAssigned pokes, in the background, each node that just got attempts,
// with the steps as the committed entry left them.
func (l *Leader) pokeAssigned(ctx context.Context, actions []*statepb.PlanAction) {
	if l.Poke == nil {
		return
	}
	st := l.State.State()
	nodes := map[string][]*statepb.Step{}
	for _, a := range actions {
		x := a.GetAssign()
		if x == nil || x.Node == "" {
			continue
		}
		s := st.Step(nil, x.WorkflowId, x.InstanceId, x.StepId)
		if s == nil || int64(len(s.Attempts)) != x.AttemptNumber || s.Attempts[len(s.Attempts)-1].Node != x.Node {
			// Not placed after all (the action was stale), or already
			// moved on: the node's replica tells it.
			nodes[x.Node] = nodes[x.Node]
			continue
		}
		nodes[x.Node] = append(nodes[x.Node], s)
	}
	for node, steps := range nodes {
		go func() {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			l.Poke(pctx, node, steps)
		}()
	}
}

// millis is d in milliseconds, the unit of go-metrics' timers.
func millis(d time.Duration) float32 { return float32(d) / float32(time.Millisecond) }
