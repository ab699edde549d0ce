package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// With small snapshot settings the log on disk stays within threshold +
// trailing entries however much runs through it, and an agent restarted on
// the compacted log restores its state from the snapshot.
func TestSnapshotsBoundTheLog(t *testing.T) {
	t.Parallel()
	const threshold, trailing = 200, 100
	a := harness.StartDev(t, "-raft-snapshot-threshold", fmt.Sprint(threshold), "-raft-trailing-logs", fmt.Sprint(trailing),
		"-raft-snapshot-interval", "500ms")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	wf := workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), a.URL())
	in := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), a.URL())
	def := `{"properties": {"run_strategy": {"rule": "PARALLEL", "workflow_concurrency": 1000}},
	  "workflow": {"id": "tiny", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`
	if _, err := wf.Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def})); err != nil {
		t.Fatal(err)
	}
	const n = 600
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				if _, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "tiny", RequestId: fmt.Sprint("r", i)})); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// Every instance finishes; meanwhile the log is compacted behind it.
	maxOnDisk := uint64(0)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d := st.LastLogIndex - st.FirstLogIndex + 1; d > maxOnDisk {
			maxOnDisk = d
		}
		list, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "tiny", Limit: n}))
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, inst := range list.Msg.Instances {
			if inst.Status == "SUCCEEDED" {
				done++
			}
		}
		if done == n && st.LastSnapshotIndex > 0 && st.LastLogIndex-st.LastSnapshotIndex < threshold {
			t.Logf("log: %d entries written, first on disk %d, last snapshot at %d, at most %d on disk while running",
				st.LastLogIndex, st.FirstLogIndex, st.LastSnapshotIndex, maxOnDisk)
			if st.LastLogIndex < 4*(threshold+trailing) {
				t.Fatalf("only %d entries were written; the test did not exercise compaction", st.LastLogIndex)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d instances done, status %v", done, n, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The check above samples; the bound is a property of Raft's settings:
	// a snapshot is taken once threshold entries pile up, and trailing
	// entries stay. Allow one snapshot interval of new entries on top.
	if limit := uint64(threshold+trailing) * 3; maxOnDisk > limit {
		t.Errorf("up to %d entries on disk, want at most %d", maxOnDisk, limit)
	}
	a.Kill()
	a.Restart(t)
	a.WaitLeader(t, 30*time.Second)
	list, err := in.List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: "tiny", Limit: n}))
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Msg.Instances) != n {
		t.Fatalf("after a restart from the snapshot: %d instances, want %d", len(list.Msg.Instances), n)
	}
}
