package workflow

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/batonhq/baton/workflow/timetrigger"
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

// InlineRoot returns the workflow and instance whose foreach or while
// iterations (at any depth) an inline workflow id names.
func InlineRoot(id string) (workflowID string, instanceID int64, ok bool) {
	parts := strings.SplitN(id, ":", 3)
	if len(parts) < 3 {
		return "", 0, false
	}
	n, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil {
		return "", 0, false
	}
	return parts[0], n, true
}

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

// Names of the system params every instance gets at start.
const (
	RunTSParam         = "RUN_TS"
	TargetRunDateParam = "TARGET_RUN_DATE"
	TargetRunHourParam = "TARGET_RUN_HOUR"
)

// SystemParams are the defaults merged under a workflow's own params when an
// instance starts, as Maestro defines them: the start time in epoch
// milliseconds and its UTC date (yyyyMMdd) and hour (HH). They are evaluated
// once, at start, and recorded with the instance.
func SystemParams(start time.Time) map[string]ParamDef {
	utc := start.UTC()
	lit := func(t ParamType, raw any) ParamDef {
		v := Value{Type: t, Raw: raw}
		return ParamDef{Type: t, Value: &v, Mode: "MUTABLE_ON_START", Source: "SYSTEM_DEFAULT"}
	}
	return map[string]ParamDef{
		RunTSParam:         lit(Long, utc.UnixMilli()),
		TargetRunDateParam: lit(String, utc.Format("20060102")),
		TargetRunHourParam: lit(String, utc.Format("15")),
	}
}

// SettableAtStart reports whether a run param may override a param defined
// with this mode: CONSTANT and IMMUTABLE params keep their definition.
func SettableAtStart(mode string) bool {
	m := strings.ToUpper(mode)
	return m != "CONSTANT" && m != "IMMUTABLE"
}

// SettableByOutput reports whether a step's output may replace one of its
// params: only MUTABLE params (the default mode) may change at runtime.
func SettableByOutput(mode string) bool {
	m := strings.ToUpper(mode)
	return m == "" || m == "MUTABLE"
}

// TimeTriggers parses the definition's time triggers, already checked by
// Validate. The floor on the fire interval was checked then; a stored
// definition is parsed again without it.
func (d *Definition) TimeTriggers() ([]timetrigger.Trigger, error) {
	out := make([]timetrigger.Trigger, 0, len(d.Workflow.TimeTriggers))
	for i, raw := range d.Workflow.TimeTriggers {
		t, err := timetrigger.ParseJSONMin(raw, time.Nanosecond)
		if err != nil {
			return nil, fmt.Errorf("time_triggers[%d]: %w", i, err)
		}
		out = append(out, t)
	}
	return out, nil
}
