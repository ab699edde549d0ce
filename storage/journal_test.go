package storage

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Ids that differ only in characters a file name cannot hold get folders of
// their own, and a long id still makes a valid file name.
func TestAttemptFoldersAreDistinct(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	ids := []string{
		"a/1/x_5_y/1@7", "a_1_x/5/y/1@7", "wf:3:loop/1/s/1@9", "wf_3_loop/1/s/1@9",
		strings.Repeat("w", 128) + "/99/" + strings.Repeat("s", 128) + "/1@123456",
	}
	seen := map[string]string{}
	for _, id := range ids {
		p := d.Attempt(id).Path
		if other, ok := seen[p]; ok {
			t.Errorf("%q and %q share the folder %s", id, other, p)
		}
		seen[p] = id
		if name := filepath.Base(p); len(name) > 255 || filepath.Dir(p) != d.AttemptsDir() {
			t.Errorf("%q: folder %s is not a file name in %s", id, p, d.AttemptsDir())
		}
		if _, err := d.Attempt(id).BeginExecution(AttemptOwner{AttemptID: id}); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
}

// A folder records its owner on the first start and keeps it; it is listed
// and removed with everything in it. A folder without the record (an older
// build's) lists with no owner.
func TestAttemptOwnerListAndRemove(t *testing.T) {
	d := Dir{Path: t.TempDir()}
	if dirs, err := d.AttemptDirs(); err != nil || len(dirs) != 0 {
		t.Fatalf("no attempts dir yet: %v, %v", dirs, err)
	}
	first := AttemptOwner{AttemptID: "wf/1/s/1", WorkflowID: "wf", InstanceID: 1, StepID: "s", Attempt: 1, Generation: 40}
	a := d.Attempt(first.AttemptID + "@40")
	for i, owner := range []AttemptOwner{first, {AttemptID: "other"}} {
		if n, err := a.BeginExecution(owner); err != nil || n != int32(i+1) {
			t.Fatalf("execution %d: %d, %v", i+1, n, err)
		}
	}
	if err := os.WriteFile(filepath.Join(a.Path, "stdout"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := a.Owner(); err != nil || !ok || got != first {
		t.Fatalf("owner %+v, %v, %v; want %+v as first recorded", got, ok, err, first)
	}
	legacy := d.Attempt("old/1/s/1@3")
	if err := os.MkdirAll(legacy.Path, 0o750); err != nil {
		t.Fatal(err)
	}
	dirs, err := d.AttemptDirs()
	if err != nil || len(dirs) != 2 {
		t.Fatalf("attempt dirs %v, %v; want 2", dirs, err)
	}
	if _, ok, err := legacy.Owner(); ok || err != nil {
		t.Fatalf("a folder without an owner record: ok %v, %v", ok, err)
	}
	if err := a.Remove(); err != nil {
		t.Fatal(err)
	}
	if dirs, _ := d.AttemptDirs(); len(dirs) != 1 || dirs[0] != legacy {
		t.Fatalf("after removing one: %v, want only %v", dirs, legacy)
	}
}
