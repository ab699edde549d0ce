package fsm

import (
	"github.com/hashicorp/go-memdb"

	"github.com/batonhq/baton/fsm/statepb"
)

// Table names of the state store.
const (
	tableWorkflows   = "workflows"
	tableVersions    = "versions"
	tableInstances   = "instances"
	tableSteps       = "steps"
	tableEvents      = "events"
	tableTriggers    = "triggers"
	tableSignals     = "signals"
	tableBreakpoints = "breakpoints"
	// What is kept of deleted workflow ids (DeletedWorkflow).
	tableDeletedWorkflows = "deleted_workflows"
)

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableWorkflows: {Name: tableWorkflows, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				return []any{o.(*statepb.Workflow).WorkflowId}, true
			}}},
		}},
		tableVersions: {Name: tableVersions, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				v := o.(*statepb.WorkflowVersion)
				return []any{v.WorkflowId, v.Version}, true
			}}},
			"request": {Name: "request", Unique: true, AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				v := o.(*statepb.WorkflowVersion)
				return []any{v.RequestId}, v.RequestId != ""
			}}},
		}},
		tableInstances: {Name: tableInstances, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				i := o.(*statepb.Instance)
				return []any{i.WorkflowId, i.InstanceId}, true
			}}},
			"request": {Name: "request", Unique: true, AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				i := o.(*statepb.Instance)
				return []any{i.RequestId}, i.RequestId != ""
			}}},
			// Only unfinished instances are in this index, so the scheduler's
			// scan is proportional to live work, not to history.
			"active": {Name: "active", AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				i := o.(*statepb.Instance)
				return []any{i.WorkflowId, i.InstanceId}, !InstanceTerminal(i.Status)
			}}},
			// Subworkflow instances by the step that started them. A loop's
			// iterations are not here: they are every instance of the
			// loop's own workflow id (Loop.ChildWorkflowId), and an entry
			// here would cost each of their writes one more tree insert.
			"parent": {Name: "parent", AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				i := o.(*statepb.Instance)
				if i.Parent == nil || i.DefinitionWorkflowId != "" {
					return nil, false
				}
				return []any{i.Parent.WorkflowId, i.Parent.InstanceId, i.Parent.StepId, i.WorkflowId, i.InstanceId}, true
			}}},
		}},
		tableSteps: {Name: tableSteps, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				s := o.(*statepb.Step)
				return []any{s.WorkflowId, s.InstanceId, s.StepId}, true
			}}},
			"node": {Name: "node", AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				s := o.(*statepb.Step)
				return []any{s.Node, s.WorkflowId, s.InstanceId, s.StepId}, s.Node != ""
			}}},
			// A tracked instance's steps (TrackWritesFrom) by the index of
			// the entry that last wrote them: the leader reads only those
			// written since its previous round (State.StepsWrittenAfter).
			"written": {Name: "written", AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				s := o.(*statepb.Step)
				return []any{s.WorkflowId, s.InstanceId, s.ModifyIndex, s.StepId}, s.ModifyIndex != 0
			}}},
			// Steps a breakpoint holds, by the breakpoint's key, so that
			// deleting it resumes them without a scan.
			"paused_at": {Name: "paused_at", AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				s := o.(*statepb.Step)
				return []any{s.PausedAt, s.WorkflowId, s.InstanceId, s.StepId}, s.PausedAt != "" && s.Status == StepPaused
			}}},
		}},
		tableTriggers: {Name: tableTriggers, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				t := o.(*statepb.Trigger)
				return []any{t.WorkflowId, t.TriggerId}, true
			}}},
		}},
		tableSignals: {Name: tableSignals, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				sg := o.(*statepb.Signal)
				return []any{sg.Name, sg.Seq}, true
			}}},
			"request": {Name: "request", Unique: true, AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				sg := o.(*statepb.Signal)
				return []any{sg.RequestId}, sg.RequestId != ""
			}}},
		}},
		tableBreakpoints: {Name: tableBreakpoints, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				b := o.(*statepb.Breakpoint)
				return []any{b.WorkflowId, b.StepId, b.Version, b.InstanceId}, true
			}}},
			"key": {Name: "key", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				return []any{BreakpointKey(o.(*statepb.Breakpoint))}, true
			}}},
		}},
		tableDeletedWorkflows: {Name: tableDeletedWorkflows, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				return []any{o.(*statepb.DeletedWorkflow).WorkflowId}, true
			}}},
		}},
		tableEvents: {Name: tableEvents, Indexes: map[string]*memdb.IndexSchema{
			"id": {Name: "id", Unique: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				e := o.(*statepb.Event)
				return []any{e.WorkflowId, e.InstanceId, e.Seq}, true
			}}},
			// Operator actions by their request id, within their instance,
			// so that an action sent again finds what the first did.
			"request": {Name: "request", Unique: true, AllowMissing: true, Indexer: funcIndex{func(o any) ([]any, bool) {
				e := o.(*statepb.Event)
				return []any{e.WorkflowId, e.InstanceId, e.RequestId}, e.RequestId != ""
			}}},
		}},
	}}
}
