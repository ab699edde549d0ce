package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// SignalTrigger is one entry of a workflow's signal_triggers: once signals
// matching every definition exist (joined on their join keys' values when
// more than one signal is named), the workflow starts an instance.
type SignalTrigger struct {
	// Definitions by signal name; Names lists the names sorted.
	Definitions map[string]SignalTriggerEntry
	Names       []string
	// Params are evaluated when the trigger fires; steps read them with
	// params.getFromSignal('name').
	Params map[string]ParamDef
	// Condition (SEL) decides whether a match starts an instance; a match
	// whose condition is false is consumed all the same.
	Condition string
	// DedupExpr (SEL, a string) keys the instance: one key starts one
	// instance.
	DedupExpr string
}

// SignalTriggerEntry is what a trigger asks of the signals of one name.
type SignalTriggerEntry struct {
	// Match holds literal values only (Maestro requires them to be static).
	Match map[string]SignalMatch
	// JoinKeys are param names whose values must be equal, position by
	// position, across the signals of one match.
	JoinKeys []string
}

// Matches reports whether a signal's params satisfy the entry's match
// params. get returns a param of the signal.
func (e SignalTriggerEntry) Matches(get func(name string) (Value, bool)) bool {
	for name, m := range e.Match {
		got, ok := get(name)
		if !ok || !SignalMatches(got, *m.Value, m.Operator) {
			return false
		}
	}
	return true
}

// triggerError is a problem at a path inside one signal trigger.
type triggerError struct {
	path string // relative to the trigger, "" for the trigger itself
	msg  string
}

func (e triggerError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// decodeStrict decodes one JSON object refusing fields dst does not have.
func decodeStrict(raw json.RawMessage, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return fmt.Errorf("%s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

// ParseSignalTrigger reads one entry of signal_triggers and checks it. It
// returns every problem found, each with its path inside the entry.
func ParseSignalTrigger(raw json.RawMessage) (SignalTrigger, []error) {
	var top struct {
		Definitions map[string]json.RawMessage `json:"definitions"`
		Params      map[string]rawParamDef     `json:"params"`
		Condition   string                     `json:"condition"`
		DedupExpr   string                     `json:"dedup_expr"`
	}
	if err := decodeStrict(raw, &top); err != nil {
		return SignalTrigger{}, []error{triggerError{msg: err.Error()}}
	}
	var errs []error
	fail := func(path, format string, args ...any) {
		errs = append(errs, triggerError{path: path, msg: fmt.Sprintf(format, args...)})
	}
	t := SignalTrigger{Definitions: map[string]SignalTriggerEntry{}, Params: map[string]ParamDef{},
		Condition: top.Condition, DedupExpr: top.DedupExpr}
	if len(top.Definitions) == 0 {
		fail("definitions", "a signal trigger needs at least one signal in definitions")
	}
	for name := range top.Definitions {
		t.Names = append(t.Names, name)
	}
	sort.Strings(t.Names)
	joins := -1
	for _, name := range t.Names {
		base := keyPath("definitions", name)
		if err := CheckSignalName(name); err != nil {
			fail(base, "%v", err)
			continue
		}
		var entry struct {
			MatchParams map[string]json.RawMessage `json:"match_params"`
			JoinKeys    []string                   `json:"join_keys"`
		}
		if data := top.Definitions[name]; !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
			if err := decodeStrict(data, &entry); err != nil {
				fail(base, "%v", err)
				continue
			}
		}
		e := SignalTriggerEntry{Match: map[string]SignalMatch{}, JoinKeys: entry.JoinKeys}
		for _, k := range sortedKeys(entry.MatchParams) {
			sm, err := decodeSignalMatch(entry.MatchParams[k], keyPath(base+".match_params", k), false)
			if err != nil {
				fail(err.path, "%s", err.msg)
				continue
			}
			e.Match[k] = sm
		}
		for i, k := range entry.JoinKeys {
			if strings.TrimSpace(k) == "" {
				fail(indexPath(base+".join_keys", i), "a join key must not be empty")
			}
		}
		if len(top.Definitions) > 1 {
			switch {
			case joins < 0:
				joins = len(entry.JoinKeys)
			case joins != len(entry.JoinKeys):
				fail(base+".join_keys", "every signal of a trigger needs the same number of join keys (%d here, %d on %q)", len(entry.JoinKeys), joins, t.Names[0])
			}
		}
		t.Definitions[name] = e
	}
	for _, k := range sortedKeys(top.Params) {
		d, err := top.Params[k].def()
		if err != nil {
			fail(keyPath("params", k), "%v", err)
			continue
		}
		t.Params[k] = d
	}
	return t, errs
}

// SignalTriggers parses the definition's signal triggers, already checked
// at push.
func (d *Definition) SignalTriggers() ([]SignalTrigger, error) {
	out := make([]SignalTrigger, 0, len(d.Workflow.SignalTriggers))
	for i, raw := range d.Workflow.SignalTriggers {
		t, errs := ParseSignalTrigger(raw)
		if len(errs) > 0 {
			return nil, fmt.Errorf("signal_triggers[%d]: %w", i, errs[0])
		}
		out = append(out, t)
	}
	return out, nil
}

// checkSignalTriggers reports the problems of every signal trigger, and the
// syntax of its expressions, with their paths.
func (c *validator) checkSignalTriggers(w *Workflow) {
	for i, raw := range w.SignalTriggers {
		base := indexPath("workflow.signal_triggers", i)
		t, errs := ParseSignalTrigger(raw)
		for _, err := range errs {
			te, _ := err.(triggerError)
			p := base
			if te.path != "" {
				p += "." + te.path
			}
			c.add(p, "%s", te.msg)
		}
		if strings.TrimSpace(t.Condition) != "" {
			c.expression(base+".condition", t.Condition)
		}
		if strings.TrimSpace(t.DedupExpr) != "" {
			c.expression(base+".dedup_expr", t.DedupExpr)
		}
		c.unsupportedParams(base+".params", t.Params, 0)
	}
}

// FindStep returns the step with the given id anywhere in the definition,
// inside foreach and while steps too, or nil.
func (d *Definition) FindStep(id string) *Step {
	if d == nil {
		return nil
	}
	return findStep(d.Workflow.Steps, id, 0)
}

func findStep(steps []Step, id string, depth int) *Step {
	if depth > maxDepth {
		return nil
	}
	for i := range steps {
		if steps[i].ID == id {
			return &steps[i]
		}
		if s := findStep(steps[i].Steps, id, depth+1); s != nil {
			return s
		}
	}
	return nil
}

// StepIDs lists every step id of the definition, nested ones included, in
// definition order.
func (d *Definition) StepIDs() []string {
	var out []string
	var walk func(steps []Step, depth int)
	walk = func(steps []Step, depth int) {
		if depth > maxDepth {
			return
		}
		for i := range steps {
			out = append(out, steps[i].ID)
			walk(steps[i].Steps, depth+1)
		}
	}
	if d != nil {
		walk(d.Workflow.Steps, 0)
	}
	return out
}
