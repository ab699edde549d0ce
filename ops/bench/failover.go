package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// Failover keeps a local cluster under a steady load of starts, SIGKILLs the
// leader, and measures how long the cluster could not commit, how long until
// the new leader placed a step, and whether any acknowledged work was lost
// or done twice.
type Failover struct {
	// Rate is the steady load in starts per second (default 50).
	Rate float64
	// Warmup is how long the load runs before the kill (default 3 s).
	Warmup time.Duration
	// After is how long the load goes on once the new leader has committed
	// (default 2 s).
	After time.Duration
}

const (
	// startGiveUp bounds how long one start of the steady load is retried
	// (with its request id) before it counts as not acknowledged.
	startGiveUp = 30 * time.Second
	// drainTimeout bounds the wait for every acknowledged instance to end.
	drainTimeout = 2 * time.Minute
	// failoverStepSleep keeps each instance's Shell step running a moment,
	// so that attempts are in flight on the leader when it dies.
	failoverStepSleep = 200 * time.Millisecond
)

func (Failover) Name() string { return "failover" }

func (w Failover) withDefaults() Failover {
	if w.Rate == 0 {
		w.Rate = 50
	}
	if w.Warmup == 0 {
		w.Warmup = 3 * time.Second
	}
	if w.After == 0 {
		w.After = 2 * time.Second
	}
	return w
}

func (w Failover) Params() []Field {
	w = w.withDefaults()
	return []Field{{"rate", w.Rate}, {"warmup_s", w.Warmup.Seconds()}, {"after_s", w.After.Seconds()}}
}

func (w Failover) Check(local int) error {
	switch {
	case local == 0:
		return usagef("failover needs --local N (N ≥ 3): it SIGKILLs the leader, which it can only do to agents it started itself")
	case local < 3:
		return usagef("failover needs --local 3 or more, got %d: a cluster keeps a quorum without its leader only with 3 or more servers", local)
	case w.Rate < 0:
		return usagef("--rate %g: want starts per second above 0", w.Rate)
	case w.Warmup < 0:
		return usagef("--warmup %s: want a positive duration", w.Warmup)
	case w.After < 0:
		return usagef("--after %s: want a positive duration", w.After)
	}
	return nil
}

// AgentFlags keeps every finished instance, so that none the workload
// checks has been removed by retention.
func (Failover) AgentFlags() []string { return []string{"-retain-finished=0"} }

type ackedStart struct {
	requestID string
	instance  int64
	// ack is from when the start was due (the open loop's schedule) to
	// its acknowledgement.
	ack time.Duration
}

func (w Failover) Run(ctx context.Context, env *Env) (*Result, error) {
	w = w.withDefaults()
	cl := env.Local
	if cl == nil || len(cl.Agents) < 3 {
		return nil, w.Check(0)
	}
	leader, err := cl.WaitAgreement(ctx, agreementTimeout)
	if err != nil {
		return nil, err
	}
	ledger := filepath.Join(cl.Dir, "ledger")
	if err := os.WriteFile(ledger, nil, 0o644); err != nil {
		return nil, err
	}
	const wf = "bench-failover"
	if err := leader.Client().Push(ctx, failoverDefinition(wf, ledger, failoverStepSleep)); err != nil {
		return nil, err
	}
	var survivors []*Client
	for _, a := range cl.Running() {
		if a != leader {
			survivors = append(survivors, a.Client())
		}
	}

	// The steady load: an open loop through the followers, each start
	// retried with its request id until acknowledged.
	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	var (
		mu      sync.Mutex
		acked   []ackedStart
		unacked errorCounter
		resent  errorCounter // acknowledged starts the client sent again, by the error it retried on
		loadWG  sync.WaitGroup
	)
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		t0 := time.Now()
		for i := 0; ; i++ {
			due := t0.Add(time.Duration(float64(i) * float64(time.Second) / w.Rate))
			if sleepCtx(loadCtx, time.Until(due)) != nil {
				return
			}
			loadWG.Add(1)
			go func() {
				defer loadWG.Done()
				id := fmt.Sprintf("bench-%s-failover-%d", env.RunID, i)
				// The start's own context outlives the load: a start already
				// sent is seen through to its answer.
				res, retriedOn, err := startRetrying(ctx, survivors, wf, id, startGiveUp)
				if err != nil {
					unacked.add(err)
					return
				}
				if retriedOn != nil {
					resent.add(retriedOn)
				}
				mu.Lock()
				acked = append(acked, ackedStart{id, res.Instance.InstanceId, time.Since(due)})
				mu.Unlock()
			}()
		}
	}()
	stopProfile := env.Profile(ctx)
	defer stopProfile()

	env.Logf("failover: %g starts/s through the followers; killing the leader %s in %s", w.Rate, leader.Name, w.Warmup)
	if err := sleepCtx(ctx, w.Warmup-time.Second); err != nil {
		return nil, err
	}
	watch := watchCommits(ctx, agentSources(cl.Running()))
	defer watch.stop()
	if err := sleepCtx(ctx, min(time.Second, w.Warmup)); err != nil {
		return nil, err
	}
	killTerm, commitAtKill := watch.snapshot()
	killed := time.Now()
	leader.Kill()
	env.Logf("failover: SIGKILLed %s (term %d, commit index %d)", leader.Name, killTerm, commitAtKill)
	before, after, err := watch.around(ctx, killed, killTerm, time.Minute)
	watch.stop()
	if err != nil {
		return nil, err
	}
	env.Logf("failover: first commit of the new term %s after the kill", after.at.Sub(killed).Round(time.Millisecond))
	if err := sleepCtx(ctx, w.After); err != nil {
		return nil, err
	}
	stopLoad()
	<-loadDone
	loadWG.Wait()
	stopProfile()
	newLeader, err := cl.WaitAgreement(ctx, agreementTimeout)
	if err != nil {
		return nil, err
	}
	env.Logf("failover: %d starts acknowledged, %d not; new leader %s; waiting for every instance to end", len(acked), unacked.count(), newLeader.Name)

	ended, pending := drain(ctx, newLeader.Client(), wf, acked, drainTimeout)
	res := &Result{}
	res.addMs("unavailable_ms", after.at.Sub(before.at), "last commit seen before the kill to the first commit of the new leader's term")
	// resume: the first attempt placed by the new leader. An attempt's
	// generation is the Raft index of its placement, so one above every
	// index committed before the kill was placed after it.
	var resume time.Duration = -1
	var lostAttempts, placedOnDead, lastWords, twoResults, reexecuted int
	failed := 0
	for _, got := range ended {
		if got.Instance.Status != fsm.InstanceSucceeded {
			failed++
		}
		for _, st := range got.Steps {
			succeeded := 0
			for _, a := range st.Attempts {
				if a.Status == fsm.AttemptSucceeded {
					succeeded++
				}
				if a.Lost {
					lostAttempts++
				}
				if a.Node == leader.Name && a.Generation > commitAtKill {
					// The commit index at the kill is polled, so an attempt
					// the old leader placed on itself in its last
					// milliseconds can have a later generation; its placement
					// time (the placing leader's clock, this machine's) tells
					// it from one its successor placed there.
					if a.StartTime != nil && a.StartTime.AsTime().After(killed) {
						placedOnDead++
					} else {
						lastWords++
					}
				}
				if a.Executions > 1 {
					reexecuted++
				}
				if a.StartTime != nil && a.Generation > commitAtKill {
					if d := a.StartTime.AsTime().Sub(killed); d > 0 && (resume < 0 || d < resume) {
						resume = d
					}
				}
			}
			if succeeded > 1 {
				twoResults += succeeded - 1
			}
		}
	}
	if resume < 0 {
		return nil, errors.New("no step was placed after the leader was killed")
	}
	res.addMs("resume_ms", resume, "kill to the first step placed by the new leader (its clock)")
	notFound := 0
	for _, p := range pending {
		if p.notFound {
			notFound++
		}
	}
	res.add("lost", float64(len(pending)), "", fmt.Sprintf("acknowledged starts with no instance, or whose instance had not ended %s later", drainTimeout))

	exec, err := readLedger(ledger)
	if err != nil {
		return nil, err
	}
	ledgerDup, rerun := 0, 0
	steps := map[string]map[string]bool{}
	for id, n := range exec {
		if n > 1 {
			ledgerDup += n - 1
		}
		step := id[:max(0, strings.LastIndexByte(id, '/'))]
		if steps[step] == nil {
			steps[step] = map[string]bool{}
		}
		steps[step][id] = true
	}
	for _, ids := range steps {
		if len(ids) > 1 {
			rerun++
		}
	}
	dupInstances, err := duplicateInstances(ctx, newLeader.Client(), wf, len(acked))
	if err != nil {
		return nil, err
	}
	var silent int
	for _, got := range ended {
		for _, st := range got.Steps {
			if st.Type != "Shell" {
				continue
			}
			for _, a := range st.Attempts {
				if a.Status == fsm.AttemptSucceeded && exec[a.AttemptId] == 0 {
					silent++
				}
			}
		}
	}
	duplicated := ledgerDup + twoResults + reexecuted + dupInstances
	res.add("duplicated", float64(duplicated), "", "attempts executed twice (ledger) or with two results, and starts that made two instances")
	res.add("acked", float64(len(acked)), "", "starts acknowledged")
	res.add("unacked", float64(unacked.count()), "", fmt.Sprintf("starts not acknowledged within %s (the client was never told they happened)", startGiveUp))
	res.add("failed", float64(failed), "", "acknowledged instances that ended other than SUCCEEDED")
	res.add("lost_attempts", float64(lostAttempts), "", "attempts given up because their node died (retried elsewhere)")
	res.add("placed_on_dead", float64(placedOnDead), "", "attempts the new leader placed on the killed node")
	res.add("rerun_after_loss", float64(rerun), "", "steps that ran again under a new attempt after their node died (at-least-once, visible)")
	res.add("commit_after_kill_ms", ms(after.at.Sub(killed)), "ms", "kill to the first commit of the new leader's term")
	acks := make([]time.Duration, 0, len(acked))
	for _, a := range acked {
		acks = append(acks, a.ack)
	}
	sortDurations(acks)
	res.addMs("ack_ms_p99", percentile(acks, 0.99), "a start's acknowledgement through a follower, from when it was due, over the whole run")
	res.addMs("ack_ms_max", percentile(acks, 1), "the longest a start waited for its acknowledgement (those in flight at the kill)")
	res.add("client_resends", float64(resent.count()), "", "acknowledged starts the client had to send more than once (an error reached it)")
	if err := resent.err(); err != nil {
		res.Notes = append(res.Notes, "client_resends: "+err.Error())
	}
	res.Notes = append(res.Notes, fmt.Sprintf("killed %s at term %d; %s leads now; commit times are polled from every node's status every %s",
		leader.Name, killTerm, newLeader.Name, commitPoll))
	if lastWords > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d attempts the killed leader placed on itself before the kill were committed after the last commit index polled before it (not counted in placed_on_dead)", lastWords))
	}
	if len(pending) > 0 {
		res.problemf("%d acknowledged starts lost (%d with no instance, the others not ended)", len(pending), notFound)
	}
	if failed > 0 {
		res.problemf("%d acknowledged instances ended other than SUCCEEDED", failed)
	}
	if ledgerDup > 0 {
		res.problemf("%d executions of an attempt that had already executed (ledger)", ledgerDup)
	}
	if twoResults > 0 {
		res.problemf("%d steps have more than one succeeded attempt", twoResults)
	}
	if reexecuted > 0 {
		res.problemf("%d attempts were executed more than once by their node", reexecuted)
	}
	if dupInstances > 0 {
		res.problemf("%d request ids started more than one instance", dupInstances)
	}
	if silent > 0 {
		res.problemf("%d Shell attempts succeeded without an execution in the ledger", silent)
	}
	if n := unacked.count(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d starts were never acknowledged, e.g.: %v", n, unacked.err()))
	}
	return res, nil
}

type pendingStart struct {
	ackedStart
	notFound bool
	status   string
}

// drain waits until every acknowledged start's instance has ended, reading
// through c, and returns the ended ones and those still pending when the
// timeout passed.
func drain(ctx context.Context, c *Client, wf string, acked []ackedStart, timeout time.Duration) (map[int64]*instancev1.GetResponse, []pendingStart) {
	ended := map[int64]*instancev1.GetResponse{}
	var pending []pendingStart
	deadline := time.Now().Add(timeout)
	for {
		pending = pending[:0]
		for _, a := range acked {
			if ended[a.instance] != nil {
				continue
			}
			got, err := c.Instances.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: wf, InstanceId: a.instance}))
			switch {
			case err == nil && fsm.InstanceTerminal(got.Msg.Instance.Status):
				ended[a.instance] = got.Msg
			case err == nil:
				pending = append(pending, pendingStart{ackedStart: a, status: got.Msg.Instance.Status})
			default:
				pending = append(pending, pendingStart{ackedStart: a, notFound: connect.CodeOf(err) == connect.CodeNotFound, status: err.Error()})
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			return ended, pending
		}
		_ = sleepCtx(ctx, 500*time.Millisecond)
	}
}

// duplicateInstances counts the instances beyond the first that share a
// request id.
func duplicateInstances(ctx context.Context, c *Client, wf string, acked int) (int, error) {
	res, err := c.Instances.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: wf, Limit: int32(2*acked + 1000)}))
	if err != nil {
		return 0, fmt.Errorf("list instances: %w", err)
	}
	seen := map[string]int{}
	dup := 0
	for _, inst := range res.Msg.Instances {
		seen[inst.RequestId]++
		if seen[inst.RequestId] > 1 {
			dup++
		}
	}
	return dup, nil
}

// readLedger counts the executions of each attempt id in the ledger.
func readLedger(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		out[fields[0]]++
	}
	return out, sc.Err()
}
