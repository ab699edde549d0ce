package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// CommandType is the first byte of every Raft entry Baton writes.
type CommandType byte

// Protocol is the newest command protocol this build applies. A newer
// protocol adds fields to existing commands, which an older build would
// ignore rather than refuse, so a leader writes them only once every
// server has said (in gossip) that it understands them:
//
//	1: everything before the fields below
//	2: ApplyPlan.unchecked, FireTrigger.run, StartChild.run
//	3: PlanAction.delete_signals and delete_version (an older build would
//	   skip the actions and keep what the others deleted)
//	4: request_id on StopInstance, Action, WorkflowAction,
//	   ActivateWorkflow, UnblockWorkflow (with its actor), SetBreakpoint
//	   and DeleteBreakpoint (an older build would record no key, and apply
//	   a late copy the others answer as a repeat)
//	5: PlanAction.delete_workflow_events (an older build would skip it and
//	   keep the actions the others deleted)
//	6: DeleteWorkflow, a new command (an older build would stop at it), and
//	   the deleted_workflows table it writes; the API refuses a deletion
//	   until every server applies protocol 6
//	7: DeleteWorkflow.keep_request_ids, and the push and start request ids
//	   it keeps on the DeletedWorkflow record (an older build would keep
//	   none, and apply a late copy of a push or start the others refuse)
const Protocol = 7

// ForProtocol clears from an operator's command, in place, the fields of
// command protocols newer than the newest every server applies (protocol,
// asked only for the commands that have such fields), so that every server
// applies the entry alike. Without its request id an action is applied as
// before protocol 4: a copy sent again is judged by the state, as a new
// action.
func ForProtocol(cmd proto.Message, protocol func() int) {
	clear := func(fields ...*string) {
		if protocol() < 4 {
			for _, f := range fields {
				*f = ""
			}
		}
	}
	switch c := cmd.(type) {
	case *statepb.StopInstance:
		clear(&c.RequestId)
	case *statepb.Action:
		clear(&c.RequestId)
	case *statepb.WorkflowAction:
		clear(&c.RequestId)
	case *statepb.ActivateWorkflow:
		clear(&c.RequestId)
	case *statepb.UnblockWorkflow:
		clear(&c.RequestId, &c.Actor)
	case *statepb.SetBreakpoint:
		clear(&c.RequestId)
	case *statepb.DeleteBreakpoint:
		clear(&c.RequestId)
	case *statepb.DeleteWorkflow:
		if protocol() < 7 {
			c.KeepRequestIds = false
		}
	}
}

// CheckProtocol refuses an operator's command of a type newer than the
// newest protocol every server applies (protocol, asked only for such
// commands): a server of an older build would stop at the entry.
func CheckProtocol(cmd proto.Message, protocol func() int) *Rejection {
	if _, ok := cmd.(*statepb.DeleteWorkflow); ok {
		if p := protocol(); p < 6 {
			return precondition("deleting a workflow needs every server at command protocol 6, and the oldest is at %d: finish upgrading the cluster first (baton status shows the protocol the cluster runs)", p)
		}
	}
	return nil
}

// IgnorableFlag marks a command type that an older node may skip. A node that
// meets an unknown type without the flag stops rather than diverge.
const IgnorableFlag CommandType = 0x80

// Command types. Values are part of the log format: never renumber.
const (
	CmdPushWorkflow     CommandType = 1
	CmdActivateWorkflow CommandType = 2
	CmdStartInstance    CommandType = 3
	CmdStopInstance     CommandType = 4
	CmdApplyPlan        CommandType = 5
	CmdReportResult     CommandType = 6
	CmdUnblockWorkflow  CommandType = 7
	CmdAction           CommandType = 8
	CmdSendSignal       CommandType = 9
	// 10–19 are left to other commands; the workflow-level operator
	// commands start at 20.
	CmdWorkflowAction   CommandType = 20
	CmdSetBreakpoint    CommandType = 21
	CmdDeleteBreakpoint CommandType = 22
	CmdDeleteWorkflow   CommandType = 23

	// CmdNoop changes nothing. It exists because Raft only snapshots once
	// the FSM has applied an entry past the latest configuration change; an
	// operator snapshot of an idle cluster commits one first. It carries
	// the ignorable flag, so every node skips it.
	CmdNoop CommandType = IgnorableFlag | 0x7F
)

func (t CommandType) String() string {
	switch t &^ IgnorableFlag {
	case CmdPushWorkflow:
		return "PushWorkflow"
	case CmdActivateWorkflow:
		return "ActivateWorkflow"
	case CmdStartInstance:
		return "StartInstance"
	case CmdStopInstance:
		return "StopInstance"
	case CmdApplyPlan:
		return "ApplyPlan"
	case CmdReportResult:
		return "ReportResult"
	case CmdUnblockWorkflow:
		return "UnblockWorkflow"
	case CmdAction:
		return "Action"
	case CmdSendSignal:
		return "SendSignal"
	case CmdWorkflowAction:
		return "WorkflowAction"
	case CmdSetBreakpoint:
		return "SetBreakpoint"
	case CmdDeleteBreakpoint:
		return "DeleteBreakpoint"
	case CmdDeleteWorkflow:
		return "DeleteWorkflow"
	}
	return fmt.Sprintf("CommandType(%d)", byte(t))
}

// commandTypeOf maps a command message to its type byte.
func commandTypeOf(m proto.Message) (CommandType, error) {
	switch m.(type) {
	case *statepb.PushWorkflow:
		return CmdPushWorkflow, nil
	case *statepb.ActivateWorkflow:
		return CmdActivateWorkflow, nil
	case *statepb.StartInstance:
		return CmdStartInstance, nil
	case *statepb.StopInstance:
		return CmdStopInstance, nil
	case *statepb.ApplyPlan:
		return CmdApplyPlan, nil
	case *statepb.ReportResult:
		return CmdReportResult, nil
	case *statepb.UnblockWorkflow:
		return CmdUnblockWorkflow, nil
	case *statepb.Action:
		return CmdAction, nil
	case *statepb.SendSignal:
		return CmdSendSignal, nil
	case *statepb.WorkflowAction:
		return CmdWorkflowAction, nil
	case *statepb.SetBreakpoint:
		return CmdSetBreakpoint, nil
	case *statepb.DeleteBreakpoint:
		return CmdDeleteBreakpoint, nil
	case *statepb.DeleteWorkflow:
		return CmdDeleteWorkflow, nil
	}
	return 0, fmt.Errorf("no command type for %T", m)
}

// Encode returns the Raft entry for a command: its type byte, then protobuf.
func Encode(m proto.Message) ([]byte, error) {
	t, err := commandTypeOf(m)
	if err != nil {
		return nil, err
	}
	body, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", t, err)
	}
	return append([]byte{byte(t)}, body...), nil
}

// ErrUnknownCommand is returned by Decode for a type byte this node does not
// know and that is not marked ignorable.
type ErrUnknownCommand struct{ Type CommandType }

func (e *ErrUnknownCommand) Error() string {
	return fmt.Sprintf("unknown command type %d in the log: this node is older than the cluster's log; upgrade it", byte(e.Type))
}

// Decode parses a Raft entry. An unknown ignorable type gives (nil, nil).
func Decode(data []byte) (proto.Message, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty command")
	}
	t := CommandType(data[0])
	var m proto.Message
	switch t {
	case CmdPushWorkflow:
		m = &statepb.PushWorkflow{}
	case CmdActivateWorkflow:
		m = &statepb.ActivateWorkflow{}
	case CmdStartInstance:
		m = &statepb.StartInstance{}
	case CmdStopInstance:
		m = &statepb.StopInstance{}
	case CmdApplyPlan:
		m = &statepb.ApplyPlan{}
	case CmdReportResult:
		m = &statepb.ReportResult{}
	case CmdUnblockWorkflow:
		m = &statepb.UnblockWorkflow{}
	case CmdAction:
		m = &statepb.Action{}
	case CmdSendSignal:
		m = &statepb.SendSignal{}
	case CmdWorkflowAction:
		m = &statepb.WorkflowAction{}
	case CmdSetBreakpoint:
		m = &statepb.SetBreakpoint{}
	case CmdDeleteBreakpoint:
		m = &statepb.DeleteBreakpoint{}
	case CmdDeleteWorkflow:
		m = &statepb.DeleteWorkflow{}
	default:
		if t&IgnorableFlag != 0 {
			return nil, nil
		}
		return nil, &ErrUnknownCommand{Type: t}
	}
	if err := proto.Unmarshal(data[1:], m); err != nil {
		return nil, fmt.Errorf("decode %s: %w", t, err)
	}
	return m, nil
}
