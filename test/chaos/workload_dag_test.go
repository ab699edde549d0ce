package chaos

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/test/harness"
)

// retryPolicy lets every step outlast the faults: platform failures (its
// node died or was cut off) are retried up to the limit Maestro allows, and
// the deliberate user failures a few times, all one second apart.
const retryPolicy = `{"error_retry_limit": 3, "platform_retry_limit": 99,
  "backoff": {"type": "FIXED_BACKOFF", "error_retry_backoff_in_secs": 1, "platform_retry_backoff_in_secs": 1}}`

// shellStep is a Shell step that runs the chaos step program with args:
// it writes the ledger line first, then sleeps and maybe fails on purpose.
func shellStep(id, args string, successors ...string) string {
	return fmt.Sprintf(`{"step": {"id": %q, "type": "Shell",
  "params": {"shell": {"type": "MAP", "value": {"command": {"type": "STRING", "value": "${step} ${ledger} %s"}}}},
  "retry_policy": %s%s}}`, id, args, retryPolicy, transition(successors))
}

func transition(successors []string) string {
	if len(successors) == 0 {
		return ""
	}
	var parts []string
	for _, s := range successors {
		parts = append(parts, fmt.Sprintf("%q: \"true\"", s))
	}
	return `, "transition": {"successors": {` + strings.Join(parts, ", ") + `}}`
}

// noopStep runs on a node like any step, so it needs the retry policy too:
// the default platform backoff is a minute.
func noopStep(id string, successors ...string) string {
	return fmt.Sprintf(`{"step": {"id": %q, "type": "NoOp", "retry_policy": %s%s}}`, id, retryPolicy, transition(successors))
}

func sleepStep(id string, seconds int, successors ...string) string {
	return fmt.Sprintf(`{"step": {"id": %q, "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": %d}},
  "retry_policy": %s%s}}`, id, seconds, retryPolicy, transition(successors))
}

// definition wraps steps into a PARALLEL workflow whose step, ledger and
// http_base params each start fills in (stepParams).
func definition(id string, steps ...string) string {
	return fmt.Sprintf(`{"properties": {"owner": "chaos", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 200}},
 "workflow": {"id": %q,
  "params": {"step": {"type": "STRING", "value": "/nonexistent"}, "ledger": {"type": "STRING", "value": "/nonexistent"},
             "http_base": {"type": "STRING", "value": "http://127.0.0.1:9"}},
  "steps": [%s]}}`, id, strings.Join(steps, ",\n"))
}

// dagDefinitions are the ledger workflows: a fan-out and fan-in with one
// branch that fails its first attempt, and a chain whose middle step fails
// twice before it succeeds.
var dagDefinitions = map[string]string{
	"chaos-fan": definition("chaos-fan",
		noopStep("begin", "a", "b", "c", "d"),
		shellStep("a", "sleep=300", "join"),
		shellStep("b", "fail=1 sleep=200", "join"),
		shellStep("c", "sleep=700", "join"),
		sleepStep("d", 1, "join"),
		shellStep("join", "sleep=100", "end"),
		noopStep("end")),
	"chaos-chain": definition("chaos-chain",
		shellStep("first", "sleep=200", "second"),
		shellStep("second", "fail=2 sleep=100", "third"),
		shellStep("third", "sleep=200")),
}

// probeWorkflow is started to show that the cluster schedules: one NoOp
// step, nothing that takes time.
const probeWorkflow = "chaos-probe"

var probeDefinition = definition(probeWorkflow, noopStep("only"))

// dagWorkload starts instances of the ledger workflows at a steady pace.
type dagWorkload struct {
	nClients int
	interval time.Duration

	mu     sync.Mutex
	errors []string
}

func newDAGWorkload(clients int, interval time.Duration) *dagWorkload {
	return &dagWorkload{nClients: clients, interval: interval}
}

func (w *dagWorkload) name() string { return "ledger DAGs" }
func (w *dagWorkload) clients() int { return w.nClients }

func (w *dagWorkload) setup(r *run) error {
	for id, d := range dagDefinitions {
		if err := r.pushDefinition(d); err != nil {
			return fmt.Errorf("push %s: %w", id, err)
		}
		r.mustSucceed(id)
	}
	return nil
}

func (w *dagWorkload) client(r *run, id int, stop <-chan struct{}) {
	ids := []string{"chaos-fan", "chaos-chain"}
	for seq := 0; ; seq++ {
		jitter := time.Duration(r.intn(int(w.interval/time.Millisecond)+1)) * time.Millisecond
		select {
		case <-stop:
			return
		case <-time.After(w.interval/2 + jitter):
		}
		wf := ids[r.intn(len(ids))]
		rid := fmt.Sprintf("%s-dag-%d-%d", r.scenario, id, seq)
		if _, err := r.start(wf, rid, "dag", r.c.b.stepParams(), 5*time.Minute); err != nil {
			w.mu.Lock()
			w.errors = append(w.errors, err.Error())
			w.mu.Unlock()
		}
	}
}

func (w *dagWorkload) check(r *run) {
	w.mu.Lock()
	errs := append([]string(nil), w.errors...)
	w.mu.Unlock()
	r.addCheck(checkResult{name: "ledger clients' starts all acknowledged", checked: len(r.starts.of("chaos-fan")) + len(r.starts.of("chaos-chain")), violations: errs})
}

// pushDefinition pushes a definition through any live server, retrying
// while the cluster has no leader.
func (r *run) pushDefinition(def string) error {
	return r.retry(2*time.Minute, func(ctx context.Context, n *node) error {
		_, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
		return err
	})
}

// setupWorkflow is the setup of a workload with one workflow: it pushes
// def, and with mustSucceed every instance of it must succeed.
func (r *run) setupWorkflow(workflowID, def string, mustSucceed bool) error {
	if err := r.pushDefinition(def); err != nil {
		return fmt.Errorf("push %s: %w", workflowID, err)
	}
	if mustSucceed {
		r.mustSucceed(workflowID)
	}
	return nil
}

// probe starts a probe instance through the given servers (any member when
// none) and waits until it succeeds, reading through the same servers: it
// shows the cluster, or the part of it given, still schedules.
func (r *run) probe(timeout time.Duration, among ...*node) error {
	_, err := r.probeInstance(timeout, among...)
	return err
}

// probeInstance is probe, returning the instance it started (0 if none).
func (r *run) probeInstance(timeout time.Duration, among ...*node) (int64, error) {
	deadline := time.Now().Add(timeout)
	rid := fmt.Sprintf("%s-probe-%d", r.scenario, r.nextID())
	rec, err := r.start(probeWorkflow, rid, "probe", nil, timeout, among...)
	if err != nil {
		return 0, err
	}
	r.stats.add("probes", 1)
	return rec.instanceID, r.waitSucceeded(probeWorkflow, rec.instanceID, time.Until(deadline), among...)
}

// waitSucceeded polls an instance through the given servers (any live
// member when none) until it succeeds.
func (r *run) waitSucceeded(workflowID string, id int64, timeout time.Duration, among ...*node) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		n := r.pickLive()
		if len(among) > 0 {
			n = among[r.intn(len(among))]
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: workflowID, InstanceId: id}))
		cancel()
		switch {
		case err != nil:
			last = fmt.Sprintf("through %s: %v", n.name, err)
		case res.Msg.Instance.Status == fsm.InstanceSucceeded:
			return nil
		case fsm.InstanceTerminal(res.Msg.Instance.Status):
			return fmt.Errorf("instance %s/%d ended %s: %s", workflowID, id, res.Msg.Instance.Status, res.Msg.Instance.Reason)
		default:
			last = "status " + res.Msg.Instance.Status + ": " + harness.DescribeSteps(res.Msg.Steps)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("instance %s/%d did not succeed within %s: %s", workflowID, id, timeout, last)
}
