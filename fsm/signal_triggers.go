package fsm

import (
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/batonhq/baton/fsm/statepb"
)

// setSignalTrigger creates or updates a signal trigger's record. A new spec
// starts from the checkpoints given; the same spec keeps its place, and its
// checkpoints never move back, so a plan made from stale state cannot make
// a signal fire twice.
func (a *applier) setSignalTrigger(x *statepb.SetSignalTrigger) bool {
	if a.get(tableWorkflows, x.WorkflowId) == nil || x.Spec == "" || x.TriggerId == "" {
		return false
	}
	t, _ := a.get(tableTriggers, x.WorkflowId, x.TriggerId).(*statepb.Trigger)
	if t == nil || t.Spec != x.Spec {
		a.put(tableTriggers, &statepb.Trigger{
			WorkflowId: x.WorkflowId, TriggerId: x.TriggerId, Version: x.Version, Spec: x.Spec,
			Checkpoints: maps.Clone(x.Checkpoints),
		})
		return true
	}
	checkpoints := maps.Clone(t.Checkpoints)
	if checkpoints == nil {
		checkpoints = map[string]int64{}
	}
	changed := t.Version != x.Version
	for name, seq := range x.Checkpoints {
		if cur, ok := checkpoints[name]; !ok || seq > cur {
			checkpoints[name] = seq
			changed = true
		}
	}
	if !changed {
		return false
	}
	t = shallow(t)
	t.Version = x.Version
	t.Checkpoints = checkpoints
	a.put(tableTriggers, t)
	return true
}

// fireSignalTrigger consumes one match of a signal trigger and starts its
// instance, both or neither: every signal must be newer than the trigger's
// checkpoint for its name, so no signal fires the trigger twice, and the
// instance's request id carries the dedup key, so one key starts one
// instance.
func (a *applier) fireSignalTrigger(x *statepb.FireSignalTrigger) bool {
	t, _ := a.get(tableTriggers, x.WorkflowId, x.TriggerId).(*statepb.Trigger)
	if t == nil || t.Version != x.Version || len(x.Signals) == 0 || len(x.Signals) != len(t.Checkpoints) {
		return false
	}
	// A plan made before the workflow was deactivated, or its signal
	// triggers switched off, fires nothing.
	if w, _ := a.get(tableWorkflows, x.WorkflowId).(*statepb.Workflow); w == nil || w.ActiveVersion != x.Version || w.SignalTriggersDisabled {
		return false
	}
	for name, seq := range x.Signals {
		cur, ok := t.Checkpoints[name]
		if !ok || seq <= cur || a.get(tableSignals, name, seq) == nil {
			return false
		}
	}
	skipReason := x.SkipReason
	if x.Start != nil {
		start := shallow(x.Start)
		start.Now = a.now
		res, ok := a.startInstance(start).(*StartResult)
		if !ok {
			return false
		}
		if !res.Created {
			skipReason = fmt.Sprintf("dedup key already started instance %d", res.Instance.InstanceId)
		}
	}
	t = shallow(t)
	t.Checkpoints = maps.Clone(t.Checkpoints)
	for name, seq := range x.Signals {
		t.Checkpoints[name] = seq
	}
	t.Fires++
	t.LastFired = a.now
	if skipReason != "" {
		t.Skipped++
		t.LastSkipReason = skipReason
	}
	a.put(tableTriggers, t)
	return true
}

// SignalNames lists a trigger's signal names in order.
func SignalNames(t *statepb.Trigger) []string {
	names := make([]string, 0, len(t.Checkpoints))
	for n := range t.Checkpoints {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// describeSignals lists signals as "name #seq", by name.
func describeSignals(signals map[string]*statepb.Signal) string {
	names := make([]string, 0, len(signals))
	for n := range signals {
		names = append(names, n)
	}
	sort.Strings(names)
	for i, n := range names {
		names[i] = fmt.Sprintf("%s #%d", n, signals[n].GetSeq())
	}
	return strings.Join(names, ", ")
}
