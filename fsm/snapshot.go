package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

// snapshotMagic starts every snapshot; its last byte is the format version.
var snapshotMagic = []byte("BATONSNAP\x01")

// Record types in a snapshot stream. Values are part of the format.
const (
	recMeta       byte = 1
	recWorkflow   byte = 2
	recVersion    byte = 3
	recInstance   byte = 4
	recStep       byte = 5
	recEvent      byte = 6
	recTrigger    byte = 7
	recSignal     byte = 8
	recBreakpoint byte = 9
	// Protocol 6: only a cluster that deletes workflows writes these.
	recDeletedWorkflow byte = 10
)

// maxRecordLen bounds one record of a snapshot, and both sides enforce it:
// WriteSnapshot refuses to write a bigger record (so Persist fails loudly
// instead of leaving a snapshot that no node can restore), and ReadSnapshot
// refuses to read one. It is not what protects the reader from a corrupt
// length prefix (readRecordBody does that), so it can be generous: records
// grow with history (a step keeps every attempt and its params) and one of
// a few hundred MB must still restore. A variable so tests can lower it.
var maxRecordLen uint64 = 1 << 30

// recordReadChunk is how much ReadSnapshot allocates for a record before any
// of its bytes have arrived. The buffer then grows as bytes actually arrive,
// so a corrupt length prefix costs about twice the bytes the stream really
// holds, not the length it claims. A variable so tests can lower it.
var recordReadChunk = 64 << 10

// snapshotTables lists what a snapshot holds, in the order it is written.
var snapshotTables = []struct {
	table string
	rec   byte
	new   func() proto.Message
}{
	{tableWorkflows, recWorkflow, func() proto.Message { return &statepb.Workflow{} }},
	{tableVersions, recVersion, func() proto.Message { return &statepb.WorkflowVersion{} }},
	{tableInstances, recInstance, func() proto.Message { return &statepb.Instance{} }},
	{tableSteps, recStep, func() proto.Message { return &statepb.Step{} }},
	{tableEvents, recEvent, func() proto.Message { return &statepb.Event{} }},
	{tableTriggers, recTrigger, func() proto.Message { return &statepb.Trigger{} }},
	{tableSignals, recSignal, func() proto.Message { return &statepb.Signal{} }},
	{tableBreakpoints, recBreakpoint, func() proto.Message { return &statepb.Breakpoint{} }},
	{tableDeletedWorkflows, recDeletedWorkflow, func() proto.Message { return &statepb.DeletedWorkflow{} }},
}

type snapshot struct {
	db    *memdb.MemDB
	index uint64
}

func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := WriteSnapshot(sink, s.db, s.index); err != nil {
		_ = sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *snapshot) Release() {}

// WriteSnapshot writes every record of db as a stream of
// (type byte, uvarint length, protobuf) after a magic header.
func WriteSnapshot(w io.Writer, db *memdb.MemDB, index uint64) error {
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(snapshotMagic); err != nil {
		return fmt.Errorf("write snapshot header: %w", err)
	}
	var lenBuf [binary.MaxVarintLen64]byte
	write := func(rec byte, body []byte) error {
		if err := bw.WriteByte(rec); err != nil {
			return err
		}
		n := binary.PutUvarint(lenBuf[:], uint64(len(body)))
		if _, err := bw.Write(lenBuf[:n]); err != nil {
			return err
		}
		_, err := bw.Write(body)
		return err
	}
	meta := binary.BigEndian.AppendUint64(nil, index)
	if err := write(recMeta, meta); err != nil {
		return fmt.Errorf("write snapshot meta: %w", err)
	}
	txn := db.Txn(false)
	opts := proto.MarshalOptions{Deterministic: true}
	for _, t := range snapshotTables {
		it, err := txn.Get(t.table, "id_prefix")
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", t.table, err)
		}
		for o := it.Next(); o != nil; o = it.Next() {
			body, err := opts.Marshal(o.(proto.Message))
			if err != nil {
				return fmt.Errorf("snapshot %s record %s: %w", t.table, recordKey(db, t.table, o), err)
			}
			if uint64(len(body)) > maxRecordLen {
				return fmt.Errorf("snapshot %s record %s is %d bytes, over the %d-byte record limit: no node could restore it",
					t.table, recordKey(db, t.table, o), len(body), maxRecordLen)
			}
			if err := write(t.rec, body); err != nil {
				return fmt.Errorf("write snapshot %s record: %w", t.table, err)
			}
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flush snapshot: %w", err)
	}
	return nil
}

// ReadSnapshot parses a snapshot stream into a fresh state store.
func ReadSnapshot(r io.Reader) (*memdb.MemDB, uint64, error) {
	br := bufio.NewReader(r)
	head := make([]byte, len(snapshotMagic))
	if _, err := io.ReadFull(br, head); err != nil {
		return nil, 0, fmt.Errorf("read header: %w", err)
	}
	if string(head) != string(snapshotMagic) {
		return nil, 0, fmt.Errorf("not a Baton snapshot (bad header)")
	}
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return nil, 0, err
	}
	txn := db.Txn(true)
	defer txn.Abort()
	var index uint64
	for n := 0; ; n++ {
		rec, err := br.ReadByte()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, fmt.Errorf("record %d: %w", n, err)
		}
		size, err := binary.ReadUvarint(br)
		if err != nil {
			return nil, 0, fmt.Errorf("record %d length: %w", n, err)
		}
		if size > maxRecordLen {
			return nil, 0, fmt.Errorf("record %d: length %d over the %d-byte limit", n, size, maxRecordLen)
		}
		body, err := readRecordBody(br, int(size))
		if err != nil {
			return nil, 0, fmt.Errorf("record %d body: %w", n, err)
		}
		if rec == recMeta {
			if len(body) != 8 {
				return nil, 0, fmt.Errorf("record %d: bad meta record", n)
			}
			index = binary.BigEndian.Uint64(body)
			continue
		}
		found := false
		for _, t := range snapshotTables {
			if t.rec != rec {
				continue
			}
			found = true
			m := t.new()
			if err := proto.Unmarshal(body, m); err != nil {
				return nil, 0, fmt.Errorf("record %d (%s): %w", n, t.table, err)
			}
			if err := txn.Insert(t.table, m); err != nil {
				return nil, 0, fmt.Errorf("record %d (%s): %w", n, t.table, err)
			}
		}
		if !found {
			return nil, 0, fmt.Errorf("record %d: unknown record type %d", n, rec)
		}
	}
	txn.Commit()
	return db, index, nil
}

// readRecordBody reads the size-byte body of a record. The size comes from
// the stream and may be corrupt, so it is not trusted for allocation: the
// buffer starts at recordReadChunk at most and doubles (up to size) only as
// bytes arrive. A length that runs past the end of the stream then fails
// with io.ErrUnexpectedEOF having allocated about twice what was there.
func readRecordBody(r io.Reader, size int) ([]byte, error) {
	body := make([]byte, 0, min(size, max(recordReadChunk, 1)))
	for len(body) < size {
		if len(body) == cap(body) {
			grown := make([]byte, len(body), min(size, 2*cap(body)))
			copy(grown, body)
			body = grown
		}
		got, err := io.ReadFull(r, body[len(body):cap(body)])
		body = body[:len(body)+got]
		if err != nil {
			if errors.Is(err, io.EOF) {
				// Bytes were owed, so a clean end of stream is a truncation.
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("%w after %d of %d bytes", err, len(body), size)
		}
	}
	return body, nil
}

// recordKey names a record in an error by the parts of its table's id index
// (e.g. "etl/1/extract" for a step), so an operator can find it.
func recordKey(db *memdb.MemDB, table string, obj any) string {
	ts, ok := db.DBSchema().Tables[table]
	if !ok {
		return "(unknown table)"
	}
	idx, ok := ts.Indexes["id"]
	if !ok {
		return "(no id index)"
	}
	fi, ok := idx.Indexer.(funcIndex)
	if !ok {
		return "(unnamed)"
	}
	parts, ok := fi.parts(obj)
	if !ok {
		return "(unnamed)"
	}
	names := make([]string, len(parts))
	for i, p := range parts {
		names[i] = fmt.Sprint(p)
	}
	return strings.Join(names, "/")
}
