package fsm

import (
	"fmt"
	"strings"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
)

// RejectCode classifies why a command changed nothing.
type RejectCode int

// Rejection codes; the RPC layer maps them to Connect codes.
const (
	RejectInvalid RejectCode = iota + 1
	RejectNotFound
	RejectFailedPrecondition
)

// Rejection is the Apply result of a command that changed nothing.
type Rejection struct {
	Code RejectCode
	Msg  string
}

func (r *Rejection) Error() string { return r.Msg }

func notFound(format string, args ...any) *Rejection {
	return &Rejection{Code: RejectNotFound, Msg: fmt.Sprintf(format, args...)}
}

// MissingVersion says why a workflow has no such version: it was never
// pushed, it went when an earlier workflow of the id was deleted (d, nil
// when none was), or retention deleted it (versions are numbered 1, 2, 3,
// … and nothing else deletes one).
func MissingVersion(d *statepb.DeletedWorkflow, workflowID string, version, latest int64) string {
	if d != nil && version >= 1 && version <= d.LatestVersion {
		return fmt.Sprintf("workflow %q no longer has version %d: it went with the workflow of that id deleted before (%s); the latest is %d",
			workflowID, version, DeletedWhen(d), latest)
	}
	if version >= 1 && version < latest {
		return fmt.Sprintf("workflow %q no longer has version %d: retention deleted it (latest is %d)", workflowID, version, latest)
	}
	return fmt.Sprintf("workflow %q has no version %d (latest is %d)", workflowID, version, latest)
}

func precondition(format string, args ...any) *Rejection {
	return &Rejection{Code: RejectFailedPrecondition, Msg: fmt.Sprintf(format, args...)}
}

// PushResult is the Apply result of PushWorkflow.
type PushResult struct {
	Workflow *statepb.Workflow
	Version  int64
	Created  bool
}

// ActivateResult is the Apply result of ActivateWorkflow.
type ActivateResult struct {
	Workflow *statepb.Workflow
	// The request id had already been applied: nothing was done.
	Repeated bool
}

// StartResult is the Apply result of StartInstance.
type StartResult struct {
	Instance *statepb.Instance
	Created  bool
}

// StopResult is the Apply result of StopInstance. Repeated is set when the
// request id had already stopped the instance, and nothing was done.
type StopResult struct {
	Instance *statepb.Instance
	Repeated bool
}

// ReportResultOutcome is the Apply result of ReportResult.
type ReportResultOutcome struct {
	Accepted bool
	Reason   string
}

// PlanResult is the Apply result of ApplyPlan: the outcome of each of its
// results (a *ReportResultOutcome or a *Rejection), and how many actions
// applied. Dropped says the actions were not tried because a result they
// were planned on was not accepted.
type PlanResult struct {
	Results          []any
	Applied, Skipped int
	Dropped          bool
}

// wrote reports whether the entry changed the state.
func (r *PlanResult) wrote() bool {
	if r.Applied > 0 {
		return true
	}
	for _, o := range r.Results {
		if out, ok := o.(*ReportResultOutcome); ok && out.Accepted {
			return true
		}
	}
	return false
}

// applier applies one command inside one write transaction.
type applier struct {
	txn   *memdb.Txn
	index uint64
	now   *timestamppb.Timestamp
	// triggerInputs is set by a write to a table triggers are planned from.
	triggerInputs bool
	// ownInstances and ownSteps hold, by id, the instances and steps this
	// applier stored: new copies that no snapshot or reader can see until
	// it commits, which may change in place where no index reads what
	// changes.
	ownInstances map[InstanceKey]*statepb.Instance
	ownSteps     map[StepKey]*statepb.Step
	// unstored holds owned instance copies not written to the store yet,
	// in the order they were made: they differ from the stored record only
	// in LastEventSeq, which no index reads, so the write waits for the
	// instance's next write in the entry or the entry's end (storeDeferred).
	// A step's result and its instance's end in one entry then write the
	// instance once, not twice.
	unstored     map[InstanceKey]*statepb.Instance
	unstoredKeys []InstanceKey
	// shared is set when the transaction's records are read while it is
	// written (the leader plans on a speculation between its writes), so
	// that none is changed in place under a reader.
	shared bool
	// noTimeline leaves the instances' timelines unwritten: a speculation
	// sets it, since planning never reads them, and the timeline rows with
	// the instance copies their numbers took were a third of its cost.
	noTimeline bool
	// db, when set, lets a long command commit its transaction in parts
	// (split); writes counts the writes since the last commit, and
	// committed says whether a part was committed.
	db        *memdb.MemDB
	writes    int
	committed bool
	// touched lists the instances whose records or step records this
	// applier wrote or deleted, for the write feed (writes.go).
	touched []InstanceKey
}

// splitWrites bounds the writes of one store transaction. Past 8,192
// changed tree nodes in one index, go-memdb no longer tracks which watch
// channels a commit must close and instead compares the old and new trees
// whole, so that a commit of a large entry cost as much as a walk of the
// state. (A variable so that tests can commit after every write.)
var splitWrites = 1024

// split commits the transaction and goes on in a new one once it has grown
// past splitWrites. The parts are not seen apart: every reader takes the
// FSM's lock, which Apply holds until the last part is committed, so the
// records this applier wrote stay its own to change in place until then.
// Only commands that never rely on their transaction being aborted
// (sharesTxn) are given a db to split with. Copies waiting to be stored
// (keepUnstored) wait across parts: only the last part must hold them.
func (a *applier) split() {
	if a.db == nil || a.writes < splitWrites {
		return
	}
	a.txn.Commit()
	a.txn = a.db.Txn(true)
	a.writes = 0
	a.committed = true
}

// triggerTable reports whether planning triggers reads the table.
func triggerTable(table string) bool {
	switch table {
	case tableWorkflows, tableVersions, tableTriggers, tableSignals:
		return true
	}
	return false
}

// apply applies one command; every change it made is in the transaction
// when it returns.
func (a *applier) apply(m proto.Message) any {
	out := a.applyCommand(m)
	a.storeDeferred()
	return out
}

func (a *applier) applyCommand(m proto.Message) any {
	switch c := m.(type) {
	case *statepb.PushWorkflow:
		a.now = c.Now
		return a.pushWorkflow(c)
	case *statepb.ActivateWorkflow:
		a.now = c.Now
		return a.activateWorkflow(c)
	case *statepb.StartInstance:
		a.now = c.Now
		return a.startInstance(c)
	case *statepb.StopInstance:
		a.now = c.Now
		return a.stopInstance(c)
	case *statepb.ApplyPlan:
		a.now = c.Now
		return a.applyPlan(c)
	case *statepb.ReportResult:
		a.now = c.EndTime
		return a.reportResult(c)
	case *statepb.UnblockWorkflow:
		a.now = c.Now
		return a.unblockWorkflow(c)
	case *statepb.Action:
		a.now = c.Now
		return a.action(c)
	case *statepb.SendSignal:
		a.now = c.Now
		return &SignalResult{Signal: a.sendSignal(c)}
	case *statepb.WorkflowAction:
		a.now = c.Now
		return a.workflowAction(c)
	case *statepb.SetBreakpoint:
		a.now = c.Now
		return a.setBreakpoint(c)
	case *statepb.DeleteBreakpoint:
		a.now = c.Now
		return a.deleteBreakpoint(c)
	case *statepb.DeleteWorkflow:
		a.now = c.Now
		return a.deleteWorkflow(c)
	}
	return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("no apply for %T", m)}
}

func (a *applier) get(table string, args ...any) any {
	if table == tableInstances && len(a.unstored) > 0 && len(args) == 2 {
		wf, _ := args[0].(string)
		id, _ := args[1].(int64)
		if u := a.unstored[InstanceKey{WorkflowID: wf, InstanceID: id}]; u != nil {
			return u
		}
	}
	o, err := a.txn.First(table, "id", args...)
	if err != nil {
		return nil
	}
	return o
}

func (a *applier) put(table string, obj any) {
	a.triggerInputs = a.triggerInputs || triggerTable(table)
	switch o := obj.(type) {
	case *statepb.Instance:
		a.touch(InstanceKey{WorkflowID: o.WorkflowId, InstanceID: o.InstanceId})
	case *statepb.Step:
		a.touch(InstanceKey{WorkflowID: o.WorkflowId, InstanceID: o.InstanceId})
	}
	if !a.shared {
		switch o := obj.(type) {
		case *statepb.Instance:
			if a.ownInstances == nil {
				a.ownInstances = map[InstanceKey]*statepb.Instance{}
			}
			k := KeyOfInstance(o)
			if u := a.unstored[k]; u != nil {
				// o is u, or a copy of the stored record with other
				// changes: either way u's timeline number is the newest.
				o.LastEventSeq = u.LastEventSeq
				delete(a.unstored, k)
			}
			a.ownInstances[k] = o
		case *statepb.Step:
			if a.ownSteps == nil {
				a.ownSteps = map[StepKey]*statepb.Step{}
			}
			a.ownSteps[KeyOfStep(o)] = o
		}
	}
	if o, ok := obj.(*statepb.Step); ok && o.ModifyIndex != 0 {
		// A tracked step (see TrackWritesFrom) records each write. obj is
		// a copy this applier made, so stamping it changes nothing a
		// reader holds.
		o.ModifyIndex = a.index
	}
	a.writes++
	if err := a.txn.Insert(table, obj); err != nil {
		// Inserts only fail on schema mismatch, a bug in this package.
		panic(fmt.Sprintf("insert into %s: %v", table, err))
	}
}

// InstanceKey names an instance.
type InstanceKey struct {
	WorkflowID string
	InstanceID int64
}

// StepKey names a step of an instance.
type StepKey struct {
	WorkflowID string
	InstanceID int64
	StepID     string
}

// KeyOfInstance is the key of an instance record.
func KeyOfInstance(i *statepb.Instance) InstanceKey {
	return InstanceKey{WorkflowID: i.WorkflowId, InstanceID: i.InstanceId}
}

// KeyOfStep is the key of a step record.
func KeyOfStep(st *statepb.Step) StepKey {
	return StepKey{WorkflowID: st.WorkflowId, InstanceID: st.InstanceId, StepID: st.StepId}
}

// ownsInstance reports whether inst is this applier's own copy of the
// instance under its id: one it stored, or one it will (isUnstored).
func (a *applier) ownsInstance(inst *statepb.Instance) bool {
	return a.ownInstances[KeyOfInstance(inst)] == inst
}

// isUnstored reports whether inst is an own copy the store does not hold
// yet: the store still holds the record it was copied from.
func (a *applier) isUnstored(inst *statepb.Instance) bool {
	return a.unstored[KeyOfInstance(inst)] == inst
}

// keepUnstored makes inst, a fresh copy of a stored instance that differs
// from it only in LastEventSeq, this applier's own, to be stored later.
func (a *applier) keepUnstored(inst *statepb.Instance) {
	k := KeyOfInstance(inst)
	if a.ownInstances == nil {
		a.ownInstances = map[InstanceKey]*statepb.Instance{}
	}
	if a.unstored == nil {
		a.unstored = map[InstanceKey]*statepb.Instance{}
	}
	a.ownInstances[k] = inst
	a.unstored[k] = inst
	a.unstoredKeys = append(a.unstoredKeys, k)
}

// storeDeferred writes the own copies still unstored, in the order they
// were made.
func (a *applier) storeDeferred() {
	for _, k := range a.unstoredKeys {
		if u := a.unstored[k]; u != nil {
			a.put(tableInstances, u)
		}
	}
	a.unstoredKeys = a.unstoredKeys[:0]
}

// disown forgets a record this applier deleted.
func (a *applier) disown(obj any) {
	switch o := obj.(type) {
	case *statepb.Instance:
		a.touch(KeyOfInstance(o))
		delete(a.ownInstances, KeyOfInstance(o))
		delete(a.unstored, KeyOfInstance(o))
	case *statepb.Step:
		a.touch(InstanceKey{WorkflowID: o.WorkflowId, InstanceID: o.InstanceId})
		delete(a.ownSteps, KeyOfStep(o))
	}
}

// editStep returns st ready to change: st itself when this transaction
// inserted it and no secondary index holds it, so that a change can add
// index entries but leave none stale; otherwise a copy. Store the result
// with putStep. A foreach's step takes one write per entry this way, not
// one per iteration the entry starts or ends.
func (a *applier) editStep(st *statepb.Step) *statepb.Step {
	if a.ownsStep(st) && !stepIndexed(st) {
		return st
	}
	return mutableStep(st)
}

// putStep stores a step from editStep. One changed in place that still has
// no secondary index entry is stored already.
func (a *applier) putStep(st *statepb.Step) {
	if a.ownsStep(st) && !stepIndexed(st) {
		return
	}
	a.put(tableSteps, st)
}

// ownsStep reports whether st is the step stored under its id and this
// applier stored it.
func (a *applier) ownsStep(st *statepb.Step) bool {
	return a.ownSteps[KeyOfStep(st)] == st
}

// stepIndexed reports whether a secondary index (node, paused_at) holds st.
func stepIndexed(st *statepb.Step) bool {
	return st.Node != "" || (st.PausedAt != "" && st.Status == StepPaused)
}

func (a *applier) pushWorkflow(c *statepb.PushWorkflow) any {
	if c.WorkflowId == "" || c.Definition == "" {
		return &Rejection{Code: RejectInvalid, Msg: "push needs a workflow id and a definition"}
	}
	if c.RequestId != "" {
		if o, _ := a.txn.First(tableVersions, "request", c.RequestId); o != nil {
			v := o.(*statepb.WorkflowVersion)
			w, _ := a.get(tableWorkflows, v.WorkflowId).(*statepb.Workflow)
			return &PushResult{Workflow: w, Version: v.Version, Created: true}
		}
		if rej := DeletedPush(a.deleted(c.WorkflowId), c.RequestId); rej != nil {
			return rej
		}
	}
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	if w != nil {
		if latest, _ := a.get(tableVersions, c.WorkflowId, w.LatestVersion).(*statepb.WorkflowVersion); latest != nil && latest.Digest == c.Digest {
			return &PushResult{Workflow: w, Version: latest.Version, Created: false}
		}
		w = shallow(w)
	} else {
		w = &statepb.Workflow{WorkflowId: c.WorkflowId, CreateTime: c.Now}
		if d := a.deleted(c.WorkflowId); d != nil {
			// Pushed again after a deletion: numbering goes on, so no
			// version, instance or timeline number means two things.
			w.LatestVersion, w.LastInstanceId, w.LastEventSeq = d.LatestVersion, d.LastInstanceId, d.LastEventSeq
		}
	}
	w.LatestVersion++
	w.ActiveVersion = w.LatestVersion
	w.InactiveReason = ""
	w.UpdateTime = c.Now
	a.put(tableVersions, &statepb.WorkflowVersion{
		WorkflowId: c.WorkflowId, Version: w.LatestVersion, Definition: c.Definition,
		Digest: c.Digest, CreateTime: c.Now, RequestId: c.RequestId,
	})
	a.put(tableWorkflows, w)
	return &PushResult{Workflow: w, Version: w.LatestVersion, Created: true}
}

func (a *applier) activateWorkflow(c *statepb.ActivateWorkflow) any {
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	if w == nil {
		return notFound("workflow %q not found", c.WorkflowId)
	}
	target := ActivateTarget(c.Version)
	if repeated, rej := CheckWorkflowRepeat(a.actionByRequest(c.WorkflowId, 0, c.RequestId), "ACTIVATE", target); rej != nil {
		return rej
	} else if repeated {
		return &ActivateResult{Workflow: w, Repeated: true}
	}
	if v := a.get(tableVersions, c.WorkflowId, c.Version); v == nil {
		return notFound("%s", MissingVersion(a.deleted(c.WorkflowId), c.WorkflowId, c.Version, w.LatestVersion))
	}
	w = shallow(w)
	w.ActiveVersion = c.Version
	w.InactiveReason = ""
	w.UpdateTime = c.Now
	if c.Actor != "" {
		// An operator's activation is on the workflow's record; entries
		// written before activations were audited carry no actor.
		w = a.auditWorkflow(w, workflowAudit{action: "ACTIVATE", actor: c.Actor, target: target, requestID: c.RequestId,
			msg: strings.TrimSpace(fmt.Sprintf("version %d %s", c.Version, c.Reason))})
	} else {
		a.put(tableWorkflows, w)
	}
	return &ActivateResult{Workflow: w}
}

// ActivateTarget is what an activation is aimed at, on its event.
func ActivateTarget(version int64) string { return fmt.Sprintf("version %d", version) }

func (a *applier) startInstance(c *statepb.StartInstance) any {
	if c.RequestId != "" {
		if o, _ := a.txn.First(tableInstances, "request", c.RequestId); o != nil {
			return &StartResult{Instance: o.(*statepb.Instance), Created: false}
		}
		if rej := DeletedStart(a.deleted(c.WorkflowId), c.RequestId); rej != nil {
			return rej
		}
	}
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	if w == nil {
		return notFound("workflow %q not found", c.WorkflowId)
	}
	if v := a.get(tableVersions, c.WorkflowId, c.WorkflowVersion); v == nil {
		return notFound("%s", MissingVersion(a.deleted(c.WorkflowId), c.WorkflowId, c.WorkflowVersion, w.LatestVersion))
	}
	w = shallow(w)
	w.LastInstanceId++
	a.put(tableWorkflows, w)
	inst := &statepb.Instance{
		WorkflowId: c.WorkflowId, InstanceId: w.LastInstanceId, WorkflowVersion: c.WorkflowVersion,
		Status: InstanceCreated, RequestId: c.RequestId, Params: c.Params, CreateTime: c.Now,
		SignalInitiator: c.SignalInitiator,
	}
	a.put(tableInstances, inst)
	for _, st := range NewSteps(c.WorkflowId, inst.InstanceId, c.Steps, c.Now) {
		a.put(tableSteps, st)
	}
	msg := ""
	if si := c.SignalInitiator; si != nil {
		msg = "started by signal trigger " + si.TriggerId + " (" + describeSignals(si.Signals) + ")"
	}
	inst = a.event(c.WorkflowId, inst.InstanceId, "", 0, InstanceCreated, msg)
	return &StartResult{Instance: inst, Created: true}
}

func (a *applier) stopInstance(c *statepb.StopInstance) any {
	inst, _ := a.get(tableInstances, c.WorkflowId, c.InstanceId).(*statepb.Instance)
	if inst == nil {
		return notFound("workflow %q has no instance %d", c.WorkflowId, c.InstanceId)
	}
	if repeated, rej := CheckRepeat(a.actionByRequest(c.WorkflowId, c.InstanceId, c.RequestId), "", "STOP"); rej != nil {
		return rej
	} else if repeated {
		return &StopResult{Instance: inst, Repeated: true}
	}
	if InstanceTerminal(inst.Status) {
		return precondition("instance %s/%d is already %s; only CREATED or IN_PROGRESS instances can be stopped", c.WorkflowId, c.InstanceId, inst.Status)
	}
	reason := c.Reason
	if reason == "" {
		reason = "stopped by request"
	}
	a.audit(c.WorkflowId, c.InstanceId, "", "STOP", c.Actor, c.Reason, c.RequestId)
	inst = a.stop(c.WorkflowId, c.InstanceId, reason)
	return &StopResult{Instance: inst}
}

// stop ends an unfinished instance as STOPPED with its live steps, and
// through them its children.
func (a *applier) stop(workflowID string, instanceID int64, reason string) *statepb.Instance {
	for _, st := range a.steps(workflowID, instanceID) {
		if st.Status == StepRunning || StepRetryable(st.Status) || st.Status == StepCreated || st.Status == StepWaitingForPermits || st.Status == StepWaitingForSignals || st.Status == StepPaused {
			a.setStep(st, StepStopped, reason, nil)
		}
	}
	return a.setInstance(workflowID, instanceID, InstanceStopped, reason)
}

// planStop is a stop the scheduler decided (a run strategy superseding an
// instance); it is skipped when the instance has ended meanwhile.
func (a *applier) planStop(x *statepb.StopInstance) bool {
	inst, _ := a.get(tableInstances, x.WorkflowId, x.InstanceId).(*statepb.Instance)
	if inst == nil || InstanceTerminal(inst.Status) {
		return false
	}
	a.stop(x.WorkflowId, x.InstanceId, x.Reason)
	return true
}

// UnblockResult is the Apply result of UnblockWorkflow.
type UnblockResult struct {
	Workflow *statepb.Workflow
	Repeated bool
}

func (a *applier) unblockWorkflow(c *statepb.UnblockWorkflow) any {
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	if w == nil {
		return notFound("workflow %q not found", c.WorkflowId)
	}
	// A late copy must not unblock instances that failed after the first
	// one was answered.
	if repeated, rej := CheckWorkflowRepeat(a.actionByRequest(c.WorkflowId, 0, c.RequestId), "UNBLOCK", ""); rej != nil {
		return rej
	} else if repeated {
		return &UnblockResult{Workflow: w, Repeated: true}
	}
	w = shallow(w)
	w.UnblockedThrough = w.LastInstanceId
	w.UpdateTime = c.Now
	if c.Actor != "" {
		// Entries written before unblocks were audited carry no actor.
		w = a.auditWorkflow(w, workflowAudit{action: "UNBLOCK", actor: c.Actor, requestID: c.RequestId,
			msg: strings.TrimSpace(fmt.Sprintf("failed instances up to %d %s", w.UnblockedThrough, c.Reason))})
	} else {
		a.put(tableWorkflows, w)
	}
	return &UnblockResult{Workflow: w}
}

// children returns the child instances a step started.
func (a *applier) children(st *statepb.Step) []*statepb.Instance {
	return children(st, func(index string, args ...any) memdb.ResultIterator {
		it, err := a.txn.Get(tableInstances, index, args...)
		if err != nil {
			// Only an unknown index fails, a bug in this package.
			panic(fmt.Sprintf("list instances by %s: %v", index, err))
		}
		return it
	})
}

func (a *applier) stopChildren(st *statepb.Step, reason string) {
	for _, child := range a.children(st) {
		if !InstanceTerminal(child.Status) && !child.Parent.Detached {
			a.stop(child.WorkflowId, child.InstanceId, reason)
		}
	}
}

// LoopWithEnds returns loop as the ends of its children would leave it
// (childEnded): ended counts them by their final status. loop is not
// changed; the copy shares its params.
func LoopWithEnds(loop *statepb.Loop, ended map[string]int64) *statepb.Loop {
	out := shallow(loop)
	out.Counts = make(map[string]int64, len(loop.Counts)+len(ended))
	for k, n := range loop.Counts {
		out.Counts[k] = n
	}
	for k, n := range ended {
		out.Finished += n
		out.Counts[k] += n
	}
	return out
}

// childEnded counts a finished child on the loop step that started it, so
// the scheduler reads a loop's progress from one row instead of scanning
// every iteration.
func (a *applier) childEnded(p *statepb.ParentRef, status string) {
	st, _ := a.get(tableSteps, p.WorkflowId, p.InstanceId, p.StepId).(*statepb.Step)
	if st == nil || st.Loop == nil || st.Status != StepRunning {
		return
	}
	st = a.editStep(st)
	st.Loop.Finished++
	if st.Loop.Counts == nil {
		st.Loop.Counts = map[string]int64{}
	}
	st.Loop.Counts[status]++
	a.putStep(st)
}

// startChild starts a child instance of a running loop step. An iteration
// must be the step's next one, and a subworkflow is started once, so a plan
// made from stale state starts nothing twice.
func (a *applier) startChild(x *statepb.StartChild) bool {
	parent, _ := a.get(tableInstances, x.ParentWorkflowId, x.ParentInstanceId).(*statepb.Instance)
	if parent == nil || parent.Status != InstanceInProgress {
		return false
	}
	st, _ := a.get(tableSteps, x.ParentWorkflowId, x.ParentInstanceId, x.ParentStepId).(*statepb.Step)
	if st == nil || st.Status != StepRunning || st.Loop == nil || x.WorkflowId == "" {
		return false
	}
	if a.get(tableVersions, definitionWorkflow(x), x.WorkflowVersion) == nil {
		return false
	}
	id := x.InstanceId
	if id == 0 {
		if st.Loop.Launched != 0 {
			return false
		}
		w, _ := a.get(tableWorkflows, x.WorkflowId).(*statepb.Workflow)
		if w == nil {
			return false
		}
		w = shallow(w)
		w.LastInstanceId++
		a.put(tableWorkflows, w)
		id = w.LastInstanceId
	} else if id != st.Loop.Launched+1 || a.get(tableInstances, x.WorkflowId, id) != nil {
		return false
	}
	a.put(tableInstances, ChildInstance(parent, x, id, a.now))
	for _, st := range NewSteps(x.WorkflowId, id, x.Steps, a.now) {
		a.put(tableSteps, st)
	}
	a.event(x.WorkflowId, id, "", 0, InstanceCreated, fmt.Sprintf("started by step %s of %s/%d", st.StepId, parent.WorkflowId, parent.InstanceId))
	if x.Run && x.DefinitionWorkflowId != "" {
		a.setInstance(x.WorkflowId, id, InstanceInProgress, "")
	}

	st = a.editStep(st)
	st.Loop.Launched++
	st.Loop.ChildWorkflowId = x.WorkflowId
	if x.InstanceId == 0 {
		st.Loop.ChildInstanceId = id
	}
	if x.LoopValues != nil {
		st.Loop.Values = x.LoopValues
	}
	a.putStep(st)
	return true
}

// ChildInstance is the record startChild creates for child id of parent,
// CREATED (x.Run sets it going after).
func ChildInstance(parent *statepb.Instance, x *statepb.StartChild, id int64, now *timestamppb.Timestamp) *statepb.Instance {
	ref := &statepb.ParentRef{
		WorkflowId: parent.WorkflowId, InstanceId: parent.InstanceId, StepId: x.ParentStepId,
		RootWorkflowId: parent.WorkflowId, RootInstanceId: parent.InstanceId, Detached: x.Detached,
	}
	if parent.Parent != nil {
		ref.RootWorkflowId, ref.RootInstanceId = parent.Parent.RootWorkflowId, parent.Parent.RootInstanceId
	}
	return &statepb.Instance{
		WorkflowId: x.WorkflowId, InstanceId: id, WorkflowVersion: x.WorkflowVersion,
		Status: InstanceCreated, Params: x.Params, CreateTime: now, Parent: ref,
		DefinitionWorkflowId: x.DefinitionWorkflowId, DefinitionPath: x.DefinitionPath,
		Depth: parent.Depth + 1,
	}
}

// NewSteps are the step records a new instance starts with: one
// NOT_CREATED step per seed.
func NewSteps(workflowID string, instanceID int64, seeds []*statepb.StepSeed, now *timestamppb.Timestamp) []*statepb.Step {
	out := make([]*statepb.Step, len(seeds))
	var tracked uint64
	if len(seeds) >= TrackWritesFrom {
		tracked = 1 // any non-zero index: the write stamps its own
	}
	for i, s := range seeds {
		out[i] = &statepb.Step{
			WorkflowId: workflowID, InstanceId: instanceID, StepId: s.StepId,
			Type: s.Type, Status: StepNotCreated, CreateTime: now, ModifyIndex: tracked,
		}
	}
	return out
}

// TrackWritesFrom is the number of steps from which an instance's step
// records are tracked: each carries the index of the entry that last wrote
// it (Step.ModifyIndex) and is listed by StepsWrittenAfter, so the leader
// reads a long instance's changes rather than all of it each round. Smaller
// instances cost less to read whole than the extra index costs every
// replica on each write; their records carry 0. A record keeps being
// tracked, or not, as it was created. (A variable so that tests can track
// every instance.)
var TrackWritesFrom = 32

func definitionWorkflow(x *statepb.StartChild) string {
	if x.DefinitionWorkflowId != "" {
		return x.DefinitionWorkflowId
	}
	return x.WorkflowId
}

// loopAttemptStatus is the attempt status that matches how a loop step ended.
func loopAttemptStatus(stepStatus string) string {
	switch stepStatus {
	case StepSucceeded, StepCompletedWithError:
		return AttemptSucceeded
	case StepTimedOut, StepTimeoutFailed:
		return AttemptTimedOut
	case StepStopped:
		return AttemptStopped
	}
	return AttemptUserFailed
}

func (a *applier) steps(workflowID string, instanceID int64) []*statepb.Step {
	var out []*statepb.Step
	it, err := a.txn.Get(tableSteps, "id_prefix", workflowID, instanceID)
	if err != nil {
		return nil
	}
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Step))
	}
	return out
}

// setStep moves a step to status and records the event. Leaving RUNNING ends
// the current attempt, which fences any result its node still sends.
func (a *applier) setStep(st *statepb.Step, status, reason string, retryAt *timestamppb.Timestamp) *statepb.Step {
	st = a.editStep(st)
	changed := st.Status != status
	if st.Status == StepRunning && status != StepRunning && len(st.Attempts) > 0 {
		cur := st.Attempts[len(st.Attempts)-1]
		if cur.Status == AttemptRunning {
			// The leader fails an attempt whose node died as a platform
			// failure, so it counts against the platform retry limit.
			cur.Status = AttemptStopped
			switch {
			case status == StepPlatformFailed:
				cur.Status = AttemptPlatformFailed
				cur.Lost = true
			case st.Loop != nil:
				// A loop step's attempt ends the way its children rolled up.
				cur.Status = loopAttemptStatus(status)
			}
			cur.EndTime = a.now
			if cur.Error == "" {
				cur.Error = reason
			}
		}
		st.Node = ""
	}
	leftRunning := st.Status == StepRunning && status != StepRunning
	st.Status = status
	st.Reason = reason
	st.RetryAt = retryAt
	if StepTerminal(status) {
		st.EndTime = a.now
	}
	a.putStep(st)
	if leftRunning && st.Loop != nil && status != StepSucceeded {
		// A loop step that stops or fails takes its running children
		// with it; async subworkflows run on.
		a.stopChildren(st, "parent step "+st.StepId+" is "+status)
	}
	if changed {
		var attempt int64
		if n := len(st.Attempts); n > 0 {
			attempt = st.Attempts[n-1].AttemptNumber
		}
		a.event(st.WorkflowId, st.InstanceId, st.StepId, attempt, status, reason)
	}
	return st
}

func (a *applier) setInstance(workflowID string, instanceID int64, status, reason string) *statepb.Instance {
	inst := a.get(tableInstances, workflowID, instanceID).(*statepb.Instance)
	// The "active" index reads whether the status is terminal, and nothing
	// else here changes what an index reads. An unstored copy changes in
	// place too (the store holds the record it came from), but is stored
	// now, so that it never differs from the store by more than its
	// timeline number.
	unstored := a.isUnstored(inst)
	inPlace := !unstored && a.ownsInstance(inst) && InstanceTerminal(inst.Status) == InstanceTerminal(status)
	if !inPlace && !unstored {
		inst = shallow(inst)
	}
	inst.Status = status
	inst.Reason = reason
	if status == InstanceInProgress && inst.StartTime == nil {
		inst.StartTime = a.now
	}
	if InstanceTerminal(status) {
		inst.EndTime = a.now
	}
	if !inPlace {
		a.put(tableInstances, inst)
	}
	if InstanceTerminal(status) && inst.Parent != nil && !inst.Parent.Detached {
		a.childEnded(inst.Parent, status)
	}
	return a.event(workflowID, instanceID, "", 0, status, reason)
}

// nextEventSeq takes the instance's next timeline number and returns the
// instance. The number is in no index, so this applier's own copy takes it
// in place, without a second copy and insert: a status change and its
// event, or a start and its first event, cost one write of the instance and
// its indexes, not two. Another instance is copied and its write deferred
// (keepUnstored), so that a step's result and the instance's end in the
// same entry write it once.
func (a *applier) nextEventSeq(workflowID string, instanceID int64) *statepb.Instance {
	inst := a.get(tableInstances, workflowID, instanceID).(*statepb.Instance)
	if a.ownsInstance(inst) {
		inst.LastEventSeq++
		return inst
	}
	inst = shallow(inst)
	inst.LastEventSeq++
	if a.shared {
		// Read between writes: no copy may wait to be stored.
		a.put(tableInstances, inst)
	} else {
		a.keepUnstored(inst)
	}
	return inst
}

// event appends a timeline entry and returns the updated instance.
func (a *applier) event(workflowID string, instanceID int64, stepID string, attempt int64, status, msg string) *statepb.Instance {
	if a.noTimeline {
		inst, _ := a.get(tableInstances, workflowID, instanceID).(*statepb.Instance)
		return inst
	}
	inst := a.nextEventSeq(workflowID, instanceID)
	a.put(tableEvents, &statepb.Event{
		WorkflowId: workflowID, InstanceId: instanceID, Seq: inst.LastEventSeq, Index: a.index,
		Time: a.now, StepId: stepID, AttemptNumber: attempt, Status: status, Message: msg,
	})
	return inst
}

func (a *applier) reportResult(c *statepb.ReportResult) any {
	st, _ := a.get(tableSteps, c.WorkflowId, c.InstanceId, c.StepId).(*statepb.Step)
	if st == nil {
		return notFound("no step %q in instance %s/%d", c.StepId, c.WorkflowId, c.InstanceId)
	}
	if why := StaleResult(st, c); why != "" {
		return &ReportResultOutcome{Accepted: false, Reason: why}
	}
	status, ok := stepStatusForOutcome(c.Outcome)
	if !ok || c.Outcome == AttemptRunning {
		return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("unknown attempt outcome %q", c.Outcome)}
	}
	st = mutableStep(st)
	cur := st.Attempts[len(st.Attempts)-1]
	cur.Status = c.Outcome
	cur.EndTime = c.EndTime
	cur.ExitCode = c.ExitCode
	cur.Error = c.Error
	cur.LogTail = c.LogTail
	cur.Outputs = c.Outputs
	cur.Executions = c.Executions
	if c.Outcome == AttemptSucceeded {
		st.Outputs = c.Outputs
	}
	st.Node = ""
	st.Status = status
	st.Reason = c.Error
	st.RetryAt = nil
	if StepTerminal(status) {
		st.EndTime = c.EndTime
	}
	a.put(tableSteps, st)
	a.event(st.WorkflowId, st.InstanceId, st.StepId, cur.AttemptNumber, status, c.Error)
	return &ReportResultOutcome{Accepted: true}
}

func (a *applier) applyPlan(c *statepb.ApplyPlan) any {
	res := &PlanResult{}
	for _, r := range c.Results {
		a.split()
		a.now = r.EndTime
		out := a.reportResult(r)
		res.Results = append(res.Results, out)
		if o, ok := out.(*ReportResultOutcome); !ok || !o.Accepted {
			res.Dropped = true
		}
	}
	a.now = c.Now
	if res.Dropped {
		// The actions assumed every result accepted; the next round plans
		// from what really happened.
		res.Skipped = len(c.Actions)
		return res
	}
	checked := len(c.Actions) - int(c.Unchecked)
	for i, act := range c.Actions {
		a.split()
		if a.planAction(act) {
			res.Applied++
			continue
		}
		res.Skipped++
		if c.Chained && i < checked {
			res.Dropped = true
			res.Skipped = len(c.Actions) - res.Applied
			break
		}
	}
	return res
}

// planAction applies one scheduling decision and reports whether it did
// (its expectations held).
func (a *applier) planAction(act *statepb.PlanAction) bool {
	switch x := act.Action.(type) {
	case *statepb.PlanAction_Assign:
		return a.assign(x.Assign)
	case *statepb.PlanAction_StepStatus:
		return a.stepStatus(x.StepStatus)
	case *statepb.PlanAction_InstanceStatus:
		return a.instanceStatus(x.InstanceStatus)
	case *statepb.PlanAction_DeleteInstance:
		return a.deleteInstance(x.DeleteInstance)
	case *statepb.PlanAction_StartChild:
		return a.startChild(x.StartChild)
	case *statepb.PlanAction_StopInstance:
		return a.planStop(x.StopInstance)
	case *statepb.PlanAction_SetTrigger:
		return a.setTrigger(x.SetTrigger)
	case *statepb.PlanAction_FireTrigger:
		return a.fireTrigger(x.FireTrigger)
	case *statepb.PlanAction_DeleteTrigger:
		return a.deleteTrigger(x.DeleteTrigger)
	case *statepb.PlanAction_EmitSignals:
		return a.emitSignals(x.EmitSignals)
	case *statepb.PlanAction_SetSignalTrigger:
		return a.setSignalTrigger(x.SetSignalTrigger)
	case *statepb.PlanAction_FireSignalTrigger:
		return a.fireSignalTrigger(x.FireSignalTrigger)
	case *statepb.PlanAction_DeleteSignals:
		return a.deleteSignals(x.DeleteSignals)
	case *statepb.PlanAction_DeleteVersion:
		return a.deleteVersion(x.DeleteVersion)
	case *statepb.PlanAction_DeleteWorkflowEvents:
		return a.deleteWorkflowEvents(x.DeleteWorkflowEvents)
	}
	return false
}

func (a *applier) assign(x *statepb.AssignAttempt) bool {
	inst, _ := a.get(tableInstances, x.WorkflowId, x.InstanceId).(*statepb.Instance)
	// Only a foreach, while or subworkflow step runs without a node.
	if inst == nil || inst.Status != InstanceInProgress || (x.Node == "") == (x.Loop == nil) {
		return false
	}
	st, _ := a.get(tableSteps, x.WorkflowId, x.InstanceId, x.StepId).(*statepb.Step)
	if st == nil || int64(len(st.Attempts)) != x.AttemptNumber-1 {
		return false
	}
	if st.Status != StepNotCreated && st.Status != StepCreated && st.Status != StepWaitingForPermits && st.Status != StepWaitingForSignals && !StepRetryable(st.Status) {
		return false
	}
	st = a.editStep(st)
	st.Attempts = append(st.Attempts, &statepb.Attempt{
		AttemptNumber:   x.AttemptNumber,
		AttemptId:       fmt.Sprintf("%s/%d/%s/%d", x.WorkflowId, x.InstanceId, x.StepId, x.AttemptNumber),
		Node:            x.Node,
		Generation:      a.index,
		Status:          AttemptRunning,
		StartTime:       a.now,
		Params:          x.Params,
		Deadline:        x.Deadline,
		NodeIncarnation: x.NodeIncarnation,
	})
	if st.StartTime == nil {
		st.StartTime = a.now
	}
	st.Status = StepRunning
	st.Node = x.Node
	st.Loop = x.Loop
	st.Reason = ""
	st.RetryAt = nil
	a.putStep(st)
	msg := "on node " + x.Node
	if x.Loop != nil {
		msg = ""
	}
	a.event(st.WorkflowId, st.InstanceId, st.StepId, x.AttemptNumber, StepRunning, msg)
	return true
}

func (a *applier) stepStatus(x *statepb.SetStepStatus) bool {
	st, _ := a.get(tableSteps, x.WorkflowId, x.InstanceId, x.StepId).(*statepb.Step)
	if st == nil || st.Status != x.FromStatus || StepTerminal(st.Status) {
		return false
	}
	if x.Breakpoint != "" {
		// A pause at a breakpoint holds only while the breakpoint exists,
		// and never for an attempt a resume let past.
		if x.Status != StepPaused || st.BreakpointPassed == int64(len(st.Attempts))+1 {
			return false
		}
		if o, _ := a.txn.First(tableBreakpoints, "key", x.Breakpoint); o == nil {
			return false
		}
		st = mutableStep(st)
		st.PausedAt = x.Breakpoint
	}
	if x.LoopValues != nil && st.Loop != nil {
		st = mutableStep(st)
		st.Loop.Values = x.LoopValues
	}
	a.setStep(st, x.Status, x.Reason, x.RetryAt)
	return true
}

func (a *applier) instanceStatus(x *statepb.SetInstanceStatus) bool {
	inst, _ := a.get(tableInstances, x.WorkflowId, x.InstanceId).(*statepb.Instance)
	if inst == nil || inst.Status != x.FromStatus || InstanceTerminal(inst.Status) {
		return false
	}
	a.setInstance(x.WorkflowId, x.InstanceId, x.Status, x.Reason)
	return true
}

// StaleResult says why a result is fenced: it must name the step's current,
// running attempt with that attempt's generation. It returns "" when the
// result may be applied.
func StaleResult(st *statepb.Step, r *statepb.ReportResult) string {
	if st.Status != StepRunning || len(st.Attempts) == 0 {
		return fmt.Sprintf("step is %s, not RUNNING", st.Status)
	}
	cur := st.Attempts[len(st.Attempts)-1]
	if cur.AttemptNumber != r.AttemptNumber || cur.Generation != r.Generation {
		return fmt.Sprintf("attempt %d generation %d is not current (attempt %d generation %d is)",
			r.AttemptNumber, r.Generation, cur.AttemptNumber, cur.Generation)
	}
	return ""
}

// deleteInstance removes a finished instance, its steps and its events.
// Unfinished instances are never deleted.
func (a *applier) deleteInstance(x *statepb.DeleteInstance) bool {
	inst, _ := a.get(tableInstances, x.WorkflowId, x.InstanceId).(*statepb.Instance)
	if inst == nil || !InstanceTerminal(inst.Status) {
		return false
	}
	a.deleteTree(inst)
	return true
}

// deleteTree removes a finished instance with its steps, timeline and the
// children its loop steps started (async subworkflows excepted: they are
// instances in their own right).
func (a *applier) deleteTree(inst *statepb.Instance) {
	for _, st := range a.steps(inst.WorkflowId, inst.InstanceId) {
		if st.Loop == nil {
			continue
		}
		for _, child := range a.children(st) {
			if !child.Parent.Detached {
				a.deleteTree(child)
			}
		}
	}
	a.deleteRows(tableEvents, inst.WorkflowId, inst.InstanceId)
	a.deleteRows(tableSteps, inst.WorkflowId, inst.InstanceId)
	a.deleteInstanceBreakpoints(inst)
	a.writes++
	a.disown(inst)
	if err := a.txn.Delete(tableInstances, inst); err != nil {
		panic(fmt.Sprintf("delete instance: %v", err))
	}
}

// deleteInstanceBreakpoints removes the breakpoints scoped to inst: they can
// never match again once it is gone, and left behind they would grow the
// state without bound under retention. The table is keyed by workflow, step,
// version, then instance, so this reads the workflow's breakpoints in key
// order (the same on every server) and picks inst's; a workflow has few.
func (a *applier) deleteInstanceBreakpoints(inst *statepb.Instance) {
	it, err := a.txn.Get(tableBreakpoints, "id_prefix", inst.WorkflowId)
	if err != nil {
		// Only an unknown index fails, the same on every server; the
		// instance itself is still deleted.
		return
	}
	// Collect first: deleting while iterating the same radix tree is not safe.
	var rows []*statepb.Breakpoint
	for o := it.Next(); o != nil; o = it.Next() {
		if b := o.(*statepb.Breakpoint); b.InstanceId == inst.InstanceId {
			rows = append(rows, b)
		}
	}
	for _, b := range rows {
		a.writes++
		// The row was just read in this transaction, so Delete finds it.
		_ = a.txn.Delete(tableBreakpoints, b)
	}
}

func (a *applier) setTrigger(x *statepb.SetTrigger) bool {
	if a.get(tableWorkflows, x.WorkflowId) == nil || x.Next == nil {
		return false
	}
	t, _ := a.get(tableTriggers, x.WorkflowId, x.TriggerId).(*statepb.Trigger)
	if t == nil {
		t = &statepb.Trigger{WorkflowId: x.WorkflowId, TriggerId: x.TriggerId}
	} else {
		t = shallow(t)
	}
	t.Version, t.Spec, t.Next = x.Version, x.Spec, x.Next
	t.Skipped += x.Skipped
	a.put(tableTriggers, t)
	return true
}

// fireTrigger creates the instance of one scheduled time and advances the
// trigger, both or neither: the scheduled time must be the trigger's next
// one, and the request id names the time, so a fire is never doubled.
func (a *applier) fireTrigger(x *statepb.FireTrigger) bool {
	t, _ := a.get(tableTriggers, x.WorkflowId, x.TriggerId).(*statepb.Trigger)
	if t == nil || t.Version != x.Version || x.Start == nil || x.Next == nil ||
		!t.Next.AsTime().Equal(x.Scheduled.AsTime()) {
		return false
	}
	// A plan made before the workflow was deactivated, or its time
	// triggers switched off, fires nothing.
	if w, _ := a.get(tableWorkflows, x.WorkflowId).(*statepb.Workflow); w == nil || w.ActiveVersion != x.Version || w.TimeTriggersDisabled {
		return false
	}
	start := shallow(x.Start)
	start.Now = a.now
	started, ok := a.startInstance(start).(*StartResult)
	if !ok {
		return false
	}
	if id := started.Instance.InstanceId; x.Run && started.Created && !a.unfinishedBesides(x.WorkflowId, id) {
		a.setInstance(x.WorkflowId, id, InstanceInProgress, "")
	}
	t = shallow(t)
	t.LastFired = x.Scheduled
	t.Next = x.Next
	t.Fires++
	a.put(tableTriggers, t)
	return true
}

// unfinishedBesides reports whether the workflow has an unfinished instance
// other than instanceID.
func (a *applier) unfinishedBesides(workflowID string, instanceID int64) bool {
	for _, inst := range a.unfinished(workflowID) {
		if inst.InstanceId != instanceID {
			return true
		}
	}
	return false
}

func (a *applier) deleteTrigger(x *statepb.DeleteTrigger) bool {
	t := a.get(tableTriggers, x.WorkflowId, x.TriggerId)
	if t == nil {
		return false
	}
	a.triggerInputs = true
	if err := a.txn.Delete(tableTriggers, t); err != nil {
		panic(fmt.Sprintf("delete trigger: %v", err))
	}
	return true
}

// ActionResult is the Apply result of Action. Repeated is set when the
// request id had already been applied, and nothing was done.
type ActionResult struct {
	Instance *statepb.Instance
	Step     *statepb.Step
	Repeated bool
}

// CheckRepeat judges an action against the event an earlier action with the
// same request id left in the instance's timeline (prior, nil when the id
// is new or empty): repeated when it is the same action on the same step,
// which must then do nothing, and a rejection when the id was used for
// another. The leader calls it before proposing, and Apply again, so the
// second of two copies in flight does nothing either.
func CheckRepeat(prior *statepb.Event, stepID, action string) (repeated bool, rej *Rejection) {
	return checkRepeat(prior, stepID, "", action)
}

// CheckWorkflowRepeat is CheckRepeat for an action on a workflow, judged by
// the event on the workflow's own timeline (instance 0): the same action on
// the same target (Event.target) is a repeat.
func CheckWorkflowRepeat(prior *statepb.Event, action, target string) (repeated bool, rej *Rejection) {
	return checkRepeat(prior, "", target, action)
}

func checkRepeat(prior *statepb.Event, stepID, target, action string) (bool, *Rejection) {
	if prior == nil {
		return false, nil
	}
	if prior.StepId != stepID || prior.Target != target || prior.Action != action {
		of := fmt.Sprintf("instance %s/%d", prior.WorkflowId, prior.InstanceId)
		if prior.InstanceId == 0 {
			of = fmt.Sprintf("workflow %s", prior.WorkflowId)
		}
		return false, &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf(
			"request_id %q was already used for %s of %s; give each action its own request id",
			prior.RequestId, describeAction(prior), of)}
	}
	return true, nil
}

func describeAction(e *statepb.Event) string {
	switch {
	case e.StepId != "":
		return e.Action + " of step " + e.StepId
	case e.Target != "":
		return e.Action + " (" + e.Target + ")"
	}
	return e.Action
}

// actionByRequest is State.ActionByRequest within the transaction.
func (a *applier) actionByRequest(workflowID string, instanceID int64, requestID string) *statepb.Event {
	if requestID == "" {
		return nil
	}
	e, _ := a.txn.First(tableEvents, "request", workflowID, instanceID, requestID)
	ev, _ := e.(*statepb.Event)
	return ev
}

// Actions and the statuses each is allowed from, for the error a refused
// action gets.
var (
	restartFrom = []string{InstanceFailed, InstanceStopped, InstanceTimedOut}
	skipFrom    = []string{StepNotCreated, StepCreated, StepWaitingForPermits, StepWaitingForSignals, StepPaused, StepRunning, StepUserFailed, StepPlatformFailed, StepTimeoutFailed}
	pauseFrom   = []string{StepNotCreated, StepCreated, StepWaitingForPermits, StepWaitingForSignals}
	resumeFrom  = []string{StepPaused}
	// stop and kill end a step that has not ended: STOPPED, or
	// FATALLY_FAILED without retries (the instance then fails as its
	// failure mode says).
	stopFrom = []string{StepNotCreated, StepCreated, StepWaitingForPermits, StepWaitingForSignals, StepPaused, StepRunning, StepUserFailed, StepPlatformFailed, StepTimeoutFailed}
	killFrom = stopFrom
	// bypass lets a step waiting for signals run without them.
	bypassFrom = []string{StepWaitingForSignals}
	// A step restart while its instance runs runs a step that ended
	// unsuccessfully again, with fresh retries; once the instance has
	// ended, it restarts the instance from that step.
	restartStepFrom = []string{StepFatallyFailed, StepTimedOut, StepStopped}
)

func allowed(status string, from []string) bool {
	for _, s := range from {
		if s == status {
			return true
		}
	}
	return false
}

// CheckAction says why an action cannot be taken on these records, or nil.
// The leader calls it before proposing the action, so a refused action
// writes nothing, and Apply calls it again on the state it applies to.
// inst is nil when the instance does not exist, st when the step does not.
func CheckAction(inst *statepb.Instance, st *statepb.Step, c *statepb.Action) *Rejection {
	if inst == nil {
		return notFound("workflow %q has no instance %d", c.WorkflowId, c.InstanceId)
	}
	if c.StepId == "" {
		if c.Action == "KILL" {
			if InstanceTerminal(inst.Status) {
				return precondition("instance %s/%d is already %s; kill is allowed when it is CREATED, IN_PROGRESS", inst.WorkflowId, inst.InstanceId, inst.Status)
			}
			return nil
		}
		if c.Action != "RESTART" {
			return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("unknown instance action %q (want RESTART or KILL)", c.Action)}
		}
		return restartable(inst)
	}
	if st == nil {
		return notFound("instance %s/%d has no step %q", c.WorkflowId, c.InstanceId, c.StepId)
	}
	if c.Action == "RESTART" {
		if InstanceTerminal(inst.Status) {
			return restartable(inst)
		}
		if !allowed(st.Status, restartStepFrom) {
			return precondition("step %s is %s; restart is allowed when it is %s while its instance runs, or once the instance has ended %s (it then restarts from the step)",
				c.StepId, st.Status, strings.Join(restartStepFrom, ", "), strings.Join(restartFrom, ", "))
		}
		return nil
	}
	// An unknown action is the caller's mistake whatever the instance's
	// state, so it is named before the state is judged.
	from, _, ok := stepActionRule(c.Action)
	if !ok {
		return &Rejection{Code: RejectInvalid, Msg: fmt.Sprintf("unknown step action %q (want SKIP, PAUSE, RESUME, STOP, KILL, BYPASS_SIGNALS or RESTART)", c.Action)}
	}
	if InstanceTerminal(inst.Status) {
		return precondition("instance %s/%d is %s; step actions need an unfinished instance (restart it first)", c.WorkflowId, c.InstanceId, inst.Status)
	}
	if !allowed(st.Status, from) {
		return precondition("step %s is %s; %s is allowed when it is %s", c.StepId, st.Status, strings.ReplaceAll(strings.ToLower(c.Action), "_", "-"), strings.Join(from, ", "))
	}
	return nil
}

// restartable says why an ended instance cannot be restarted, or nil.
func restartable(inst *statepb.Instance) *Rejection {
	if !allowed(inst.Status, restartFrom) {
		return precondition("instance %s/%d is %s; restart is allowed when it is %s", inst.WorkflowId, inst.InstanceId, inst.Status, strings.Join(restartFrom, ", "))
	}
	if inst.Parent != nil && !inst.Parent.Detached {
		return precondition("instance %s/%d runs for step %s of %s/%d; restart that instance instead",
			inst.WorkflowId, inst.InstanceId, inst.Parent.StepId, inst.Parent.WorkflowId, inst.Parent.InstanceId)
	}
	return nil
}

func stepActionRule(action string) (from []string, to string, ok bool) {
	switch action {
	case "SKIP":
		return skipFrom, StepSkipped, true
	case "PAUSE":
		return pauseFrom, StepPaused, true
	case "RESUME":
		return resumeFrom, StepNotCreated, true
	case "STOP":
		return stopFrom, StepStopped, true
	case "KILL":
		return killFrom, StepFatallyFailed, true
	case "BYPASS_SIGNALS":
		return bypassFrom, StepCreated, true
	}
	return nil, "", false
}

func (a *applier) action(c *statepb.Action) any {
	inst, _ := a.get(tableInstances, c.WorkflowId, c.InstanceId).(*statepb.Instance)
	var st *statepb.Step
	if c.StepId != "" {
		st, _ = a.get(tableSteps, c.WorkflowId, c.InstanceId, c.StepId).(*statepb.Step)
	}
	if inst != nil {
		if repeated, rej := CheckRepeat(a.actionByRequest(c.WorkflowId, c.InstanceId, c.RequestId), c.StepId, c.Action); rej != nil {
			return rej
		} else if repeated {
			return &ActionResult{Instance: inst, Step: st, Repeated: true}
		}
	}
	if rej := CheckAction(inst, st, c); rej != nil {
		return rej
	}
	if c.StepId == "" && c.Action == "KILL" {
		// Kill ends the instance FAILED rather than STOPPED, as Maestro's
		// kill does; its running steps stop with it.
		reason := "killed by " + actorOf(c.Actor)
		if c.Reason != "" {
			reason += ": " + c.Reason
		}
		a.audit(c.WorkflowId, c.InstanceId, "", "KILL", c.Actor, c.Reason, c.RequestId)
		a.stop(c.WorkflowId, c.InstanceId, reason)
		i := a.setInstanceIfStopped(c.WorkflowId, c.InstanceId, InstanceFailed, reason)
		return &ActionResult{Instance: i}
	}
	if c.StepId == "" || (c.Action == "RESTART" && InstanceTerminal(inst.Status)) {
		// A step restart of an ended instance restarts the instance from
		// the step; the leader listed the steps to run again.
		return a.restart(inst, c)
	}
	why := c.Action + " by " + actorOf(c.Actor)
	if c.Reason != "" {
		why += ": " + c.Reason
	}
	a.audit(c.WorkflowId, c.InstanceId, c.StepId, c.Action, c.Actor, c.Reason, c.RequestId)
	switch c.Action {
	case "RESTART":
		st = a.resetStep(st, why)
	case "RESUME":
		st = a.resume(st, why)
	case "BYPASS_SIGNALS":
		st = mutableStep(st)
		st.SignalsBypassed = true
		st = a.setStep(st, StepCreated, why, nil)
	default:
		_, to, _ := stepActionRule(c.Action)
		st = a.setStep(st, to, why, nil)
	}
	return &ActionResult{Instance: a.get(tableInstances, c.WorkflowId, c.InstanceId).(*statepb.Instance), Step: st}
}

// CheckRestartSteps refuses a restart that lists no step to run again, as
// a restart from incomplete steps does when every step had succeeded or was
// skipped. The API checks it before proposing, so such a restart writes
// nothing.
func CheckRestartSteps(inst *statepb.Instance, c *statepb.Action) *Rejection {
	if len(c.ResetSteps) == 0 {
		return precondition("instance %s/%d has no step to run again under %s (restart it from the beginning)",
			inst.WorkflowId, inst.InstanceId, c.RestartPolicy)
	}
	return nil
}

// restart runs a finished instance again: the steps the leader listed go
// back to NOT_CREATED, keeping their attempts as history, and the instance
// queues as CREATED under its run strategy.
func (a *applier) restart(inst *statepb.Instance, c *statepb.Action) any {
	if rej := CheckRestartSteps(inst, c); rej != nil {
		return rej
	}
	if rej := a.checkRunnable(inst); rej != nil {
		return rej
	}
	a.audit(inst.WorkflowId, inst.InstanceId, c.StepId, "RESTART", c.Actor, strings.TrimSpace(c.RestartPolicy+" "+c.Reason), c.RequestId)
	for _, id := range c.ResetSteps {
		st, _ := a.get(tableSteps, inst.WorkflowId, inst.InstanceId, id).(*statepb.Step)
		if st == nil {
			continue
		}
		a.resetStep(st, "reset by restart")
	}
	i := shallow(a.get(tableInstances, inst.WorkflowId, inst.InstanceId).(*statepb.Instance))
	i.Status, i.StartTime, i.EndTime, i.Reason = InstanceCreated, nil, nil, "restarted ("+c.RestartPolicy+")"
	a.put(tableInstances, i)
	i = a.event(inst.WorkflowId, inst.InstanceId, "", 0, InstanceCreated, i.Reason)
	return &ActionResult{Instance: i}
}

// resetStep puts a step back to NOT_CREATED to run again, keeping its
// attempts as history (retry limits count only later ones) and dropping
// what the last run left: outputs, loop children, operator switches.
func (a *applier) resetStep(st *statepb.Step, why string) *statepb.Step {
	if st.Loop != nil {
		for _, child := range a.children(st) {
			if !child.Parent.Detached {
				a.deleteTree(child)
			}
		}
	}
	st = mutableStep(st)
	st.Status, st.Reason, st.Node, st.RetryAt, st.Outputs, st.EndTime, st.Loop = StepNotCreated, why, "", nil, nil, nil, nil
	st.SignalsEmitted, st.SignalsBypassed, st.PausedAt, st.BreakpointPassed = false, false, "", 0
	st.AttemptsBeforeRestart = int32(len(st.Attempts))
	a.put(tableSteps, st)
	a.event(st.WorkflowId, st.InstanceId, st.StepId, 0, StepNotCreated, why)
	return st
}

func actorOf(actor string) string {
	if actor == "" {
		return "anonymous"
	}
	return actor
}

// audit records who did what and why on the instance's timeline.
func (a *applier) audit(workflowID string, instanceID int64, stepID, action, actor, reason, requestID string) {
	if a.noTimeline {
		return
	}
	inst := a.nextEventSeq(workflowID, instanceID)
	a.put(tableEvents, &statepb.Event{
		WorkflowId: workflowID, InstanceId: instanceID, Seq: inst.LastEventSeq, Index: a.index,
		Time: a.now, StepId: stepID, Status: "ACTION", Message: reason, Action: action, Actor: actorOf(actor),
		RequestId: requestID,
	})
}

// setInstanceIfStopped turns the STOPPED status stop just set into status,
// without a second terminal event for the parent loop's counts.
func (a *applier) setInstanceIfStopped(workflowID string, instanceID int64, status, reason string) *statepb.Instance {
	inst := shallow(a.get(tableInstances, workflowID, instanceID).(*statepb.Instance))
	if inst.Status != InstanceStopped {
		return inst
	}
	inst.Status = status
	inst.Reason = reason
	a.put(tableInstances, inst)
	if p := inst.Parent; p != nil && !p.Detached {
		// The loop step counted this child as STOPPED a moment ago.
		if st, _ := a.get(tableSteps, p.WorkflowId, p.InstanceId, p.StepId).(*statepb.Step); st != nil && st.Loop != nil && st.Loop.Counts[InstanceStopped] > 0 {
			st = mutableStep(st)
			st.Loop.Counts[InstanceStopped]--
			st.Loop.Counts[status]++
			a.put(tableSteps, st)
		}
	}
	return a.event(workflowID, instanceID, "", 0, status, reason)
}

// SignalResult is the Apply result of SendSignal.
type SignalResult struct{ Signal *statepb.Signal }

// sendSignal records a signal with the next number of its name, or returns
// the one its request id recorded before.
func (a *applier) sendSignal(c *statepb.SendSignal) *statepb.Signal {
	if c.RequestId != "" {
		if o, _ := a.txn.First(tableSignals, "request", c.RequestId); o != nil {
			return o.(*statepb.Signal)
		}
	}
	sg := &statepb.Signal{Name: c.Name, Seq: a.latestSignalSeq(c.Name) + 1, Params: c.Params, RequestId: c.RequestId, Time: a.now, Source: c.Source}
	a.put(tableSignals, sg)
	return sg
}

// deleteVersion removes a workflow version and the breakpoints set on it,
// unless it is the active or the latest one, or an instance kept in the
// state runs it: the leader planned on a state that an entry since may
// have changed (a start of that version, an activation). Iterations of a
// loop run their parent instance's version, and go with that instance.
func (a *applier) deleteVersion(x *statepb.DeleteVersion) bool {
	w, _ := a.get(tableWorkflows, x.WorkflowId).(*statepb.Workflow)
	v, _ := a.get(tableVersions, x.WorkflowId, x.Version).(*statepb.WorkflowVersion)
	if w == nil || v == nil || x.Version == w.ActiveVersion || x.Version == w.LatestVersion {
		return false
	}
	it, err := a.txn.Get(tableInstances, "id_prefix", x.WorkflowId)
	if err != nil {
		return false
	}
	for o := it.Next(); o != nil; o = it.Next() {
		if inst := o.(*statepb.Instance); inst.WorkflowVersion == x.Version && inst.DefinitionWorkflowId == "" {
			return false
		}
	}
	var held []*statepb.Breakpoint
	if it, err := a.txn.Get(tableBreakpoints, "id_prefix", x.WorkflowId); err == nil {
		for o := it.Next(); o != nil; o = it.Next() {
			if b := o.(*statepb.Breakpoint); b.Version == x.Version {
				held = append(held, b)
			}
		}
	}
	// Collected first: deleting while iterating the same radix tree is not
	// safe.
	for _, b := range held {
		a.writes++
		_ = a.txn.Delete(tableBreakpoints, b)
	}
	a.writes++
	// The rows were read in this command, so Delete finds them.
	_ = a.txn.Delete(tableVersions, v)
	a.triggerInputs = true
	return true
}

// deleteSignals removes the signals of a name numbered through x.ThroughSeq
// or lower, but never the newest of the name: the next signal's number is
// one more than the newest's, and a trigger's checkpoint or a client that
// read a number must never see it given out again. It reports whether it
// deleted any.
func (a *applier) deleteSignals(x *statepb.DeleteSignals) bool {
	var rows []*statepb.Signal
	it, err := a.txn.LowerBound(tableSignals, "id", x.Name, int64(0))
	if err != nil {
		return false
	}
	// Collect first: deleting while iterating the same radix tree is not safe.
	for o := it.Next(); o != nil; o = it.Next() {
		sg := o.(*statepb.Signal)
		if sg.Name != x.Name || sg.Seq > x.ThroughSeq {
			break
		}
		rows = append(rows, sg)
	}
	if len(rows) > 0 && rows[len(rows)-1].Seq >= a.latestSignalSeq(x.Name) {
		rows = rows[:len(rows)-1]
	}
	for _, sg := range rows {
		// Rows were collected first, so the transaction may be split
		// between deletions: one big transaction part gets slow.
		a.split()
		a.writes++
		// The row was read in this command, so Delete finds it.
		_ = a.txn.Delete(tableSignals, sg)
	}
	if len(rows) > 0 {
		a.triggerInputs = true
	}
	return len(rows) > 0
}

// deleteWorkflowEvents removes the operator actions on a workflow's own
// timeline numbered through x.ThroughSeq or lower, with the request ids they
// hold. Workflow.LastEventSeq is left as it is, so numbering goes on and a
// reader paging by number never sees one given out twice. It reports
// whether it deleted any.
func (a *applier) deleteWorkflowEvents(x *statepb.DeleteWorkflowEvents) bool {
	var rows []*statepb.Event
	it, err := a.txn.LowerBound(tableEvents, "id", x.WorkflowId, int64(0), int64(0))
	if err != nil {
		return false
	}
	// Collect first: deleting while iterating the same radix tree is not safe.
	for o := it.Next(); o != nil; o = it.Next() {
		e := o.(*statepb.Event)
		if e.WorkflowId != x.WorkflowId || e.InstanceId != 0 || e.Seq > x.ThroughSeq {
			break
		}
		rows = append(rows, e)
	}
	for _, e := range rows {
		a.split()
		a.writes++
		// The row was read in this command, so Delete finds it.
		_ = a.txn.Delete(tableEvents, e)
	}
	return len(rows) > 0
}

// latestSignalSeq is the number of the newest signal of a name, 0 when
// there is none.
func (a *applier) latestSignalSeq(name string) int64 {
	it, err := a.txn.GetReverse(tableSignals, "id_prefix", name)
	if err != nil {
		return 0
	}
	for o := it.Next(); o != nil; o = it.Next() {
		if sg := o.(*statepb.Signal); sg.Name == name {
			return sg.Seq
		}
	}
	return 0
}

func (a *applier) emitSignals(x *statepb.EmitSignals) bool {
	st, _ := a.get(tableSteps, x.WorkflowId, x.InstanceId, x.StepId).(*statepb.Step)
	if st == nil || st.SignalsEmitted || st.Status != StepSucceeded {
		return false
	}
	for _, sg := range x.Signals {
		sg = shallow(sg)
		sg.Now = a.now
		a.sendSignal(sg)
	}
	st = mutableStep(st)
	st.SignalsEmitted = true
	a.put(tableSteps, st)
	return true
}
