package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	metrics "github.com/hashicorp/go-metrics/compat"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/scheduler/runtime"
	"github.com/batonhq/baton/storage"
	"github.com/batonhq/baton/workflow"
)

// Reporter is the node's line to the leader. ReportResult delivers an
// attempt result (accepted is false when the leader fenced it: the attempt is
// no longer current); Assignments reads, linearizably, the attempts placed on
// a node.
type Reporter interface {
	ReportResult(ctx context.Context, r *statepb.ReportResult) (accepted bool, reason string, err error)
	Assignments(ctx context.Context, node string) ([]*statepb.Step, error)
}

// Worker runs the attempts the leader placed on this node. It learns of them
// from its own replica of the state, so it needs no message from the leader
// beyond the committed log, and it stops an attempt the moment the state says
// the attempt is no longer current (stopped, fenced).
type Worker struct {
	Node     string
	State    StateSource
	Reporter Reporter
	Data     storage.Dir
	Now      func() time.Time
	Log      *slog.Logger
	// HTTPAllowHosts are the hosts Http steps may call (runtime.Spec).
	HTTPAllowHosts []string
	// Incarnation is this node's data dir id. Attempts placed on another
	// incarnation of this node name (before its data dir was wiped) are not
	// run: their journal is gone, so a run would look like a first one.
	Incarnation string
	// CleanupEvery is how often the worker removes the folders of attempts
	// the state no longer has (removeGoneAttempts); default 30s.
	CleanupEvery time.Duration
	// KeepGoneAttemptsFor is how long such a folder is kept after the
	// attempt last wrote to it; zero removes it at the next cleanup.
	KeepGoneAttemptsFor time.Duration
	// Verify compares the kept attempts of the node with a read of every
	// step on it at each change, and panics if they differ: a check for
	// tests (BATON_VERIFY_QUIET=1 sets it in agents).
	Verify bool

	// owners caches the attempt folders' owner records by path, for
	// removeGoneAttempts alone.
	owners map[string]storage.AttemptOwner

	mu sync.Mutex
	// attempts are those the replica places on this node.
	attempts nodeAttempts
	running  map[string]context.CancelFunc // attempt id -> cancel
	// done are attempts finished by this process while still wanted; an
	// attempt leaves done when it leaves the wanted.
	done map[string]bool
	// pushed are attempts learnt from the leader that this node's replica
	// may not have applied yet; they count as wanted until it has.
	pushed map[string]assigned
	// again are attempts cancelled while wanted: they went and came back
	// before their run stopped, so they start again.
	again []string
	poke  chan struct{}
	wake  chan struct{}
	wg    sync.WaitGroup
	once  sync.Once
}

// init makes the worker's maps and poke channel, from whichever of Run and
// Poke comes first: a poke that arrives before Run starts is not lost.
func (w *Worker) init() {
	w.once.Do(func() {
		w.attempts = nodeAttempts{node: w.Node, mine: w.mine}
		w.running = map[string]context.CancelFunc{}
		w.done = map[string]bool{}
		w.pushed = map[string]assigned{}
		w.poke = make(chan struct{}, 1)
		w.wake = make(chan struct{}, 1)
	})
}

// Accept takes steps the leader just placed on this node, as it committed
// them, so they start before this node's replica learns of the commit
// (which a follower does only with the leader's next message), without a
// round trip to fetch them.
func (w *Worker) Accept(steps []*statepb.Step) {
	w.init()
	w.remember(steps)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// remember notes the attempts among steps that this node should run.
func (w *Worker) remember(steps []*statepb.Step) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range steps {
		if st.Status != fsm.StepRunning || len(st.Attempts) == 0 {
			continue
		}
		a := st.Attempts[len(st.Attempts)-1]
		if w.mine(a) {
			w.pushed[a.AttemptId] = assigned{step: st, attempt: a}
		}
	}
}

// Poke asks the worker to fetch its assignments from the leader now, instead
// of waiting for its replica to learn that they committed (a follower learns
// the commit index only with the leader's next message).
func (w *Worker) Poke() {
	w.init()
	select {
	case w.poke <- struct{}{}:
	default:
	}
}

// fetch reads this node's assignments from the leader.
func (w *Worker) fetch(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	steps, err := w.Reporter.Assignments(ctx, w.Node)
	if err != nil {
		w.Log.Debug("fetch assignments from the leader failed; the replica will catch up", "err", err)
		return
	}
	w.remember(steps)
}

// mine reports whether this node, as it is now, should run the attempt.
func (w *Worker) mine(a *statepb.Attempt) bool {
	return a.Node == w.Node && a.Status == fsm.AttemptRunning &&
		(a.NodeIncarnation == "" || w.Incarnation == "" || a.NodeIncarnation == w.Incarnation)
}

type assigned struct {
	step    *statepb.Step
	attempt *statepb.Attempt
}

// Run watches the replica until ctx is canceled, then waits for attempts to
// stop.
func (w *Worker) Run(ctx context.Context) {
	w.init()
	defer w.wg.Wait()
	w.wg.Add(1)
	go w.cleanUp(ctx)
	for {
		changed := w.State.Changed()
		st := w.State.State()
		w.mu.Lock()
		gone, joined := w.attempts.update(st)
		if w.Verify {
			w.attempts.verify(st)
		}
		for id, as := range w.pushed {
			if as.attempt.Generation <= st.Applied() {
				delete(w.pushed, id) // the replica is authoritative again
				gone = append(gone, id)
			} else {
				joined = append(joined, as)
			}
		}
		for _, id := range w.again {
			if as, ok := w.wanted(id); ok {
				joined = append(joined, as)
			}
		}
		w.again = w.again[:0]
		for _, id := range gone {
			if _, ok := w.wanted(id); ok {
				continue
			}
			if cancel, ok := w.running[id]; ok {
				cancel()
			}
			delete(w.done, id)
		}
		for _, as := range joined {
			id := as.attempt.AttemptId
			if _, ok := w.running[id]; ok || w.done[id] {
				continue
			}
			actx, cancel := context.WithCancel(ctx)
			w.running[id] = cancel
			w.wg.Add(1)
			go w.execute(actx, as)
		}
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-w.poke:
			w.fetch(ctx)
		case <-w.wake:
		}
	}
}

// attemptRecord is what the node journals about a finished attempt.
type attemptRecord struct {
	Outcome    string            `json:"outcome"`
	ExitCode   int32             `json:"exit_code"`
	Error      string            `json:"error,omitempty"`
	LogTail    string            `json:"log_tail,omitempty"`
	Outputs    map[string]output `json:"outputs,omitempty"`
	EndTime    time.Time         `json:"end_time"`
	Executions int32             `json:"executions"`
}

type output struct {
	Type string `json:"type"`
	JSON string `json:"json"`
}

func (w *Worker) execute(ctx context.Context, as assigned) {
	defer w.wg.Done()
	id := as.attempt.AttemptId
	// Keyed by generation too: a journal entry belongs to one placement, so
	// state restored from another cluster's backup never matches it.
	if as.step.Type == "NoOp" {
		// A NoOp has no effect to repeat and no log, so it needs no journal:
		// after a restart it simply runs again. Skipping the files keeps
		// wide fan-outs of NoOp steps off the disk.
		w.report(ctx, as, attemptRecord{Outcome: fsm.AttemptSucceeded, ExitCode: -1, EndTime: w.Now(), Executions: 1})
		w.finish(id, true)
		return
	}
	dir := w.Data.Attempt(fmt.Sprintf("%s@%d", id, as.attempt.Generation))
	var rec attemptRecord
	found, err := dir.LoadResult(&rec)
	if err != nil {
		w.Log.Warn("attempt journal unreadable; running the attempt again", "attempt", id, "err", err)
	}
	if !found {
		rec = w.run(ctx, as, dir)
		if ctx.Err() != nil {
			// Canceled because the state no longer wants it (stopped or
			// fenced) or the agent is shutting down: nothing to report.
			w.finish(id, false)
			return
		}
		if err := dir.SaveResult(rec); err != nil {
			w.Log.Warn("cannot journal attempt result", "attempt", id, "err", err)
		}
	}
	w.report(ctx, as, rec)
	w.finish(id, true)
}

// wanted returns the attempt id if this node should run it: its replica
// places it here, or the leader pushed it and the replica has yet to
// apply it. The caller holds w.mu.
func (w *Worker) wanted(id string) (assigned, bool) {
	if as, ok := w.attempts.want[id]; ok {
		return as, true
	}
	as, ok := w.pushed[id]
	return as, ok
}

func (w *Worker) finish(id string, done bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.running, id)
	if _, ok := w.wanted(id); !ok {
		// Run saw it go while it ran: nothing will clear a mark now.
		return
	}
	if done {
		w.done[id] = true
		return
	}
	w.again = append(w.again, id)
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *Worker) run(ctx context.Context, as assigned, dir storage.AttemptDir) attemptRecord {
	executions, err := dir.BeginExecution(storage.AttemptOwner{
		AttemptID: as.attempt.AttemptId, WorkflowID: as.step.WorkflowId, InstanceID: as.step.InstanceId,
		StepID: as.step.StepId, Attempt: as.attempt.AttemptNumber, Generation: as.attempt.Generation,
	})
	if err != nil {
		return attemptRecord{Outcome: fsm.AttemptPlatformFailed, ExitCode: -1, Error: err.Error(), EndTime: w.Now(), Executions: 1}
	}
	if executions > 1 {
		w.Log.Warn("re-executing an attempt that was running when this agent stopped", "attempt", as.attempt.AttemptId, "executions", executions)
	}
	spec, err := buildSpec(as, dir.LogDir())
	spec.AllowedHosts = w.HTTPAllowHosts
	if err != nil {
		return attemptRecord{Outcome: fsm.AttemptUserFailed, ExitCode: -1, Error: err.Error(), EndTime: w.Now(), Executions: executions}
	}
	w.Log.Info("attempt started", "attempt", as.attempt.AttemptId, "type", spec.StepType)
	res := runtime.Run(ctx, spec)
	rec := attemptRecord{
		Outcome: string(res.Outcome), ExitCode: res.ExitCode, Error: res.Error, LogTail: res.LogTail,
		EndTime: w.Now(), Executions: executions,
	}
	if len(res.Outputs) > 0 {
		rec.Outputs = map[string]output{}
		for name, o := range res.Outputs {
			rec.Outputs[name] = output{Type: o.Type, JSON: string(o.JSON)}
		}
	}
	w.Log.Info("attempt finished", "attempt", as.attempt.AttemptId, "outcome", rec.Outcome, "exit_code", rec.ExitCode)
	return rec
}

// cleanUp runs removeGoneAttempts every CleanupEvery until ctx ends.
func (w *Worker) cleanUp(ctx context.Context) {
	defer w.wg.Done()
	every := w.CleanupEvery
	if every <= 0 {
		every = 30 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n := w.removeGoneAttempts(); n > 0 {
				w.Log.Info("removed the folders of attempts the state no longer has", "count", n)
				metrics.IncrCounter([]string{"worker", "attempt_folders_removed"}, float32(n))
			}
		}
	}
}

// removeGoneAttempts deletes the folders of attempts that the replicated
// state no longer has, and returns how many it deleted. Without it every
// attempt's logs and journal would stay on the node for good. An attempt
// leaves the state with its instance, when retention deletes that, or when
// a restart of a loop replaces its iterations; from then on no result of
// it can be taken, so neither its journal nor its logs are needed.
//
// A folder is judged only once this node's replica has applied the entry
// that placed the attempt (its generation): before that, an attempt
// missing from the state has not arrived yet (an agent replaying its log
// after a restart). It is kept KeepGoneAttemptsFor after the attempt last
// wrote to it, since a backup restored later can bring the attempt back,
// running, and its journal is what keeps it from running twice. Folders
// without an owner record (from an older build, or whose attempt is just
// starting) are left alone.
func (w *Worker) removeGoneAttempts() int {
	// Read before the state, so that applied never exceeds what the state
	// shows.
	applied := w.State.AppliedIndex()
	st := w.State.State()
	dirs, err := w.Data.AttemptDirs()
	if err != nil {
		w.Log.Warn("cannot list attempt folders", "err", err)
		return 0
	}
	seen := make(map[string]storage.AttemptOwner, len(dirs))
	removed := 0
	for _, d := range dirs {
		o, cached := w.owners[d.Path]
		if !cached {
			var ok bool
			if o, ok, err = d.Owner(); err != nil || !ok {
				// An older build's folder, or one whose attempt is
				// starting (or crashed while writing the record): look
				// again next time.
				continue
			}
		}
		seen[d.Path] = o
		if o.Generation > applied || stateHasAttempt(st, o) || w.isRunning(o.AttemptID) {
			continue
		}
		if mod, err := d.Modified(); err != nil || w.Now().Sub(mod) < w.KeepGoneAttemptsFor {
			continue
		}
		if err := d.Remove(); err != nil {
			w.Log.Warn("cannot remove the folder of an attempt the state no longer has", "attempt", o.AttemptID, "err", err)
			continue
		}
		delete(seen, d.Path)
		removed++
	}
	w.owners = seen
	return removed
}

func stateHasAttempt(st *fsm.State, o storage.AttemptOwner) bool {
	if s := st.Step(nil, o.WorkflowID, o.InstanceID, o.StepID); s != nil {
		for _, a := range s.Attempts {
			if a.AttemptNumber == o.Attempt && a.Generation == o.Generation {
				return true
			}
		}
	}
	return false
}

func (w *Worker) isRunning(attemptID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.running[attemptID]
	return ok
}

// report sends the result until the leader accepts or fences it.
func (w *Worker) report(ctx context.Context, as assigned, rec attemptRecord) {
	msg := &statepb.ReportResult{
		WorkflowId: as.step.WorkflowId, InstanceId: as.step.InstanceId, StepId: as.step.StepId,
		AttemptNumber: as.attempt.AttemptNumber, Generation: as.attempt.Generation, Node: w.Node,
		Outcome: rec.Outcome, ExitCode: rec.ExitCode, Error: rec.Error, LogTail: rec.LogTail,
		EndTime: timestamppb.New(rec.EndTime), Executions: rec.Executions,
	}
	if len(rec.Outputs) > 0 {
		msg.Outputs = map[string]*statepb.Param{}
		for name, o := range rec.Outputs {
			v, err := workflow.ValueFromJSON(workflow.ParamType(o.Type), []byte(o.JSON))
			if err == nil {
				var p *statepb.Param
				if p, err = ParamFromValue(v); err == nil {
					msg.Outputs[name] = p
					continue
				}
			}
			msg.Outcome = fsm.AttemptUserFailed
			msg.Error = fmt.Sprintf("output param %s: %v", name, err)
			msg.Outputs = nil
			break
		}
	}
	backoff := 50 * time.Millisecond
	for {
		accepted, reason, err := w.Reporter.ReportResult(ctx, msg)
		if err == nil {
			if !accepted {
				w.Log.Info("attempt result fenced", "attempt", as.attempt.AttemptId, "reason", reason)
			}
			return
		}
		if ctx.Err() != nil {
			// Shutting down, or the state stopped wanting the attempt (most
			// often because this very result was applied meanwhile).
			return
		}
		w.Log.Warn("report attempt result failed; retrying", "attempt", as.attempt.AttemptId, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
}

// buildSpec turns an attempt's evaluated params into a runtime spec.
func buildSpec(as assigned, logDir string) (runtime.Spec, error) {
	a := as.attempt
	spec := runtime.Spec{
		AttemptID:  a.AttemptId,
		Generation: a.Generation,
		Node:       a.Node,
		StepID:     as.step.StepId,
		StepType:   as.step.Type,
		StartedAt:  a.StartTime.AsTime(),
		LogDir:     logDir,
		Env: map[string]string{
			"BATON_WORKFLOW_ID":    as.step.WorkflowId,
			"BATON_INSTANCE_ID":    strconv.FormatInt(as.step.InstanceId, 10),
			"BATON_STEP_ID":        as.step.StepId,
			"BATON_ATTEMPT":        strconv.FormatInt(a.AttemptNumber, 10),
			"BATON_ATTEMPT_ID":     a.AttemptId,
			"BATON_NODE":           a.Node,
			"BATON_GENERATION":     strconv.FormatUint(a.Generation, 10),
			"WORKFLOW_ID":          as.step.WorkflowId,
			"WORKFLOW_INSTANCE_ID": strconv.FormatInt(as.step.InstanceId, 10),
		},
	}
	if a.Deadline != nil {
		spec.Deadline = a.Deadline.AsTime()
	}
	param := func(name string) (workflow.Value, bool, error) {
		p, ok := a.Params[name]
		if !ok {
			return workflow.Value{}, false, nil
		}
		v, err := ValueFromParam(p)
		if err != nil {
			return workflow.Value{}, true, fmt.Errorf("param %s: %w", name, err)
		}
		return v, true, nil
	}
	switch as.step.Type {
	case "NoOp":
	case "Sleep":
		v, ok, err := param("sleep_seconds")
		if err != nil {
			return spec, err
		}
		if !ok {
			return spec, fmt.Errorf("Sleep step needs the sleep_seconds param")
		}
		secs, err := strconv.ParseFloat(v.String(), 64)
		if err != nil || secs < 0 {
			return spec, fmt.Errorf("sleep_seconds must be a non-negative number, got %q", v.String())
		}
		spec.SleepFor = time.Duration(secs * float64(time.Second))
	case "Shell":
		v, ok, err := param("shell")
		if err != nil {
			return spec, err
		}
		m, isMap := v.Raw.(map[string]workflow.Value)
		if !ok || !isMap {
			return spec, fmt.Errorf("Shell step needs the shell MAP param")
		}
		sh := &runtime.ShellSpec{}
		if c, ok := m["command"]; ok {
			sh.Command = c.String()
		}
		if args, ok := m["args"]; ok {
			list, ok := args.Raw.([]string)
			if !ok {
				return spec, fmt.Errorf("shell.args must be a STRING_ARRAY")
			}
			sh.Args = list
		}
		if env, ok := m["env"]; ok {
			em, ok := env.Raw.(map[string]string)
			if !ok {
				return spec, fmt.Errorf("shell.env must be a STRING_MAP")
			}
			sh.Env = em
		}
		if wd, ok := m["working_dir"]; ok {
			sh.WorkingDir = wd.String()
		}
		spec.Shell = sh
	case "Http":
		v, ok, err := param("http")
		if err != nil {
			return spec, err
		}
		m, isMap := v.Raw.(map[string]workflow.Value)
		if !ok || !isMap {
			return spec, fmt.Errorf("Http step needs the http MAP param (url, method, headers, body)")
		}
		h := &runtime.HTTPSpec{}
		if u, ok := m["url"]; ok {
			h.URL = u.String()
		}
		if x, ok := m["method"]; ok {
			h.Method = x.String()
		}
		if x, ok := m["body"]; ok {
			h.Body = x.String()
		}
		if x, ok := m["headers"]; ok {
			h.Headers = map[string]string{}
			switch hm := x.Raw.(type) {
			case map[string]string:
				for k, v := range hm {
					h.Headers[k] = v
				}
			case map[string]workflow.Value:
				for k, v := range hm {
					h.Headers[k] = v.String()
				}
			default:
				return spec, fmt.Errorf("http.headers must be a STRING_MAP")
			}
		}
		expr, ok, err := param("state_expr")
		if err != nil {
			return spec, err
		}
		if ok && strings.TrimSpace(expr.String()) != "" {
			h.StateFunc = httpStateFunc(expr.String(), a.Params)
		}
		spec.HTTP = h
	default:
		return spec, fmt.Errorf("step type %q cannot run on this agent", as.step.Type)
	}
	return spec, nil
}

// httpStateFunc evaluates an Http step's state_expr, which sees the step's
// params and the response as status_code and response_body, and names a
// Maestro step state.
func httpStateFunc(expr string, params map[string]*statepb.Param) func(int, string) (runtime.Outcome, error) {
	return func(code int, body string) (runtime.Outcome, error) {
		scope := responseScope{params: params, code: int64(code), body: body}
		v, err := workflow.Eval(expr, workflow.String, scope)
		if err != nil {
			return runtime.FatallyFailed, fmt.Errorf("state_expr: %w", err)
		}
		switch state := strings.ToUpper(strings.TrimSpace(v.String())); state {
		case "DONE", "SUCCEEDED":
			return runtime.Succeeded, nil
		case "USER_ERROR", "PLATFORM_ERROR":
			return runtime.UserFailed, fmt.Errorf("state_expr returned %s", state)
		case "FATAL_ERROR":
			return runtime.FatallyFailed, fmt.Errorf("state_expr returned %s", state)
		default:
			return runtime.FatallyFailed, fmt.Errorf("state_expr returned %q; want DONE, USER_ERROR, PLATFORM_ERROR or FATAL_ERROR", v.String())
		}
	}
}

// responseScope is what an Http step's state_expr sees.
type responseScope struct {
	params map[string]*statepb.Param
	code   int64
	body   string
}

func (s responseScope) Param(name string) (workflow.Value, bool) {
	switch name {
	case "status_code":
		return workflow.Value{Type: workflow.Long, Raw: s.code}, true
	case "response_body":
		return workflow.Value{Type: workflow.String, Raw: s.body}, true
	}
	if p, ok := s.params[name]; ok {
		if v, err := ValueFromParam(p); err == nil {
			return v, true
		}
	}
	return workflow.Value{}, false
}

func (s responseScope) StepParam(string, string) (workflow.Value, bool) {
	return workflow.Value{}, false
}
