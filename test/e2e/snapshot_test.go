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

// With small snapshot settings the log is compacted again and again while
// work runs through it, and an agent restarted on the compacted log restores
// its state from the snapshot. The checks do not depend on how fast the
// machine is: load comes in waves, and each wave waits for a new snapshot.
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
	// Starts alone outnumber the threshold in each wave: results and the
	// steps they start share entries, batched, so they may add few.
	const waves, perWave = 4, threshold + 50
	const n = waves * perWave
	snapshots := map[uint64]bool{}
	lastSnapshot := uint64(0)
	for wave := 0; wave < waves; wave++ {
		var wg sync.WaitGroup
		errs := make(chan error, perWave)
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := w; i < perWave; i += 8 {
					id := fmt.Sprint("r", wave*perWave+i)
					if _, err := in.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "tiny", RequestId: id})); err != nil {
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
		// Each wave writes more than threshold entries (one per Start), so Raft must take a
		// new snapshot.
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for st.LastSnapshotIndex == lastSnapshot {
			if ctx.Err() != nil {
				t.Fatalf("wave %d: no new snapshot (last at %d, log at %d)", wave, st.LastSnapshotIndex, st.LastLogIndex)
			}
			time.Sleep(50 * time.Millisecond)
			if st, err = a.Status(ctx); err != nil {
				t.Fatal(err)
			}
		}
		lastSnapshot = st.LastSnapshotIndex
		snapshots[lastSnapshot] = true
	}
	// Every instance finishes, and once Raft has compacted behind its last
	// snapshot only the trailing entries and what came after it remain.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
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
		onDisk := st.LastLogIndex - st.FirstLogIndex + 1
		bound := st.LastLogIndex - st.LastSnapshotIndex + trailing
		if done == n && st.LastSnapshotIndex > 0 && onDisk <= bound {
			t.Logf("log: %d entries written, %d on disk (first %d), %d snapshots seen under load, last at %d",
				st.LastLogIndex, onDisk, st.FirstLogIndex, len(snapshots), st.LastSnapshotIndex)
			if st.FirstLogIndex <= 1 {
				t.Fatalf("the log was never compacted: first index %d", st.FirstLogIndex)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d instances done; %d entries on disk, want at most %d; status %v", done, n, onDisk, bound, st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(snapshots) < waves {
		t.Fatalf("saw %d distinct snapshots under load, want %d", len(snapshots), waves)
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
