package scheduler

import (
	"context"
	"log/slog"
	"time"

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

// Applier commits a plan through Raft. It fails once this node is no longer
// the leader.
type Applier interface {
	ApplyPlan(ctx context.Context, plan *statepb.ApplyPlan) error
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
	// Poke, if set, tells a node that attempts were just placed on it, so it
	// starts them without waiting to learn of the commit through Raft.
	Poke func(ctx context.Context, node string)
	// Retention is the finished-history policy, applied every
	// RetentionInterval (default 30s).
	Retention         Retention
	RetentionInterval time.Duration
}

// maxDeletesPerRound bounds one retention entry, so pruning a large backlog
// never stalls scheduling.
const maxDeletesPerRound = 500

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
	for {
		changed := l.State.Changed()
		membersChanged := l.Members.MembersChanged()
		now := l.Now()
		out := Plan(Input{State: l.State.State(), Now: now, Members: l.Members.Members(), Defs: l.Defs, NodesDeadAfter: deadAfter})
		failed := false
		for start := 0; start < len(out.Actions); start += maxActionsPerEntry {
			end := min(start+maxActionsPerEntry, len(out.Actions))
			err := l.Apply.ApplyPlan(ctx, &statepb.ApplyPlan{Now: timestamppb.New(now), Actions: out.Actions[start:end]})
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.Log.Warn("apply plan failed; retrying", "err", err)
				failed = true
				break
			}
			l.pokeAssigned(ctx, out.Actions[start:end])
		}
		var wake <-chan time.Time
		if failed {
			retry.Reset(100 * time.Millisecond)
			wake = retry.C
		} else if !out.WakeAt.IsZero() {
			retry.Reset(max(out.WakeAt.Sub(l.Now()), time.Millisecond))
			wake = retry.C
		}
		select {
		case <-ctx.Done():
			retry.Stop()
			return
		case <-changed:
		case <-membersChanged:
		case <-wake:
		case <-pruneTimer.C:
			if l.prune(ctx) == maxDeletesPerRound {
				pruneTimer.Reset(0)
			} else {
				pruneTimer.Reset(every)
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

// prune commits one batch of retention deletions and returns its size.
func (l *Leader) prune(ctx context.Context) int {
	now := l.Now()
	actions := Prune(l.State.State(), now, l.Retention, maxDeletesPerRound)
	if len(actions) == 0 {
		return 0
	}
	if err := l.Apply.ApplyPlan(ctx, &statepb.ApplyPlan{Now: timestamppb.New(now), Actions: actions}); err != nil {
		if ctx.Err() == nil {
			l.Log.Warn("retention: delete finished instances failed", "err", err)
		}
		return 0
	}
	l.Log.Debug("retention: deleted finished instances", "count", len(actions))
	return len(actions)
}

// pokeAssigned pokes, in the background, each node that just got attempts.
func (l *Leader) pokeAssigned(ctx context.Context, actions []*statepb.PlanAction) {
	if l.Poke == nil {
		return
	}
	nodes := map[string]bool{}
	for _, a := range actions {
		if x := a.GetAssign(); x != nil {
			nodes[x.Node] = true
		}
	}
	for node := range nodes {
		go func(node string) {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			l.Poke(pctx, node)
		}(node)
	}
}
