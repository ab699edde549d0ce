// Package scheduler decides what runs where. Plan is a pure function of the
// replicated state, the time and the alive members: it returns the actions
// the leader commits through Raft, and never acts by itself.
package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// Member is a node that can run steps.
type Member struct {
	Name string
	Tags map[string]string
	// Suspect members keep the attempts they run but get no new ones: the
	// leader's latest heartbeat to them failed (a dead leader's successor
	// knows before gossip does).
	Suspect bool
}

// IncarnationTag is the member tag holding the id of the server's data dir
// (storage.Dir.Incarnation).
const IncarnationTag = "incarnation"

// Definitions turns a stored version into its parsed definition and DAG.
type Definitions interface {
	// Definition parses v; with a path of loop step ids it returns the inline
	// definition the iterations of the innermost loop run.
	Definition(v *statepb.WorkflowVersion, path ...string) (*workflow.Definition, *workflow.DAG, error)
}

// Input is everything a planning round reads.
type Input struct {
	State   *fsm.State
	Now     time.Time
	Members []Member
	Defs    Definitions
	// Views, when set, keeps instances' step records between rounds so a
	// round reads only those written since the last (a leader's loop);
	// without it a round reads every step of every instance it plans.
	Views *StepViews
	// Scans, when set, keeps how far each waiting step's signal
	// dependencies were searched, so a round reads only the signals sent
	// since the last; without it a round searches from the newest.
	Scans *SignalScans
	// Quiet, when set, keeps which instances a round planned nothing for,
	// so that later rounds skip them until they change (a leader's loop);
	// without it a round plans every admitted instance.
	Quiet *QuietInstances
	// Speculated says the state may hold signals this round's own actions
	// sent, numbered as they may not be once committed: nothing is learnt
	// from them for later rounds (Scans).
	Speculated bool
	// NodesDeadAfter is when a member missing from Members may be declared
	// dead: a new leader gives every node a grace period to be heard from.
	NodesDeadAfter time.Time
	// SkipTriggers leaves time and signal triggers out of the round: the
	// leader sets it when nothing they depend on changed since a round
	// that planned them and none is due (Output.TriggersWakeAt).
	SkipTriggers bool
	// Protocol is the newest command protocol every server applies
	// (fsm.Protocol); 0 means this build's. Below 2 the round writes no
	// field an older server would ignore.
	Protocol int
}

// protocol is the command protocol the round may write.
func (in Input) protocol() int {
	if in.Protocol == 0 {
		return fsm.Protocol
	}
	return min(in.Protocol, fsm.Protocol)
}

// Output is a planning round's decisions.
type Output struct {
	Actions []*statepb.PlanAction
	// WakeAt is the earliest future time at which planning has work to do
	// without any state change (a retry backoff or a timeout); zero if none.
	WakeAt time.Time
	// TriggersPlanned says the round planned triggers; TriggersWakeAt is
	// then the earliest time one of them is due (zero: none).
	TriggersPlanned bool
	TriggersWakeAt  time.Time
	// settled holds the actions whose consequences this round planned
	// already: a child's end its loop counted, a child's start with its
	// first steps.
	settled map[*statepb.PlanAction]bool
}

// Plan computes one scheduling round.
func Plan(in Input) Output {
	r := &round{in: in, now: timestamppb.New(in.Now)}
	if in.Views != nil {
		in.Views.begin(in.State)
		defer in.Views.end()
	}
	if in.Scans != nil {
		in.Scans.begin(in.State)
		defer in.Scans.end()
	}
	names := make([]string, 0, len(in.Members))
	r.member = make(map[string]bool, len(in.Members))
	for _, m := range in.Members {
		if !m.Suspect {
			names = append(names, m.Name)
		}
		r.member[m.Name] = true
	}
	sort.Strings(names)
	r.ring = ringOf(names)
	if in.Quiet.begin(in.State, membersPrint(in.Members, in.NodesDeadAfter)) {
		r.quiet = in.Quiet
	}
	var trigWake time.Time
	if !in.SkipTriggers {
		r.triggers()
		trigWake = r.wake
	}
	var active []*statepb.Instance
	if r.quiet != nil {
		active = r.quiet.list(r)
	} else {
		active = in.State.ActiveInstances(nil)
	}
	// Group the instances run strategies govern by workflow; iterations of
	// a foreach or while are paced by their loop step instead.
	queues := map[string][]*statepb.Instance{}
	var order []string
	for _, inst := range active {
		if inst.DefinitionWorkflowId != "" {
			continue
		}
		if _, ok := queues[inst.WorkflowId]; !ok {
			order = append(order, inst.WorkflowId)
		}
		queues[inst.WorkflowId] = append(queues[inst.WorkflowId], inst)
	}
	admitted := make(map[*statepb.Instance]bool, len(active))
	for _, wf := range order {
		for _, inst := range r.admit(wf, queues[wf]) {
			admitted[inst] = true
		}
	}
	ended := map[string]bool{}
	for _, inst := range childrenFirst(active) {
		if inst.DefinitionWorkflowId == "" && !admitted[inst] {
			continue
		}
		if r.plan(inst) {
			ended[inst.WorkflowId] = true
		}
	}
	// An instance that ends this round frees its slot at once for the next
	// queued one under the concurrency-only strategies. (STRICT_SEQUENTIAL
	// waits a round: it must first see how the ended one ended.)
	var endedNow map[fsm.InstanceKey]bool
	for _, wf := range order {
		if rule, _ := r.strategy(wf); !ended[wf] || (rule != workflow.RunSequential && rule != workflow.RunParallel) {
			continue
		}
		if endedNow == nil {
			endedNow = r.endedNow()
		}
		var left []*statepb.Instance
		for _, inst := range queues[wf] {
			if !endedNow[fsm.KeyOfInstance(inst)] {
				left = append(left, inst)
			}
		}
		// The ends so far are planned for; an instance admitted now that
		// ends at once is not.
		for _, act := range r.endsOf[wf] {
			r.ends[act].strategy = false
		}
		for _, inst := range r.admit(wf, left) {
			if !admitted[inst] {
				admitted[inst] = true
				r.plan(inst)
			}
		}
	}
	for act, needs := range r.ends {
		if !needs.loop && !needs.strategy {
			r.settle(act)
		}
	}
	if r.quiet != nil {
		r.quiet.settle(r, active, admitted)
	}
	return Output{Actions: r.actions, WakeAt: r.wake, TriggersPlanned: !in.SkipTriggers, TriggersWakeAt: trigWake, settled: r.settled}
}

// childrenFirst orders instances deepest first, keeping their order
// otherwise, so that a round ends a loop's children before it plans the
// loop, which then starts the next ones in the same round.
func childrenFirst(list []*statepb.Instance) []*statepb.Instance {
	out := append([]*statepb.Instance(nil), list...)
	slices.SortStableFunc(out, func(a, b *statepb.Instance) int { return cmp.Compare(b.Depth, a.Depth) })
	return out
}

// endedNow lists the instances this round's actions end.
func (r *round) endedNow() map[fsm.InstanceKey]bool {
	out := map[fsm.InstanceKey]bool{}
	for _, a := range r.actions {
		if x := a.GetInstanceStatus(); x != nil && fsm.InstanceTerminal(x.Status) {
			out[fsm.InstanceKey{WorkflowID: x.WorkflowId, InstanceID: x.InstanceId}] = true
		}
	}
	return out
}

// strategy is the run strategy of a workflow's active version: Maestro's
// default is SEQUENTIAL, and PARALLEL runs up to workflow_concurrency.
func (r *round) strategy(workflowID string) (string, int64) {
	return runStrategy(r.in.State, r.in.Defs, workflowID)
}

// runStrategy is round.strategy for readers outside a round (retention), so
// that both read a workflow's strategy the same way.
func runStrategy(st *fsm.State, defs Definitions, workflowID string) (string, int64) {
	w := st.Workflow(nil, workflowID)
	if w == nil {
		return workflow.RunSequential, 1
	}
	active := w.ActiveVersion
	if active == 0 {
		// A deactivated workflow's instances run on under the strategy of
		// its latest version.
		active = w.LatestVersion
	}
	ver := st.Version(nil, workflowID, active)
	if ver == nil {
		return workflow.RunSequential, 1
	}
	def, _, err := defs.Definition(ver)
	if err != nil || def.Properties == nil || def.Properties.RunStrategy == nil || def.Properties.RunStrategy.Rule == "" {
		return workflow.RunSequential, 1
	}
	rs := def.Properties.RunStrategy
	if rs.Rule == workflow.RunParallel {
		return rs.Rule, max(rs.WorkflowConcurrency, 1)
	}
	return rs.Rule, 1
}

// admit applies a workflow's run strategy to its unfinished instances (in
// id order) and returns those that may run this round. Queued instances stay
// CREATED, oldest first; instances a strategy supersedes are stopped.
func (r *round) admit(workflowID string, list []*statepb.Instance) []*statepb.Instance {
	rule, conc := r.strategy(workflowID)
	var running, queued []*statepb.Instance
	for _, inst := range list {
		if inst.Status == fsm.InstanceCreated {
			queued = append(queued, inst)
		} else {
			running = append(running, inst)
		}
	}
	switch rule {
	case workflow.RunFirstOnly:
		// The first one runs to the end; anything started meanwhile stops.
		keep := running
		if len(running) == 0 && len(queued) > 0 {
			keep, queued = queued[:1], queued[1:]
		}
		for _, inst := range queued {
			r.stopInstance(inst, fmt.Sprintf("FIRST_ONLY: instance %d of %s is running", keep[0].InstanceId, workflowID))
		}
		return keep
	case workflow.RunLastOnly:
		// Only the newest runs; it supersedes the running ones.
		newest := list[len(list)-1]
		for _, inst := range list[:len(list)-1] {
			r.stopInstance(inst, fmt.Sprintf("LAST_ONLY: superseded by instance %d", newest.InstanceId))
		}
		return []*statepb.Instance{newest}
	case workflow.RunSerialLatestOnly:
		// One runs; of the queued ones only the newest waits.
		for i := 0; i+1 < len(queued); i++ {
			r.stopInstance(queued[i], fmt.Sprintf("SERIAL_LATEST_ONLY: superseded by instance %d", queued[len(queued)-1].InstanceId))
		}
		if len(running) > 0 || len(queued) == 0 {
			return running
		}
		return queued[len(queued)-1:]
	case workflow.RunStrictSequential:
		if len(running) > 0 || len(queued) == 0 {
			return running
		}
		next := queued[0]
		if prev := r.in.State.LatestFinished(workflowID, next.InstanceId); prev != nil && holdsQueue(r.in.State.Workflow(nil, workflowID), prev) {
			why := fmt.Sprintf("STRICT_SEQUENTIAL: blocked by instance %d, which is %s; restart it or unblock the workflow", prev.InstanceId, prev.Status)
			if next.Reason != why {
				r.setInstance(next, fsm.InstanceCreated, fsm.InstanceCreated, why)
			}
			return nil
		}
		return []*statepb.Instance{next}
	}
	free := conc - int64(len(running))
	if free > int64(len(queued)) {
		free = int64(len(queued))
	}
	if free > 0 {
		return append(running, queued[:free]...)
	}
	return running
}

// holdsQueue reports whether prev, the newest finished instance of workflow
// w before a queued one (State.LatestFinished), holds that STRICT_SEQUENTIAL
// queue: it failed or timed out, and the workflow was not unblocked past it
// (w nil: the workflow is gone, so nothing unblocked it). Retention asks the
// same question to know which instances it must keep.
func holdsQueue(w *statepb.Workflow, prev *statepb.Instance) bool {
	return blocks(prev) && (w == nil || prev.InstanceId > w.UnblockedThrough)
}

// blocks reports whether a finished instance holds up a STRICT_SEQUENTIAL
// queue.
func blocks(inst *statepb.Instance) bool {
	return inst.Status == fsm.InstanceFailed || inst.Status == fsm.InstanceTimedOut
}

func (r *round) stopInstance(inst *statepb.Instance, reason string) {
	r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_StopInstance{StopInstance: &statepb.StopInstance{
		WorkflowId: inst.WorkflowId, InstanceId: inst.InstanceId, Reason: reason,
	}}})
}

type round struct {
	// Running leaf steps per workflow (step_concurrency) and per instance
	// tree (instance_step_concurrency), kept current as the round assigns.
	byWorkflow map[string]int64
	byTree     map[treeKey]int64
	taken      []*statepb.Instance // assigned before the first count
	treeLimits map[treeKey]int64
	in         Input
	now        *timestamppb.Timestamp
	ring       *Ring
	rings      map[string]*Ring // per constraint set, built on first use
	member     map[string]bool  // every member, suspect or not
	// load is the attempts running on each member, counted on first use
	// (loads): a round that places nothing needs no count, and counting
	// visits every running attempt.
	load    map[string]int
	actions []*statepb.PlanAction
	wake    time.Time
	quiet   *QuietInstances // nil: plan every instance
	// volatile says planning the current instance read more than its own
	// records, the members and the time, so a later round must plan it
	// again even if none of those changed (QuietInstances).
	volatile bool
	// Breakpoints per workflow, read once per round.
	breakpoints map[string][]*statepb.Breakpoint
	// Workflows whose fired instance this round starts running at once.
	firedRunning map[string]bool
	// childEnds counts, by the loop step that started them and by final
	// status, the children this round ends. ends says, for each instance
	// the round ends, what it still has to plan for it; endsOf lists those
	// ends by workflow. settled holds the actions whose consequences the
	// round planned already (see opensWork).
	childEnds map[fsm.StepKey]*childEnds
	ends      map[*statepb.PlanAction]*endNeeds
	endsOf    map[string][]*statepb.PlanAction
	settled   map[*statepb.PlanAction]bool
}

// childEnds are the ends of a loop step's children in one round.
type childEnds struct {
	counts  map[string]int64
	actions []*statepb.PlanAction
}

// endNeeds is what an instance's end lets go on that the round has not
// planned yet: its parent's loop, and its workflow's run strategy
// admitting the next instance.
type endNeeds struct{ loop, strategy bool }

// nodeConstraints reads a step's evaluated node_constraints: every key must be
// a tag of the node with one of the comma-separated values, e.g.
// {"pool": "etl,batch"}.
func nodeConstraints(params map[string]*statepb.Param) (map[string]string, error) {
	p, ok := params[workflow.NodeConstraintsParam]
	if !ok {
		return nil, nil
	}
	v, err := ValueFromParam(p)
	if err != nil {
		return nil, fmt.Errorf("param %s: %w", workflow.NodeConstraintsParam, err)
	}
	m, ok := v.Raw.(map[string]string)
	if !ok {
		return nil, fmt.Errorf("param %s must be a STRING_MAP of node tag to allowed values, got %s", workflow.NodeConstraintsParam, v.Type)
	}
	return m, nil
}

func formatConstraints(c map[string]string) string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + c[k]
	}
	return strings.Join(parts, ",")
}

// matches reports whether a member's tags satisfy constraints.
func matches(tags, constraints map[string]string) bool {
	for k, allowed := range constraints {
		v, ok := tags[k]
		if !ok {
			return false
		}
		found := false
		for _, a := range strings.Split(allowed, ",") {
			if strings.TrimSpace(a) == v {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// place picks a node for key by consistent hashing with bounded loads over
// the members that satisfy constraints; "" when none does.
func (r *round) place(key string, constraints map[string]string) string {
	if len(constraints) == 0 {
		return r.ring.Pick(key, r.loads())
	}
	sig := formatConstraints(constraints)
	ring, ok := r.rings[sig]
	if !ok {
		var names []string
		for _, m := range r.in.Members {
			if !m.Suspect && matches(m.Tags, constraints) {
				names = append(names, m.Name)
			}
		}
		sort.Strings(names)
		ring = ringOf(names)
		if r.rings == nil {
			r.rings = map[string]*Ring{}
		}
		r.rings[sig] = ring
	}
	load := map[string]int{}
	all := r.loads()
	for _, name := range ring.Members() {
		load[name] = all[name]
	}
	return ring.Pick(key, load)
}

// runsOn reports whether the node running a step's current attempt is
// still a member, and still the same server: one restarted with a wiped data
// dir has a new incarnation and knows nothing of the attempt.
func (r *round) runsOn(st *statepb.Step) bool {
	if !r.member[st.Node] {
		return false
	}
	a := st.Attempts[len(st.Attempts)-1]
	inc := r.incarnation(st.Node)
	return a.NodeIncarnation == "" || inc == "" || inc == a.NodeIncarnation
}

func (r *round) incarnation(node string) string {
	for _, m := range r.in.Members {
		if m.Name == node {
			return m.Tags[IncarnationTag]
		}
	}
	return ""
}

// loads returns the attempts running on each member, counting them on the
// first call.
func (r *round) loads() map[string]int {
	if r.load != nil {
		return r.load
	}
	if r.quiet != nil {
		r.load = r.quiet.loads(r.in.State, r.member)
		if r.quiet.Verify {
			r.verifyLoads()
		}
		return r.load
	}
	r.load = make(map[string]int, len(r.member))
	for name := range r.member {
		r.load[name] = 0
	}
	for node, n := range r.in.State.RunningCounts() {
		if r.member[node] {
			r.load[node] = n
		}
	}
	return r.load
}

func (r *round) wakeAt(t time.Time) {
	if r.wake.IsZero() || t.Before(r.wake) {
		r.wake = t
	}
}

func (r *round) setInstance(inst *statepb.Instance, from, to, reason string) {
	act := &statepb.PlanAction{Action: &statepb.PlanAction_InstanceStatus{
		InstanceStatus: &statepb.SetInstanceStatus{
			WorkflowId: inst.WorkflowId, InstanceId: inst.InstanceId, FromStatus: from, Status: to, Reason: reason,
		}}}
	r.actions = append(r.actions, act)
	if !fsm.InstanceTerminal(to) {
		return
	}
	// Iterations are paced by their loop, any other instance by its
	// workflow's run strategy; a child but a detached one counts on its
	// parent's loop.
	p := inst.Parent
	needs := &endNeeds{loop: p != nil && !p.Detached, strategy: inst.DefinitionWorkflowId == ""}
	if r.ends == nil {
		r.ends = map[*statepb.PlanAction]*endNeeds{}
		r.endsOf = map[string][]*statepb.PlanAction{}
	}
	r.ends[act] = needs
	if needs.strategy {
		r.endsOf[inst.WorkflowId] = append(r.endsOf[inst.WorkflowId], act)
	}
	if needs.loop {
		k := fsm.StepKey{WorkflowID: p.WorkflowId, InstanceID: p.InstanceId, StepID: p.StepId}
		if r.childEnds == nil {
			r.childEnds = map[fsm.StepKey]*childEnds{}
		}
		e := r.childEnds[k]
		if e == nil {
			e = &childEnds{counts: map[string]int64{}}
			r.childEnds[k] = e
		}
		e.counts[to]++
		e.actions = append(e.actions, act)
	}
}

// settle records that the round planned what act leads to.
func (r *round) settle(act *statepb.PlanAction) {
	if r.settled == nil {
		r.settled = map[*statepb.PlanAction]bool{}
	}
	r.settled[act] = true
}

func (r *round) setStep(st *statepb.Step, to, reason string, retryAt *timestamppb.Timestamp) {
	r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_StepStatus{
		StepStatus: &statepb.SetStepStatus{
			WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
			FromStatus: st.Status, Status: to, Reason: reason, RetryAt: retryAt,
		}}})
}

// instance plans one unfinished instance and reports whether this round ends it.
func (r *round) instance(inst *statepb.Instance) bool {
	return r.instanceWith(inst, func(dag *workflow.DAG) *stepView {
		if r.in.Views.keeps(dag) {
			return r.in.Views.view(r.in.State, inst, dag)
		}
		return newStepView(dag, r.in.State.Steps(nil, inst.WorkflowId, inst.InstanceId))
	})
}

// instanceWith plans inst, whose step records steps places by position.
func (r *round) instanceWith(inst *statepb.Instance, steps func(*workflow.DAG) *stepView) (ended bool) {
	before := len(r.actions)
	defer func() {
		for _, a := range r.actions[before:] {
			if x := a.GetInstanceStatus(); x != nil && fsm.InstanceTerminal(x.Status) {
				ended = true
			}
		}
	}()
	status := inst.Status
	def, dag, err := InstanceDefinition(r.in.State, r.in.Defs, inst)
	if err != nil {
		r.setInstance(inst, status, fsm.InstanceFailed, fmt.Sprintf("definition: %v", err))
		return
	}
	started := r.in.Now
	if status == fsm.InstanceCreated {
		r.setInstance(inst, status, fsm.InstanceInProgress, "")
		status = fsm.InstanceInProgress
	} else if inst.StartTime != nil {
		started = inst.StartTime.AsTime()
	}

	v := steps(dag)

	if t := def.Workflow.Timeout; t != nil && (t.Duration > 0 || t.Expr() != "") {
		// A timeout written as a param reference is resolved against the
		// instance's params, which never change, so every round agrees.
		d, err := t.Resolve(stepScope{inst: inst}.Param)
		if err != nil {
			r.setInstance(inst, status, fsm.InstanceFailed, fmt.Sprintf("workflow timeout %q: %v", t.Expr(), err))
			return
		}
		deadline := started.Add(d)
		if !r.in.Now.Before(deadline) {
			reason := fmt.Sprintf("workflow timed out after %s", d)
			r.stopLive(v, reason)
			r.setInstance(inst, status, fsm.InstanceTimedOut, reason)
			return
		}
		r.wakeAt(deadline)
	}

	// Retry or give up on failed attempts.
	var retryNow map[int]bool
	for i := range dag.Order {
		// v.cur holds each record's status until the round changes it:
		// reading it there, not through the record, keeps a long
		// instance's scan in two slices.
		st := v.steps[i]
		if st == nil || !fsm.StepRetryable(v.cur[i]) {
			continue
		}
		sd := dag.StepAt(i)
		kind, attemptStatus := failureKind(st.Status)
		used := 0
		for _, a := range st.Attempts[min(int(st.AttemptsBeforeRestart), len(st.Attempts)):] {
			if a.Status == attemptStatus {
				used++
			}
		}
		// Limits and backoffs written as param references read the step's
		// own evaluated params, then the instance's.
		policy, err := sd.RetryPolicy.Resolve(stepScope{inst: inst, step: st, steps: v}.Param)
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("retry_policy: %v", err), nil)
			v.cur[i] = fsm.StepFatallyFailed
			continue
		}
		nonRetryable := len(st.Attempts) > 0 && st.Attempts[len(st.Attempts)-1].Status == fsm.AttemptFatallyFailed
		if !nonRetryable && used <= policy.Limit(kind) {
			retry := false
			switch {
			case st.RetryAt == nil:
				backoff := policy.Backoff(kind, used)
				if n := len(st.Attempts); n > 0 && st.Attempts[n-1].Lost {
					// The attempt never had a fair run: its node was lost.
					// Backoff is for failures of the work itself.
					backoff = 0
				}
				if backoff <= 0 {
					retry = true
				} else {
					at := r.in.Now.Add(backoff)
					r.setStep(st, st.Status, fmt.Sprintf("%s; retry %d in %s", st.Reason, used, backoff), timestamppb.New(at))
					r.wakeAt(at)
				}
			case !r.in.Now.Before(st.RetryAt.AsTime()):
				retry = true
			default:
				r.wakeAt(st.RetryAt.AsTime())
			}
			if retry {
				if retryNow == nil {
					retryNow = map[int]bool{}
				}
				retryNow[i] = true
			}
			continue
		}
		final := fsm.StepFatallyFailed
		if kind == workflow.TimeoutFailure {
			final = fsm.StepTimedOut
		}
		if sd.FailureMode == workflow.IgnoreFailure {
			final = fsm.StepCompletedWithError
		}
		reason := st.Reason
		if len(st.Attempts) > 1 {
			reason = fmt.Sprintf("%s (after %d attempts)", reason, len(st.Attempts))
		}
		r.setStep(st, final, reason, nil)
		v.cur[i] = final
	}

	// A failed step with FAIL_IMMEDIATELY ends the instance now.
	var failed []int
	for i := range dag.Order {
		if failedStatus(v.cur[i]) {
			failed = append(failed, i)
		}
	}
	for _, i := range failed {
		if dag.StepAt(i).FailureMode == workflow.FailImmediately {
			reason := fmt.Sprintf("step %s %s (failure_mode FAIL_IMMEDIATELY)", dag.Order[i], v.cur[i])
			r.stopLive(v, reason)
			r.setInstance(inst, status, fsm.InstanceFailed, reason)
			return
		}
	}

	live := false
	for i := range dag.Order {
		st := v.steps[i]
		if st == nil {
			continue
		}
		// Only a retryable status has changed this round, so the record's
		// SUCCEEDED is still v.cur's.
		if v.cur[i] == fsm.StepSucceeded && len(dag.StepAt(i).SignalOutputs) > 0 && !st.SignalsEmitted {
			r.emitSignals(inst, dag.StepAt(i), st, v)
		}
		switch c := v.cur[i]; {
		case c == fsm.StepRunning && st.Loop != nil:
			live = true
			r.loop(inst, def, st)
		case c == fsm.StepRunning && !r.runsOn(st):
			live = true
			if r.in.Now.Before(r.in.NodesDeadAfter) {
				r.wakeAt(r.in.NodesDeadAfter)
				break
			}
			// Its node left or failed: the attempt is fenced and retried
			// elsewhere per the platform retry policy.
			why := fmt.Sprintf("node %s is no longer alive", st.Node)
			if r.member[st.Node] {
				why = fmt.Sprintf("node %s restarted without its data (a new incarnation); the attempt is lost", st.Node)
			}
			r.setStep(st, fsm.StepPlatformFailed, why, nil)
		case c == fsm.StepRunning:
			live = true
		case retryNow[i]:
			live = true
			r.assign(inst, def, st, v, int64(len(st.Attempts))+1)
		case fsm.StepRetryable(c), c == fsm.StepPaused:
			live = true
		case c == fsm.StepNotCreated || c == fsm.StepCreated || c == fsm.StepWaitingForPermits || c == fsm.StepWaitingForSignals:
			switch r.decide(inst, v, i) {
			case edgeTaken:
				live = true
				r.assign(inst, def, st, v, int64(len(st.Attempts))+1)
			case edgeNotTaken:
				// Resolved: later steps in definition order see it this round.
				v.cur[i] = fsm.StepUnsatisfied
			case edgeError:
				v.cur[i] = fsm.StepFatallyFailed
				failed = append(failed, i)
			}
		}
	}
	if live {
		return
	}
	if len(failed) > 0 {
		i := failed[0]
		reason := fmt.Sprintf("step %s %s", dag.Order[i], v.cur[i])
		if why := v.steps[i].Reason; why != "" {
			reason += ": " + why
		}
		r.setInstance(inst, status, fsm.InstanceFailed, reason)
		return
	}
	r.setInstance(inst, status, fsm.InstanceSucceeded, "")
	return
}

func failedStatus(s string) bool {
	return s == fsm.StepFatallyFailed || s == fsm.StepTimedOut || s == fsm.StepStopped
}

func failureKind(stepStatus string) (workflow.FailureKind, string) {
	switch stepStatus {
	case fsm.StepPlatformFailed:
		return workflow.PlatformFailure, fsm.AttemptPlatformFailed
	case fsm.StepTimeoutFailed:
		return workflow.TimeoutFailure, fsm.AttemptTimedOut
	}
	return workflow.ErrorFailure, fsm.AttemptUserFailed
}

// stopLive stops every running step and every step waiting for a retry or a
// node, as this round has left them (cur).
func (r *round) stopLive(v *stepView, reason string) {
	for i, st := range v.steps {
		if st == nil || v.cur[i] != st.Status {
			continue
		}
		if st.Status == fsm.StepRunning || fsm.StepRetryable(st.Status) || st.Status == fsm.StepCreated || st.Status == fsm.StepPaused || st.Status == fsm.StepWaitingForPermits || st.Status == fsm.StepWaitingForSignals {
			r.setStep(st, fsm.StepStopped, reason, nil)
		}
	}
}

// assign evaluates a step's params and places its next attempt on a node,
// unless a breakpoint holds the attempt, its signals have not all arrived,
// or a concurrency limit or the lack of a node holds it back.
func (r *round) assign(inst *statepb.Instance, def *workflow.Definition, st *statepb.Step, steps *stepView, attempt int64) {
	// Breakpoints, signals, permits and the load decide what happens.
	r.volatile = true
	sd := def.Step(st.StepId)
	if bp := r.breakpointFor(inst, st, attempt); bp != "" {
		if st.Status != fsm.StepPaused {
			r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_StepStatus{StepStatus: &statepb.SetStepStatus{
				WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
				FromStatus: st.Status, Status: fsm.StepPaused, Breakpoint: bp,
				Reason: fmt.Sprintf("attempt %d paused at breakpoint %s; resume it with a step resume, or delete the breakpoint", attempt, bp),
			}}})
		}
		return
	}
	src := signalSource{init: inst.SignalInitiator}
	if !workflow.IsControl(st.Type) && !st.SignalsBypassed {
		why, matched, err := r.signalsMatched(inst, sd, st, steps)
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("signal_dependencies: %v", err), nil)
			return
		} else if why != "" {
			if st.Status != fsm.StepWaitingForSignals || st.Reason != why {
				r.setStep(st, fsm.StepWaitingForSignals, why, nil)
			}
			return
		}
		src.deps = matched
	}
	params, err := resolveStepParams(inst, sd, st, steps, attempt, r.in.Now, src)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("params: %v", err), nil)
		return
	}
	if workflow.IsControl(st.Type) {
		// Foreach, while and subworkflow steps run child instances, which
		// the leader starts; they take no node.
		loop, err := loopInit(sd, params)
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, err.Error(), nil)
			return
		}
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{
			WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
			AttemptNumber: attempt, Params: params, Loop: loop,
		}}})
		return
	}
	if why := r.permit(inst, def); why != "" {
		if st.Status != fsm.StepWaitingForPermits || st.Reason != why {
			r.setStep(st, fsm.StepWaitingForPermits, why, nil)
		}
		return
	}
	key := fmt.Sprintf("%s/%d/%s/%d", st.WorkflowId, st.InstanceId, st.StepId, attempt)
	constraints, err := nodeConstraints(params)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, err.Error(), nil)
		return
	}
	node := r.place(key, constraints)
	if node == "" {
		why := "waiting for an eligible node"
		if len(constraints) > 0 {
			why = "waiting for a node with " + formatConstraints(constraints)
		}
		if st.Status != fsm.StepCreated || st.Reason != why {
			r.setStep(st, fsm.StepCreated, why, nil)
		}
		return
	}
	var deadline *timestamppb.Timestamp
	if t := sd.Timeout; t != nil && (t.Duration > 0 || t.Expr() != "") {
		d, err := t.Resolve(stepScope{inst: inst, extra: params, steps: steps}.Param)
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("timeout %q: %v", t.Expr(), err), nil)
			return
		}
		deadline = timestamppb.New(r.in.Now.Add(d))
	}
	r.loads()[node]++
	r.take(inst)
	r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_Assign{Assign: &statepb.AssignAttempt{
		WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId,
		AttemptNumber: attempt, Node: node, Params: params, Deadline: deadline,
		NodeIncarnation: r.incarnation(node),
	}}})
}

// systemParams are the params every step of inst can reference without
// defining them.
func systemParams(inst *statepb.Instance) map[string]workflow.Value {
	return map[string]workflow.Value{
		"workflow_id":          {Type: workflow.String, Raw: inst.WorkflowId},
		"workflow_instance_id": {Type: workflow.Long, Raw: inst.InstanceId},
		"workflow_version":     {Type: workflow.Long, Raw: inst.WorkflowVersion},
	}
}

// resolveStepParams evaluates a step's params against the instance params, the
// system params and other steps' outputs (referenced as stepid__name).
func resolveStepParams(inst *statepb.Instance, sd *workflow.Step, st *statepb.Step, steps *stepView, attempt int64, now time.Time, signals workflow.SignalSource) (map[string]*statepb.Param, error) {
	system := systemParams(inst)
	system["step_id"] = workflow.Value{Type: workflow.String, Raw: st.StepId}
	system["step_attempt_id"] = workflow.Value{Type: workflow.Long, Raw: attempt}
	lookup := func(name string) (workflow.Value, bool) {
		if p, ok := inst.Params[name]; ok {
			if v, err := ValueFromParam(p); err == nil {
				return v, true
			}
		}
		if v, ok := system[name]; ok {
			return v, true
		}
		if stepID, param, ok := strings.Cut(name, "__"); ok {
			if other := steps.step(stepID); other != nil {
				if p, ok := other.Outputs[param]; ok {
					if v, err := ValueFromParam(p); err == nil {
						return v, true
					}
				}
				if n := len(other.Attempts); n > 0 {
					if p, ok := other.Attempts[n-1].Params[param]; ok {
						if v, err := ValueFromParam(p); err == nil {
							return v, true
						}
					}
				}
			}
		}
		return workflow.Value{}, false
	}
	values, err := workflow.ResolveParamsWith(sd.Params, lookup, workflow.EvalOptions{Now: now, NewUUID: workflow.RandomUUID, Signals: signals})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*statepb.Param, len(values))
	for name, v := range values {
		p, err := ParamFromValue(v)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}
