package fsm

import (
	"fmt"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
)

// maxDeleteRequestIDs is how many deletions of one workflow id keep their
// request ids: a late copy of one of those is a repeat, even after the id
// was pushed again. Deleting the same id again and again is rare, and an
// older copy than these would have been held up through that many
// deletions.
const maxDeleteRequestIDs = 16

// maxKeptRequests is how many request ids of a deleted workflow's pushes,
// and how many of its starts, its record keeps (the newest, across
// deletions). A late copy is a client's retry held up in the network or a
// server; one older than the newest 32 starts before the deletion is not
// worth a bigger record for every deleted id, which stays for good.
const maxKeptRequests = 32

// DeleteWorkflowResult is the Apply result of DeleteWorkflow.
type DeleteWorkflowResult struct {
	Deleted *statepb.DeletedWorkflow
	// What the deletion removed at once.
	Versions, Triggers, Breakpoints int
	// The finished instances it left for the leader to delete.
	Instances int
	// The request id had already been applied: nothing was done.
	Repeated bool
}

// DeletedWorkflow is what is kept of a deleted workflow id, or nil when the
// id was never deleted.
func (s *State) DeletedWorkflow(id string) *statepb.DeletedWorkflow {
	d, _ := s.first(nil, tableDeletedWorkflows, "id", id).(*statepb.DeletedWorkflow)
	return d
}

// DeletedWorkflows returns every deleted workflow id's record, by id.
func (s *State) DeletedWorkflows() []*statepb.DeletedWorkflow {
	var out []*statepb.DeletedWorkflow
	it := s.iter(nil, tableDeletedWorkflows, "id_prefix")
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.DeletedWorkflow))
	}
	return out
}

// WorkflowNotFound is the error for a workflow id the state does not hold:
// it says when and by whom the id was deleted, when it was.
func WorkflowNotFound(s *State, id string) *Rejection {
	return workflowNotFound(s.DeletedWorkflow(id), id)
}

func workflowNotFound(d *statepb.DeletedWorkflow, id string) *Rejection {
	if d == nil {
		return notFound("workflow %q not found", id)
	}
	return notFound("workflow %q not found: %s", id, DeletedWhen(d))
}

// DeletedWhen says when and by whom a workflow id was last deleted.
func DeletedWhen(d *statepb.DeletedWorkflow) string {
	msg := fmt.Sprintf("it was deleted by %s at %s", actorOf(d.Actor), d.DeleteTime.AsTime().UTC().Format(time.RFC3339))
	if d.Reason != "" {
		msg += ": " + d.Reason
	}
	return msg
}

// IsDeletion reports whether requestID deleted the workflow id d keeps.
func IsDeletion(d *statepb.DeletedWorkflow, requestID string) bool {
	if d == nil || requestID == "" {
		return false
	}
	for _, id := range d.RequestIds {
		if id == requestID {
			return true
		}
	}
	return false
}

// DeletedPush says why a push with requestID is refused, or nil: the
// request id pushed a version of the workflow id d keeps, which went with
// the workflow. A late copy must not create the workflow again, nor add a
// version to the one pushed since.
func DeletedPush(d *statepb.DeletedWorkflow, requestID string) *Rejection {
	if n, ok := keptRequest(d.GetPushes(), requestID); ok {
		return notFound("request_id %q pushed version %d of workflow %q, which went with the workflow: %s", requestID, n, d.WorkflowId, DeletedWhen(d))
	}
	return nil
}

// DeletedStart says why a start with requestID is refused, or nil: the
// request id started an instance of the workflow id d keeps, deleted with
// the workflow. A late copy must not start an instance of the workflow
// pushed since.
func DeletedStart(d *statepb.DeletedWorkflow, requestID string) *Rejection {
	if n, ok := keptRequest(d.GetStarts(), requestID); ok {
		return notFound("request_id %q started instance %s/%d, which was deleted with its workflow: %s", requestID, d.WorkflowId, n, DeletedWhen(d))
	}
	return nil
}

func keptRequest(kept []*statepb.KeptRequest, requestID string) (int64, bool) {
	if requestID == "" {
		return 0, false
	}
	for _, k := range kept {
		if k.RequestId == requestID {
			return k.Number, true
		}
	}
	return 0, false
}

// keepRequests appends to kept the request ids of rows (in rising number
// order), and keeps the newest maxKeptRequests. A row numbered at or below
// the newest kept is skipped: an instance an earlier deletion of the id
// left, not yet deleted, whose request id that deletion kept.
func keepRequests(kept []*statepb.KeptRequest, rows []any) []*statepb.KeptRequest {
	out := append([]*statepb.KeptRequest(nil), kept...)
	var newest int64
	if len(kept) > 0 {
		newest = kept[len(kept)-1].Number
	}
	for _, o := range rows {
		var k *statepb.KeptRequest
		switch r := o.(type) {
		case *statepb.WorkflowVersion:
			k = &statepb.KeptRequest{RequestId: r.RequestId, Number: r.Version}
		case *statepb.Instance:
			k = &statepb.KeptRequest{RequestId: r.RequestId, Number: r.InstanceId}
		}
		if k != nil && k.RequestId != "" && k.Number > newest {
			out = append(out, k)
		}
	}
	if over := len(out) - maxKeptRequests; over > 0 {
		out = out[over:]
	}
	return out
}

// CheckDeleteWorkflow says why a workflow cannot be deleted, or nil: it must
// exist, and none of its instances may be unfinished (they would run on
// with their definition gone). The leader calls it before proposing the
// deletion, so a refused one writes nothing, and Apply calls it again.
func CheckDeleteWorkflow(s *State, id string) *Rejection {
	return checkDeleteWorkflow(s.Workflow(nil, id), s.DeletedWorkflow(id), s.ActiveInstances(nil), id)
}

func checkDeleteWorkflow(w *statepb.Workflow, d *statepb.DeletedWorkflow, active []*statepb.Instance, id string) *Rejection {
	if w == nil {
		return workflowNotFound(d, id)
	}
	var first *statepb.Instance
	n := 0
	for _, inst := range active {
		if inst.WorkflowId != id {
			continue
		}
		if first == nil {
			first = inst
		}
		n++
	}
	if n > 0 {
		return precondition("workflow %q has %d unfinished instance(s), %s/%d (%s) the oldest; stop them first (baton instance stop %s/%d), or wait for them to end",
			id, n, first.WorkflowId, first.InstanceId, first.Status, first.WorkflowId, first.InstanceId)
	}
	return nil
}

func (a *applier) deleteWorkflow(c *statepb.DeleteWorkflow) any {
	d := a.deleted(c.WorkflowId)
	if IsDeletion(d, c.RequestId) {
		return &DeleteWorkflowResult{Deleted: d, Repeated: true}
	}
	w, _ := a.get(tableWorkflows, c.WorkflowId).(*statepb.Workflow)
	if rej := checkDeleteWorkflow(w, d, a.unfinished(c.WorkflowId), c.WorkflowId); rej != nil {
		return rej
	}
	versions := a.deleteRows(tableVersions, c.WorkflowId)
	res := &DeleteWorkflowResult{
		Versions:    len(versions),
		Triggers:    len(a.deleteRows(tableTriggers, c.WorkflowId)),
		Breakpoints: len(a.deleteRows(tableBreakpoints, c.WorkflowId)),
	}
	a.deleteRows(tableWorkflows, c.WorkflowId)
	// The timeline's last number is on the instance or on the workflow:
	// the workflow's own timeline (instance 0) is numbered on its record.
	next := &statepb.DeletedWorkflow{
		WorkflowId: c.WorkflowId, LatestVersion: w.LatestVersion, LastInstanceId: w.LastInstanceId,
		LastEventSeq: w.LastEventSeq, DeleteTime: c.Now, Actor: c.Actor, Reason: c.Reason, Deletions: 1,
	}
	if d != nil {
		next.RequestIds = append(next.RequestIds, d.RequestIds...)
		next.Deletions = d.Deletions + 1
	}
	if c.RequestId != "" {
		next.RequestIds = append(next.RequestIds, c.RequestId)
	}
	if over := len(next.RequestIds) - maxDeleteRequestIDs; over > 0 {
		next.RequestIds = next.RequestIds[over:]
	}
	var purged []any
	for _, inst := range a.instances(c.WorkflowId) {
		if PurgedWithWorkflow(next, inst) {
			purged = append(purged, inst)
		}
	}
	res.Instances = len(purged)
	if c.KeepRequestIds {
		next.Pushes = keepRequests(d.GetPushes(), versions)
		next.Starts = keepRequests(d.GetStarts(), purged)
	}
	a.put(tableDeletedWorkflows, next)
	res.Deleted = next
	return res
}

// PurgedWithWorkflow reports whether the leader deletes inst because its
// workflow was deleted: it is one of the deleted workflow's, and not part
// of another instance's tree (a subworkflow instance goes with the
// instance that started it, whose step refers to it).
func PurgedWithWorkflow(d *statepb.DeletedWorkflow, inst *statepb.Instance) bool {
	return inst.WorkflowId == d.WorkflowId && inst.InstanceId <= d.LastInstanceId &&
		(inst.Parent == nil || inst.Parent.Detached)
}

// unfinished returns the unfinished instances of a workflow.
func (a *applier) unfinished(workflowID string) []*statepb.Instance {
	return a.instancesIn("active_prefix", workflowID)
}

// instances returns every instance of a workflow.
func (a *applier) instances(workflowID string) []*statepb.Instance {
	return a.instancesIn("id_prefix", workflowID)
}

func (a *applier) instancesIn(index, workflowID string) []*statepb.Instance {
	var out []*statepb.Instance
	it, err := a.txn.Get(tableInstances, index, workflowID)
	if err != nil {
		return nil
	}
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o.(*statepb.Instance))
	}
	return out
}

// deleteRows deletes the rows of a table whose id starts with prefix, and
// returns them in id order.
func (a *applier) deleteRows(table string, prefix ...any) []any {
	it, err := a.txn.Get(table, "id_prefix", prefix...)
	if err != nil {
		panic(fmt.Sprintf("list %s: %v", table, err))
	}
	// Collect first: deleting while iterating the same radix tree is not safe.
	var rows []any
	for o := it.Next(); o != nil; o = it.Next() {
		rows = append(rows, o)
	}
	for _, o := range rows {
		a.writes++
		a.disown(o)
		if err := a.txn.Delete(table, o); err != nil {
			panic(fmt.Sprintf("delete from %s: %v", table, err))
		}
	}
	if len(rows) > 0 && triggerTable(table) {
		a.triggerInputs = true
	}
	return rows
}

// CheckRunnable says why a finished instance cannot run again, or nil: the
// version it runs went with its deleted workflow, and the leader is about
// to delete it too. Restarts check it, on the leader before proposing and
// in Apply.
func CheckRunnable(s *State, inst *statepb.Instance) *Rejection {
	wf := DefinitionWorkflowOf(inst)
	return versionGone(inst, s.Version(nil, wf, inst.WorkflowVersion) != nil, s.DeletedWorkflow(wf))
}

func (a *applier) checkRunnable(inst *statepb.Instance) *Rejection {
	wf := DefinitionWorkflowOf(inst)
	return versionGone(inst, a.get(tableVersions, wf, inst.WorkflowVersion) != nil, a.deleted(wf))
}

// deleted is what is kept of a deleted workflow id, or nil.
func (a *applier) deleted(workflowID string) *statepb.DeletedWorkflow {
	d, _ := a.get(tableDeletedWorkflows, workflowID).(*statepb.DeletedWorkflow)
	return d
}

// DefinitionWorkflowOf is the workflow whose version inst runs: its own, or for a
// foreach or while iteration its parent's.
func DefinitionWorkflowOf(inst *statepb.Instance) string {
	if inst.DefinitionWorkflowId != "" {
		return inst.DefinitionWorkflowId
	}
	return inst.WorkflowId
}

func versionGone(inst *statepb.Instance, kept bool, d *statepb.DeletedWorkflow) *Rejection {
	if kept {
		return nil
	}
	wf := DefinitionWorkflowOf(inst)
	msg := fmt.Sprintf("instance %s/%d cannot run again: version %d of workflow %q is gone", inst.WorkflowId, inst.InstanceId, inst.WorkflowVersion, wf)
	if d != nil && inst.WorkflowVersion <= d.LatestVersion {
		msg += " with the workflow (" + DeletedWhen(d) + "), and the instance is being deleted too"
	}
	return precondition("%s", msg)
}
