package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	batoncluster "github.com/batonhq/baton/cluster"
)

// workload is one kind of traffic the suite drives, with the checks that
// belong to it. Step kinds and features are added to the suite by adding a
// workload: setup pushes its definitions, client runs one concurrent
// client, check judges what it saw once the faults are over. Instances it
// starts through run.start are also covered by the checks every run makes
// (each acknowledged start exactly once, every instance ended, at most one
// result per attempt, the ledgers).
type workload interface {
	name() string
	setup(r *run) error
	clients() int
	client(r *run, id int, stop <-chan struct{})
	check(r *run)
}

// stats counts operations by name; safe for concurrent use.
type stats struct {
	mu sync.Mutex
	m  map[string]int64
}

func (s *stats) add(name string, n int64) {
	s.mu.Lock()
	if s.m == nil {
		s.m = map[string]int64{}
	}
	s.m[name] += n
	s.mu.Unlock()
}

func (s *stats) get(name string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[name]
}

func (s *stats) all() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int64{}
	for k, v := range s.m {
		out[k] = v
	}
	return out
}

// measure records one timing of a named kind, for the summary.
func (r *run) measure(name string, d time.Duration) {
	r.mu.Lock()
	if r.timings == nil {
		r.timings = map[string][]time.Duration{}
	}
	r.timings[name] = append(r.timings[name], d)
	r.mu.Unlock()
}

// checkResult is one invariant's verdict on a run.
type checkResult struct {
	name       string
	skipped    string // why it could not be checked, or ""
	checked    int    // how many things it looked at
	violations []string
}

func (c checkResult) verdict() string {
	switch {
	case c.skipped != "":
		return "skipped"
	case len(c.violations) > 0:
		return fmt.Sprintf("FAILED (%d)", len(c.violations))
	}
	return "ok"
}

// fault is one injected fault as it happened.
type fault struct {
	kind    string
	targets string
	at      time.Duration // since the run started
	took    time.Duration
	note    string
}

// run is one scenario against one cluster: load, faults, then checks.
type run struct {
	t        *testing.T
	scenario string
	seed     uint64
	c        *cluster
	began    time.Time

	// sched drives the fault schedule from the main goroutine only, so a
	// seed replays the same schedule; rand serves the concurrent clients.
	sched *rand.Rand
	rand  *lockedRand

	workloads []workload
	starts    *starts
	stats     stats
	hist      *history

	mu       sync.Mutex
	faults   []fault
	minority []minorityRecord
	progress []checkResult
	checks   []checkResult
	notes    []string
	timings  map[string][]time.Duration

	// succeed lists the workflows whose every instance must succeed.
	succeed map[string]bool
	// childWorkflows are the workflows of child instances found so far.
	childWorkflows map[string]bool
	// final is every instance as the cluster holds it once the run is
	// over, for the workloads' checks.
	final map[string]*finalInstance
	ids   atomic.Int64

	stopLoad chan struct{}
	// abort ends every retry loop when the test is over.
	abort  chan struct{}
	loadWG sync.WaitGroup
	loadOn bool
}

func (r *run) mustSucceed(workflowID string) {
	r.mu.Lock()
	r.succeed[workflowID] = true
	r.mu.Unlock()
}

// nextID numbers request ids and the like, unique within the run.
func (r *run) nextID() int64 { return r.ids.Add(1) }

func newRun(t *testing.T, scenario string, seed uint64, c *cluster, workloads ...workload) *run {
	t.Logf("scenario %s: seed %d (replay with -chaos.seed=%d)", scenario, seed, seed)
	r := &run{
		t: t, scenario: scenario, seed: seed, c: c, began: time.Now(),
		sched:     rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)),
		rand:      &lockedRand{r: rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))},
		workloads: workloads, starts: newStarts(), hist: newHistory(),
		stopLoad: make(chan struct{}), abort: make(chan struct{}), succeed: map[string]bool{}, childWorkflows: map[string]bool{},
	}
	return r
}

func (r *run) logf(format string, args ...any) {
	r.t.Helper()
	r.t.Logf("[%s %s +%s] %s", r.scenario, time.Now().Format("15:04:05.000"), time.Since(r.began).Round(100*time.Millisecond), fmt.Sprintf(format, args...))
}

func (r *run) note(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.notes = append(r.notes, msg)
	r.mu.Unlock()
	r.logf("%s", msg)
}

func (r *run) addFault(f fault) {
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	msg := fmt.Sprintf("fault %s on %s at %s took %s", f.kind, f.targets, r.began.Add(f.at).Format("15:04:05.000"), f.took.Round(100*time.Millisecond))
	if f.note != "" {
		msg += ": " + f.note
	}
	r.logf("%s", msg)
}

func (r *run) addCheck(c checkResult) {
	r.mu.Lock()
	r.checks = append(r.checks, c)
	r.mu.Unlock()
	switch {
	case c.skipped != "":
		r.logf("check %s skipped: %s", c.name, c.skipped)
	case len(c.violations) == 0:
		r.logf("check %s: ok (%d checked)", c.name, c.checked)
	default:
		shown, more := c.violations, ""
		if len(shown) > 25 {
			shown = shown[:25]
			more = "\n  … all of them in " + writeEvidence(r.scenario, c.violations)
		}
		r.t.Errorf("[%s] check %s FAILED: %d violations of %d checked:\n  %s%s", r.scenario, c.name, len(c.violations), c.checked, strings.Join(shown, "\n  "), more)
	}
}

// setup pushes the probe workflow, which every fault's recovery check
// starts, and every workload's definitions.
func (r *run) setup() {
	if err := r.pushDefinition(probeDefinition); err != nil {
		r.t.Fatalf("push %s: %v", probeWorkflow, err)
	}
	r.mustSucceed(probeWorkflow)
	for _, w := range r.workloads {
		if err := w.setup(r); err != nil {
			r.t.Fatalf("workload %s setup: %v", w.name(), err)
		}
	}
}

// startLoad starts every workload's clients. If the test stops early, they
// are stopped before the cluster is torn down.
func (r *run) startLoad() {
	r.loadOn = true
	r.t.Cleanup(func() {
		close(r.abort)
		if r.loadOn {
			r.loadOn = false
			close(r.stopLoad)
			r.loadWG.Wait()
		}
	})
	for _, w := range r.workloads {
		for i := 0; i < w.clients(); i++ {
			r.loadWG.Add(1)
			go func() {
				defer r.loadWG.Done()
				w.client(r, i, r.stopLoad)
			}()
		}
	}
}

// stopLoadAndWait ends the clients; each finishes the request it is in.
func (r *run) stopLoadAndWait() {
	if !r.loadOn {
		return
	}
	r.loadOn = false
	close(r.stopLoad)
	done := make(chan struct{})
	go func() {
		r.loadWG.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Minute):
		r.t.Fatal("the load clients did not stop within 5 minutes")
	}
}

// waitAcks waits until at least n more starts are acknowledged, which shows
// the cluster accepts work; it fails the run after timeout.
func (r *run) waitAcks(n int64, timeout time.Duration, what string) {
	r.t.Helper()
	want := r.stats.get("starts acknowledged") + n
	deadline := time.Now().Add(timeout)
	for r.stats.get("starts acknowledged") < want {
		if time.Now().After(deadline) {
			r.t.Fatalf("%s: fewer than %d starts acknowledged within %s", what, n, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recover undoes every fault still in effect: heals partitions, resumes
// paused servers, starts stopped members, and waits for agreement.
func (r *run) recover(timeout time.Duration) {
	r.t.Helper()
	if err := r.c.b.heal(); err != nil {
		r.t.Fatalf("heal partitions: %v", err)
	}
	for _, n := range r.c.all() {
		r.c.mu.Lock()
		n.cut = false
		r.c.mu.Unlock()
	}
	for _, n := range r.c.members() {
		switch r.c.stateOf(n) {
		case statePaused:
			if err := r.c.b.cont(n); err != nil {
				r.t.Fatalf("resume %s: %v", n.name, err)
			}
			r.c.setState(n, stateUp)
		case stateDown:
			if err := r.c.b.start(n, len(r.c.members()), r.c.others(n)); err != nil {
				r.t.Fatalf("restart %s: %v", n.name, err)
			}
			r.c.setState(n, stateUp)
		}
	}
	if _, err := r.c.waitAgreement(timeout); err != nil {
		r.t.Fatalf("after the faults: %v", err)
	}
}

// finish stops the load, recovers the cluster, waits for every instance to
// end, and runs every check.
func (r *run) finish() {
	r.t.Helper()
	r.logf("stopping the load")
	r.stopLoadAndWait()
	for _, w := range r.workloads {
		if s, ok := w.(interface{ stop(*run) }); ok {
			s.stop(r)
		}
	}
	r.recover(2 * time.Minute)
	r.logf("cluster recovered; waiting for every instance to end")
	final := r.waitEnded(recoveryWindow())
	r.final = final
	r.addCheck(r.checkStarts(final))
	r.addCheck(r.checkEnded(final))
	r.addCheck(r.checkAttempts(final))
	r.addCheck(r.checkLedgers(final))
	r.addCheck(r.checkMinority(final))
	r.addCheck(r.checkProgress())
	r.addCheck(r.checkStateHashes())
	r.addCheck(r.checkLinearizable())
	for _, w := range r.workloads {
		w.check(r)
	}
	r.noteWorkarounds()
	report.add(r)
}

// noteWorkarounds notes each time a server worked around a Raft library
// bug during the run (see batoncluster.StuckCandidateLog), with when and where,
// so that a pass says whether the situation arose.
func (r *run) noteWorkarounds() {
	logs, err := r.c.b.serverLogs()
	if err != nil {
		r.note("server logs not read, so the Raft workarounds are not counted: %v", err)
		return
	}
	var seen []string
	for _, name := range sortedKeys(logs) {
		for _, line := range strings.Split(logs[name], "\n") {
			if strings.Contains(line, batoncluster.StuckCandidateLog) {
				seen = append(seen, name+": "+strings.TrimSpace(line))
			}
		}
	}
	if len(seen) > 0 {
		r.note("a server left a candidate naming a dead leader sent that leader's heartbeat to itself, %d time(s):\n    %s", len(seen), strings.Join(seen, "\n    "))
	}
}

// faultCounts summarizes the faults by kind, in a stable order.
func (r *run) faultCounts() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	counts := map[string]int{}
	for _, f := range r.faults {
		counts[f.kind]++
	}
	kinds := make([]string, 0, len(counts))
	for k := range counts {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var parts []string
	for _, k := range kinds {
		parts = append(parts, fmt.Sprintf("%s×%d", k, counts[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// liveExcept returns the live members other than those listed.
func (r *run) liveExcept(not ...*node) []*node {
	var out []*node
	for _, n := range r.c.live() {
		if !slices.Contains(not, n) {
			out = append(out, n)
		}
	}
	return out
}
