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

// BeginExecution records one more start of the attempt and returns the count.
func (a AttemptDir) BeginExecution() (int32, error) {
	if err := os.MkdirAll(a.Path, 0o750); err != nil {
		return 0, fmt.Errorf("attempt dir: %w", err)
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
