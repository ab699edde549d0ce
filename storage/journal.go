package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// AttemptDir is the node-local folder of one attempt. It records how often the
// node started the attempt and, once it finished, its result, so that an agent
// restarted after a crash re-reports a finished attempt instead of running it
// again, and counts a re-execution when one is unavoidable.
type AttemptDir struct{ Path string }

// maxReadableName is how much of an attempt id its folder's name keeps.
const maxReadableName = 200

// Attempt returns the folder for an attempt id. The id is made safe for a
// file name by replacing characters, which alone would give ids such as
// "a/1/x_2/1" and "a_1_x/2/1" one folder, and one attempt the other's
// result; a hash of the whole id keeps every id's folder its own.
func (d Dir) Attempt(attemptID string) AttemptDir {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '_'
	}, attemptID)
	// File names stop at 255 bytes; the hash is what tells ids apart.
	if len(safe) > maxReadableName {
		safe = safe[:maxReadableName]
	}
	sum := sha256.Sum256([]byte(attemptID))
	return AttemptDir{Path: filepath.Join(d.AttemptsDir(), safe+"-"+hex.EncodeToString(sum[:8]))}
}

// LogDir is where the attempt's stdout and stderr files go.
func (a AttemptDir) LogDir() string { return filepath.Join(a.Path, "logs") }

// AttemptOwner says which attempt a folder belongs to, so that a node can
// tell, from the replicated state alone, when the folder is no longer
// needed: the folder's name is a lossy form of the id.
type AttemptOwner struct {
	AttemptID  string `json:"attempt_id"`
	WorkflowID string `json:"workflow_id"`
	InstanceID int64  `json:"instance_id"`
	StepID     string `json:"step_id"`
	Attempt    int64  `json:"attempt"`
	Generation uint64 `json:"generation"`
}

// ownerFile names a folder's AttemptOwner.
const ownerFile = "owner.json"

// BeginExecution records one more start of the attempt and returns the count;
// the first start also records whose folder it is.
func (a AttemptDir) BeginExecution(owner AttemptOwner) (int32, error) {
	if err := os.MkdirAll(a.Path, 0o750); err != nil {
		return 0, fmt.Errorf("attempt dir: %w", err)
	}
	if _, err := os.Stat(filepath.Join(a.Path, ownerFile)); errors.Is(err, os.ErrNotExist) {
		b, err := json.Marshal(owner)
		if err != nil {
			return 0, fmt.Errorf("encode attempt owner: %w", err)
		}
		if err := writeFileSync(filepath.Join(a.Path, ownerFile), b); err != nil {
			return 0, fmt.Errorf("record attempt owner: %w", err)
		}
	}
	p := filepath.Join(a.Path, "executions")
	n := 0
	if b, err := os.ReadFile(p); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	if err := writeFileSync(p, []byte(strconv.Itoa(n))); err != nil {
		return 0, fmt.Errorf("record attempt start: %w", err)
	}
	return int32(n), nil
}

// Owner reads whose folder this is; ok is false for a folder without the
// record (written by an older build, or cut short by a crash).
func (a AttemptDir) Owner() (AttemptOwner, bool, error) {
	var o AttemptOwner
	b, err := os.ReadFile(filepath.Join(a.Path, ownerFile))
	if errors.Is(err, os.ErrNotExist) {
		return o, false, nil
	}
	if err != nil {
		return o, false, fmt.Errorf("read attempt owner: %w", err)
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return o, false, fmt.Errorf("decode attempt owner %s: %w", a.Path, err)
	}
	return o, true, nil
}

// Modified is when an entry of the folder was last added or replaced: when
// the attempt last started, or recorded its result.
func (a AttemptDir) Modified() (time.Time, error) {
	fi, err := os.Stat(a.Path)
	if err != nil {
		return time.Time{}, fmt.Errorf("attempt dir: %w", err)
	}
	return fi.ModTime(), nil
}

// Remove deletes the folder with everything in it.
func (a AttemptDir) Remove() error {
	if err := os.RemoveAll(a.Path); err != nil {
		return fmt.Errorf("remove attempt dir: %w", err)
	}
	return nil
}

// AttemptDirs lists the attempt folders on this node, in name order.
func (d Dir) AttemptDirs() ([]AttemptDir, error) {
	entries, err := os.ReadDir(d.AttemptsDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list attempt dirs: %w", err)
	}
	var out []AttemptDir
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, AttemptDir{Path: filepath.Join(d.AttemptsDir(), e.Name())})
		}
	}
	return out, nil
}

// SaveResult durably stores a finished attempt's result.
func (a AttemptDir) SaveResult(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode attempt result: %w", err)
	}
	if err := writeFileSync(filepath.Join(a.Path, "result.json"), b); err != nil {
		return fmt.Errorf("save attempt result: %w", err)
	}
	return nil
}

// LoadResult reads a stored result into v; ok is false when there is none.
func (a AttemptDir) LoadResult(v any) (bool, error) {
	b, err := os.ReadFile(filepath.Join(a.Path, "result.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read attempt result: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("decode attempt result %s: %w", a.Path, err)
	}
	return true, nil
}

// writeFileSync writes through a temporary file and renames it into place, so
// a crash leaves either the old or the new content.
func writeFileSync(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o640)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
