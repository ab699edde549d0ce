package bench

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/batonhq/baton/workflow"
)

// The workloads' workflow definitions, in Maestro's format.

type defStep struct {
	ID         string         `json:"id"`
	Type       string         `json:"type"`
	Params     map[string]any `json:"params,omitempty"`
	Transition *defTransition `json:"transition,omitempty"`
}

type defTransition struct {
	Successors map[string]string `json:"successors"`
}

type defWrap struct {
	Step defStep `json:"step"`
}

func definition(id string, properties map[string]any, workflow map[string]any) string {
	props := map[string]any{"owner": "baton-bench"}
	for k, v := range properties {
		props[k] = v
	}
	workflow["id"] = id
	b, err := json.Marshal(map[string]any{"properties": props, "workflow": workflow})
	if err != nil {
		panic(err) // only maps, strings and numbers above
	}
	return string(b)
}

// runParallel is a run strategy that lets up to n instances run at once.
func runParallel(n int) map[string]any {
	return map[string]any{"run_strategy": map[string]any{"rule": "PARALLEL", "workflow_concurrency": n}}
}

// chainStepID names step i of a chain so that ids sort in chain order.
func chainStepID(i int) string { return fmt.Sprintf("s%05d", i) }

// chainDefinition is n NoOp steps in a line.
func chainDefinition(id string, n int) string {
	steps := make([]defWrap, n)
	for i := range steps {
		s := defStep{ID: chainStepID(i), Type: "NoOp"}
		if i+1 < n {
			s.Transition = &defTransition{Successors: map[string]string{chainStepID(i + 1): "true"}}
		}
		steps[i] = defWrap{Step: s}
	}
	return definition(id, nil, map[string]any{"steps": steps})
}

// oneStepDefinition is a single NoOp step; up to 1,000 instances run at once.
func oneStepDefinition(id string) string {
	return definition(id, runParallel(1000), map[string]any{"steps": []defWrap{{Step: defStep{ID: "a", Type: "NoOp"}}}})
}

// foreachDefinition is one foreach over the integers 0..n-1 running a NoOp
// step per iteration, at most concurrency iterations at once.
//
// One loop runs at most workflow.MaxIterations iterations, so above that the
// iterations are split evenly between that many inner loops, run at once by
// an outer foreach, and the concurrency between them (foreachShape).
func foreachDefinition(id string, n, concurrency int) string {
	outer, inner, innerConc := foreachShape(n, concurrency)
	loop := func(id, param string, n, concurrency int, steps any) map[string]any {
		return map[string]any{
			"id":          id,
			"concurrency": concurrency,
			"params": map[string]any{"loop_params": map[string]any{"type": "MAP", "value": map[string]any{
				param: map[string]any{"type": "LONG_ARRAY", "expression": fmt.Sprintf("Util.intsBetween(0, %d, 1)", n)},
			}}},
			"steps": steps,
		}
	}
	work := loop("loop", "i", inner, innerConc, []defWrap{{Step: defStep{ID: "work", Type: "NoOp"}}})
	if outer > 1 {
		work = loop("outer", "o", outer, outer, []map[string]any{{"foreach": work}})
	}
	return definition(id, runParallel(10), map[string]any{"steps": []map[string]any{{"foreach": work}}})
}

// foreachShape splits n iterations at most concurrency at a time into outer
// loops of inner iterations each, innerConc at a time.
func foreachShape(n, concurrency int) (outer, inner, innerConc int) {
	outer = (n + workflow.MaxIterations - 1) / workflow.MaxIterations
	inner = n / outer
	innerConc = max(1, concurrency/outer)
	return outer, inner, innerConc
}

// cronDefinition is one NoOp step and a time trigger that fires once, at
// the given second (UTC): a cron expression naming the second, minute,
// hour, day, month and year. A trigger that fires once a day at most passes
// the agents' default minimum interval between fires, so no agent flag is
// needed. With a nil due, the workflow has no trigger.
func cronDefinition(id string, due *time.Time) string {
	wf := map[string]any{"steps": []defWrap{{Step: defStep{ID: "a", Type: "NoOp"}}}}
	if due != nil {
		t := due.UTC()
		wf["time_triggers"] = []map[string]any{{
			"type": "CRON",
			"cron": fmt.Sprintf("%d %d %d %d %d ? %d", t.Second(), t.Minute(), t.Hour(), t.Day(), int(t.Month()), t.Year()),
		}}
	}
	return definition(id, runParallel(10), wf)
}

// failoverDefinition is the failover workload's instance: a NoOp step, then
// a Shell step that appends one line per execution to the ledger file
// ("attempt_id node generation") before sleeping briefly, so that attempts
// are running on every node when the leader dies.
func failoverDefinition(id, ledger string, sleep time.Duration) string {
	// In definition strings $$ is a literal $; the ledger path comes from
	// os.MkdirTemp and holds no quote.
	cmd := fmt.Sprintf(`printf '%%s %%s %%s\n' "$$BATON_ATTEMPT_ID" "$$BATON_NODE" "$$BATON_GENERATION" >> '%s'`, ledger)
	if sleep > 0 {
		cmd += fmt.Sprintf("; sleep %s", strings.TrimRight(strings.TrimRight(fmt.Sprintf("%.3f", sleep.Seconds()), "0"), "."))
	}
	steps := []defWrap{
		{Step: defStep{ID: "place", Type: "NoOp", Transition: &defTransition{Successors: map[string]string{"work": "true"}}}},
		{Step: defStep{ID: "work", Type: "Shell", Params: map[string]any{"shell": map[string]any{"type": "MAP", "value": map[string]any{
			"command": map[string]any{"type": "STRING", "value": cmd},
		}}}}},
	}
	return definition(id, runParallel(1000), map[string]any{"steps": steps})
}
