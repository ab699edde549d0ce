package fsm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// setRecordLimits lowers the record limits for one test, so that records of
// a few MB stand in for ones of hundreds of MB.
func setRecordLimits(t *testing.T, maxLen uint64, chunk int) {
	t.Helper()
	oldMax, oldChunk := maxRecordLen, recordReadChunk
	maxRecordLen, recordReadChunk = maxLen, chunk
	t.Cleanup(func() { maxRecordLen, recordReadChunk = oldMax, oldChunk })
}

// retriedStep is a step that ran attempts times, each attempt keeping the
// evaluated param it ran with (a paramBytes-long upstream output), as
// every retry and restart does. All attempts share one string, so only the
// encoded record is big.
func retriedStep(attempts, paramBytes int) *statepb.Step {
	big := strings.Repeat("x", paramBytes)
	st := &statepb.Step{WorkflowId: wfETL, InstanceId: 1, StepId: "extract", Status: StepUserFailed}
	for i := 1; i <= attempts; i++ {
		st.Attempts = append(st.Attempts, &statepb.Attempt{
			AttemptNumber: int64(i),
			AttemptId:     fmt.Sprintf("%s/1/extract/%d", wfETL, i),
			Status:        StepUserFailed,
			Params:        map[string]*statepb.Param{"rows": param("STRING", big)},
		})
	}
	return st
}

// storeWith returns a state store holding only st.
func storeWith(t *testing.T, st *statepb.Step) *memdb.MemDB {
	t.Helper()
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		t.Fatal(err)
	}
	txn := db.Txn(true)
	if err := txn.Insert(tableSteps, st); err != nil {
		t.Fatal(err)
	}
	txn.Commit()
	return db
}

// TestSnapshotWriterAndReaderAgreeOnRecordSize is the invariant the record
// limit must keep: whatever WriteSnapshot (and so Persist) writes,
// ReadSnapshot (and so every Restore) reads. A record over the limit fails
// the write, naming the record; one under it, however much bigger than what
// the reader first allocates, reads back whole.
func TestSnapshotWriterAndReaderAgreeOnRecordSize(t *testing.T) {
	setRecordLimits(t, 1<<20, 4<<10)

	for _, tc := range []struct {
		name     string
		attempts int
		fits     bool
	}{
		{"under the limit", 7, true},  // ~700 KB: 170 times the first allocation
		{"over the limit", 20, false}, // ~2 MB
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := retriedStep(tc.attempts, 100<<10)
			db := storeWith(t, st)
			var buf bytes.Buffer
			werr := WriteSnapshot(&buf, db, 42)
			if werr == nil {
				got, index, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
				if err != nil {
					t.Fatalf("wrote a %d-byte snapshot that cannot be read back: %v", buf.Len(), err)
				}
				if index != 42 {
					t.Fatalf("index %d read back, want 42", index)
				}
				raw, err := got.Txn(false).First(tableSteps, "id", wfETL, int64(1), "extract")
				if err != nil || raw == nil {
					t.Fatalf("step not restored: %v", err)
				}
				if !proto.Equal(raw.(*statepb.Step), st) {
					t.Fatal("restored step differs from the one written")
				}
			}
			if tc.fits {
				if werr != nil {
					t.Fatalf("write of a record under the limit: %v", werr)
				}
				return
			}
			if werr == nil {
				t.Fatal("a record over the limit was written")
			}
			for _, want := range []string{"steps", wfETL + "/1/extract", "over the"} {
				if !strings.Contains(werr.Error(), want) {
					t.Fatalf("write error %q does not mention %q", werr, want)
				}
			}

			// Persist must cancel the sink rather than leave a snapshot no
			// node can restore.
			sink := &memSink{}
			if err := (&snapshot{db: db, index: 42}).Persist(sink); err == nil {
				t.Fatal("persist of a record over the limit succeeded")
			}
			if !sink.cancelled || sink.closed {
				t.Fatalf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
			}
		})
	}
}

// TestSnapshotRoundTripsRecordOverOldLimit is the reported case at full
// size: 70 attempts of a step that ran with a 1 MB upstream output make a
// record of over 70 MB, which the reader used to reject (its limit was
// 64 MB) after the writer had written it.
func TestSnapshotRoundTripsRecordOverOldLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 70 MB record")
	}
	st := retriedStep(70, 1<<20)
	var buf bytes.Buffer
	if err := WriteSnapshot(&buf, storeWith(t, st), 7); err != nil {
		t.Fatalf("write: %v", err)
	}
	if buf.Len() <= 64<<20 {
		t.Fatalf("snapshot is only %d bytes; the test needs a record over 64 MB", buf.Len())
	}
	db, _, err := ReadSnapshot(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatalf("read back a %d-byte snapshot: %v", buf.Len(), err)
	}
	raw, err := db.Txn(false).First(tableSteps, "id", wfETL, int64(1), "extract")
	if err != nil || raw == nil {
		t.Fatalf("step not restored: %v", err)
	}
	if !proto.Equal(raw.(*statepb.Step), st) {
		t.Fatal("restored step differs from the one written")
	}
}

// TestReadSnapshotBogusLengthAllocatesLittle feeds a length prefix that is
// under the record limit but far beyond the stream: the read must fail as a
// truncation without allocating the claimed length (which is what the old
// small limit guarded against, and what fuzzing would otherwise trip on).
func TestReadSnapshotBogusLengthAllocatesLittle(t *testing.T) {
	claimed := maxRecordLen - 1
	data := append([]byte{}, snapshotMagic...)
	data = append(data, recStep)
	data = binary.AppendUvarint(data, claimed)
	data = append(data, bytes.Repeat([]byte{1}, 100<<10)...)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := ReadSnapshot(bytes.NewReader(data))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("read of a record claiming %d bytes: %v, want unexpected EOF", claimed, err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
		t.Fatalf("read of a %d-byte stream claiming a %d-byte record allocated %d bytes", len(data), claimed, got)
	}
}
