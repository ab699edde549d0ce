// Package workflow parses, validates and canonicalizes workflow definitions
// written in Netflix Maestro's definition format, and provides the typed
// parameter values, string interpolation, retry policy and DAG helpers the
// engine needs to run them.
package workflow

import (
	"encoding/json"
	"fmt"
	"github.com/batonhq/baton/workflow/timetrigger"
	"reflect"
	"strings"
	"time"
)

// Definition is a whole definition file: {"properties": ..., "workflow": ...}.
type Definition struct {
	Properties *Properties
	Workflow   Workflow
	IsActive   *bool
	GitInfo    *GitInfo

	// src remembers where each JSON path came from in the parsed input, so that
	// Validate and CheckSupported can point at the offending line.
	src *source
}

// Properties are the workflow properties shared by all versions in Maestro.
type Properties struct {
	Owner                 *User
	AccessControl         json.RawMessage
	RunStrategy           *RunStrategy
	StepConcurrency       *int64
	Alerting              json.RawMessage
	AlertingDisabled      *bool
	SignalTriggerDisabled *bool
	TimeTriggerDisabled   *bool
	Description           string
	Tags                  []Tag
}

// User is written either as a plain name or as an object with a name and
// arbitrary extra information.
type User struct {
	Name  string
	Extra map[string]json.RawMessage
}

// RunStrategy controls how instances of one workflow run relative to each
// other. It is written as a rule name, a number (PARALLEL with that
// concurrency) or an object {rule, workflow_concurrency}.
type RunStrategy struct {
	Rule                string // upper case when it is a known rule
	WorkflowConcurrency int64
}

// Run strategy rules known to Maestro.
const (
	RunSequential       = "SEQUENTIAL"
	RunStrictSequential = "STRICT_SEQUENTIAL"
	RunFirstOnly        = "FIRST_ONLY"
	RunLastOnly         = "LAST_ONLY"
	RunParallel         = "PARALLEL"
	RunSerialLatestOnly = "SERIAL_LATEST_ONLY"
)

// defaultParallelism is Maestro's workflow concurrency for a PARALLEL run
// strategy given without a number.
const defaultParallelism = 20

// GitInfo describes where a definition came from.
type GitInfo struct {
	Origin             string
	Branch             string
	SHA                string
	Path               string
	Author             string
	Timestamp          *int64
	UncommittedChanges *bool
}

// Workflow is the "workflow" section of a definition.
type Workflow struct {
	ID                      string
	Name                    string
	Description             string
	Tags                    []Tag
	Timeout                 *Duration
	TimeTriggers            []json.RawMessage
	SignalTriggers          []json.RawMessage
	Criticality             string // upper case when known
	InstanceStepConcurrency *int64
	Params                  map[string]ParamDef
	Steps                   []Step
}

// Tag is a name with optional namespace and free-form attributes, as in Maestro.
type Tag struct {
	Name       string
	Namespace  string
	Permit     *int64
	Attributes map[string]json.RawMessage
}

// StepKind is the wrapper key a step is written under.
type StepKind string

// Step kinds.
const (
	KindStep        StepKind = "step"
	KindForeach     StepKind = "foreach"
	KindWhile       StepKind = "while"
	KindSubworkflow StepKind = "subworkflow"
	KindTemplate    StepKind = "template"
)

// Canonical spellings of the step types. Maestro matches step types
// case-insensitively; Shell is this engine's own addition.
const (
	TypeNoOp       = "NoOp"
	TypeSleep      = "Sleep"
	TypeShell      = "Shell"
	TypeTitus      = "Titus"
	TypeNotebook   = "Notebook"
	TypeKubernetes = "Kubernetes"
	TypeHTTP       = "Http"
	TypeJoin       = "Join"
)

var knownStepTypes = []string{TypeNoOp, TypeSleep, TypeShell, TypeTitus, TypeNotebook, TypeKubernetes, TypeHTTP, TypeJoin}

func normalizeStepType(t string) string {
	for _, k := range knownStepTypes {
		if strings.EqualFold(k, t) {
			return k
		}
	}
	return t
}

// Step is one entry of a steps list. Fields that only exist for some kinds
// are left zero for the others.
type Step struct {
	Kind        StepKind
	ID          string
	Name        string
	Description string
	// Type is the normalized step type for KindStep ("NoOp", "Sleep", "Shell",
	// ...; unknown types are kept as written) and the kind's name otherwise.
	Type               string
	SubType            string
	SubTypeVersion     string
	Transition         Transition
	FailureMode        FailureMode
	RetryPolicy        *RetryPolicy
	Tags               []Tag
	Timeout            *Duration
	SignalDependencies json.RawMessage
	SignalOutputs      json.RawMessage
	Params             map[string]ParamDef

	// foreach
	Concurrency    *int64
	StrictOrdering *bool
	// while
	Condition string
	// foreach and while
	Steps []Step
	// subworkflow
	Sync           *bool
	ExplicitParams *bool
}

// Transition holds the outgoing edges of a step. Predecessors is optional in
// Maestro and, when given, must agree with the edges.
type Transition struct {
	Predecessors []string
	Successors   []Edge
}

// Edge is a successor with the condition guarding it.
type Edge struct {
	To        string
	Condition string
}

// FailureMode says what a step failure does to the rest of the workflow.
type FailureMode string

// Failure modes; FailAfterRunning is the default.
const (
	FailImmediately  FailureMode = "FAIL_IMMEDIATELY"
	FailAfterRunning FailureMode = "FAIL_AFTER_RUNNING"
	IgnoreFailure    FailureMode = "IGNORE_FAILURE"
)

// ParamType is a parameter type in canonical upper case.
type ParamType string

// Parameter types.
const (
	String       ParamType = "STRING"
	Long         ParamType = "LONG"
	Double       ParamType = "DOUBLE"
	Boolean      ParamType = "BOOLEAN"
	StringMap    ParamType = "STRING_MAP"
	StringArray  ParamType = "STRING_ARRAY"
	LongArray    ParamType = "LONG_ARRAY"
	DoubleArray  ParamType = "DOUBLE_ARRAY"
	BooleanArray ParamType = "BOOLEAN_ARRAY"
	Map          ParamType = "MAP"
)

var paramTypes = []ParamType{String, Long, Double, Boolean, StringMap, StringArray, LongArray, DoubleArray, BooleanArray, Map}

// ParseParamType matches a type name case-insensitively.
func ParseParamType(s string) (ParamType, bool) {
	for _, t := range paramTypes {
		if strings.EqualFold(string(t), s) {
			return t, true
		}
	}
	return ParamType(s), false
}

// ParamDef is a parameter definition: a literal Value or a SEL Expression.
type ParamDef struct {
	Type       ParamType
	Value      *Value
	Expression string
	// Mode, Source and InternalMode are upper case when known.
	Mode         string
	Validator    string
	Description  string
	Tags         []Tag
	Source       string
	InternalMode string
	// Fields holds the nested definitions of a MAP param's value. Value is
	// also set for a MAP when every nested definition is a literal.
	Fields map[string]ParamDef
}

// Param modes known to Maestro.
var paramModes = []string{"CONSTANT", "IMMUTABLE", "MUTABLE", "MUTABLE_ON_START", "MUTABLE_ON_START_RESTART"}

var paramSources = []string{"SYSTEM", "TEMPLATE_SCHEMA", "SYSTEM_INJECTED", "SYSTEM_DEFAULT", "DEFINITION", "SIGNAL",
	"TIME_TRIGGER", "OUTPUT_PARAMETER", "LAUNCH", "RESTART", "SUBWORKFLOW", "TEMPLATE", "FOREACH", "WHILE", "WORKFLOW_PARAMETER"}

var internalParamModes = []string{"REQUIRED", "OPTIONAL", "PROVIDED", "RESERVED"}

var criticalities = []string{"CRITICAL", "HIGH", "MEDIUM", "LOW"}

var runRules = []string{RunSequential, RunStrictSequential, RunFirstOnly, RunLastOnly, RunParallel, RunSerialLatestOnly}

var tagNamespaces = []string{"SYSTEM", "RUNTIME", "JOB_TEMPLATE", "NOTEBOOK_TEMPLATE", "USER_DEFINED", "PLATFORM"}

var failureModes = []string{string(FailImmediately), string(FailAfterRunning), string(IgnoreFailure)}

// normalizeEnum returns the upper-case spelling when s names one of the
// values; otherwise s unchanged, so that validation can quote what was written.
func normalizeEnum(s string, values []string) string {
	for _, v := range values {
		if strings.EqualFold(v, s) {
			return v
		}
	}
	return s
}

func isEnum(s string, values []string) bool {
	for _, v := range values {
		if v == s {
			return true
		}
	}
	return false
}

// Error is one problem found in a definition.
type Error struct {
	Path string // JSON path, e.g. workflow.steps[2].step.id
	Line int    // 1-based; 0 when unknown
	Col  int    // 1-based; 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		if e.Col > 0 {
			fmt.Fprintf(&b, "line %d:%d: ", e.Line, e.Col)
		} else {
			fmt.Fprintf(&b, "line %d: ", e.Line)
		}
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Errors is the list of problems returned by Parse, Validate, CheckSupported
// and DAG. Those functions return it as *Errors.
type Errors []*Error

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// As lets errors.As fill a plain Errors target as well as an *Errors one.
func (es *Errors) As(target any) bool {
	if t, ok := target.(*Errors); ok && es != nil {
		*t = *es
		return true
	}
	return false
}

// asError turns a list into an error value, keeping a nil list a nil error.
func (es Errors) asError() error {
	if len(es) == 0 {
		return nil
	}
	return &es
}

// Limits bound the size of a definition. A non-positive field means the
// default from DefaultLimits.
type Limits struct {
	MaxSteps             int
	MaxIDLength          int
	MaxNameLength        int
	MaxDescriptionLength int
	MaxParams            int
	MaxDefinitionBytes   int
	// MinTriggerInterval is the least time allowed between two fires of a
	// time trigger: Maestro's 2 minutes unless an operator lowers it.
	MinTriggerInterval time.Duration
}

// DefaultLimits returns Maestro's limits: 300 steps (counting nested ones),
// ids of 128 characters, names of 256, descriptions of 16384, 128 params per
// map, and 1 MiB of definition text.
func DefaultLimits() Limits {
	return Limits{
		MaxSteps:             300,
		MaxIDLength:          128,
		MaxNameLength:        256,
		MaxDescriptionLength: 16384,
		MaxParams:            128,
		MaxDefinitionBytes:   1 << 20,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxSteps <= 0 {
		l.MaxSteps = d.MaxSteps
	}
	if l.MaxIDLength <= 0 {
		l.MaxIDLength = d.MaxIDLength
	}
	if l.MaxNameLength <= 0 {
		l.MaxNameLength = d.MaxNameLength
	}
	if l.MaxDescriptionLength <= 0 {
		l.MaxDescriptionLength = d.MaxDescriptionLength
	}
	if l.MaxParams <= 0 {
		l.MaxParams = d.MaxParams
	}
	if l.MaxDefinitionBytes <= 0 {
		l.MaxDefinitionBytes = d.MaxDefinitionBytes
	}
	if l.MinTriggerInterval <= 0 {
		l.MinTriggerInterval = timetrigger.MinimumInterval
	}
	return l
}

// Step returns the top-level step with the given id, or nil.
func (d *Definition) Step(id string) *Step {
	if d == nil {
		return nil
	}
	for i := range d.Workflow.Steps {
		if d.Workflow.Steps[i].ID == id {
			return &d.Workflow.Steps[i]
		}
	}
	return nil
}

// Equal reports whether two definitions say the same thing. It ignores where
// they were read from, which reflect.DeepEqual would not.
func (d *Definition) Equal(o *Definition) bool {
	if d == nil || o == nil {
		return d == o
	}
	a, b := *d, *o
	a.src, b.src = nil, nil
	return reflect.DeepEqual(a, b)
}

// MarshalJSON writes the canonical form.
func (d Definition) MarshalJSON() ([]byte, error) {
	return Canonical(&d)
}

// UnmarshalJSON parses a definition with the same rules as Parse.
func (d *Definition) UnmarshalJSON(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*d = *p
	return nil
}
