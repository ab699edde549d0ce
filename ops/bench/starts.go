package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
)

// Starts starts instances of a one-step NoOp workflow as fast as asked and
// measures how many the cluster acknowledges per second and how long each
// acknowledgement takes. Exactly one of Rate and Clients is set:
//
//   - Rate (open loop): a start is due every 1/Rate seconds for Duration,
//     whether or not earlier ones were answered, and each one's latency is
//     counted from when it was due, not from when it was sent, so a stalled
//     server shows as latency instead of as fewer requests ("coordinated
//     omission").
//   - Clients (closed loop): that many clients each send a start, wait for
//     its answer and send the next, for Duration.
type Starts struct {
	Rate     float64
	Clients  int
	Duration time.Duration
}

// maxOutstanding bounds the open loop's starts in flight; a start due while
// the bound is reached is sent once a slot frees, and its latency still
// counts from when it was due.
const maxOutstanding = 4096

func (Starts) Name() string { return "starts" }

func (w Starts) Params() []Field {
	if w.Rate > 0 {
		return []Field{{"mode", "open"}, {"rate", w.Rate}, {"duration_s", w.Duration.Seconds()}}
	}
	return []Field{{"mode", "closed"}, {"clients", w.Clients}, {"duration_s", w.Duration.Seconds()}}
}

func (w Starts) Check(int) error {
	switch {
	case w.Rate < 0:
		return usagef("--rate %g: want starts per second above 0", w.Rate)
	case w.Clients < 0:
		return usagef("--clients %d: want 1 or more", w.Clients)
	case w.Rate > 0 && w.Clients > 0:
		return usagef("--rate and --clients exclude each other: --rate R is an open loop at a fixed rate, --clients C a closed loop of C clients")
	case w.Rate == 0 && w.Clients == 0:
		return usagef("starts needs --rate R (open loop, R starts per second) or --clients C (closed loop, C concurrent clients)")
	case w.Duration <= 0:
		return usagef("--duration %s: want a positive duration such as 10s", w.Duration)
	case w.Rate > 0 && w.Rate*w.Duration.Seconds() < 1:
		return usagef("--rate %g for --duration %s sends no start; raise either", w.Rate, w.Duration)
	}
	return nil
}

func (Starts) AgentFlags() []string { return nil }

func (w Starts) Run(ctx context.Context, env *Env) (*Result, error) {
	const wf = "bench-starts"
	if err := env.API.Push(ctx, oneStepDefinition(wf)); err != nil {
		return nil, err
	}
	var (
		mu      sync.Mutex
		lat     []time.Duration
		lastAck time.Time
		errs    errorCounter
	)
	record := func(d time.Duration) {
		now := time.Now()
		mu.Lock()
		lat = append(lat, d)
		if now.After(lastAck) {
			lastAck = now
		}
		mu.Unlock()
	}
	start := func(ctx context.Context, k int) error {
		_, err := env.API.Instances.Start(ctx, connect.NewRequest(&instancev1.StartRequest{
			WorkflowId: wf, RequestId: fmt.Sprintf("bench-%s-start-%d", env.RunID, k),
		}))
		return err
	}
	if w.Rate > 0 {
		env.Logf("starts: open loop, %g starts/s for %s", w.Rate, w.Duration)
	} else {
		env.Logf("starts: closed loop, %d clients for %s", w.Clients, w.Duration)
	}
	stop := env.Profile(ctx)
	defer stop()
	t0 := time.Now()
	var wg sync.WaitGroup
	if w.Rate > 0 {
		n := int(w.Rate * w.Duration.Seconds())
		slots := make(chan struct{}, maxOutstanding)
	loop:
		for i := 0; i < n; i++ {
			due := t0.Add(time.Duration(float64(i) * float64(time.Second) / w.Rate))
			if err := sleepCtx(ctx, time.Until(due)); err != nil {
				break
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				break loop
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				if err := start(ctx, i); err != nil {
					errs.add(err)
					return
				}
				record(time.Since(due))
			}()
		}
	} else {
		deadline := t0.Add(w.Duration)
		var next sync.Mutex
		k := 0
		for c := 0; c < w.Clients; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && time.Now().Before(deadline) {
					next.Lock()
					k++
					mine := k
					next.Unlock()
					sent := time.Now()
					if err := start(ctx, mine); err != nil {
						errs.add(err)
						// A client that fails at once must not spin.
						_ = sleepCtx(ctx, 10*time.Millisecond)
						continue
					}
					record(time.Since(sent))
				}
			}()
		}
	}
	wg.Wait()
	stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("no start was acknowledged (%d errors: %v)", errs.count(), errs.err())
	}
	elapsed := lastAck.Sub(t0)
	sortDurations(lat)
	res := &Result{}
	res.add("starts_per_s", round3(float64(len(lat))/elapsed.Seconds()), "1/s", "acknowledged starts per second: starts / elapsed_s")
	res.addMs("ack_ms_p50", percentile(lat, 0.5), ackHelp(w, "median"))
	res.addMs("ack_ms_p99", percentile(lat, 0.99), ackHelp(w, "99th percentile"))
	res.addMs("ack_ms_max", lat[len(lat)-1], ackHelp(w, "slowest"))
	res.add("starts", float64(len(lat)), "", "starts acknowledged")
	res.add("errors", float64(errs.count()), "", "starts that failed")
	res.add("elapsed_s", round3(elapsed.Seconds()), "s", "from the first start sent to the last one acknowledged")
	if n := errs.count(); n > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("%d starts failed, e.g.: %v", n, errs.err()))
	}
	return res, nil
}

func ackHelp(w Starts, which string) string {
	if w.Rate > 0 {
		return "time from when a start was due to its acknowledgement, " + which
	}
	return "time from sending a start to its acknowledgement, " + which
}
