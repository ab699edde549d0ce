package fsm

import (
	"math"
	"testing"

	"github.com/hashicorp/go-memdb"

	"github.com/batonhq/baton/fsm/statepb"
)

// eventsByScan is what Events must return: every event of the instance, read
// by walking its whole timeline, with seq > afterSeq.
func eventsByScan(st *State, workflowID string, instanceID, afterSeq int64) []*statepb.Event {
	var out []*statepb.Event
	it, err := st.txn.Get(tableEvents, "id_prefix", workflowID, instanceID)
	if err != nil {
		return nil
	}
	for o := it.Next(); o != nil; o = it.Next() {
		if e := o.(*statepb.Event); e.Seq > afterSeq {
			out = append(out, e)
		}
	}
	return out
}

// Events seeks into the timeline; it must return exactly what a walk of the
// timeline filtered by seq returns, for every cursor, and stop at the
// instance's end although the next instance's events follow in the index.
func TestEventsAfterSeekMatchesTheScan(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	for i := range 3 {
		applyAs[*StartResult](x, startCmd(wfETL, "req-more-"+string(rune('a'+i)), 1, 3+i))
	}
	applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 9))
	applyAs[*StopResult](x, stopCmd(wfETL, 3, "enough", 10))
	st := x.state()
	checked := 0
	for _, inst := range []int64{0, 1, 2, 3, 4, 5} {
		all := eventsByScan(st, wfETL, inst, math.MinInt64)
		cursors := []int64{math.MinInt64, -1, 0, 1, int64(len(all)) - 1, int64(len(all)), int64(len(all)) + 1, math.MaxInt64 - 1, math.MaxInt64}
		for seq := int64(0); seq <= int64(len(all)); seq++ {
			cursors = append(cursors, seq)
		}
		for _, after := range cursors {
			got, want := st.Events(nil, wfETL, inst, after), eventsByScan(st, wfETL, inst, after)
			if len(got) != len(want) {
				t.Fatalf("instance %d after %d: %d events, want %d", inst, after, len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("instance %d after %d: event %d is seq %d, want seq %d", inst, after, i, got[i].Seq, want[i].Seq)
				}
			}
			checked += len(want)
		}
	}
	if checked == 0 {
		t.Fatal("the fixture has no events to compare")
	}
	if n := len(st.Events(nil, "no-such-workflow", 1, 0)); n != 0 {
		t.Fatalf("an unknown workflow has %d events", n)
	}
	ws := memdb.NewWatchSet()
	st.Events(ws, wfETL, 1, math.MaxInt64)
	if len(ws) == 0 {
		t.Fatal("a read past the last event watches nothing, so a Watch would never wake")
	}
}
