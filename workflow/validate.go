package workflow

import (
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"unicode/utf16"
	"unsafe"

	"github.com/batonhq/baton/workflow/timetrigger"
	"golang.org/x/net/http/httpguts"
)

// Maestro's id rules (MaestroIdConstraint, MaestroReferenceIdConstraint,
// MaestroNameConstraint).
var (
	workflowIDRE = regexp.MustCompile(`^[_a-zA-Z0-9][.\-_a-zA-Z0-9]*$`)
	referenceRE  = regexp.MustCompile(`^[_a-zA-Z][.\-_a-zA-Z0-9]*$`)
	tagNameRE    = regexp.MustCompile(`^[a-zA-Z0-9_ .,:@&='(){}$+\[\]\-/\\]+$`)
)

const (
	reservedPrefix     = "maestro_"
	reservedSuffix     = "_maestro"
	stepParamSeparator = "__"
	maxConcurrency     = 1000
	maxNestingDepth    = 10
	loopParamsName     = "loop_params"
	shellParam         = "shell"
	shellCommandField  = "command"
	sleepSecondsParam  = "sleep_seconds"
	// An Http step's params, as the worker reads them (scheduler.buildSpec).
	httpParam          = "http"
	httpURLField       = "url"
	httpMethodField    = "method"
	httpHeadersField   = "headers"
	httpStateExprParam = "state_expr"
	// NodeConstraintsParam is the reserved step param (STRING_MAP) naming the
	// node tags a step needs; see docs/DEFINITIONS.md.
	NodeConstraintsParam = "node_constraints"
	maxTimeoutDaysLabel  = "120 days"
)

// textLen counts like Java's String.length, which Maestro's limits use.
func textLen(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

type validator struct {
	l   Limits
	src *source
	// out keeps the errors as the decoder keeps its own, within maxErrors
	// and maxErrorPaths: one path can be nearly as long as the input.
	out  decoder
	maps typeMemo
}

// typeMemo answers rawMatchesType, remembering the answer for each MAP by
// the identity of its map. A parsed MAP param's value holds the values of
// the params nested in it, so checking every level in full went through
// all the levels below it again: quadratic in the nesting depth.
type typeMemo map[unsafe.Pointer]bool

func (tm *typeMemo) matches(x Value) bool {
	m, ok := x.Raw.(map[string]Value)
	if !ok || x.Type != Map {
		return rawMatchesType(x)
	}
	id := reflect.ValueOf(m).UnsafePointer()
	if ok, seen := (*tm)[id]; seen {
		return ok
	}
	ok = true
	for _, c := range m {
		if !tm.matches(c) {
			ok = false
			break
		}
	}
	if *tm == nil {
		*tm = typeMemo{}
	}
	(*tm)[id] = ok
	return ok
}

// Paths are passed down as a *loc, a parent and a key, as the decoder does,
// and rendered only for an error: a path string per param or step cost the
// nesting depth times the key length for each of them.

// add records an error at a path given as a string.
func (v *validator) add(path, format string, args ...any) {
	if v.out.room() {
		v.put(path, format, args)
	}
}

// addAt records an error at l, rendering its path only if the error is kept.
func (v *validator) addAt(l *loc, format string, args ...any) {
	if v.out.room() {
		v.put(l.String(), format, args)
	}
}

// put records an error that room has let in, at the position of its path.
func (v *validator) put(path, format string, args []any) {
	v.out.add(v.src.at(path), path, format, args)
}

// stepLoc is where a step sits in a list: its index, then its kind.
func stepLoc(list *loc, i int, s *Step) *loc {
	k := s.Kind
	if k == "" {
		k = KindStep
	}
	return list.item(i).field(string(k))
}

// Validate checks a parsed definition against Maestro's rules and this
// engine's step requirements. It returns *Errors or nil.
func (d *Definition) Validate(l Limits) error {
	if d == nil {
		return Errors{{Msg: "nil definition"}}.asError()
	}
	v := &validator{l: l.withDefaults(), src: d.src}
	if d.src != nil && d.src.size > v.l.MaxDefinitionBytes {
		v.out.errs = append(v.out.errs, &Error{Msg: fmt.Sprintf("definition is %d bytes, over the limit of %d", d.src.size, v.l.MaxDefinitionBytes)})
	}
	if d.Properties != nil {
		v.properties(d.Properties)
	}
	v.workflow(&d.Workflow)
	for i, raw := range d.Workflow.TimeTriggers {
		if _, err := timetrigger.ParseJSONMin(raw, v.l.MinTriggerInterval); err != nil {
			path := indexPath("workflow.time_triggers", i)
			var fe *timetrigger.FieldError
			if errors.As(err, &fe) && fe.Field != "" {
				path += "." + fe.Field
				err = errors.New(fe.Msg)
			}
			v.add(path, "%v", err)
		}
	}
	return v.out.errs.asError()
}

func (v *validator) length(path *loc, what string, s string, limit int) {
	if n := textLen(s); n > limit {
		v.addAt(path, "%s is %d characters, over the limit of %d", what, n, limit)
	}
}

func (v *validator) rangeCheck(path *loc, what string, val, lo, hi int64) {
	if val < lo || val > hi {
		v.addAt(path, "%s must be between %d and %d, got %d", what, lo, hi, val)
	}
}

func (v *validator) properties(p *Properties) {
	if p.Owner != nil && strings.TrimSpace(p.Owner.Name) == "" {
		v.add("properties.owner", "owner name must not be empty")
	}
	if rs := p.RunStrategy; rs != nil {
		switch {
		case rs.Rule == "":
			v.add("properties.run_strategy.rule", "run strategy rule is required")
		case !isEnum(rs.Rule, runRules):
			v.add("properties.run_strategy.rule", "unknown run strategy rule %q (want one of %s)", rs.Rule, strings.Join(runRules, ", "))
		}
		v.rangeCheck(rootLoc("properties.run_strategy.workflow_concurrency"), "workflow_concurrency", rs.WorkflowConcurrency, 1, maxConcurrency)
		if rs.WorkflowConcurrency > 1 && rs.Rule != RunParallel && isEnum(rs.Rule, runRules) {
			v.add("properties.run_strategy.workflow_concurrency", "only the PARALLEL run strategy allows a workflow_concurrency above 1, got %d", rs.WorkflowConcurrency)
		}
	}
	if p.StepConcurrency != nil {
		v.rangeCheck(rootLoc("properties.step_concurrency"), "step_concurrency", *p.StepConcurrency, 1, maxConcurrency)
	}
	v.length(rootLoc("properties.description"), "description", p.Description, v.l.MaxDescriptionLength)
	v.tags(rootLoc("properties.tags"), p.Tags)
}

func (v *validator) workflow(w *Workflow) {
	switch {
	case w.ID == "":
		v.add("workflow.id", "workflow id is required")
	case textLen(w.ID) > v.l.MaxIDLength:
		v.length(rootLoc("workflow.id"), "workflow id", w.ID, v.l.MaxIDLength)
	case !workflowIDRE.MatchString(w.ID):
		v.add("workflow.id", "invalid workflow id %q: it must match %s", w.ID, workflowIDRE.String())
	case strings.HasPrefix(strings.ToLower(w.ID), reservedPrefix):
		v.add("workflow.id", "invalid workflow id %q: the prefix %q is reserved", w.ID, reservedPrefix)
	case strings.HasSuffix(strings.ToLower(w.ID), reservedSuffix):
		v.add("workflow.id", "invalid workflow id %q: the suffix %q is reserved", w.ID, reservedSuffix)
	}
	v.length(rootLoc("workflow.name"), "name", w.Name, v.l.MaxNameLength)
	v.length(rootLoc("workflow.description"), "description", w.Description, v.l.MaxDescriptionLength)
	v.tags(rootLoc("workflow.tags"), w.Tags)
	v.timeout(rootLoc("workflow.timeout"), w.Timeout)
	if w.Criticality != "" && !isEnum(w.Criticality, criticalities) {
		v.add("workflow.criticality", "unknown criticality %q (want one of %s)", w.Criticality, strings.Join(criticalities, ", "))
	}
	if c := w.InstanceStepConcurrency; c != nil {
		v.rangeCheck(rootLoc("workflow.instance_step_concurrency"), "instance_step_concurrency", *c, 1, maxConcurrency-1)
	}
	v.params(rootLoc("workflow.params"), w.Params, 0)
	if len(w.Steps) == 0 {
		v.add("workflow.steps", "at least one step is required")
		return
	}
	if n := countSteps(w.Steps); n > v.l.MaxSteps {
		v.add("workflow.steps", "%d steps (counting nested steps) is over the limit of %d", n, v.l.MaxSteps)
	}
	steps := rootLoc("workflow.steps")
	v.duplicateIDs(steps, w.Steps, map[string]bool{}, 0)
	v.stepList(steps, w.Steps, 0)
}

func countSteps(steps []Step) int {
	n := len(steps)
	for i := range steps {
		n += countSteps(steps[i].Steps)
	}
	return n
}

// duplicateIDs checks ids across nesting levels, as Maestro does, since
// step ids name step instances within the whole workflow.
func (v *validator) duplicateIDs(base *loc, steps []Step, seen map[string]bool, depth int) {
	if depth > maxNestingDepth {
		return
	}
	for i := range steps {
		s := &steps[i]
		p := stepLoc(base, i, s)
		if s.ID != "" {
			if seen[s.ID] {
				v.addAt(p.field("id"), "duplicate step id %q", s.ID)
			}
			seen[s.ID] = true
		}
		if len(s.Steps) > 0 {
			v.duplicateIDs(p.field("steps"), s.Steps, seen, depth+1)
		}
	}
}

func (v *validator) stepList(base *loc, steps []Step, depth int) {
	if depth > maxNestingDepth {
		v.addAt(base, "steps are nested deeper than %d levels", maxNestingDepth)
		return
	}
	for i := range steps {
		v.step(stepLoc(base, i, &steps[i]), &steps[i], depth)
	}
	// checkDAG takes its base as a string. Rendering it for every list
	// costs little: a list of steps is at most maxNestingDepth lists deep,
	// and step paths hold no keys from the input, only indexes and kinds.
	for _, e := range checkDAG(steps, base.String(), v.src, false) {
		if !v.out.full && len(v.out.errs) < maxErrors {
			v.out.errs = append(v.out.errs, e)
		}
	}
	preds := map[string][]string{}
	for i := range steps {
		for _, e := range steps[i].Transition.Successors {
			preds[e.To] = append(preds[e.To], steps[i].ID)
		}
	}
	for i := range steps {
		s := &steps[i]
		declared := s.Transition.Predecessors
		if len(declared) == 0 {
			continue
		}
		p := stepLoc(base, i, s).field("transition").field("predecessors")
		got := append([]string{}, declared...)
		want := append([]string{}, preds[s.ID]...)
		sort.Strings(got)
		sort.Strings(want)
		for j := 1; j < len(got); j++ {
			if got[j] == got[j-1] {
				v.addAt(p, "duplicate predecessor %q", got[j])
			}
		}
		if strings.Join(dedup(got), "\x00") != strings.Join(dedup(want), "\x00") {
			v.addAt(p, "predecessors [%s] do not match the steps whose successors name %q: [%s]",
				strings.Join(declared, ", "), s.ID, strings.Join(preds[s.ID], ", "))
		}
	}
}

func dedup(sorted []string) []string {
	out := sorted[:0:0]
	for i, s := range sorted {
		if i == 0 || s != sorted[i-1] {
			out = append(out, s)
		}
	}
	return out
}

// referenceProblem applies Maestro's rules for step ids and param names.
func referenceProblem(id string, maxLen int) string {
	switch {
	case textLen(id) > maxLen:
		return fmt.Sprintf("is %d characters, over the limit of %d", textLen(id), maxLen)
	case !referenceRE.MatchString(id):
		return fmt.Sprintf("must match %s", referenceRE.String())
	case strings.Contains(id, stepParamSeparator):
		return fmt.Sprintf("must not contain %q, which separates step ids from param names", stepParamSeparator)
	case strings.HasPrefix(strings.ToLower(id), reservedPrefix):
		return fmt.Sprintf("the prefix %q is reserved", reservedPrefix)
	}
	return ""
}

func (v *validator) step(path *loc, s *Step, depth int) {
	switch {
	case s.ID == "":
		v.addAt(path.field("id"), "step id is required")
	case textLen(s.ID) > v.l.MaxIDLength:
		v.length(path.field("id"), "step id", s.ID, v.l.MaxIDLength)
	default:
		if prob := referenceProblem(s.ID, v.l.MaxIDLength); prob != "" {
			v.addAt(path.field("id"), "invalid step id %q: %s", s.ID, prob)
		}
	}
	v.length(path.field("name"), "name", s.Name, v.l.MaxNameLength)
	v.length(path.field("description"), "description", s.Description, v.l.MaxDescriptionLength)
	kind := s.Kind
	if kind == "" {
		kind = KindStep
	}
	if kind == KindStep {
		v.stepType(path.field("type"), s.Type)
	}
	if s.FailureMode != "" && !isEnum(string(s.FailureMode), failureModes) {
		v.addAt(path.field("failure_mode"), "unknown failure_mode %q (want one of %s)", s.FailureMode, strings.Join(failureModes, ", "))
	}
	if s.RetryPolicy != nil {
		v.retryPolicy(path.field("retry_policy"), s.RetryPolicy)
	}
	v.timeout(path.field("timeout"), s.Timeout)
	v.tags(path.field("tags"), s.Tags)
	params := path.field("params")
	v.params(params, s.Params, 0)
	if nc, ok := s.Params[NodeConstraintsParam]; ok && nc.Type != StringMap {
		v.addAt(params.field(NodeConstraintsParam).field("type"), "the %q param must be of type STRING_MAP (node tag -> allowed values), got %s", NodeConstraintsParam, nc.Type)
	}
	switch {
	case kind == KindStep && s.Type == TypeShell:
		v.shell(params, s.Params)
	case kind == KindStep && s.Type == TypeSleep:
		v.sleep(params, s.Params)
	case kind == KindStep && s.Type == TypeHTTP:
		v.http(params, s.Params)
	case kind == KindForeach || kind == KindWhile:
		if kind == KindForeach && s.Concurrency != nil {
			v.rangeCheck(path.field("concurrency"), "concurrency", *s.Concurrency, 1, maxConcurrency)
		}
		if kind == KindWhile && strings.TrimSpace(s.Condition) == "" {
			v.addAt(path.field("condition"), "while step condition is required")
		}
		if lp, ok := s.Params[loopParamsName]; !ok || lp.Type != Map {
			v.addAt(params.field(loopParamsName), "%s step requires a %q param of type MAP", kind, loopParamsName)
		}
		if len(s.Steps) == 0 {
			v.addAt(path.field("steps"), "%s step requires at least one nested step", kind)
		} else {
			v.stepList(path.field("steps"), s.Steps, depth+1)
		}
	case kind == KindSubworkflow:
		if _, ok := s.Params[SubworkflowIDParam]; !ok {
			v.addAt(params.field(SubworkflowIDParam), "subworkflow step requires a %q param naming the workflow to run", SubworkflowIDParam)
		}
	}
}

func (v *validator) stepType(path *loc, t string) {
	if t == "" {
		v.addAt(path, "step type is required")
		return
	}
	if isEnum(t, knownStepTypes) {
		return
	}
	for _, k := range []StepKind{KindForeach, KindWhile, KindSubworkflow, KindTemplate} {
		if strings.EqualFold(t, string(k)) {
			v.addAt(path, "step type %q must be written as a {%q: {...}} step", t, string(k))
			return
		}
	}
	v.addAt(path, "unknown step type %q (want one of %s)", t, strings.Join(knownStepTypes, ", "))
}

func (v *validator) timeout(path *loc, d *Duration) {
	if d == nil || d.expr != "" {
		return
	}
	if d.Duration <= 0 {
		v.addAt(path, "timeout must be positive, got %s", d.Duration)
	} else if d.Duration > maxTimeout {
		v.addAt(path, "timeout %s is over the limit of %s", d.Duration, maxTimeoutDaysLabel)
	}
}

func (v *validator) tags(path *loc, tags []Tag) {
	seen := map[string]bool{}
	for i, t := range tags {
		p := path.item(i)
		name := p.field("name")
		switch low := strings.ToLower(t.Name); {
		case strings.TrimSpace(t.Name) == "":
			v.addAt(name, "tag name must not be empty")
		case textLen(t.Name) > v.l.MaxNameLength:
			v.length(name, "tag name", t.Name, v.l.MaxNameLength)
		case !tagNameRE.MatchString(t.Name):
			v.addAt(name, "invalid tag name %q: it must match %s", t.Name, tagNameRE.String())
		case strings.HasPrefix(low, reservedPrefix) || strings.HasSuffix(low, reservedSuffix):
			v.addAt(name, "invalid tag name %q: the prefix %q and suffix %q are reserved", t.Name, reservedPrefix, reservedSuffix)
		}
		if seen[t.Name] {
			v.addAt(name, "duplicate tag name %q", t.Name)
		}
		seen[t.Name] = true
		if t.Namespace != "" && !isEnum(t.Namespace, tagNamespaces) {
			v.addAt(p.field("namespace"), "unknown tag namespace %q (want one of %s)", t.Namespace, strings.Join(tagNamespaces, ", "))
		}
	}
}

func (v *validator) params(path *loc, params map[string]ParamDef, depth int) {
	if depth > maxDepth {
		return
	}
	if len(params) > v.l.MaxParams {
		v.addAt(path, "%d params is over the limit of %d", len(params), v.l.MaxParams)
	}
	for _, name := range sortedKeys(params) {
		p := path.field(name)
		if textLen(name) > v.l.MaxIDLength {
			v.length(p, "param name", name, v.l.MaxIDLength)
		} else if prob := referenceProblem(name, v.l.MaxIDLength); prob != "" {
			v.addAt(p, "invalid param name %q: %s", name, prob)
		}
		pd := params[name]
		v.paramDef(p, &pd, depth)
	}
}

func (v *validator) paramDef(path *loc, pd *ParamDef, depth int) {
	if _, ok := ParseParamType(string(pd.Type)); !ok || string(pd.Type) != strings.ToUpper(string(pd.Type)) {
		if pd.Type == "" {
			v.addAt(path, "param type is required")
		} else {
			v.addAt(path.field("type"), "unknown param type %q", string(pd.Type))
		}
	}
	hasValue := pd.Value != nil || (pd.Type == Map && pd.Fields != nil)
	switch {
	case hasValue && pd.Expression != "":
		v.addAt(path, "param must have either a value or an expression, not both")
	case !hasValue && pd.Expression == "":
		v.addAt(path, "param must have a value or an expression")
	}
	if pd.Value != nil && (pd.Value.Type != pd.Type || !v.maps.matches(*pd.Value)) {
		v.addAt(path.field("value"), "value of Go type %T does not match param type %s", pd.Value.Raw, pd.Type)
	}
	if pd.Mode != "" && !isEnum(pd.Mode, paramModes) {
		v.addAt(path.field("mode"), "unknown param mode %q (want one of %s)", pd.Mode, strings.Join(paramModes, ", "))
	}
	if pd.Source != "" && !isEnum(pd.Source, paramSources) {
		v.addAt(path.field("source"), "unknown param source %q", pd.Source)
	}
	if pd.InternalMode != "" && !isEnum(pd.InternalMode, internalParamModes) {
		v.addAt(path.field("internal_mode"), "unknown param internal_mode %q (want one of %s)", pd.InternalMode, strings.Join(internalParamModes, ", "))
	}
	if len(pd.Tags) > 0 {
		v.tags(path.field("tags"), pd.Tags)
	}
	if pd.Fields != nil {
		v.params(path.field("value"), pd.Fields, depth+1)
	}
}

// fieldsOf returns the nested definitions of a MAP param, also for one built
// by hand with only a Value.
func fieldsOf(pd ParamDef) map[string]ParamDef {
	if pd.Fields != nil {
		return pd.Fields
	}
	if pd.Value != nil {
		if m, ok := pd.Value.Raw.(map[string]Value); ok {
			out := make(map[string]ParamDef, len(m))
			for k, val := range m {
				val := val
				out[k] = ParamDef{Type: val.Type, Value: &val}
			}
			return out
		}
	}
	return nil
}

func (v *validator) shell(base *loc, params map[string]ParamDef) {
	sp := base.field(shellParam)
	sh, ok := params[shellParam]
	switch {
	case !ok:
		v.addAt(sp, "Shell step requires a %q param of type MAP with a %q STRING", shellParam, shellCommandField)
		return
	case sh.Type != Map:
		v.addAt(sp.field("type"), "the %q param must be of type MAP, got %s", shellParam, sh.Type)
		return
	case sh.Expression != "":
		return // reported by CheckSupported
	}
	cp := sp.field("value").field(shellCommandField)
	cmd, ok := fieldsOf(sh)[shellCommandField]
	switch {
	case !ok:
		v.addAt(cp, "Shell step requires a %q STRING in the %q param", shellCommandField, shellParam)
	case cmd.Type != String:
		v.addAt(cp.field("type"), "%q must be of type STRING, got %s", shellCommandField, cmd.Type)
	case cmd.Value != nil && strings.TrimSpace(fmt.Sprint(cmd.Value.Raw)) == "":
		v.addAt(cp.field("value"), "%q must not be empty", shellCommandField)
	}
}

func (v *validator) sleep(base *loc, params map[string]ParamDef) {
	p := base.field(sleepSecondsParam)
	ss, ok := params[sleepSecondsParam]
	if !ok {
		v.addAt(p, "Sleep step requires a %q param (LONG >= 0)", sleepSecondsParam)
		return
	}
	switch ss.Type {
	case Long:
		if ss.Value != nil {
			if n, ok := ss.Value.Raw.(int64); ok && n < 0 {
				v.addAt(p.field("value"), "%s must not be negative, got %d", sleepSecondsParam, n)
			}
		}
	case String:
		if ss.Value == nil {
			return
		}
		s, _ := ss.Value.Raw.(string)
		if strings.Contains(s, "$") {
			return // interpolated at run time
		}
		n, ok := parseLongText(strings.TrimSpace(s))
		switch {
		case !ok:
			v.addAt(p.field("value"), "%s must be a whole number of seconds, got %q", sleepSecondsParam, s)
		case n < 0:
			v.addAt(p.field("value"), "%s must not be negative, got %d", sleepSecondsParam, n)
		}
	default:
		v.addAt(p.field("type"), "%s must be of type LONG (or a STRING holding a number), got %s", sleepSecondsParam, ss.Type)
	}
}

// http checks an Http step's params the way the worker and the runtime
// read them when the attempt runs (scheduler.buildSpec, runtime.runHTTP),
// so that a step that can never send its request is refused at push instead
// of failing on a node, and a broken state_expr is found before any request
// is sent rather than after. A value with references or from an expression
// is only known when the step runs, and is checked then.
func (v *validator) http(base *loc, params map[string]ParamDef) {
	hp := base.field(httpParam)
	h, ok := params[httpParam]
	switch {
	case !ok:
		v.addAt(hp, "Http step requires an %q param of type MAP with a %q STRING", httpParam, httpURLField)
	case h.Type != Map:
		v.addAt(hp.field("type"), "the %q param must be of type MAP, got %s", httpParam, h.Type)
	case h.Expression != "":
		// The map is built when the step runs.
	default:
		fields := fieldsOf(h)
		fp := hp.field("value")
		up := fp.field(httpURLField)
		u, ok := fields[httpURLField]
		switch {
		case !ok:
			v.addAt(up, "Http step requires a %q STRING in the %q param", httpURLField, httpParam)
		case u.Type != String:
			v.addAt(up.field("type"), "%q must be of type STRING, got %s", httpURLField, u.Type)
		default:
			if s, ok := literalText(u); ok {
				if prob := urlProblem(s); prob != "" {
					v.addAt(up.field("value"), "%s", prob)
				}
			}
		}
		if m, ok := fields[httpMethodField]; ok {
			mp := fp.field(httpMethodField)
			if m.Type != String {
				v.addAt(mp.field("type"), "%q must be of type STRING, got %s", httpMethodField, m.Type)
			} else if s, ok := literalText(m); ok {
				// Empty means GET; otherwise the runtime sends the upper
				// case form, which must be an HTTP token.
				if name := strings.TrimSpace(s); name != "" && !httpguts.ValidHeaderFieldName(strings.ToUpper(name)) {
					v.addAt(mp.field("value"), "%q is not a valid HTTP method", s)
				}
			}
		}
		if hd, ok := fields[httpHeadersField]; ok && hd.Type != StringMap && hd.Type != Map {
			v.addAt(fp.field(httpHeadersField).field("type"), "%q must be of type STRING_MAP, got %s", httpHeadersField, hd.Type)
		}
	}
	sp := base.field(httpStateExprParam)
	if se, ok := params[httpStateExprParam]; ok {
		if se.Type != String {
			v.addAt(sp.field("type"), "%q must be of type STRING (a SEL expression), got %s", httpStateExprParam, se.Type)
		} else if s, ok := literalText(se); ok && strings.TrimSpace(s) != "" {
			// Docs promise every expression is parsed at push; the worker
			// otherwise finds a syntax error only after the request.
			v.expressionAt(sp.field("value"), s)
		}
	}
}

// literalText is the text a STRING param will have when the step runs, if
// that is known now: a value without references (so interpolation only
// turns $$ into $). ok is false for an expression, a value with references,
// or a malformed "${", which parsing reports.
func literalText(pd ParamDef) (string, bool) {
	if pd.Value == nil {
		return "", false
	}
	s, isString := pd.Value.Raw.(string)
	if !isString || len(refNames(s)) > 0 {
		return "", false
	}
	out, err := Interpolate(s, nil)
	if err != nil {
		return "", false
	}
	return out, true
}

// urlProblem applies the runtime's node-independent rules for an Http
// step's url (the host allow-list differs from node to node and is checked
// there): it parses, uses http or https, and names a host.
func urlProblem(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return "url must not be empty"
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error repeats the whole URL, which may carry credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Sprintf("invalid url: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Sprintf("url scheme %q is not supported; use http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return "url has no host"
	}
	return ""
}

func (v *validator) parsable(path *loc, name string, f *ParsableLong, lo, hi int64, duration bool) {
	if f == nil {
		return
	}
	val := f.Int
	if f.IsString {
		if strings.Contains(f.Str, "$") {
			return // checked once params are known
		}
		var ok bool
		if val, ok = parseLongValue(f.Str, duration); !ok {
			if duration {
				v.addAt(path, "%s %q is not a number of seconds or a duration", name, f.Str)
			} else {
				v.addAt(path, "%s %q is not a number", name, f.Str)
			}
			return
		}
	}
	v.rangeCheck(path, name, val, lo, hi)
}

func (v *validator) retryPolicy(path *loc, rp *RetryPolicy) {
	limit := func(field string, f *ParsableLong) {
		v.parsable(path.field(field), field, f, 0, maxRetryLimit, false)
	}
	limit("error_retry_limit", rp.ErrorRetryLimit)
	limit("platform_retry_limit", rp.PlatformRetryLimit)
	limit("timeout_retry_limit", rp.TimeoutRetryLimit)
	b := rp.BackoffPolicy
	if b == nil {
		return
	}
	bp := path.field("backoff")
	switch {
	case b.Type == "":
		v.addAt(bp.field("type"), "backoff type is required (EXPONENTIAL_BACKOFF or FIXED_BACKOFF)")
	case !isEnum(string(b.Type), backoffTypes):
		v.addAt(bp.field("type"), "unknown backoff type %q (want EXPONENTIAL_BACKOFF or FIXED_BACKOFF)", b.Type)
	}
	secs := func(field string, f *ParsableLong) {
		v.parsable(bp.field(field), field, f, 1, maxRetryDelaySecs, true)
	}
	exp := func(field string, f *ParsableLong) {
		v.parsable(bp.field(field), field, f, 0, maxExponent, false)
	}
	secs("error_retry_backoff_in_secs", b.ErrorRetryBackoffInSecs)
	exp("error_retry_exponent", b.ErrorRetryExponent)
	secs("error_retry_limit_in_secs", b.ErrorRetryLimitInSecs)
	secs("platform_retry_backoff_in_secs", b.PlatformRetryBackoffInSecs)
	exp("platform_retry_exponent", b.PlatformRetryExponent)
	secs("platform_retry_limit_in_secs", b.PlatformRetryLimitInSecs)
	secs("timeout_retry_backoff_in_secs", b.TimeoutRetryBackoffInSecs)
	exp("timeout_retry_exponent", b.TimeoutRetryExponent)
	secs("timeout_retry_limit_in_secs", b.TimeoutRetryLimitInSecs)
}
