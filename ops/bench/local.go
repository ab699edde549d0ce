package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// LocalOptions configures a local cluster.
type LocalOptions struct {
	// Nodes is the number of agents (servers), 1 to MaxLocal.
	Nodes int
	// Binary is the baton executable; the running executable when empty.
	Binary string
	// Flags are added to every agent's command line after the launcher's
	// own (name, data dir, addresses, bootstrap and join).
	Flags []string
	// Root is the directory the cluster's temporary directory is made in;
	// the system's temporary directory when empty.
	Root string
	// Log receives progress lines; nil discards them.
	Log func(format string, args ...any)
}

// Cluster is a set of local agents started by StartLocal. Stop ends them and
// removes their directory.
type Cluster struct {
	// Dir holds one data dir and one log file per agent, and scratch files
	// of the workloads (the failover ledger).
	Dir    string
	Agents []*Agent
}

// Agent is one local agent process.
type Agent struct {
	Name     string
	DataDir  string
	LogPath  string
	APIAddr  string
	RaftAddr string
	SerfAddr string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	client *Client
}

// URL is the agent's API base URL.
func (a *Agent) URL() string { return "http://" + a.APIAddr }

// Client returns API clients for this agent.
func (a *Agent) Client() *Client {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.client == nil {
		a.client = NewClient(a.URL())
	}
	return a.client
}

// StartLocal starts o.Nodes agents that find each other by gossip and form
// one Raft cluster (-bootstrap-expect N), each on free loopback ports with
// its own data dir. It does not wait for a leader; see WaitAgreement. On
// error, whatever was started is stopped again.
func StartLocal(ctx context.Context, o LocalOptions) (*Cluster, error) {
	if o.Nodes < 1 || o.Nodes > MaxLocal {
		return nil, usagef("--local %d: want 1 to %d agents", o.Nodes, MaxLocal)
	}
	bin := o.Binary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find the baton executable to run agents: %w", err)
		}
		bin = exe
	}
	root := o.Root
	if root == "" {
		root = os.TempDir()
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("data root: %w", err)
	}
	dir, err := os.MkdirTemp(root, "baton-bench-")
	if err != nil {
		return nil, fmt.Errorf("temporary dir for the local agents: %w", err)
	}
	c := &Cluster{Dir: dir}
	ports, err := freePorts(3 * o.Nodes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for i := 0; i < o.Nodes; i++ {
		name := fmt.Sprintf("n%d", i+1)
		c.Agents = append(c.Agents, &Agent{
			Name:     name,
			DataDir:  filepath.Join(dir, name),
			LogPath:  filepath.Join(dir, name+".log"),
			APIAddr:  "127.0.0.1:" + strconv.Itoa(ports[3*i]),
			RaftAddr: "127.0.0.1:" + strconv.Itoa(ports[3*i+1]),
			SerfAddr: "127.0.0.1:" + strconv.Itoa(ports[3*i+2]),
		})
	}
	for _, a := range c.Agents {
		args := []string{"agent", "-node", a.Name, "-data-dir", a.DataDir,
			"-api-addr", a.APIAddr, "-raft-addr", a.RaftAddr, "-serf-addr", a.SerfAddr,
			"-bootstrap-expect", strconv.Itoa(o.Nodes), "-log-level", "warn"}
		for _, b := range c.Agents {
			if b != a {
				args = append(args, "-retry-join", b.SerfAddr)
			}
		}
		args = append(args, o.Flags...)
		if err := a.start(bin, args); err != nil {
			c.Stop()
			return nil, err
		}
		if o.Log != nil {
			o.Log("agent %s: api %s, log %s", a.Name, a.URL(), a.LogPath)
		}
	}
	return c, ctx.Err()
}

func (a *Agent) start(bin string, args []string) error {
	logf, err := os.OpenFile(a.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(logf, "=== %s %s\n", bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = agentProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start agent %s (%s): %w", a.Name, bin, err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	a.mu.Lock()
	a.cmd, a.exited = cmd, exited
	a.mu.Unlock()
	return nil
}

// Running reports whether the agent's process is alive.
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

// Pid is the agent's process id, 0 when it is not running.
func (a *Agent) Pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cmd == nil || a.cmd.Process == nil {
		return 0
	}
	return a.cmd.Process.Pid
}

// Kill sends SIGKILL to the agent's process group (its own pid: the agent
// and the step processes it started) and waits until it has been reaped.
func (a *Agent) Kill() {
	a.mu.Lock()
	cmd, exited := a.cmd, a.exited
	a.cmd = nil
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	killGroup(cmd.Process.Pid)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// PeakRSS is the agent's peak resident set size (VmHWM) in bytes, read from
// /proc; 0 when it is not running or the system does not say.
func (a *Agent) PeakRSS() int64 {
	pid := a.Pid()
	if pid == 0 {
		return 0
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
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

// LogTail returns the last n bytes of the agent's log.
func (a *Agent) LogTail(n int) string {
	b, err := os.ReadFile(a.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Stop kills every agent and removes the cluster's directory.
func (c *Cluster) Stop() {
	c.Kill()
	if c.Dir != "" {
		_ = os.RemoveAll(c.Dir)
	}
}

// Kill kills every agent and leaves the directory in place.
func (c *Cluster) Kill() {
	var wg sync.WaitGroup
	for _, a := range c.Agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.Kill()
		}()
	}
	wg.Wait()
}

// Running returns the agents whose processes are alive.
func (c *Cluster) Running() []*Agent {
	var out []*Agent
	for _, a := range c.Agents {
		if a.Running() {
			out = append(out, a)
		}
	}
	return out
}

// WaitAgreement waits until every running agent names the same leader and
// the leader counts at least as many Raft peers as agents run; it returns
// the leader.
func (c *Cluster) WaitAgreement(ctx context.Context, timeout time.Duration) (*Agent, error) {
	deadline := time.Now().Add(timeout)
	last := "no agent answered"
	for {
		leader, why := c.agreedLeader(ctx)
		if leader != nil {
			return leader, nil
		}
		last = why
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("local agents did not agree on a leader within %s: %s%s", timeout, last, c.logTails())
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return nil, err
		}
	}
}

func (c *Cluster) agreedLeader(ctx context.Context) (*Agent, string) {
	running := c.Running()
	if len(running) == 0 {
		return nil, "no agent is running"
	}
	leaderID := ""
	var leader *Agent
	for _, a := range running {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		st, err := a.Client().Status(sctx)
		cancel()
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", a.Name, err)
		}
		if st.LeaderId == "" {
			return nil, a.Name + " knows no leader yet"
		}
		if leaderID == "" {
			leaderID = st.LeaderId
		}
		if st.LeaderId != leaderID {
			return nil, fmt.Sprintf("%s names leader %s, others %s", a.Name, st.LeaderId, leaderID)
		}
		if a.Name == leaderID {
			leader = a
			if len(st.Peers) < len(running) {
				return nil, fmt.Sprintf("leader %s has %d peers, %d agents run", a.Name, len(st.Peers), len(running))
			}
		}
	}
	if leader == nil {
		return nil, fmt.Sprintf("the leader %s is not a running local agent", leaderID)
	}
	return leader, ""
}

func (c *Cluster) logTails() string {
	var b strings.Builder
	for _, a := range c.Agents {
		if t := strings.TrimSpace(a.LogTail(1500)); t != "" {
			fmt.Fprintf(&b, "\n--- log of agent %s (%s), last lines:\n%s", a.Name, a.LogPath, t)
		}
	}
	return b.String()
}

var (
	portsMu    sync.Mutex
	portsGiven = map[int]bool{}
)

// freePorts returns n loopback ports that were free a moment ago and that
// this process has not handed out before (the kernel may offer a
// just-released port again).
func freePorts(n int) ([]int, error) {
	portsMu.Lock()
	defer portsMu.Unlock()
	var out []int
	for tries := 0; len(out) < n; tries++ {
		if tries > 100*n {
			return nil, errors.New("no free loopback ports: the kernel kept offering ports already handed out")
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !portsGiven[port] {
			portsGiven[port] = true
			out = append(out, port)
		}
	}
	return out, nil
}

func killGroup(pid int) {
	// The agent leads its own process group (Setpgid), so the group id is
	// its pid; fall back to the process alone if the group is gone.
	if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
