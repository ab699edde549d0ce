package chaos

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
)

// The signal trigger workload. A client sends signals of noiseSignal one
// after another, each marked (mark=yes) one time in markEvery, and
// sigTriggerWorkflow's signal trigger starts an instance for each marked
// one. The noise name gets far more signals than the servers keep per name
// (retainSignalsPerName, one of agentFlags), so retention deletes its oldest
// signals all through the faults while the trigger consumes them: every
// acknowledged marked signal must fire the trigger exactly once, each fire
// must carry the signal it consumed, and what retention leaves must be the
// newest signals, with their numbers and params as acknowledged.
const (
	sigTriggerWorkflow = "chaos-sig-trigger"
	noiseSignal        = "chaos-noise"
	markEvery          = 25
	// noisePause is the client's pause between signals.
	noisePause = 15 * time.Millisecond
)

var sigTriggerDefinition = fmt.Sprintf(`{"properties": {"owner": "chaos", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 200}},
 "workflow": {"id": %q,
  "signal_triggers": [{"definitions": {%q: {"match_params": {"mark": {"value": "yes"}}}}}],
  "steps": [%s]}}`, sigTriggerWorkflow, noiseSignal, noopStep("fired"))

type sigTriggerWorkload struct {
	// sender sends and records the noise signals as the signals
	// workload does its own.
	sender *signalWorkload
}

func newSigTriggerWorkload() *sigTriggerWorkload {
	return &sigTriggerWorkload{sender: &signalWorkload{nClients: 1, stat: "noise signal"}}
}

func (w *sigTriggerWorkload) name() string { return "signal trigger and retention" }
func (w *sigTriggerWorkload) clients() int { return w.sender.nClients }

func (w *sigTriggerWorkload) setup(r *run) error {
	return r.setupWorkflow(sigTriggerWorkflow, sigTriggerDefinition, true)
}

func (w *sigTriggerWorkload) client(r *run, id int, stop <-chan struct{}) {
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		case <-time.After(noisePause):
		}
		mark := "no"
		if n%markEvery == 0 {
			mark = "yes"
		}
		params := map[string]string{"client": strconv.Itoa(id), "n": strconv.Itoa(n), "mark": mark}
		if _, err := w.sender.send(r, noiseSignal, params, 5*time.Minute); err != nil {
			w.sender.unexpected("%v", err)
		}
	}
}

// fireSeq is the number of the noise signal that fired an instance, read
// from the request id the trigger gives its starts ("signal:WF:TRIGGER:NAME=SEQ").
func fireSeq(requestID string) (int64, bool) {
	if !strings.HasPrefix(requestID, "signal:"+sigTriggerWorkflow+":") {
		return 0, false
	}
	_, seq, ok := strings.Cut(requestID, ":"+noiseSignal+"=")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(seq, 10, 64)
	return n, err == nil
}

func (w *sigTriggerWorkload) check(r *run) {
	w.sender.mu.Lock()
	errs := append([]string(nil), w.sender.errors...)
	sends := make([]signalRecord, len(w.sender.sends))
	for i, s := range w.sender.sends {
		sends[i] = *s
	}
	w.sender.mu.Unlock()
	r.addCheck(checkResult{name: "noise signals all acknowledged", checked: len(sends), violations: errs})

	marked := map[int64]signalRecord{}
	unackedMarks := 0
	for _, s := range sends {
		switch {
		case s.params["mark"] != "yes":
		case s.acked:
			marked[s.seq] = s
		default:
			unackedMarks++
		}
	}
	r.addCheck(w.checkFires(r, sends, marked, unackedMarks))
	r.addCheck(w.checkRetained(r, sends))
}

// checkFires: each acknowledged marked signal started exactly one instance,
// which carries that signal and succeeded; no other signal started one
// (beyond the marked sends whose outcome the client never learnt).
func (w *sigTriggerWorkload) checkFires(r *run, sends []signalRecord, marked map[int64]signalRecord, unackedMarks int) checkResult {
	res := checkResult{name: "each marked signal fired the trigger exactly once", checked: len(marked)}
	var insts []*statepb.Instance
	// The trigger catches up once the load stops; its instances are NoOps.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
			l, err := r.c.instanceClient(n).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: sigTriggerWorkflow, Limit: 1 << 30}))
			if err == nil {
				insts = l.Msg.Instances
			}
			return err
		})
		if err != nil {
			res.violations = append(res.violations, "list the trigger's instances: "+err.Error())
			return res
		}
		fired, ended := map[int64]bool{}, true
		for _, inst := range insts {
			if seq, ok := fireSeq(inst.RequestId); ok {
				fired[seq] = true
			}
			ended = ended && fsm.InstanceTerminal(inst.Status)
		}
		missing := 0
		for seq := range marked {
			if !fired[seq] {
				missing++
			}
		}
		if (missing == 0 && ended) || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	r.stats.add("signal trigger fires", int64(len(insts)))

	acked := map[int64]signalRecord{}
	for _, s := range sends {
		if s.acked {
			acked[s.seq] = s
		}
	}
	bySeq := map[int64][]*statepb.Instance{}
	unknown := 0
	for _, inst := range insts {
		k := instKey(inst.WorkflowId, inst.InstanceId)
		seq, ok := fireSeq(inst.RequestId)
		if !ok {
			res.violations = append(res.violations, fmt.Sprintf("%s has request id %q, not one of the trigger's", k, inst.RequestId))
			continue
		}
		bySeq[seq] = append(bySeq[seq], inst)
		if inst.Status != fsm.InstanceSucceeded {
			res.violations = append(res.violations, fmt.Sprintf("%s, fired by %s #%d, is %s (%s)", k, noiseSignal, seq, inst.Status, inst.Reason))
		}
		sg := inst.GetSignalInitiator().GetSignals()[noiseSignal]
		switch s, ok := acked[seq]; {
		case sg == nil || sg.Seq != seq:
			res.violations = append(res.violations, fmt.Sprintf("%s was started for %s #%d but carries %v", k, noiseSignal, seq, sg))
		case !ok:
			unknown++
		case s.params["mark"] != "yes":
			res.violations = append(res.violations, fmt.Sprintf("%s was fired by %s #%d, which is not marked (%v)", k, noiseSignal, seq, s.params))
		default:
			if diff := paramDiff(sg.Params, s.params); diff != "" {
				res.violations = append(res.violations, fmt.Sprintf("%s was fired by %s #%d with %s", k, noiseSignal, seq, diff))
			}
		}
	}
	if unknown > unackedMarks {
		res.violations = append(res.violations, fmt.Sprintf("%d instances were fired by signals no client had acknowledged, but only %d marked sends went unacknowledged", unknown, unackedMarks))
	}
	seqs := make([]int64, 0, len(marked))
	for seq := range marked {
		seqs = append(seqs, seq)
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	for _, seq := range seqs {
		switch n := len(bySeq[seq]); {
		case n == 0:
			res.violations = append(res.violations, fmt.Sprintf("%s #%d (request %s, acknowledged %s) never fired the trigger",
				noiseSignal, seq, marked[seq].requestID, marked[seq].ackedAt.UTC().Format("15:04:05.000")))
		case n > 1:
			var ks []string
			for _, inst := range bySeq[seq] {
				ks = append(ks, instKey(inst.WorkflowId, inst.InstanceId))
			}
			res.violations = append(res.violations, fmt.Sprintf("%s #%d fired the trigger %d times: %v", noiseSignal, seq, n, ks))
		}
	}
	return res
}

// checkRetained: once the load stopped, retention leaves exactly the newest
// retainSignalsPerName noise signals (the trigger has consumed or passed
// over every older one), numbered as they were acknowledged, with their
// params, none missing among them.
func (w *sigTriggerWorkload) checkRetained(r *run, sends []signalRecord) checkResult {
	res := checkResult{name: "retention keeps the newest signals as they were sent"}
	var newest int64
	byReq := map[string]signalRecord{}
	for _, s := range sends {
		byReq[s.requestID] = s
		if s.acked {
			newest = max(newest, s.seq)
		}
	}
	var stored []*statepb.Signal
	// Retention runs every few seconds: wait for the pass after the last
	// signal.
	deadline := time.Now().Add(time.Minute)
	for {
		err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
			l, err := r.signalClient(n).List(ctx, connect.NewRequest(&signalv1.ListRequest{Name: noiseSignal, Limit: 1 << 30}))
			if err == nil {
				stored = l.Msg.Signals
			}
			return err
		})
		if err != nil {
			res.violations = append(res.violations, fmt.Sprintf("list signals %s: %v", noiseSignal, err))
			return res
		}
		if len(stored) <= retainSignalsPerName || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	sort.Slice(stored, func(i, j int) bool { return stored[i].Seq < stored[j].Seq })
	res.checked = len(stored)
	if len(stored) == 0 {
		if newest > 0 {
			res.violations = append(res.violations, fmt.Sprintf("no %s signal is left, though #%d was acknowledged", noiseSignal, newest))
		}
		return res
	}
	first, last := stored[0].Seq, stored[len(stored)-1].Seq
	r.stats.add("noise signals deleted", first-1)
	switch {
	case last < newest:
		res.violations = append(res.violations, fmt.Sprintf("the newest %s left is #%d, though #%d was acknowledged", noiseSignal, last, newest))
	case last > retainSignalsPerName && len(stored) != retainSignalsPerName:
		res.violations = append(res.violations, fmt.Sprintf("%d %s signals (#%d to #%d) are left a minute after the load stopped, where retention keeps %d",
			len(stored), noiseSignal, first, last, retainSignalsPerName))
	}
	want := first
	for _, sg := range stored {
		if sg.Seq != want {
			res.violations = append(res.violations, fmt.Sprintf("%s numbers left skip from #%d to #%d: retention deleted a signal newer than one it kept", noiseSignal, want-1, sg.Seq))
		}
		want = sg.Seq + 1
		s, ok := byReq[sg.RequestId]
		switch {
		case !ok:
			res.violations = append(res.violations, fmt.Sprintf("%s #%d has request id %q that no client sent", noiseSignal, sg.Seq, sg.RequestId))
		case s.acked && s.seq != sg.Seq:
			res.violations = append(res.violations, fmt.Sprintf("%s request %s was acknowledged as #%d and is kept as #%d", noiseSignal, s.requestID, s.seq, sg.Seq))
		default:
			if diff := paramDiff(sg.Params, s.params); diff != "" {
				res.violations = append(res.violations, fmt.Sprintf("%s #%d is kept with %s", noiseSignal, sg.Seq, diff))
			}
		}
	}
	kept := map[string]bool{}
	for _, sg := range stored {
		kept[sg.RequestId] = true
	}
	for _, s := range sends {
		if s.acked && s.seq >= first && !kept[s.requestID] {
			res.violations = append(res.violations, fmt.Sprintf("%s request %s, acknowledged as #%d, is gone though #%d is kept", noiseSignal, s.requestID, s.seq, first))
		}
	}
	return res
}
