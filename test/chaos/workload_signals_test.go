package chaos

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// The signals workload. A client picks a key and starts two instances with
// it: one of sigWaitWorkflow, whose step sigWaitStep waits for a goSignal
// with that key and a level of at least 100, whose step sigEmitStep after
// it fails its first attempt and then emits a relaySignal with the key
// through signal_outputs, and whose step sigEarlyStep, beside them, waits
// for a goSignal with the key and a level under 100; and one of
// sigRelayWorkflow, whose only step waits for that relaySignal. The client
// waits until both waiting steps are WAITING_FOR_SIGNALS and sends a
// goSignal with the key and a level under 100. That signal releases
// sigEarlyStep and not sigWaitStep: once a read shows sigEarlyStep started,
// the scheduler has planned the instance with that signal, and sigWaitStep
// must still be waiting. The client then sends the matching signal. For one
// key in four it sends the matching signal first, starts the instances once
// it was acknowledged, and then sends the one with the low level. Every
// Send carries a request id and is sent again, to any server, while its
// outcome is unknown.
const (
	sigWaitWorkflow  = "chaos-sig-wait"
	sigRelayWorkflow = "chaos-sig-relay"
	goSignal         = "chaos-go"
	relaySignal      = "chaos-go-relay"
	// sigWaitStep waits for a signal in both workflows; sigEmitStep sends
	// the relay signal; sigEarlyStep waits for the signal that does not
	// release sigWaitStep.
	sigWaitStep  = "wait"
	sigEmitStep  = "announce"
	sigEarlyStep = "early"
	// minLevel is the level a goSignal needs to release its key's step.
	minLevel = 100
)

// signalShellStep is a ledger Shell step with signal fields (JSON members
// of the step, each with its leading comma).
func signalShellStep(id, args, fields string, successors ...string) string {
	return fmt.Sprintf(`{"step": {"id": %q, "type": "Shell",
  "params": {"shell": {"type": "MAP", "value": {"command": {"type": "STRING", "value": "${step} ${ledger} %s"}}}}%s,
  "retry_policy": %s%s}}`, id, args, fields, retryPolicy, transition(successors))
}

// signalDefinition is definition with a key param, the one each instance's
// signals are matched on.
func signalDefinition(id string, steps ...string) string {
	return fmt.Sprintf(`{"properties": {"owner": "chaos", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 200}},
 "workflow": {"id": %q,
  "params": {"step": {"type": "STRING", "value": "/nonexistent"}, "ledger": {"type": "STRING", "value": "/nonexistent"},
             "key": {"type": "STRING", "value": "none"}},
  "steps": [%s]}}`, id, strings.Join(steps, ",\n"))
}

var signalDefinitions = map[string]string{
	sigWaitWorkflow: signalDefinition(sigWaitWorkflow,
		signalShellStep(sigWaitStep, "sleep=100", fmt.Sprintf(`,
  "signal_dependencies": [{"name": %q, "match_params": {
     "key": {"param": {"type": "STRING", "expression": "key"}, "operator": "="},
     "level": {"value": %d, "operator": ">="}}}]`, goSignal, minLevel), sigEmitStep),
		signalShellStep(sigEmitStep, "fail=1 sleep=100", fmt.Sprintf(`,
  "signal_outputs": [{"name": %q, "params": {"key": {"type": "STRING", "expression": "key"}}}]`, relaySignal)),
		signalShellStep(sigEarlyStep, "sleep=100", fmt.Sprintf(`,
  "signal_dependencies": [{"name": %q, "match_params": {
     "key": {"param": {"type": "STRING", "expression": "key"}, "operator": "="},
     "level": {"value": %d, "operator": "<"}}}]`, goSignal, minLevel))),
	sigRelayWorkflow: signalDefinition(sigRelayWorkflow,
		signalShellStep(sigWaitStep, "sleep=100", fmt.Sprintf(`,
  "signal_dependencies": [{"name": %q, "match_params": {
     "key": {"param": {"type": "STRING", "expression": "key"}}}}]`, relaySignal))),
}

// signalRecord is what one client learnt about one Send request id.
type signalRecord struct {
	name      string
	requestID string
	params    map[string]string
	acked     bool
	seq       int64 // the number the acknowledgement gave it
	tries     int
	ambiguous int
	sentAt    time.Time
	ackedAt   time.Time
}

// stepSeen is a step as one read showed it.
type stepSeen struct {
	status   string
	attempts int
}

// signalKey is one key's instances and the signal meant to release them.
type signalKey struct {
	key string
	// signalFirst: the matching signal was acknowledged before the
	// instances were started.
	signalFirst bool
	waiter      *startRecord
	relay       *startRecord
	match       *signalRecord
	// before is what the last read before the matching signal was first
	// sent showed of each instance's sigWaitStep, by workflow id.
	before map[string]stepSeen
}

type signalWorkload struct {
	nClients int
	interval time.Duration
	// stat names what send counts in the run's stats ("signal" when empty).
	stat string

	mu     sync.Mutex
	sends  []*signalRecord
	keys   []*signalKey
	errors []string
}

func newSignalWorkload(clients int, interval time.Duration) *signalWorkload {
	return &signalWorkload{nClients: clients, interval: interval, stat: "signal"}
}

func (w *signalWorkload) name() string { return "signals" }
func (w *signalWorkload) clients() int { return w.nClients }

func (w *signalWorkload) setup(r *run) error {
	for _, id := range []string{sigWaitWorkflow, sigRelayWorkflow} {
		if err := r.pushDefinition(signalDefinitions[id]); err != nil {
			return fmt.Errorf("push %s: %w", id, err)
		}
		r.mustSucceed(id)
	}
	return nil
}

func (w *signalWorkload) unexpected(format string, args ...any) {
	w.mu.Lock()
	w.errors = append(w.errors, fmt.Sprintf(format, args...))
	w.mu.Unlock()
}

func (r *run) signalClient(n *node) signalv1connect.SignalServiceClient {
	return signalv1connect.NewSignalServiceClient(harness.HTTPClient(), n.url)
}

// send sends a signal as a careful client does: one request id for every
// try, each try to a random member, sent again while the outcome is
// unknown, until within has passed; some first tries are impatient on
// purpose, so that a retry races a send that did happen.
func (w *signalWorkload) send(r *run, name string, params map[string]string, within time.Duration) (*signalRecord, error) {
	rec := &signalRecord{name: name, requestID: fmt.Sprintf("%s-sig-%d", r.scenario, r.nextID()), params: params, sentAt: time.Now()}
	w.mu.Lock()
	w.sends = append(w.sends, rec)
	w.mu.Unlock()
	patience := 3 * time.Second
	if r.chance(0.2) {
		patience = time.Duration(5+r.intn(20)) * time.Millisecond
	}
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-r.abort:
			return rec, fmt.Errorf("send %s (request %s): the test ended", name, rec.requestID)
		default:
		}
		n := r.pickNode()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		res, err := r.signalClient(n).Send(ctx, connect.NewRequest(&signalv1.SendRequest{Name: name, Params: params, RequestId: rec.requestID}))
		cancel()
		patience = 3 * time.Second
		r.stats.add(w.stat+" tries", 1)
		w.mu.Lock()
		rec.tries++
		if err != nil && retriable(err) {
			rec.ambiguous++
		}
		w.mu.Unlock()
		if err == nil {
			sg := res.Msg.GetSignal()
			if sg.GetName() != name || sg.GetRequestId() != rec.requestID {
				return rec, fmt.Errorf("send %s (request %s) through %s answered signal %s #%d with request id %q",
					name, rec.requestID, n.name, sg.GetName(), sg.GetSeq(), sg.GetRequestId())
			}
			w.mu.Lock()
			rec.acked, rec.seq, rec.ackedAt = true, sg.GetSeq(), time.Now()
			w.mu.Unlock()
			r.stats.add(w.stat+"s acknowledged", 1)
			return rec, nil
		}
		if !retriable(err) {
			return rec, fmt.Errorf("send %s (request %s) through %s: %w", name, rec.requestID, n.name, err)
		}
		r.stats.add(w.stat+" retries", 1)
		last = err
		time.Sleep(time.Duration(20+r.intn(80)) * time.Millisecond)
	}
	return rec, fmt.Errorf("send %s (request %s) not acknowledged within %s: %w", name, rec.requestID, within, last)
}

// readSteps reads an instance's steps through any live server, and its
// status.
func readSteps(r *run, rec *startRecord) (map[string]stepSeen, string, error) {
	seen := map[string]stepSeen{}
	var inst string
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: rec.workflowID, InstanceId: rec.instanceID}))
		if err != nil {
			return err
		}
		inst = res.Msg.Instance.GetStatus()
		clear(seen)
		for _, st := range res.Msg.Steps {
			seen[st.StepId] = stepSeen{status: st.Status, attempts: len(st.Attempts)}
		}
		return nil
	})
	if err != nil {
		return nil, inst, fmt.Errorf("read %s: %w", instKey(rec.workflowID, rec.instanceID), err)
	}
	return seen, inst, nil
}

// waitSteps polls an instance until done holds for its steps, or it ended,
// and returns the steps of the read that ended the wait.
func (w *signalWorkload) waitSteps(r *run, rec *startRecord, what string, within time.Duration, done func(map[string]stepSeen) bool) (map[string]stepSeen, error) {
	deadline := time.Now().Add(within)
	for {
		seen, inst, err := readSteps(r, rec)
		switch {
		case err != nil:
			return nil, err
		case done(seen) || fsm.InstanceTerminal(inst):
			return seen, nil
		case time.Now().After(deadline):
			return seen, fmt.Errorf("%s: not within %s (status %s, steps %v)", what, within, inst, seen)
		}
		select {
		case <-r.abort:
			return seen, fmt.Errorf("%s: the test ended", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *signalWorkload) client(r *run, id int, stop <-chan struct{}) {
	for seq := 0; ; seq++ {
		if !r.pace(w.interval, stop) {
			return
		}
		// A key with a dash and letters is never read as a number.
		k := &signalKey{key: fmt.Sprintf("%s-k%d-%d", r.scenario, id, seq), signalFirst: r.chance(0.25), before: map[string]stepSeen{}}
		w.mu.Lock()
		w.keys = append(w.keys, k)
		w.mu.Unlock()
		r.stats.add("signal keys", 1)
		// Once started, a key is carried through even when the load
		// stops: its instances wait until its signal is sent.
		w.runKey(r, k)
	}
}

func (w *signalWorkload) matchParams(r *run, key string) map[string]string {
	return map[string]string{"key": key, "level": strconv.Itoa(minLevel + r.intn(900))}
}

func (w *signalWorkload) runKey(r *run, k *signalKey) {
	const within = 5 * time.Minute
	var err error
	if k.signalFirst {
		if k.match, err = w.send(r, goSignal, w.matchParams(r, k.key), within); err != nil {
			w.unexpected("%v", err)
		}
	}
	params := r.c.b.stepParams()
	params["key"] = k.key
	if k.waiter, err = r.start(sigWaitWorkflow, fmt.Sprintf("%s-sigwait-%d", r.scenario, r.nextID()), "signals", params, within); err != nil {
		w.unexpected("%v", err)
	}
	if k.relay, err = r.start(sigRelayWorkflow, fmt.Sprintf("%s-sigrelay-%d", r.scenario, r.nextID()), "signals", params, within); err != nil {
		w.unexpected("%v", err)
	}
	seeBefore := func(rec *startRecord, seen stepSeen) {
		w.mu.Lock()
		k.before[rec.workflowID] = seen
		w.mu.Unlock()
	}
	if !k.signalFirst {
		// Both waiting steps wait (a step that started already is
		// recorded as it was before its signal; the check reports it).
		for _, rec := range []*startRecord{k.waiter, k.relay} {
			if !rec.acked {
				continue
			}
			seen, err := w.waitSteps(r, rec, "step "+sigWaitStep+" of "+instKey(rec.workflowID, rec.instanceID)+" waits", within, func(s map[string]stepSeen) bool {
				return s[sigWaitStep].status == fsm.StepWaitingForSignals || s[sigWaitStep].attempts > 0
			})
			if err != nil {
				w.unexpected("%v", err)
			} else if seen[sigWaitStep].status != fsm.StepWaitingForSignals {
				seeBefore(rec, seen[sigWaitStep])
			}
		}
	}
	// The signal with a low level releases the early step only.
	if _, err := w.send(r, goSignal, map[string]string{"key": k.key, "level": strconv.Itoa(r.intn(minLevel))}, within); err != nil {
		w.unexpected("%v", err)
	}
	if k.signalFirst {
		return
	}
	if _, early := k.before[sigWaitWorkflow]; k.waiter.acked && !early {
		seen, err := w.waitSteps(r, k.waiter, "step "+sigEarlyStep+" of "+instKey(k.waiter.workflowID, k.waiter.instanceID)+" starts", within, func(s map[string]stepSeen) bool {
			return s[sigEarlyStep].attempts > 0 || s[sigWaitStep].attempts > 0
		})
		if err != nil {
			w.unexpected("%v", err)
		} else {
			seeBefore(k.waiter, seen[sigWaitStep])
		}
	}
	if _, early := k.before[sigRelayWorkflow]; k.relay.acked && !early {
		seen, _, err := readSteps(r, k.relay)
		if err != nil {
			w.unexpected("%v", err)
		} else {
			seeBefore(k.relay, seen[sigWaitStep])
		}
	}
	if k.match, err = w.send(r, goSignal, w.matchParams(r, k.key), within); err != nil {
		w.unexpected("%v", err)
	}
}

func (w *signalWorkload) check(r *run) {
	w.mu.Lock()
	errs := append([]string(nil), w.errors...)
	sends := make([]signalRecord, len(w.sends))
	for i, s := range w.sends {
		sends[i] = *s
	}
	keys := make([]signalKey, len(w.keys))
	for i, k := range w.keys {
		keys[i] = *k
	}
	w.mu.Unlock()
	r.addCheck(checkResult{name: "signal clients' sends and starts all acknowledged", checked: len(sends) + 2*len(keys), violations: errs})

	stored := map[string][]*statepb.Signal{}
	for _, name := range []string{goSignal, relaySignal} {
		err := r.retry(2*time.Minute, func(ctx context.Context, n *node) error {
			res, err := r.signalClient(n).List(ctx, connect.NewRequest(&signalv1.ListRequest{Name: name, Limit: 1 << 30}))
			if err == nil {
				stored[name] = res.Msg.Signals
			}
			return err
		})
		if err != nil {
			r.addCheck(checkResult{name: "signals", violations: []string{fmt.Sprintf("list signals %s: %v", name, err)}})
			return
		}
	}
	for _, name := range sortedKeys(stored) {
		for _, sg := range stored[name] {
			if sg.Seq > retainSignalsPerName {
				// Retention may have deleted some: the checks below
				// would blame the engine for the suite's settings.
				r.addCheck(checkResult{name: "signals", violations: []string{fmt.Sprintf(
					"%s reached #%d, beyond the %d signals per name the servers keep (retainSignalsPerName): raise it so that the checks can read every signal", name, sg.Seq, retainSignalsPerName)}})
				return
			}
		}
	}
	r.stats.add("signals emitted", int64(len(stored[relaySignal])))
	r.addCheck(checkSignalSends(sends, stored))
	r.addCheck(checkSignalNumbers(stored))
	r.addCheck(checkSignalWaits(keys, r.final))
	r.addCheck(checkSignalOutputs(r.final, stored[relaySignal]))
}

// checkSignalSends: every acknowledged Send is stored exactly once, with
// the number, name and params it was acknowledged with; one never
// acknowledged is stored at most once; no signal from the API has a request
// id no client sent.
func checkSignalSends(sends []signalRecord, stored map[string][]*statepb.Signal) checkResult {
	res := checkResult{name: "each acknowledged signal stored exactly once", checked: len(sends)}
	byReq := map[string][]*statepb.Signal{}
	for _, name := range sortedKeys(stored) {
		for _, sg := range stored[name] {
			byReq[sg.RequestId] = append(byReq[sg.RequestId], sg)
		}
	}
	sent := map[string]bool{}
	for _, s := range sends {
		sent[s.requestID] = true
		got := byReq[s.requestID]
		var seqs []string
		for _, sg := range got {
			seqs = append(seqs, fmt.Sprintf("%s #%d", sg.Name, sg.Seq))
		}
		switch {
		case s.acked && len(got) != 1:
			res.violations = append(res.violations, fmt.Sprintf("signal request %s (%s %v) was acknowledged as #%d after %d tries (%d ambiguous); stored: %v",
				s.requestID, s.name, s.params, s.seq, s.tries, s.ambiguous, seqs))
		case s.acked && (got[0].Name != s.name || got[0].Seq != s.seq):
			res.violations = append(res.violations, fmt.Sprintf("signal request %s was acknowledged as %s #%d; it is stored as %s", s.requestID, s.name, s.seq, seqs[0]))
		case !s.acked && len(got) > 1:
			res.violations = append(res.violations, fmt.Sprintf("signal request %s (never acknowledged) is stored %d times: %v", s.requestID, len(got), seqs))
		}
		if len(got) == 1 {
			if diff := paramDiff(got[0].Params, s.params); diff != "" {
				res.violations = append(res.violations, fmt.Sprintf("signal request %s is stored as %s #%d with %s", s.requestID, got[0].Name, got[0].Seq, diff))
			}
		}
	}
	for _, rid := range sortedKeys(byReq) {
		sg := byReq[rid][0]
		if sg.Source == "api" && !sent[rid] {
			res.violations = append(res.violations, fmt.Sprintf("signal %s #%d has request id %q that no client sent", sg.Name, sg.Seq, rid))
		}
	}
	return res
}

// paramDiff compares stored params with the text a client sent ("" when
// they agree).
func paramDiff(got map[string]*statepb.Param, want map[string]string) string {
	var diffs []string
	for _, k := range sortedKeys(want) {
		p, ok := got[k]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("param %s missing (sent %q)", k, want[k]))
			continue
		}
		v, err := scheduler.ValueFromParam(p)
		if err != nil || v.String() != want[k] {
			diffs = append(diffs, fmt.Sprintf("param %s = %q (%v), sent %q", k, v.String(), err, want[k]))
		}
	}
	for _, k := range sortedKeys(got) {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("param %s, never sent", k))
		}
	}
	return strings.Join(diffs, ", ")
}

// checkSignalNumbers: the signals of each name are numbered 1, 2, 3, …
// with no number used twice and none skipped.
func checkSignalNumbers(stored map[string][]*statepb.Signal) checkResult {
	res := checkResult{name: "signal numbers per name unique and gap-free"}
	for _, name := range sortedKeys(stored) {
		byseq := map[int64][]string{}
		var seqs []int64
		for _, sg := range stored[name] {
			res.checked++
			if byseq[sg.Seq] == nil {
				seqs = append(seqs, sg.Seq)
			}
			byseq[sg.Seq] = append(byseq[sg.Seq], sg.RequestId)
		}
		sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
		for _, s := range seqs {
			if len(byseq[s]) > 1 {
				res.violations = append(res.violations, fmt.Sprintf("%s #%d is used by %d signals (request ids %v)", name, s, len(byseq[s]), byseq[s]))
			}
		}
		want := int64(1)
		for _, s := range seqs {
			if s != want {
				res.violations = append(res.violations, fmt.Sprintf("%s numbers skip from #%d to #%d", name, want-1, s))
			}
			want = s + 1
		}
	}
	return res
}

// waitStep returns the step that waits for a signal in an instance, and its
// timeline.
func waitStep(fi *finalInstance, stepID string) (*statepb.Step, []*statepb.Event) {
	var st *statepb.Step
	for _, s := range fi.steps {
		if s.StepId == stepID {
			st = s
		}
	}
	var evs []*statepb.Event
	for _, e := range fi.events {
		if e.StepId == stepID {
			evs = append(evs, e)
		}
	}
	return st, evs
}

// checkSignalWaits: each instance whose step waits for a signal succeeded;
// its step had not started at the last read before the signal that
// releases it was sent (for the waiter, a read that shows sigEarlyStep
// started, so the scheduler had planned it with the signal that does not
// match), and the timeline shows it waiting before it ran;
// a step whose signal was acknowledged before its instance was started
// never waited; the relay's step started only after the step that emits
// its signal had succeeded (a later Raft index).
func checkSignalWaits(keys []signalKey, final map[string]*finalInstance) checkResult {
	res := checkResult{name: "steps waiting for a signal ran only after it, and succeeded"}
	bad := func(format string, args ...any) {
		res.violations = append(res.violations, fmt.Sprintf(format, args...))
	}
	for _, k := range keys {
		for _, rec := range []*startRecord{k.waiter, k.relay} {
			if rec == nil || !rec.acked {
				continue
			}
			res.checked++
			ik := instKey(rec.workflowID, rec.instanceID)
			if seen, ok := k.before[rec.workflowID]; ok && (seen.status != fsm.StepWaitingForSignals || seen.attempts > 0) {
				bad("key %s: step %s of %s was %s with %d attempts before its signal was sent (only signals that do not match existed)",
					k.key, sigWaitStep, ik, seen.status, seen.attempts)
			}
			fi := final[ik]
			if fi == nil {
				bad("key %s: %s was acknowledged but does not exist", k.key, ik)
				continue
			}
			st, evs := waitStep(fi, sigWaitStep)
			if fi.inst.Status != fsm.InstanceSucceeded || st == nil || st.Status != fsm.StepSucceeded || len(st.Attempts) == 0 {
				bad("key %s: %s ended %s (%s): %s", k.key, ik, fi.inst.Status, fi.inst.Reason, harness.DescribeSteps(fi.steps))
				continue
			}
			waited, ranBeforeWait := false, false
			for _, e := range evs {
				if e.Status == fsm.StepWaitingForSignals {
					waited = true
				}
				if e.Status == fsm.StepRunning && !waited {
					ranBeforeWait = true
				}
			}
			switch {
			case !k.signalFirst && !waited:
				// The client saw it waiting before it sent the signal.
				bad("key %s: step %s of %s never waited for its signal: %s", k.key, sigWaitStep, ik, describeEvents(evs))
			case !k.signalFirst && ranBeforeWait:
				bad("key %s: step %s of %s ran before it waited for its signal: %s", k.key, sigWaitStep, ik, describeEvents(evs))
			case k.signalFirst && rec.workflowID == sigWaitWorkflow && waited && k.match != nil && k.match.acked && k.match.ackedAt.Before(rec.sentAt):
				// Any state that holds the instance holds the signal,
				// committed before the instance was started.
				bad("key %s: step %s of %s waited for its signal, acknowledged as %s #%d before the instance was started: %s",
					k.key, sigWaitStep, ik, k.match.name, k.match.seq, describeEvents(evs))
			}
			if rec.workflowID != sigRelayWorkflow || k.waiter == nil || !k.waiter.acked {
				continue
			}
			emitter := final[instKey(k.waiter.workflowID, k.waiter.instanceID)]
			var emitted *statepb.Event
			if emitter != nil {
				_, eevs := waitStep(emitter, sigEmitStep)
				for _, e := range eevs {
					if e.Status == fsm.StepSucceeded && emitted == nil {
						emitted = e
					}
				}
			}
			switch first := st.Attempts[0]; {
			case emitted == nil:
				bad("key %s: step %s of %s ran (attempt 1 at index %d), but step %s of %s, which sends its signal, never succeeded",
					k.key, sigWaitStep, ik, first.Generation, sigEmitStep, instKey(k.waiter.workflowID, k.waiter.instanceID))
			case first.Generation < emitted.Index:
				// One entry may carry the emitting step's success, the
				// signal, and the placement that the signal allows, in
				// that order (the leader plans in passes on its own
				// decisions), so the same index is not "before".
				bad("key %s: step %s of %s started at index %d, before step %s of %s succeeded at index %d and sent its signal",
					k.key, sigWaitStep, ik, first.Generation, sigEmitStep, instKey(k.waiter.workflowID, k.waiter.instanceID), emitted.Index)
			}
		}
	}
	return res
}

// checkSignalOutputs: each step with signal_outputs sent its signal once
// if it succeeded and never otherwise, with the params it was given, and
// every signal it names as its source is one of those.
func checkSignalOutputs(final map[string]*finalInstance, relays []*statepb.Signal) checkResult {
	res := checkResult{name: "each signal_outputs step emitted exactly once"}
	bySource := map[string][]*statepb.Signal{}
	for _, sg := range relays {
		bySource[sg.Source] = append(bySource[sg.Source], sg)
	}
	known := map[string]bool{}
	for _, k := range sortedKeys(final) {
		fi := final[k]
		if fi.inst.WorkflowId != sigWaitWorkflow {
			continue
		}
		st, _ := waitStep(fi, sigEmitStep)
		if st == nil {
			continue
		}
		res.checked++
		source := fmt.Sprintf("%s/%d/%s", fi.inst.WorkflowId, fi.inst.InstanceId, sigEmitStep)
		known[source] = true
		got := bySource[source]
		var seqs []string
		for _, sg := range got {
			seqs = append(seqs, fmt.Sprintf("#%d (request %s)", sg.Seq, sg.RequestId))
		}
		if st.Status != fsm.StepSucceeded {
			if len(got) > 0 {
				res.violations = append(res.violations, fmt.Sprintf("step %s is %s but emitted %s %v", source, st.Status, relaySignal, seqs))
			}
			continue
		}
		if len(got) != 1 || !st.SignalsEmitted {
			res.violations = append(res.violations, fmt.Sprintf("step %s SUCCEEDED after %d attempts and emitted %s %d times %v (signals_emitted=%v)",
				source, len(st.Attempts), relaySignal, len(got), seqs, st.SignalsEmitted))
			continue
		}
		key := "?"
		if v, err := scheduler.ValueFromParam(fi.inst.Params["key"]); err == nil {
			key = v.String()
		}
		if diff := paramDiff(got[0].Params, map[string]string{"key": key}); diff != "" {
			res.violations = append(res.violations, fmt.Sprintf("step %s emitted %s #%d with %s", source, relaySignal, got[0].Seq, diff))
		}
	}
	for _, src := range sortedKeys(bySource) {
		if !known[src] {
			res.violations = append(res.violations, fmt.Sprintf("%d %s signals name %q as their source, a step that does not exist", len(bySource[src]), relaySignal, src))
		}
	}
	return res
}
