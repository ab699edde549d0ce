package workflow

// CheckSupported reports, as *Errors, every feature that parses but that
// this engine cannot run yet, each as "<feature> is not supported yet", so
// that nothing in a definition is silently ignored: foreach, while,
// subworkflow and template steps; time and signal triggers; step signal
// dependencies and outputs; params defined by a SEL expression or carrying
// a validator; alerting; and step types other than NoOp, Sleep and Shell.
func CheckSupported(d *Definition) error {
	if d == nil {
		return nil
	}
	c := &validator{src: d.src}
	if p := d.Properties; p != nil && len(p.Alerting) > 0 {
		c.add("properties.alerting", "alerting is not supported yet")
	}
	w := &d.Workflow
	if len(w.TimeTriggers) > 0 {
		c.add("workflow.time_triggers", "time_triggers is not supported yet")
	}
	if len(w.SignalTriggers) > 0 {
		c.add("workflow.signal_triggers", "signal_triggers is not supported yet")
	}
	c.unsupportedParams("workflow.params", w.Params, 0)
	c.unsupportedSteps("workflow.steps", w.Steps, 0)
	return c.errs.asError()
}

func (c *validator) unsupportedSteps(base string, steps []Step, depth int) {
	if depth > maxDepth {
		return
	}
	for i := range steps {
		s := &steps[i]
		p := stepPath(base, i, s)
		switch s.Kind {
		case KindStep, "":
			switch s.Type {
			case TypeNoOp, TypeSleep, TypeShell, "":
			default:
				c.add(p+".type", "step type %q is not supported yet", s.Type)
			}
		default:
			c.add(p, "%s step is not supported yet", s.Kind)
		}
		if len(s.SignalDependencies) > 0 {
			c.add(p+".signal_dependencies", "signal_dependencies is not supported yet")
		}
		if len(s.SignalOutputs) > 0 {
			c.add(p+".signal_outputs", "signal_outputs is not supported yet")
		}
		c.unsupportedParams(p+".params", s.Params, 0)
		c.unsupportedSteps(p+".steps", s.Steps, depth+1)
	}
}

func (c *validator) unsupportedParams(base string, params map[string]ParamDef, depth int) {
	if depth > maxDepth {
		return
	}
	for _, name := range sortedKeys(params) {
		p := keyPath(base, name)
		pd := params[name]
		if pd.Expression != "" {
			c.add(p+".expression", "param expression (SEL) is not supported yet")
		}
		if pd.Validator != "" {
			c.add(p+".validator", "param validator is not supported yet")
		}
		c.unsupportedParams(p+".value", pd.Fields, depth+1)
	}
}
