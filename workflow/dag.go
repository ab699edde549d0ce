package workflow

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// DAG is the graph of the top-level steps, built from transition.successors.
type DAG struct {
	Order []string            // step ids in definition order
	Preds map[string][]string // step id -> predecessor ids, in definition order
	Succs map[string][]Edge   // step id -> successors with their condition text
	steps map[string]*Step
	// By position in Order, for planners that visit every step of a large
	// workflow each round and would otherwise hash every id several times.
	index   map[string]int
	byPos   []*Step
	predPos [][]int
	byID    []int    // positions in Order, by ascending step id
	idsByID []string // the ids at those positions
}

// Index returns the position of a top-level step in Order.
func (g *DAG) Index(id string) (int, bool) {
	i, ok := g.index[id]
	return i, ok
}

// ByID returns the step ids sorted, in the order a store keyed by step id
// lists an instance's step records, and the position in Order of each, so
// a planner can match records to positions by merging instead of hashing
// every id. The caller must not change them.
func (g *DAG) ByID() (ids []string, positions []int) { return g.idsByID, g.byID }

// StepAt returns the step at position i of Order.
func (g *DAG) StepAt(i int) *Step { return g.byPos[i] }

// PredsAt returns the positions of the predecessors of the step at
// position i, in definition order (Preds by position).
func (g *DAG) PredsAt(i int) []int { return g.predPos[i] }

// Step returns the top-level step with the given id, or nil: Definition.Step
// without its scan, for planners that visit every step of a large workflow
// each round.
func (g *DAG) Step(id string) *Step { return g.steps[id] }

// Roots are the steps without predecessors, in definition order.
func (g *DAG) Roots() []string {
	var out []string
	for _, id := range g.Order {
		if len(g.Preds[id]) == 0 {
			out = append(out, id)
		}
	}
	return out
}

// DAG builds the graph of the top-level steps. Duplicate ids, successors
// that name no step and cycles are reported as *Errors, with the same
// paths and messages as Validate.
func (d *Definition) DAG() (*DAG, error) {
	if d == nil {
		return nil, errors.New("nil definition")
	}
	steps := d.Workflow.Steps
	if errs := checkDAG(steps, "workflow.steps", d.src, true); len(errs) > 0 {
		return nil, errs.asError()
	}
	g := &DAG{
		Order:   make([]string, 0, len(steps)),
		Preds:   make(map[string][]string, len(steps)),
		Succs:   make(map[string][]Edge, len(steps)),
		steps:   make(map[string]*Step, len(steps)),
		index:   make(map[string]int, len(steps)),
		byPos:   make([]*Step, len(steps)),
		predPos: make([][]int, len(steps)),
		byID:    make([]int, len(steps)),
	}
	for i := range steps {
		g.byID[i] = i
	}
	sort.Slice(g.byID, func(a, b int) bool { return steps[g.byID[a]].ID < steps[g.byID[b]].ID })
	g.idsByID = make([]string, len(steps))
	for k, i := range g.byID {
		g.idsByID[k] = steps[i].ID
	}
	for i := range steps {
		id := steps[i].ID
		g.steps[id] = &steps[i]
		g.index[id] = i
		g.byPos[i] = &steps[i]
		g.Order = append(g.Order, id)
		g.Preds[id] = []string{}
		g.Succs[id] = append([]Edge{}, steps[i].Transition.Successors...)
	}
	for i := range steps {
		for _, e := range steps[i].Transition.Successors {
			g.Preds[e.To] = append(g.Preds[e.To], steps[i].ID)
			j := g.index[e.To]
			g.predPos[j] = append(g.predPos[j], i)
		}
	}
	return g, nil
}

func stepPath(base string, i int, s *Step) string {
	k := s.Kind
	if k == "" {
		k = KindStep
	}
	return keyPath(indexPath(base, i), string(k))
}

func newErr(src *source, path, format string, args ...any) *Error {
	pos := src.at(path)
	return &Error{Path: path, Line: pos.line, Col: pos.col, Msg: fmt.Sprintf(format, args...)}
}

// checkDAG checks one list of sibling steps: duplicate ids (when asked; the
// validator checks them across nesting levels instead), successors naming
// no sibling, and cycles, each cycle named in full.
func checkDAG(steps []Step, base string, src *source, dups bool) Errors {
	var errs Errors
	index := make(map[string]int, len(steps))
	for i := range steps {
		id := steps[i].ID
		if _, seen := index[id]; seen {
			if dups {
				errs = append(errs, newErr(src, stepPath(base, i, &steps[i])+".id", "duplicate step id %q", id))
			}
			continue
		}
		index[id] = i
	}
	for i := range steps {
		seen := map[string]bool{}
		for _, e := range steps[i].Transition.Successors {
			p := keyPath(stepPath(base, i, &steps[i])+".transition.successors", e.To)
			if _, ok := index[e.To]; !ok {
				errs = append(errs, newErr(src, p, "unknown successor step %q", e.To))
			} else if seen[e.To] {
				errs = append(errs, newErr(src, p, "duplicate successor step %q", e.To))
			}
			seen[e.To] = true
		}
	}
	// Depth-first search in definition order; an edge back to a step still on
	// the stack closes a cycle.
	color := make([]uint8, len(steps))
	var stack []int
	var visit func(u int)
	visit = func(u int) {
		color[u] = 1
		stack = append(stack, u)
		for _, e := range steps[u].Transition.Successors {
			v, ok := index[e.To]
			if !ok {
				continue
			}
			switch color[v] {
			case 0:
				visit(v)
			case 1:
				if len(errs) >= maxErrors {
					continue
				}
				j := len(stack) - 1
				for stack[j] != v {
					j--
				}
				names := make([]string, 0, len(stack)-j+1)
				for _, k := range stack[j:] {
					names = append(names, steps[k].ID)
				}
				names = append(names, steps[v].ID)
				p := keyPath(stepPath(base, u, &steps[u])+".transition.successors", e.To)
				errs = append(errs, newErr(src, p, "steps form a cycle: %s", strings.Join(names, " -> ")))
			}
		}
		stack = stack[:len(stack)-1]
		color[u] = 2
	}
	for i := range steps {
		if index[steps[i].ID] == i && color[i] == 0 {
			visit(i)
		}
	}
	return errs
}
