package scheduler

import (
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// stepView is one instance's step records as a round sees them, by
// position in the DAG's definition order. A round visits every step of
// every instance it plans, so at a thousand steps hashing each id into
// fresh maps, several times over, was most of a round's cost.
type stepView struct {
	dag   *workflow.DAG
	steps []*statepb.Step // the record at each position; nil if none
	// cur is each step's status as this round leaves it ("" without a
	// record): later steps in definition order see the round's decisions.
	cur []string
}

// newStepView places an instance's records by position; a record of a step
// the DAG does not have (none is ever written) is left out.
//
// The store lists records by step id, so they are matched to positions by
// walking the DAG's positions in the same order (a string comparison per
// record, where a map lookup hashed every id of a long chain each round); a
// record the walk does not meet, in a list in another order, is looked up.
func newStepView(dag *workflow.DAG, list []*statepb.Step) *stepView {
	v := &stepView{dag: dag, steps: make([]*statepb.Step, len(dag.Order)), cur: make([]string, len(dag.Order))}
	ids, pos := dag.ByID()
	next := 0
	for _, st := range list {
		i, ok := -1, false
		for next < len(ids) {
			if id := ids[next]; id == st.StepId {
				i, ok = pos[next], true
				next++
				break
			} else if id > st.StepId {
				break
			}
			next++
		}
		if !ok {
			i, ok = dag.Index(st.StepId)
		}
		if ok {
			v.steps[i] = st
			v.cur[i] = st.Status
		}
	}
	return v
}

// step returns the record of the step with the given id, or nil; a nil
// view has none.
func (v *stepView) step(id string) *statepb.Step {
	if v == nil {
		return nil
	}
	if i, ok := v.dag.Index(id); ok {
		return v.steps[i]
	}
	return nil
}

// status returns a step's status as the round leaves it, "" if it has no
// record.
func (v *stepView) status(id string) string {
	if i, ok := v.dag.Index(id); ok {
		return v.cur[i]
	}
	return ""
}
