package scheduler

import (
	"github.com/batonhq/baton/fsm"
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
func newStepView(dag *workflow.DAG, list []*statepb.Step) *stepView {
	v := &stepView{dag: dag, steps: make([]*statepb.Step, len(dag.Order)), cur: make([]string, len(dag.Order))}
	placeSteps(dag, list, v.steps)
	for i, st := range v.steps {
		if st != nil {
			v.cur[i] = st.Status
		}
	}
	return v
}

// placeSteps puts each record of list at its step's position in byPos.
//
// The store lists records by step id, so they are matched to positions by
// walking the DAG's positions in the same order (a string comparison per
// record, where a map lookup hashed every id of a long chain each round); a
// record the walk does not meet, in a list in another order, is looked up.
func placeSteps(dag *workflow.DAG, list []*statepb.Step, byPos []*statepb.Step) {
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
			byPos[i] = st
		}
	}
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

// StepViews keeps each planned instance's step records by position from
// one of a leader's rounds to the next, so that a round reads only the
// records entries wrote since (fsm.State.StepsWrittenAfter) rather than all
// of them: the round that places each step of a 5,000-step chain read and
// placed 5,000 records, and grew with the chain. One planning loop owns it;
// it is not safe for concurrent rounds.
//
// What it holds for an instance, as of index asOf, is every record as the
// committed log left it up to asOf, except at the positions in spec: there
// the round read a speculation's record (written on top of the committed
// state, ModifyIndex above asOf), which may never commit, so the next
// round reads those positions again. The store deletes steps only with
// their instance, and an instance deleted and started again under the same
// id (its workflow deleted and pushed again) has another create time.
//
// It keeps instances the store tracks (fsm.TrackWritesFrom steps or more);
// smaller ones, a start's one step or a foreach iteration's few, are read
// whole each round, which costs less. So is an instance whose records are
// not tracked (created by an older build).
type StepViews struct {
	replaced <-chan struct{}
	round    uint64
	m        map[fsm.InstanceKey]*instanceSteps
}

type instanceSteps struct {
	dag     *workflow.DAG
	created int64 // the instance's create time, in ns
	asOf    uint64
	steps   []*statepb.Step
	spec    []int
	// status is each record's status, and cur the round's copy of it: a
	// round starts from a copy of a slice rather than a visit to every
	// record, which at thousands of steps is a cache miss each.
	status []string
	cur    []string
	round  uint64
}

// set places st at position i.
func (e *instanceSteps) set(i int, st *statepb.Step) {
	e.steps[i] = st
	e.status[i] = ""
	if st != nil {
		e.status[i] = st.Status
	}
}

// NewStepViews returns an empty StepViews.
func NewStepViews() *StepViews { return &StepViews{m: map[fsm.InstanceKey]*instanceSteps{}} }

// keeps reports whether c keeps the steps of instances of dag; a nil
// StepViews keeps none.
func (c *StepViews) keeps(dag *workflow.DAG) bool {
	return c != nil && len(dag.Order) >= fsm.TrackWritesFrom
}

// begin starts a round on state s.
func (c *StepViews) begin(s *fsm.State) {
	if c.replaced != s.Replaced() {
		// A restore replaced the store: nothing read before holds.
		clear(c.m)
		c.replaced = s.Replaced()
	}
	c.round++
}

// end forgets, every sweepEvery rounds, the instances the round did not
// plan or keep: ended, deleted, or waiting to be admitted. They are read
// whole if planned again. Between sweeps they only take memory: a view
// planned again catches up on the records written since it was read, and
// a visit to every view each round grew with the instances a round skips.
func (c *StepViews) end() {
	if !c.sweeping() {
		return
	}
	for k, e := range c.m {
		if e.round != c.round {
			delete(c.m, k)
		}
	}
}

// sweeping reports whether this round's end forgets the instances it did
// not plan or keep.
func (c *StepViews) sweeping() bool {
	return c != nil && c.round%sweepEvery == 0
}

// kept returns the records kept for instance k, if any.
func (c *StepViews) kept(k fsm.InstanceKey) *instanceSteps {
	if c == nil {
		return nil
	}
	return c.m[k]
}

// keep keeps e, an instance's records, through this round although the
// round does not read them: it skipped the instance (QuietInstances). One
// that a later read replaced is no longer kept, and changes nothing.
func (c *StepViews) keep(e *instanceSteps) {
	if c != nil && e != nil {
		e.round = c.round
	}
}

// view returns inst's steps on s by position. The view shares its slices
// with the cache: it is valid until the next view of the same instance.
func (c *StepViews) view(s *fsm.State, inst *statepb.Instance, dag *workflow.DAG) *stepView {
	k := fsm.KeyOfInstance(inst)
	created := inst.GetCreateTime().AsTime().UnixNano()
	applied := s.Applied()
	e := c.m[k]
	if e == nil || e.dag != dag || e.created != created || applied < e.asOf {
		n := len(dag.Order)
		e = &instanceSteps{dag: dag, created: created, steps: make([]*statepb.Step, n), status: make([]string, n), cur: make([]string, n)}
		c.m[k] = e
		placeSteps(dag, s.Steps(nil, inst.WorkflowId, inst.InstanceId), e.steps)
		untracked := false
		for i, st := range e.steps {
			if st != nil {
				e.status[i] = st.Status
				untracked = untracked || st.ModifyIndex == 0
				if st.ModifyIndex > applied {
					e.spec = append(e.spec, i)
				}
			}
		}
		if untracked {
			// Its writes are not listed: read it whole every round.
			delete(c.m, k)
			copy(e.cur, e.status)
			return &stepView{dag: dag, steps: e.steps, cur: e.cur}
		}
	} else {
		spec := e.spec
		e.spec = nil
		for _, i := range spec {
			st := s.Step(nil, inst.WorkflowId, inst.InstanceId, dag.Order[i])
			e.set(i, st)
			if st != nil && st.ModifyIndex > applied {
				e.spec = append(e.spec, i)
			}
		}
		for _, st := range s.StepsWrittenAfter(inst.WorkflowId, inst.InstanceId, e.asOf) {
			i, ok := dag.Index(st.StepId)
			if !ok {
				continue
			}
			if st.ModifyIndex > applied && e.steps[i] != st {
				e.spec = append(e.spec, i)
			}
			e.set(i, st)
		}
	}
	e.asOf, e.round = applied, c.round
	copy(e.cur, e.status)
	return &stepView{dag: dag, steps: e.steps, cur: e.cur}
}
