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
// the most recent: an evicted version is parsed again, with the same result.
func TestDefinitionCacheIsBounded(t *testing.T) {
	c := NewDefinitionCache()
	version := func(i int) *statepb.WorkflowVersion {
		def := fmt.Sprintf(`{"workflow": {"id": "wf", "steps": [{"step": {"id": "s%d", "type": "NoOp"}}]}}`, i)
		return &statepb.WorkflowVersion{WorkflowId: "wf", Version: int64(i), Digest: fmt.Sprint(i), Definition: def}
	}
	for i := 1; i <= maxCachedDefinitions+100; i++ {
		if _, _, err := c.Definition(version(i)); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := c.defs.size(); n != maxCachedDefinitions {
		t.Fatalf("%d definitions kept, want %d", n, maxCachedDefinitions)
	}
	if _, ok := c.defs.get(defKey{versionKey: keyOfVersion(version(1))}); ok {
		t.Fatal("the oldest version is still kept")
	}
	def, dag, err := c.Definition(version(1))
	if err != nil || def.Workflow.Steps[0].ID != "s1" || len(dag.Order) != 1 {
		t.Fatalf("version 1 parsed again: %v, %v", err, dag)
	}
}
