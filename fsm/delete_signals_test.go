package fsm

import (
	"fmt"
	"slices"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func deleteSignalsAct(name string, through int64) *statepb.PlanAction {
	return &statepb.PlanAction{Action: &statepb.PlanAction_DeleteSignals{DeleteSignals: &statepb.DeleteSignals{Name: name, ThroughSeq: through}}}
}

func signalSeqs(s *State, name string) []int64 {
	var out []int64
	for _, sg := range s.SignalsAfter(nil, name, 0, 0) {
		out = append(out, sg.Seq)
	}
	return out
}

// Retention deletes the oldest signals of one name, never its newest, and
// numbering goes on past them. A name that another has as its prefix is
// another name.
func TestDeleteSignalsKeepsTheNewestAndTheNumbering(t *testing.T) {
	x := newFixture(t)
	send := func(name string) int64 {
		t.Helper()
		return applyAs[*SignalResult](x, &statepb.SendSignal{Name: name, Now: at(1)}).Signal.Seq
	}
	for range 5 {
		send("a")
	}
	send("ab")
	send("ab")
	send("b")
	if got, next := x.state().SignalRanges("", 10); fmt.Sprint(got) != "[{a 1 5} {ab 1 2} {b 1 1}]" || next != "" {
		t.Fatalf("signal ranges %v, next %q; want [{a 1 5} {ab 1 2} {b 1 1}]", got, next)
	}
	if got, next := x.state().SignalRanges("ab", 1); fmt.Sprint(got) != "[{ab 1 2}]" || next != "b" {
		t.Fatalf("one range from ab: %v, next %q; want [{ab 1 2}], next b", got, next)
	}

	if res := x.plan(2, deleteSignalsAct("a", 3)); res.Applied != 1 {
		t.Fatalf("delete a through 3: %+v", res)
	}
	if got := signalSeqs(x.state(), "a"); !slices.Equal(got, []int64{4, 5}) {
		t.Fatalf("a after deleting through 3: %v, want [4 5]", got)
	}
	if got := signalSeqs(x.state(), "ab"); !slices.Equal(got, []int64{1, 2}) {
		t.Fatalf("ab after deleting a's: %v, want [1 2]", got)
	}
	if got, _ := x.state().SignalRanges("a", 1); fmt.Sprint(got) != "[{a 4 5}]" {
		t.Errorf("a's range: %v, want [{a 4 5}]", got)
	}

	// Past the newest: everything but the newest goes.
	if res := x.plan(3, deleteSignalsAct("a", 99)); res.Applied != 1 {
		t.Fatalf("delete a through 99: %+v", res)
	}
	if got := signalSeqs(x.state(), "a"); !slices.Equal(got, []int64{5}) {
		t.Fatalf("a after deleting through 99: %v, want [5]", got)
	}
	// Nothing left to delete, nor for a name with one signal, nor for an
	// unknown name: the actions change nothing.
	if res := x.plan(4, deleteSignalsAct("a", 99), deleteSignalsAct("b", 1), deleteSignalsAct("zz", 5)); res.Applied != 0 || res.Skipped != 3 {
		t.Fatalf("deletions with nothing to delete: %+v, want 3 skipped", res)
	}
	if got := send("a"); got != 6 {
		t.Errorf("the next a is #%d, want #6", got)
	}
	if got := send("b"); got != 2 {
		t.Errorf("the next b is #%d, want #2", got)
	}
	if got, _ := x.state().SignalRanges("", 10); fmt.Sprint(got) != "[{a 5 6} {ab 1 2} {b 1 2}]" {
		t.Fatalf("signal ranges after deletions %v, want [{a 5 6} {ab 1 2} {b 1 2}]", got)
	}
}

// A signal trigger cannot fire with a signal retention deleted.
func TestFireOfADeletedSignalIsRefused(t *testing.T) {
	x := signalTriggerFixture(t)
	if res := x.plan(11, deleteSignalsAct("a", 1)); res.Applied != 1 {
		t.Fatalf("delete a #1: %+v", res)
	}
	if res := x.plan(12, fireAct(1, 2, "")); res.Applied != 0 {
		t.Fatalf("a fire of the deleted a #1 applied: %+v", res)
	}
	if res := x.plan(13, fireAct(2, 2, "")); res.Applied != 1 {
		t.Fatalf("a fire of a #2: %+v", res)
	}
}
