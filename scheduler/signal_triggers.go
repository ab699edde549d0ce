package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// parsedSignalTriggers caches a stored version's signal triggers, as
// parsedTriggers does its time triggers.
var parsedSignalTriggers sync.Map // "wf\x00version\x00digest" -> []workflow.SignalTrigger

func versionSignalTriggers(ver *statepb.WorkflowVersion, def *workflow.Definition) ([]workflow.SignalTrigger, error) {
	if len(def.Workflow.SignalTriggers) == 0 {
		return nil, nil
	}
	key := fmt.Sprintf("%s\x00%d\x00%s", ver.WorkflowId, ver.Version, ver.Digest)
	if v, ok := parsedSignalTriggers.Load(key); ok {
		return v.([]workflow.SignalTrigger), nil
	}
	trigs, err := def.SignalTriggers()
	if err != nil {
		return nil, err
	}
	parsedSignalTriggers.Store(key, trigs)
	return trigs, nil
}

// signalTrigger sets up a signal trigger's record, or fires it once for
// each match of unconsumed signals (at most maxFiresPerRound per round).
// Each fire consumes, for every signal name of the trigger, the oldest
// signal newer than the trigger's checkpoint that matches the name's
// match_params and whose join keys have the values of the first name's
// signal (names taken in alphabetical order). A match moves the
// checkpoints to the signals it consumed, so older unconsumed signals are
// passed over, as Maestro does.
func (r *round) signalTrigger(w *statepb.Workflow, ver *statepb.WorkflowVersion, def *workflow.Definition, dag *workflow.DAG,
	id, spec string, trig workflow.SignalTrigger, rec *statepb.Trigger) {
	set := func(checkpoints map[string]int64) {
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_SetSignalTrigger{SetSignalTrigger: &statepb.SetSignalTrigger{
			WorkflowId: w.WorkflowId, TriggerId: id, Version: ver.Version, Spec: spec, Checkpoints: checkpoints,
		}}})
	}
	if rec == nil || rec.Spec != spec {
		// A new or changed trigger is fired only by signals sent from now
		// on: setting one up never starts instances for old signals.
		checkpoints := make(map[string]int64, len(trig.Names))
		for _, name := range trig.Names {
			checkpoints[name] = r.in.State.LatestSignalSeq(name)
		}
		set(checkpoints)
		return
	}
	if rec.Version != ver.Version {
		// Same trigger in another version: it keeps its place.
		set(rec.Checkpoints)
		return
	}
	checkpoints := maps.Clone(rec.Checkpoints)
	for n := 0; n < maxFiresPerRound; n++ {
		match := r.matchSignals(trig, checkpoints)
		if match == nil {
			return
		}
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_FireSignalTrigger{
			FireSignalTrigger: r.fireSignalTrigger(w, ver, def, dag, id, trig, match),
		}})
		for name, sg := range match {
			checkpoints[name] = sg.Seq
		}
	}
}

// matchSignals finds the next match of unconsumed signals, or nil. It
// looks at the maxSignalsScanned oldest unconsumed signals of each name,
// each once.
func (r *round) matchSignals(trig workflow.SignalTrigger, checkpoints map[string]int64) map[string]*statepb.Signal {
	first := trig.Names[0]
	// For every other name, the oldest matching signal per join value.
	joined := make(map[string]map[string]*statepb.Signal, len(trig.Names)-1)
	for _, name := range trig.Names[1:] {
		entry := trig.Definitions[name]
		byKey := map[string]*statepb.Signal{}
		for _, sg := range r.in.State.SignalsAfter(nil, name, checkpoints[name], maxSignalsScanned) {
			get := signalParam(sg)
			if !entry.Matches(get) {
				continue
			}
			if key, ok := joinKey(entry.JoinKeys, get); ok {
				if _, seen := byKey[key]; !seen {
					byKey[key] = sg
				}
			}
		}
		if len(byKey) == 0 {
			return nil
		}
		joined[name] = byKey
	}
	entry := trig.Definitions[first]
	for _, cand := range r.in.State.SignalsAfter(nil, first, checkpoints[first], maxSignalsScanned) {
		get := signalParam(cand)
		if !entry.Matches(get) {
			continue
		}
		key, ok := joinKey(entry.JoinKeys, get)
		if !ok {
			continue
		}
		match := map[string]*statepb.Signal{first: cand}
		for _, name := range trig.Names[1:] {
			sg := joined[name][key]
			if sg == nil {
				match = nil
				break
			}
			match[name] = sg
		}
		if match != nil {
			return match
		}
	}
	return nil
}

// joinKey is the values of a signal's join keys, in order, in the form
// under which "=" finds them equal; false when one is missing.
func joinKey(keys []string, get func(string) (workflow.Value, bool)) (string, bool) {
	var b strings.Builder
	for _, k := range keys {
		v, ok := get(k)
		if !ok {
			return "", false
		}
		b.WriteString(workflow.SignalKey(v))
		b.WriteByte(0)
	}
	return b.String(), true
}

// signalParam reads the params of a signal as typed values.
func signalParam(sg *statepb.Signal) func(string) (workflow.Value, bool) {
	return func(name string) (workflow.Value, bool) {
		p, ok := sg.Params[name]
		if !ok {
			return workflow.Value{}, false
		}
		v, err := ValueFromParam(p)
		return v, err == nil
	}
}

// fireSignalTrigger evaluates what one match starts: the trigger's params,
// its condition and its dedup key, all here on the leader, recorded in the
// log. A match whose params or condition cannot be evaluated, or whose
// condition is false, starts nothing and is consumed all the same.
func (r *round) fireSignalTrigger(w *statepb.Workflow, ver *statepb.WorkflowVersion, def *workflow.Definition, dag *workflow.DAG,
	id string, trig workflow.SignalTrigger, match map[string]*statepb.Signal) *statepb.FireSignalTrigger {
	fire := &statepb.FireSignalTrigger{WorkflowId: w.WorkflowId, TriggerId: id, Version: ver.Version, Signals: map[string]int64{}}
	init := &statepb.SignalInitiator{TriggerId: id, Signals: map[string]*statepb.Signal{}, Params: map[string]*statepb.Param{}}
	for name, sg := range match {
		fire.Signals[name] = sg.Seq
		init.Signals[name] = sg
	}
	src := signalSource{init: init}
	scope := triggerScope{init: init, names: trig.Names}
	opts := workflow.EvalOptions{Now: r.in.Now, NewUUID: workflow.RandomUUID, Signals: src}
	vals, err := workflow.ResolveParamsWith(trig.Params, scope.Param, opts)
	if err != nil {
		fire.SkipReason = fmt.Sprintf("params: %v", err)
		return fire
	}
	for name, v := range vals {
		p, err := ParamFromValue(v)
		if err != nil {
			fire.SkipReason = fmt.Sprintf("param %s: %v", name, err)
			return fire
		}
		init.Params[name] = p
	}
	if strings.TrimSpace(trig.Condition) != "" {
		v, err := workflow.EvalWith(trig.Condition, workflow.Boolean, scope, opts)
		switch {
		case err != nil:
			fire.SkipReason = fmt.Sprintf("condition: %v", err)
			return fire
		case !v.Raw.(bool):
			fire.SkipReason = "condition is false"
			return fire
		}
	}
	parts := make([]string, 0, len(trig.Names))
	for _, name := range trig.Names {
		parts = append(parts, name+"="+strconv.FormatInt(match[name].Seq, 10))
	}
	requestID := fmt.Sprintf("signal:%s:%s:%s", w.WorkflowId, id, strings.Join(parts, ","))
	if strings.TrimSpace(trig.DedupExpr) != "" {
		// As in Maestro, a key that cannot be evaluated leaves the match
		// keyed by its signals.
		if v, err := workflow.EvalWith(trig.DedupExpr, workflow.String, scope, opts); err == nil {
			sum := sha256.Sum256([]byte(v.Raw.(string)))
			requestID = fmt.Sprintf("signal:%s:dedup:%s", w.WorkflowId, hex.EncodeToString(sum[:16]))
		}
	}
	// Params that cannot be evaluated start the instance without them, as
	// for a time trigger; its steps then fail naming the missing param.
	params, _ := ChildParams(def, nil, r.in.Now)
	fire.Start = &statepb.StartInstance{
		RequestId: requestID, WorkflowId: w.WorkflowId, WorkflowVersion: ver.Version,
		Params: params, Steps: stepSeeds(def, dag), SignalInitiator: init,
	}
	return fire
}

// triggerScope is what a signal trigger's params, condition and dedup_expr
// see by name: the trigger's evaluated params, then the params of the
// matched signals (names in alphabetical order).
type triggerScope struct {
	init  *statepb.SignalInitiator
	names []string
}

func (s triggerScope) Param(name string) (workflow.Value, bool) {
	if p, ok := s.init.Params[name]; ok {
		if v, err := ValueFromParam(p); err == nil {
			return v, true
		}
	}
	for _, n := range s.names {
		if sg := s.init.Signals[n]; sg != nil {
			if v, ok := signalParam(sg)(name); ok {
				return v, true
			}
		}
	}
	return workflow.Value{}, false
}

func (s triggerScope) StepParam(string, string) (workflow.Value, bool) {
	return workflow.Value{}, false
}

// signalSource serves params.getFromSignal and its relatives from an
// instance's signal initiator and the signals that matched a step's
// signal_dependencies.
type signalSource struct {
	init *statepb.SignalInitiator
	// deps[i] matched the step's i-th signal dependency.
	deps []*statepb.Signal
}

var _ workflow.SignalSource = signalSource{}

func (s signalSource) SignalParam(signal, name string) (workflow.Value, error) {
	if s.init == nil {
		return workflow.Value{}, fmt.Errorf("the instance was not started by a signal trigger")
	}
	sg := s.init.Signals[signal]
	if sg == nil {
		names := slices.Sorted(maps.Keys(s.init.Signals))
		return workflow.Value{}, fmt.Errorf("signal %q did not start the instance (%s did)", signal, strings.Join(names, ", "))
	}
	return paramOf(sg, name)
}

func (s signalSource) TriggerParam(name string) (workflow.Value, error) {
	if s.init == nil {
		return workflow.Value{}, fmt.Errorf("the instance was not started by a signal trigger")
	}
	p, ok := s.init.Params[name]
	if !ok {
		return workflow.Value{}, fmt.Errorf("signal trigger %s has no param %q", s.init.TriggerId, name)
	}
	return ValueFromParam(p)
}

func (s signalSource) DependencyParam(index int, name string) (workflow.Value, error) {
	if index >= len(s.deps) || s.deps[index] == nil {
		return workflow.Value{}, fmt.Errorf("the step has no matched signal dependency %d (it has %d)", index, len(s.deps))
	}
	return paramOf(s.deps[index], name)
}

func paramOf(sg *statepb.Signal, name string) (workflow.Value, error) {
	p, ok := sg.Params[name]
	if !ok {
		return workflow.Value{}, fmt.Errorf("signal %s #%d has no param %q", sg.Name, sg.Seq, name)
	}
	return ValueFromParam(p)
}
