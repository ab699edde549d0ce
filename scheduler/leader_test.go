package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// planAhead plans on its own decisions: one round starts a foreach's
// iterations and places their steps; the next, given the steps' results,
// ends those iterations and starts the next ones — work that takes a round
// per stage without speculation. Committed as chained entries, the plans
// leave the real state exactly where the speculation did.
func TestPlanAheadChainsStagesInOneRound(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "loop", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2, 3, 4]}}}},
	    "concurrency": 2, "steps": [{"step": {"id": "work", "type": "NoOp"}}]}}]}}`)
	l := &Leader{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	in := Input{Now: px.now, Members: px.members, Defs: px.defs}
	commit := func(out Output, carry []*pendingResult, unchecked int) {
		t.Helper()
		plan := &statepb.ApplyPlan{Now: timestamppb.New(px.now), Actions: out.Actions, Chained: true, Unchecked: int32(unchecked)}
		for _, p := range carry {
			plan.Results = append(plan.Results, p.r)
		}
		res := px.apply(plan).(*fsm.PlanResult)
		if res.Dropped || res.Skipped != 0 || res.Applied != len(out.Actions) {
			t.Fatalf("committing the speculated plan: %+v", res)
		}
	}
	running := func() []*statepb.Step {
		var out []*statepb.Step
		for _, st := range px.f.State().RunningSteps() {
			if st.StepId == "work" {
				out = append(out, st)
			}
		}
		return out
	}

	out, _, unchecked, _ := l.planAhead(px.f.Speculate(), in, nil)
	commit(out, nil, unchecked)
	if n := len(running()); n != 2 {
		t.Fatalf("after one round %d iteration steps run, want 2 (concurrency 2): the loop step, its children and their steps in one round", n)
	}

	var taken []*pendingResult
	for _, st := range running() {
		a := st.Attempts[0]
		taken = append(taken, &pendingResult{r: &statepb.ReportResult{WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
			AttemptNumber: 1, Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(), Executions: 1},
			done: make(chan struct{})})
	}
	b := NewResults()
	for _, p := range taken {
		p.inbox = b
	}
	out, carry, unchecked, _ := l.planAhead(px.f.Speculate(), in, taken)
	if len(carry) != 2 {
		t.Fatalf("%d results carried, want 2", len(carry))
	}
	commit(out, carry, unchecked)
	next := running()
	if len(next) != 2 {
		t.Fatalf("after the results' round %d steps run, want the next 2 iterations'", len(next))
	}
	for _, st := range next {
		for _, p := range taken {
			if st.WorkflowId == p.r.WorkflowId && st.InstanceId == p.r.InstanceId {
				t.Fatalf("iteration %s/%d runs again", st.WorkflowId, st.InstanceId)
			}
		}
	}
	if opensWork([]*statepb.PlanAction{{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{Node: "n1"}}}}, nil) {
		t.Error("placing a plain step needs no further pass")
	}
}

// Rounds skip triggers only while nothing they read changed, none is due,
// and the last look is recent.
func TestTriggerMemoSkip(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	m := triggerMemo{valid: true, epoch: 7, wake: t0.Add(time.Minute), at: t0}
	for _, c := range []struct {
		epoch uint64
		now   time.Time
		want  bool
	}{
		{7, t0.Add(time.Second), true},
		{8, t0.Add(time.Second), false},                       // a workflow, trigger or signal changed
		{7, t0.Add(time.Minute), false},                       // a trigger is due
		{7, t0.Add(triggersRefresh), false},                   // look again now and then
		{7, t0.Add(triggersRefresh - time.Millisecond), true}, // not yet
	} {
		if got := m.skip(c.epoch, c.now); got != c.want {
			t.Errorf("epoch %d at +%s: skip %v, want %v", c.epoch, c.now.Sub(t0), got, c.want)
		}
	}
	if (&triggerMemo{}).skip(0, t0) {
		t.Error("no memo yet: must plan triggers")
	}
}

// A round that skips triggers fires none, even a due one; one that plans
// them reports when the next is due. Pushing a workflow moves the epoch;
// an attempt result does not.
func TestSkipTriggersAndEpoch(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "cron", "time_triggers": [{"type": "CRON", "cron": "*/2 * * * * ?", "timezone": "UTC"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	before := px.f.TriggerEpoch()
	px.round() // sets the trigger's first time
	if px.f.TriggerEpoch() == before {
		t.Fatal("setting a trigger did not move the epoch")
	}
	px.now = px.now.Add(10 * time.Second)
	out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, SkipTriggers: true})
	if len(out.Actions) != 0 || out.TriggersPlanned {
		t.Fatalf("a round skipping triggers planned %d actions (triggers planned %v)", len(out.Actions), out.TriggersPlanned)
	}
	out = Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs})
	if !out.TriggersPlanned || out.TriggersWakeAt.IsZero() || !out.TriggersWakeAt.After(px.now) {
		t.Fatalf("round planning triggers: planned %v, next due %v (now %v)", out.TriggersPlanned, out.TriggersWakeAt, px.now)
	}
	fires := 0
	for _, a := range out.Actions {
		if a.GetFireTrigger() != nil {
			fires++
		}
	}
	if fires == 0 {
		t.Fatal("the due trigger did not fire")
	}
}

// recordingApplier applies nothing and records each entry it is given.
type recordingApplier struct{ plans []*statepb.ApplyPlan }

func (r *recordingApplier) ApplyPlan(_ context.Context, plan *statepb.ApplyPlan) (*fsm.PlanResult, error) {
	r.plans = append(r.plans, plan)
	return &fsm.PlanResult{Applied: len(plan.Actions)}, nil
}

// A round larger than an entry is split; each entry says how many of its
// actions belong to the unchecked last pass, and is dated when proposed.
func TestCommitSplitsTheUncheckedTail(t *testing.T) {
	rec := &recordingApplier{}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l := &Leader{Apply: rec, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now: func() time.Time { clock = clock.Add(time.Millisecond); return clock }}
	actions := make([]*statepb.PlanAction, 2*maxActionsPerEntry+500)
	for i := range actions {
		actions[i] = &statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{Node: "n1"}}}
	}
	unchecked := maxActionsPerEntry + 1000
	if failed, complete := l.commit(context.Background(), actions, nil, true, unchecked); failed || !complete {
		t.Fatalf("commit: failed %v, complete %v", failed, complete)
	}
	want := []int32{maxActionsPerEntry - 1500, maxActionsPerEntry, 500}
	if len(rec.plans) != len(want) {
		t.Fatalf("%d entries, want %d", len(rec.plans), len(want))
	}
	for i, p := range rec.plans {
		if !p.Chained || p.Unchecked != want[i] {
			t.Errorf("entry %d: chained %v, unchecked %d, want %d", i, p.Chained, p.Unchecked, want[i])
		}
		if i > 0 && !p.Now.AsTime().After(rec.plans[i-1].Now.AsTime()) {
			t.Errorf("entry %d dated %s, not after the previous entry's %s", i, p.Now.AsTime(), rec.plans[i-1].Now.AsTime())
		}
	}
}

// proposingApplier is a recordingApplier that can have entries in flight;
// log shows when each entry was proposed and when its outcome was taken.
type proposingApplier struct {
	recordingApplier
	log []string
}

func (p *proposingApplier) ApplyPlan(ctx context.Context, plan *statepb.ApplyPlan) (*fsm.PlanResult, error) {
	p.log = append(p.log, fmt.Sprint("apply ", len(p.plans)))
	return p.recordingApplier.ApplyPlan(ctx, plan)
}

func (p *proposingApplier) ProposePlan(ctx context.Context, plan *statepb.ApplyPlan) func() (*fsm.PlanResult, error) {
	n := len(p.plans)
	p.log = append(p.log, fmt.Sprint("propose ", n))
	res, err := p.recordingApplier.ApplyPlan(ctx, plan)
	return func() (*fsm.PlanResult, error) {
		p.log = append(p.log, fmt.Sprint("wait ", n))
		return res, err
	}
}

// Entries that may drop what follows go one at a time; those holding only
// unchecked actions are proposed together once the ones before them have
// applied.
func TestCommitProposesUncheckedEntriesTogether(t *testing.T) {
	p := &proposingApplier{}
	l := &Leader{Apply: p, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: time.Now}
	actions := make([]*statepb.PlanAction, 3*maxActionsPerEntry)
	for i := range actions {
		actions[i] = &statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{Node: "n1"}}}
	}
	// The first entry has checked actions: the others wait for it.
	if failed, complete := l.commit(context.Background(), actions, nil, true, 2*maxActionsPerEntry); failed || !complete {
		t.Fatalf("commit: failed %v, complete %v", failed, complete)
	}
	if got, want := strings.Join(p.log, ", "), "apply 0, propose 1, propose 2, wait 1, wait 2"; got != want {
		t.Fatalf("entries went %s\nwant %s", got, want)
	}
	// Every action unchecked and no results: all go together.
	p.log = nil
	l.commit(context.Background(), actions, nil, true, len(actions))
	if got, want := strings.Join(p.log, ", "), "propose 3, propose 4, propose 5, wait 3, wait 4, wait 5"; got != want {
		t.Fatalf("entries went %s\nwant %s", got, want)
	}
	// Not chained (no speculation): one at a time, as before.
	p.log = nil
	l.commit(context.Background(), actions[:2*maxActionsPerEntry], nil, false, 0)
	if got, want := strings.Join(p.log, ", "), "apply 6, apply 7"; got != want {
		t.Fatalf("unchained entries went %s\nwant %s", got, want)
	}
}

// While a server from before protocol 2 is in the cluster, a round writes
// nothing it would ignore: every pass is checked on the speculation (no
// unchecked tail) and iterations start CREATED.
func TestPlanAheadUnderProtocol1(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "loop", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2]}}}},
	    "steps": [{"step": {"id": "work", "type": "NoOp"}}]}}]}}`)
	l := &Leader{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, proto := range []int{1, 2} {
		in := Input{Now: px.now, Members: px.members, Defs: px.defs, Protocol: proto}
		out, _, unchecked, _ := l.planAhead(px.f.Speculate(), in, nil)
		runs := 0
		for _, a := range out.Actions {
			if a.GetStartChild().GetRun() {
				runs++
			}
		}
		switch {
		case proto == 1 && (unchecked != 0 || runs != 0):
			t.Errorf("protocol 1: %d unchecked actions, %d iterations started running; want none", unchecked, runs)
		case proto == 2 && (unchecked == 0 || runs != 2):
			t.Errorf("protocol 2: %d unchecked actions, %d iterations started running; want a tail and 2", unchecked, runs)
		}
	}
}

// One pass of the planner ends the iterations whose steps finished, starts
// as many new ones in their place, and places the new ones' steps: the
// loop counts the ends planned before it, and a started iteration is
// planned as the entry will leave it. Nothing is left for a second pass.
func TestPlanReplacesFinishedIterationsInOnePass(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"foreach": {"id": "loop", "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2, 3, 4, 5]}}}},
	    "concurrency": 2, "steps": [{"step": {"id": "work", "type": "NoOp"}}]}}]}}`)
	in := Input{Now: px.now, Members: px.members, Defs: px.defs}
	for range 3 { // the instance, its loop step, the first iterations
		px.round()
	}
	child := workflow.InlineWorkflowID(px.wf, px.inst, "loop")
	running := func() []*statepb.Step {
		var out []*statepb.Step
		for _, st := range px.f.State().RunningSteps() {
			if st.WorkflowId == child {
				out = append(out, st)
			}
		}
		return out
	}
	if n := len(running()); n != 2 {
		t.Fatalf("%d iteration steps run, want 2", n)
	}
	for _, st := range running() {
		a := st.Attempts[0]
		px.apply(&statepb.ReportResult{WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
			AttemptNumber: 1, Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(), Executions: 1})
	}

	in.State = px.f.State()
	out := Plan(in)
	var got []string
	for _, a := range out.Actions {
		switch {
		case a.GetInstanceStatus() != nil:
			x := a.GetInstanceStatus()
			got = append(got, fmt.Sprintf("end %d %s", x.InstanceId, x.Status))
		case a.GetStartChild() != nil:
			got = append(got, fmt.Sprintf("start %d", a.GetStartChild().InstanceId))
		case a.GetAssign() != nil:
			x := a.GetAssign()
			got = append(got, fmt.Sprintf("place %d %s", x.InstanceId, x.StepId))
		default:
			got = append(got, fmt.Sprintf("%v", a))
		}
	}
	want := "end 1 SUCCEEDED, end 2 SUCCEEDED, start 3, place 3 work, start 4, place 4 work"
	if s := strings.Join(got, ", "); s != want {
		t.Fatalf("one pass planned\n %s\nwant\n %s", s, want)
	}
	if opensWork(out.Actions, out.settled) {
		t.Fatal("the pass leaves work for a second one")
	}
	res := px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: out.Actions, Chained: true, Unchecked: int32(len(out.Actions))}).(*fsm.PlanResult)
	if res.Applied != len(out.Actions) || res.Skipped != 0 {
		t.Fatalf("applying the pass: %+v", res)
	}
	if n := len(running()); n != 2 {
		t.Fatalf("after the pass %d iteration steps run, want 2", n)
	}
	loop := px.step("loop").Loop
	if loop.Launched != 4 || loop.Finished != 2 {
		t.Fatalf("loop after the pass: launched %d, finished %d", loop.Launched, loop.Finished)
	}
	// The pass left nothing a fresh look at the state would do differently.
	in.State = px.f.State()
	if again := Plan(in); len(again.Actions) != 0 {
		t.Fatalf("a second pass plans %d actions: %v", len(again.Actions), again.Actions)
	}
}

// countingState is the FSM as the leader reads it, counting the rounds
// (each plans on one speculation).
type countingState struct {
	*fsm.FSM
	rounds atomic.Int64
}

func (c *countingState) Speculate() *fsm.Speculation {
	c.rounds.Add(1)
	return c.FSM.Speculate()
}

// fsmApplier commits plans straight to the FSM, one index each.
type fsmApplier struct {
	mu    sync.Mutex
	f     *fsm.FSM
	index uint64
}

func (a *fsmApplier) ApplyPlan(_ context.Context, plan *statepb.ApplyPlan) (*fsm.PlanResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.index++
	switch res := a.f.ApplyLocal(a.index, plan).(type) {
	case *fsm.PlanResult:
		return res, nil
	case *fsm.Rejection:
		return nil, res
	default:
		return nil, fmt.Errorf("apply plan: unexpected %T", res)
	}
}

type fixedMembers []Member

func (m fixedMembers) Members() []Member               { return m }
func (m fixedMembers) MembersChanged() <-chan struct{} { return nil }

// A round whose only change is placing plain steps is not followed by a
// round on its own entry: it planned on that state already. In a chain that
// was every other round, and a result that arrived meanwhile waited for it.
// Work that can go on elsewhere (the instance's start, its end) still gets
// the round after it.
func TestLeaderSkipsTheRoundOnItsOwnPlacement(t *testing.T) {
	const steps = 30
	var b strings.Builder
	b.WriteString(`{"workflow": {"id": "chain", "steps": [`)
	for i := 1; i <= steps; i++ {
		if i > 1 {
			b.WriteString(",")
		}
		next := ""
		if i < steps {
			next = fmt.Sprintf(`, "transition": {"successors": {"s%d": "true"}}`, i+1)
		}
		fmt.Fprintf(&b, `{"step": {"id": "s%d", "type": "NoOp"%s}}`, i, next)
	}
	b.WriteString(`]}}`)
	px := newPlanFixture(t, b.String())
	st := &countingState{FSM: px.f}
	results := NewResults()
	l := &Leader{State: st, Members: fixedMembers(px.members), Apply: &fsmApplier{f: px.f, index: px.index},
		Defs: px.defs, Now: time.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Results: results}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); l.Run(ctx) }()
	defer func() { cancel(); <-done }()

	// The worker: report each step as it starts, and wait for the commit.
	deadline := time.After(30 * time.Second)
	for reported := 0; ; {
		changed := px.f.Changed()
		s := px.f.State()
		if inst := s.Instance(nil, px.wf, px.inst); fsm.InstanceTerminal(inst.Status) {
			if inst.Status != fsm.InstanceSucceeded || reported != steps {
				t.Fatalf("instance %s after %d results, want SUCCEEDED after %d", inst.Status, reported, steps)
			}
			break
		}
		running := s.RunningSteps()
		if len(running) == 0 {
			select {
			case <-changed:
			case <-deadline:
				t.Fatalf("no step running after %d results", reported)
			}
			continue
		}
		r := running[0]
		a := r.Attempts[len(r.Attempts)-1]
		ok, why, err := results.Submit(ctx, &statepb.ReportResult{WorkflowId: r.WorkflowId, InstanceId: r.InstanceId, StepId: r.StepId,
			AttemptNumber: a.AttemptNumber, Generation: a.Generation, Node: a.Node, Outcome: fsm.AttemptSucceeded,
			EndTime: timestamppb.Now(), Executions: 1})
		if err != nil || !ok {
			t.Fatalf("result of %s: accepted %v (%s), err %v", r.StepId, ok, why, err)
		}
		reported++
	}
	// One round per result, plus the three after work that can go on
	// elsewhere: the one that starts the instance and places its first
	// step, the round after it, and the round after the instance's end
	// (if it ran before the cancel). Without the skip, 2 per step.
	cancel()
	<-done
	if n := st.rounds.Load(); n > steps+3 {
		t.Errorf("%d planning rounds for a chain of %d steps, want at most %d: rounds ran on their own placements", n, steps, steps+3)
	}
}
