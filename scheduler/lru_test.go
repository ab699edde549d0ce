package scheduler

import (
	"fmt"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

func TestBoundedCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	c := newBoundedCache[string, int](3, 0)
	for i, k := range []string{"a", "b", "c"} {
		c.put(k, i, 0)
	}
	c.get("a") // b is now the least recently used
	c.put("d", 3, 0)
	if _, ok := c.get("b"); ok {
		t.Error("b kept; the least recently used should have gone")
	}
	for k, want := range map[string]int{"a": 0, "c": 2, "d": 3} {
		if v, ok := c.get(k); !ok || v != want {
			t.Errorf("%s: %d, %v; want %d", k, v, ok, want)
		}
	}
	if n, _ := c.size(); n != 3 {
		t.Errorf("%d entries, want 3", n)
	}
}

func TestBoundedCacheHoldsItsCost(t *testing.T) {
	c := newBoundedCache[string, string](100, 10)
	c.put("x", "x", 6)
	c.put("y", "y", 5)
	if n, cost := c.size(); n != 1 || cost != 5 {
		t.Fatalf("after 6 + 5 over a bound of 10: %d entries costing %d, want 1 costing 5", n, cost)
	}
	c.put("y", "y2", 3) // replacing a value replaces its cost
	if n, cost := c.size(); n != 1 || cost != 3 {
		t.Fatalf("after replacing y: %d entries costing %d, want 1 costing 3", n, cost)
	}
	c.put("z", "z", 20) // over the bound alone: kept, everything else goes
	if n, cost := c.size(); n != 1 || cost != 20 {
		t.Fatalf("after one value over the bound: %d entries costing %d, want 1 costing 20", n, cost)
	}
	if v, ok := c.get("z"); !ok || v != "z" {
		t.Fatalf("z: %q, %v", v, ok)
	}
}

// A long-running leader parses every version it plans with, but keeps only
// the most recent, by count and by the size of their text: an evicted
// version is parsed again, with the same result.
func TestDefinitionCacheIsBounded(t *testing.T) {
	version := func(i int) *statepb.WorkflowVersion {
		def := fmt.Sprintf(`{"workflow": {"id": "wf", "steps": [{"step": {"id": "s%04d", "type": "NoOp"}}]}}`, i)
		return &statepb.WorkflowVersion{WorkflowId: "wf", Version: int64(i), Digest: fmt.Sprint(i), Definition: def}
	}
	size := int64(len(version(1).Definition))
	for _, c := range []struct {
		name     string
		cache    *DefinitionCache
		wantKept int
	}{
		{"by count", newDefinitionCache(50, 1<<30), 50},
		{"by size", newDefinitionCache(1000, 20*size), 20},
	} {
		for i := 1; i <= 200; i++ {
			if _, _, err := c.cache.Definition(version(i)); err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := c.cache.defs.size(); n != c.wantKept {
			t.Fatalf("%s: %d definitions kept, want %d", c.name, n, c.wantKept)
		}
		if _, ok := c.cache.defs.get(defKey{versionKey: keyOfVersion(version(1))}); ok {
			t.Fatalf("%s: the oldest version is still kept", c.name)
		}
		def, dag, err := c.cache.Definition(version(1))
		if err != nil || def.Workflow.Steps[0].ID != "s0001" || len(dag.Order) != 1 {
			t.Fatalf("%s: version 1 parsed again: %v, %v", c.name, err, dag)
		}
	}
}
