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

// The stop and restart workload. A client starts an instance of
// stopWorkflow (three ledger steps in a row, 1.2 s in all), stops it after
// a random wait, through random servers and sent again with its request id
// while its outcome is unknown, and restarts one stopped instance in two
// the same way. A copy of the stop held up until after the restart must
// do nothing (its request id was used), or the restarted instance would be
// stopped again. A stopped instance
// must stay STOPPED with nothing placed after its stop; a restarted one must
// succeed with nothing placed between its stop and its restart; one that
// ended before the stop reached it must have succeeded.
const stopWorkflow = "chaos-stop"

var stopDefinition = definition(stopWorkflow,
	shellStep("one", "sleep=400", "two"),
	shellStep("two", "sleep=400", "three"),
	shellStep("three", "sleep=400"))

// stopRecord is what the client learnt about one instance it stopped.
type stopRecord struct {
	instanceID int64
	// stopped: a Stop took effect; endedFirst: the instance had succeeded
	// before any did.
	stopped, endedFirst bool
	restarted           bool
}

type stopWorkload struct {
	interval time.Duration

	clientRecords[stopRecord]
}

func newStopWorkload(interval time.Duration) *stopWorkload {
	return &stopWorkload{interval: interval}
}

func (w *stopWorkload) name() string { return "stop and restart" }
func (w *stopWorkload) clients() int { return 1 }

func (w *stopWorkload) setup(r *run) error {
	return r.setupWorkflow(stopWorkflow, stopDefinition, false)
}

func (w *stopWorkload) client(r *run, id int, stop <-chan struct{}) {
	const within = 5 * time.Minute
	r.instanceRounds(stopWorkflow, "stop", w.interval, within, stop, w.unexpected, func(instanceID int64) {
		s := &stopRecord{instanceID: instanceID}
		w.add(s)
		// From before the first step is placed to after the last ended.
		time.Sleep(time.Duration(r.intn(1800)) * time.Millisecond)
		if err := w.stop(r, s, within); err != nil {
			w.unexpected("%v", err)
			return
		}
		w.mu.Lock()
		restart := s.stopped && r.chance(0.5)
		w.mu.Unlock()
		if !restart {
			return
		}
		time.Sleep(time.Duration(r.intn(500)) * time.Millisecond)
		if err := w.restart(r, s, within); err != nil {
			w.unexpected("%v", err)
			return
		}
		// A copy of the stop arriving after the restart, as one held up in
		// a socket would: it must do nothing.
		if r.chance(0.5) {
			if err := w.lateStop(r, s, within); err != nil {
				w.unexpected("%v", err)
			}
		}
	})
}

// status reads an instance's status through any server.
func (w *stopWorkload) status(r *run, instanceID int64) (string, error) {
	var status string
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: stopWorkflow, InstanceId: instanceID}))
		if err == nil {
			status = res.Msg.Instance.Status
		}
		return err
	})
	return status, err
}

// stop sends Stop, with one request id, until it is answered. A refusal
// means no copy of it took effect before (a copy that did makes the others
// repeats), so the instance must have succeeded first.
func (w *stopWorkload) stop(r *run, s *stopRecord, within time.Duration) error {
	k := instKey(stopWorkflow, s.instanceID)
	return r.call("stop "+k, within, func(ctx context.Context, n *node) error {
		res, err := w.sendStop(ctx, r, n, s.instanceID)
		if err == nil {
			if st := res.Msg.Instance.GetStatus(); st != fsm.InstanceStopped {
				return verdictf("stop %s through %s answered the instance %s", k, n.name, st)
			}
			w.mu.Lock()
			s.stopped = true
			w.mu.Unlock()
			r.countAction("stops", res.Msg.Repeated)
			return nil
		}
		if !isCode(err, connect.CodeFailedPrecondition) {
			return err
		}
		st, rerr := w.status(r, s.instanceID)
		if rerr != nil {
			return verdictf("stop %s refused (%v); reading it: %w", k, err, rerr)
		}
		if st != fsm.InstanceSucceeded {
			return verdictf("stop %s through %s refused (%v), and the instance is %s", k, n.name, err, st)
		}
		w.mu.Lock()
		s.endedFirst = true
		w.mu.Unlock()
		return nil
	})
}

// sendStop sends the instance's Stop, always with the same request id.
func (w *stopWorkload) sendStop(ctx context.Context, r *run, n *node, instanceID int64) (*connect.Response[instancev1.StopResponse], error) {
	return r.c.instanceClient(n).Stop(ctx, connect.NewRequest(&instancev1.StopRequest{WorkflowId: stopWorkflow, InstanceId: instanceID,
		Reason: "chaos", RequestId: "stop"}))
}

// lateStop sends the stop's copy after the restart; it must be answered as
// a repeat. The instance's final state shows whether it did anything.
func (w *stopWorkload) lateStop(r *run, s *stopRecord, within time.Duration) error {
	k := instKey(stopWorkflow, s.instanceID)
	return r.call("late copy of stop "+k, within, func(ctx context.Context, n *node) error {
		res, err := w.sendStop(ctx, r, n, s.instanceID)
		if err != nil {
			return err
		}
		if !res.Msg.Repeated {
			return verdictf("late copy of stop %s through %s was not answered as a repeat (instance %s)", k, n.name, res.Msg.Instance.GetStatus())
		}
		r.stats.add("late copies sent", 1)
		return nil
	})
}

// restart sends Restart, with one request id, until it is answered. The
// instance is STOPPED until a copy takes effect, so nothing may refuse it.
func (w *stopWorkload) restart(r *run, s *stopRecord, within time.Duration) error {
	k := instKey(stopWorkflow, s.instanceID)
	return r.call("restart "+k, within, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Restart(ctx, connect.NewRequest(&instancev1.RestartRequest{WorkflowId: stopWorkflow, InstanceId: s.instanceID,
			Reason: "chaos", RequestId: "restart"}))
		if err != nil {
			return err
		}
		w.mu.Lock()
		s.restarted = true
		w.mu.Unlock()
		r.countAction("restarts", res.Msg.Repeated)
		return nil
	})
}

func (w *stopWorkload) check(r *run) {
	records, errs := w.snapshot()
	r.addCheck(checkResult{name: "stop clients' starts, stops and restarts all answered", checked: len(records), violations: errs})
	r.addCheck(checkStops(records, r.final))
}

// checkStops: an instance stopped and not restarted is STOPPED with every
// step it reached ended, and nothing happened to its steps at a Raft index
// after its stop; one restarted succeeded, with nothing happening to its
// steps between its stop and its restart; one that ended before the stop
// succeeded.
func checkStops(records []stopRecord, final map[string]*finalInstance) checkResult {
	res := checkResult{name: "a stopped instance runs nothing after its stop"}
	for _, s := range records {
		if !s.stopped && !s.endedFirst {
			continue // the client got no answer: the other checks cover it
		}
		res.checked++
		k := instKey(stopWorkflow, s.instanceID)
		fi := final[k]
		if fi == nil {
			res.violations = append(res.violations, fmt.Sprintf("%s is not among the instances at the end", k))
			continue
		}
		st := fi.inst.Status
		switch {
		case s.endedFirst:
			if st != fsm.InstanceSucceeded {
				res.violations = append(res.violations, fmt.Sprintf("%s was refused a stop as ended, but is %s (%s)", k, st, fi.inst.Reason))
			}
			continue
		case s.restarted && st != fsm.InstanceSucceeded:
			res.violations = append(res.violations, fmt.Sprintf("%s was stopped and restarted, but ended %s (%s): %s", k, st, fi.inst.Reason, harness.DescribeSteps(fi.steps)))
		case !s.restarted && st != fsm.InstanceStopped:
			res.violations = append(res.violations, fmt.Sprintf("%s was stopped, but is %s (%s): %s", k, st, fi.inst.Reason, harness.DescribeSteps(fi.steps)))
		}
		if !s.restarted {
			for _, step := range fi.steps {
				// A step the instance never reached stays NOT_CREATED.
				if !fsm.StepTerminal(step.Status) && step.Status != fsm.StepNotCreated {
					res.violations = append(res.violations, fmt.Sprintf("%s was stopped, but step %s is %s", k, step.StepId, step.Status))
				}
			}
		}
		// The first stop on the timeline, and the restart after it.
		var stopAt, restartAt uint64
		for _, e := range fi.events {
			switch {
			case e.StepId != "":
			case stopAt == 0 && e.Status == fsm.InstanceStopped:
				stopAt = e.Index
			case stopAt != 0 && restartAt == 0 && e.Action == "RESTART":
				restartAt = e.Index
			}
		}
		if stopAt == 0 {
			res.violations = append(res.violations, fmt.Sprintf("%s was stopped, but its timeline has no STOPPED: %s", k, describeEvents(fi.events)))
			continue
		}
		if s.restarted && restartAt == 0 {
			res.violations = append(res.violations, fmt.Sprintf("%s was restarted, but its timeline has no RESTART after the stop: %s", k, describeEvents(fi.events)))
			continue
		}
		// The stop ends every step it finds running or waiting in its own
		// entry; nothing happens to a step after it (until a restart):
		// no attempt starts, and no late result is taken.
		for _, e := range fi.events {
			if e.StepId != "" && e.Index > stopAt && (restartAt == 0 || e.Index < restartAt) {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s attempt %d went %s at index %d, after the stop at %d: %s",
					k, e.StepId, e.AttemptNumber, e.Status, e.Index, stopAt, describeEvents(fi.events)))
			}
		}
	}
	return res
}
