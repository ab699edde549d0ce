// Package storage owns the layout of an agent's data directory: the Raft log
// and stable store, Raft snapshots, gossip state and node-local attempt files.
package storage

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
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
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(d.RaftDir(), "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", filepath.Join(d.RaftDir(), "raft.db"), err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(d.RaftDir(), "snapshots"), retain, logOutput)
	if err != nil {
		_ = bolt.Close()
		return nil, fmt.Errorf("open snapshot store: %w", err)
	}
	return &RaftStores{Log: bolt, Stable: bolt, Snapshots: snaps, bolt: bolt}, nil
}

// Close closes the bolt database.
func (s *RaftStores) Close() error { return s.bolt.Close() }
