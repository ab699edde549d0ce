package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm/statepb"
)

var _ raft.BatchingFSM = (*FSM)(nil)

// sharesTxn reports whether a command can be applied in a transaction
// shared with the commands around it: it never relies on its own
// transaction being aborted. A refused start or result writes nothing, and
// a plan keeps exactly the actions that applied (an action that does not
// apply writes nothing), however the transaction ends.
func sharesTxn(m proto.Message) bool {
	switch m.(type) {
	case *statepb.StartInstance, *statepb.ApplyPlan, *statepb.ReportResult:
		return true
	}
	return false
}

// ApplyBatch applies the entries Raft committed together. Runs of the
// commands that share a transaction (sharesTxn) are applied in one, so the
// store's copy-on-write trees copy their upper nodes once per run instead
// of once per entry; any other command gets its own, as in Apply.
func (f *FSM) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	var txn *memdb.Txn
	wroteAny, triggers, writes := false, false, 0
	// What each entry of the transaction wrote goes to the feed once it
	// commits; an aborted one wrote nothing.
	type entryWrites struct {
		index uint64
		keys  []InstanceKey
	}
	var touched []entryWrites
	flush := func() {
		if txn == nil {
			return
		}
		if wroteAny {
			txn.Commit()
			for _, t := range touched {
				f.writes.add(t.index, t.keys)
			}
			if triggers {
				f.triggerEpoch++
			}
			f.notifyLocked()
		} else {
			txn.Abort()
		}
		txn, wroteAny, triggers, writes, touched = nil, false, false, 0, touched[:0]
	}
	for i, l := range logs {
		if l.Type != raft.LogCommand {
			continue
		}
		m, err := Decode(l.Data)
		if err != nil {
			panic(fmt.Sprintf("raft log index %d: %v", l.Index, err))
		}
		f.applied = l.Index
		if m == nil {
			continue
		}
		if !sharesTxn(m) {
			flush()
			out[i] = f.applyLocked(l.Index, m)
			continue
		}
		if txn == nil {
			txn = f.db.Txn(true)
		}
		a := &applier{txn: txn, index: l.Index, db: f.db, writes: writes}
		out[i] = a.apply(m)
		txn, writes = a.txn, a.writes
		if len(a.touched) > 0 {
			touched = append(touched, entryWrites{index: l.Index, keys: a.touched})
		}
		if wrote(out[i]) || a.committed {
			wroteAny = true
			triggers = triggers || a.triggerInputs
		}
		if writes >= splitWrites {
			flush()
		}
	}
	flush()
	return out
}
