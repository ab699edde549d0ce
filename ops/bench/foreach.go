package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/workflow"
)

// Foreach runs one instance whose foreach step runs Iterations NoOp
// iterations, at most Concurrency at once, and measures its makespan and
// the leader's memory. Above workflow.MaxIterations (one loop's limit) an
// outer foreach runs several inner ones at once, sharing the concurrency.
type Foreach struct {
	Iterations  int
	Concurrency int
}

func (Foreach) Name() string { return "foreach" }

func (w Foreach) Params() []Field {
	return []Field{{"iterations", w.Iterations}, {"concurrency", w.Concurrency}}
}

func (w Foreach) Check(int) error {
	if w.Iterations < 1 {
		return usagef("--iterations %d: want 1 or more", w.Iterations)
	}
	if w.Concurrency < 1 {
		return usagef("--concurrency %d: want 1 or more", w.Concurrency)
	}
	if outer, inner, _ := foreachShape(w.Iterations, w.Concurrency); outer*inner != w.Iterations {
		return usagef("--iterations %d: one loop runs at most %d, so above that the iterations are split evenly between loops; want a multiple of %d",
			w.Iterations, workflow.MaxIterations, outer)
	}
	return nil
}

func (Foreach) AgentFlags() []string { return nil }

func (w Foreach) Run(ctx context.Context, env *Env) (*Result, error) {
	wf := fmt.Sprintf("bench-foreach-%d-%d", w.Iterations, w.Concurrency)
	if err := env.API.Push(ctx, foreachDefinition(wf, w.Iterations, w.Concurrency)); err != nil {
		return nil, err
	}
	var leader *Agent
	if env.Local != nil {
		leader, _ = env.Local.WaitAgreement(ctx, agreementTimeout)
	}
	stop := env.Profile(ctx)
	defer stop()
	started, _, err := startRetrying(ctx, []*Client{env.API}, wf, fmt.Sprintf("bench-%s-foreach", env.RunID), callTimeout)
	if err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	id := started.Instance.InstanceId
	env.Logf("foreach: instance %s/%d started, waiting for its %d iterations", wf, id, w.Iterations)
	got, err := waitEnded(ctx, env.API, wf, id, time.Duration(w.Iterations)*10*time.Millisecond+2*time.Minute)
	if err != nil {
		return nil, err
	}
	stop()
	inst := got.Instance
	res := &Result{}
	if inst.Status != fsm.InstanceSucceeded || got.Rollup[fsm.StepSucceeded] != int64(w.Iterations) {
		res.problemf("the foreach instance ended %s with %d of %d iterations succeeded (%v)", inst.Status, got.Rollup[fsm.StepSucceeded], w.Iterations, got.Rollup)
	}
	if inst.StartTime == nil || inst.EndTime == nil {
		return nil, fmt.Errorf("instance %s/%d ended %s without a start and end time", wf, id, inst.Status)
	}
	span := inst.EndTime.AsTime().Sub(inst.StartTime.AsTime())
	res.add("makespan_s", round3(span.Seconds()), "s", "the instance's start to its end (leader's clock)")
	res.add("iterations_per_s", round3(float64(w.Iterations)/span.Seconds()), "1/s", "iterations / makespan_s")
	const rssHelp = "peak resident memory (VmHWM) of the leader process"
	switch {
	case leader == nil:
		res.unknown("leader_rss_mb", "MB", rssHelp, "unknown against --address (the bench reads it from /proc of agents it started)")
	case leader.PeakRSS() == 0:
		res.unknown("leader_rss_mb", "MB", rssHelp, "this system does not report VmHWM in /proc")
	default:
		res.add("leader_rss_mb", round3(float64(leader.PeakRSS())/(1<<20)), "MB", rssHelp)
	}
	res.add("succeeded", float64(got.Rollup[fsm.StepSucceeded]), "", "iterations whose step succeeded")
	return res, nil
}
