package bench

import (
	"fmt"
	"testing"

	opsbench "github.com/batonhq/baton/ops/bench"
)

// BenchmarkForeach10k runs one foreach of 10,000 NoOp iterations, 1,000 at
// a time, and reports its makespan (instance start to end as the leader
// recorded it), iterations per second and the leader's peak RSS.
func BenchmarkForeach10k(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			run(b, nodes, opsbench.Foreach{Iterations: 10_000, Concurrency: 1000})
		})
	}
}

// BenchmarkCronStorm pushes 10,000 workflows whose time triggers all fire in
// the same second and reports how late each instance started after that
// second (the leader decides the fire, commits it, then starts the instance
// in a later round, so this includes the commits), and how many fires
// produced no instance.
func BenchmarkCronStorm(b *testing.B) {
	b.Run("nodes=3", func(b *testing.B) { run(b, 3, opsbench.Cron{Schedules: 10_000}) })
}
