package storage

import (
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
		if _, err := d.Attempt(id).BeginExecution(); err != nil {
			t.Errorf("%q: %v", id, err)
		}
	}
}
