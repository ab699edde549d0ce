package workflow

import (
	"fmt"
	"strconv"
	"strings"
)

// Limits Maestro puts on loops and nesting, kept here so that validation and
// the scheduler agree.
const (
	// MaxIterations caps a foreach's iteration count and a while's number of
	// iterations.
	MaxIterations = 25_000
	// MaxWorkflowDepth caps how deep foreach, while and subworkflow steps may
	// nest instances, counting across workflows.
	MaxWorkflowDepth = maxNestingDepth
	// DefaultForeachConcurrency is how many iterations run at once when a
	// foreach sets no concurrency.
	DefaultForeachConcurrency = 100
	// MaxForeachConcurrency caps a foreach's concurrency.
	MaxForeachConcurrency = maxConcurrency
)

// Names of the params that steer foreach, while and subworkflow steps.
const (
	LoopParamsName         = loopParamsName
	SubworkflowIDParam     = "subworkflow_id"
	SubworkflowVersionName = "subworkflow_version"
)

// IsControl reports whether a step type runs child instances rather than a
// process: foreach, while and subworkflow.
func IsControl(stepType string) bool {
	switch StepKind(stepType) {
	case KindForeach, KindWhile, KindSubworkflow:
		return true
	}
	return false
}

// InlineWorkflowID names the workflow whose instances are the iterations of a
// foreach or while step. ':' cannot occur in a workflow id, so the name never
// collides with a pushed workflow and reads back as where it came from.
func InlineWorkflowID(parentWorkflowID string, parentInstanceID int64, stepID string) string {
	return parentWorkflowID + ":" + strconv.FormatInt(parentInstanceID, 10) + ":" + stepID
}

// IsInlineWorkflowID reports whether id names foreach or while iterations.
func IsInlineWorkflowID(id string) bool { return strings.Contains(id, ":") }

// Inline returns the definition an iteration of the loop step at path runs:
// the steps nested in it, under the same properties. path lists loop step
// ids from the outermost in.
func (d *Definition) Inline(path []string) (*Definition, error) {
	if d == nil {
		return nil, fmt.Errorf("nil definition")
	}
	steps := d.Workflow.Steps
	for i, id := range path {
		var found *Step
		for j := range steps {
			if steps[j].ID == id {
				found = &steps[j]
				break
			}
		}
		if found == nil {
			return nil, fmt.Errorf("no step %q at %s", id, strings.Join(path[:i], "/"))
		}
		if found.Kind != KindForeach && found.Kind != KindWhile {
			return nil, fmt.Errorf("step %q is a %s step, not a loop", id, found.Kind)
		}
		steps = found.Steps
	}
	inner := &Definition{Properties: d.Properties}
	inner.Workflow.ID = d.Workflow.ID
	inner.Workflow.Steps = steps
	return inner, nil
}
