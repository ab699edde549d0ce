package chaos

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"sync"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

// linWorkload pushes, activates and reads a few workflows and reads the
// status of their instances, recording every call for the linearizability
// check. Each call goes to a random member with a long timeout, so calls
// queued on a paused or cut-off server are answered when it comes back:
// that is when a server that wrongly still believes it leads would answer
// from stale state.
type linWorkload struct {
	keys     []string
	nClients int

	mu      sync.Mutex
	content int
	latest  map[string]int   // content the client last saw as the latest version
	maxSeen map[string]int64 // highest version seen per workflow
	recent  map[string][]int64
	errors  []string
}

func newLinWorkload(keys, clients int) *linWorkload {
	w := &linWorkload{nClients: clients, latest: map[string]int{}, maxSeen: map[string]int64{}, recent: map[string][]int64{}}
	for i := 0; i < keys; i++ {
		w.keys = append(w.keys, fmt.Sprintf("chaos-reg-%d", i))
	}
	return w
}

func (w *linWorkload) name() string { return "registers" }
func (w *linWorkload) clients() int { return w.nClients }

var contentRE = regexp.MustCompile(`content-(\d+)`)

// linDefinition is one version of a register workflow: the content id in
// its description is all that differs between versions.
func linDefinition(key string, content int) string {
	return fmt.Sprintf(`{"properties": {"owner": "chaos", "run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 100}},
 "workflow": {"id": %q, "description": "content-%d", "steps": [
  {"step": {"id": "nap", "type": "Sleep", "params": {"sleep_seconds": {"type": "LONG", "value": 1}},
            "retry_policy": %s}}]}}`, key, content, retryPolicy)
}

func contentOf(definition string) int {
	m := contentRE.FindStringSubmatch(definition)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func (w *linWorkload) nextContent() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.content++
	return w.content
}

func (w *linWorkload) saw(key string, version int64, content int, latest bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if version > w.maxSeen[key] {
		w.maxSeen[key] = version
	}
	if latest && content > 0 {
		w.latest[key] = content
	}
}

func (w *linWorkload) unexpected(format string, args ...any) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.errors = append(w.errors, fmt.Sprintf(format, args...))
}

func (w *linWorkload) setup(r *run) error {
	for _, key := range w.keys {
		if !w.push(r, -1, key, w.nextContent(), true, true) {
			return fmt.Errorf("first push of %s failed", key)
		}
		r.mustSucceed(key)
	}
	return nil
}

// push records one push of content, fresh when no other push used it; with
// settle it retries until an answer arrives (used only before the load
// starts, when nothing else writes).
func (w *linWorkload) push(r *run, client int, key string, content int, fresh, settle bool) bool {
	for {
		n := r.pickNode()
		if settle {
			n = r.pickLive()
		}
		call := r.hist.now()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		res, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: linDefinition(key, content)}))
		cancel()
		ret := r.hist.now()
		r.stats.add("workflow pushes", 1)
		in := linInput{kind: opPush, key: key, content: content, fresh: fresh}
		switch {
		case err == nil:
			r.hist.add(client+1, n.name, in, call, ret, &linOutput{version: res.Msg.Version, created: res.Msg.Created})
			w.saw(key, res.Msg.Version, content, true)
			return true
		case refused(err):
			// Never sent: it took no effect, so it constrains nothing.
			if !settle {
				return false
			}
			time.Sleep(200 * time.Millisecond)
		case retriable(err):
			i := r.hist.add(client+1, n.name, in, call, ret, nil)
			if fresh {
				r.hist.mu.Lock()
				r.hist.unknownPushes = append(r.hist.unknownPushes, i)
				r.hist.mu.Unlock()
			}
			if !settle {
				return false
			}
			time.Sleep(200 * time.Millisecond)
		default:
			w.unexpected("push %s content %d through %s: %v", key, content, n.name, err)
			return false
		}
	}
}

func (w *linWorkload) client(r *run, id int, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case <-time.After(time.Duration(30+r.intn(70)) * time.Millisecond):
		}
		key := w.keys[r.intn(len(w.keys))]
		switch p := r.intn(100); {
		case p < 30:
			w.get(r, id, key)
		case p < 45:
			w.push(r, id, key, w.nextContent(), true, false)
		case p < 55:
			w.mu.Lock()
			c := w.latest[key]
			w.mu.Unlock()
			if c > 0 {
				w.push(r, id, key, c, false, false)
			}
		case p < 70:
			w.mu.Lock()
			top := w.maxSeen[key]
			w.mu.Unlock()
			w.activate(r, id, key, 1+int64(r.intn(int(top)+1)))
		case p < 80:
			w.start(r, id, key)
		default:
			w.status(r, id, key)
		}
	}
}

func (w *linWorkload) get(r *run, client int, key string) {
	n := r.pickNode()
	call := r.hist.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	res, err := r.c.workflowClient(n).Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: key}))
	cancel()
	ret := r.hist.now()
	r.stats.add("workflow reads", 1)
	in := linInput{kind: opGet, key: key}
	switch {
	case err == nil:
		c := contentOf(res.Msg.Version.GetDefinition())
		r.hist.add(client+1, n.name, in, call, ret, &linOutput{version: res.Msg.Version.GetVersion(), content: c})
		w.saw(key, res.Msg.Workflow.GetLatestVersion(), 0, false)
	case isCode(err, connect.CodeNotFound) || isCode(err, connect.CodeFailedPrecondition):
		r.hist.add(client+1, n.name, in, call, ret, &linOutput{notFound: true})
	case retriable(err):
		// A failed read constrains nothing.
	default:
		w.unexpected("get %s through %s: %v", key, n.name, err)
	}
}

func (w *linWorkload) activate(r *run, client int, key string, version int64) {
	n := r.pickNode()
	call := r.hist.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	_, err := r.c.workflowClient(n).Activate(ctx, connect.NewRequest(&workflowv1.ActivateRequest{WorkflowId: key, Version: version}))
	cancel()
	ret := r.hist.now()
	r.stats.add("workflow activations", 1)
	in := linInput{kind: opActivate, key: key, version: version}
	switch {
	case err == nil:
		r.hist.add(client+1, n.name, in, call, ret, &linOutput{})
	case isCode(err, connect.CodeNotFound):
		r.hist.add(client+1, n.name, in, call, ret, &linOutput{notFound: true})
	case refused(err):
	case retriable(err):
		r.hist.add(client+1, n.name, in, call, ret, nil)
	default:
		w.unexpected("activate %s v%d through %s: %v", key, version, n.name, err)
	}
}

func (w *linWorkload) start(r *run, client int, key string) {
	rec := r.newStart(key, fmt.Sprintf("%s-reg-%d-%d", r.scenario, client, r.nextID()), "registers")
	n := r.pickNode()
	call := r.hist.now()
	res, err := r.tryStart(rec, n, 10*time.Second, nil)
	ret := r.hist.now()
	switch {
	case err == nil:
		inst := res.Instance
		r.hist.add(client+1, n.name, linInput{kind: opStart, key: key}, call, ret, &linOutput{version: inst.WorkflowVersion})
		skey := fmt.Sprintf("%s/%d", key, inst.InstanceId)
		r.hist.add(client+1, n.name, linInput{kind: opStatus, key: skey}, call, ret, &linOutput{status: inst.Status})
		w.mu.Lock()
		rc := append(w.recent[key], inst.InstanceId)
		if len(rc) > 20 {
			rc = rc[len(rc)-20:]
		}
		w.recent[key] = rc
		w.mu.Unlock()
	case retriable(err):
		// The try may have started an instance: finish the request like
		// any client would, so the exactly-once check covers it.
		if err := r.settleStart(rec, nil, 3*time.Minute, 3*time.Second); err != nil {
			w.unexpected("%v", err)
		}
	default:
		w.unexpected("start %s through %s: %v", key, n.name, err)
	}
}

func (w *linWorkload) status(r *run, client int, key string) {
	w.mu.Lock()
	rc := w.recent[key]
	var id int64
	if len(rc) > 0 {
		id = rc[r.intn(len(rc))]
	}
	w.mu.Unlock()
	if id == 0 {
		return
	}
	n := r.pickNode()
	call := r.hist.now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: key, InstanceId: id}))
	cancel()
	ret := r.hist.now()
	r.stats.add("instance reads", 1)
	skey := fmt.Sprintf("%s/%d", key, id)
	switch {
	case err == nil:
		r.hist.add(client+1, n.name, linInput{kind: opStatus, key: skey}, call, ret, &linOutput{status: res.Msg.Instance.GetStatus()})
	case isCode(err, connect.CodeNotFound):
		// Acknowledged instances are never deleted in these runs.
		r.hist.add(client+1, n.name, linInput{kind: opStatus, key: skey}, call, ret, &linOutput{status: "NOT_FOUND"})
	case retriable(err):
	default:
		w.unexpected("get instance %s through %s: %v", skey, n.name, err)
	}
}

// storedContents reads every version of every register workflow: content
// id -> the versions that hold it.
func (w *linWorkload) storedContents(r *run) (map[string]map[int][]int64, error) {
	out := map[string]map[int][]int64{}
	for _, key := range w.keys {
		var latest int64
		err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
			res, err := r.c.workflowClient(n).Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: key, Version: "latest"}))
			if err == nil {
				latest = res.Msg.Workflow.GetLatestVersion()
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("latest version of %s: %w", key, err)
		}
		out[key] = map[int][]int64{}
		for v := int64(1); v <= latest; v++ {
			var def string
			err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
				res, err := r.c.workflowClient(n).Get(ctx, connect.NewRequest(&workflowv1.GetRequest{WorkflowId: key, Version: strconv.FormatInt(v, 10)}))
				if err == nil {
					def = res.Msg.Version.GetDefinition()
				}
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("%s version %d: %w", key, v, err)
			}
			c := contentOf(def)
			out[key][c] = append(out[key][c], v)
		}
	}
	return out, nil
}

func (w *linWorkload) check(r *run) {
	w.mu.Lock()
	errs := append([]string(nil), w.errors...)
	w.mu.Unlock()
	r.addCheck(checkResult{name: "register clients got only expected errors", checked: int(r.stats.get("workflow pushes") + r.stats.get("workflow reads") + r.stats.get("workflow activations")), violations: errs})
}
