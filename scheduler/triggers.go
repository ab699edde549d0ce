package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
	"github.com/batonhq/baton/workflow/timetrigger"
)

const (
	// maxFiresPerRound bounds how many scheduled times of one trigger a
	// round fires, so catching up never makes one huge Raft entry; the
	// next round goes on at once.
	maxFiresPerRound = 100
	// CatchUpWindow is how far back a trigger fires scheduled times it
	// missed while no leader could fire them (the whole cluster down). Older
	// ones are skipped and counted on the trigger; short outages such as a
	// leader change lose nothing.
	CatchUpWindow = 24 * time.Hour
	// maxSkipCount bounds the counting of skipped times after very long
	// downtime; the count saturates there.
	maxSkipCount = 1_000_000
)

// parsedTriggers caches the time triggers of the stored versions planned
// with most recently: versions are immutable, and a round looks at every
// workflow's triggers.
var parsedTriggers = newBoundedCache[versionKey, []timetrigger.Trigger](maxCachedDefinitions, 0)

// versionKey names a stored version; the digest tells apart a workflow id
// deleted and pushed again with other content.
type versionKey struct {
	workflowID string
	version    int64
	digest     string
}

func keyOfVersion(v *statepb.WorkflowVersion) versionKey {
	return versionKey{workflowID: v.WorkflowId, version: v.Version, digest: v.Digest}
}

func versionTriggers(ver *statepb.WorkflowVersion, def *workflow.Definition) ([]timetrigger.Trigger, error) {
	key := keyOfVersion(ver)
	if v, ok := parsedTriggers.get(key); ok {
		return v, nil
	}
	trigs, err := def.TimeTriggers()
	if err != nil {
		return nil, err
	}
	parsedTriggers.put(key, trigs, 0)
	return trigs, nil
}

// triggers keeps each workflow's trigger records in line with its active
// version, fires every scheduled time that is due and every signal trigger
// whose signals have arrived. A workflow without an active version, or
// whose triggers of a kind are switched off (by its definition's
// properties or by an operator), has no triggers of that kind: their
// records go, and come back from the next time, or the next signals, once
// they are on again.
func (r *round) triggers() {
	for _, w := range r.in.State.Workflows(nil) {
		existing := map[string]*statepb.Trigger{}
		for _, t := range r.in.State.Triggers(nil, w.WorkflowId) {
			existing[t.TriggerId] = t
		}
		ver := r.in.State.Version(nil, w.WorkflowId, w.ActiveVersion)
		var def *workflow.Definition
		var dag *workflow.DAG
		var trigs []timetrigger.Trigger
		var sigs []workflow.SignalTrigger
		if ver != nil {
			var err error
			if def, dag, err = r.in.Defs.Definition(ver); err == nil {
				trigs, _ = versionTriggers(ver, def)
				sigs, _ = versionSignalTriggers(ver, def)
			}
			if w.TimeTriggersDisabled || (def != nil && def.Properties != nil && def.Properties.TimeTriggerDisabled != nil && *def.Properties.TimeTriggerDisabled) {
				trigs = nil
			}
			if w.SignalTriggersDisabled || (def != nil && def.Properties != nil && def.Properties.SignalTriggerDisabled != nil && *def.Properties.SignalTriggerDisabled) {
				sigs = nil
			}
		}
		for i, trig := range trigs {
			id := fmt.Sprintf("%s%d", timeTriggerPrefix, i)
			spec := string(def.Workflow.TimeTriggers[i])
			rec := existing[id]
			delete(existing, id)
			r.timeTrigger(w, ver, def, dag, id, spec, trig, rec)
		}
		for i, trig := range sigs {
			id := fmt.Sprintf("%s%d", signalTriggerPrefix, i)
			spec := string(def.Workflow.SignalTriggers[i])
			rec := existing[id]
			delete(existing, id)
			r.signalTrigger(w, ver, def, dag, id, spec, trig, rec)
		}
		for _, id := range slices.Sorted(maps.Keys(existing)) {
			r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteTrigger{DeleteTrigger: &statepb.DeleteTrigger{
				WorkflowId: w.WorkflowId, TriggerId: id,
			}}})
		}
	}
}

// Trigger ids are the kind's prefix and the trigger's index in the active
// version's list.
const (
	timeTriggerPrefix   = "time-"
	signalTriggerPrefix = "signal-"
)

func (r *round) timeTrigger(w *statepb.Workflow, ver *statepb.WorkflowVersion, def *workflow.Definition, dag *workflow.DAG,
	id, spec string, trig timetrigger.Trigger, rec *statepb.Trigger) {
	set := func(next time.Time, skipped int64) {
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_SetTrigger{SetTrigger: &statepb.SetTrigger{
			WorkflowId: w.WorkflowId, TriggerId: id, Version: ver.Version, Spec: spec,
			Next: timestamppb.New(next), Skipped: skipped,
		}}})
	}
	if rec == nil || rec.Spec != spec {
		// A new or changed trigger starts with its first time after now:
		// activating a workflow never fires times from before it existed.
		next, ok := trig.Next(r.in.Now)
		if !ok {
			next = never
		}
		set(next, 0)
		r.wakeAt(trig.FireTime(next, w.WorkflowId+":"+id))
		return
	}
	if rec.Version != ver.Version {
		// Same trigger in a new version: keep its place in the schedule.
		set(rec.Next.AsTime(), 0)
		return
	}
	sched := rec.Next.AsTime()
	if sched.Equal(never) {
		return
	}
	if oldest := r.in.Now.Add(-CatchUpWindow); sched.Before(oldest) {
		// Catch-up policy: times older than the window are skipped, and
		// counted, rather than started all at once after long downtime.
		var skipped int64
		for sched.Before(oldest) && skipped < maxSkipCount {
			next, ok := trig.Next(sched)
			skipped++
			if !ok {
				sched = never
				break
			}
			sched = next
		}
		if sched.Before(oldest) {
			if next, ok := trig.Next(oldest); ok {
				sched = next
			} else {
				sched = never
			}
		}
		set(sched, skipped)
		return
	}
	seed := w.WorkflowId + ":" + id
	for n := 0; n < maxFiresPerRound && !trig.FireTime(sched, seed).After(r.in.Now); n++ {
		next, ok := trig.Next(sched)
		if !ok {
			next = never
		}
		// Params that cannot be evaluated start the instance without
		// them; its steps then fail naming the missing param.
		params, _ := ChildParams(def, nil, sched)
		start := &statepb.StartInstance{
			RequestId:  fmt.Sprintf("trigger:%s:%s:%d", w.WorkflowId, id, sched.UnixNano()),
			WorkflowId: w.WorkflowId, WorkflowVersion: ver.Version, Params: params, Steps: stepSeeds(def, dag),
		}
		r.actions = append(r.actions, &statepb.PlanAction{Action: &statepb.PlanAction_FireTrigger{FireTrigger: &statepb.FireTrigger{
			WorkflowId: w.WorkflowId, TriggerId: id, Version: ver.Version,
			Scheduled: timestamppb.New(sched), Next: timestamppb.New(next), Start: start,
			Run: r.runsAtFire(w.WorkflowId),
		}}})
		sched = next
		if sched.Equal(never) {
			return
		}
	}
	r.wakeAt(trig.FireTime(sched, seed))
}

// runsAtFire reports whether an instance this round fires may start
// running in the entry that creates it, rather than wait a round as
// CREATED for the run strategy to admit it: when nothing else of the
// workflow is unfinished, every strategy admits it, except
// STRICT_SEQUENTIAL, which first looks at how the previous instance ended.
// Only the round's first such instance of a workflow runs; the FSM checks
// again when it applies the fire. Servers from before protocol 2 would
// ignore the flag, so while one is in the cluster no fire runs at once.
func (r *round) runsAtFire(workflowID string) bool {
	if r.in.protocol() < 2 || r.firedRunning[workflowID] || r.in.State.HasUnfinished(nil, workflowID) {
		return false
	}
	if rule, _ := r.strategy(workflowID); rule == workflow.RunStrictSequential {
		return false
	}
	if r.firedRunning == nil {
		r.firedRunning = map[string]bool{}
	}
	r.firedRunning[workflowID] = true
	return true
}

// never stands for "no further scheduled time" (a cron expression whose
// last matching date has passed).
var never = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
