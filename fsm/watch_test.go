package fsm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/go-memdb"
)

// quiet is how long a watch must stay silent to count as not fired. Waiting
// longer can only hide a spurious wake-up, never fail a correct store.
const quiet = 50 * time.Millisecond

// upperBound is how long a watch may take to fire before the test fails.
const upperBound = 5 * time.Second

func TestWatchFiresOnNewEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(st *State, ws WatchSet)
	}{
		{"Instance", func(st *State, ws WatchSet) { st.Instance(ws, wfETL, 1) }},
		{"Events", func(st *State, ws WatchSet) { st.Events(ws, wfETL, 1, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			x := newFixture(t)
			gen := x.runningInstance()
			applyAs[*StartResult](x, startCmd(wfETL, "req-2", 1, 3))
			lastSeq := x.state().Instance(nil, wfETL, 1).LastEventSeq

			ws := memdb.NewWatchSet()
			tc.read(x.state(), ws)

			// No-ops and changes to another instance leave instance 1 as it was.
			x.reject(stopCmd(wfETL, 9, "", 4), RejectNotFound)
			applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen+1, AttemptSucceeded, 4))
			applyAs[*StopResult](x, stopCmd(wfETL, 2, "elsewhere", 4))
			ctx, cancel := context.WithTimeout(context.Background(), quiet)
			err := ws.WatchCtx(ctx)
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("watch fired with instance 1 unchanged: %v", err)
			}

			done := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), upperBound)
				defer cancel()
				done <- ws.WatchCtx(ctx)
			}()
			applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 5))
			if err := <-done; err != nil {
				t.Fatalf("watch did not fire after an event was appended: %v", err)
			}

			st := x.state()
			evs := st.Events(nil, wfETL, 1, lastSeq)
			if len(evs) != 1 || evs[0].Seq != lastSeq+1 || evs[0].Status != StepSucceeded || evs[0].StepId != "extract" {
				t.Fatalf("events after seq %d: %v, want the SUCCEEDED event", lastSeq, evs)
			}
			if got := st.Instance(nil, wfETL, 1).LastEventSeq; got != lastSeq+1 {
				t.Fatalf("last event seq %d, want %d", got, lastSeq+1)
			}
		})
	}
}

func TestChangedClosesOnWrite(t *testing.T) {
	x := newFixture(t)
	gen := x.runningInstance()
	changed := x.fsm.Changed()
	if fired(changed) {
		t.Fatal("Changed is closed before any further write")
	}
	applyAs[*ReportResultOutcome](x, reportCmd("extract", 1, gen, AttemptSucceeded, 5))
	if !fired(changed) {
		t.Fatal("Changed not closed by an accepted result")
	}
	if fired(x.fsm.Changed()) {
		t.Fatal("the next Changed channel is already closed")
	}
}
