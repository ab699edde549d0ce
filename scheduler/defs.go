package scheduler

import (
	"fmt"
	"strings"
	"sync"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// DefinitionCache parses each stored version once. Versions are immutable, so
// entries never go stale; they are keyed by digest as well so a re-pushed
// workflow id with different content is never confused with the old one.
type DefinitionCache struct {
	mu   sync.Mutex
	defs map[defKey]cachedDef
}

// defKey names a parsed definition; a struct, not a formatted string, since
// every planning round looks up every active workflow's.
type defKey struct {
	workflowID string
	version    int64
	digest     string
	path       string
}

type cachedDef struct {
	def *workflow.Definition
	dag *workflow.DAG
}

// NewDefinitionCache returns an empty cache.
func NewDefinitionCache() *DefinitionCache {
	return &DefinitionCache{defs: map[defKey]cachedDef{}}
}

// Definition implements Definitions.
func (c *DefinitionCache) Definition(v *statepb.WorkflowVersion, path ...string) (*workflow.Definition, *workflow.DAG, error) {
	k := defKey{workflowID: v.WorkflowId, version: v.Version, digest: v.Digest}
	if len(path) > 0 {
		k.path = strings.Join(path, "\x00")
	}
	c.mu.Lock()
	e, ok := c.defs[k]
	c.mu.Unlock()
	if ok {
		return e.def, e.dag, nil
	}
	def, err := workflow.Parse([]byte(v.Definition))
	if err != nil {
		return nil, nil, fmt.Errorf("stored definition of %s version %d: %w", v.WorkflowId, v.Version, err)
	}
	if len(path) > 0 {
		if def, err = def.Inline(path); err != nil {
			return nil, nil, fmt.Errorf("stored definition of %s version %d: %w", v.WorkflowId, v.Version, err)
		}
	}
	dag, err := def.DAG()
	if err != nil {
		return nil, nil, fmt.Errorf("stored definition of %s version %d: %w", v.WorkflowId, v.Version, err)
	}
	c.mu.Lock()
	c.defs[k] = cachedDef{def: def, dag: dag}
	c.mu.Unlock()
	return def, dag, nil
}

// InstanceVersion returns the stored version whose definition inst runs, and
// the path of loop steps inside it for a foreach or while iteration.
func InstanceVersion(st *fsm.State, inst *statepb.Instance) (*statepb.WorkflowVersion, []string) {
	wf := inst.WorkflowId
	if inst.DefinitionWorkflowId != "" {
		wf = inst.DefinitionWorkflowId
	}
	return st.Version(nil, wf, inst.WorkflowVersion), inst.DefinitionPath
}

// InstanceDefinition returns the definition and DAG inst runs.
func InstanceDefinition(st *fsm.State, defs Definitions, inst *statepb.Instance) (*workflow.Definition, *workflow.DAG, error) {
	ver, path := InstanceVersion(st, inst)
	if ver == nil {
		wf := inst.WorkflowId
		if inst.DefinitionWorkflowId != "" {
			wf = inst.DefinitionWorkflowId
		}
		return nil, nil, fmt.Errorf("workflow %s version %d is missing", wf, inst.WorkflowVersion)
	}
	return defs.Definition(ver, path...)
}
