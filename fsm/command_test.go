package fsm

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

func TestCodecRoundTrip(t *testing.T) {
	// The type bytes are written to the log: these literals must never change.
	want := []struct {
		typ  byte
		name string
	}{{1, "PushWorkflow"}, {2, "ActivateWorkflow"}, {3, "StartInstance"}, {4, "StopInstance"}, {5, "ApplyPlan"}, {6, "ReportResult"},
		{20, "WorkflowAction"}, {21, "SetBreakpoint"}, {22, "DeleteBreakpoint"}, {23, "DeleteWorkflow"}}
	cmds := sampleCommands()
	if len(cmds) != len(want) {
		t.Fatalf("%d sample commands for %d types", len(cmds), len(want))
	}
	for i, m := range cmds {
		data, err := Encode(m)
		if err != nil {
			t.Fatalf("encode %T: %v", m, err)
		}
		if data[0] != want[i].typ {
			t.Fatalf("%T encodes with type byte %d, want %d", m, data[0], want[i].typ)
		}
		if got := CommandType(data[0]).String(); got != want[i].name {
			t.Fatalf("type %d is named %q, want %q", data[0], got, want[i].name)
		}
		got, err := Decode(data)
		if err != nil {
			t.Fatalf("decode %s: %v", want[i].name, err)
		}
		if !proto.Equal(got, m) {
			t.Fatalf("%s round trip:\n got %v\nwant %v", want[i].name, got, m)
		}
		again, err := Encode(got)
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("%s: re-encoding differs (err %v)", want[i].name, err)
		}
	}
	// Identical commands must give identical entries whatever the map order.
	wide := startCmd(wfETL, "req-1", 1, 1)
	wide.Params = wideParams()
	first, err := Encode(wide)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, err := Encode(proto.Clone(wide))
		if err != nil || !bytes.Equal(again, first) {
			t.Fatalf("encoding of the same command varies (err %v)", err)
		}
	}
	if got := (CmdApplyPlan | IgnorableFlag).String(); got != "ApplyPlan" {
		t.Fatalf("flagged type named %q", got)
	}
	if got := CommandType(0x7f).String(); got != "CommandType(127)" {
		t.Fatalf("unknown type named %q", got)
	}
}

func TestEncodeRejectsNonCommands(t *testing.T) {
	if _, err := Encode(&statepb.Workflow{WorkflowId: wfETL}); err == nil {
		t.Fatal("a state record encoded as a command")
	}
	x := newFixture(t)
	x.reject(&statepb.Step{}, RejectInvalid)
	if i := x.fsm.AppliedIndex(); i != 0 {
		t.Fatalf("unencodable command moved the applied index to %d", i)
	}
}

func TestDecodeUnknownType(t *testing.T) {
	for _, typ := range []byte{0, 0x3f, 0x42, 0x7f} {
		m, err := Decode([]byte{typ, 0x0a, 0x01, 'x'})
		var unknown *ErrUnknownCommand
		if m != nil || !errors.As(err, &unknown) {
			t.Fatalf("type %d: got (%v, %v), want *ErrUnknownCommand", typ, m, err)
		}
		if unknown.Type != CommandType(typ) || !strings.Contains(err.Error(), "upgrade") {
			t.Fatalf("type %d: error %+v %q", typ, unknown, err)
		}
	}
	// Ignorable entries are skipped even when their body is unreadable here.
	for _, typ := range []byte{0x80, 0x87, 0xc0, 0xff} {
		for _, body := range [][]byte{nil, {0xff, 0xff}} {
			if m, err := Decode(append([]byte{typ}, body...)); m != nil || err != nil {
				t.Fatalf("ignorable type %#x: got (%v, %v), want (nil, nil)", typ, m, err)
			}
		}
	}
}

func TestDecodeMalformed(t *testing.T) {
	push, stop := byte(CmdPushWorkflow), byte(CmdStopInstance)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"nil", nil},
		{"empty", []byte{}},
		{"length past the end", []byte{push, 0x0a, 0x05, 'e', 't'}},
		{"truncated varint", []byte{stop, 0x10, 0x80}},
		{"overlong varint", []byte{stop, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}},
		{"invalid wire type", []byte{push, 0x0f}},
		{"field number zero", []byte{push, 0x00, 0x01}},
		{"invalid UTF-8", []byte{push, 0x0a, 0x02, 0xff, 0xfe}},
		{"truncated nested message", []byte{byte(CmdApplyPlan), 0x12, 0x03, 0x0a, 0x08, 0x0a}},
	} {
		m, err := Decode(tc.data)
		if err == nil || m != nil {
			t.Fatalf("%s: got (%v, %v), want an error", tc.name, m, err)
		}
		if len(tc.data) > 0 && !strings.Contains(err.Error(), CommandType(tc.data[0]).String()) {
			t.Fatalf("%s: error %q does not name the command", tc.name, err)
		}
	}
}

func TestApplySkipsIgnorableEntry(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	before := contents(t, x.fsm)
	changed := x.fsm.Changed()
	if res := x.fsm.Apply(&raft.Log{Index: 2000, Type: raft.LogCommand, Data: []byte{0x80 | 9, 1, 2, 3}}); res != nil {
		t.Fatalf("ignorable entry returned %#v", res)
	}
	if i := x.fsm.AppliedIndex(); i != 2000 {
		t.Fatalf("applied index %d after an ignorable entry, want 2000", i)
	}
	if !bytes.Equal(before, contents(t, x.fsm)) || fired(changed) {
		t.Fatal("ignorable entry changed the state")
	}
	if res := x.fsm.Apply(&raft.Log{Index: 2001, Type: raft.LogNoop}); res != nil {
		t.Fatalf("no-op entry returned %#v", res)
	}
}

// An entry this node cannot read must stop it: skipping would diverge from
// the nodes that can.
func TestApplyPanicsOnUnreadableEntry(t *testing.T) {
	for _, data := range [][]byte{{0x3f}, {byte(CmdPushWorkflow), 0x0a, 0x05}} {
		f := New()
		func() {
			defer func() {
				if recover() == nil {
					t.Fatalf("Apply of %x did not panic", data)
				}
			}()
			f.Apply(&raft.Log{Index: 1, Type: raft.LogCommand, Data: data})
		}()
		if i := f.AppliedIndex(); i != 0 {
			t.Fatalf("unreadable entry moved the applied index to %d", i)
		}
	}
}

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// fixed point.
func FuzzDecode(f *testing.F) {
	for _, m := range sampleCommands() {
		data, err := Encode(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add([]byte{7})
	f.Add([]byte{0x85, 0x0a, 0x01})

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Decode(data)
		if err != nil {
			if m != nil {
				t.Fatalf("Decode returned both %v and %v", m, err)
			}
			return
		}
		if m == nil {
			if data[0]&byte(IgnorableFlag) == 0 {
				t.Fatalf("type %d skipped without the ignorable flag", data[0])
			}
			return
		}
		enc, err := Encode(m)
		if err != nil {
			t.Fatalf("decoded %T does not encode: %v", m, err)
		}
		if enc[0] != data[0] {
			t.Fatalf("type byte %d re-encodes as %d", data[0], enc[0])
		}
		m2, err := Decode(enc)
		if err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		enc2, err := Encode(m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point (err %v)", err)
		}
	})
}

// A deletion waits for every server to apply protocol 6; the protocol is
// asked only for commands of a newer type, so starts pay nothing.
func TestCheckProtocolRefusesNewerCommands(t *testing.T) {
	del := &statepb.DeleteWorkflow{WorkflowId: "w"}
	if rej := CheckProtocol(del, func() int { return 5 }); rej == nil || rej.Code != RejectFailedPrecondition ||
		!strings.Contains(rej.Msg, "needs every server at command protocol 6, and the oldest is at 5") {
		t.Fatalf("a deletion at protocol 5: %v", rej)
	}
	if rej := CheckProtocol(del, func() int { return 6 }); rej != nil {
		t.Fatalf("a deletion at protocol 6: %v", rej)
	}
	for _, cmd := range []proto.Message{&statepb.StartInstance{}, &statepb.WorkflowAction{}, &statepb.PushWorkflow{}} {
		if rej := CheckProtocol(cmd, func() int { t.Fatalf("protocol asked for a %T", cmd); return 0 }); rej != nil {
			t.Fatalf("%T: %v", cmd, rej)
		}
	}
}

// Until every server applies protocol 4, an operator's command goes out
// without its request id (and an unblock without the actor that makes
// newer builds record it), so older builds apply it as newer ones do; the
// protocol is asked only for such commands.
func TestForProtocolClearsNewerFields(t *testing.T) {
	commands := func() []proto.Message {
		return []proto.Message{
			&statepb.StopInstance{WorkflowId: "w", RequestId: "k"},
			&statepb.Action{WorkflowId: "w", Action: "SKIP", RequestId: "k"},
			&statepb.WorkflowAction{WorkflowId: "w", Action: WorkflowDeactivate, RequestId: "k"},
			&statepb.ActivateWorkflow{WorkflowId: "w", Version: 1, Actor: "anonymous", RequestId: "k"},
			&statepb.UnblockWorkflow{WorkflowId: "w", Actor: "anonymous", RequestId: "k"},
			&statepb.SetBreakpoint{WorkflowId: "w", StepId: "s", RequestId: "k"},
			&statepb.DeleteBreakpoint{WorkflowId: "w", StepId: "s", RequestId: "k"},
		}
	}
	for _, cmd := range commands() {
		before := proto.Clone(cmd)
		ForProtocol(cmd, func() int { return 4 })
		if !proto.Equal(cmd, before) {
			t.Errorf("protocol 4 changed %T: %v", cmd, cmd)
		}
		asked := false
		ForProtocol(cmd, func() int { asked = true; return 3 })
		if !asked {
			t.Errorf("%T: the protocol was not asked", cmd)
		}
		text := fmt.Sprint(cmd)
		if strings.Contains(text, `"k"`) {
			t.Errorf("protocol 3 kept the request id of %T: %s", cmd, text)
		}
		if u, ok := cmd.(*statepb.UnblockWorkflow); ok && u.Actor != "" {
			t.Errorf("protocol 3 kept the unblock's actor %q", u.Actor)
		}
		if a, ok := cmd.(*statepb.ActivateWorkflow); ok && a.Actor != "anonymous" {
			t.Errorf("protocol 3 cleared the activation's actor (protocol 1)")
		}
	}
	// A deletion keeps push and start request ids from protocol 7.
	del := &statepb.DeleteWorkflow{WorkflowId: "w", RequestId: "k", KeepRequestIds: true}
	if ForProtocol(del, func() int { return 7 }); !del.KeepRequestIds {
		t.Error("protocol 7 cleared keep_request_ids")
	}
	if ForProtocol(del, func() int { return 6 }); del.KeepRequestIds || del.RequestId != "k" {
		t.Errorf("protocol 6: %v, want keep_request_ids cleared and the deletion's own request id kept", del)
	}
	start := &statepb.StartInstance{WorkflowId: "w", RequestId: "k"}
	ForProtocol(start, func() int { t.Fatal("protocol asked for a start"); return 0 })
	if start.RequestId != "k" {
		t.Error("a start's request id (protocol 1) was cleared")
	}

	// Applied without the newer fields, an unblock records no action and a
	// workflow action's event no target, as older builds do.
	x := newFixture(t)
	x.runningInstance()
	unblock := &statepb.UnblockWorkflow{WorkflowId: wfETL, Now: at(3), Actor: "anonymous", RequestId: "u"}
	ForProtocol(unblock, func() int { return 3 })
	applyAs[*UnblockResult](x, unblock)
	disable := workflowAction(WorkflowDisableTriggers, true, false, "", 4)
	disable.RequestId = "d"
	ForProtocol(disable, func() int { return 3 })
	applyAs[*WorkflowActionResult](x, disable)
	events := x.state().Events(nil, wfETL, 0, 0)
	if len(events) != 1 || events[0].Action != WorkflowDisableTriggers || events[0].Target != "" || events[0].RequestId != "" {
		t.Fatalf("workflow timeline without protocol 4: %v", events)
	}
}
