package fsm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// busySource builds a store that uses every table and index: two versions
// (the older active), a finished step with outputs, a step running on
// node-b, and a second CREATED instance. It returns the generation of the
// running load attempt.
func busySource(x *fixture) uint64 {
	x.t.Helper()
	gen := x.runningInstance()
	rep := reportCmd("extract", 1, gen, AttemptSucceeded, 10)
	rep.Outputs = map[string]*statepb.Param{"rows": param("LONG", 42.0)}
	applyAs[*ReportResultOutcome](x, rep)
	x.plan(11, assignAct(wfETL, 1, "load", 1, nodeB))
	loadGen := x.lastIndex()
	applyAs[*PushResult](x, pushCmd(wfETL, defETL2, 12))
	applyAs[*ActivateResult](x, &statepb.ActivateWorkflow{WorkflowId: wfETL, Version: 1, Now: at(13)})
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 14))
	return loadGen
}

func TestRestoreReplacesState(t *testing.T) {
	src := newFixture(t)
	loadGen := busySource(src)
	data := snapshotBytes(t, src.fsm)

	dst := newFixture(t)
	dst.next = 5000
	applyAs[*PushResult](dst, pushCmd("legacy", defETL, 0))
	applyAs[*StartResult](dst, startCmd("legacy", "req-legacy", 1, 1))
	dst.plan(2, instanceAct("legacy", 1, InstanceCreated, InstanceInProgress, ""), assignAct("legacy", 1, "extract", 1, nodeA))
	ws := memdb.NewWatchSet()
	dst.state().Instance(ws, "legacy", 1)
	changed := dst.fsm.Changed()

	rc := readCloser(data)
	if err := dst.fsm.Restore(rc); err != nil {
		t.Fatalf("restore: %v", err)
	}
	if !rc.closed {
		t.Fatal("Restore did not close the snapshot reader")
	}
	if got := snapshotBytes(t, dst.fsm); !bytes.Equal(got, data) {
		t.Fatalf("restored FSM snapshots to %d bytes that differ from the source's %d", len(got), len(data))
	}
	if got, want := dst.fsm.AppliedIndex(), src.fsm.AppliedIndex(); got != want {
		t.Fatalf("applied index %d after restore, want %d", got, want)
	}

	ctx, cancel := context.WithTimeout(context.Background(), upperBound)
	defer cancel()
	if err := ws.WatchCtx(ctx); err != nil {
		t.Fatalf("watch taken before restore did not fire: %v", err)
	}
	if !fired(changed) {
		t.Fatal("Changed not closed by restore")
	}

	got, want := dst.state(), src.state()
	if w := got.Workflow(nil, "legacy"); w != nil {
		t.Fatalf("old workflow survived restore: %v", w)
	}
	if i := got.InstanceByRequest("req-legacy"); i != nil {
		t.Fatalf("old request id survived restore: %v", i)
	}
	if on := got.StepsOnNode(nil, nodeA); len(on) != 0 {
		t.Fatalf("old node index entry survived restore: %v", on)
	}
	for _, pair := range [][2]proto.Message{
		{got.Workflow(nil, wfETL), want.Workflow(nil, wfETL)},
		{got.Version(nil, wfETL, 2), want.Version(nil, wfETL, 2)},
		{got.Instance(nil, wfETL, 1), want.Instance(nil, wfETL, 1)},
		{got.InstanceByRequest("req-2"), want.InstanceByRequest("req-2")},
		{got.Step(nil, wfETL, 1, "extract"), want.Step(nil, wfETL, 1, "extract")},
	} {
		if !proto.Equal(pair[0], pair[1]) {
			t.Fatalf("restored %v, source has %v", pair[0], pair[1])
		}
	}
	if w := got.Workflow(nil, wfETL); w.ActiveVersion != 1 || w.LatestVersion != 2 || w.LastInstanceId != 2 {
		t.Fatalf("restored workflow = %v", w)
	}
	on := got.StepsOnNode(nil, nodeB)
	if len(on) != 1 || on[0].StepId != "load" || on[0].Attempts[0].Generation != loadGen {
		t.Fatalf("restored StepsOnNode(node-b) = %v, want load at generation %d", on, loadGen)
	}
	if a := got.ActiveInstances(nil); len(a) != 2 {
		t.Fatalf("%d active instances restored, want 2", len(a))
	}
	if g, w := len(got.Events(nil, wfETL, 1, 0)), len(want.Events(nil, wfETL, 1, 0)); g != w || g == 0 {
		t.Fatalf("restored %d events, source has %d", g, w)
	}

	// From here the restored FSM must follow the log exactly as its source.
	dst.next = src.next
	applyAs[*ReportResultOutcome](src, reportCmd("load", 1, loadGen, AttemptSucceeded, 20))
	if out := applyAs[*ReportResultOutcome](dst, reportCmd("load", 1, loadGen, AttemptSucceeded, 20)); !out.Accepted {
		t.Fatalf("restored FSM refused the running attempt's result: %s", out.Reason)
	}
	if !bytes.Equal(snapshotBytes(t, src.fsm), snapshotBytes(t, dst.fsm)) {
		t.Fatal("source and restored FSM diverged on the next entry")
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	want := snapshotBytes(t, x.fsm)
	wantIndex := x.fsm.AppliedIndex()

	snap, err := x.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 10))
	applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 11))
	applyAs[*StopResult](x, stopCmd(wfETL, 1, "", 12))
	if got := persist(t, snap); !bytes.Equal(got, want) {
		t.Fatal("snapshot persisted after later entries includes them")
	}

	db, index, err := ReadSnapshot(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	if index != wantIndex {
		t.Fatalf("snapshot index %d, want %d", index, wantIndex)
	}
	if o, _ := db.Txn(false).First(tableInstances, "id", wfETL, int64(2)); o != nil {
		t.Fatalf("snapshot holds instance 2, started after it: %v", o)
	}

	// Raft persists on its own goroutine while the FSM keeps applying; the
	// race detector checks that the two share nothing mutable.
	want = snapshotBytes(t, x.fsm)
	snap, err = x.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	type persisted struct {
		data []byte
		err  error
	}
	done := make(chan persisted, 1)
	go func() {
		sink := &memSink{}
		err := snap.Persist(sink)
		done <- persisted{sink.Bytes(), err}
	}()
	for i := 3; i <= 20; i++ {
		applyAs[*StartResult](x, startCmd(wfETL, fmt.Sprintf("req-%d", i), 1, 20+i))
	}
	p := <-done
	if p.err != nil {
		t.Fatalf("concurrent persist: %v", p.err)
	}
	if !bytes.Equal(p.data, want) {
		t.Fatal("snapshot persisted during later applies includes them")
	}
}

func TestRestoreFailureKeepsState(t *testing.T) {
	src := newFixture(t)
	busySource(src)
	good := snapshotBytes(t, src.fsm)

	x := newFixture(t)
	x.runningInstance()
	before := snapshotBytes(t, x.fsm)
	ws := memdb.NewWatchSet()
	x.state().Instance(ws, wfETL, 1)

	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"wrong magic", append([]byte("BATONSNAP\x02"), good[10:]...)},
		{"truncated record", good[:len(good)-3]},
		{"unknown record type", append(append([]byte{}, good...), 99, 0)},
		{"short meta", append(append([]byte{}, good...), recMeta, 1, 0)},
		{"long meta", append(append([]byte{}, good...), recMeta, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0)},
		{"record over the limit", append(append([]byte{}, good...), recEvent, 0xff, 0xff, 0xff, 0xff, 0x7f)},
		{"garbage protobuf", append(append([]byte{}, good...), recStep, 2, 0xff, 0xff)},
	} {
		rc := readCloser(tc.data)
		if err := x.fsm.Restore(rc); err == nil {
			t.Fatalf("%s: restore succeeded", tc.name)
		}
		if !rc.closed {
			t.Fatalf("%s: reader not closed", tc.name)
		}
		if !bytes.Equal(before, snapshotBytes(t, x.fsm)) {
			t.Fatalf("%s: failed restore changed the state", tc.name)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), quiet)
	defer cancel()
	if err := ws.WatchCtx(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("failed restores woke a watcher: %v", err)
	}
}

func TestRestoreEmptySnapshot(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	restore(t, x.fsm, snapshotBytes(t, New()))
	st := x.state()
	if w := st.Workflows(nil); len(w) != 0 {
		t.Fatalf("workflows after restoring an empty snapshot: %v", w)
	}
	if c := st.RunningCounts(); len(c) != 0 {
		t.Fatalf("running counts after restoring an empty snapshot: %v", c)
	}
	if i := x.fsm.AppliedIndex(); i != 0 {
		t.Fatalf("applied index %d, want 0", i)
	}
}

func TestPersistFailureCancelsSink(t *testing.T) {
	x := newFixture(t)
	x.runningInstance()
	snap, err := x.fsm.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{fail: true}
	if err := snap.Persist(sink); err == nil {
		t.Fatal("persist to a failing sink succeeded")
	}
	if !sink.cancelled || sink.closed {
		t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

// FuzzReadSnapshot feeds arbitrary bytes to ReadSnapshot: it must never
// panic, and whatever it accepts must write back to a stable form.
func FuzzReadSnapshot(f *testing.F) {
	x := newFixture(f)
	busySource(x)
	good := snapshotBytes(f, x.fsm)
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(snapshotBytes(f, New()))
	f.Add(snapshotMagic)
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		db, index, err := ReadSnapshot(bytes.NewReader(data))
		if err != nil {
			return
		}
		var first bytes.Buffer
		if err := WriteSnapshot(&first, db, index); err != nil {
			t.Fatalf("write of an accepted snapshot: %v", err)
		}
		db2, index2, err := ReadSnapshot(bytes.NewReader(first.Bytes()))
		if err != nil {
			t.Fatalf("re-read of a written snapshot: %v", err)
		}
		if index2 != index {
			t.Fatalf("index %d became %d", index, index2)
		}
		var second bytes.Buffer
		if err := WriteSnapshot(&second, db2, index2); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Bytes(), second.Bytes()) {
			t.Fatal("snapshot not stable under read and write")
		}
	})
}
