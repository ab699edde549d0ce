package chaos

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/scheduler"
	"github.com/batonhq/baton/test/harness"
)

// childDefinitions run their ledger steps in child instances: a foreach
// over four iterations (three at a time), a while loop whose iterations
// count i up to whileIterations, and a subworkflow whose child fails its
// first attempt, called synchronously and, from chaos-async, without
// waiting. Children inherit the step and ledger params.
var childDefinitions = map[string]string{
	"chaos-foreach": definition("chaos-foreach",
		`{"foreach": {"id": "loop", "concurrency": 3,
  "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG_ARRAY", "value": [1, 2, 3, 4]}}}},
  "steps": [`+shellStep("leaf", "sleep=200")+`],
  "transition": {"successors": {"after": "true"}}}}`,
		shellStep("after", "sleep=100")),
	"chaos-while": definition("chaos-while",
		`{"while": {"id": "loop", "condition": "i < `+fmt.Sprint(whileIterations)+`",
  "params": {"loop_params": {"type": "MAP", "value": {"i": {"type": "LONG", "value": 0}}}},
  "steps": [`+shellStep("leaf", "sleep=150", "next")+`,
    {"step": {"id": "next", "type": "NoOp", "params": {"i": {"type": "LONG", "expression": "i + 1"}}, "retry_policy": `+retryPolicy+`}}],
  "transition": {"successors": {"after": "true"}}}}`,
		shellStep("after", "sleep=100")),
	"chaos-child": definition("chaos-child", shellStep("work", "fail=1 sleep=200")),
	"chaos-async": definition("chaos-async",
		`{"subworkflow": {"id": "call", "sync": false, "params": {"subworkflow_id": {"type": "STRING", "value": "chaos-child"}},
  "transition": {"successors": {"after": "true"}}}}`,
		shellStep("after", "sleep=100")),
	"chaos-parent": definition("chaos-parent",
		`{"subworkflow": {"id": "call", "params": {"subworkflow_id": {"type": "STRING", "value": "chaos-child"}},
  "transition": {"successors": {"after": "true"}}}}`,
		shellStep("after", "sleep=100")),
}

// childWorkload starts foreach and subworkflow instances at a steady pace.
// Their children are read and checked with everything else.
type childWorkload struct {
	nClients int
	interval time.Duration

	mu     sync.Mutex
	errors []string
}

func newChildWorkload(clients int, interval time.Duration) *childWorkload {
	return &childWorkload{nClients: clients, interval: interval}
}

func (w *childWorkload) name() string { return "foreach and subworkflow" }
func (w *childWorkload) clients() int { return w.nClients }

func (w *childWorkload) setup(r *run) error {
	// The child first: the parent's push checks that it exists.
	for _, id := range []string{"chaos-child", "chaos-parent", "chaos-async", "chaos-foreach", "chaos-while"} {
		if err := r.pushDefinition(childDefinitions[id]); err != nil {
			return fmt.Errorf("push %s: %w", id, err)
		}
		r.mustSucceed(id)
	}
	return nil
}

func (w *childWorkload) client(r *run, id int, stop <-chan struct{}) {
	ids := []string{"chaos-foreach", "chaos-parent", "chaos-async", "chaos-while"}
	for seq := 0; ; seq++ {
		if !r.pace(w.interval, stop) {
			return
		}
		wf := ids[r.intn(len(ids))]
		if _, err := r.start(wf, fmt.Sprintf("%s-child-%d-%d", r.scenario, id, seq), "children", r.c.b.stepParams(), 5*time.Minute); err != nil {
			w.mu.Lock()
			w.errors = append(w.errors, err.Error())
			w.mu.Unlock()
		}
	}
}

func (w *childWorkload) check(r *run) {
	w.mu.Lock()
	errs := append([]string(nil), w.errors...)
	w.mu.Unlock()
	checked := 0
	for _, wf := range []string{"chaos-foreach", "chaos-parent", "chaos-async", "chaos-while"} {
		checked += len(r.starts.of(wf))
	}
	r.addCheck(checkResult{name: "foreach, while and subworkflow starts all acknowledged", checked: checked, violations: errs})
	r.addCheck(checkWhileLoops(r.final))
	r.addCheck(checkSubworkflowChildren(r.final))
}

// checkSubworkflowChildren: each subworkflow step that succeeded started
// exactly one child, the one its state names, whether it waited for it
// (chaos-parent) or not (chaos-async); a retried or re-planned start after
// a failover must not start a second.
func checkSubworkflowChildren(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "each subworkflow step started exactly one child"}
	children := map[string][]int64{}
	for _, k := range sortedKeys(final) {
		if p := final[k].inst.Parent; p != nil && final[k].inst.WorkflowId == "chaos-child" {
			pk := instKey(p.WorkflowId, p.InstanceId) + " " + p.StepId
			children[pk] = append(children[pk], final[k].inst.InstanceId)
		}
	}
	for _, k := range sortedKeys(final) {
		fi := final[k]
		if fi.inst.WorkflowId != "chaos-parent" && fi.inst.WorkflowId != "chaos-async" {
			continue
		}
		for _, st := range fi.steps {
			if st.StepId != "call" || st.Status != fsm.StepSucceeded {
				continue
			}
			res.checked++
			got := children[k+" call"]
			switch {
			case len(got) != 1:
				res.violations = append(res.violations, fmt.Sprintf("%s step call started %d children of chaos-child: %v", k, len(got), got))
			case st.Loop == nil || st.Loop.ChildInstanceId != got[0]:
				res.violations = append(res.violations, fmt.Sprintf("%s step call names child %v, but chaos-child/%d is the one it started", k, st.Loop, got[0]))
			}
		}
	}
	return res
}

// whileIterations is how many times chaos-while's loop runs.
const whileIterations = 3

// checkWhileLoops: each chaos-while loop ran exactly whileIterations
// iterations, iteration n with i = n-1 (the value the step before it set),
// each once and each succeeded, and ended with i = whileIterations: an
// iteration started twice, or a param update lost across a failover, shows.
func checkWhileLoops(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "each while loop ran its iterations once, in order"}
	for _, k := range sortedKeys(final) {
		fi := final[k]
		if fi.inst.WorkflowId != "chaos-while" || fi.inst.Status != fsm.InstanceSucceeded {
			continue // an instance that did not succeed fails checkEnded
		}
		res.checked++
		var loop *statepb.Step
		for _, st := range fi.steps {
			if st.StepId == "loop" {
				loop = st
			}
		}
		if loop == nil || loop.Loop == nil {
			res.violations = append(res.violations, fmt.Sprintf("%s has no loop step state: %s", k, harness.DescribeSteps(fi.steps)))
			continue
		}
		if loop.Loop.Launched != whileIterations {
			res.violations = append(res.violations, fmt.Sprintf("%s loop launched %d iterations, want %d", k, loop.Loop.Launched, whileIterations))
		}
		if v, err := scheduler.ValueFromParam(loop.Loop.Values["i"]); err != nil || v.String() != fmt.Sprint(whileIterations) {
			res.violations = append(res.violations, fmt.Sprintf("%s loop ended with i = %s (%v), want %d", k, v.String(), err, whileIterations))
		}
		for n := int64(1); n <= whileIterations+1; n++ {
			it := final[instKey(loop.Loop.ChildWorkflowId, n)]
			switch {
			case n > whileIterations:
				if it != nil {
					res.violations = append(res.violations, fmt.Sprintf("%s has an iteration %d, beyond the %d the condition allows", k, n, whileIterations))
				}
			case it == nil:
				res.violations = append(res.violations, fmt.Sprintf("%s iteration %d is missing", k, n))
			case it.inst.Status != fsm.InstanceSucceeded:
				res.violations = append(res.violations, fmt.Sprintf("%s iteration %d is %s", k, n, it.inst.Status))
			default:
				if v, err := scheduler.ValueFromParam(it.inst.Params["i"]); err != nil || v.String() != fmt.Sprint(n-1) {
					res.violations = append(res.violations, fmt.Sprintf("%s iteration %d ran with i = %s (%v), want %d", k, n, v.String(), err, n-1))
				}
			}
		}
	}
	return res
}

// cronWorkflow fires every two seconds; agentFlags lower the minimum
// trigger interval to allow it.
const (
	cronWorkflow = "chaos-cron"
	cronEvery    = 2 * time.Second
)

func cronDefinition(trigger bool) string {
	d := definition(cronWorkflow, shellStep("tick", "sleep=100"))
	if trigger {
		// The params the step needs come with the trigger's instance:
		// the definition's defaults are all it has.
		d = strings.Replace(d, `"workflow": {"id": "chaos-cron",`,
			`"workflow": {"id": "chaos-cron", "time_triggers": [{"type": "CRON", "cron": "*/2 * * * * ? *"}],`, 1)
	}
	return d
}

// cronWorkload pushes a workflow with a cron trigger and no client: the
// leader starts its instances. Every scheduled time from the first fire to
// the last must start exactly one instance, across every fault, and none
// after the trigger is removed.
type cronWorkload struct {
	stopped time.Time
}

func (w *cronWorkload) name() string                      { return "cron trigger" }
func (w *cronWorkload) clients() int                      { return 0 }
func (w *cronWorkload) client(*run, int, <-chan struct{}) {}

func (w *cronWorkload) setup(r *run) error {
	def := cronDefinition(true)
	// The ledger and step program differ per backend; the trigger's
	// instances get them as the definition's defaults.
	for k, v := range r.c.b.stepParams() {
		def = strings.Replace(def, fmt.Sprintf(`%q: {"type": "STRING", "value": "/nonexistent"}`, k), fmt.Sprintf(`%q: {"type": "STRING", "value": %q}`, k, v), 1)
	}
	if err := r.pushDefinition(def); err != nil {
		return err
	}
	r.mustSucceed(cronWorkflow)
	return nil
}

// stop removes the trigger by pushing a version without it, so the run can
// end with every instance finished.
func (w *cronWorkload) stop(r *run) {
	def := cronDefinition(false)
	for k, v := range r.c.b.stepParams() {
		def = strings.Replace(def, fmt.Sprintf(`%q: {"type": "STRING", "value": "/nonexistent"}`, k), fmt.Sprintf(`%q: {"type": "STRING", "value": %q}`, k, v), 1)
	}
	if err := r.pushDefinition(def); err != nil {
		r.t.Fatalf("remove the cron trigger: %v", err)
	}
	w.stopped = time.Now()
}

func (w *cronWorkload) check(r *run) {
	res := checkResult{name: "each cron time fired exactly once"}
	defer func() { r.addCheck(res) }()
	var times []time.Time
	byTime := map[int64]int{}
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		l, err := r.c.instanceClient(n).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: cronWorkflow, Limit: 1 << 30}))
		if err != nil {
			return err
		}
		times, byTime = nil, map[int64]int{}
		for _, inst := range l.Msg.Instances {
			v, err := scheduler.ValueFromParam(inst.Params["RUN_TS"])
			ms, ok := v.Raw.(int64)
			if err != nil || !ok {
				res.violations = append(res.violations, fmt.Sprintf("%s/%d has no RUN_TS param (%v)", cronWorkflow, inst.InstanceId, err))
				continue
			}
			at := time.UnixMilli(ms)
			if byTime[ms] == 0 {
				times = append(times, at)
			}
			byTime[ms]++
		}
		return nil
	})
	if err != nil {
		res.violations = append(res.violations, "list the cron instances: "+err.Error())
		return
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	res.checked = len(times)
	r.stats.add("cron fires", int64(len(times)))
	if len(times) < 2 {
		res.violations = append(res.violations, fmt.Sprintf("only %d cron fires in the whole run", len(times)))
		return
	}
	for ms, n := range byTime {
		if n > 1 {
			res.violations = append(res.violations, fmt.Sprintf("scheduled time %s started %d instances", time.UnixMilli(ms).UTC().Format(time.RFC3339Nano), n))
		}
	}
	first, last := times[0], times[len(times)-1]
	for at := first; !at.After(last); at = at.Add(cronEvery) {
		if byTime[at.UnixMilli()] == 0 {
			res.violations = append(res.violations, fmt.Sprintf("scheduled time %s, between the first fire %s and the last %s, never fired",
				at.UTC().Format(time.RFC3339), first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339)))
		}
	}
	// It kept firing through every fault, up to the end of the load...
	if gap := w.stopped.Sub(last); gap > 15*time.Second {
		res.violations = append(res.violations, fmt.Sprintf("the last fire was at %s, %s before the trigger was removed", last.UTC().Format(time.RFC3339), gap.Round(time.Second)))
	}
	// ...and a removed trigger does not fire.
	if last.After(w.stopped.Add(cronEvery + time.Second)) {
		res.violations = append(res.violations, fmt.Sprintf("fired for %s after the trigger was removed at %s", last.UTC().Format(time.RFC3339), w.stopped.UTC().Format(time.RFC3339)))
	}
}
