package scheduler

import (
	"fmt"
	"maps"
	"slices"
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
	// dependency looks for its newest match in one round, newest first
	// and a window at a time. Every waiting step searches again each
	// round; with SignalScans a round goes on where the last stopped, so
	// this bounds the work, not what is found.
	maxSignalsSearched = 10 * maxSignalsScanned
)

// SignalScans keeps, from one of a leader's rounds to the next, how far
// each waiting step's signal dependencies were searched, and what matched:
// a round then reads only the signals sent since, and goes on searching
// older ones where the last round stopped. Without it, each round searched
// up to maxSignalsSearched signals for every waiting step: 100 steps
// waiting on a name with 10,000 signals that do not match took 0.8 s a
// round (BenchmarkPlanWaitingForSignals).
//
// Numbers of a name are given out in order and a signal never changes, so
// a range found without a match stays so; retention deletes only the
// oldest. A round learns only from committed signals (Input.Speculated).
// One planning loop owns it; it is not safe for concurrent rounds.
type SignalScans struct {
	replaced <-chan struct{}
	round    uint64
	m        map[scanKey]*signalScan
}

// scanKey is one dependency of one step, with the values it must match.
type scanKey struct {
	step fsm.StepKey
	dep  int
	want string
}

// signalScan says the signals numbered lo+1 through hi were searched:
// none matched, or the newest that did is numbered match (and is the
// answer until a newer one comes or retention deletes it).
type signalScan struct {
	lo, hi, match int64
	round         uint64
}

// NewSignalScans returns an empty SignalScans.
func NewSignalScans() *SignalScans { return &SignalScans{m: map[scanKey]*signalScan{}} }

func (c *SignalScans) begin(s *fsm.State) {
	if c.replaced != s.Replaced() {
		// A restore replaced the store: nothing searched before holds.
		clear(c.m)
		c.replaced = s.Replaced()
	}
	c.round++
}

// end forgets the dependencies the round did not look at: their step ran,
// or its instance ended.
func (c *SignalScans) end() {
	for k, e := range c.m {
		if e.round != c.round {
			delete(c.m, k)
		}
	}
}

// wantKey is the values a dependency must match, in a comparable form:
// matching reads a value's text (and whether that text is a number).
func wantKey(d workflow.SignalDependency, want map[string]workflow.Value) string {
	var b strings.Builder
	b.WriteString(d.Name)
	for _, k := range slices.Sorted(maps.Keys(d.Match)) {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(d.Match[k].Operator)
		b.WriteByte(0)
		b.WriteString(want[k].String())
	}
	return b.String()
}

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
		if matched[i] = r.newestMatch(d, want, scanKey{step: fsm.KeyOfStep(st), dep: i, want: wantKey(d, want)}); matched[i] == nil {
			missing = append(missing, d.Name+describeMatch(d, want))
		}
	}
	if len(missing) == 0 {
		return "", matched, nil
	}
	return "waiting for signals: " + strings.Join(missing, "; "), nil, nil
}

// newestMatch returns the newest signal matching a dependency, or nil when
// none does among those searched so far: this round searches at most
// maxSignalsSearched numbers of the name, the new ones first, then on
// down from where an earlier round stopped (Input.Scans), so a match
// older than any one round's search is found by a later round.
func (r *round) newestMatch(d workflow.SignalDependency, want map[string]workflow.Value, key scanKey) *statepb.Signal {
	hi := r.in.State.LatestSignalSeq(d.Name)
	floor := int64(0) // below the oldest signal kept there is nothing
	if rs, _ := r.in.State.SignalRanges(d.Name, 1); len(rs) == 1 && rs[0].Name == d.Name {
		floor = rs[0].Oldest - 1
	}
	budget := int64(maxSignalsSearched)
	learn := r.in.Scans != nil && !r.in.Speculated
	var memo *signalScan
	if r.in.Scans != nil {
		if memo = r.in.Scans.m[key]; memo != nil {
			memo.round = r.in.Scans.round
		}
	}
	fresh := func() *statepb.Signal {
		// Nothing searched before, too much sent since, or the match
		// found deleted: from the top.
		sg, lo := r.searchSignals(d, want, max(hi-budget, floor), hi)
		if learn {
			m := &signalScan{lo: lo, hi: hi, round: r.in.Scans.round}
			if sg != nil {
				m.match = sg.Seq
			} else {
				r.searchOn(lo, floor)
			}
			r.in.Scans.m[key] = m
		}
		return sg
	}
	if memo == nil || memo.hi > hi || hi-memo.hi > budget {
		return fresh()
	}
	// The signals sent since the last search first: a match among them
	// is the newest.
	if sg, _ := r.searchSignals(d, want, memo.hi, hi); sg != nil {
		if learn {
			memo.match, memo.hi = sg.Seq, hi
		}
		return sg
	}
	if memo.match != 0 {
		// Still the newest match, unless retention deleted it since.
		if sg := r.in.State.Signal(d.Name, memo.match); sg != nil {
			if learn {
				memo.hi = hi
			}
			return sg
		}
		return fresh()
	}
	budget -= hi - memo.hi
	lo := memo.lo
	if from := max(memo.lo-budget, floor); from < memo.lo {
		var sg *statepb.Signal
		if sg, lo = r.searchSignals(d, want, from, memo.lo); sg != nil {
			if learn {
				memo.match, memo.hi = sg.Seq, hi
			}
			return sg
		}
	}
	if learn {
		memo.lo, memo.hi = min(lo, memo.lo), hi
		r.searchOn(memo.lo, floor)
	}
	return nil
}

// searchOn asks for another round at once while older signals are left to
// search (lo above floor): nothing else may happen to bring one about.
func (r *round) searchOn(lo, floor int64) {
	if lo > floor {
		r.wakeAt(r.in.Now)
	}
}

// searchSignals returns the newest signal numbered from+1 through to that
// matches a dependency, reading a window of numbers at a time, newest
// window first; with none, it returns from (everything above it was
// searched). Windows are ranges of numbers, so each read is bounded
// however the numbers run.
func (r *round) searchSignals(d workflow.SignalDependency, want map[string]workflow.Value, from, to int64) (*statepb.Signal, int64) {
	for hi := to; hi > from; {
		lo := max(hi-maxSignalsScanned, from)
		// The signals numbered lo+1 … hi, oldest first: at most hi-lo of
		// them, and any past hi (there are none unless signals were
		// deleted) were looked at in the window before.
		window := r.in.State.SignalsAfter(nil, d.Name, lo, int(hi-lo))
		for i := len(window) - 1; i >= 0; i-- {
			if sg := window[i]; sg.Seq <= hi && signalMatchesDependency(sg, d, want) {
				return sg, from
			}
		}
		hi = lo
	}
	return nil, from
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
	r.volatile = true
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
