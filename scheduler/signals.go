package scheduler

import (
	"fmt"
	"sort"
	"strings"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// maxSignalsScanned bounds how many signals of one name a step's dependency
// looks at, newest first.
const maxSignalsScanned = 1000

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

// newestMatch returns the newest signal matching a dependency, or nil.
func (r *round) newestMatch(d workflow.SignalDependency, want map[string]workflow.Value) *statepb.Signal {
	for _, sg := range r.in.State.Signals(nil, d.Name, maxSignalsScanned) {
		ok := true
		for name, m := range d.Match {
			p, has := sg.Params[name]
			if !has {
				ok = false
				break
			}
			got, err := ValueFromParam(p)
			if err != nil || !workflow.SignalMatches(got, want[name], m.Operator) {
				ok = false
				break
			}
		}
		if ok {
			return sg
		}
	}
	return nil
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
			RequestId: fmt.Sprintf("step:%s/%d/%s/%d:%d", st.WorkflowId, st.InstanceId, st.StepId, len(st.Attempts), i),
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
