package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// Cron pushes Schedules workflows whose time triggers all fire in the same
// second and measures how late each one's instance started, and how many
// fires produced no instance.
type Cron struct {
	Schedules int
	// Wait is how long after the due second fires may still arrive before
	// they count as missed (default 30 s).
	Wait time.Duration
}

// pushers is how many pushes the cron workload keeps in flight.
const pushers = 16

func (Cron) Name() string { return "cron" }

func (w Cron) Params() []Field {
	return []Field{{"schedules", w.Schedules}, {"wait_s", w.wait().Seconds()}}
}

func (w Cron) wait() time.Duration {
	if w.Wait <= 0 {
		return 30 * time.Second
	}
	return w.Wait
}

func (w Cron) Check(int) error {
	if w.Schedules < 1 {
		return usagef("--schedules %d: want 1 or more", w.Schedules)
	}
	if w.Wait < 0 {
		return usagef("--wait %s: want a positive duration", w.Wait)
	}
	return nil
}

func (Cron) AgentFlags() []string { return nil }

func (w Cron) Run(ctx context.Context, env *Env) (*Result, error) {
	n := w.Schedules
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("bench-cron-%s-%05d", env.RunID, i)
	}
	// Every workflow names the same due second in its cron expression, so
	// the second must be chosen before pushing, late enough that the last
	// push lands before it. The first few workflows are pushed without a
	// trigger to measure how fast pushes go here, then every workflow is
	// pushed with its trigger (a new version for those few).
	k := min(n, max(20, n/20))
	t := time.Now()
	if err := pushAll(ctx, env.API, k, func(i int) string { return cronDefinition(ids[i], nil) }); err != nil {
		return nil, err
	}
	perPush := time.Since(t) / time.Duration(k)
	estimate := time.Duration(n) * perPush
	// Pushes slow down as workflows accumulate (and on a busy machine), so
	// the first few understate the rest: allow three times the estimate.
	due := time.Now().Add(3*estimate + 5*time.Second).Truncate(time.Second).Add(time.Second)
	env.Logf("cron: pushing %d workflows (about %s) that all fire at %s", n, estimate.Round(time.Second), due.UTC().Format("15:04:05Z"))
	t = time.Now()
	if err := pushAll(ctx, env.API, n, func(i int) string { return cronDefinition(ids[i], &due) }); err != nil {
		return nil, err
	}
	pushed := time.Now()
	if margin := due.Sub(pushed); margin < time.Second {
		return nil, fmt.Errorf("pushing %d workflows took %s, %s past the margin before their due second (%s); the machine is slower than the first %d pushes suggested, run again",
			n, pushed.Sub(t).Round(time.Millisecond), (time.Second - margin).Round(time.Millisecond), due.UTC().Format("15:04:05Z"), k)
	}
	env.Logf("cron: pushed in %s; waiting %s for the storm", pushed.Sub(t).Round(time.Millisecond), time.Until(due).Round(time.Second))
	if err := sleepCtx(ctx, time.Until(due.Add(-2*time.Second))); err != nil {
		return nil, err
	}
	stop := env.Profile(ctx)
	defer stop()
	// The commit index of the node the clients talk to, polled through the
	// storm, dates the entry that started each fired instance.
	commits := watchCommits(ctx, []statusSource{{"target", env.API, func() bool { return true }}})
	defer commits.stop()
	if err := sleepCtx(ctx, time.Until(due.Add(2*time.Second))); err != nil {
		return nil, err
	}

	// Read each workflow's instances until every fire has started or the
	// wait is over. A fire's instance is the one the trigger started (its
	// request id begins "trigger:"); the schedule fires once, so a second
	// one would be a duplicate.
	var (
		mu         sync.Mutex
		lags       []time.Duration
		duplicated int
		readErrs   errorCounter
		fired      = make([]int64, n) // schedule -> its instance's id, once started
	)
	missing := make([]int, n)
	for i := range missing {
		missing[i] = i
	}
	deadline := due.Add(w.wait())
	for len(missing) > 0 {
		var still []int
		var stillMu sync.Mutex
		err := parallel(ctx, len(missing), pushers, func(j int) error {
			i := missing[j]
			res, err := env.API.Instances.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: ids[i], Limit: 10, Stale: true}))
			if err != nil {
				readErrs.add(err)
				stillMu.Lock()
				still = append(still, i)
				stillMu.Unlock()
				return nil
			}
			count, started, id := 0, time.Time{}, int64(0)
			for _, inst := range res.Msg.Instances {
				if !strings.HasPrefix(inst.RequestId, "trigger:") {
					continue
				}
				count++
				if inst.StartTime != nil && (started.IsZero() || inst.StartTime.AsTime().Before(started)) {
					started, id = inst.StartTime.AsTime(), inst.InstanceId
				}
			}
			if started.IsZero() {
				stillMu.Lock()
				still = append(still, i)
				stillMu.Unlock()
				return nil
			}
			mu.Lock()
			fired[i] = id
			lags = append(lags, started.Sub(due))
			if count > 1 {
				duplicated += count - 1
			}
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, err
		}
		missing = still
		if len(missing) == 0 || time.Now().After(deadline) {
			break
		}
		env.Logf("cron: %d of %d fires started so far", n-len(missing), n)
		if err := sleepCtx(ctx, time.Second); err != nil {
			return nil, err
		}
	}
	stop()
	commitLags, placeLags, unknown, err := w.commitLags(ctx, env, ids, fired, due, commits)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	if len(lags) == 0 {
		return nil, fmt.Errorf("none of the %d schedules fired within %s of %s (read errors: %v)", n, w.wait(), due.UTC().Format(time.RFC3339), readErrs.err())
	}
	sortDurations(lags)
	res.addMs("lag_ms_p50", percentile(lags, 0.5), "due second to the fired instance starting (leader's clock), median")
	res.addMs("lag_ms_p99", percentile(lags, 0.99), "the same, 99th percentile")
	res.addMs("lag_ms_max", lags[len(lags)-1], "the same, latest")
	if len(commitLags) > 0 {
		sortDurations(commitLags)
		res.addMs("commit_lag_ms_p50", percentile(commitLags, 0.5), "due second to the Raft commit of the entry that started the fired instance (the target's commit index polled every 2 ms), median")
		res.addMs("commit_lag_ms_p99", percentile(commitLags, 0.99), "the same, 99th percentile")
		res.addMs("commit_lag_ms_max", commitLags[len(commitLags)-1], "the same, latest")
		sortDurations(placeLags)
		res.addMs("step_lag_ms_p50", percentile(placeLags, 0.5), "due second to the fired instance's first step placed on a node (leader's clock), median")
		res.addMs("step_lag_ms_p99", percentile(placeLags, 0.99), "the same, 99th percentile")
	}
	if unknown > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("the commit of %d started instances could not be dated (their timeline, or the commit index, was not read)", unknown))
	}
	res.add("missed", float64(len(missing)), "", fmt.Sprintf("schedules with no started instance %s after the due second", w.wait()))
	res.add("duplicated", float64(duplicated), "", "extra instances for a schedule that fires once")
	res.add("push_s", round3(pushed.Sub(t).Seconds()), "s", "time to push the workflows with their triggers")
	if len(missing) > 0 {
		res.problemf("%d of %d schedules due at %s had no started instance %s later", len(missing), n, due.UTC().Format(time.RFC3339), w.wait())
		if readErrs.count() > 0 {
			res.Notes = append(res.Notes, fmt.Sprintf("%d reads failed, e.g.: %v", readErrs.count(), readErrs.err()))
		}
	}
	if duplicated > 0 {
		res.problemf("%d schedule fires created more than one instance", duplicated)
	}
	return res, nil
}

// commitLags dates the commit of each fired instance's start: the Raft
// index on its IN_PROGRESS timeline event, and when the watch first saw
// that index committed. The leader stamps an entry when it proposes it, so
// the start time an instance records may precede its commit; this is the
// moment the start was durable. It returns how many could not be dated.
//
// It also returns, from the same timelines, the due second to each
// instance's first step being placed on a node.
func (Cron) commitLags(ctx context.Context, env *Env, ids []string, fired []int64, due time.Time, commits *commitWatch) (committed, placed []time.Duration, unknown int, err error) {
	var mu sync.Mutex
	err = parallel(ctx, len(ids), pushers, func(i int) error {
		if fired[i] == 0 {
			return nil
		}
		index, step, err := startTimeline(ctx, env.API, ids[i], fired[i])
		var at time.Time
		ok := false
		if err == nil {
			at, ok = commits.committedAt(index)
		}
		mu.Lock()
		defer mu.Unlock()
		if !ok {
			unknown++
			return nil
		}
		committed = append(committed, at.Sub(due))
		placed = append(placed, step.Sub(due))
		return nil
	})
	return committed, placed, unknown, err
}

// startTimeline reads an instance's timeline up to its first step being
// placed, and returns the Raft index of the entry that set the instance
// IN_PROGRESS and the time of that placement (leader's clock).
func startTimeline(ctx context.Context, c *Client, workflowID string, instanceID int64) (uint64, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.Instances.Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: workflowID, InstanceId: instanceID}))
	if err != nil {
		return 0, time.Time{}, err
	}
	defer stream.Close()
	var index uint64
	for stream.Receive() {
		ev := stream.Msg().Event
		if ev.StepId == "" && ev.Status == "IN_PROGRESS" {
			index = ev.Index
		}
		if ev.StepId != "" && ev.Status == "RUNNING" && index != 0 {
			return index, ev.Time.AsTime(), nil
		}
	}
	if err := stream.Err(); err != nil {
		return 0, time.Time{}, err
	}
	return 0, time.Time{}, fmt.Errorf("instance %s/%d: no IN_PROGRESS event followed by a step placed", workflowID, instanceID)
}

// pushAll pushes n definitions, pushers at a time.
func pushAll(ctx context.Context, c *Client, n int, def func(i int) string) error {
	return parallel(ctx, n, pushers, func(i int) error { return c.Push(ctx, def(i)) })
}

// parallel calls fn(0..n-1) from workers goroutines and returns the first
// error; after an error the remaining calls are skipped.
func parallel(ctx context.Context, n, workers int, fn func(i int) error) error {
	var next atomic.Int64
	var once sync.Once
	var first error
	var failed atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < min(workers, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || failed.Load() {
					return
				}
				if err := ctx.Err(); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err })
					failed.Store(true)
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}
