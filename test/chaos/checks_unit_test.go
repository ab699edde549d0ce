package chaos

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"
	"google.golang.org/protobuf/types/known/timestamppb"

	batoncluster "github.com/batonhq/baton/cluster"
	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
	"github.com/batonhq/baton/workflow"
)

// These tests feed each check a record with a planted violation, so that a
// check that passes in a scenario is known to be able to fail.

// ledgerOnly is a backend that has nothing but ledger files: the checks
// below read nothing else from it.
type ledgerOnly struct {
	backend
	files map[string][]byte
}

func (l ledgerOnly) ledgers() (map[string][]byte, error) { return l.files, nil }

func checkerRun(t *testing.T, ledgers string) *run {
	c := &cluster{t: t, b: ledgerOnly{files: map[string][]byte{"n1.ledger": []byte(ledgers)}}, voters: map[string]bool{}}
	c.nodes = []*node{{name: "n1"}, {name: "n2"}}
	return &run{t: t, scenario: "unit", c: c, starts: newStarts(), hist: newHistory(), succeed: map[string]bool{}}
}

func attempt(wf string, inst int64, step string, n int64, node string, gen uint64, status string, executions int32) *statepb.Attempt {
	return &statepb.Attempt{AttemptNumber: n, AttemptId: fmt.Sprintf("%s/%d/%s/%d", wf, inst, step, n), Node: node, Generation: gen, Status: status, Executions: executions}
}

func oneStep(st string, attempts ...*statepb.Attempt) map[string]*finalInstance {
	step := &statepb.Step{WorkflowId: "wf", InstanceId: 1, StepId: "s", Type: "Shell", Status: st, Attempts: attempts}
	return map[string]*finalInstance{"wf/1": {inst: &statepb.Instance{WorkflowId: "wf", InstanceId: 1, Status: fsm.InstanceSucceeded}, steps: []*statepb.Step{step}}}
}

func ledgerLines(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

func TestLedgerCheckFindsUnrecordedDoubleExecution(t *testing.T) {
	final := oneStep(fsm.StepSucceeded, attempt("wf", 1, "s", 1, "n1", 7, fsm.AttemptSucceeded, 1))
	line := "wf/1/s/1 7 n1 1 %d 100"
	now := time.Now().UnixNano()

	r := checkerRun(t, ledgerLines(fmt.Sprintf(line, now)))
	if res := r.checkLedgers(final); len(res.violations) != 0 {
		t.Fatalf("one execution, recorded: %v", res.violations)
	}
	r = checkerRun(t, ledgerLines(fmt.Sprintf(line, now), fmt.Sprintf(line, now+1e9)))
	if res := r.checkLedgers(final); len(res.violations) != 1 || !strings.Contains(res.violations[0], "ran 2 times") {
		t.Fatalf("two executions with executions=1: %v, want one violation", res.violations)
	}
	// Recorded re-execution (the node restarted mid-run) is allowed.
	final["wf/1"].steps[0].Attempts[0].Executions = 2
	if res := r.checkLedgers(final); len(res.violations) != 0 {
		t.Fatalf("two executions with executions=2: %v", res.violations)
	}
}

func TestLedgerCheckFindsExecutionOfUncommittedPlacement(t *testing.T) {
	final := oneStep(fsm.StepSucceeded,
		attempt("wf", 1, "s", 1, "n2", 5, fsm.AttemptPlatformFailed, 0),
		attempt("wf", 1, "s", 2, "n1", 9, fsm.AttemptSucceeded, 1))
	now := time.Now().UnixNano()
	// The fenced attempt ran on its node, twice: allowed, it is recorded
	// as fenced. The succeeded one ran with a generation never committed.
	r := checkerRun(t, ledgerLines(
		fmt.Sprintf("wf/1/s/1 5 n2 1 %d 1", now), fmt.Sprintf("wf/1/s/1 5 n2 1 %d 2", now+1),
		fmt.Sprintf("wf/1/s/2 8 n1 2 %d 3", now+2)))
	res := r.checkLedgers(final)
	if len(res.violations) != 1 || !strings.Contains(res.violations[0], "generation 8") {
		t.Fatalf("violations %v, want one about generation 8", res.violations)
	}
	// A succeeded Shell attempt that never ran is a result from nowhere.
	r = checkerRun(t, ledgerLines(fmt.Sprintf("wf/1/s/1 5 n2 1 %d 1", now)))
	res = r.checkLedgers(final)
	if len(res.violations) != 1 || !strings.Contains(res.violations[0], "never ran") {
		t.Fatalf("violations %v, want one about an attempt that never ran", res.violations)
	}
}

func TestAttemptCheckFindsTwoResultsOnTheTimeline(t *testing.T) {
	final := oneStep(fsm.StepSucceeded, attempt("wf", 1, "s", 1, "n1", 7, fsm.AttemptSucceeded, 1))
	ev := func(seq int64, status string) *statepb.Event {
		return &statepb.Event{WorkflowId: "wf", InstanceId: 1, Seq: seq, StepId: "s", AttemptNumber: 1, Status: status}
	}
	final["wf/1"].events = []*statepb.Event{ev(1, fsm.StepRunning), ev(2, fsm.StepSucceeded)}
	r := checkerRun(t, "")
	if res := r.checkAttempts(final); len(res.violations) != 0 {
		t.Fatalf("one result: %v", res.violations)
	}
	final["wf/1"].events = append(final["wf/1"].events, ev(3, fsm.StepRunning), ev(4, fsm.StepUserFailed))
	if res := r.checkAttempts(final); len(res.violations) != 2 {
		t.Fatalf("two results of attempt 1: %v, want a violation for the second result and one for the second start", res.violations)
	}
}

func TestStartCheckFindsLostAndDuplicatedStarts(t *testing.T) {
	r := checkerRun(t, "")
	r.starts.add(&startRecord{workflowID: "wf", requestID: "a", acked: true, instanceID: 1})
	r.starts.add(&startRecord{workflowID: "wf", requestID: "b", acked: true, instanceID: 2})
	inst := func(id int64, rid string) *finalInstance {
		return &finalInstance{inst: &statepb.Instance{WorkflowId: "wf", InstanceId: id, RequestId: rid}}
	}
	final := map[string]*finalInstance{"wf/1": inst(1, "a"), "wf/2": inst(2, "b")}
	if res := r.checkStarts(final); len(res.violations) != 0 {
		t.Fatalf("exact: %v", res.violations)
	}
	final["wf/3"] = inst(3, "a")
	final["wf/4"] = inst(4, "zzz")
	delete(final, "wf/2")
	if res := r.checkStarts(final); len(res.violations) != 3 {
		t.Fatalf("duplicate, lost and unknown: %v, want 3 violations", res.violations)
	}
}

func op(client int, in linInput, call, ret int64, out *linOutput) porcupine.Operation {
	return porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Output: out}
}

func TestRegisterModelFindsStaleRead(t *testing.T) {
	k := "wf"
	history := []porcupine.Operation{
		op(0, linInput{kind: opPush, key: k, content: 1}, 0, 10, &linOutput{version: 1, created: true}),
		op(1, linInput{kind: opPush, key: k, content: 2}, 20, 30, &linOutput{version: 2, created: true}),
		op(2, linInput{kind: opGet, key: k}, 25, 35, &linOutput{version: 1, content: 1}),
	}
	if !porcupine.CheckOperations(linModel, history) {
		t.Fatal("a read concurrent with the push may still see the old version")
	}
	history = append(history, op(2, linInput{kind: opGet, key: k}, 40, 50, &linOutput{version: 1, content: 1}))
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("a read after the push completed saw the old version, and the model accepted it")
	}
	// A start made after the push must use the new active version.
	history = history[:3]
	history = append(history, op(3, linInput{kind: opStart, key: k}, 40, 50, &linOutput{version: 1}))
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("a start after the push used the old version, and the model accepted it")
	}
}

func TestRegisterModelAndUnknownOutcomes(t *testing.T) {
	k := "wf"
	h := &history{ops: []porcupine.Operation{
		op(0, linInput{kind: opPush, key: k, content: 1}, 0, 10, &linOutput{version: 1, created: true}),
		op(1, linInput{kind: opActivate, key: k, version: 7}, 20, 30, &linOutput{notFound: true}),
		op(1, linInput{kind: opPush, key: k, content: 2}, 40, math.MaxInt64, nil),
		op(2, linInput{kind: opGet, key: k}, 100, 110, &linOutput{version: 2, content: 2}),
	}, unknownPushes: []int{2}}
	ops := h.resolvedOps(map[string]map[int][]int64{k: {1: {1}, 2: {2}}})
	if !porcupine.CheckOperations(linModel, ops) {
		t.Fatal("a push whose outcome was unknown but whose content was stored explains the read")
	}
	// Content never stored: the push did not happen, and the read is wrong.
	ops = h.resolvedOps(map[string]map[int][]int64{k: {1: {1}}})
	if len(ops) != 3 || porcupine.CheckOperations(linModel, ops) {
		t.Fatal("a read of a version nobody stored was accepted")
	}
}

func TestHiddenAppliesExplainOnlyTheKnownBug(t *testing.T) {
	k := "wf"
	// Content 2 was applied twice by one push: stored as v2 and, after
	// content 3, as v4, while the answer named only v4.
	stored := map[string]map[int][]int64{k: {1: {1}, 2: {2, 4}, 3: {3}}}
	history := []porcupine.Operation{
		op(0, linInput{kind: opPush, key: k, content: 1}, 0, 10, &linOutput{version: 1, created: true}),
		op(1, linInput{kind: opPush, key: k, content: 2, fresh: true}, 20, 100, &linOutput{version: 4, created: true}),
		op(2, linInput{kind: opPush, key: k, content: 3}, 30, 40, &linOutput{version: 3, created: true}),
		op(2, linInput{kind: opGet, key: k}, 50, 60, &linOutput{version: 3, content: 3}),
	}
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("one push stored twice passed the model")
	}
	aug, evidence := withHiddenApplies(history, stored)
	if len(evidence) != 1 || !porcupine.CheckOperations(linModel, aug) {
		t.Fatalf("the hidden application does not explain the history: %v", evidence)
	}
	// A push answered created=false for its own fresh content.
	stored = map[string]map[int][]int64{k: {1: {1}, 2: {2}}}
	history = []porcupine.Operation{
		op(0, linInput{kind: opPush, key: k, content: 1}, 0, 10, &linOutput{version: 1, created: true}),
		op(1, linInput{kind: opPush, key: k, content: 2, fresh: true}, 20, 30, &linOutput{version: 2, created: false}),
		// Another client saw content 2 as the latest and pushed it again.
		op(2, linInput{kind: opPush, key: k, content: 2}, 35, 38, &linOutput{version: 2, created: false}),
	}
	if porcupine.CheckOperations(linModel, history) {
		t.Fatal("a fresh push answered created=false passed the model")
	}
	aug, evidence = withHiddenApplies(history, stored)
	if len(evidence) != 1 || !porcupine.CheckOperations(linModel, aug) {
		t.Fatalf("the hidden application does not explain created=false: %v", evidence)
	}
	// It explains nothing else: a stale read stays a violation.
	aug = append(aug, op(2, linInput{kind: opGet, key: k}, 40, 50, &linOutput{version: 1, content: 1}))
	if porcupine.CheckOperations(linModel, aug) {
		t.Fatal("a stale read passed once hidden applications were added")
	}
}

func TestStatusModelIsMonotone(t *testing.T) {
	st := func(call, ret int64, s string) porcupine.Operation {
		return op(0, linInput{kind: opStatus, key: "wf/1"}, call, ret, &linOutput{status: s})
	}
	ok := []porcupine.Operation{st(0, 1, fsm.InstanceCreated), st(2, 3, fsm.InstanceInProgress), st(4, 5, fsm.InstanceSucceeded), st(6, 7, fsm.InstanceSucceeded)}
	if !porcupine.CheckOperations(linModel, ok) {
		t.Fatal("a forward history was refused")
	}
	for _, bad := range [][]porcupine.Operation{
		{st(0, 1, fsm.InstanceInProgress), st(2, 3, fsm.InstanceCreated)},
		{st(0, 1, fsm.InstanceSucceeded), st(2, 3, fsm.InstanceFailed)},
		{st(0, 1, fsm.InstanceCreated), st(2, 3, "NOT_FOUND")},
	} {
		if porcupine.CheckOperations(linModel, bad) {
			t.Fatalf("accepted %s then %s", bad[0].Output.(*linOutput).status, bad[1].Output.(*linOutput).status)
		}
	}
}

func TestRefusedConnectionIsNeverSent(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := clusterv1connect.NewClusterServiceClient(harness.HTTPClient(), "http://"+addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = c.Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if !refused(err) || !retriable(err) {
		t.Fatalf("a call to a closed port: %v; refused=%v retriable=%v", err, refused(err), retriable(err))
	}
}

func TestMinorityCheckFindsCommitsWithoutQuorum(t *testing.T) {
	r := checkerRun(t, "")
	healed := time.Now()
	r.minority = []minorityRecord{{fault: "isolate-leader", node: "n1", commitAtCut: 10, appliedAtCut: 10, bound: 12, maxCommit: 12, maxApplied: 12, polls: 5,
		requestIDs: []string{"m-1"}, healedAt: healed}}
	final := map[string]*finalInstance{
		"wf/1": {inst: &statepb.Instance{WorkflowId: "wf", InstanceId: 1, RequestId: "other"}},
		// A timed-out start that reached the leader after the heal.
		"wf/2": {inst: &statepb.Instance{WorkflowId: "wf", InstanceId: 2, RequestId: "m-1", CreateTime: timestamppb.New(healed.Add(time.Second))}},
	}
	if res := r.checkMinority(final); len(res.violations) != 0 {
		t.Fatalf("commits up to the bound: %v", res.violations)
	}
	r.minority[0].maxCommit = 13
	r.minority[0].acked = []string{"m-1"}
	final["wf/2"].inst.CreateTime = timestamppb.New(healed.Add(-time.Second))
	if res := r.checkMinority(final); len(res.violations) != 3 {
		t.Fatalf("a commit past the bound, an acknowledged write and its instance made during the cut: %v, want 3 violations", res.violations)
	}
}

func signal(name string, seq int64, rid, source string, params map[string]string) *statepb.Signal {
	sg := &statepb.Signal{Name: name, Seq: seq, RequestId: rid, Source: source, Params: map[string]*statepb.Param{}}
	for k, v := range params {
		p, err := scheduler.ParamFromValue(workflow.Value{Type: workflow.String, Raw: v})
		if err != nil {
			panic(err)
		}
		sg.Params[k] = p
	}
	return sg
}

func TestSignalSendCheckFindsLostDoubledAndUnknownSignals(t *testing.T) {
	p := map[string]string{"key": "k"}
	sends := []signalRecord{
		{name: goSignal, requestID: "a", params: p, acked: true, seq: 1},
		{name: goSignal, requestID: "b", params: p, acked: true, seq: 2},
		{name: goSignal, requestID: "c", params: p},
	}
	stored := map[string][]*statepb.Signal{goSignal: {
		signal(goSignal, 3, "c", "api", p), signal(goSignal, 2, "b", "api", p), signal(goSignal, 1, "a", "api", p)},
		relaySignal: {signal(relaySignal, 1, "step:x", "wf/1/s", nil)}}
	if res := checkSignalSends(sends, stored); len(res.violations) != 0 || res.checked != 3 {
		t.Fatalf("exact: %v (%d checked)", res.violations, res.checked)
	}
	// b lost, c (never acknowledged) stored twice, a stored under another
	// number with other params, and a signal no client sent.
	stored[goSignal] = []*statepb.Signal{
		signal(goSignal, 4, "zzz", "api", p), signal(goSignal, 3, "c", "api", p), signal(goSignal, 2, "c", "api", p),
		signal(goSignal, 1, "x", "api", p), signal(goSignal, 5, "a", "api", map[string]string{"key": "other"})}
	res := checkSignalSends(sends, stored)
	for _, want := range []string{"request b", "stored 2 times", "acknowledged as chaos-go #1; it is stored as chaos-go #5", `param key = "other"`, `"zzz" that no client sent`, `"x" that no client sent`} {
		found := false
		for _, v := range res.violations {
			found = found || strings.Contains(v, want)
		}
		if !found {
			t.Errorf("no violation mentions %q: %v", want, res.violations)
		}
	}
	if len(res.violations) != 6 {
		t.Fatalf("%d violations, want 6: %v", len(res.violations), res.violations)
	}
}

func TestSignalNumberCheckFindsGapsAndDuplicates(t *testing.T) {
	stored := map[string][]*statepb.Signal{goSignal: {signal(goSignal, 3, "c", "api", nil), signal(goSignal, 2, "b", "api", nil), signal(goSignal, 1, "a", "api", nil)}}
	if res := checkSignalNumbers(stored); len(res.violations) != 0 || res.checked != 3 {
		t.Fatalf("1, 2, 3: %v", res.violations)
	}
	stored[goSignal] = append(stored[goSignal], signal(goSignal, 3, "d", "api", nil), signal(goSignal, 5, "e", "api", nil))
	stored[relaySignal] = []*statepb.Signal{signal(relaySignal, 2, "f", "wf/1/s", nil)}
	res := checkSignalNumbers(stored)
	if len(res.violations) != 3 {
		t.Fatalf("#3 twice, #4 skipped and a relay numbering starting at #2: %v, want 3 violations", res.violations)
	}
}

// signalInstance is a final instance of a signal workflow: its waiting (or
// emitting) step with the given attempts' generations and its timeline.
func signalInstance(wf string, id int64, key string, steps []*statepb.Step, events ...*statepb.Event) *finalInstance {
	kp, err := scheduler.ParamFromValue(workflow.Value{Type: workflow.String, Raw: key})
	if err != nil {
		panic(err)
	}
	return &finalInstance{inst: &statepb.Instance{WorkflowId: wf, InstanceId: id, Status: fsm.InstanceSucceeded, Params: map[string]*statepb.Param{"key": kp}},
		steps: steps, events: events}
}

func stepEvent(step, status string, index uint64) *statepb.Event {
	return &statepb.Event{StepId: step, Status: status, Index: index}
}

func succeededStep(step string, generations ...uint64) *statepb.Step {
	st := &statepb.Step{StepId: step, Status: fsm.StepSucceeded, SignalsEmitted: step == sigEmitStep}
	for i, g := range generations {
		st.Attempts = append(st.Attempts, &statepb.Attempt{AttemptNumber: int64(i + 1), Generation: g, Status: fsm.AttemptSucceeded})
	}
	return st
}

func TestSignalWaitCheckFindsStepsThatRanBeforeTheirSignal(t *testing.T) {
	waitFirst := func() (signalKey, map[string]*finalInstance) {
		k := signalKey{key: "k1",
			waiter: &startRecord{workflowID: sigWaitWorkflow, instanceID: 1, acked: true},
			relay:  &startRecord{workflowID: sigRelayWorkflow, instanceID: 1, acked: true},
			match:  &signalRecord{name: goSignal, acked: true, seq: 4},
			before: map[string]stepSeen{
				sigWaitWorkflow:  {status: fsm.StepWaitingForSignals},
				sigRelayWorkflow: {status: fsm.StepWaitingForSignals},
			}}
		final := map[string]*finalInstance{
			sigWaitWorkflow + "/1": signalInstance(sigWaitWorkflow, 1, "k1",
				[]*statepb.Step{succeededStep(sigWaitStep, 20), succeededStep(sigEmitStep, 25, 30)},
				stepEvent(sigWaitStep, fsm.StepWaitingForSignals, 10), stepEvent(sigWaitStep, fsm.StepRunning, 20), stepEvent(sigWaitStep, fsm.StepSucceeded, 22),
				stepEvent(sigEmitStep, fsm.StepRunning, 25), stepEvent(sigEmitStep, fsm.StepUserFailed, 27),
				stepEvent(sigEmitStep, fsm.StepRunning, 30), stepEvent(sigEmitStep, fsm.StepSucceeded, 32)),
			sigRelayWorkflow + "/1": signalInstance(sigRelayWorkflow, 1, "k1",
				[]*statepb.Step{succeededStep(sigWaitStep, 35)},
				stepEvent(sigWaitStep, fsm.StepWaitingForSignals, 11), stepEvent(sigWaitStep, fsm.StepRunning, 35), stepEvent(sigWaitStep, fsm.StepSucceeded, 37)),
		}
		return k, final
	}
	k, final := waitFirst()
	if res := checkSignalWaits([]signalKey{k}, final); len(res.violations) != 0 || res.checked != 2 {
		t.Fatalf("in order: %v (%d checked)", res.violations, res.checked)
	}
	cases := []struct {
		name  string
		plant func(k *signalKey, final map[string]*finalInstance)
		want  string
	}{
		{"the waiter ran before its signal was sent", func(k *signalKey, _ map[string]*finalInstance) {
			k.before[sigWaitWorkflow] = stepSeen{status: fsm.StepRunning, attempts: 1}
		}, "was RUNNING with 1 attempts before its signal was sent"},
		{"the relay ran before its emitter succeeded", func(_ *signalKey, final map[string]*finalInstance) {
			final[sigRelayWorkflow+"/1"].steps[0].Attempts[0].Generation = 31
		}, "started at index 31, before step announce"},
		{"the relay ran though its emitter never succeeded", func(_ *signalKey, final map[string]*finalInstance) {
			fi := final[sigWaitWorkflow+"/1"]
			fi.events = fi.events[:len(fi.events)-1]
		}, "never succeeded"},
		{"the waiter never waited", func(_ *signalKey, final map[string]*finalInstance) {
			fi := final[sigWaitWorkflow+"/1"]
			fi.events = fi.events[1:]
		}, "never waited for its signal"},
		{"the relay ran, then waited", func(_ *signalKey, final map[string]*finalInstance) {
			fi := final[sigRelayWorkflow+"/1"]
			fi.events = []*statepb.Event{stepEvent(sigWaitStep, fsm.StepRunning, 9), fi.events[0], fi.events[1], fi.events[2]}
		}, "ran before it waited"},
		{"the waiter failed", func(_ *signalKey, final map[string]*finalInstance) {
			final[sigWaitWorkflow+"/1"].inst.Status = fsm.InstanceFailed
		}, "ended FAILED"},
		{"the signal came first, and the waiter waited anyway", func(k *signalKey, _ map[string]*finalInstance) {
			k.signalFirst, k.before = true, map[string]stepSeen{}
			k.match.ackedAt = time.Now()
			k.waiter.sentAt = k.match.ackedAt.Add(time.Millisecond)
		}, "acknowledged as chaos-go #4 before the instance was started"},
	}
	for _, c := range cases {
		k, final := waitFirst()
		c.plant(&k, final)
		res := checkSignalWaits([]signalKey{k}, final)
		if len(res.violations) != 1 || !strings.Contains(res.violations[0], c.want) {
			t.Errorf("%s: %v, want one violation with %q", c.name, res.violations, c.want)
		}
	}
	// A signal that came first releases the waiter without a wait, and the
	// relay may or may not wait for the signal the waiter sends.
	k, final = waitFirst()
	k.signalFirst, k.before = true, map[string]stepSeen{}
	for _, wf := range []string{sigWaitWorkflow, sigRelayWorkflow} {
		fi := final[wf+"/1"]
		fi.events = fi.events[1:]
	}
	if res := checkSignalWaits([]signalKey{k}, final); len(res.violations) != 0 {
		t.Fatalf("signal first: %v", res.violations)
	}
}

func TestSignalOutputCheckFindsMissingAndRepeatedEmissions(t *testing.T) {
	emitter := func(id int64, key string, st *statepb.Step) *finalInstance {
		return signalInstance(sigWaitWorkflow, id, key, []*statepb.Step{succeededStep(sigWaitStep, 1), st})
	}
	final := map[string]*finalInstance{
		"e/1": emitter(1, "k1", succeededStep(sigEmitStep, 5, 6)),
		"e/2": emitter(2, "k2", &statepb.Step{StepId: sigEmitStep, Status: fsm.StepNotCreated}),
	}
	relay := func(seq int64, src, key string) *statepb.Signal {
		return signal(relaySignal, seq, fmt.Sprintf("step:%s:%d", src, seq), src, map[string]string{"key": key})
	}
	src1, src2 := sigWaitWorkflow+"/1/"+sigEmitStep, sigWaitWorkflow+"/2/"+sigEmitStep
	if res := checkSignalOutputs(final, []*statepb.Signal{relay(1, src1, "k1")}); len(res.violations) != 0 || res.checked != 2 {
		t.Fatalf("one emission: %v (%d checked)", res.violations, res.checked)
	}
	for _, c := range []struct {
		name   string
		relays []*statepb.Signal
		want   string
	}{
		{"none", nil, "emitted chaos-go-relay 0 times"},
		{"twice", []*statepb.Signal{relay(1, src1, "k1"), relay(2, src1, "k1")}, "emitted chaos-go-relay 2 times"},
		{"another key", []*statepb.Signal{relay(1, src1, "k2")}, `param key = "k2"`},
		{"from a step that did not succeed", []*statepb.Signal{relay(1, src1, "k1"), relay(2, src2, "k2")}, "is NOT_CREATED but emitted"},
		{"from nowhere", []*statepb.Signal{relay(1, src1, "k1"), relay(2, "chaos-sig-wait/9/announce", "k9")}, "a step that does not exist"},
	} {
		res := checkSignalOutputs(final, c.relays)
		if len(res.violations) != 1 || !strings.Contains(res.violations[0], c.want) {
			t.Errorf("%s: %v, want one violation with %q", c.name, res.violations, c.want)
		}
	}
}

// logsOnly is a backend that has nothing but its servers' logs.
type logsOnly struct {
	backend
	logs map[string]string
}

func (l logsOnly) serverLogs() (map[string]string, error) { return l.logs, nil }

// A pass notes each time a server sent itself a dead leader's heartbeat,
// and says nothing when none did.
func TestNoteWorkarounds(t *testing.T) {
	line := `time=2026-11-25T23:00:13.000Z level=WARN msg="` + batoncluster.StuckCandidateLog + `" component=cluster leader=n3 term=115`
	r := checkerRun(t, "")
	r.c.b = logsOnly{logs: map[string]string{"n1": "time=x level=INFO msg=started\n" + line + "\n", "n2": "time=x level=INFO msg=started\n"}}
	r.noteWorkarounds()
	if len(r.notes) != 1 || !strings.Contains(r.notes[0], "leader's heartbeat to itself, 1 time(s)") || !strings.Contains(r.notes[0], "n1: "+line) {
		t.Errorf("notes = %q, want one naming n1's line", r.notes)
	}
	r = checkerRun(t, "")
	r.c.b = logsOnly{logs: map[string]string{"n1": "time=x level=INFO msg=started\n"}}
	r.noteWorkarounds()
	if len(r.notes) != 0 {
		t.Errorf("notes = %q, want none", r.notes)
	}
}
