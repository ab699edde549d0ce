package chaos

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"syscall"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// retriable reports whether a client that cannot tell whether its call took
// effect should send it again, to any server: no leader, a server that went
// away or hangs, a timeout.
func retriable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeDeadlineExceeded, connect.CodeAborted, connect.CodeUnknown:
		return true
	case connect.CodeCanceled:
		// The suite cancels no call itself: a canceled call is the client
		// library's word for a connection the server dropped.
		return true
	}
	return false
}

// refused reports whether a call failed to connect, so it never reached a
// server and cannot have taken effect.
func refused(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }

// startRecord is what one client learnt about one Start request id.
type startRecord struct {
	workflowID string
	requestID  string
	instanceID int64 // 0 until acknowledged
	acked      bool
	tries      int
	// ambiguous counts tries whose outcome the client could not know.
	ambiguous int
	sentAt    time.Time
	ackedAt   time.Time
	// purpose says which workload started it.
	purpose string
}

// starts is the registry of every Start the suite sent, by request id.
type starts struct {
	mu   sync.Mutex
	byID map[string]*startRecord
	// byWorkflow keeps insertion order per workflow.
	byWorkflow map[string][]*startRecord
}

func newStarts() *starts {
	return &starts{byID: map[string]*startRecord{}, byWorkflow: map[string][]*startRecord{}}
}

func (s *starts) add(r *startRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byID[r.requestID] = r
	s.byWorkflow[r.workflowID] = append(s.byWorkflow[r.workflowID], r)
}

func (s *starts) update(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn()
}

// of returns copies of every record of a workflow.
func (s *starts) of(workflowID string) []startRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []startRecord
	for _, r := range s.byWorkflow[workflowID] {
		out = append(out, *r)
	}
	return out
}

func (s *starts) workflows() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for w := range s.byWorkflow {
		out = append(out, w)
	}
	return out
}

// newStart registers a Start the suite is about to send.
func (r *run) newStart(workflowID, requestID, purpose string) *startRecord {
	rec := &startRecord{workflowID: workflowID, requestID: requestID, sentAt: time.Now(), purpose: purpose}
	r.starts.add(rec)
	return rec
}

// tryStart sends one try of a registered Start to n.
func (r *run) tryStart(rec *startRecord, n *node, patience time.Duration, params map[string]string) (*instancev1.StartResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{
		WorkflowId: rec.workflowID, RequestId: rec.requestID, Params: params,
	}))
	r.starts.update(func() { rec.tries++ })
	r.stats.add("start tries", 1)
	if err != nil {
		if retriable(err) {
			r.starts.update(func() { rec.ambiguous++ })
		}
		return nil, err
	}
	first := false
	r.starts.update(func() {
		if !rec.acked {
			rec.instanceID, rec.acked, rec.ackedAt, first = res.Msg.Instance.InstanceId, true, time.Now(), true
		}
	})
	if first {
		r.stats.add("starts acknowledged", 1)
	}
	return res.Msg, nil
}

// start sends a Start as a careful client does: one request id for every
// try, each try to a server picked at random (among those given, or any
// member), sent again while the outcome is unknown, until within has
// passed. Some first tries are impatient on purpose, so that a retry races
// a start that did happen.
func (r *run) start(workflowID, requestID, purpose string, params map[string]string, within time.Duration, among ...*node) (*startRecord, error) {
	rec := r.newStart(workflowID, requestID, purpose)
	patience := 3 * time.Second
	if r.chance(0.2) {
		patience = time.Duration(5+r.intn(20)) * time.Millisecond
	}
	return rec, r.settleStart(rec, params, within, patience, among...)
}

// settleStart sends a registered Start until it is acknowledged.
func (r *run) settleStart(rec *startRecord, params map[string]string, within, patience time.Duration, among ...*node) error {
	deadline := time.Now().Add(within)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-r.abort:
			return fmt.Errorf("start %s (request %s): the test ended", rec.workflowID, rec.requestID)
		default:
		}
		n := r.pickNode()
		if len(among) > 0 {
			n = among[r.intn(len(among))]
		}
		_, err := r.tryStart(rec, n, patience, params)
		patience = 3 * time.Second
		if err == nil {
			return nil
		}
		if !retriable(err) {
			return fmt.Errorf("start %s (request %s) through %s at %s: %w", rec.workflowID, rec.requestID, n.name, time.Now().UTC().Format("15:04:05.000"), err)
		}
		r.stats.add("start retries", 1)
		last = err
		time.Sleep(time.Duration(20+r.intn(80)) * time.Millisecond)
	}
	r.stats.add("starts never acknowledged", 1)
	return fmt.Errorf("start %s (request %s) not acknowledged within %s: %w", rec.workflowID, rec.requestID, within, last)
}

// pickNode returns a random member, live or not: clients do not know which
// servers are down, they find out by trying.
func (r *run) pickNode() *node {
	ms := r.c.members()
	return ms[r.intn(len(ms))]
}

// pickLive prefers a live member, for calls the suite needs answered.
func (r *run) pickLive() *node {
	if live := r.c.live(); len(live) > 0 {
		return live[r.intn(len(live))]
	}
	return r.pickNode()
}

// retry calls fn against live servers until it succeeds with something other
// than a retriable error, or within passes.
func (r *run) retry(within time.Duration, fn func(ctx context.Context, n *node) error) error {
	deadline := time.Now().Add(within)
	var last error
	for {
		n := r.pickLive()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := fn(ctx, n)
		cancel()
		if err == nil || !retriable(err) {
			return err
		}
		last = fmt.Errorf("through %s: %w", n.name, err)
		if time.Now().After(deadline) {
			return fmt.Errorf("no answer within %s: %w", within, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// lockedRand is the clients' random source, shared by their goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func (l *lockedRand) intn(n int) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.IntN(n)
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (r *run) intn(n int) int               { return r.rand.intn(n) }
func (r *run) chance(p float64) bool        { return r.rand.float() < p }
func isCode(err error, c connect.Code) bool { return err != nil && connect.CodeOf(err) == c }

// call makes a request that carries a request id through random servers, as
// a careful client does, until it gives an answer other than a retriable
// error, or within has passed. Some first tries give up after a few
// milliseconds on purpose, so that copies of a request are left in flight;
// the request id makes every copy after the first that took effect do
// nothing, even one held up (in a paused leader's socket, say) until after
// a later call was answered.
func (r *run) call(what string, within time.Duration, try func(ctx context.Context, n *node) error) error {
	deadline := time.Now().Add(within)
	patience := 3 * time.Second
	if r.chance(0.2) {
		patience = time.Duration(5+r.intn(20)) * time.Millisecond
	}
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-r.abort:
			return fmt.Errorf("%s: the test ended", what)
		default:
		}
		n := r.pickNode()
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		err := try(ctx, n)
		cancel()
		patience = 3 * time.Second
		if err == nil {
			return nil
		}
		var v verdict
		if errors.As(err, &v) {
			return v.error
		}
		if !retriable(err) {
			return fmt.Errorf("%s through %s at %s: %w", what, n.name, time.Now().UTC().Format("15:04:05.000"), err)
		}
		last = err
		time.Sleep(time.Duration(20+r.intn(80)) * time.Millisecond)
	}
	return fmt.Errorf("%s not answered within %s: %w", what, within, last)
}

// clientRecords is what a workload's clients learnt, one record per
// instance, and the errors they met. Its lock also guards the records'
// fields, which clients set as calls are answered.
type clientRecords[T any] struct {
	mu      sync.Mutex
	records []*T
	errors  []string
}

func (c *clientRecords[T]) unexpected(format string, args ...any) {
	c.set(func() { c.errors = append(c.errors, fmt.Sprintf(format, args...)) })
}

func (c *clientRecords[T]) add(rec *T) { c.set(func() { c.records = append(c.records, rec) }) }

// set runs fn under the lock.
func (c *clientRecords[T]) set(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn()
}

// snapshot copies the records and errors, for the checks.
func (c *clientRecords[T]) snapshot() ([]T, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]T, len(c.records))
	for i, rec := range c.records {
		out[i] = *rec
	}
	return out, append([]string(nil), c.errors...)
}

// instanceRounds is the loop of a client that works on one instance at a
// time: every interval (paced) until stop, it starts an instance of
// workflowID, acknowledged within, and hands its id to round, which runs to
// its end even once stop is closed (it may have left the instance waiting
// for the client). A start that fails goes to unexpected.
func (r *run) instanceRounds(workflowID, purpose string, interval, within time.Duration, stop <-chan struct{},
	unexpected func(string, ...any), round func(instanceID int64)) {
	for r.pace(interval, stop) {
		rec, err := r.start(workflowID, fmt.Sprintf("%s-%s-%d", r.scenario, purpose, r.nextID()), purpose, r.c.b.stepParams(), within)
		if err != nil {
			unexpected("%v", err)
			continue
		}
		round(rec.instanceID)
	}
}

// stepStatuses reads the status of each step of an instance through any
// server.
func (r *run) stepStatuses(workflowID string, instanceID int64) (map[string]string, error) {
	var out map[string]string
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: workflowID, InstanceId: instanceID}))
		if err != nil {
			return err
		}
		out = map[string]string{}
		for _, st := range res.Msg.Steps {
			out[st.StepId] = st.Status
		}
		return nil
	})
	return out, err
}

// countAction counts an answered operator action of a kind, and whether
// it was answered as a repeat of a copy that had taken effect.
func (r *run) countAction(kind string, repeated bool) {
	r.stats.add(kind, 1)
	if repeated {
		r.stats.add("actions answered as repeats", 1)
	}
}

// verdict is what a try of call found wrong with an answer: call returns it
// at once instead of trying again.
type verdict struct{ error }

func verdictf(format string, args ...any) error { return verdict{fmt.Errorf(format, args...)} }

// pace waits between a client's rounds: half of interval to one and a half
// times it, at random. It reports false once stop is closed.
func (r *run) pace(interval time.Duration, stop <-chan struct{}) bool {
	select {
	case <-stop:
		return false
	case <-time.After(interval/2 + time.Duration(r.intn(int(interval/time.Millisecond)+1))*time.Millisecond):
		return true
	}
}
