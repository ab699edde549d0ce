package workflow

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// decoder turns the tree into the model, collecting every problem instead of
// stopping at the first, and recording the position of each path it visits.
type decoder struct {
	errs Errors
	// pos records where each visited path starts, for errors found after
	// parsing; nil when the caller has no use for it.
	pos *posTable
	// pathBytes is the length of the paths in errs, and full is set once no
	// more errors are kept.
	pathBytes int
	full      bool
}

func newDecoder() *decoder { return &decoder{} }

// maxErrorPaths bounds the total length of the paths in one error list.
// Paths are short in any real definition, but a path through long keys
// nested hundreds of levels deep can approach the size of the input, and a
// hundred such errors would hold a hundred copies of it.
const maxErrorPaths = 1 << 20

// room tells whether another error is kept, adding the "too many errors"
// marker when the list has just become full.
func (dc *decoder) room() bool {
	if dc.full {
		return false
	}
	if len(dc.errs) >= maxErrors {
		dc.errs = append(dc.errs, &Error{Msg: "too many errors"})
		dc.full = true
		return false
	}
	return true
}

func (dc *decoder) add(at position, path, format string, args []any) {
	dc.pathBytes += len(path)
	if dc.pathBytes > maxErrorPaths {
		dc.errs = append(dc.errs, &Error{Msg: "too many errors"})
		dc.full = true
		return
	}
	dc.errs = append(dc.errs, &Error{Path: path, Line: at.line, Col: at.col, Msg: fmt.Sprintf(format, args...)})
}

// errf records an error at a path given as a string.
func (dc *decoder) errf(at position, path, format string, args ...any) {
	if dc.room() {
		dc.add(at, path, format, args)
	}
}

// errAt records an error at l, rendering its path only if the error is kept.
func (dc *decoder) errAt(at position, l *loc, format string, args ...any) {
	if dc.room() {
		dc.add(at, l.String(), format, args)
	}
}

// loc is where a node sits in the tree: its parent and its key or index.
// The path string is rendered only when an error needs it; rendering it for
// every node cost the nesting depth times the key length per node.
type loc struct {
	parent *loc
	key    string
	index  int    // list index, or -1 for an object member
	prefix string // at the root only: the path given by the caller
	id     int32  // 1 + its entry in the decoder's position table, once known
	str    string // the rendered path, once asked for
	done   bool
}

// rootLoc starts paths at prefix, which callers that decode part of a
// document give as an already rendered path. Only Parse records positions,
// and it starts at the document's root, with no prefix.
func rootLoc(prefix string) *loc { return &loc{index: -1, prefix: prefix} }

func (l *loc) field(k string) *loc { return &loc{parent: l, key: k, index: -1} }

func (l *loc) item(i int) *loc { return &loc{parent: l, index: i} }

// String renders the path as keyPath and indexPath would have built it.
func (l *loc) String() string {
	if !l.done {
		l.str, l.done = l.render(""), true
	}
	return l.str
}

// render returns the path followed by suffix.
func (l *loc) render(suffix string) string {
	var segs []pathSeg
	x := l
	for ; x.parent != nil; x = x.parent {
		segs = append(segs, pathSeg{key: x.key, index: x.index})
	}
	slices.Reverse(segs)
	return renderPath(x.prefix, segs, suffix)
}

// entry finds or adds the position-table entry for l.
func (dc *decoder) entry(l *loc) int32 {
	if l.id > 0 {
		return l.id - 1
	}
	var id int32 // the root is entry 0
	if l.parent != nil {
		id = dc.pos.child(dc.entry(l.parent), l.key, l.index)
	}
	l.id = id + 1
	return id
}

func (dc *decoder) mark(l *loc, n *node) {
	if dc.pos != nil {
		dc.pos.set(dc.entry(l), n.pos)
	}
}

// markTree remembers the position of n, at entry id, and of everything
// inside it.
func (dc *decoder) markTree(id int32, n *node, depth int) {
	if depth > maxDepth {
		return
	}
	dc.pos.set(id, n.pos)
	for i, it := range n.items {
		dc.markTree(dc.pos.child(id, "", i), it, depth+1)
	}
	for i, k := range n.keys {
		if i < len(n.vals) {
			dc.markTree(dc.pos.child(id, k, -1), n.vals[i], depth+1)
		}
	}
}

// describe renders a node for "expected X, got Y" messages.
func describe(n *node) string {
	switch n.kind {
	case kString:
		s := n.text
		if len([]rune(s)) > 40 {
			s = string([]rune(s)[:40]) + "..."
		}
		return strconv.Quote(s)
	case kNumber:
		return n.text
	case kBool:
		return strconv.FormatBool(n.b)
	case kNull:
		return "null"
	case kArray:
		return "a list"
	case kObject:
		return "an object"
	}
	return "a value"
}

type fieldSet map[string]func(v *node, path *loc)

// fields decodes an object whose members are all listed in fs. Null members
// count as absent, as they do for Maestro.
func (dc *decoder) fields(n *node, path *loc, fs fieldSet) bool {
	dc.mark(path, n)
	if n.kind != kObject {
		dc.errAt(n.pos, path, "expected an object, got %s", describe(n))
		return false
	}
	for i, k := range n.keys {
		v := n.vals[i]
		p := path.field(k)
		f, ok := fs[k]
		if !ok {
			dc.errAt(n.keyPos[i], path, "unknown field %q", k)
			continue
		}
		dc.mark(p, v)
		if v.kind == kNull {
			continue
		}
		f(v, p)
	}
	return true
}

// member finds a member by name; decoding sometimes depends on a
// discriminator such as "type" that may appear after the other members.
func member(n *node, k string) *node {
	if n.kind != kObject {
		return nil
	}
	for i, key := range n.keys {
		if key == k {
			if n.vals[i].kind == kNull {
				return nil
			}
			return n.vals[i]
		}
	}
	return nil
}

// str accepts any scalar, as Jackson does for String fields, so that YAML
// such as `id: 42` still reads as the string "42".
func (dc *decoder) str(n *node, path *loc) string {
	switch n.kind {
	case kString, kNumber:
		return n.text
	case kBool:
		return strconv.FormatBool(n.b)
	}
	dc.errAt(n.pos, path, "expected a string, got %s", describe(n))
	return ""
}

func (dc *decoder) strList(n *node, path *loc) []string {
	if n.kind != kArray {
		dc.errAt(n.pos, path, "expected a list of strings, got %s", describe(n))
		return nil
	}
	var out []string
	for i, it := range n.items {
		p := path.item(i)
		dc.mark(p, it)
		out = append(out, dc.str(it, p))
	}
	return out
}

func (dc *decoder) boolPtr(n *node, path *loc) *bool {
	b, ok := scalarBool(n)
	if !ok {
		dc.errAt(n.pos, path, "expected true or false, got %s", describe(n))
		return nil
	}
	return &b
}

func (dc *decoder) intPtr(n *node, path *loc) *int64 {
	v, ok := scalarLong(n)
	if !ok {
		dc.errAt(n.pos, path, "expected an integer, got %s", describe(n))
		return nil
	}
	return &v
}

func (dc *decoder) raw(n *node) json.RawMessage {
	return json.RawMessage(encodeNode(n))
}

func (dc *decoder) rawList(n *node, path *loc) []json.RawMessage {
	if n.kind != kArray {
		dc.errAt(n.pos, path, "expected a list, got %s", describe(n))
		return nil
	}
	var out []json.RawMessage
	for i, it := range n.items {
		dc.mark(path.item(i), it)
		out = append(out, dc.raw(it))
	}
	return out
}

func (dc *decoder) definition(n *node) *Definition {
	d := &Definition{}
	dc.fields(n, rootLoc(""), fieldSet{
		"properties": func(v *node, p *loc) { d.Properties = dc.properties(v, p) },
		"workflow":   func(v *node, p *loc) { d.Workflow = dc.workflow(v, p) },
		"is_active":  func(v *node, p *loc) { d.IsActive = dc.boolPtr(v, p) },
		"git_info":   func(v *node, p *loc) { d.GitInfo = dc.gitInfo(v, p) },
	})
	return d
}

func (dc *decoder) properties(n *node, path *loc) *Properties {
	pr := &Properties{}
	dc.fields(n, path, fieldSet{
		"owner":                   func(v *node, p *loc) { pr.Owner = dc.user(v, p) },
		"access_control":          func(v *node, p *loc) { pr.AccessControl = dc.raw(v) },
		"run_strategy":            func(v *node, p *loc) { pr.RunStrategy = dc.runStrategy(v, p) },
		"step_concurrency":        func(v *node, p *loc) { pr.StepConcurrency = dc.intPtr(v, p) },
		"alerting":                func(v *node, p *loc) { pr.Alerting = dc.raw(v) },
		"alerting_disabled":       func(v *node, p *loc) { pr.AlertingDisabled = dc.boolPtr(v, p) },
		"signal_trigger_disabled": func(v *node, p *loc) { pr.SignalTriggerDisabled = dc.boolPtr(v, p) },
		"time_trigger_disabled":   func(v *node, p *loc) { pr.TimeTriggerDisabled = dc.boolPtr(v, p) },
		"description":             func(v *node, p *loc) { pr.Description = dc.str(v, p) },
		"tags":                    func(v *node, p *loc) { pr.Tags = dc.tags(v, p) },
	})
	return pr
}

func (dc *decoder) user(n *node, path *loc) *User {
	if n.kind != kObject {
		return &User{Name: dc.str(n, path)}
	}
	u := &User{}
	for i, k := range n.keys {
		v := n.vals[i]
		p := path.field(k)
		dc.mark(p, v)
		if k == "name" {
			if v.kind != kString {
				dc.errAt(v.pos, p, "expected a string, got %s", describe(v))
			}
			u.Name = v.text
			continue
		}
		if v.kind == kNull {
			continue
		}
		if u.Extra == nil {
			u.Extra = map[string]json.RawMessage{}
		}
		u.Extra[k] = dc.raw(v)
	}
	return u
}

func (dc *decoder) runStrategy(n *node, path *loc) *RunStrategy {
	rs := &RunStrategy{}
	var conc *int64
	switch n.kind {
	case kString:
		rs.Rule = normalizeEnum(n.text, runRules)
	case kNumber:
		rs.Rule = RunParallel
		conc = dc.intPtr(n, path)
	default:
		dc.fields(n, path, fieldSet{
			"rule":                 func(v *node, p *loc) { rs.Rule = normalizeEnum(dc.str(v, p), runRules) },
			"workflow_concurrency": func(v *node, p *loc) { conc = dc.intPtr(v, p) },
		})
	}
	switch {
	case conc != nil:
		rs.WorkflowConcurrency = *conc
	case rs.Rule == RunParallel:
		rs.WorkflowConcurrency = defaultParallelism
	default:
		rs.WorkflowConcurrency = 1
	}
	return rs
}

func (dc *decoder) gitInfo(n *node, path *loc) *GitInfo {
	g := &GitInfo{}
	dc.fields(n, path, fieldSet{
		"origin":              func(v *node, p *loc) { g.Origin = dc.str(v, p) },
		"branch":              func(v *node, p *loc) { g.Branch = dc.str(v, p) },
		"sha":                 func(v *node, p *loc) { g.SHA = dc.str(v, p) },
		"path":                func(v *node, p *loc) { g.Path = dc.str(v, p) },
		"author":              func(v *node, p *loc) { g.Author = dc.str(v, p) },
		"timestamp":           func(v *node, p *loc) { g.Timestamp = dc.intPtr(v, p) },
		"uncommitted_changes": func(v *node, p *loc) { g.UncommittedChanges = dc.boolPtr(v, p) },
	})
	return g
}

func (dc *decoder) tags(n *node, path *loc) []Tag {
	if n.kind != kArray {
		dc.errAt(n.pos, path, "expected a list of tags, got %s", describe(n))
		return nil
	}
	var out []Tag
	for i, it := range n.items {
		p := path.item(i)
		dc.mark(p, it)
		if it.kind != kObject {
			out = append(out, Tag{Name: dc.str(it, p)})
			continue
		}
		// Tags carry free-form attributes in Maestro, so other members are
		// kept rather than rejected.
		var t Tag
		for j, k := range it.keys {
			v := it.vals[j]
			kp := p.field(k)
			dc.mark(kp, v)
			if v.kind == kNull {
				continue
			}
			switch k {
			case "name":
				t.Name = dc.str(v, kp)
			case "namespace":
				t.Namespace = normalizeEnum(dc.str(v, kp), tagNamespaces)
			case "permit":
				t.Permit = dc.intPtr(v, kp)
			default:
				if t.Attributes == nil {
					t.Attributes = map[string]json.RawMessage{}
				}
				t.Attributes[k] = dc.raw(v)
			}
		}
		out = append(out, t)
	}
	return out
}

func (dc *decoder) workflow(n *node, path *loc) Workflow {
	var w Workflow
	dc.fields(n, path, fieldSet{
		"id":            func(v *node, p *loc) { w.ID = dc.str(v, p) },
		"name":          func(v *node, p *loc) { w.Name = dc.str(v, p) },
		"description":   func(v *node, p *loc) { w.Description = dc.str(v, p) },
		"tags":          func(v *node, p *loc) { w.Tags = dc.tags(v, p) },
		"timeout":       func(v *node, p *loc) { w.Timeout = dc.durationAt(v, p) },
		"time_triggers": func(v *node, p *loc) { w.TimeTriggers = dc.rawList(v, p) },
		"signal_triggers": func(v *node, p *loc) {
			w.SignalTriggers = dc.rawList(v, p)
			// Checked later from the raw JSON: remember where every part
			// of it is, so those errors point at their line.
			if dc.pos != nil {
				dc.markTree(dc.entry(p), v, 0)
			}
		},
		"criticality":               func(v *node, p *loc) { w.Criticality = normalizeEnum(dc.str(v, p), criticalities) },
		"instance_step_concurrency": func(v *node, p *loc) { w.InstanceStepConcurrency = dc.intPtr(v, p) },
		"params":                    func(v *node, p *loc) { w.Params = dc.paramsAt(v, p) },
		"steps":                     func(v *node, p *loc) { w.Steps = dc.steps(v, p) },
	})
	return w
}

var stepKinds = []StepKind{KindStep, KindForeach, KindWhile, KindSubworkflow, KindTemplate}

func (dc *decoder) steps(n *node, path *loc) []Step {
	if n.kind != kArray {
		dc.errAt(n.pos, path, "expected a list of steps, got %s", describe(n))
		return nil
	}
	var out []Step
	for i, it := range n.items {
		p := path.item(i)
		dc.mark(p, it)
		if it.kind != kObject {
			dc.errAt(it.pos, p, "expected a step object such as {\"step\": {...}}, got %s", describe(it))
			continue
		}
		if len(it.keys) != 1 {
			dc.errAt(it.pos, p, "a step must have exactly one key (step, foreach, while, subworkflow or template), got %d", len(it.keys))
			continue
		}
		k := StepKind(it.keys[0])
		known := false
		for _, sk := range stepKinds {
			known = known || sk == k
		}
		if !known {
			dc.errAt(it.keyPos[0], p, "unknown step kind %q (want step, foreach, while, subworkflow or template)", string(k))
			continue
		}
		out = append(out, dc.step(it.vals[0], p.field(string(k)), k))
	}
	return out
}

func (dc *decoder) step(n *node, path *loc, k StepKind) Step {
	s := Step{Kind: k}
	fs := fieldSet{
		"id":                  func(v *node, p *loc) { s.ID = dc.str(v, p) },
		"name":                func(v *node, p *loc) { s.Name = dc.str(v, p) },
		"description":         func(v *node, p *loc) { s.Description = dc.str(v, p) },
		"transition":          func(v *node, p *loc) { s.Transition = dc.transition(v, p) },
		"failure_mode":        func(v *node, p *loc) { s.FailureMode = FailureMode(normalizeEnum(dc.str(v, p), failureModes)) },
		"tags":                func(v *node, p *loc) { s.Tags = dc.tags(v, p) },
		"timeout":             func(v *node, p *loc) { s.Timeout = dc.durationAt(v, p) },
		"signal_dependencies": func(v *node, p *loc) { s.SignalDependencies = dc.raw(v) },
		"signal_outputs":      func(v *node, p *loc) { s.SignalOutputs = dc.raw(v) },
		"params":              func(v *node, p *loc) { s.Params = dc.paramsAt(v, p) },
	}
	switch k {
	case KindStep:
		fs["type"] = func(v *node, p *loc) { s.Type = normalizeStepType(dc.str(v, p)) }
		fs["sub_type"] = func(v *node, p *loc) { s.SubType = dc.str(v, p) }
		fs["sub_type_version"] = func(v *node, p *loc) { s.SubTypeVersion = dc.str(v, p) }
		fs["retry_policy"] = func(v *node, p *loc) { s.RetryPolicy = dc.retryPolicy(v, p) }
	case KindForeach:
		fs["concurrency"] = func(v *node, p *loc) { s.Concurrency = dc.intPtr(v, p) }
		fs["strict_ordering"] = func(v *node, p *loc) { s.StrictOrdering = dc.boolPtr(v, p) }
		fs["steps"] = func(v *node, p *loc) { s.Steps = dc.steps(v, p) }
	case KindWhile:
		fs["condition"] = func(v *node, p *loc) { s.Condition = dc.str(v, p) }
		fs["steps"] = func(v *node, p *loc) { s.Steps = dc.steps(v, p) }
	case KindSubworkflow:
		fs["sync"] = func(v *node, p *loc) { s.Sync = dc.boolPtr(v, p) }
		fs["explicit_params"] = func(v *node, p *loc) { s.ExplicitParams = dc.boolPtr(v, p) }
	case KindTemplate:
		fs["sub_type"] = func(v *node, p *loc) { s.SubType = dc.str(v, p) }
	}
	dc.fields(n, path, fs)
	if k != KindStep {
		s.Type = string(k)
	}
	if s.FailureMode == "" {
		s.FailureMode = FailAfterRunning
	}
	return s
}

func (dc *decoder) transition(n *node, path *loc) Transition {
	var t Transition
	dc.fields(n, path, fieldSet{
		"predecessors": func(v *node, p *loc) { t.Predecessors = dc.strList(v, p) },
		"successors": func(v *node, p *loc) {
			if v.kind != kObject {
				dc.errAt(v.pos, p, "expected an object of step id to condition, got %s", describe(v))
				return
			}
			for i, k := range v.keys {
				c := v.vals[i]
				cp := p.field(k)
				dc.mark(cp, c)
				cond := ""
				if c.kind != kNull {
					cond = dc.str(c, cp)
				}
				t.Successors = append(t.Successors, Edge{To: k, Condition: cond})
			}
		},
	})
	return t
}

func (dc *decoder) parsableLong(n *node, path *loc) *ParsableLong {
	switch n.kind {
	case kString:
		return &ParsableLong{Str: n.text, IsString: true}
	case kNumber:
		v, ok := scalarLong(n)
		if !ok {
			dc.errAt(n.pos, path, "expected an integer or a string, got %s", describe(n))
			return nil
		}
		if v < 0 {
			dc.errAt(n.pos, path, "must not be negative, got %d", v)
			return nil
		}
		return &ParsableLong{Int: v}
	}
	dc.errAt(n.pos, path, "expected an integer or a string, got %s", describe(n))
	return nil
}

func (dc *decoder) retryPolicy(n *node, path *loc) *RetryPolicy {
	rp := &RetryPolicy{}
	dc.fields(n, path, fieldSet{
		"error_retry_limit":    func(v *node, p *loc) { rp.ErrorRetryLimit = dc.parsableLong(v, p) },
		"platform_retry_limit": func(v *node, p *loc) { rp.PlatformRetryLimit = dc.parsableLong(v, p) },
		"timeout_retry_limit":  func(v *node, p *loc) { rp.TimeoutRetryLimit = dc.parsableLong(v, p) },
		"backoff":              func(v *node, p *loc) { rp.BackoffPolicy = dc.backoff(v, p) },
	})
	return rp
}

func (dc *decoder) backoff(n *node, path *loc) *BackoffPolicy {
	b := &BackoffPolicy{}
	tn := member(n, "type")
	if tn != nil {
		b.Type = BackoffType(normalizeEnum(dc.str(tn, path.field("type")), backoffTypes))
	}
	fs := fieldSet{
		"type":                           func(*node, *loc) {},
		"error_retry_backoff_in_secs":    func(v *node, p *loc) { b.ErrorRetryBackoffInSecs = dc.parsableLong(v, p) },
		"platform_retry_backoff_in_secs": func(v *node, p *loc) { b.PlatformRetryBackoffInSecs = dc.parsableLong(v, p) },
		"timeout_retry_backoff_in_secs":  func(v *node, p *loc) { b.TimeoutRetryBackoffInSecs = dc.parsableLong(v, p) },
	}
	if b.Type != FixedBackoff {
		fs["error_retry_exponent"] = func(v *node, p *loc) { b.ErrorRetryExponent = dc.parsableLong(v, p) }
		fs["error_retry_limit_in_secs"] = func(v *node, p *loc) { b.ErrorRetryLimitInSecs = dc.parsableLong(v, p) }
		fs["platform_retry_exponent"] = func(v *node, p *loc) { b.PlatformRetryExponent = dc.parsableLong(v, p) }
		fs["platform_retry_limit_in_secs"] = func(v *node, p *loc) { b.PlatformRetryLimitInSecs = dc.parsableLong(v, p) }
		fs["timeout_retry_exponent"] = func(v *node, p *loc) { b.TimeoutRetryExponent = dc.parsableLong(v, p) }
		fs["timeout_retry_limit_in_secs"] = func(v *node, p *loc) { b.TimeoutRetryLimitInSecs = dc.parsableLong(v, p) }
	}
	if !dc.fields(n, path, fs) {
		return nil
	}
	if tn == nil {
		dc.errAt(n.pos, path, "backoff type is required (EXPONENTIAL_BACKOFF or FIXED_BACKOFF)")
	}
	return b
}

// duration reads a Maestro timeout: a number of seconds, a numeric string of
// seconds, a duration text such as "10 minutes", or a string with param
// references resolved at run time.
func (dc *decoder) duration(n *node, path string) *Duration {
	return dc.durationAt(n, rootLoc(path))
}

func (dc *decoder) durationAt(n *node, path *loc) *Duration {
	switch n.kind {
	case kNumber:
		v, ok := scalarLong(n)
		if !ok {
			dc.errAt(n.pos, path, "expected a whole number of seconds, got %s", n.text)
			return nil
		}
		if v > math.MaxInt64/int64(time.Second) || v < math.MinInt64/int64(time.Second) {
			dc.errAt(n.pos, path, "duration %s seconds is out of range", n.text)
			return nil
		}
		return &Duration{Duration: time.Duration(v) * time.Second}
	case kString:
		d, err := durationFromString(n.text)
		if err != nil {
			dc.errAt(n.pos, path, "%v", err)
			return nil
		}
		return &d
	}
	dc.errAt(n.pos, path, "expected a duration (seconds or text such as \"10 minutes\"), got %s", describe(n))
	return nil
}

// params decodes a map of param definitions found at path.
func (dc *decoder) params(n *node, path string) map[string]ParamDef {
	return dc.paramsAt(n, rootLoc(path))
}

func (dc *decoder) paramsAt(n *node, path *loc) map[string]ParamDef {
	if n.kind != kObject {
		dc.errAt(n.pos, path, "expected an object of param definitions, got %s", describe(n))
		return nil
	}
	out := make(map[string]ParamDef, len(n.keys))
	for i, k := range n.keys {
		v := n.vals[i]
		p := path.field(k)
		dc.mark(p, v)
		if v.kind == kNull {
			dc.errAt(v.pos, p, "param definition must not be null")
			continue
		}
		out[k] = dc.paramDef(v, p)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (dc *decoder) paramDef(n *node, path *loc) ParamDef {
	var pd ParamDef
	typeKnown := false
	tn := member(n, "type")
	if tn != nil {
		tp := path.field("type")
		dc.mark(tp, tn)
		name := dc.str(tn, tp)
		pd.Type, typeKnown = ParseParamType(name)
		if !typeKnown && tn.kind != kObject && tn.kind != kArray {
			dc.errAt(tn.pos, tp, "unknown param type %q", name)
		}
	}
	ok := dc.fields(n, path, fieldSet{
		"type": func(*node, *loc) {},
		"value": func(v *node, p *loc) {
			if !typeKnown {
				return
			}
			if pd.Type == Map {
				if v.kind != kObject {
					dc.errAt(v.pos, p, "expected MAP (an object of param definitions), got %s", describe(v))
					return
				}
				pd.Fields = dc.paramsAt(v, p)
				if pd.Fields == nil {
					pd.Fields = map[string]ParamDef{}
				}
				pd.Value = mapValueFromFields(pd.Fields)
				return
			}
			val, verr := coerce(pd.Type, v)
			if verr != nil {
				// No position is recorded for this path: the error
				// makes Parse fail, which drops the positions.
				if dc.room() {
					dc.add(verr.at.pos, p.render(verr.rel), "%s", []any{verr.msg})
				}
				return
			}
			pd.Value = &val
		},
		"expression":    func(v *node, p *loc) { pd.Expression = dc.str(v, p) },
		"mode":          func(v *node, p *loc) { pd.Mode = normalizeEnum(dc.str(v, p), paramModes) },
		"validator":     func(v *node, p *loc) { pd.Validator = dc.str(v, p) },
		"description":   func(v *node, p *loc) { pd.Description = dc.str(v, p) },
		"tags":          func(v *node, p *loc) { pd.Tags = dc.tags(v, p) },
		"source":        func(v *node, p *loc) { pd.Source = normalizeEnum(dc.str(v, p), paramSources) },
		"internal_mode": func(v *node, p *loc) { pd.InternalMode = normalizeEnum(dc.str(v, p), internalParamModes) },
	})
	if ok && tn == nil {
		dc.errAt(n.pos, path, "param type is required")
	}
	return pd
}

// mapValueFromFields builds the runtime value of a MAP definition when every
// nested definition is a literal.
func mapValueFromFields(fields map[string]ParamDef) *Value {
	m := make(map[string]Value, len(fields))
	for k, f := range fields {
		if f.Value == nil {
			return nil
		}
		m[k] = *f.Value
	}
	return &Value{Type: Map, Raw: m}
}
