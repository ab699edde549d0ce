package main

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/batonhq/baton/workflow"
)

// validateDefinition runs the checks the server makes on push, in the same
// order, so a definition that passes here is accepted there.
func validateDefinition(data []byte) validation {
	limits := workflow.DefaultLimits()
	if len(bytes.TrimSpace(data)) == 0 {
		return invalidDefinition(errors.New("definition is empty"))
	}
	if max := limits.MaxDefinitionBytes; max > 0 && len(data) > max {
		return invalidDefinition(fmt.Errorf("definition is %d bytes; the limit is %d", len(data), max))
	}
	def, err := workflow.Parse(data)
	if err != nil {
		return invalidDefinition(err)
	}
	if err := def.Validate(limits); err != nil {
		return invalidDefinition(err)
	}
	if err := workflow.CheckSupported(def); err != nil {
		return invalidDefinition(err)
	}
	dag, err := def.DAG()
	if err != nil {
		return invalidDefinition(err)
	}
	return validation{Valid: true, WorkflowID: def.Workflow.ID, Steps: len(dag.Order)}
}

// invalidDefinition lists each problem the workflow package found, with its
// position when it has one.
func invalidDefinition(err error) validation {
	var list workflow.Errors
	var one *workflow.Error
	var out []validationError
	switch {
	case errors.As(err, &list):
		for _, e := range list {
			out = append(out, validationError{Path: e.Path, Line: e.Line, Col: e.Col, Message: e.Msg})
		}
	case errors.As(err, &one):
		out = append(out, validationError{Path: one.Path, Line: one.Line, Col: one.Col, Message: one.Msg})
	}
	if len(out) == 0 {
		out = append(out, validationError{Message: err.Error()})
	}
	return validation{Errors: out}
}
