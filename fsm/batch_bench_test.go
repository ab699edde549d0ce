package fsm

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
)

// BenchmarkApplyStarts measures applying a burst of instance starts as
// Raft hands them over: one at a time (Apply) or together (ApplyBatch).
func BenchmarkApplyStarts(b *testing.B) {
	for _, batch := range []int{1, 16, 64} {
		b.Run(fmt.Sprint("batch=", batch), func(b *testing.B) {
			x := newFixture(b)
			applyAs[*PushResult](x, pushCmd(wfETL, defETL, 0))
			logs := make([]*raft.Log, 0, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				data, err := Encode(startCmd(wfETL, fmt.Sprint("req-", i), 1, 1))
				if err != nil {
					b.Fatal(err)
				}
				logs = append(logs, &raft.Log{Index: x.next, Type: raft.LogCommand, Data: data})
				x.next++
				if len(logs) == batch || i == b.N-1 {
					if batch == 1 {
						x.fsm.Apply(logs[0])
					} else {
						x.fsm.ApplyBatch(logs)
					}
					logs = logs[:0]
				}
			}
		})
	}
}
