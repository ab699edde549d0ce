package fsm

import (
	"testing"

	"github.com/hashicorp/go-memdb"

	"github.com/batonhq/baton/fsm/statepb"
)

// checkIndexes fails the test unless every secondary index of every table
// holds exactly the keys its records have now, each naming the record the
// id index holds: what an update made in place (without a fresh insert)
// must not break.
func checkIndexes(t testing.TB, f *FSM) {
	t.Helper()
	f.mu.RLock()
	txn := f.db.Txn(false)
	f.mu.RUnlock()
	for table, ts := range schema().Tables {
		var records []any
		it, err := txn.Get(table, "id_prefix")
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for o := it.Next(); o != nil; o = it.Next() {
			records = append(records, o)
		}
		for name, is := range ts.Indexes {
			if name == "id" {
				continue
			}
			parts := is.Indexer.(funcIndex).parts
			want := 0
			for _, o := range records {
				p, ok := parts(o)
				if !ok {
					continue
				}
				want++
				if got, err := txn.First(table, name, p...); err != nil || got != o {
					t.Fatalf("%s index %s: the key %v of %+v leads to %+v (%v)", table, name, p, o, got, err)
				}
			}
			if got := count(t, txn, table, name); got != want {
				t.Fatalf("%s index %s: %d entries for %d records with a key", table, name, got, want)
			}
		}
	}
}

// checkTimelines fails the test unless every instance's and workflow's
// timeline is numbered 1 to its LastEventSeq without a gap: what a timeline
// number taken on a copy stored late (or never) would break.
func checkTimelines(t testing.TB, f *FSM) {
	t.Helper()
	f.mu.RLock()
	txn := f.db.Txn(false)
	f.mu.RUnlock()
	want := map[InstanceKey]int64{}
	it, err := txn.Get(tableInstances, "id_prefix")
	if err != nil {
		t.Fatal(err)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		i := o.(*statepb.Instance)
		want[KeyOfInstance(i)] = i.LastEventSeq
	}
	if it, err = txn.Get(tableWorkflows, "id_prefix"); err != nil {
		t.Fatal(err)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		w := o.(*statepb.Workflow)
		want[InstanceKey{WorkflowID: w.WorkflowId, InstanceID: 0}] = w.LastEventSeq
	}
	// A deleted workflow's own timeline stays, up to the number it had,
	// until the leader deletes it; one pushed again numbers on from there.
	if it, err = txn.Get(tableDeletedWorkflows, "id_prefix"); err != nil {
		t.Fatal(err)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		d := o.(*statepb.DeletedWorkflow)
		if k := (InstanceKey{WorkflowID: d.WorkflowId}); want[k] < d.LastEventSeq {
			if _, live := want[k]; live {
				t.Fatalf("workflow %s numbers its timeline to %d, below the %d its deleted namesake reached", d.WorkflowId, want[k], d.LastEventSeq)
			}
			want[k] = d.LastEventSeq
		}
	}
	// An instance's timeline holds every number from 1 to LastEventSeq; a
	// workflow's own holds the newest of them without a gap (retention
	// deletes its oldest actions), or none.
	got, last := map[InstanceKey]int64{}, map[InstanceKey]int64{}
	if it, err = txn.Get(tableEvents, "id_prefix"); err != nil {
		t.Fatal(err)
	}
	for o := it.Next(); o != nil; o = it.Next() {
		e := o.(*statepb.Event)
		k := InstanceKey{WorkflowID: e.WorkflowId, InstanceID: e.InstanceId}
		if _, ok := want[k]; !ok {
			t.Fatalf("event %+v: no such instance or workflow", e)
		}
		prev, seen := last[k]
		if !seen && k.InstanceID == 0 {
			prev = e.Seq - 1
		}
		if e.Seq != prev+1 {
			t.Fatalf("timeline of %s/%d: event %d follows %d", k.WorkflowID, k.InstanceID, e.Seq, prev)
		}
		last[k] = e.Seq
		got[k]++
	}
	for k, n := range want {
		if k.InstanceID == 0 && got[k] == 0 {
			continue // every action deleted
		}
		if last[k] != n || (k.InstanceID != 0 && got[k] != n) {
			t.Fatalf("timeline of %s/%d: %d events up to %d, LastEventSeq %d", k.WorkflowID, k.InstanceID, got[k], last[k], n)
		}
	}
}

func count(t testing.TB, txn *memdb.Txn, table, index string) int {
	t.Helper()
	it, err := txn.Get(table, index)
	if err != nil {
		t.Fatalf("%s index %s: %v", table, index, err)
	}
	n := 0
	for o := it.Next(); o != nil; o = it.Next() {
		n++
	}
	return n
}
