package scheduler

import (
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// Retention says how much finished history to keep, so that the state (and
// with it snapshots and restarts) stays bounded however long a cluster runs.
type Retention struct {
	// KeepPerWorkflow keeps this many newest finished instances of each
	// workflow; 0 keeps all.
	KeepPerWorkflow int
	// MaxAge deletes finished instances that ended longer ago; 0 keeps all.
	MaxAge time.Duration
}

// DefaultRetention keeps the newest 1,000 finished instances per workflow.
var DefaultRetention = Retention{KeepPerWorkflow: 1000}

// Prune returns the deletions the retention policy asks for, at most limit of
// them. Unfinished instances are never chosen; the FSM checks again.
func Prune(st *fsm.State, now time.Time, r Retention, limit int) []*statepb.PlanAction {
	if r.KeepPerWorkflow <= 0 && r.MaxAge <= 0 {
		return nil
	}
	var out []*statepb.PlanAction
	for _, wf := range st.Workflows(nil) {
		finished := 0
		// Newest first, so the ones kept by count are the most recent.
		for _, inst := range st.Instances(nil, wf.WorkflowId, 0) {
			if !fsm.InstanceTerminal(inst.Status) {
				continue
			}
			if inst.Parent != nil && !inst.Parent.Detached {
				continue // goes with the instance at the top of its tree
			}
			finished++
			tooMany := r.KeepPerWorkflow > 0 && finished > r.KeepPerWorkflow
			tooOld := r.MaxAge > 0 && inst.EndTime != nil && now.Sub(inst.EndTime.AsTime()) > r.MaxAge
			if !tooMany && !tooOld {
				continue
			}
			out = append(out, &statepb.PlanAction{Action: &statepb.PlanAction_DeleteInstance{
				DeleteInstance: &statepb.DeleteInstance{WorkflowId: inst.WorkflowId, InstanceId: inst.InstanceId},
			}})
			if len(out) >= limit {
				return out
			}
		}
	}
	return out
}
