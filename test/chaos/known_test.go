package chaos

import "os"

// knownBug is an engine defect this suite found and reported. A violation
// that only such a bug explains is shown in the summary as known, with its
// evidence, instead of failing the run; with BATON_CHAOS_STRICT=1 it fails
// like any other. Each has a regression test below that fails while the bug
// is there (it runs in strict mode only). Delete the entry with the fix.
type knownBug struct {
	id      string
	summary string
}

var (
	// Seen in the process and docker scenarios with wipe-restart: the node
	// comes back with an empty data dir, replays the state in which the
	// attempts are still RUNNING on it, and runs them again as if for the
	// first time: the ledger has two executions of one placement, and the
	// result says executions=1.
	bugWipeReexecution = knownBug{
		id: "wipe-reexecution",
		summary: "a server restarted with a wiped data dir runs the attempts that were running on it again, " +
			"and reports executions=1: the re-execution is silent (scheduler/worker.go trusts the journal it no longer has)",
	}
	// Seen in the linearizability check after leader changes: a Push that
	// stored a new version was answered created=false, as if the definition
	// had already been the latest. The write was applied once, its outcome
	// was lost (leadership lost after the entry was appended, or the
	// forwarded call failed after reaching the leader), and the server sent
	// it again by itself: rpc/server.go onLeader retries on Unavailable and
	// ErrNotLeader, which cluster.Node.Apply also returns for
	// raft.ErrLeadershipLost, after which the entry may still commit.
	bugServerRetriesAmbiguousWrite = knownBug{
		id: "server-retries-ambiguous-write",
		summary: "a write whose commit was ambiguous is sent again by the server itself; Push then answers created=false " +
			"for the version it created (and could store one definition twice)",
	}
)

func strict() bool { return os.Getenv("BATON_CHAOS_STRICT") == "1" }
