package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// maxWaiting bounds --waiting: the sleeping attempts are goroutines on the
// nodes, and starting them takes seconds per ten thousand.
const maxWaiting = 100_000

// waitingPerWorkflow is how many waiting instances one workflow holds: a
// run strategy lets at most 1,000 instances of a workflow run at once.
const waitingPerWorkflow = 1000

// waitingDefinition is one Sleep step of an hour, up to 1,000 instances at
// once: instances the engine has nothing to do for while they wait.
func waitingDefinition(id string) string {
	return definition(id, runParallel(waitingPerWorkflow), map[string]any{"steps": []defWrap{{Step: defStep{
		ID: "wait", Type: "Sleep", Params: map[string]any{"sleep_seconds": map[string]any{"type": "LONG", "value": 3600}},
	}}}})
}

// startWaiting starts n instances whose one step sleeps for an hour and
// returns once every one is running, with a function that stops them all.
func startWaiting(ctx context.Context, env *Env, n int) (stop func(context.Context), err error) {
	if n == 0 {
		return func(context.Context) {}, nil
	}
	var workflows []string
	for i := 0; i*waitingPerWorkflow < n; i++ {
		wf := fmt.Sprintf("bench-waiting-%d", i)
		if err := env.API.Push(ctx, waitingDefinition(wf)); err != nil {
			return nil, err
		}
		workflows = append(workflows, wf)
	}
	type ref struct {
		wf string
		id int64
	}
	var (
		mu       sync.Mutex
		started  []ref
		firstErr error
		wg       sync.WaitGroup
		next     = make(chan int)
	)
	env.Logf("starting %d waiting instances (one Sleep step of an hour each)", n)
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				wf := workflows[i/waitingPerWorkflow]
				res, _, err := startRetrying(ctx, []*Client{env.API}, wf, fmt.Sprintf("bench-%s-waiting-%d", env.RunID, i), callTimeout)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("start waiting instance %d: %w", i, err)
				}
				if err == nil {
					started = append(started, ref{wf, res.Instance.InstanceId})
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	stop = func(ctx context.Context) {
		env.Logf("stopping the %d waiting instances", len(started))
		ch := make(chan ref)
		var wg sync.WaitGroup
		for c := 0; c < 16; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range ch {
					// Best effort: a failed stop leaves a sleep that ends
					// by itself within the hour.
					_, _ = env.API.Instances.Stop(ctx, connect.NewRequest(&instancev1.StopRequest{
						WorkflowId: r.wf, InstanceId: r.id, Reason: "baton bench: the chain is done",
					}))
				}
			}()
		}
		for _, r := range started {
			ch <- r
		}
		close(ch)
		wg.Wait()
	}
	if firstErr == nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		stop(context.WithoutCancel(ctx))
		return nil, firstErr
	}
	// Running: every instance IN_PROGRESS, its step placed in the same round.
	limit := time.Minute + time.Duration(n)*time.Millisecond
	deadline := time.Now().Add(limit)
	for {
		running := 0
		for _, wf := range workflows {
			got, err := env.API.Instances.List(ctx, connect.NewRequest(&instancev1.ListRequest{
				WorkflowId: wf, Limit: waitingPerWorkflow, Statuses: []string{fsm.InstanceInProgress},
			}))
			if err != nil {
				stop(context.WithoutCancel(ctx))
				return nil, fmt.Errorf("list waiting instances of %s: %w", wf, err)
			}
			running += len(got.Msg.Instances)
		}
		if running == n {
			env.Logf("%d waiting instances running", n)
			return stop, nil
		}
		if time.Now().After(deadline) {
			stop(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("%d of %d waiting instances running after %s", running, n, limit)
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			stop(context.WithoutCancel(ctx))
			return nil, err
		}
	}
}
