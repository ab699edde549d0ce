package chaos

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// The step operations workload: the step actions the step actions workload
// leaves out. An instance of stepOpsWorkflow has two roots: stepOpsHeld
// waits for a signal nobody sends, which keeps the instance running, and
// stepOpsVictim is a ledger step of 0.6 s; both lead to a NoOp. A client
// starts an instance, and after a random wait (before the victim starts,
// while it runs, or too late) stops or kills the victim; when that took
// effect it restarts the victim, which must then run again and succeed.
// Then it bypasses the held step's signals. After one instance in two it
// sends the stop's or kill's copy again, with its request id, as one held
// up in a socket would arrive: it must be answered as a repeat, or the
// restarted victim would be stopped again. Every action carries a request
// id and is sent like a start.
const (
	stepOpsWorkflow = "chaos-step-ops"
	stepOpsHeld     = "held"
	stepOpsVictim   = "victim"
	stepOpsEnd      = "end"
	// neverSignal is a name no client sends.
	neverSignal = "chaos-never"
)

var stepOpsDefinition = definition(stepOpsWorkflow,
	signalShellStep(stepOpsHeld, "sleep=100", fmt.Sprintf(`, "signal_dependencies": [{"name": %q}]`, neverSignal), stepOpsEnd),
	shellStep(stepOpsVictim, "sleep=600", stepOpsEnd),
	noopStep(stepOpsEnd))

// stepOpsRecord is what the client learnt about one instance.
type stepOpsRecord struct {
	instanceID int64
	// action is STOP or KILL; ended: it took effect (else the victim had
	// succeeded first); restarted: the victim's RESTART did; bypassed:
	// the held step's BYPASS_SIGNALS did.
	action                     string
	ended, restarted, bypassed bool
	// answered: the actions (by request id) answered once.
	answered map[string]bool
}

type stepOpsWorkload struct {
	interval time.Duration

	clientRecords[stepOpsRecord]
}

func newStepOpsWorkload(interval time.Duration) *stepOpsWorkload {
	return &stepOpsWorkload{interval: interval}
}

func (w *stepOpsWorkload) name() string { return "step operations" }
func (w *stepOpsWorkload) clients() int { return 1 }

func (w *stepOpsWorkload) setup(r *run) error {
	return r.setupWorkflow(stepOpsWorkflow, stepOpsDefinition, true)
}

func (w *stepOpsWorkload) client(r *run, id int, stop <-chan struct{}) {
	const within = 5 * time.Minute
	r.instanceRounds(stepOpsWorkflow, "stepops", w.interval, within, stop, w.unexpected, func(instanceID int64) {
		s := &stepOpsRecord{instanceID: instanceID, action: "STOP", answered: map[string]bool{}}
		if r.chance(0.5) {
			s.action = "KILL"
		}
		w.add(s)
		// The held step must be bypassed for the instance to end.
		w.run(r, s, within)
	})
}

func (w *stepOpsWorkload) run(r *run, s *stepOpsRecord, within time.Duration) {
	k := instKey(stepOpsWorkflow, s.instanceID)
	time.Sleep(time.Duration(r.intn(900)) * time.Millisecond)
	ended, err := w.act(r, s, stepOpsVictim, s.action, within, func(status string) error {
		// Too late: the victim succeeded before any copy took effect.
		if status != fsm.StepSucceeded {
			return fmt.Errorf("the step is %s", status)
		}
		return nil
	})
	if err != nil {
		w.unexpected("%v", err)
	}
	w.set(func() { s.ended = ended })
	if ended {
		restarted, err := w.act(r, s, stepOpsVictim, "RESTART", within, nil)
		if err != nil {
			w.unexpected("%v", err)
		}
		w.set(func() { s.restarted = restarted })
	}
	// The held step waits for its signals from the instance's first round
	// on; until that round, bypass is refused and sent again.
	deadline := time.Now().Add(within)
	for {
		bypassed, err := w.act(r, s, stepOpsHeld, "BYPASS_SIGNALS", within, func(status string) error {
			if status != fsm.StepNotCreated && status != fsm.StepCreated {
				return fmt.Errorf("the step is %s", status)
			}
			return nil
		})
		if err != nil {
			w.unexpected("%v", err)
			return
		}
		if bypassed {
			w.set(func() { s.bypassed = true })
			break
		}
		if time.Now().After(deadline) {
			w.unexpected("%s step %s never waited for its signals within %s", k, stepOpsHeld, within)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	if ended && r.chance(0.5) {
		// The stop's or kill's copy, late: it must do nothing.
		took, err := w.act(r, s, stepOpsVictim, s.action, within, nil)
		switch {
		case err != nil:
			w.unexpected("%v", err)
		case took:
			r.stats.add("late copies sent", 1)
		}
	}
}

// act sends one step action, with a request id naming it, until it is
// answered, and says whether it took effect. A refusal means no copy took
// effect before (a copy that did makes the others repeats); refused says,
// from the step's status, whether that refusal was expected (nil to have
// none be). A late copy (the action already answered once) must be
// answered as a repeat.
func (w *stepOpsWorkload) act(r *run, s *stepOpsRecord, stepID, action string, within time.Duration, refused func(status string) error) (bool, error) {
	instanceID := s.instanceID
	k := instKey(stepOpsWorkflow, instanceID)
	what := fmt.Sprintf("%s %s step %s", action, k, stepID)
	key := stepID + "-" + action
	w.mu.Lock()
	late := s.answered[key]
	w.mu.Unlock()
	var took bool
	err := r.call(what, within, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).StepAction(ctx, connect.NewRequest(&instancev1.StepActionRequest{
			WorkflowId: stepOpsWorkflow, InstanceId: instanceID, StepId: stepID, Action: action, Reason: "chaos", RequestId: key}))
		if err == nil {
			if late && !res.Msg.Repeated {
				return verdictf("late copy of %s through %s was not answered as a repeat (step %s)", what, n.name, res.Msg.Step.GetStatus())
			}
			if !late {
				r.countAction("step actions", res.Msg.Repeated)
			}
			took = true
			return nil
		}
		if !isCode(err, connect.CodeFailedPrecondition) {
			return err
		}
		if refused == nil {
			return verdictf("%s through %s refused: %v", what, n.name, err)
		}
		steps, rerr := r.stepStatuses(stepOpsWorkflow, instanceID)
		if rerr != nil {
			return verdictf("%s refused (%v); reading it: %w", what, err, rerr)
		}
		if why := refused(steps[stepID]); why != nil {
			return verdictf("%s through %s refused (%v), and %v", what, n.name, err, why)
		}
		return nil
	})
	if took {
		w.set(func() { s.answered[key] = true })
	}
	return took, err
}

func (w *stepOpsWorkload) check(r *run) {
	records, errs := w.snapshot()
	r.addCheck(checkResult{name: "step operation clients' starts and actions all answered", checked: len(records), violations: errs})
	r.addCheck(checkStepOps(records, r.final))
}

// checkStepOps: a stopped or killed victim did nothing between its STOP or
// KILL and its RESTART (the attempt it ended took no late result), ran
// again after the restart and succeeded, and each action is on the
// timeline once; the held step did not run before its BYPASS_SIGNALS.
// (Every instance of the workflow succeeding is checkEnded's.)
func checkStepOps(records []stepOpsRecord, final map[string]*finalInstance) checkResult {
	res := checkResult{name: "stopped and killed steps rerun only after their restart, bypassed steps after the bypass"}
	for _, s := range records {
		if !s.ended && !s.bypassed {
			continue
		}
		res.checked++
		k := instKey(stepOpsWorkflow, s.instanceID)
		fi := final[k]
		if fi == nil {
			res.violations = append(res.violations, fmt.Sprintf("%s is not among the instances at the end", k))
			continue
		}
		bad := func(format string, args ...any) {
			res.violations = append(res.violations, fmt.Sprintf("%s ", k)+fmt.Sprintf(format, args...)+": "+describeEvents(fi.events))
		}
		acted := map[string][]uint64{}
		for _, e := range fi.events {
			if e.Action != "" && e.StepId != "" {
				acted[e.StepId+" "+e.Action] = append(acted[e.StepId+" "+e.Action], e.Index)
			}
		}
		for key, at := range acted {
			if len(at) > 1 {
				bad("has %s %d times, at %v", key, len(at), at)
			}
		}
		if s.ended {
			endedAt, restartedAt := first(acted[stepOpsVictim+" "+s.action]), first(acted[stepOpsVictim+" RESTART"])
			switch {
			case endedAt == 0:
				bad("step %s took a %s, but its timeline has none", stepOpsVictim, s.action)
			case s.restarted && restartedAt == 0:
				bad("step %s was restarted, but its timeline has no RESTART", stepOpsVictim)
			}
			ranAgain := false
			for _, e := range fi.events {
				if e.StepId != stepOpsVictim || e.Action != "" || e.Index <= endedAt {
					continue
				}
				if restartedAt == 0 || e.Index < restartedAt {
					bad("step %s went %s at index %d, after its %s at %d and before its restart at %d (0: none)",
						stepOpsVictim, e.Status, e.Index, s.action, endedAt, restartedAt)
				}
				if e.Index > restartedAt && e.Status == fsm.StepRunning {
					ranAgain = true
				}
			}
			if s.restarted && !ranAgain {
				bad("step %s did not run again after its restart", stepOpsVictim)
			}
		}
		if s.bypassed {
			bypassedAt := first(acted[stepOpsHeld+" BYPASS_SIGNALS"])
			if bypassedAt == 0 {
				bad("step %s was bypassed, but its timeline has no BYPASS_SIGNALS", stepOpsHeld)
			}
			for _, e := range fi.events {
				if e.StepId == stepOpsHeld && e.Status == fsm.StepRunning && e.Index < bypassedAt {
					bad("step %s started at index %d, before its bypass at %d", stepOpsHeld, e.Index, bypassedAt)
				}
			}
		}
		for _, st := range fi.steps {
			if (st.StepId == stepOpsVictim && (s.restarted || !s.ended) || st.StepId == stepOpsHeld && s.bypassed) && st.Status != fsm.StepSucceeded {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s is %s: %s", k, st.StepId, st.Status, harness.DescribeSteps(fi.steps)))
			}
		}
	}
	return res
}

func first(at []uint64) uint64 {
	if len(at) == 0 {
		return 0
	}
	return at[0]
}
