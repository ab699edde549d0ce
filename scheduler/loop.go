package scheduler

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// maxLaunchesPerRound bounds how many children one planning round starts,
// so that one huge foreach cannot make a single Raft entry unbounded.
const maxLaunchesPerRound = 1000

// edgeDecision is what the incoming transitions of a waiting step say.
type edgeDecision int

const (
	edgeWait     edgeDecision = iota // a predecessor is not resolved yet
	edgeTaken                        // at least one incoming condition holds
	edgeNotTaken                     // every predecessor resolved, no condition holds
	edgeError                        // a condition could not be evaluated
)

// decide resolves a waiting step's incoming edges as Maestro does: the step
// runs once every predecessor is resolved (done, or itself unsatisfied) and
// at least one done predecessor's condition on the edge holds; otherwise it
// is UNSATISFIED, which its own successors treat as resolved. A failed
// predecessor leaves it waiting, so the failure decides the instance.
func (r *round) decide(inst *statepb.Instance, v *stepView, i int) edgeDecision {
	preds := v.dag.PredsAt(i)
	if len(preds) == 0 {
		return edgeTaken
	}
	for _, p := range preds {
		switch v.cur[p] {
		case fsm.StepSucceeded, fsm.StepCompletedWithError, fsm.StepUnsatisfied, fsm.StepSkipped:
		default:
			return edgeWait
		}
	}
	id := v.dag.Order[i]
	st := v.steps[i]
	var unmet []string
	for _, p := range preds {
		if v.cur[p] == fsm.StepUnsatisfied {
			continue
		}
		pid := v.dag.Order[p]
		cond := ""
		for _, e := range v.dag.Succs[pid] {
			if e.To == id {
				cond = e.Condition
			}
		}
		ok, err := workflow.EvalBool(cond, stepScope{inst: inst, step: v.steps[p], steps: v})
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("condition on %s -> %s: %v", pid, id, err), nil)
			return edgeError
		}
		if ok {
			return edgeTaken
		}
		unmet = append(unmet, fmt.Sprintf("%s -> %s: %q", pid, id, cond))
	}
	why := "no path reached it"
	if len(unmet) > 0 {
		why = "conditions false: " + strings.Join(unmet, "; ")
	}
	r.setStep(st, fsm.StepUnsatisfied, why, nil)
	return edgeNotTaken
}

// stepScope resolves names as a step sees them: its own evaluated params and
// outputs, then the instance's params; other steps by id.
type stepScope struct {
	inst  *statepb.Instance
	step  *statepb.Step             // may be nil
	steps *stepView                 // may be nil
	extra map[string]*statepb.Param // looked up first (loop params)
}

func stepValue(st *statepb.Step, name string) (workflow.Value, bool) {
	if st == nil {
		return workflow.Value{}, false
	}
	if p, ok := st.Outputs[name]; ok {
		if v, err := ValueFromParam(p); err == nil {
			return v, true
		}
	}
	if n := len(st.Attempts); n > 0 {
		if p, ok := st.Attempts[n-1].Params[name]; ok {
			if v, err := ValueFromParam(p); err == nil {
				return v, true
			}
		}
	}
	return workflow.Value{}, false
}

func (s stepScope) Param(name string) (workflow.Value, bool) {
	if p, ok := s.extra[name]; ok {
		if v, err := ValueFromParam(p); err == nil {
			return v, true
		}
	}
	if v, ok := stepValue(s.step, name); ok {
		return v, true
	}
	if p, ok := s.inst.Params[name]; ok {
		if v, err := ValueFromParam(p); err == nil {
			return v, true
		}
	}
	if v, ok := systemParams(s.inst)[name]; ok {
		return v, true
	}
	return workflow.Value{}, false
}

func (s stepScope) StepParam(stepID, name string) (workflow.Value, bool) {
	return stepValue(s.steps.step(stepID), name)
}

// loopInit evaluates what a foreach, while or subworkflow step starts with.
func loopInit(sd *workflow.Step, params map[string]*statepb.Param) (*statepb.Loop, error) {
	loop := &statepb.Loop{}
	if sd.Kind == workflow.KindSubworkflow {
		return loop, nil
	}
	p, ok := params[workflow.LoopParamsName]
	if !ok {
		return nil, fmt.Errorf("%s step needs the %s param", sd.Kind, workflow.LoopParamsName)
	}
	v, err := ValueFromParam(p)
	if err != nil {
		return nil, fmt.Errorf("param %s: %w", workflow.LoopParamsName, err)
	}
	fields, ok := v.Raw.(map[string]workflow.Value)
	if !ok {
		return nil, fmt.Errorf("param %s must be a MAP, got %s", workflow.LoopParamsName, v.Type)
	}
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	loop.Names = names
	loop.Values = map[string]*statepb.Param{}
	total := int64(1)
	for _, k := range names {
		fv := fields[k]
		if sd.Kind == workflow.KindForeach {
			n, ok := arrayLen(fv)
			if !ok {
				return nil, fmt.Errorf("loop param %s of a foreach must be an array, got %s", k, fv.Type)
			}
			total *= int64(n)
			if total > workflow.MaxIterations {
				return nil, fmt.Errorf("foreach has more than %d iterations (the limit)", workflow.MaxIterations)
			}
		}
		pp, err := ParamFromValue(fv)
		if err != nil {
			return nil, fmt.Errorf("loop param %s: %w", k, err)
		}
		loop.Values[k] = pp
	}
	if sd.Kind == workflow.KindForeach {
		if len(names) == 0 {
			total = 0
		}
		loop.Total = total
	}
	return loop, nil
}

func arrayLen(v workflow.Value) (int, bool) {
	switch x := v.Raw.(type) {
	case []string:
		return len(x), true
	case []int64:
		return len(x), true
	case []float64:
		return len(x), true
	case []bool:
		return len(x), true
	}
	return 0, false
}

// iterationValues binds the loop params for foreach iteration n (1-based):
// the cartesian product in name order, the last name varying fastest. It
// reads one element of each stored array, so a round that launches many
// iterations does not decode the arrays once per iteration.
func iterationValues(loop *statepb.Loop, n int64) (map[string]*statepb.Param, error) {
	idx := n - 1
	out := make(map[string]*statepb.Param, len(loop.Names))
	for i := len(loop.Names) - 1; i >= 0; i-- {
		name := loop.Names[i]
		p := loop.Values[name]
		list := p.GetValue().GetListValue()
		elemType, isArray := strings.CutSuffix(p.GetType(), "_ARRAY")
		if list == nil || !isArray {
			return nil, fmt.Errorf("loop param %s is not an array", name)
		}
		size := int64(len(list.Values))
		if size == 0 {
			return nil, fmt.Errorf("loop param %s is empty", name)
		}
		out[name] = &statepb.Param{Type: elemType, Value: list.Values[idx%size]}
		idx /= size
	}
	return out, nil
}

// loop plans a running foreach, while or subworkflow step.
func (r *round) loop(inst *statepb.Instance, def *workflow.Definition, st *statepb.Step) {
	// A loop reads its children.
	r.volatile = true
	sd := def.Step(st.StepId)
	if sd == nil {
		r.setStep(st, fsm.StepFatallyFailed, "step is not in the definition", nil)
		return
	}
	// The loop goes on from the ends of its children this round plans
	// before it, as the entry will apply them.
	loop := st.Loop
	if e := r.childEnds[fsm.KeyOfStep(st)]; e != nil {
		loop = fsm.LoopWithEnds(loop, e.counts)
		for _, act := range e.actions {
			r.ends[act].loop = false
		}
	}
	switch sd.Kind {
	case workflow.KindForeach:
		r.foreach(inst, sd, st, loop)
	case workflow.KindWhile:
		r.while(inst, def, sd, st, loop)
	case workflow.KindSubworkflow:
		r.subworkflow(inst, sd, st, loop)
	default:
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("a %s step cannot run children", sd.Kind), nil)
	}
}

// rolledUp maps how children ended to the loop step's final status, worst
// first, as Maestro rolls iterations up.
func rolledUp(sd *workflow.Step, counts map[string]int64) (string, string) {
	switch {
	case counts[fsm.InstanceFailed] > 0:
		why := fmt.Sprintf("%d of its instances failed", counts[fsm.InstanceFailed])
		if sd.FailureMode == workflow.IgnoreFailure {
			return fsm.StepCompletedWithError, why
		}
		return fsm.StepFatallyFailed, why
	case counts[fsm.InstanceTimedOut] > 0:
		return fsm.StepTimedOut, fmt.Sprintf("%d of its instances timed out", counts[fsm.InstanceTimedOut])
	case counts[fsm.InstanceStopped] > 0:
		return fsm.StepStopped, fmt.Sprintf("%d of its instances were stopped", counts[fsm.InstanceStopped])
	}
	return fsm.StepSucceeded, ""
}

func (r *round) foreach(inst *statepb.Instance, sd *workflow.Step, st *statepb.Step, loop *statepb.Loop) {
	running := loop.Launched - loop.Finished
	bad := loop.Counts[fsm.InstanceFailed] + loop.Counts[fsm.InstanceTimedOut] + loop.Counts[fsm.InstanceStopped]
	if bad > 0 && sd.FailureMode == workflow.FailImmediately && running > 0 {
		// Leaving RUNNING stops the running iterations.
		status, why := rolledUp(sd, loop.Counts)
		r.setStep(st, status, why+" (failure_mode FAIL_IMMEDIATELY)", nil)
		return
	}
	if running == 0 && (loop.Launched == loop.Total || bad > 0) {
		status, why := rolledUp(sd, loop.Counts)
		if bad > 0 && loop.Launched < loop.Total {
			why += fmt.Sprintf("; %d iterations not started", loop.Total-loop.Launched)
		}
		r.setStep(st, status, why, nil)
		return
	}
	if bad > 0 {
		return // no new iterations after a failure; wait for the running ones
	}
	concurrency := int64(workflow.DefaultForeachConcurrency)
	if sd.Concurrency != nil && *sd.Concurrency > 0 {
		concurrency = *sd.Concurrency
	}
	n := min(concurrency-running, loop.Total-loop.Launched, maxLaunchesPerRound)
	if n <= 0 {
		return
	}
	path := append(append([]string{}, inst.DefinitionPath...), st.StepId)
	ver, _ := InstanceVersion(r.in.State, inst)
	idef, idag, err := r.in.Defs.Definition(ver, path...)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("iteration definition: %v", err), nil)
		return
	}
	if inst.Depth+1 > workflow.MaxWorkflowDepth {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("nesting deeper than %d levels", workflow.MaxWorkflowDepth), nil)
		return
	}
	seeds := stepSeeds(idef, idag)
	base := childBaseParams(inst, st)
	for i := int64(1); i <= n; i++ {
		iter := loop.Launched + i
		values, err := iterationValues(loop, iter)
		if err != nil {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("iteration %d: %v", iter, err), nil)
			return
		}
		params := mergeParams(base, values)
		idx, _ := ParamFromValue(workflow.Value{Type: workflow.Long, Raw: iter - 1})
		params["loop_index"] = idx
		r.startChild(inst, st, ver, path, iter, params, seeds, nil)
	}
}

func (r *round) while(inst *statepb.Instance, def *workflow.Definition, sd *workflow.Step, st *statepb.Step, loop *statepb.Loop) {
	if loop.Launched > loop.Finished {
		return // an iteration is running
	}
	path := append(append([]string{}, inst.DefinitionPath...), st.StepId)
	ver, _ := InstanceVersion(r.in.State, inst)
	idef, idag, err := r.in.Defs.Definition(ver, path...)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("iteration definition: %v", err), nil)
		return
	}
	values := loop.Values
	if loop.Launched > 0 {
		if status, why := rolledUp(sd, loop.Counts); status != fsm.StepSucceeded {
			r.setStep(st, status, why, nil)
			return
		}
		// Params the last iteration's steps set under a loop param's name
		// carry into the next condition check, later steps winning.
		values = map[string]*statepb.Param{}
		for k, v := range loop.Values {
			values[k] = v
		}
		childID := workflow.InlineWorkflowID(inst.WorkflowId, inst.InstanceId, st.StepId)
		for _, id := range idag.Order {
			cst := r.in.State.Step(nil, childID, loop.Launched, id)
			if cst == nil || len(cst.Attempts) == 0 {
				continue
			}
			for name := range loop.Values {
				if p, ok := cst.Attempts[len(cst.Attempts)-1].Params[name]; ok {
					values[name] = p
				}
			}
		}
	}
	ok, err := workflow.EvalBool(sd.Condition, stepScope{inst: inst, step: st, extra: values})
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("condition %q: %v", sd.Condition, err), nil)
		return
	}
	if !ok {
		r.setStep(st, fsm.StepSucceeded, fmt.Sprintf("condition false after %d iterations", loop.Launched), nil)
		r.actions[len(r.actions)-1].GetStepStatus().LoopValues = values
		return
	}
	if loop.Launched >= workflow.MaxIterations {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("while loop passed %d iterations (the limit)", workflow.MaxIterations), nil)
		return
	}
	if inst.Depth+1 > workflow.MaxWorkflowDepth {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("nesting deeper than %d levels", workflow.MaxWorkflowDepth), nil)
		return
	}
	iter := loop.Launched + 1
	params := mergeParams(childBaseParams(inst, st), values)
	idx, _ := ParamFromValue(workflow.Value{Type: workflow.Long, Raw: iter - 1})
	params["loop_index"] = idx
	r.startChild(inst, st, ver, path, iter, params, stepSeeds(idef, idag), values)
}

func (r *round) subworkflow(inst *statepb.Instance, sd *workflow.Step, st *statepb.Step, loop *statepb.Loop) {
	detached := sd.Sync != nil && !*sd.Sync
	switch {
	case loop.Launched > 0 && detached:
		r.setStep(st, fsm.StepSucceeded, fmt.Sprintf("started %s/%d (async)", loop.ChildWorkflowId, loop.ChildInstanceId), nil)
		return
	case loop.Finished > 0:
		status, why := rolledUp(sd, loop.Counts)
		if why == "" {
			why = fmt.Sprintf("%s/%d succeeded", loop.ChildWorkflowId, loop.ChildInstanceId)
		}
		r.setStep(st, status, why, nil)
		return
	case loop.Launched > 0:
		return
	}
	params := st.Attempts[len(st.Attempts)-1].Params
	wfID, version, err := subworkflowTarget(params)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, err.Error(), nil)
		return
	}
	w := r.in.State.Workflow(nil, wfID)
	if w == nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow %q not found", wfID), nil)
		return
	}
	switch version {
	case "", "active":
		if w.ActiveVersion == 0 {
			r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow %q has no active version (%s); name a version or activate one", wfID, w.InactiveReason), nil)
			return
		}
		version = strconv.FormatInt(w.ActiveVersion, 10)
	case "latest":
		version = strconv.FormatInt(w.LatestVersion, 10)
	}
	n, err := strconv.ParseInt(version, 10, 64)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow %q has no version %q", wfID, version), nil)
		return
	}
	ver := r.in.State.Version(nil, wfID, n)
	if ver == nil {
		r.setStep(st, fsm.StepFatallyFailed, "subworkflow: "+fsm.MissingVersion(r.in.State.DeletedWorkflow(wfID), wfID, n, w.LatestVersion), nil)
		return
	}
	if inst.Depth+1 > workflow.MaxWorkflowDepth {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflows nest deeper than %d levels (a cycle between workflows?)", workflow.MaxWorkflowDepth), nil)
		return
	}
	cdef, cdag, err := r.in.Defs.Definition(ver)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow %s: %v", wfID, err), nil)
		return
	}
	if chain := r.ancestors(inst); !detached && !runsInParallel(cdef) && contains(chain, wfID) {
		// The child would queue behind its own ancestor, which waits for
		// it: a deadlock, so refuse it with the cycle named.
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow cycle %s -> %s: %s runs one instance at a time, so the child would wait for its own ancestor",
			strings.Join(chain, " -> "), wfID, wfID), nil)
		return
	}
	// Parent params pass down unless explicit_params says only the step's own.
	passed := map[string]*statepb.Param{}
	if sd.ExplicitParams == nil || !*sd.ExplicitParams {
		for k, v := range inst.Params {
			passed[k] = v
		}
	}
	for k := range sd.Params {
		if p, ok := params[k]; ok {
			passed[k] = p
		}
	}
	delete(passed, workflow.SubworkflowIDParam)
	delete(passed, workflow.SubworkflowVersionName)
	childParams, err := ChildParams(cdef, passed, r.in.Now)
	if err != nil {
		r.setStep(st, fsm.StepFatallyFailed, fmt.Sprintf("subworkflow %s params: %v", wfID, err), nil)
		return
	}
	r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_StartChild{StartChild: &statepb.StartChild{
		ParentWorkflowId: inst.WorkflowId, ParentInstanceId: inst.InstanceId, ParentStepId: st.StepId,
		WorkflowId: wfID, WorkflowVersion: ver.Version, Params: childParams,
		Steps: stepSeeds(cdef, cdag), Detached: detached,
	}}})
}

func subworkflowTarget(params map[string]*statepb.Param) (string, string, error) {
	get := func(name string) (string, error) {
		p, ok := params[name]
		if !ok {
			return "", nil
		}
		v, err := ValueFromParam(p)
		if err != nil {
			return "", fmt.Errorf("param %s: %w", name, err)
		}
		switch x := v.Raw.(type) {
		case string:
			return x, nil
		case int64:
			return strconv.FormatInt(x, 10), nil
		}
		return "", fmt.Errorf("param %s must be a STRING, got %s", name, v.Type)
	}
	id, err := get(workflow.SubworkflowIDParam)
	if err != nil {
		return "", "", err
	}
	if id == "" {
		return "", "", fmt.Errorf("subworkflow step needs the %s param", workflow.SubworkflowIDParam)
	}
	version, err := get(workflow.SubworkflowVersionName)
	return id, strings.ToLower(strings.TrimSpace(version)), err
}

// ChildParams merges params passed to a new instance over its definition's
// workflow params and evaluates the result.
func ChildParams(def *workflow.Definition, passed map[string]*statepb.Param, now time.Time) (map[string]*statepb.Param, error) {
	defs := workflow.SystemParams(now)
	for name, p := range def.Workflow.Params {
		defs[name] = p
	}
	for name, p := range passed {
		v, err := ValueFromParam(p)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", name, err)
		}
		defs[name] = workflow.ParamDef{Type: v.Type, Value: &v}
	}
	values, err := workflow.ResolveParamsWith(defs, nil, workflow.EvalOptions{Now: now, NewUUID: workflow.RandomUUID})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*statepb.Param, len(values))
	for name, v := range values {
		p, err := ParamFromValue(v)
		if err != nil {
			return nil, fmt.Errorf("param %s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// childBaseParams are the params every iteration of a loop step sees: the
// parent instance's, then the loop step's own evaluated params.
func childBaseParams(inst *statepb.Instance, st *statepb.Step) map[string]*statepb.Param {
	out := make(map[string]*statepb.Param, len(inst.Params))
	for k, v := range inst.Params {
		out[k] = v
	}
	if n := len(st.Attempts); n > 0 {
		for k, v := range st.Attempts[n-1].Params {
			if k != workflow.LoopParamsName {
				out[k] = v
			}
		}
	}
	return out
}

func mergeParams(base, over map[string]*statepb.Param) map[string]*statepb.Param {
	out := make(map[string]*statepb.Param, len(base)+len(over)+1)
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

func stepSeeds(def *workflow.Definition, dag *workflow.DAG) []*statepb.StepSeed {
	seeds := make([]*statepb.StepSeed, 0, len(dag.Order))
	for _, id := range dag.Order {
		seeds = append(seeds, &statepb.StepSeed{StepId: id, Type: def.Step(id).Type})
	}
	return seeds
}

func (r *round) startChild(inst *statepb.Instance, st *statepb.Step, ver *statepb.WorkflowVersion, path []string, iter int64,
	params map[string]*statepb.Param, seeds []*statepb.StepSeed, loopValues map[string]*statepb.Param) {
	x := &statepb.StartChild{
		ParentWorkflowId: inst.WorkflowId, ParentInstanceId: inst.InstanceId, ParentStepId: st.StepId,
		WorkflowId: workflow.InlineWorkflowID(inst.WorkflowId, inst.InstanceId, st.StepId),
		InstanceId: iter, WorkflowVersion: ver.Version,
		DefinitionWorkflowId: ver.WorkflowId, DefinitionPath: path,
		Params: params, Steps: seeds, LoopValues: loopValues, Run: r.in.protocol() >= 2,
	}
	act := &statepb.PlanAction{Action: &statepb.PlanAction_StartChild{StartChild: x}}
	r.actions = append(r.actions, act)
	if x.Run {
		// Plan the iteration as the next pass would find it once the
		// entry applied its start: running, no step created. Its
		// actions follow the start in the entry, and that pass is saved
		// (with the speculation's copy of the start it needed).
		child := fsm.ChildInstance(inst, x, iter, r.now)
		child.Status, child.StartTime = fsm.InstanceInProgress, r.now
		r.instanceWith(child, func(dag *workflow.DAG) *stepView {
			return newStepView(dag, fsm.NewSteps(x.WorkflowId, iter, seeds, r.now))
		})
		r.settle(act)
	}
}

// ancestors lists the workflow ids from the root of inst's tree down to inst,
// skipping iterations, which are part of their loop's workflow.
func (r *round) ancestors(inst *statepb.Instance) []string {
	var chain []string
	for cur := inst; cur != nil; {
		if cur.DefinitionWorkflowId == "" {
			chain = append([]string{cur.WorkflowId}, chain...)
		}
		if cur.Parent == nil {
			break
		}
		cur = r.in.State.Instance(nil, cur.Parent.WorkflowId, cur.Parent.InstanceId)
	}
	return chain
}

func runsInParallel(def *workflow.Definition) bool {
	return def.Properties != nil && def.Properties.RunStrategy != nil && def.Properties.RunStrategy.Rule == workflow.RunParallel
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
