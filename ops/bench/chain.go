package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// Chain runs instances of a workflow of Steps NoOp steps in a line, one
// instance at a time, and measures the engine's overhead per step.
type Chain struct {
	Steps int
	// Runs is the number of instances, one after another (default 1); the
	// per-step figures pool every run's steps.
	Runs int
	// Waiting is the number of instances started first, each waiting on
	// an hour-long Sleep step while the chain runs: what planning pays for
	// instances it has nothing to do for.
	Waiting int
}

func (Chain) Name() string { return "chain" }

func (w Chain) Params() []Field {
	return []Field{{"steps", w.Steps}, {"runs", max(w.Runs, 1)}, {"waiting", w.Waiting}}
}

func (w Chain) Check(int) error {
	if w.Steps < 2 {
		return usagef("--steps %d: want at least 2 (the per-step figure is the time from one step's start to the next one's)", w.Steps)
	}
	if w.Runs < 0 {
		return usagef("--runs %d: want 1 or more", w.Runs)
	}
	if w.Waiting < 0 || w.Waiting > maxWaiting {
		return usagef("--waiting %d: want 0 to %d", w.Waiting, maxWaiting)
	}
	return nil
}

// AgentFlags raises the agents' step limit (Maestro's 300) for long chains.
func (w Chain) AgentFlags() []string {
	if w.Steps > 300 {
		return []string{fmt.Sprintf("-max-workflow-steps=%d", w.Steps)}
	}
	return nil
}

func (w Chain) Run(ctx context.Context, env *Env) (*Result, error) {
	wf := fmt.Sprintf("bench-chain-%d", w.Steps)
	if err := env.API.Push(ctx, chainDefinition(wf, w.Steps)); err != nil {
		return nil, err
	}
	stopWaiting, err := startWaiting(ctx, env, w.Waiting)
	if err != nil {
		return nil, err
	}
	defer stopWaiting(context.WithoutCancel(ctx))
	runs := max(w.Runs, 1)
	var gaps, starts, spans []time.Duration
	// The gaps after a step that ran on the leader and after one that ran
	// on another node, while the same server led the whole run.
	var onLeader, onOthers []time.Duration
	leader, leaderKnown := env.leaderName(ctx)
	stop := env.Profile(ctx)
	defer stop()
	for r := 0; r < runs; r++ {
		res, _, err := startRetrying(ctx, []*Client{env.API}, wf, fmt.Sprintf("bench-%s-chain-%d", env.RunID, r), callTimeout)
		if err != nil {
			return nil, fmt.Errorf("start: %w", err)
		}
		id := res.Instance.InstanceId
		env.Logf("chain run %d/%d: instance %s/%d started, waiting for its %d steps", r+1, runs, wf, id, w.Steps)
		got, err := waitEnded(ctx, env.API, wf, id, time.Duration(w.Steps)*time.Second+time.Minute)
		if err != nil {
			return nil, err
		}
		if got.Instance.Status != fsm.InstanceSucceeded {
			return nil, fmt.Errorf("instance %s/%d ended %s: %s", wf, id, got.Instance.Status, got.Instance.Reason)
		}
		g, ranOn, s, span, err := chainTimes(got, w.Steps)
		if err != nil {
			return nil, fmt.Errorf("instance %s/%d: %w", wf, id, err)
		}
		gaps = append(gaps, g...)
		for i, node := range ranOn {
			if node == leader {
				onLeader = append(onLeader, g[i])
			} else {
				onOthers = append(onOthers, g[i])
			}
		}
		starts = append(starts, s)
		spans = append(spans, span)
	}
	stop()
	if now, ok := env.leaderName(ctx); !ok || now != leader {
		leaderKnown = false
	}
	sortDurations(gaps)
	sortDurations(starts)
	sortDurations(spans)
	res := &Result{}
	res.addMs("per_step_ms_p50", percentile(gaps, 0.5), "engine overhead per step, median: one step's start to the next one's (leader's clock)")
	res.addMs("per_step_ms_p99", percentile(gaps, 0.99), "the same, 99th percentile")
	res.addMs("per_step_ms_max", gaps[len(gaps)-1], "the same, slowest step")
	const leaderHelp = "per-step median after steps run on the leader: about one commit, with no hop between nodes"
	const othersHelp = "per-step median after steps run on other nodes: the commit, the leader's poke and the result's trip back"
	if !leaderKnown {
		res.unknown("per_step_ms_p50_leader", "ms", leaderHelp, "the leader was unknown or changed during the run")
		res.unknown("per_step_ms_p50_others", "ms", othersHelp, "the leader was unknown or changed during the run")
	} else {
		for _, part := range []struct {
			name, help string
			gaps       []time.Duration
		}{{"per_step_ms_p50_leader", leaderHelp, onLeader}, {"per_step_ms_p50_others", othersHelp, onOthers}} {
			if len(part.gaps) == 0 {
				res.unknown(part.name, "ms", part.help, "no step ran there")
				continue
			}
			sortDurations(part.gaps)
			res.addMs(part.name, percentile(part.gaps, 0.5), part.help)
		}
	}
	res.addMs("start_ms", percentile(starts, 0.5), "Start accepted by the leader (the instance's creation time) to the first step placed and running"+medianOf(runs))
	res.add("makespan_s", round3(percentile(spans, 0.5).Seconds()), "s", "instance start to end"+medianOf(runs))
	return res, nil
}

func medianOf(runs int) string {
	if runs > 1 {
		return fmt.Sprintf(" (median of %d runs)", runs)
	}
	return ""
}

// chainTimes reads the step-to-step gaps, the node each gap's earlier step
// ran on, the start latency and the span of a finished chain, from the times
// the leader recorded: the instance's creation (the time the leader put in
// the Start command) and each step's first attempt's start (when the leader
// placed it on a node).
func chainTimes(got *instancev1.GetResponse, n int) (gaps []time.Duration, ranOn []string, start, span time.Duration, err error) {
	type placed struct {
		at   time.Time
		node string
	}
	steps := map[string]placed{}
	for _, st := range got.Steps {
		if len(st.Attempts) == 0 || st.Attempts[0].StartTime == nil {
			return nil, nil, 0, 0, fmt.Errorf("step %s has no started attempt", st.StepId)
		}
		steps[st.StepId] = placed{st.Attempts[0].StartTime.AsTime(), st.Attempts[0].Node}
	}
	prev, ok := steps[chainStepID(0)]
	if !ok {
		return nil, nil, 0, 0, fmt.Errorf("step %s is missing", chainStepID(0))
	}
	for i := 1; i < n; i++ {
		p, ok := steps[chainStepID(i)]
		if !ok {
			return nil, nil, 0, 0, fmt.Errorf("step %s is missing", chainStepID(i))
		}
		gaps = append(gaps, p.at.Sub(prev.at))
		ranOn = append(ranOn, prev.node)
		prev = p
	}
	inst := got.Instance
	start = steps[chainStepID(0)].at.Sub(inst.CreateTime.AsTime())
	if inst.StartTime != nil && inst.EndTime != nil {
		span = inst.EndTime.AsTime().Sub(inst.StartTime.AsTime())
	}
	return gaps, ranOn, start, span, nil
}
