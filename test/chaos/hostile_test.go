package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protowire"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/test/harness"
)

// hostileWorkload sends malformed and hostile requests while the other
// workloads run: each must get a precise error, nothing it sends may be
// stored, and the cluster must carry on (the other checks show that).
type hostileWorkload struct {
	mu         sync.Mutex
	errors     []string
	sent       map[string]int
	unanswered int
	// started lists instances of definitions a hostile push got accepted;
	// they must end like any other.
	runaway []string
}

func newHostileWorkload() *hostileWorkload { return &hostileWorkload{sent: map[string]int{}} }

func (w *hostileWorkload) name() string { return "hostile input" }
func (w *hostileWorkload) clients() int { return 1 }

func (w *hostileWorkload) setup(*run) error { return nil }

// hostileID is the workflow id of every hostile definition; it must never
// exist.
const hostileID = "chaos-hostile"

type hostileCase struct {
	name string
	// codes lists the acceptable answers; a request that no server could
	// answer (no leader) is retried and, failing that, not counted.
	codes []connect.Code
	// contains must appear in the error message, so the caller learns what
	// is wrong, not just that something is.
	contains string
	send     func(ctx context.Context, r *run, n *node) error
}

func hostileDefinition(extra string, steps string) string {
	return fmt.Sprintf(`{"properties": {"owner": "chaos"%s}, "workflow": {"id": %q, "steps": [%s]}}`, extra, hostileID, steps)
}

func (w *hostileWorkload) cases() []hostileCase {
	push := func(def string) func(ctx context.Context, r *run, n *node) error {
		return func(ctx context.Context, r *run, n *node) error {
			_, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
			return err
		}
	}
	invalid := []connect.Code{connect.CodeInvalidArgument}
	huge := hostileDefinition(`, "description": "`+strings.Repeat("x", 1100<<10)+`"`, noopStep("a"))
	tooBig := hostileDefinition(`, "description": "`+strings.Repeat("y", 5<<20)+`"`, noopStep("a"))
	// Deep, but under the definition size limit, so it reaches the parser.
	deep := strings.Repeat(`{"a":`, 150000) + "1" + strings.Repeat("}", 150000)
	deepJSON := hostileDefinition("", fmt.Sprintf(`{"step": {"id": "a", "type": "NoOp", "params": {"p": {"type": "MAP", "value": %s}}}}`, deep))
	deepYAML := "workflow:\n  id: " + hostileID + "\n  steps:\n    - step: {id: a, type: NoOp, params: {p: {type: MAP, value: " +
		strings.Repeat("[", 200000) + strings.Repeat("]", 200000) + "}}}\n"
	var many []string
	for i := 0; i < 301; i++ {
		many = append(many, noopStep(fmt.Sprintf("s%d", i)))
	}
	return []hostileCase{
		{name: "definition over 1 MiB", codes: invalid, contains: "limit", send: push(huge)},
		{name: "request over 4 MiB", codes: []connect.Code{connect.CodeInvalidArgument, connect.CodeResourceExhausted}, send: push(tooBig)},
		{name: "JSON nested 150000 deep", codes: invalid, contains: "invalid definition", send: push(deepJSON)},
		{name: "YAML nested 200000 deep", codes: invalid, contains: "invalid definition", send: push(deepYAML)},
		{name: "unknown field", codes: invalid, contains: "bogus", send: push(hostileDefinition("", `{"step": {"id": "a", "type": "NoOp", "bogus": 1}}`))},
		{name: "301 steps", codes: invalid, contains: "301", send: push(hostileDefinition("", strings.Join(many, ",")))},
		{name: "cycle", codes: invalid, send: push(hostileDefinition("", noopStep("a", "b")+","+noopStep("b", "a")))},
		{name: "not JSON or YAML", codes: invalid, send: push("{{{{ \x00")},
		{name: "runaway SEL", codes: []connect.Code{connect.CodeInvalidArgument, connect.Code(0)}, send: w.runawaySEL},
		{name: "invalid UTF-8 in a definition", codes: invalid, send: func(ctx context.Context, r *run, n *node) error {
			return rawCall(ctx, n, "/baton.workflow.v1.WorkflowService/Push", protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "{\"workflow\": {\"id\": \"\xff\xfe\"}}"))
		}},
		{name: "invalid UTF-8 in a request id", codes: invalid, send: func(ctx context.Context, r *run, n *node) error {
			b := protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), "chaos-fan")
			b = protowire.AppendString(protowire.AppendTag(b, 4, protowire.BytesType), "\xc3\x28")
			return rawCall(ctx, n, "/baton.instance.v1.InstanceService/Start", b)
		}},
		{name: "malformed protobuf", codes: invalid, send: func(ctx context.Context, r *run, n *node) error {
			return rawCall(ctx, n, "/baton.instance.v1.InstanceService/Start", []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01})
		}},
		{name: "request id over 128 characters", codes: invalid, contains: "request_id", send: func(ctx context.Context, r *run, n *node) error {
			_, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "chaos-fan", RequestId: strings.Repeat("r", 129)}))
			return err
		}},
		{name: "start of a workflow that does not exist", codes: []connect.Code{connect.CodeNotFound}, send: func(ctx context.Context, r *run, n *node) error {
			_, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: hostileID, RequestId: fmt.Sprintf("%s-hostile-%d", r.scenario, r.nextID())}))
			return err
		}},
		{name: "activate version 0", codes: invalid, send: func(ctx context.Context, r *run, n *node) error {
			_, err := r.c.workflowClient(n).Activate(ctx, connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: "chaos-fan", Version: 0}))
			return err
		}},
		{name: "flood of starts with one request id", codes: []connect.Code{connect.Code(0)}, send: w.flood},
	}
}

// rawCall posts a hand-made protobuf body with the Connect protocol, for
// requests the generated client refuses to encode.
func rawCall(ctx context.Context, n *node, path string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/proto")
	res, err := harness.HTTPClient().Do(req)
	if err != nil {
		return connect.NewError(connect.CodeUnavailable, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == http.StatusOK {
		return nil
	}
	var e struct{ Code, Message string }
	if err := json.Unmarshal(b, &e); err != nil {
		return connect.NewError(connect.CodeUnknown, fmt.Errorf("HTTP %d with a body that is not a Connect error: %q", res.StatusCode, b))
	}
	var code connect.Code
	if err := code.UnmarshalText([]byte(e.Code)); err != nil {
		return connect.NewError(connect.CodeUnknown, fmt.Errorf("HTTP %d with unknown code %q: %s", res.StatusCode, e.Code, e.Message))
	}
	return connect.NewError(code, fmt.Errorf("%s", e.Message))
}

// runawaySEL pushes a definition whose param is a SEL loop with no useful
// end. Refusing it at push is right; if the engine accepts it, evaluating
// it must hit the limits, so the start is refused or the instance ends.
func (w *hostileWorkload) runawaySEL(ctx context.Context, r *run, n *node) error {
	id := hostileID + "-sel"
	def := fmt.Sprintf(`{"properties": {"owner": "chaos"}, "workflow": {"id": %q, "params": {"spin": {"type": "LONG",
 "expression": "long x = 0; while (true) { x = x + 1; } return x;"}}, "steps": [%s]}}`, id, noopStep("a"))
	_, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def}))
	if err != nil {
		return err
	}
	rec, err := r.start(id, fmt.Sprintf("%s-sel-%d", r.scenario, r.nextID()), "runaway SEL", nil, time.Minute)
	if err != nil && !isCode(err, connect.CodeInvalidArgument) {
		return err
	}
	if rec.acked {
		w.mu.Lock()
		w.runaway = append(w.runaway, instKey(id, rec.instanceID))
		w.mu.Unlock()
	}
	return nil
}

// flood sends one Start request id from many clients at once, to every
// server: all answers must name one instance, and at most one may say it
// created it.
func (w *hostileWorkload) flood(ctx context.Context, r *run, _ *node) error {
	rid := fmt.Sprintf("%s-flood-%d", r.scenario, r.nextID())
	rec := r.newStart("chaos-chain", rid, "flood")
	type answer struct {
		id      int64
		created bool
		err     error
	}
	answers := make(chan answer, 40)
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		n := r.pickNode()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := r.tryStart(rec, n, 10*time.Second, r.c.b.stepParams())
			if err != nil {
				answers <- answer{err: err}
				return
			}
			answers <- answer{id: res.Instance.InstanceId, created: res.Created}
		}()
	}
	wg.Wait()
	close(answers)
	ids := map[int64]bool{}
	created := 0
	for a := range answers {
		switch {
		case a.err == nil:
			ids[a.id] = true
			if a.created {
				created++
			}
		case !retriable(a.err):
			return fmt.Errorf("a start of the flood failed with %w", a.err)
		}
	}
	if len(ids) > 1 || created > 1 {
		return fmt.Errorf("%d starts with request id %s answered instances %v, %d of them created=true", 40, rid, ids, created)
	}
	if len(ids) == 0 {
		// Nothing answered (a fault in progress): finish it as a client would.
		return r.settleStart(rec, r.c.b.stepParams(), 3*time.Minute, 3*time.Second)
	}
	return nil
}

func (w *hostileWorkload) client(r *run, _ int, stop <-chan struct{}) {
	cases := w.cases()
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(200+r.intn(300)) * time.Millisecond):
		}
		c := cases[r.intn(len(cases))]
		w.send(r, c)
	}
}

// send delivers one hostile request, to other servers while none answers.
func (w *hostileWorkload) send(r *run, c hostileCase) {
	var err error
	for try := 0; try < 5; try++ {
		n := r.pickNode()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = c.send(ctx, r, n)
		cancel()
		w.mu.Lock()
		w.sent[c.name]++
		w.mu.Unlock()
		r.stats.add("hostile requests", 1)
		code := connect.CodeOf(err)
		if err != nil && (code == connect.CodeUnavailable || code == connect.CodeDeadlineExceeded || code == connect.CodeCanceled || code == connect.CodeAborted) {
			continue
		}
		ok := false
		for _, want := range c.codes {
			if (err == nil && want == 0) || (err != nil && code == want) {
				ok = true
			}
		}
		if ok && c.contains != "" && err != nil && !strings.Contains(err.Error(), c.contains) {
			ok = false
		}
		if !ok {
			w.mu.Lock()
			w.errors = append(w.errors, fmt.Sprintf("%s through %s: got %v; want one of %v%s", c.name, n.name, errOrOK(err), c.codes, containsNote(c.contains)))
			w.mu.Unlock()
		}
		return
	}
	w.mu.Lock()
	w.unanswered++
	w.mu.Unlock()
}

func errOrOK(err error) string {
	if err == nil {
		return "success"
	}
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

func containsNote(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" with %q in the message", s)
}

func (w *hostileWorkload) check(r *run) {
	w.mu.Lock()
	res := checkResult{name: "hostile requests rejected precisely, nothing stored", violations: append([]string(nil), w.errors...)}
	for _, n := range w.sent {
		res.checked += n
	}
	unanswered := w.unanswered
	w.mu.Unlock()
	if unanswered > 0 {
		r.note("%d hostile requests got no answer from any server (faults in progress)", unanswered)
	}
	// A rejected push writes nothing: the hostile workflow does not exist.
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		_, err := r.c.workflowClient(n).Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: hostileID}))
		return err
	})
	if !isCode(err, connect.CodeNotFound) {
		res.violations = append(res.violations, fmt.Sprintf("workflow %s, only ever pushed with invalid definitions, answers %v; want NotFound", hostileID, errOrOK(err)))
	}
	r.addCheck(res)
}
