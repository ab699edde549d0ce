package scheduler

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/batonhq/baton/storage"
)

// The worker removes the folders of attempts the state no longer has, and
// only those: not one the state has, not one placed by an entry its replica
// has not applied yet, not one of an older build without an owner record,
// not one still running.
func TestWorkerRemovesFoldersOfAttemptsTheStateNoLongerHas(t *testing.T) {
	px := placed(t, `{"id": "a", "type": "NoOp"}`)
	a := px.step("a").Attempts[0]
	applied := px.f.AppliedIndex()
	data, err := storage.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	w := &Worker{Node: "n1", State: px.f, Data: data, Now: func() time.Time { return now }, KeepGoneAttemptsFor: time.Hour,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	w.init()
	folder := func(o storage.AttemptOwner) string {
		d := data.Attempt(o.AttemptID)
		if _, err := d.BeginExecution(o); err != nil {
			t.Fatal(err)
		}
		return filepath.Base(d.Path)
	}
	kept := []string{
		folder(storage.AttemptOwner{AttemptID: a.AttemptId, WorkflowID: "wf", InstanceID: px.inst, StepID: "a", Attempt: 1, Generation: a.Generation}),
		// Placed by an entry this replica has yet to apply.
		folder(storage.AttemptOwner{AttemptID: "wf/77/a/1", WorkflowID: "wf", InstanceID: 77, StepID: "a", Attempt: 1, Generation: applied + 1}),
		// Gone from the state, but still running here.
		folder(storage.AttemptOwner{AttemptID: "wf/78/a/1", WorkflowID: "wf", InstanceID: 78, StepID: "a", Attempt: 1, Generation: 1}),
	}
	w.running["wf/78/a/1"] = func() {}
	legacy := data.Attempt("wf/5/a/1@3")
	if err := os.MkdirAll(legacy.Path, 0o750); err != nil {
		t.Fatal(err)
	}
	kept = append(kept, filepath.Base(legacy.Path))
	// An instance the state does not have (deleted by retention), and the
	// same attempt number under another generation (a restarted loop's
	// iteration replaced it).
	folder(storage.AttemptOwner{AttemptID: "wf/99/a/1", WorkflowID: "wf", InstanceID: 99, StepID: "a", Attempt: 1, Generation: 2})
	folder(storage.AttemptOwner{AttemptID: a.AttemptId + "@old", WorkflowID: "wf", InstanceID: px.inst, StepID: "a", Attempt: 1, Generation: a.Generation - 1})

	// Within the hour after they were last written, all are kept: a backup
	// restored now could bring their attempts back.
	if n := w.removeGoneAttempts(); n != 0 {
		t.Fatalf("removed %d folders within the hour, want none", n)
	}
	now = now.Add(2 * time.Hour)
	if n := w.removeGoneAttempts(); n != 2 {
		t.Errorf("removed %d folders, want 2", n)
	}
	dirs, err := data.AttemptDirs()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range dirs {
		left = append(left, filepath.Base(d.Path))
	}
	slices.Sort(kept)
	if !slices.Equal(left, kept) {
		t.Fatalf("folders left %v, want %v", left, kept)
	}
	// Once it stops running, the gone attempt's folder goes too, and so
	// does a folder whose owner record was missing and now is written.
	delete(w.running, "wf/78/a/1")
	if _, err := legacy.BeginExecution(storage.AttemptOwner{AttemptID: "wf/5/a/1", WorkflowID: "wf", InstanceID: 5, StepID: "a", Attempt: 1, Generation: 3}); err != nil {
		t.Fatal(err)
	}
	if n := w.removeGoneAttempts(); n != 2 {
		t.Errorf("second pass removed %d folders, want 2", n)
	}
}
