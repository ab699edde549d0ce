package chaos

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

var (
	seedFlag    = flag.Uint64("chaos.seed", 0, "seed of the randomized scenarios (0: a new random seed, printed)")
	longFlag    = flag.Bool("chaos.long", false, "run the long pass (also BATON_CHAOS_LONG=1)")
	backendFlag = flag.String("chaos.backend", "docker", "backend of the long pass: docker or process")
	nodes       = flag.Int("chaos.nodes", 3, "servers in the long pass")
	kills       = flag.Int("chaos.kills", 100, "leader kills in the long pass")
	parts       = flag.Int("chaos.partitions", 20, "partitions in the long pass")
	pauses      = flag.Int("chaos.pauses", 20, "zombie-leader pauses in the long pass")
)

func longPass() bool { return *longFlag || os.Getenv("BATON_CHAOS_LONG") == "1" }

// randomSeed is the seed of this process's randomized scenario.
var randomSeed uint64

func TestMain(m *testing.M) {
	flag.Parse()
	randomSeed = *seedFlag
	if randomSeed == 0 {
		randomSeed = rand.Uint64() % 1_000_000
	}
	code := m.Run()
	printReport()
	removeImages()
	os.Exit(code)
}

// standardLoad is the mixed workload of every scenario: ledger DAGs,
// foreach and subworkflow instances, a cron trigger, steps waiting for and
// sending signals, a signal trigger on a name retention prunes, instances
// stopped and restarted, steps paused, resumed and skipped, steps stopped,
// killed, restarted and bypassed, Http steps, a workflow's triggers,
// active version and breakpoint switched and switched back, a workflow
// deleted and pushed again round after round, workflow
// registers read and written for the linearizability check, and hostile
// requests.
func standardLoad() []workload {
	return []workload{newDAGWorkload(2, 700*time.Millisecond), newChildWorkload(1, 1500*time.Millisecond), &cronWorkload{},
		newSignalWorkload(2, 2*time.Second), newSigTriggerWorkload(), newStopWorkload(2 * time.Second), newActionsWorkload(2 * time.Second),
		newStepOpsWorkload(2 * time.Second), newHTTPWorkload(1, time.Second), newWfActionsWorkload(1500 * time.Millisecond), newDeleteWorkload(2 * time.Second),
		newLinWorkload(3, 3), newHostileWorkload()}
}

// scenario runs load on c and injects the named faults in order.
func scenario(t *testing.T, name string, seed uint64, c *cluster, faults []string, load ...workload) {
	r := newRun(t, name, seed, c, load...)
	r.setup()
	r.startLoad()
	r.waitAcks(10, 2*time.Minute, "before the first fault")
	for _, f := range faults {
		r.inject(f)
	}
	r.finish()
}

// The process backend: three local agents, the faults that need no network
// control (SIGKILL of the leader, a follower and a majority; a zombie
// leader; a restart from a wiped data dir). It runs without Docker.
func TestProcessKillPauseWipe(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newProcessBackend(t), 3)
	scenario(t, "process-kill-pause-wipe", 1, c,
		[]string{"kill-leader", "pause-leader", "kill-follower", "wipe-restart", "kill-majority"}, standardLoad()...)
}

// Three containers, each partition kind, and a network interface taken
// away, with a leader kill between them.
func TestDockerPartitions(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newDockerBackend(t, "parts"), 3)
	scenario(t, "docker-partitions", 2, c,
		[]string{"isolate-leader", "split-halves", "kill-leader", "bridge", "disconnect-node"}, standardLoad()...)
}

// Five containers: membership changes under load, then faults of every
// kind picked at random with this process's seed.
func TestDockerFiveMembershipAndRandom(t *testing.T) {
	if longPass() {
		t.Skip("the long pass runs TestLongPass only")
	}
	c := newCluster(t, newDockerBackend(t, "five"), 5)
	kinds := []string{"kill-leader", "kill-follower", "kill-majority", "pause-leader", "wipe-restart",
		"isolate-leader", "split-halves", "bridge", "disconnect-node"}
	rng := rand.New(rand.NewPCG(randomSeed, 1))
	faults := []string{"remove-readd", "add-remove"}
	for i := 0; i < 4; i++ {
		faults = append(faults, kinds[rng.IntN(len(kinds))])
	}
	t.Logf("random faults for seed %d: %v", randomSeed, faults)
	scenario(t, "docker-five-random", randomSeed, c, faults, standardLoad()...)
}

// TestLongPass is the acceptance run: by default 100 leader kills, 20
// partitions and 20 zombie-leader pauses, shuffled by the seed, under a
// continuous workload, on three containers.
//
//	make chaos-long
//	go test -count=1 -v -timeout=0 ./test/chaos -run TestLongPass -chaos.long [-chaos.seed=N] [-chaos.backend=process]
func TestLongPass(t *testing.T) {
	if !longPass() {
		t.Skip("the long pass runs with -chaos.long or BATON_CHAOS_LONG=1 (make chaos-long)")
	}
	var b backend
	switch *backendFlag {
	case "docker":
		b = newDockerBackend(t, "long")
	case "process":
		b = newProcessBackend(t)
	default:
		t.Fatalf("-chaos.backend=%s: want docker or process", *backendFlag)
	}
	c := newCluster(t, b, *nodes)
	var faults []string
	for i := 0; i < *kills; i++ {
		faults = append(faults, "kill-leader")
	}
	partitionKinds := []string{"isolate-leader", "split-halves", "bridge"}
	for i := 0; i < *parts; i++ {
		faults = append(faults, partitionKinds[i%len(partitionKinds)])
	}
	for i := 0; i < *pauses; i++ {
		faults = append(faults, "pause-leader")
	}
	rng := rand.New(rand.NewPCG(randomSeed, 2))
	rng.Shuffle(len(faults), func(i, j int) { faults[i], faults[j] = faults[j], faults[i] })
	t.Logf("long pass: %d faults, seed %d", len(faults), randomSeed)
	scenario(t, fmt.Sprintf("long-%s", *backendFlag), randomSeed, c, faults, standardLoad()...)
}
