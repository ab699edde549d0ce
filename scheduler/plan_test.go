package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// planFixture drives the planner against a real FSM applied in memory (no
// Raft) with a fake clock: each round plans, then applies the plan as the
// leader would.
type planFixture struct {
	t       testing.TB
	f       *fsm.FSM
	index   uint64
	now     time.Time
	members []Member
	defs    *DefinitionCache
	// views plans each round a second time through StepViews, as a
	// leader does, and the round fails the test unless both agree.
	views *StepViews
	// quiet plans each round a third time, through StepViews and
	// QuietInstances with its check on: the instances it skips must plan
	// nothing, and the round must agree with the others.
	quiet *QuietInstances
	wf    string
	inst  int64
}

func newPlanFixture(t testing.TB, definition string) *planFixture {
	t.Helper()
	def, err := workflow.Parse([]byte(definition))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	limits := workflow.DefaultLimits()
	limits.MaxSteps = max(limits.MaxSteps, len(def.Workflow.Steps))
	if err := def.Validate(limits); err != nil {
		t.Fatalf("validate: %v", err)
	}
	canon, err := workflow.Canonical(def)
	if err != nil {
		t.Fatal(err)
	}
	dag, err := def.DAG()
	if err != nil {
		t.Fatal(err)
	}
	px := &planFixture{
		t: t, f: fsm.New(), now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		members: []Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}},
		defs:    NewDefinitionCache(), views: NewStepViews(), wf: def.Workflow.ID,
		quiet: newVerifiedQuiet(),
	}
	sum := sha256.Sum256(canon)
	px.apply(&statepb.PushWorkflow{WorkflowId: px.wf, Definition: string(canon), Digest: hex.EncodeToString(sum[:]), Now: px.ts()})
	start := &statepb.StartInstance{RequestId: "r1", WorkflowId: px.wf, WorkflowVersion: 1, Now: px.ts()}
	for _, id := range dag.Order {
		start.Steps = append(start.Steps, &statepb.StepSeed{StepId: id, Type: def.Step(id).Type})
	}
	res := px.apply(start).(*fsm.StartResult)
	px.inst = res.Instance.InstanceId
	return px
}

func (px *planFixture) ts() *timestamppb.Timestamp { return timestamppb.New(px.now) }

func (px *planFixture) apply(m proto.Message) any {
	px.t.Helper()
	px.index++
	res := px.f.ApplyLocal(px.index, m)
	if rej, ok := res.(*fsm.Rejection); ok {
		px.t.Fatalf("apply %T rejected: %v", m, rej)
	}
	return res
}

// round plans once, applies the plan, and returns it.
func (px *planFixture) round() Output {
	px.t.Helper()
	in := Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs}
	out := Plan(in)
	in.Views = px.views
	samePlan(px.t, "through StepViews", Plan(in), out)
	in.Quiet = px.quiet
	samePlan(px.t, "skipping quiet instances", Plan(in), out)
	if len(out.Actions) > 0 {
		res := px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: out.Actions}).(*fsm.PlanResult)
		if res.Skipped != 0 {
			px.t.Fatalf("plan had %d stale actions right after planning", res.Skipped)
		}
	}
	return out
}

// The store tracks the writes of every instance in these tests, however
// small, so that every plan test plans through StepViews too.
// A leader's loop in these tests checks every instance it skips as quiet.
func init() {
	fsm.TrackWritesFrom = 0
	os.Setenv("BATON_VERIFY_QUIET", "1")
}

// samePlan fails the test unless got decides what want does.
func samePlan(t testing.TB, how string, got, want Output) {
	t.Helper()
	if !got.WakeAt.Equal(want.WakeAt) {
		t.Fatalf("planned %s: wake at %v, want %v", how, got.WakeAt, want.WakeAt)
	}
	if len(got.Actions) != len(want.Actions) {
		t.Fatalf("planned %s: %d actions %v, want %d %v", how, len(got.Actions), got.Actions, len(want.Actions), want.Actions)
	}
	for i := range want.Actions {
		if !proto.Equal(got.Actions[i], want.Actions[i]) {
			t.Fatalf("planned %s: action %d is %v, want %v", how, i, got.Actions[i], want.Actions[i])
		}
	}
}

func (px *planFixture) step(id string) *statepb.Step {
	px.t.Helper()
	st := px.f.State().Step(nil, px.wf, px.inst, id)
	if st == nil {
		px.t.Fatalf("no step %s", id)
	}
	return st
}

// dag is the DAG of the fixture's instance.
func (px *planFixture) dag() *workflow.DAG {
	px.t.Helper()
	_, dag, err := InstanceDefinition(px.f.State(), px.defs, px.instance())
	if err != nil {
		px.t.Fatal(err)
	}
	return dag
}

func (px *planFixture) instance() *statepb.Instance {
	return px.f.State().Instance(nil, px.wf, px.inst)
}

// finish reports the running attempt of a step.
func (px *planFixture) finish(id, outcome string, exit int32) {
	px.t.Helper()
	st := px.step(id)
	if st.Status != fsm.StepRunning {
		px.t.Fatalf("step %s is %s, not RUNNING", id, st.Status)
	}
	a := st.Attempts[len(st.Attempts)-1]
	res := px.apply(&statepb.ReportResult{
		WorkflowId: px.wf, InstanceId: px.inst, StepId: id, AttemptNumber: a.AttemptNumber,
		Generation: a.Generation, Node: a.Node, Outcome: outcome, ExitCode: exit, EndTime: px.ts(),
		Error: map[bool]string{true: "", false: "exit code"}[outcome == fsm.AttemptSucceeded],
	}).(*fsm.ReportResultOutcome)
	if !res.Accepted {
		px.t.Fatalf("result for %s refused: %s", id, res.Reason)
	}
}

// statuses renders "id:STATUS" for the given steps.
func (px *planFixture) statuses(ids ...string) string {
	var parts []string
	for _, id := range ids {
		parts = append(parts, id+":"+px.step(id).Status)
	}
	return strings.Join(parts, " ")
}

func (px *planFixture) expect(want string, ids ...string) {
	px.t.Helper()
	if got := px.statuses(ids...); got != want {
		px.t.Fatalf("steps: got %s\nwant %s", got, want)
	}
}

// diamond returns a -> (b, c) -> d with the given extra JSON on step b.
func diamond(bExtra string) string {
	if bExtra != "" {
		bExtra = ", " + bExtra
	}
	return `{"properties": {"owner": "t"}, "workflow": {"id": "wf", "steps": [
	  {"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"b": "true", "c": "true"}}}},
	  {"step": {"id": "b", "type": "NoOp"` + bExtra + `, "transition": {"successors": {"d": "true"}}}},
	  {"step": {"id": "c", "type": "NoOp", "transition": {"successors": {"d": "true"}}}},
	  {"step": {"id": "d", "type": "NoOp"}}]}}`
}

func TestPlanDiamondRunsBranchesInParallelAndJoins(t *testing.T) {
	px := newPlanFixture(t, diamond(""))
	px.round()
	if st := px.instance().Status; st != fsm.InstanceInProgress {
		t.Fatalf("instance %s after the first round, want IN_PROGRESS", st)
	}
	px.expect("a:RUNNING b:NOT_CREATED c:NOT_CREATED d:NOT_CREATED", "a", "b", "c", "d")

	// Nothing changes without a result.
	if out := px.round(); len(out.Actions) != 0 {
		t.Fatalf("a round without news planned %d actions", len(out.Actions))
	}
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("a:SUCCEEDED b:RUNNING c:RUNNING d:NOT_CREATED", "a", "b", "c", "d")

	px.finish("b", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("b:SUCCEEDED c:RUNNING d:NOT_CREATED", "b", "c", "d") // the join waits for c

	px.finish("c", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("d:RUNNING", "d")
	px.finish("d", fsm.AttemptSucceeded, 0)
	px.round()
	if st := px.instance().Status; st != fsm.InstanceSucceeded {
		t.Fatalf("instance %s, want SUCCEEDED", st)
	}
	// Placement was committed with a node from the members and a generation.
	a := px.step("a").Attempts[0]
	if a.Node == "" || a.Generation == 0 || a.AttemptId != "wf/1/a/1" {
		t.Fatalf("attempt placement %+v", a)
	}
}

func TestPlanFailAfterRunningLetsOtherBranchesFinish(t *testing.T) {
	px := newPlanFixture(t, diamond(`"retry_policy": {"error_retry_limit": 0}`))
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("b", fsm.AttemptUserFailed, 3)
	px.round()
	px.expect("b:FATALLY_FAILED c:RUNNING d:NOT_CREATED", "b", "c", "d")
	if st := px.instance().Status; st != fsm.InstanceInProgress {
		t.Fatalf("instance %s while c still runs, want IN_PROGRESS", st)
	}
	px.finish("c", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("c:SUCCEEDED d:NOT_CREATED", "c", "d")
	inst := px.instance()
	if inst.Status != fsm.InstanceFailed || !strings.Contains(inst.Reason, "step b FATALLY_FAILED") {
		t.Fatalf("instance %s (%q), want FAILED naming step b", inst.Status, inst.Reason)
	}
}

func TestPlanFailImmediatelyStopsRunningSteps(t *testing.T) {
	px := newPlanFixture(t, diamond(`"failure_mode": "FAIL_IMMEDIATELY", "retry_policy": {"error_retry_limit": 0}`))
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("b", fsm.AttemptUserFailed, 1)
	px.round()
	px.expect("b:FATALLY_FAILED c:STOPPED d:NOT_CREATED", "b", "c", "d")
	if px.step("c").Attempts[0].Status != fsm.AttemptStopped || px.step("c").Node != "" {
		t.Fatalf("c's attempt was not ended: %+v", px.step("c"))
	}
	if st := px.instance().Status; st != fsm.InstanceFailed {
		t.Fatalf("instance %s, want FAILED at once", st)
	}
}

func TestPlanIgnoreFailureContinues(t *testing.T) {
	px := newPlanFixture(t, diamond(`"failure_mode": "IGNORE_FAILURE", "retry_policy": {"error_retry_limit": 0}`))
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("b", fsm.AttemptUserFailed, 1)
	px.finish("c", fsm.AttemptSucceeded, 0)
	px.round()
	px.expect("b:COMPLETED_WITH_ERROR d:RUNNING", "b", "d")
	px.finish("d", fsm.AttemptSucceeded, 0)
	px.round()
	if st := px.instance().Status; st != fsm.InstanceSucceeded {
		t.Fatalf("instance %s, want SUCCEEDED", st)
	}
}

func TestPlanRetriesAfterFixedBackoff(t *testing.T) {
	px := newPlanFixture(t, diamond(`"retry_policy": {"error_retry_limit": 1, "backoff": {"type": "FIXED_BACKOFF", "error_retry_backoff_in_secs": 30}}`))
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("b", fsm.AttemptUserFailed, 2)
	out := px.round()
	b := px.step("b")
	if b.Status != fsm.StepUserFailed || b.RetryAt == nil || !b.RetryAt.AsTime().Equal(px.now.Add(30*time.Second)) {
		t.Fatalf("after the first failure b is %s retry_at %v, want USER_FAILED retrying at now+30s", b.Status, b.RetryAt)
	}
	if !out.WakeAt.Equal(px.now.Add(30 * time.Second)) {
		t.Fatalf("wake at %v, want now+30s", out.WakeAt)
	}
	px.now = px.now.Add(29 * time.Second)
	px.round()
	if st := px.step("b").Status; st != fsm.StepUserFailed {
		t.Fatalf("b is %s before its backoff ended", st)
	}
	px.now = px.now.Add(time.Second)
	px.round()
	b = px.step("b")
	if b.Status != fsm.StepRunning || len(b.Attempts) != 2 || b.Attempts[1].AttemptNumber != 2 {
		t.Fatalf("b after backoff: %s with %d attempts, want RUNNING attempt 2", b.Status, len(b.Attempts))
	}
	if b.Attempts[1].Generation <= b.Attempts[0].Generation {
		t.Fatalf("retry generation %d not above %d", b.Attempts[1].Generation, b.Attempts[0].Generation)
	}
	// The second failure exhausts error_retry_limit 1.
	px.finish("b", fsm.AttemptUserFailed, 2)
	px.round()
	if b := px.step("b"); b.Status != fsm.StepFatallyFailed || !strings.Contains(b.Reason, "after 2 attempts") {
		t.Fatalf("b is %s (%q), want FATALLY_FAILED after 2 attempts", b.Status, b.Reason)
	}
}

func TestPlanPlatformFailureUsesPlatformLimit(t *testing.T) {
	px := newPlanFixture(t, diamond(`"retry_policy": {"error_retry_limit": 0, "platform_retry_limit": 1, "backoff": {"type": "FIXED_BACKOFF", "platform_retry_backoff_in_secs": 5}}`))
	px.round()
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	px.finish("b", fsm.AttemptPlatformFailed, -1)
	px.round()
	px.now = px.now.Add(5 * time.Second)
	px.round()
	if b := px.step("b"); b.Status != fsm.StepRunning || len(b.Attempts) != 2 {
		t.Fatalf("platform failure with a retry left: %s, %d attempts; want a retry after 5s", b.Status, len(b.Attempts))
	}
	// error_retry_limit 0 does not limit platform retries, but the platform limit of 1 is now spent.
	px.finish("b", fsm.AttemptPlatformFailed, -1)
	px.round()
	if b := px.step("b"); b.Status != fsm.StepFatallyFailed {
		t.Fatalf("second platform failure: %s, want FATALLY_FAILED", b.Status)
	}
}

func TestPlanWaitsForAnEligibleNode(t *testing.T) {
	px := newPlanFixture(t, diamond(""))
	px.members = nil
	px.round()
	a := px.step("a")
	if a.Status != fsm.StepCreated || !strings.Contains(a.Reason, "eligible node") {
		t.Fatalf("with no members a is %s (%q), want CREATED waiting for a node", a.Status, a.Reason)
	}
	if out := px.round(); len(out.Actions) != 0 {
		t.Fatalf("waiting step re-planned %d actions with nothing new", len(out.Actions))
	}
	px.members = []Member{{Name: "late"}}
	px.round()
	if a := px.step("a"); a.Status != fsm.StepRunning || a.Node != "late" {
		t.Fatalf("after a member appeared a is %s on %q", a.Status, a.Node)
	}
}

func TestPlanWorkflowTimeout(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "timeout": 60, "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	out := px.round()
	if !out.WakeAt.Equal(px.now.Add(time.Minute)) {
		t.Fatalf("wake at %v, want the workflow deadline", out.WakeAt)
	}
	px.now = px.now.Add(time.Minute)
	px.round()
	if st := px.instance().Status; st != fsm.InstanceTimedOut {
		t.Fatalf("instance %s after its timeout, want TIMED_OUT", st)
	}
	if st := px.step("a").Status; st != fsm.StepStopped {
		t.Fatalf("running step %s after the workflow timed out, want STOPPED", st)
	}
}

func TestPlanResolvesParamsFromInstanceAndUpstreamOutputs(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"step": {"id": "a", "type": "NoOp", "transition": {"successors": {"b": "true", "c": "true"}}}},
	  {"step": {"id": "b", "type": "NoOp", "params": {"msg": {"type": "STRING", "value": "#${workflow_instance_id} ${a__n} $$5 attempt ${step_attempt_id}"}}}},
	  {"step": {"id": "c", "type": "NoOp", "params": {"msg": {"type": "STRING", "value": "${nobody}"}}}}]}}`)
	px.round()
	a := px.step("a").Attempts[0]
	n, err := ParamFromValue(workflow.Value{Type: workflow.Long, Raw: int64(42)})
	if err != nil {
		t.Fatal(err)
	}
	px.apply(&statepb.ReportResult{WorkflowId: px.wf, InstanceId: px.inst, StepId: "a", AttemptNumber: 1,
		Generation: a.Generation, Outcome: fsm.AttemptSucceeded, EndTime: px.ts(), Outputs: map[string]*statepb.Param{"n": n}})
	px.round()
	b := px.step("b")
	if b.Status != fsm.StepRunning {
		t.Fatalf("b is %s (%q), want RUNNING", b.Status, b.Reason)
	}
	v, err := ValueFromParam(b.Attempts[0].Params["msg"])
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.Raw, "#1 42 $5 attempt 1"; got != want {
		t.Fatalf("b's msg evaluated to %q, want %q", got, want)
	}
	// An unknown reference fails the step fatally with a message naming it.
	if c := px.step("c"); c.Status != fsm.StepFatallyFailed || !strings.Contains(c.Reason, "nobody") {
		t.Fatalf("c is %s (%q), want FATALLY_FAILED naming the unknown param", c.Status, c.Reason)
	}
}

// startAnother starts one more instance of the fixture's workflow.
func (px *planFixture) startAnother(req string) int64 {
	px.t.Helper()
	first := px.f.State().Steps(nil, px.wf, px.inst)
	start := &statepb.StartInstance{RequestId: req, WorkflowId: px.wf, WorkflowVersion: px.f.State().Workflow(nil, px.wf).ActiveVersion, Now: px.ts()}
	for _, st := range first {
		start.Steps = append(start.Steps, &statepb.StepSeed{StepId: st.StepId, Type: st.Type})
	}
	return px.apply(start).(*fsm.StartResult).Instance.InstanceId
}

func (px *planFixture) instanceStatus(id int64) string {
	return px.f.State().Instance(nil, px.wf, id).Status
}

func TestPlanSequentialRunStrategyQueuesInstances(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	second := px.startAnother("r2")
	third := px.startAnother("r3")
	px.round()
	if got := px.instanceStatus(px.inst) + " " + px.instanceStatus(second) + " " + px.instanceStatus(third); got != "IN_PROGRESS CREATED CREATED" {
		t.Fatalf("SEQUENTIAL: %s, want only the first running", got)
	}
	px.finish("a", fsm.AttemptSucceeded, 0)
	px.round()
	if got := px.instanceStatus(px.inst) + " " + px.instanceStatus(second) + " " + px.instanceStatus(third); got != "SUCCEEDED IN_PROGRESS CREATED" {
		t.Fatalf("after the first ended: %s, want the second (not the third) started", got)
	}
}

func TestPlanParallelRunStrategyHonoursConcurrency(t *testing.T) {
	px := newPlanFixture(t, `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 2}},
	  "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	second := px.startAnother("r2")
	third := px.startAnother("r3")
	px.round()
	if got := px.instanceStatus(px.inst) + " " + px.instanceStatus(second) + " " + px.instanceStatus(third); got != "IN_PROGRESS IN_PROGRESS CREATED" {
		t.Fatalf("PARALLEL with concurrency 2: %s", got)
	}
}

func TestPlanRetriesAttemptOfDeadNodeElsewhere(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp",
	  "retry_policy": {"backoff": {"type": "FIXED_BACKOFF", "platform_retry_backoff_in_secs": 1}}}}]}}`)
	px.round()
	first := px.step("a").Attempts[0]
	var rest []Member
	for _, m := range px.members {
		if m.Name != first.Node {
			rest = append(rest, m)
		}
	}
	px.members = rest
	// Within a new leader's grace period the attempt is left alone.
	out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, NodesDeadAfter: px.now.Add(10 * time.Second)})
	if len(out.Actions) != 0 || !out.WakeAt.Equal(px.now.Add(10*time.Second)) {
		t.Fatalf("during the grace period: %d actions, wake %v", len(out.Actions), out.WakeAt)
	}
	px.round()
	a := px.step("a")
	if a.Status != fsm.StepPlatformFailed || a.Attempts[0].Status != fsm.AttemptPlatformFailed || a.Node != "" {
		t.Fatalf("after its node died: step %s, attempt %s, node %q", a.Status, a.Attempts[0].Status, a.Node)
	}
	px.round() // schedules the retry after the platform backoff
	px.now = px.now.Add(time.Second)
	px.round()
	a = px.step("a")
	if a.Status != fsm.StepRunning || len(a.Attempts) != 2 || a.Attempts[1].Node == first.Node {
		t.Fatalf("retry: step %s with %d attempts on %q (dead node %s)", a.Status, len(a.Attempts), a.Node, first.Node)
	}
	// The dead node's late result is fenced.
	res := px.f.ApplyLocal(px.index+1, &statepb.ReportResult{WorkflowId: px.wf, InstanceId: px.inst, StepId: "a",
		AttemptNumber: 1, Generation: first.Generation, Outcome: fsm.AttemptSucceeded, EndTime: px.ts()}).(*fsm.ReportResultOutcome)
	px.index++
	if res.Accepted {
		t.Fatal("a result from the dead node's attempt was accepted")
	}
}

func TestPlanPlacesOnlyOnNodesWithRequiredTags(t *testing.T) {
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [
	  {"step": {"id": "etl", "type": "NoOp", "params": {"node_constraints": {"type": "STRING_MAP", "value": {"pool": "etl,batch"}}}}},
	  {"step": {"id": "gpu", "type": "NoOp", "params": {"node_constraints": {"type": "STRING_MAP", "value": {"gpu": "yes"}}}}},
	  {"step": {"id": "any", "type": "NoOp"}}]}}`)
	px.members = []Member{
		{Name: "n1", Tags: map[string]string{"pool": "web"}},
		{Name: "n2", Tags: map[string]string{"pool": "batch"}},
		{Name: "n3", Tags: map[string]string{"pool": "etl"}},
	}
	px.round()
	if st := px.step("etl"); st.Status != fsm.StepRunning || (st.Node != "n2" && st.Node != "n3") {
		t.Fatalf("etl step: %s on %q, want RUNNING on n2 or n3", st.Status, st.Node)
	}
	if st := px.step("any"); st.Status != fsm.StepRunning {
		t.Fatalf("unconstrained step: %s", st.Status)
	}
	gpu := px.step("gpu")
	if gpu.Status != fsm.StepCreated || gpu.Reason != "waiting for a node with gpu=yes" {
		t.Fatalf("gpu step: %s (%q), want CREATED waiting for a node with gpu=yes", gpu.Status, gpu.Reason)
	}
	px.members = append(px.members, Member{Name: "n4", Tags: map[string]string{"gpu": "yes"}})
	px.round()
	if st := px.step("gpu"); st.Status != fsm.StepRunning || st.Node != "n4" {
		t.Fatalf("gpu step after a gpu node joined: %s on %q", st.Status, st.Node)
	}
}

// Under SEQUENTIAL and PARALLEL the pass that ends an instance starts the
// next queued one with it, so the end leaves no work for a further pass;
// STRICT_SEQUENTIAL must first see how the ended one ended, so its end
// does.
func TestPlanSettlesEndsItsRunStrategyReadmits(t *testing.T) {
	for _, tc := range []struct {
		props   string
		settled bool
	}{
		{``, true},
		{`"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1}},`, true},
		{`"properties": {"run_strategy": {"rule": "STRICT_SEQUENTIAL"}},`, false},
	} {
		px := newPlanFixture(t, `{`+tc.props+` "workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
		second := px.startAnother("r2")
		px.round()
		px.finish("a", fsm.AttemptSucceeded, 0)
		out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs})
		ended, placed := false, false
		for _, a := range out.Actions {
			if x := a.GetInstanceStatus(); x != nil && x.InstanceId == px.inst && x.Status == fsm.InstanceSucceeded {
				ended = true
			}
			if x := a.GetAssign(); x != nil && x.InstanceId == second {
				placed = true
			}
		}
		if !ended || placed != tc.settled {
			t.Fatalf("%s: the pass ended the first instance: %v, placed the second's step: %v", tc.props, ended, placed)
		}
		if opens := opensWork(out.Actions, out.settled); opens == tc.settled {
			t.Fatalf("%s: the pass leaves work for another: %v, want %v", tc.props, opens, !tc.settled)
		}
	}
}
