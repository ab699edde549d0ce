// Package storage owns the layout of an agent's data directory: the Raft log
// and stable store, Raft snapshots, gossip state and node-local attempt files.
package storage

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

// Dir is an agent's data directory.
//
//	raft/raft.db        log and stable store (bolt)
//	raft/snapshots/     Raft snapshots
//	serf/local.snapshot gossip membership, so a restarted node rejoins
//	attempts/<id>/      one folder per step attempt run here: logs, journal
type Dir struct{ Path string }

// Open creates the layout under path if needed.
func Open(path string) (Dir, error) {
	if path == "" {
		return Dir{}, fmt.Errorf("data dir is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return Dir{}, fmt.Errorf("data dir %s: %w", path, err)
	}
	d := Dir{Path: abs}
	for _, sub := range []string{"raft", "serf", "attempts"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o750); err != nil {
			return Dir{}, fmt.Errorf("create data dir: %w", err)
		}
	}
	return d, nil
}

// RaftDir holds the Raft stores.
func (d Dir) RaftDir() string { return filepath.Join(d.Path, "raft") }

// SerfSnapshot is serf's membership snapshot file.
func (d Dir) SerfSnapshot() string { return filepath.Join(d.Path, "serf", "local.snapshot") }

// AttemptsDir holds one folder per attempt run on this node.
func (d Dir) AttemptsDir() string { return filepath.Join(d.Path, "attempts") }

// logCacheEntries is how many of the newest log entries are kept in memory:
// twice Raft's 64 entries per append. An entry holds at most 2,000 plan
// actions (about 600 KB for cron fires), so the cache stays under ~80 MB.
const logCacheEntries = 128

// RaftStores are the log, stable and snapshot stores of one node.
type RaftStores struct {
	Log       raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	bolt      *raftboltdb.BoltStore
}

// OpenRaftStores opens the bolt log/stable store and the file snapshot store,
// keeping `retain` snapshots.
func (d Dir) OpenRaftStores(retain int, logOutput *os.File) (*RaftStores, error) {
	// Without the freelist written on every commit, each append flushes
	// fewer pages; bolt rebuilds the freelist when it opens the file, which
	// snapshots and trailing_logs keep small.
	bolt, err := raftboltdb.New(raftboltdb.Options{
		Path:        filepath.Join(d.RaftDir(), "raft.db"),
		BoltOptions: &bbolt.Options{NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
	})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", filepath.Join(d.RaftDir(), "raft.db"), err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(d.RaftDir(), "snapshots"), retain, logOutput)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	// The newest entries stay in memory: a leader sends each one to every
	// follower, and reading it back from bolt would decode it again each time.
	cached, err := raft.NewLogCache(logCacheEntries, bolt)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("raft log cache: %w", err)
	}
	return &RaftStores{Log: cached, Stable: bolt, Snapshots: snaps, bolt: bolt}, nil
}

// Close closes the bolt database.
func (s *RaftStores) Close() error { return s.bolt.Close() }

// Incarnation returns the id of this data dir, made at random the first time
// and kept in the dir. A server whose data dir was wiped comes back with the
// same name but a new incarnation, so the cluster can tell that the attempts
// placed on the old one died with it instead of having this server run them
// again as if for the first time.
func (d Dir) Incarnation() (string, error) {
	path := filepath.Join(d.Path, "incarnation")
	data, err := os.ReadFile(path)
	if err == nil && len(strings.TrimSpace(string(data))) > 0 {
		return strings.TrimSpace(string(data)), nil
	}
	if err != nil && !os.IsNotExist(err) {
		return "", fmt.Errorf("read incarnation: %w", err)
	}
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make incarnation: %w", err)
	}
	id := hex.EncodeToString(b[:])
	if err := writeFileSync(path, []byte(id+"\n")); err != nil {
		return "", fmt.Errorf("write incarnation: %w", err)
	}
	return id, nil
}
