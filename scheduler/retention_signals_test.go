package scheduler

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm/statepb"
)

// describeSignalDeletions lists deletions as name<=seq, in order.
func describeSignalDeletions(actions []*statepb.PlanAction) string {
	var out []string
	for _, a := range actions {
		d := a.GetDeleteSignals()
		out = append(out, fmt.Sprintf("%s<=%d", d.Name, d.ThroughSeq))
	}
	return strings.Join(out, " ")
}

// pruneSignals runs PruneSignals over every name in one pass.
func pruneSignals(px *planFixture, r Retention, limit int) ([]*statepb.PlanAction, int) {
	px.t.Helper()
	acts, n, _ := PruneSignals(px.f.State(), px.now, r, limit, "", 1000)
	return acts, n
}

func keptSignals(px *planFixture, name string) string {
	var out []string
	for _, sg := range px.f.State().SignalsAfter(nil, name, 0, 0) {
		out = append(out, fmt.Sprint(sg.Seq))
	}
	return strings.Join(out, ",")
}

// By count, each name keeps its newest signals, and older ones a signal
// trigger has not consumed or passed over stay until it has: here orders
// #1 waits for a prices partner, and fires with it after the deletions.
func TestPruneSignalsByCountKeepsWhatATriggerHasNotConsumed(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	// The trigger is set up before any signal.
	px.round()
	px.sendSignal("orders", map[string]any{"day": 500, "region": "eu"}) // #1: waits for prices
	for range 9 {
		px.sendSignal("orders", map[string]any{"day": 500, "region": "us"}) // #2-#10: can never fire
	}
	for i := range 6 {
		px.sendSignal("other", map[string]any{"n": i})
	}
	px.round()
	if tr := px.signalTrigger(); tr.Checkpoints["orders"] != 0 {
		t.Fatalf("orders checkpoint %d with #1 waiting, want 0", tr.Checkpoints["orders"])
	}

	acts, n := pruneSignals(px, Retention{SignalsPerName: 3}, 100)
	if got := describeSignalDeletions(acts); got != "other<=3" || n != 3 {
		t.Fatalf("deletions %q (%d signals), want other<=3 (3)", got, n)
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: acts})
	if got := keptSignals(px, "other"); got != "4,5,6" {
		t.Fatalf("other kept: %s, want 4,5,6", got)
	}
	px.sendSignal("prices", map[string]any{"date": 500, "version": 2})
	px.round()
	if got := px.started(); got != "1:orders#1,prices#1" {
		t.Fatalf("started %q, want orders #1 with prices #1", got)
	}
	// Consumed, or passed over by the round after the fire (#2-#10 can
	// never fire it), the orders go as the count says.
	px.round()
	acts, n = pruneSignals(px, Retention{SignalsPerName: 3}, 100)
	if got := describeSignalDeletions(acts); got != "orders<=7" || n != 7 {
		t.Fatalf("deletions after the fire %q (%d signals), want orders<=7 (7)", got, n)
	}
	if acts, _ := pruneSignals(px, Retention{}, 100); acts != nil {
		t.Fatalf("an empty policy deleted %s", describeSignalDeletions(acts))
	}
}

// By age, signals sent longer ago go, consumed or not, up to the first one
// sent within the age; each name keeps its newest; limit bounds the signals
// one pass deletes.
func TestPruneSignalsByAge(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	px.round()
	px.sendSignal("orders", map[string]any{"day": 500, "region": "eu"}) // #1: waits for prices
	px.sendSignal("orders", map[string]any{"day": 501, "region": "eu"}) // #2
	px.sendSignal("solo", map[string]any{})                             // #1, the newest of its name
	px.now = px.now.Add(2 * time.Hour)
	px.sendSignal("orders", map[string]any{"day": 502, "region": "eu"}) // #3, within the hour
	px.now = px.now.Add(time.Minute)

	acts, n := pruneSignals(px, Retention{SignalMaxAge: time.Hour}, 100)
	if got := describeSignalDeletions(acts); got != "orders<=2" || n != 2 {
		t.Fatalf("deletions %q (%d signals), want orders<=2 (2)", got, n)
	}
	acts, n = pruneSignals(px, Retention{SignalMaxAge: time.Hour}, 1)
	if got := describeSignalDeletions(acts); got != "orders<=1" || n != 1 {
		t.Fatalf("deletions with limit 1 %q (%d signals), want orders<=1 (1)", got, n)
	}
	// Both policies: the count keeps 2, the age deletes more.
	px.now = px.now.Add(2 * time.Hour)
	acts, _ = pruneSignals(px, Retention{SignalsPerName: 2, SignalMaxAge: time.Hour}, 100)
	if got := describeSignalDeletions(acts); got != "orders<=2" {
		t.Fatalf("deletions by count and age %q, want orders<=2 (the newest stays)", got)
	}
}

// The leader deletes signals only once every server applies protocol 3: an
// older server would skip the action and keep them.
func TestLeaderPrunesSignalsFromProtocol3(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	for i := range 5 {
		px.sendSignal("other", map[string]any{"n": i})
	}
	protocol := 2
	l := &Leader{State: px.f, Apply: &fsmApplier{f: px.f, index: px.index}, Now: func() time.Time { return px.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: Retention{SignalsPerName: 2},
		Protocol: func() int { return protocol }}
	if l.prune(context.Background()) || keptSignals(px, "other") != "1,2,3,4,5" {
		t.Fatalf("protocol 2 deleted signals: kept %s", keptSignals(px, "other"))
	}
	protocol = 3
	if l.prune(context.Background()) || keptSignals(px, "other") != "4,5" {
		t.Fatalf("protocol 3 kept %s, want 4,5", keptSignals(px, "other"))
	}
	// Half way through the names when a server of protocol 2 joins: the
	// round of names ends rather than asking for passes that cannot run.
	l.signalsFrom, protocol = "other", 2
	if l.prune(context.Background()) || l.signalsFrom != "" {
		t.Fatalf("protocol 2 half way through the names: asks for another pass, or goes on from %q", l.signalsFrom)
	}
}

// A pass looks at a bounded number of signal names and says where the next
// goes on; a pass whose deletions fill the limit goes on from the name it
// stopped in. The leader runs the passes back to back until the last name.
func TestPruneSignalsGoesThroughNamesAPartAtATime(t *testing.T) {
	px := triggerFixture(t, joinedTrigger)
	for _, name := range []string{"a", "ab", "b", "c"} {
		for i := range 4 {
			px.sendSignal(name, map[string]any{"n": i})
		}
	}
	r := Retention{SignalsPerName: 1}
	acts, n, next := PruneSignals(px.f.State(), px.now, r, 100, "", 2)
	if got := describeSignalDeletions(acts); got != "a<=3 ab<=3" || n != 6 || next != "b" {
		t.Fatalf("first pass: %q (%d), next %q; want a<=3 ab<=3 (6), next b", got, n, next)
	}
	acts, n, next = PruneSignals(px.f.State(), px.now, r, 100, next, 2)
	if got := describeSignalDeletions(acts); got != "b<=3 c<=3" || n != 6 || next != "" {
		t.Fatalf("second pass: %q (%d), next %q; want b<=3 c<=3 (6), next \"\"", got, n, next)
	}
	acts, n, next = PruneSignals(px.f.State(), px.now, r, 4, "", 10)
	if got := describeSignalDeletions(acts); got != "a<=3 ab<=1" || n != 4 || next != "ab" {
		t.Fatalf("a full pass: %q (%d), next %q; want a<=3 ab<=1 (4), next ab", got, n, next)
	}

	l := &Leader{State: px.f, Apply: &fsmApplier{f: px.f, index: px.index}, Now: func() time.Time { return px.now },
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Retention: r}
	passes := 0
	for more := true; more; passes++ {
		if passes == 10 {
			t.Fatal("the leader's passes never end")
		}
		more = l.prune(context.Background())
	}
	for _, name := range []string{"a", "ab", "b", "c"} {
		if got := keptSignals(px, name); got != "4" {
			t.Errorf("%s kept %s, want 4", name, got)
		}
	}
	if l.prune(context.Background()) {
		t.Error("a pass with nothing to delete asks for another at once")
	}
}
