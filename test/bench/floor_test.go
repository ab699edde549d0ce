package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/cluster"
	opsbench "github.com/batonhq/baton/ops/bench"
	"github.com/batonhq/baton/rpc"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/storage"
)

// BenchmarkStartFloor measures what the parts the design fixes cost for a
// start before Baton does anything: a Connect call to the leader's API over
// cleartext HTTP/2, one Raft entry holding the request, written to bolt with
// fsync on three servers that talk over loopback TCP, and the answer. The
// state machine only counts entries, and each start is one entry (Baton's
// start takes three: the start, the placement, the result with the end).
// via=raft leaves the API out: the clients call raft.Apply on the leader.
// The servers, the API and the closed-loop clients share this process, so
// cpu_ms_per_start is everything's CPU, clients included; compare it with
// agents_cpu_ms_per_start plus bench_cpu_s / starts of `baton bench starts
// --clients 64 --local 3`. On 2 vCPUs, 10,000 starts/s leaves 0.2 ms of CPU
// per start for all of it.
func BenchmarkStartFloor(b *testing.B) {
	for _, clients := range []int{64, 256} {
		b.Run(fmt.Sprintf("via=api/clients=%d", clients), func(b *testing.B) { startFloorRuns(b, clients, true) })
	}
	b.Run("via=raft/clients=64", func(b *testing.B) { startFloorRuns(b, 64, false) })
}

func startFloorRuns(b *testing.B, clients int, api bool) {
	const window = 5 * time.Second
	var runs []floorRun
	for i := 0; i < b.N; i++ {
		runs = append(runs, startFloor(b, clients, api, window))
	}
	figure := func(name string, f func(floorRun) float64) {
		vals := make([]float64, len(runs))
		for i, r := range runs {
			vals[i] = f(r)
		}
		b.ReportMetric(median(vals), name)
	}
	figure("starts_per_s", func(r floorRun) float64 { return float64(r.starts) / r.elapsed.Seconds() })
	figure("cpu_ms_per_start", func(r floorRun) float64 { return r.cpu.Seconds() * 1000 / float64(r.starts) })
	figure("cpus_busy", func(r floorRun) float64 { return r.cpu.Seconds() / r.elapsed.Seconds() })
	figure("ack_ms_p50", func(r floorRun) float64 { return msOf(r.p50) })
	figure("ack_ms_p99", func(r floorRun) float64 { return msOf(r.p99) })
	b.ReportMetric(0, "ns/op")
}

func msOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

type floorRun struct {
	starts   int
	elapsed  time.Duration
	cpu      time.Duration
	p50, p99 time.Duration
	mean     time.Duration
}

// startFloor runs one window of closed-loop starts on a fresh floor
// cluster, through the API or straight into Raft, and stops the cluster.
func startFloor(b *testing.B, clients int, api bool, window time.Duration) floorRun {
	b.Helper()
	nodes := newFloorCluster(b, 3)
	defer nodes.stop()
	leader := nodes.waitLeader(b)
	start := func(ctx context.Context, k int64) error {
		return leader.raft.Apply([]byte(fmt.Sprintf("floor-start-%d", k)), 10*time.Second).Error()
	}
	if api {
		client := opsbench.NewClient(leader.serveAPI(b))
		start = func(ctx context.Context, k int64) error {
			_, err := client.Instances.Start(ctx, connect.NewRequest(&instancev1.StartRequest{
				WorkflowId: "floor", RequestId: fmt.Sprintf("floor-start-%d", k),
			}))
			return err
		}
	}
	ctx := context.Background()
	// One call first, so that connections are open before the window.
	if err := start(ctx, 0); err != nil {
		b.Fatalf("first start: %v", err)
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		next atomic.Int64
		wg   sync.WaitGroup
	)
	cpu0 := processCPU(b)
	t0 := time.Now()
	deadline := t0.Add(window)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				sent := time.Now()
				if err := start(ctx, next.Add(1)); err != nil {
					b.Errorf("start: %v", err)
					return
				}
				mine = append(mine, time.Since(sent))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(t0)
	cpu := processCPU(b) - cpu0
	if len(lat) == 0 {
		b.Fatal("no start was acknowledged")
	}
	if got := leader.fsm.entries.Load(); got < int64(len(lat)) {
		b.Fatalf("the leader applied %d entries for %d acknowledged starts", got, len(lat))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	return floorRun{
		starts: len(lat), elapsed: elapsed, cpu: cpu,
		p50: lat[(len(lat)-1)/2], p99: lat[(len(lat)-1)*99/100],
		mean: sum / time.Duration(len(lat)),
	}
}

// BenchmarkCommitFloor measures the least a step of a chain can cost on the
// parts the design fixes: one writer commits entries one after another on
// three servers that write them to bolt with fsync on and talk over
// loopback TCP. A chain's step is at least one such commit (the previous
// step's result with this step's placement); Baton's per_step_ms_p50 is
// this plus the work around it. via=api makes each commit a Connect call
// to the leader's API, as a result sent from another node is, so the
// difference between the two is one call's cost. fsync_ms_p50 is a 4 KiB
// write and fsync in the same temporary dir, measured before each run.
func BenchmarkCommitFloor(b *testing.B) {
	for _, api := range []bool{false, true} {
		via := map[bool]string{false: "raft", true: "api"}[api]
		b.Run("via="+via, func(b *testing.B) {
			var p50s, p99s, means, syncs []float64
			for i := 0; i < b.N; i++ {
				sync50, _, err := opsbench.FsyncLatency(b.TempDir(), 200)
				if err != nil {
					b.Fatal(err)
				}
				r := startFloor(b, 1, api, 3*time.Second)
				p50s = append(p50s, msOf(r.p50))
				p99s = append(p99s, msOf(r.p99))
				means = append(means, msOf(r.mean))
				syncs = append(syncs, msOf(sync50))
			}
			b.ReportMetric(median(p50s), "commit_ms_p50")
			b.ReportMetric(median(p99s), "commit_ms_p99")
			// The mean compares with baton bench's raft_commit_ms_mean,
			// which the agents' metrics can give only as a mean.
			b.ReportMetric(median(means), "commit_ms_mean")
			b.ReportMetric(median(syncs), "fsync_ms_p50")
			b.ReportMetric(0, "ns/op")
		})
	}
}

func median(vals []float64) float64 {
	sort.Float64s(vals)
	return vals[(len(vals)-1)/2]
}

// processCPU is the user and system CPU this process has used.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingFSM applies an entry by counting it.
type countingFSM struct{ entries atomic.Int64 }

func (f *countingFSM) Apply(*raft.Log) any { f.entries.Add(1); return nil }

func (f *countingFSM) ApplyBatch(logs []*raft.Log) []any {
	f.entries.Add(int64(len(logs)))
	return make([]any, len(logs))
}

func (f *countingFSM) Snapshot() (raft.FSMSnapshot, error) { return emptySnapshot{}, nil }
func (f *countingFSM) Restore(rc io.ReadCloser) error      { return rc.Close() }

type emptySnapshot struct{}

func (emptySnapshot) Persist(sink raft.SnapshotSink) error { return sink.Close() }
func (emptySnapshot) Release()                             {}

type floorNode struct {
	raft     *raft.Raft
	fsm      *countingFSM
	stores   *storage.RaftStores
	trans    *raft.NetworkTransport
	stopOnce sync.Once
}

func (n *floorNode) stop() {
	n.stopOnce.Do(func() {
		_ = n.raft.Shutdown().Error()
		_ = n.trans.Close()
		_ = n.stores.Close()
	})
}

type floorCluster []*floorNode

// newFloorCluster starts n Raft servers on loopback with the agent's log
// store (storage.OpenRaftStores), its timers and its apply batching; stop
// stops them, and so does the benchmark's end.
func newFloorCluster(b *testing.B, n int) floorCluster {
	b.Helper()
	var nodes floorCluster
	var servers []raft.Server
	for i := 0; i < n; i++ {
		dir, err := storage.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		stores, err := dir.OpenRaftStores(1, os.Stderr)
		if err != nil {
			b.Fatal(err)
		}
		trans, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, 3*time.Second, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		cfg := raft.DefaultConfig()
		cfg.LocalID = raft.ServerID(fmt.Sprintf("f%d", i+1))
		cfg.HeartbeatTimeout = cluster.DefaultHeartbeatTimeout
		cfg.ElectionTimeout = cluster.DefaultElectionTimeout
		cfg.LeaderLeaseTimeout = cluster.DefaultLeaderLeaseTimeout
		cfg.BatchApplyCh = true
		cfg.LogOutput = io.Discard
		f := &countingFSM{}
		r, err := raft.NewRaft(cfg, f, stores.Log, stores.Stable, stores.Snapshots, trans)
		if err != nil {
			b.Fatal(err)
		}
		node := &floorNode{raft: r, fsm: f, stores: stores, trans: trans}
		b.Cleanup(node.stop)
		nodes = append(nodes, node)
		servers = append(servers, raft.Server{ID: cfg.LocalID, Address: trans.LocalAddr()})
	}
	if err := nodes[0].raft.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil {
		b.Fatalf("bootstrap: %v", err)
	}
	return nodes
}

func (c floorCluster) stop() {
	for _, n := range c {
		n.stop()
	}
}

func (c floorCluster) waitLeader(b *testing.B) *floorNode {
	b.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, n := range c {
			if n.raft.State() == raft.Leader {
				return n
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.Fatal("no leader within 30 s")
	return nil
}

// floorStarts answers InstanceService.Start by committing the request.
type floorStarts struct {
	instancev1connect.UnimplementedInstanceServiceHandler
	node *floorNode
}

func (s floorStarts) Start(_ context.Context, req *connect.Request[instancev1.StartRequest]) (*connect.Response[instancev1.StartResponse], error) {
	data, err := proto.Marshal(req.Msg)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, err)
	}
	f := s.node.raft.Apply(data, 10*time.Second)
	if err := f.Error(); err != nil {
		return nil, connect.NewError(connect.CodeUnavailable, err)
	}
	return connect.NewResponse(&instancev1.StartResponse{Created: true}), nil
}

// serveAPI serves floorStarts on a loopback port as the agent serves its
// API (its protocols and handler options) and returns its URL.
func (n *floorNode) serveAPI(b *testing.B) string {
	b.Helper()
	mux := http.NewServeMux()
	mux.Handle(instancev1connect.NewInstanceServiceHandler(floorStarts{node: n}, rpc.HandlerOptions()...))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: mux, Protocols: rpc.Protocols(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.Errorf("serve: %v", err)
		}
	}()
	b.Cleanup(func() { _ = srv.Close() })
	return "http://" + ln.Addr().String()
}
