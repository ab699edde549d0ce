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

// The step actions workload. A client starts an instance of actionsWorkflow
// (three ledger steps in a row), pauses its last step at once, skips its
// first step after a random wait (before it starts, while it runs, or too
// late), waits until the middle step has ended, and resumes the last step
// after another wait. Each action is sent with its request id, again and
// to another server while its outcome is unknown, so a copy of the pause
// may arrive after the resume and must then do nothing. A paused step must not start before its
// resume, a skipped step must not change after its skip, and every
// instance must succeed.
const (
	actionsWorkflow = "chaos-actions"
	actionsFirst    = "one"
	actionsMiddle   = "two"
	actionsLast     = "three"
)

var actionsDefinition = definition(actionsWorkflow,
	shellStep(actionsFirst, "sleep=400", actionsMiddle),
	shellStep(actionsMiddle, "sleep=200", actionsLast),
	shellStep(actionsLast, "sleep=200"))

// actionsRecord is what the client learnt about one instance.
type actionsRecord struct {
	instanceID int64
	// paused: a PAUSE of the last step took effect; resumed: a RESUME of
	// it did; skipped: a SKIP of the first step did.
	paused, resumed, skipped bool
}

type actionsWorkload struct {
	interval time.Duration

	clientRecords[actionsRecord]
}

func newActionsWorkload(interval time.Duration) *actionsWorkload {
	return &actionsWorkload{interval: interval}
}

func (w *actionsWorkload) name() string { return "step actions" }
func (w *actionsWorkload) clients() int { return 1 }

func (w *actionsWorkload) setup(r *run) error {
	return r.setupWorkflow(actionsWorkflow, actionsDefinition, true)
}

func (w *actionsWorkload) client(r *run, id int, stop <-chan struct{}) {
	const within = 5 * time.Minute
	r.instanceRounds(actionsWorkflow, "actions", w.interval, within, stop, w.unexpected, func(instanceID int64) {
		a := &actionsRecord{instanceID: instanceID}
		w.add(a)
		// A paused step must be resumed for its instance to end.
		w.run(r, a, within)
	})
}

func (w *actionsWorkload) run(r *run, a *actionsRecord, within time.Duration) {
	paused, err := w.act(r, a.instanceID, actionsLast, "PAUSE", within)
	if err != nil {
		w.unexpected("%v", err)
	}
	w.set(func() { a.paused = paused })
	time.Sleep(time.Duration(r.intn(700)) * time.Millisecond)
	skipped, err := w.act(r, a.instanceID, actionsFirst, "SKIP", within)
	if err != nil {
		w.unexpected("%v", err)
	}
	w.set(func() { a.skipped = skipped })
	if !paused {
		return
	}
	// The middle step ends before the last one is resumed, so a pause that
	// let the last one start would show.
	deadline := time.Now().Add(within)
	for {
		steps, err := r.stepStatuses(actionsWorkflow, a.instanceID)
		if err != nil {
			w.unexpected("%v", err)
			break
		}
		if fsm.StepTerminal(steps[actionsMiddle]) {
			break
		}
		if time.Now().After(deadline) {
			w.unexpected("%s step %s did not end within %s: %s", instKey(actionsWorkflow, a.instanceID), actionsMiddle, within, steps)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Duration(r.intn(500)) * time.Millisecond)
	resumed, err := w.act(r, a.instanceID, actionsLast, "RESUME", within)
	if err != nil {
		w.unexpected("%v", err)
	}
	w.set(func() { a.resumed = resumed })
	// A copy of the pause arriving after the resume, as one held up in a
	// socket would: it must do nothing, or the step stays paused for good.
	if resumed && r.chance(0.5) {
		if err := w.latePause(r, a.instanceID, within); err != nil {
			w.unexpected("%v", err)
		}
	}
}

// latePause sends the pause's copy after the resume; it must be answered as
// a repeat.
func (w *actionsWorkload) latePause(r *run, instanceID int64, within time.Duration) error {
	k := instKey(actionsWorkflow, instanceID)
	return r.call("late copy of PAUSE "+k+" step "+actionsLast, within, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).StepAction(ctx, connect.NewRequest(&instancev1.StepActionRequest{
			WorkflowId: actionsWorkflow, InstanceId: instanceID, StepId: actionsLast, Action: "PAUSE", Reason: "chaos", RequestId: actionsLast + "-PAUSE"}))
		if err != nil {
			return err
		}
		if !res.Msg.Repeated {
			return verdictf("late copy of PAUSE %s step %s through %s was not answered as a repeat (step %s)", k, actionsLast, n.name, res.Msg.Step.GetStatus())
		}
		r.stats.add("late copies sent", 1)
		return nil
	})
}

// act sends a step action, with one request id, until it is answered and
// says whether it took effect. A refusal means no copy of it took effect
// before (a copy that did makes the others repeats): the action came too
// late, which is an error for RESUME (the step stays paused until this
// client resumes it), and the step must not be in the state the action
// leads to (only this client acts on the instance).
func (w *actionsWorkload) act(r *run, instanceID int64, stepID, action string, within time.Duration) (bool, error) {
	k := instKey(actionsWorkflow, instanceID)
	done := map[string]string{"PAUSE": fsm.StepPaused, "SKIP": fsm.StepSkipped}
	var took bool
	err := r.call(action+" "+k+" step "+stepID, within, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).StepAction(ctx, connect.NewRequest(&instancev1.StepActionRequest{
			WorkflowId: actionsWorkflow, InstanceId: instanceID, StepId: stepID, Action: action, Reason: "chaos", RequestId: stepID + "-" + action}))
		if err == nil {
			took = true
			r.countAction("step actions", res.Msg.Repeated)
			return nil
		}
		if !isCode(err, connect.CodeFailedPrecondition) {
			return err
		}
		if action == "RESUME" {
			return verdictf("%s %s step %s through %s refused: %v", action, k, stepID, n.name, err)
		}
		steps, rerr := r.stepStatuses(actionsWorkflow, instanceID)
		if rerr != nil {
			return verdictf("%s %s step %s refused (%v); reading it: %w", action, k, stepID, err, rerr)
		}
		if st := steps[stepID]; st == "" || st == done[action] {
			return verdictf("%s %s step %s through %s refused (%v), and the step is %q", action, k, stepID, n.name, err, st)
		}
		return nil
	})
	return took, err
}

func (w *actionsWorkload) check(r *run) {
	records, errs := w.snapshot()
	r.addCheck(checkResult{name: "step action clients' starts and actions all answered", checked: len(records), violations: errs})
	r.addCheck(checkStepActions(records, r.final))
}

// checkStepActions: a paused step started only after its resume; a
// skipped step ended SKIPPED and nothing happened to it after the skip;
// (every instance of the workflow succeeding is checkEnded's).
func checkStepActions(records []actionsRecord, final map[string]*finalInstance) checkResult {
	res := checkResult{name: "paused steps wait for their resume, skipped steps stay skipped"}
	for _, a := range records {
		if !a.paused && !a.skipped {
			continue
		}
		res.checked++
		k := instKey(actionsWorkflow, a.instanceID)
		fi := final[k]
		if fi == nil {
			res.violations = append(res.violations, fmt.Sprintf("%s is not among the instances at the end", k))
			continue
		}
		// The index of the first action of each kind on each step.
		acted := map[string]uint64{}
		for _, e := range fi.events {
			if e.Action != "" && e.StepId != "" && acted[e.StepId+" "+e.Action] == 0 {
				acted[e.StepId+" "+e.Action] = e.Index
			}
		}
		if a.paused {
			pausedAt, resumedAt := acted[actionsLast+" PAUSE"], acted[actionsLast+" RESUME"]
			if pausedAt == 0 {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s was paused, but its timeline has no PAUSE: %s", k, actionsLast, describeEvents(fi.events)))
			}
			if a.resumed && resumedAt == 0 {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s was resumed, but its timeline has no RESUME: %s", k, actionsLast, describeEvents(fi.events)))
			}
			for _, e := range fi.events {
				if pausedAt != 0 && e.StepId == actionsLast && e.Status == fsm.StepRunning && (resumedAt == 0 || e.Index < resumedAt) {
					res.violations = append(res.violations, fmt.Sprintf("%s step %s started at index %d, paused at %d and resumed at %d (0: never): %s",
						k, actionsLast, e.Index, pausedAt, resumedAt, describeEvents(fi.events)))
				}
			}
		}
		if a.skipped {
			skippedAt := acted[actionsFirst+" SKIP"]
			if skippedAt == 0 {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s was skipped, but its timeline has no SKIP: %s", k, actionsFirst, describeEvents(fi.events)))
				continue
			}
			for _, st := range fi.steps {
				if st.StepId == actionsFirst && st.Status != fsm.StepSkipped {
					res.violations = append(res.violations, fmt.Sprintf("%s step %s was skipped, but is %s: %s", k, actionsFirst, st.Status, harness.DescribeSteps(fi.steps)))
				}
			}
			for _, e := range fi.events {
				if e.StepId == actionsFirst && e.Action == "" && e.Index > skippedAt {
					res.violations = append(res.violations, fmt.Sprintf("%s step %s went %s at index %d, after its skip at %d: %s",
						k, actionsFirst, e.Status, e.Index, skippedAt, describeEvents(fi.events)))
				}
			}
		}
	}
	return res
}
