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
			count, started := 0, time.Time{}
			for _, inst := range res.Msg.Instances {
				if !strings.HasPrefix(inst.RequestId, "trigger:") {
					continue
				}
				count++
				if inst.StartTime != nil && (started.IsZero() || inst.StartTime.AsTime().Before(started)) {
					started = inst.StartTime.AsTime()
				}
			}
			if started.IsZero() {
				stillMu.Lock()
				still = append(still, i)
				stillMu.Unlock()
				return nil
			}
			mu.Lock()
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
	res := &Result{}
	if len(lags) == 0 {
		return nil, fmt.Errorf("none of the %d schedules fired within %s of %s (read errors: %v)", n, w.wait(), due.UTC().Format(time.RFC3339), readErrs.err())
	}
	sortDurations(lags)
	res.addMs("lag_ms_p50", percentile(lags, 0.5), "due second to the fired instance starting (leader's clock), median")
	res.addMs("lag_ms_p99", percentile(lags, 0.99), "the same, 99th percentile")
	res.addMs("lag_ms_max", lags[len(lags)-1], "the same, latest")
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
