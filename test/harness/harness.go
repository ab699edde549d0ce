// Package harness runs real baton agents as child processes for end-to-end,
// cluster and benchmark tests: it builds the binary once, starts agents on
// free loopback ports, and stops every process it started by its own pid.
package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/rpc"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds cmd/baton once per test process and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		// One folder per test binary, reused across runs: go build is
		// incremental, and nothing is left behind per run.
		dir := filepath.Join(os.TempDir(), "baton-test-bin", filepath.Base(os.Args[0]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "baton")
		tmp := binPath + ".new"
		cmd := exec.Command("go", "build", "-o", tmp, "./cmd/baton")
		cmd.Dir = moduleRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/baton: %v\n%s", err, out)
			return
		}
		buildErr = os.Rename(tmp, binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func moduleRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Path returns a path relative to the module root.
func Path(rel string) string { return filepath.Join(moduleRoot(), rel) }

var (
	portsMu sync.Mutex
	// portsGiven are the ports FreePort handed out in this process: the
	// kernel may offer a just-released port again, and two agents of one
	// test must not be given the same one.
	portsGiven = map[int]bool{}
)

// FreePort returns a loopback port that was free a moment ago and that this
// process has not handed out before. It is taken below the kernel's
// ephemeral range: a test restarts an agent on the ports it had, and a port
// from that range may meanwhile have become the source port of some
// process's outgoing connection, so that the agent can no longer listen on
// it ("address already in use").
func FreePort(t testing.TB) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	lo, hi := portsBelowEphemeral()
	for i := 0; i < 1000; i++ {
		port := lo + rand.IntN(hi-lo)
		if portsGiven[port] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			continue // in use
		}
		l.Close()
		portsGiven[port] = true
		return port
	}
	t.Fatalf("free port: no free port found in %d-%d", lo, hi)
	return 0
}

// portsBelowEphemeral is the range FreePort picks from: up to 16,384 ports
// just below the kernel's ephemeral ports (Linux's
// net.ipv4.ip_local_port_range; 32768 when it cannot be read), above 1024.
func portsBelowEphemeral() (lo, hi int) {
	hi = 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil && n > 2048 {
				hi = n
			}
		}
	}
	return max(1025, hi-16384), hi
}

// Agent is one agent process and the addresses it was given.
type Agent struct {
	Name     string
	DataDir  string
	APIAddr  string
	RaftAddr string
	SerfAddr string
	Args     []string // extra flags
	LogPath  string

	bin        string
	startFlags []string
	mu         sync.Mutex
	cmd        *exec.Cmd
	// exited is closed when the current process has been reaped.
	exited chan struct{}
}

// URL is the agent's API base URL.
func (a *Agent) URL() string { return "http://" + a.APIAddr }

// NewAgent prepares an agent with fresh ports and data dir; Start runs it.
func NewAgent(t testing.TB, name string, extra ...string) *Agent {
	t.Helper()
	dir := t.TempDir()
	a := &Agent{
		Name:     name,
		DataDir:  filepath.Join(dir, "data"),
		APIAddr:  "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		RaftAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		SerfAddr: "127.0.0.1:" + strconv.Itoa(FreePort(t)),
		Args:     extra,
		LogPath:  filepath.Join(dir, name+".log"),
		bin:      Binary(t),
	}
	t.Cleanup(func() {
		a.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(a.LogPath); err == nil {
				t.Logf("log of agent %s (last 4 KiB):\n%s", a.Name, tail(b, 4096))
			}
		}
	})
	return a
}

// StartDev starts a single-node dev agent and waits until it leads.
func StartDev(t testing.TB, extra ...string) *Agent {
	t.Helper()
	a := NewAgent(t, "dev", extra...)
	a.Start(t, "-dev")
	a.WaitLeader(t, 30*time.Second)
	return a
}

// Start launches the agent process with its addresses, data dir and flags.
func (a *Agent) Start(t testing.TB, flags ...string) {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd != nil {
		t.Fatalf("agent %s already running", a.Name)
	}
	args := append([]string{"agent", "-node", a.Name, "-data-dir", a.DataDir, "-api-addr", a.APIAddr,
		"-raft-addr", a.RaftAddr, "-serf-addr", a.SerfAddr}, flags...)
	args = append(args, a.Args...)
	logf, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(logf, "=== start %s %s\n", a.bin, strings.Join(args, " "))
	cmd := exec.Command(a.bin, args...)
	// Every round checks the instances it skips as quiet
	// (scheduler.QuietInstances).
	cmd.Env = append(os.Environ(), "BATON_VERIFY_QUIET=1")
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = agentProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start agent %s: %v", a.Name, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	a.cmd, a.exited = cmd, exited
	a.startFlags = flags
}

// Kill sends SIGKILL to the agent's process group and reaps it.
func (a *Agent) Kill() { a.signal(syscall.SIGKILL) }

// Stop sends SIGTERM and waits for a clean exit.
func (a *Agent) Stop() { a.signal(syscall.SIGTERM) }

// Interrupt sends SIGINT (a graceful leave) and waits for the exit.
func (a *Agent) Interrupt() { a.signal(syscall.SIGINT) }

// Pause stops the process (SIGSTOP) without ending it: it keeps its
// sockets open and answers nothing, as a hung server does. Resume
// continues it.
func (a *Agent) Pause() { a.signalRunning(syscall.SIGSTOP) }

// Resume continues a paused process (SIGCONT).
func (a *Agent) Resume() { a.signalRunning(syscall.SIGCONT) }

func (a *Agent) signalRunning(sig syscall.Signal) {
	a.mu.Lock()
	cmd := a.cmd
	a.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

func (a *Agent) signal(sig syscall.Signal) {
	a.mu.Lock()
	cmd, exited := a.cmd, a.exited
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	if sig == syscall.SIGKILL {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	} else {
		_ = cmd.Process.Signal(sig)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
	if sig != syscall.SIGKILL {
		// Step processes the agent started must not outlive the test either.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// Running reports whether the process is alive.
func (a *Agent) Running() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil {
		return false
	}
	select {
	case <-a.exited:
		return false
	default:
		return true
	}
}

// Restart starts the agent again with the same flags, addresses and data.
func (a *Agent) Restart(t testing.TB) {
	t.Helper()
	a.Start(t, a.startFlags...)
}

// PeakRSS reads the agent process's peak resident set size (VmHWM) from
// /proc, in bytes; 0 when it is not running or /proc cannot tell.
func (a *Agent) PeakRSS() int64 {
	a.mu.Lock()
	cmd := a.cmd
	a.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err == nil {
				return kb << 10
			}
		}
	}
	return 0
}

// Status asks the agent for its cluster status.
func (a *Agent) Status(ctx context.Context) (*clusterv1.StatusResponse, error) {
	c := clusterv1connect.NewClusterServiceClient(HTTPClient(), a.URL())
	res, err := c.Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// WaitAPI waits until the agent's API answers, leader or not.
func (a *Agent) WaitAPI(t testing.TB, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := a.Status(ctx)
		cancel()
		if err == nil {
			return
		}
		if !a.Running() {
			t.Fatalf("agent %s exited while waiting for its API", a.Name)
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent %s: API not answering after %s: %v", a.Name, timeout, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// WaitLeader waits until the agent answers and knows a leader.
func (a *Agent) WaitLeader(t testing.TB, timeout time.Duration) *clusterv1.StatusResponse {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		if !a.Running() {
			t.Fatalf("agent %s exited while waiting for a leader", a.Name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		st, err := a.Status(ctx)
		cancel()
		if err == nil && st.LeaderId != "" && st.LeaderApiAddress != "" {
			return st
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent %s: no leader after %s (last error: %v)", a.Name, timeout, last)
	return nil
}

var (
	httpOnce   sync.Once
	httpClient *http.Client
)

// HTTPClient returns an HTTP client that speaks HTTP/1.1 and h2c, as the API does.
func HTTPClient() *http.Client {
	httpOnce.Do(func() {
		httpClient = &http.Client{Transport: &http.Transport{Protocols: rpc.Protocols()}}
	})
	return httpClient
}

// Result is what one CLI run printed and how it exited.
type Result struct {
	Stdout, Stderr string
	Code           int
}

// CLI runs the baton binary against addr.
func CLI(t testing.TB, addr string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, Binary(t), args...)
	cmd.Env = append(os.Environ(), "BATON_ADDR="+addr)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatalf("run baton %s: %v", strings.Join(args, " "), err)
	}
	return Result{Stdout: out.String(), Stderr: errb.String(), Code: code}
}

// MustCLI runs the CLI and fails the test unless it exits 0.
func MustCLI(t testing.TB, addr string, args ...string) string {
	t.Helper()
	r := CLI(t, addr, args...)
	if r.Code != 0 {
		t.Fatalf("baton %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// CLIJSON runs the CLI with -o json and decodes its output into m.
func CLIJSON(t testing.TB, addr string, m proto.Message, args ...string) {
	t.Helper()
	out := MustCLI(t, addr, append(args, "-o", "json")...)
	if err := (protojson.UnmarshalOptions{DiscardUnknown: false}).Unmarshal([]byte(out), m); err != nil {
		t.Fatalf("baton %s -o json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// StartCluster starts n servers that find each other by gossip and form one
// Raft cluster (bootstrap_expect n), and waits until all agree on a leader.
func StartCluster(t testing.TB, n int, extra ...string) []*Agent {
	t.Helper()
	agents := make([]*Agent, n)
	for i := range agents {
		agents[i] = NewAgent(t, fmt.Sprintf("n%d", i+1), extra...)
	}
	for _, a := range agents {
		flags := []string{"-bootstrap-expect", strconv.Itoa(n)}
		for _, b := range agents {
			if b != a {
				flags = append(flags, "-retry-join", b.SerfAddr)
			}
		}
		a.Start(t, flags...)
	}
	WaitAgreement(t, agents, 60*time.Second)
	return agents
}

// WaitAgreement waits until every running agent names the same leader and
// sees the same number of voters as there are running agents; it returns the
// leader.
func WaitAgreement(t testing.TB, agents []*Agent, timeout time.Duration) *Agent {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		leader, agreed, running := "", true, 0
		var leaderAgent *Agent
		for _, a := range agents {
			if !a.Running() {
				continue
			}
			running++
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := a.Status(ctx)
			cancel()
			if err != nil || st.LeaderId == "" {
				agreed, last = false, fmt.Sprintf("%s: no leader (%v)", a.Name, err)
				break
			}
			if leader == "" {
				leader = st.LeaderId
			}
			if st.LeaderId != leader {
				agreed, last = false, fmt.Sprintf("%s names leader %s, others %s", a.Name, st.LeaderId, leader)
				break
			}
			if a.Name == leader {
				leaderAgent = a
			}
		}
		if agreed && leaderAgent != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			st, err := leaderAgent.Status(ctx)
			cancel()
			if err == nil && len(st.Peers) >= running {
				return leaderAgent
			}
			last = fmt.Sprintf("leader %s has %d peers, %d agents run", leader, len(st.GetPeers()), running)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("agents did not agree on a leader within %s: %s", timeout, last)
	return nil
}

// WaitInstancesEnded waits until every listed instance of workflowID has
// ended and returns each one's final view by id. It reads through the agent
// at addr (linearizable reads, so the answer is the cluster's, not one
// replica's) and keeps trying while the cluster has no leader.
func WaitInstancesEnded(t testing.TB, addr, workflowID string, ids []int64, timeout time.Duration) map[int64]*instancev1.GetResponse {
	t.Helper()
	c := instancev1connect.NewInstanceServiceClient(HTTPClient(), addr)
	deadline := time.Now().Add(timeout)
	out := make(map[int64]*instancev1.GetResponse, len(ids))
	var last string
	for {
		for _, id := range ids {
			if out[id] != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := c.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: workflowID, InstanceId: id}))
			cancel()
			if err != nil {
				if code := connect.CodeOf(err); code != connect.CodeUnavailable && code != connect.CodeDeadlineExceeded {
					t.Fatalf("get instance %s/%d through %s: %v", workflowID, id, addr, err)
				}
				last = err.Error()
				break
			}
			if !fsm.InstanceTerminal(res.Msg.Instance.Status) {
				last = fmt.Sprintf("instance %d is %s: %s", id, res.Msg.Instance.Status, DescribeSteps(res.Msg.Steps))
				break
			}
			out[id] = res.Msg
		}
		if len(out) >= len(ids) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d instances of %s ended within %s; still waiting on: %s", len(out), len(ids), workflowID, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// DescribeSteps renders steps and their attempts on one line, for failure
// messages: step:STATUS[attempt@node=STATUS ...].
func DescribeSteps(steps []*statepb.Step) string {
	var b strings.Builder
	for i, st := range steps {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s:%s[", st.StepId, st.Status)
		for j, a := range st.Attempts {
			if j > 0 {
				b.WriteString(" ")
			}
			fmt.Fprintf(&b, "%d@%s=%s", a.AttemptNumber, a.Node, a.Status)
		}
		b.WriteString("]")
	}
	return b.String()
}
