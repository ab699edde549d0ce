package workflow

import (
	"errors"
	"strings"
)

// CheckSupported reports, as *Errors, every feature that parses but that
// this engine cannot run yet, each as "<feature> is not supported yet", so
// that nothing in a definition is silently ignored: template steps; time
// and signal triggers; step signal dependencies and outputs; and step types
// other than
// NoOp, Sleep, Shell and Http. SEL expressions and conditions are checked
// here too, so that a syntax error is reported at push time.
//
// alerting is accepted and kept with the definition; this engine sends no
// alerts (docs/DEFINITIONS.md says so).
func CheckSupported(d *Definition) error {
	if d == nil {
		return nil
	}
	c := &validator{src: d.src}
	w := &d.Workflow
	c.checkSignalTriggers(w)
	c.unsupportedParamsAt(rootLoc("workflow.params"), w.Params, 0)
	c.unsupportedSteps(rootLoc("workflow.steps"), w.Steps, 0)
	return c.out.errs.asError()
}

// Paths are kept as a *loc and rendered only for an error, as in Validate.

func (c *validator) unsupportedSteps(base *loc, steps []Step, depth int) {
	if depth > maxDepth {
		return
	}
	for i := range steps {
		s := &steps[i]
		p := stepLoc(base, i, s)
		switch s.Kind {
		case KindStep, "":
			switch s.Type {
			case TypeNoOp, TypeSleep, TypeShell, TypeHTTP, "":
			default:
				c.addAt(p.field("type"), "step type %q is not supported yet", s.Type)
			}
		case KindForeach, KindWhile, KindSubworkflow:
		default:
			c.addAt(p, "%s step is not supported yet", s.Kind)
		}
		for _, e := range s.Transition.Successors {
			if cond := strings.TrimSpace(e.Condition); cond != "" && cond != "true" && cond != "false" {
				c.expressionAt(p.field("transition").field("successors").field(e.To), e.Condition)
			}
		}
		if s.Kind == KindWhile && strings.TrimSpace(s.Condition) != "" {
			c.expressionAt(p.field("condition"), s.Condition)
		}
		if deps, err := s.WaitsForSignals(); err != nil {
			c.pathError(p, err)
		} else {
			// Paths name the entry by its index, as in the JSON, and
			// match params in sorted order, so errors come out the same
			// way every time.
			for i, d := range deps {
				for _, name := range sortedKeys(d.Match) {
					if m := d.Match[name]; m.Param != nil && m.Param.Expression != "" {
						mp := p.field("signal_dependencies").item(i).field("match_params").field(name)
						c.expressionAt(mp.field("param").field("expression"), m.Param.Expression)
					}
				}
			}
		}
		if outs, err := s.SendsSignals(); err != nil {
			c.pathError(p, err)
		} else {
			for i, o := range outs {
				c.unsupportedParamsAt(p.field("signal_outputs").item(i).field("params"), o.Params, 0)
			}
		}
		c.unsupportedParamsAt(p.field("params"), s.Params, 0)
		if len(s.Steps) > 0 {
			c.unsupportedSteps(p.field("steps"), s.Steps, depth+1)
		}
	}
}

// unsupportedParams checks params found at a path given as a string.
func (c *validator) unsupportedParams(base string, params map[string]ParamDef, depth int) {
	c.unsupportedParamsAt(rootLoc(base), params, depth)
}

func (c *validator) unsupportedParamsAt(base *loc, params map[string]ParamDef, depth int) {
	if depth > maxDepth {
		return
	}
	for _, name := range sortedKeys(params) {
		p := base.field(name)
		pd := params[name]
		if pd.Expression != "" {
			c.expressionAt(p.field("expression"), pd.Expression)
		}
		// Validators are checked for syntax but, as in Maestro, which carries
		// them without evaluating them, never enforced; annotations
		// (@NotEmpty) are not SEL and are kept as written.
		if v := strings.TrimSpace(pd.Validator); v != "" && !strings.HasPrefix(v, "@") {
			c.expressionAt(p.field("validator"), v)
		}
		if len(pd.Fields) > 0 {
			c.unsupportedParamsAt(p.field("value"), pd.Fields, depth+1)
		}
	}
}

// pathError reports err at its own path below base when it carries one (a
// triggerError from reading a signal field), else at base.
func (c *validator) pathError(base *loc, err error) {
	var te triggerError
	if errors.As(err, &te) {
		if !c.out.room() {
			return
		}
		// te.path is already rendered, relative to base.
		path := base.String()
		if te.path != "" {
			path = base.render("." + te.path)
		}
		c.put(path, "%s", []any{te.msg})
		return
	}
	c.addAt(base, "%v", err)
}

// expression checks a SEL expression at push time, so that a syntax error
// is reported with the definition path and the line and column inside the
// expression, not found when the step runs.
func (c *validator) expression(path, expr string) {
	c.expressionAt(rootLoc(path), expr)
}

func (c *validator) expressionAt(path *loc, expr string) {
	if err := CheckExpression(expr); err != nil {
		c.addAt(path, "%v", err)
	}
}
