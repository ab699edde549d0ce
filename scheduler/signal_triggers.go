package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// parsedSignalTriggers caches a stored version's signal triggers, as
// parsedTriggers does its time triggers.
var parsedSignalTriggers = newBoundedCache[versionKey, []workflow.SignalTrigger](maxCachedDefinitions, 0)

func versionSignalTriggers(ver *statepb.WorkflowVersion, def *workflow.Definition) ([]workflow.SignalTrigger, error) {
	if len(def.Workflow.SignalTriggers) == 0 {
		return nil, nil
	}
	key := keyOfVersion(ver)
	if v, ok := parsedSignalTriggers.get(key); ok {
		return v, nil
	}
	trigs, err := def.SignalTriggers()
	if err != nil {
		return nil, err
	}
	parsedSignalTriggers.put(key, trigs, 0)
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
//
// A round that fires nothing moves each checkpoint past the signals right
// after it that can never fire the trigger (see signalView), so however
// many of those arrive, later ones are reached a window at a time: the
// checkpoint is the resume position, in the FSM, and a new leader goes on
// from it.
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
	views := make(map[string]*signalView, len(trig.Names))
	for _, name := range trig.Names {
		views[name] = r.signalView(trig, name, checkpoints[name])
	}
	fired := 0
	for ; fired < maxFiresPerRound; fired++ {
		match := matchSignals(trig, views, checkpoints)
		if match == nil {
			break
		}
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_FireSignalTrigger{
			FireSignalTrigger: r.fireSignalTrigger(w, ver, def, dag, id, trig, match),
		}})
		for name, sg := range match {
			checkpoints[name] = sg.Seq
		}
	}
	if fired > 0 {
		// The fires move the checkpoints (or, refused, leave them where
		// this round found them); the next round looks on from there.
		// Passing over signals here as well could pass over those of a
		// fire the FSM refused.
		return
	}
	advanced := false
	for _, name := range trig.Names {
		if to := views[name].deadThrough; to > checkpoints[name] {
			checkpoints[name] = to
			advanced = true
		}
	}
	if advanced {
		// The FSM only ever moves a checkpoint forward, so this plan
		// applied late undoes no fire.
		set(checkpoints)
	}
}

// signalView is what a round looks at of the unconsumed signals of one of
// a trigger's names: the maxSignalsScanned oldest after the checkpoint
// (the head) and, for a trigger that joins several names whose head is
// full and holds a signal that can still fire it, the maxSignalsScanned
// newest too (the tail).
//
// A signal that does not match the name's match_params, or lacks one of
// its join keys, can never fire the trigger: its params never change, and
// the trigger's definition cannot change without a new record (a new spec
// starts from new checkpoints). Such signals right after the checkpoint
// are passed over (deadThrough), so they never hide later ones.
//
// A signal that can still fire the trigger is never passed over without
// a fire. A single-name trigger fires it as soon as the head reaches it,
// so nothing is missed. A joined one may have to wait for its partners;
// while more than a head of them wait, the tail lets matches of newer
// signals fire, which (as every fire does) passes over the older ones.
type signalView struct {
	// live holds, oldest first and each once, the signals looked at that
	// can still fire the trigger.
	live []liveSignal
	// deadThrough is the number of the last of the signals right after
	// the checkpoint that can never fire the trigger; the checkpoint when
	// the first signal after it can.
	deadThrough int64
}

// liveSignal is a signal that can still fire a trigger, with its join
// values (joinKey).
type liveSignal struct {
	sg  *statepb.Signal
	key string
}

func (r *round) signalView(trig workflow.SignalTrigger, name string, checkpoint int64) *signalView {
	entry := trig.Definitions[name]
	v := &signalView{deadThrough: checkpoint}
	head := r.in.State.SignalsAfter(nil, name, checkpoint, maxSignalsScanned)
	for _, sg := range head {
		if key, ok := canFire(entry, sg); ok {
			v.live = append(v.live, liveSignal{sg: sg, key: key})
		} else if len(v.live) == 0 {
			v.deadThrough = sg.Seq
		}
	}
	if len(trig.Names) == 1 || len(head) < maxSignalsScanned || len(v.live) == 0 {
		// All the unconsumed signals are in the head; or a single-name
		// trigger fires its oldest live signal, or passes over a head
		// with none, so the head moves on every round; or the head holds
		// nothing that can fire, and the next round passes it over.
		return v
	}
	last := head[len(head)-1].Seq
	tail := r.in.State.Signals(name, maxSignalsScanned) // newest first
	for i := len(tail) - 1; i >= 0; i-- {
		sg := tail[i]
		if sg.Seq <= last {
			continue // in the head already
		}
		if key, ok := canFire(entry, sg); ok {
			v.live = append(v.live, liveSignal{sg: sg, key: key})
		}
	}
	return v
}

// canFire says whether a signal can ever fire a trigger by its entry, and
// returns its join values.
func canFire(entry workflow.SignalTriggerEntry, sg *statepb.Signal) (string, bool) {
	get := signalParam(sg)
	if !entry.Matches(get) {
		return "", false
	}
	return joinKey(entry.JoinKeys, get)
}

// matchSignals finds the next match among the signals the views hold that
// are newer than the checkpoints, or nil.
func matchSignals(trig workflow.SignalTrigger, views map[string]*signalView, checkpoints map[string]int64) map[string]*statepb.Signal {
	first := trig.Names[0]
	// For every other name, the oldest live signal per join value.
	joined := make(map[string]map[string]*statepb.Signal, len(trig.Names)-1)
	for _, name := range trig.Names[1:] {
		byKey := map[string]*statepb.Signal{}
		for _, l := range views[name].live {
			if l.sg.Seq <= checkpoints[name] {
				continue
			}
			if _, seen := byKey[l.key]; !seen {
				byKey[l.key] = l.sg
			}
		}
		if len(byKey) == 0 {
			return nil
		}
		joined[name] = byKey
	}
	for _, cand := range views[first].live {
		if cand.sg.Seq <= checkpoints[first] {
			continue
		}
		match := map[string]*statepb.Signal{first: cand.sg}
		for _, name := range trig.Names[1:] {
			sg := joined[name][cand.key]
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
