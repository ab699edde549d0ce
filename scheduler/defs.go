package scheduler

import (
	"fmt"
	"strings"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// DefinitionCache parses each stored version once. Versions are immutable, so
// entries never go stale; they are keyed by digest as well so a re-pushed
// workflow id with different content is never confused with the old one.
// It keeps the versions used most recently (maxCachedDefinitions, and
// maxCachedDefinitionBytes of their definitions' text): a version not
// planned with for a while is parsed again when it is.
type DefinitionCache struct {
	defs *boundedCache[defKey, cachedDef]
}

// The bounds of a DefinitionCache: far above the versions a cluster plans
// with at once (the active ones and those its unfinished instances run),
// far below every version of a cluster that has run for years. The text is
// what bounds the memory; the count only bounds the map.
const (
	maxCachedDefinitions     = 1 << 16
	maxCachedDefinitionBytes = 256 << 20
)

// defKey names a parsed definition: a version, and the path of loop steps
// to the one whose iterations it is; a struct, not a formatted string,
// since every planning round looks up every active workflow's.
type defKey struct {
	versionKey
	path string
}

type cachedDef struct {
	def *workflow.Definition
	dag *workflow.DAG
}

// NewDefinitionCache returns an empty cache.
func NewDefinitionCache() *DefinitionCache {
	return newDefinitionCache(maxCachedDefinitions, maxCachedDefinitionBytes)
}

func newDefinitionCache(maxEntries int, maxBytes int64) *DefinitionCache {
	return &DefinitionCache{defs: newBoundedCache[defKey, cachedDef](maxEntries, maxBytes)}
}

// Definition implements Definitions.
func (c *DefinitionCache) Definition(v *statepb.WorkflowVersion, path ...string) (*workflow.Definition, *workflow.DAG, error) {
	k := defKey{versionKey: keyOfVersion(v)}
	if len(path) > 0 {
		k.path = strings.Join(path, "\x00")
	}
	if e, ok := c.defs.get(k); ok {
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
	c.defs.put(k, cachedDef{def: def, dag: dag}, int64(len(v.Definition)))
	return def, dag, nil
}

// InstanceVersion returns the stored version whose definition inst runs, and
// the path of loop steps inside it for a foreach or while iteration.
func InstanceVersion(st *fsm.State, inst *statepb.Instance) (*statepb.WorkflowVersion, []string) {
	return st.Version(nil, fsm.DefinitionWorkflowOf(inst), inst.WorkflowVersion), inst.DefinitionPath
}

// InstanceDefinition returns the definition and DAG inst runs.
func InstanceDefinition(st *fsm.State, defs Definitions, inst *statepb.Instance) (*workflow.Definition, *workflow.DAG, error) {
	ver, path := InstanceVersion(st, inst)
	if ver == nil {
		return nil, nil, fmt.Errorf("workflow %s version %d is missing", fsm.DefinitionWorkflowOf(inst), inst.WorkflowVersion)
	}
	return defs.Definition(ver, path...)
}
