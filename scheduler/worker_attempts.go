package scheduler

import (
	"fmt"
	"slices"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
)

// nodeAttempts is a worker's copy of the attempts its replica places on its
// node. After a first read of every step on the node it reads only the
// instances the write feed (fsm.State.InstancesWritten) lists as written
// since, so a change of the state costs the worker what the change wrote:
// reading every attempt on the node at every change was a fixed cost per
// entry that grew with the attempts waiting there (hour-long steps, say).
type nodeAttempts struct {
	node string
	mine func(*statepb.Attempt) bool

	replaced <-chan struct{}
	pos      fsm.FeedPos
	read     bool                         // want holds a read of the whole node
	want     map[string]assigned          // attempt id -> the attempt
	of       map[fsm.InstanceKey][]string // instance -> its attempt ids in want
}

// update brings the copy up to the view st, and returns the attempt ids
// that left it and the attempts that joined it.
func (n *nodeAttempts) update(st *fsm.State) (gone []string, joined []assigned) {
	if st.Replaced() != n.replaced {
		// A restore replaced the store: positions in the feed taken
		// before say nothing about it.
		n.replaced, n.pos, n.read = st.Replaced(), fsm.FeedPos{}, false
	}
	keys, next, ok := st.InstancesWritten(n.pos)
	n.pos = next
	if !ok || !n.read {
		return n.readAll(st)
	}
	var seen map[fsm.InstanceKey]bool
	if len(keys) > 1 {
		seen = make(map[fsm.InstanceKey]bool, len(keys))
	}
	for _, k := range keys {
		if seen != nil {
			if seen[k] {
				continue
			}
			seen[k] = true
		}
		before := n.of[k]
		for _, id := range before {
			delete(n.want, id)
		}
		delete(n.of, k)
		for _, as := range n.add(st.InstanceStepsOnNode(n.node, k)) {
			if !slices.Contains(before, as.attempt.AttemptId) {
				joined = append(joined, as)
			}
		}
		for _, id := range before {
			if _, ok := n.want[id]; !ok {
				gone = append(gone, id)
			}
		}
	}
	return gone, joined
}

// readAll reads every step on the node afresh.
func (n *nodeAttempts) readAll(st *fsm.State) (gone []string, joined []assigned) {
	old := n.want
	n.want, n.of, n.read = map[string]assigned{}, map[fsm.InstanceKey][]string{}, true
	for _, as := range n.add(st.StepsOnNode(nil, n.node)) {
		if _, ok := old[as.attempt.AttemptId]; !ok {
			joined = append(joined, as)
		}
	}
	for id := range old {
		if _, ok := n.want[id]; !ok {
			gone = append(gone, id)
		}
	}
	return gone, joined
}

// add puts the current attempts of steps that this node should run into
// the copy, and returns them.
func (n *nodeAttempts) add(steps []*statepb.Step) []assigned {
	var out []assigned
	for _, st := range steps {
		if st.Status != fsm.StepRunning || len(st.Attempts) == 0 {
			continue
		}
		a := st.Attempts[len(st.Attempts)-1]
		if !n.mine(a) {
			continue
		}
		as := assigned{step: st, attempt: a}
		n.want[a.AttemptId] = as
		k := fsm.InstanceKey{WorkflowID: st.WorkflowId, InstanceID: st.InstanceId}
		n.of[k] = append(n.of[k], a.AttemptId)
		out = append(out, as)
	}
	return out
}

// verify panics unless the copy holds exactly the attempts a read of the
// whole node finds in st: a check for tests (Worker.Verify).
func (n *nodeAttempts) verify(st *fsm.State) {
	full := &nodeAttempts{node: n.node, mine: n.mine}
	full.readAll(st)
	for id := range full.want {
		if _, ok := n.want[id]; !ok {
			panic(fmt.Sprintf("worker on %s: attempt %s runs here at index %d, but the kept copy lacks it", n.node, id, st.Applied()))
		}
	}
	for id := range n.want {
		if _, ok := full.want[id]; !ok {
			panic(fmt.Sprintf("worker on %s: the kept copy has attempt %s, which does not run here at index %d", n.node, id, st.Applied()))
		}
	}
	kept := 0
	for k, ids := range n.of {
		kept += len(ids)
		for _, id := range ids {
			if as, ok := n.want[id]; !ok || as.step.WorkflowId != k.WorkflowID || as.step.InstanceId != k.InstanceID {
				panic(fmt.Sprintf("worker on %s: attempt %s kept under instance %s/%d", n.node, id, k.WorkflowID, k.InstanceID))
			}
		}
	}
	if kept != len(n.want) {
		panic(fmt.Sprintf("worker on %s: %d attempts kept by instance, %d in all", n.node, kept, len(n.want)))
	}
}
