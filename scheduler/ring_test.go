package scheduler

import (
	"fmt"
	"math"
	"testing"
)

func TestRingBalanceWithinBound(t *testing.T) {
	members := []string{"n1", "n2", "n3", "n4", "n5"}
	r := NewRing(members)
	load := map[string]int{}
	for _, m := range members {
		load[m] = 0
	}
	const keys = 10000
	for i := 0; i < keys; i++ {
		load[r.Pick(fmt.Sprintf("wf/%d/step/1", i), load)]++
	}
	bound := int(math.Ceil(float64(keys) / float64(len(members)) * loadFactor))
	for m, n := range load {
		if n > bound {
			t.Errorf("member %s took %d keys, over the bound %d", m, n, bound)
		}
		if n == 0 {
			t.Errorf("member %s took no keys", m)
		}
	}
}

func TestRingMovesAboutOneNthOnMembershipChange(t *testing.T) {
	before := NewRing([]string{"n1", "n2", "n3", "n4"})
	after := NewRing([]string{"n1", "n2", "n3", "n4", "n5"})
	const keys = 20000
	moved := 0
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("attempt-%d", i)
		a, b := before.Owner(k), after.Owner(k)
		if a != b {
			if b != "n5" {
				t.Fatalf("key %s moved from %s to %s: only moves onto the new member are expected", k, a, b)
			}
			moved++
		}
	}
	frac := float64(moved) / keys
	if frac < 0.12 || frac > 0.28 {
		t.Errorf("adding 1 of 5 members moved %.3f of keys, want about 0.2", frac)
	}

	removed := NewRing([]string{"n1", "n2", "n4", "n5"})
	moved = 0
	for i := 0; i < keys; i++ {
		k := fmt.Sprintf("attempt-%d", i)
		a, b := after.Owner(k), removed.Owner(k)
		if a != b {
			if a != "n3" {
				t.Fatalf("key %s moved from %s to %s though its owner stayed", k, a, b)
			}
			moved++
		}
	}
	frac = float64(moved) / keys
	if frac < 0.12 || frac > 0.28 {
		t.Errorf("removing 1 of 5 members moved %.3f of keys, want about 0.2", frac)
	}
}

func TestRingEmptyAndDeterministic(t *testing.T) {
	if got := NewRing(nil).Pick("k", nil); got != "" {
		t.Fatalf("empty ring picked %q", got)
	}
	a := NewRing([]string{"x", "y", "z"})
	b := NewRing([]string{"z", "x", "y"})
	for i := 0; i < 1000; i++ {
		k := fmt.Sprint(i)
		if a.Owner(k) != b.Owner(k) {
			t.Fatalf("member order changed the owner of %s", k)
		}
	}
}

func TestRingOfReusesTheRingOfTheSameMembers(t *testing.T) {
	a := ringOf([]string{"n1", "n2", "n3"})
	if b := ringOf([]string{"n1", "n2", "n3"}); b != a {
		t.Fatal("the same members built a second ring")
	}
	fresh := NewRing([]string{"n1", "n2", "n3"})
	for i := 0; i < 1000; i++ {
		key := fmt.Sprintf("wf/%d/step/1", i)
		if a.Owner(key) != fresh.Owner(key) {
			t.Fatalf("the memoised ring places %s on %s, a new one on %s", key, a.Owner(key), fresh.Owner(key))
		}
	}
	// Names joined with a separator: "n1"+"n2" is not "n1n2".
	if c := ringOf([]string{"n1n2"}); c == ringOf([]string{"n1", "n2"}) || len(c.Members()) != 1 {
		t.Fatal("different members share a ring")
	}
}
