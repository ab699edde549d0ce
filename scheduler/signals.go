package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

const (
	// maxSignalsScanned is how many signals of one name a round reads at
	// a time: a signal trigger's window (signalView), and one window of a
	// step's dependency looking for its match (newestMatch).
	maxSignalsScanned = 1000
	// maxSignalsSearched bounds how far back, in signal numbers, a step's
	// dependency looks for its newest match, newest first and a window at
	// a time; docs/DEFINITIONS.md states it. Every waiting step searches
	// again each round, so this bounds that work per step.
	maxSignalsSearched = 10 * maxSignalsScanned
)

// signalsMatched says which of a step's signal_dependencies no signal matches
// yet ("" when all are matched), and otherwise returns, per dependency, the
// newest signal that matches it (params.getFromSignalDependency reads it).
// The values a signal must match are the step's own evaluation of the match
// params, with the step's scope.
func (r *round) signalsMatched(inst *statepb.Instance, sd *workflow.Step, st *statepb.Step, steps *stepView) (string, []*statepb.Signal, error) {
	deps, err := sd.WaitsForSignals()
	if err != nil || len(deps) == 0 {
		return "", nil, err
	}
	scope := stepScope{inst: inst, step: st, steps: steps}
	var missing []string
	matched := make([]*statepb.Signal, len(deps))
	for i, d := range deps {
		want := map[string]workflow.Value{}
		defs := map[string]workflow.ParamDef{}
		for name, m := range d.Match {
			if m.Value != nil {
				want[name] = *m.Value
			} else if m.Param != nil {
				defs[name] = *m.Param
			}
		}
		if len(defs) > 0 {
			vals, err := workflow.ResolveParamsWith(defs, scope.Param, workflow.EvalOptions{Now: r.in.Now})
			if err != nil {
				return "", nil, fmt.Errorf("%s: %w", d.Name, err)
			}
			for k, v := range vals {
				want[k] = v
			}
		}
		if matched[i] = r.newestMatch(d, want); matched[i] == nil {
			missing = append(missing, d.Name+describeMatch(d, want))
		}
	}
	if len(missing) == 0 {
		return "", matched, nil
	}
	return "waiting for signals: " + strings.Join(missing, "; "), nil, nil
}

// newestMatch returns the newest signal matching a dependency, or nil when
// none of the maxSignalsSearched newest numbers of its name does. It reads
// the signals a window of numbers at a time, newest window first, so
// non-matching signals newer than the match only cost the windows they
// fill. Windows are ranges of numbers, so each read is bounded however
// the numbers run.
func (r *round) newestMatch(d workflow.SignalDependency, want map[string]workflow.Value) *statepb.Signal {
	hi := r.in.State.LatestSignalSeq(d.Name)
	for stop := max(hi-maxSignalsSearched, 0); hi > stop; {
		lo := max(hi-maxSignalsScanned, stop)
		// The signals numbered lo+1 … hi, oldest first: at most hi-lo of
		// them, and any past hi (there are none unless signals were
		// deleted) were looked at in the window before.
		window := r.in.State.SignalsAfter(nil, d.Name, lo, int(hi-lo))
		for i := len(window) - 1; i >= 0; i-- {
			if sg := window[i]; sg.Seq <= hi && signalMatchesDependency(sg, d, want) {
				return sg
			}
		}
		hi = lo
	}
	return nil
}

// signalMatchesDependency says whether a signal has every param of a
// dependency's match_params, comparing as the entry's operator says.
func signalMatchesDependency(sg *statepb.Signal, d workflow.SignalDependency, want map[string]workflow.Value) bool {
	for name, m := range d.Match {
		p, has := sg.Params[name]
		if !has {
			return false
		}
		got, err := ValueFromParam(p)
		if err != nil || !workflow.SignalMatches(got, want[name], m.Operator) {
			return false
		}
	}
	return true
}

func describeMatch(d workflow.SignalDependency, want map[string]workflow.Value) string {
	if len(d.Match) == 0 {
		return ""
	}
	names := make([]string, 0, len(d.Match))
	for k := range d.Match {
		names = append(names, k)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = k + " " + d.Match[k].Operator + " " + want[k].String()
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// emitSignals sends a succeeded step's signal_outputs, evaluated in its
// scope, once: the FSM marks the step when it records them.
func (r *round) emitSignals(inst *statepb.Instance, sd *workflow.Step, st *statepb.Step, steps *stepView) {
	outs, err := sd.SendsSignals()
	if err != nil || len(outs) == 0 || st.SignalsEmitted || st.Status != fsm.StepSucceeded {
		return
	}
	scope := stepScope{inst: inst, step: st, steps: steps}
	// The request ids name the attempt that succeeded, so that a leader
	// planning this emission again after a failover sends nothing twice.
	// Its number alone does not name it: restarting a foreach or while
	// step recreates its iterations under the same workflow and instance
	// ids, whose steps count attempts from 1 again. The generation (the
	// Raft index of the entry that assigned the attempt) tells them apart.
	var gen uint64
	if n := len(st.Attempts); n > 0 {
		gen = st.Attempts[n-1].Generation
	}
	act := &statepb.EmitSignals{WorkflowId: st.WorkflowId, InstanceId: st.InstanceId, StepId: st.StepId}
	for i, o := range outs {
		vals, err := workflow.ResolveParamsWith(o.Params, scope.Param, workflow.EvalOptions{Now: r.in.Now})
		params := map[string]*statepb.Param{}
		if err == nil {
			for k, v := range vals {
				if p, perr := ParamFromValue(v); perr == nil {
					params[k] = p
				}
			}
		}
		act.Signals = append(act.Signals, &statepb.SendSignal{
			Name: o.Name, Params: params, Source: fmt.Sprintf("%s/%d/%s", st.WorkflowId, st.InstanceId, st.StepId),
			RequestId: fmt.Sprintf("step:%s/%d/%s/%d@%d:%d", st.WorkflowId, st.InstanceId, st.StepId, len(st.Attempts), gen, i),
		})
	}
	r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_EmitSignals{EmitSignals: act}})
}

// breakpointFor returns the key of a breakpoint that holds attempt of st,
// or "" when none does or a resume let that attempt past. Breakpoints name
// the workflow whose definition the step is in, so one on a step nested in
// a foreach or while holds it in every iteration.
func (r *round) breakpointFor(inst *statepb.Instance, st *statepb.Step, attempt int64) string {
	if st.BreakpointPassed == attempt {
		return ""
	}
	wf, top := inst.WorkflowId, inst.InstanceId
	if inst.DefinitionWorkflowId != "" {
		wf = inst.DefinitionWorkflowId
		if _, id, ok := workflow.InlineRoot(inst.WorkflowId); ok {
			top = id
		}
	}
	if r.breakpoints == nil {
		r.breakpoints = map[string][]*statepb.Breakpoint{}
	}
	bps, ok := r.breakpoints[wf]
	if !ok {
		bps = r.in.State.Breakpoints(nil, wf, "")
		r.breakpoints[wf] = bps
	}
	for _, b := range bps {
		if fsm.BreakpointMatches(b, wf, st.StepId, inst.WorkflowVersion, top) {
			return fsm.BreakpointKey(b)
		}
	}
	return ""
}
