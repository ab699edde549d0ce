package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Canonical returns deterministic compact JSON for a definition: members in
// Maestro's property order, param maps sorted by name, successors in
// definition order, type names normalized and defaults made explicit. Two
// equal definitions give equal bytes, and Parse(Canonical(d)) equals d.
func Canonical(d *Definition) ([]byte, error) {
	if d == nil {
		return nil, errors.New("nil definition")
	}
	c := &canon{}
	root := c.definition(d)
	if c.err != nil {
		return nil, c.err
	}
	return encodeNode(root), nil
}

// canon keeps the first error so the builders can stay straight-line code.
type canon struct {
	err  error
	maps typeMemo // defValue checks each level of a MAP value
}

func (c *canon) fail(format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf(format, args...)
	}
}

// Paths are passed down as a *loc, as the decoder does, and rendered only
// for the error that is kept: a path string per param cost the nesting
// depth times the key length for each of them.

// failAt keeps an error about the value at path.
func (c *canon) failAt(path *loc, format string, args ...any) {
	if c.err == nil {
		c.err = fmt.Errorf("%s: %s", path.String(), fmt.Sprintf(format, args...))
	}
}

// raw re-reads stored JSON so that hand-built RawMessages cannot make the
// output invalid and are written in the same compact form as parsed ones.
// An error names path, followed by "." and member when member is not empty
// (a member of a free-form object, written after a dot however it reads).
func (c *canon) raw(path *loc, member string, r json.RawMessage) *node {
	if len(r) == 0 {
		return nil
	}
	n, perr := parseJSON(r)
	if perr != nil {
		if c.err == nil {
			p := path.String()
			if member != "" {
				p = path.render("." + member)
			}
			c.fail("%s: invalid raw JSON: %s", p, perr.Error())
		}
		return nil
	}
	return rawNode(encodeNode(n))
}

func (c *canon) rawList(path *loc, rs []json.RawMessage) *node {
	if len(rs) == 0 {
		return nil
	}
	n := &node{kind: kArray}
	for i, r := range rs {
		it := c.raw(path.item(i), "", r)
		if it == nil {
			it = &node{kind: kNull}
		}
		n.items = append(n.items, it)
	}
	return n
}

func (c *canon) definition(d *Definition) *node {
	n := newObject()
	if d.Properties != nil {
		n.set("properties", c.properties(d.Properties))
	}
	n.set("workflow", c.workflow(&d.Workflow))
	n.set("is_active", optBool(d.IsActive))
	if g := d.GitInfo; g != nil {
		gn := newObject()
		gn.set("origin", optStr(g.Origin))
		gn.set("branch", optStr(g.Branch))
		gn.set("sha", optStr(g.SHA))
		gn.set("path", optStr(g.Path))
		gn.set("author", optStr(g.Author))
		gn.set("timestamp", optInt(g.Timestamp))
		gn.set("uncommitted_changes", optBool(g.UncommittedChanges))
		n.set("git_info", gn)
	}
	return n
}

func (c *canon) properties(p *Properties) *node {
	n := newObject()
	if u := p.Owner; u != nil {
		if len(u.Extra) == 0 {
			n.set("owner", strNode(u.Name))
		} else {
			un := newObject()
			un.set("name", strNode(u.Name))
			for _, k := range sortedKeys(u.Extra) {
				if k != "name" {
					un.set(k, c.raw(rootLoc("properties.owner"), k, u.Extra[k]))
				}
			}
			n.set("owner", un)
		}
	}
	n.set("access_control", c.raw(rootLoc("properties.access_control"), "", p.AccessControl))
	if rs := p.RunStrategy; rs != nil {
		rn := newObject()
		rn.set("rule", optStr(rs.Rule))
		rn.set("workflow_concurrency", intNode(rs.WorkflowConcurrency))
		n.set("run_strategy", rn)
	}
	n.set("step_concurrency", optInt(p.StepConcurrency))
	n.set("alerting", c.raw(rootLoc("properties.alerting"), "", p.Alerting))
	n.set("alerting_disabled", optBool(p.AlertingDisabled))
	n.set("signal_trigger_disabled", optBool(p.SignalTriggerDisabled))
	n.set("time_trigger_disabled", optBool(p.TimeTriggerDisabled))
	n.set("description", optStr(p.Description))
	n.set("tags", c.tags(rootLoc("properties.tags"), p.Tags))
	return n
}

func (c *canon) tags(path *loc, tags []Tag) *node {
	if len(tags) == 0 {
		return nil
	}
	n := &node{kind: kArray}
	for i, t := range tags {
		tn := newObject()
		tn.set("name", strNode(t.Name))
		tn.set("namespace", optStr(t.Namespace))
		tn.set("permit", optInt(t.Permit))
		for _, k := range sortedKeys(t.Attributes) {
			if k == "name" || k == "namespace" || k == "permit" {
				continue
			}
			tn.set(k, c.raw(path.item(i), k, t.Attributes[k]))
		}
		n.items = append(n.items, tn)
	}
	return n
}

func (c *canon) workflow(w *Workflow) *node {
	n := newObject()
	n.set("id", optStr(w.ID))
	n.set("name", optStr(w.Name))
	n.set("description", optStr(w.Description))
	n.set("tags", c.tags(rootLoc("workflow.tags"), w.Tags))
	if w.Timeout != nil {
		n.set("timeout", durationNode(*w.Timeout))
	}
	n.set("time_triggers", c.rawList(rootLoc("workflow.time_triggers"), w.TimeTriggers))
	n.set("signal_triggers", c.rawList(rootLoc("workflow.signal_triggers"), w.SignalTriggers))
	n.set("criticality", optStr(w.Criticality))
	n.set("instance_step_concurrency", optInt(w.InstanceStepConcurrency))
	n.set("params", c.params(rootLoc("workflow.params"), w.Params))
	n.set("steps", c.steps(rootLoc("workflow.steps"), w.Steps, 0))
	return n
}

func (c *canon) steps(path *loc, steps []Step, depth int) *node {
	if len(steps) == 0 {
		return nil
	}
	if depth > maxDepth {
		c.failAt(path, "steps nested deeper than %d levels", maxDepth)
		return nil
	}
	n := &node{kind: kArray}
	for i := range steps {
		s := &steps[i]
		kind := s.Kind
		if kind == "" {
			kind = KindStep
		}
		w := newObject()
		w.set(string(kind), c.step(stepLoc(path, i, s), s, kind, depth))
		n.items = append(n.items, w)
	}
	return n
}

func (c *canon) step(path *loc, s *Step, kind StepKind, depth int) *node {
	n := newObject()
	n.set("id", optStr(s.ID))
	n.set("name", optStr(s.Name))
	n.set("description", optStr(s.Description))
	n.set("transition", c.transition(&s.Transition))
	switch kind {
	case KindStep:
		n.set("type", optStr(s.Type))
		n.set("sub_type", optStr(s.SubType))
		n.set("sub_type_version", optStr(s.SubTypeVersion))
	case KindTemplate:
		n.set("sub_type", optStr(s.SubType))
	case KindSubworkflow:
		n.set("sync", optBool(s.Sync))
		n.set("explicit_params", optBool(s.ExplicitParams))
	}
	n.set("failure_mode", optStr(string(s.FailureMode)))
	if kind == KindStep && s.RetryPolicy != nil {
		n.set("retry_policy", retryNode(s.RetryPolicy))
	}
	n.set("tags", c.tags(path.field("tags"), s.Tags))
	if s.Timeout != nil {
		n.set("timeout", durationNode(*s.Timeout))
	}
	switch kind {
	case KindForeach:
		n.set("concurrency", optInt(s.Concurrency))
		n.set("strict_ordering", optBool(s.StrictOrdering))
	case KindWhile:
		n.set("condition", optStr(s.Condition))
	}
	n.set("signal_dependencies", c.raw(path.field("signal_dependencies"), "", s.SignalDependencies))
	n.set("signal_outputs", c.raw(path.field("signal_outputs"), "", s.SignalOutputs))
	n.set("params", c.params(path.field("params"), s.Params))
	if kind == KindForeach || kind == KindWhile {
		n.set("steps", c.steps(path.field("steps"), s.Steps, depth+1))
	}
	return n
}

func (c *canon) transition(t *Transition) *node {
	if len(t.Predecessors) == 0 && len(t.Successors) == 0 {
		return nil
	}
	n := newObject()
	if len(t.Predecessors) > 0 {
		pn := &node{kind: kArray}
		for _, p := range t.Predecessors {
			pn.items = append(pn.items, strNode(p))
		}
		n.set("predecessors", pn)
	}
	if len(t.Successors) > 0 {
		sn := newObject()
		seen := map[string]bool{}
		for _, e := range t.Successors {
			if seen[e.To] {
				c.fail("duplicate successor %q", e.To)
				continue
			}
			seen[e.To] = true
			sn.set(e.To, strNode(e.Condition))
		}
		n.set("successors", sn)
	}
	return n
}

func plNode(p *ParsableLong) *node {
	if p == nil {
		return nil
	}
	if p.IsString {
		return strNode(p.Str)
	}
	return intNode(p.Int)
}

func retryNode(rp *RetryPolicy) *node {
	n := newObject()
	n.set("error_retry_limit", plNode(rp.ErrorRetryLimit))
	n.set("platform_retry_limit", plNode(rp.PlatformRetryLimit))
	n.set("timeout_retry_limit", plNode(rp.TimeoutRetryLimit))
	if b := rp.BackoffPolicy; b != nil {
		bn := newObject()
		// Written even when empty: the member is required on input, and an
		// empty one parses (Validate reports it).
		bn.set("type", strNode(string(b.Type)))
		bn.set("error_retry_backoff_in_secs", plNode(b.ErrorRetryBackoffInSecs))
		bn.set("error_retry_exponent", plNode(b.ErrorRetryExponent))
		bn.set("error_retry_limit_in_secs", plNode(b.ErrorRetryLimitInSecs))
		bn.set("platform_retry_backoff_in_secs", plNode(b.PlatformRetryBackoffInSecs))
		bn.set("platform_retry_exponent", plNode(b.PlatformRetryExponent))
		bn.set("platform_retry_limit_in_secs", plNode(b.PlatformRetryLimitInSecs))
		bn.set("timeout_retry_backoff_in_secs", plNode(b.TimeoutRetryBackoffInSecs))
		bn.set("timeout_retry_exponent", plNode(b.TimeoutRetryExponent))
		bn.set("timeout_retry_limit_in_secs", plNode(b.TimeoutRetryLimitInSecs))
		n.set("backoff", bn)
	}
	return n
}

func (c *canon) params(path *loc, params map[string]ParamDef) *node {
	if len(params) == 0 {
		return nil
	}
	n := newObject()
	for _, k := range sortedKeys(params) {
		pd := params[k]
		n.set(k, c.paramDef(path.field(k), &pd, 0))
	}
	return n
}

func (c *canon) paramDef(path *loc, pd *ParamDef, depth int) *node {
	if depth > maxDepth {
		c.failAt(path, "params nested deeper than %d levels", maxDepth)
		return nil
	}
	n := newObject()
	switch {
	case pd.Type == Map && pd.Fields != nil:
		fn := newObject()
		vp := path.field("value")
		for _, k := range sortedKeys(pd.Fields) {
			f := pd.Fields[k]
			fn.set(k, c.paramDef(vp.field(k), &f, depth+1))
		}
		n.set("value", fn)
	case pd.Value != nil:
		n.set("value", c.defValue(path.field("value"), *pd.Value, depth))
	}
	n.set("expression", optStr(pd.Expression))
	n.set("type", optStr(string(pd.Type)))
	n.set("validator", optStr(pd.Validator))
	n.set("tags", c.tags(path.field("tags"), pd.Tags))
	n.set("mode", optStr(pd.Mode))
	n.set("description", optStr(pd.Description))
	n.set("internal_mode", optStr(pd.InternalMode))
	n.set("source", optStr(pd.Source))
	return n
}

// defValue writes a value as it appears in a definition: like MarshalJSON,
// except that MAP entries are nested definitions.
func (c *canon) defValue(path *loc, v Value, depth int) *node {
	if !c.maps.matches(v) {
		c.failAt(path, "value of Go type %T does not match type %s", v.Raw, v.Type)
		return nil
	}
	if m, ok := v.Raw.(map[string]Value); ok {
		fn := newObject()
		for _, k := range sortedKeys(m) {
			inner := m[k]
			fn.set(k, c.paramDef(path.field(k), &ParamDef{Type: inner.Type, Value: &inner}, depth+1))
		}
		return fn
	}
	vn, err := valueNode(v)
	if err != nil {
		c.failAt(path, "%v", err)
		return nil
	}
	return vn
}
