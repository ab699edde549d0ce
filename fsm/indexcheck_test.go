package fsm

import (
	"testing"

	"github.com/hashicorp/go-memdb"
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
