package chaos

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	operatorv1 "github.com/batonhq/baton/rpc/gen/baton/operator/v1"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
	"github.com/batonhq/baton/test/harness"
)

// nodeState is what the suite has done to a server, which is what it expects
// of it: a paused or cut-off server still runs but must not be waited on.
type nodeState int

const (
	stateUp nodeState = iota
	stateDown
	statePaused
	stateLeft
)

func (s nodeState) String() string {
	return [...]string{"up", "down", "paused", "left"}[s]
}

// node is one server of a cluster under test, whichever backend runs it.
type node struct {
	name string
	url  string // the API as the test reaches it
	ip   string // the address the servers know it by (docker only)

	state nodeState
	// cut is set while a partition separates this server from the majority.
	cut bool
	// wiped lists when its data dir was wiped; a wiped server lost the
	// journal that makes a re-execution visible.
	wiped []time.Time

	agent *harness.Agent // process backend

	container string // docker backend
	volume    string
	ledgerDir string
}

// backend runs servers: local processes or containers. Faults a backend
// cannot inject return errUnsupported.
type backend interface {
	kind() string
	// start runs a server for the first time or again after kill, wipe or
	// leave. join lists the gossip addresses of servers to join.
	start(n *node, expect int, join []*node) error
	kill(n *node) error
	// stop, cont and interrupt send SIGSTOP, SIGCONT and SIGINT to the agent.
	stop(n *node) error
	cont(n *node) error
	interrupt(n *node) error
	// wipe deletes a stopped server's data dir.
	wipe(n *node) error
	// newNode prepares a server that is not started yet.
	newNode(name string) (*node, error)
	// serfAddr is the gossip address other servers join a node by.
	serfAddr(n *node) string
	// partition drops all traffic between each pair; heal removes every cut.
	partition(pairs [][2]*node) error
	heal() error
	// disconnect takes a server's network interface away; reconnect gives
	// it back with the same address.
	disconnect(n *node) error
	reconnect(n *node) error
	// partitionSupport says why partitions cannot be injected, or "".
	partitionSupport() string
	// ledgers returns every ledger file's content by file name.
	ledgers() (map[string][]byte, error)
	// stepParams are the run params that tell the chaos steps where their
	// program and ledger directory are, as the servers see them.
	stepParams() map[string]string
	// serverLogs returns each server's whole log (every run of it that
	// kept its data dir), by container or agent name.
	serverLogs() (map[string]string, error)
}

var errUnsupported = errors.New("not supported by this backend")

// saveLogs writes each server's whole log to a file that outlives the
// failed test, and shows its end.
func saveLogs(t *testing.T, b backend) {
	all, err := b.serverLogs()
	if err != nil {
		t.Logf("server logs: %v", err)
	}
	for _, name := range sortedKeys(all) {
		file := name
		if !strings.HasPrefix(file, "baton-chaos-") {
			file = "baton-chaos-" + file
		}
		if f, err := os.CreateTemp("", file+"-*.log"); err == nil {
			_, _ = f.WriteString(all[name])
			_ = f.Close()
			t.Logf("log of %s: %s", name, f.Name())
		}
		lines := strings.Split(strings.TrimRight(all[name], "\n"), "\n")
		if len(lines) > 30 {
			lines = lines[len(lines)-30:]
		}
		t.Logf("last lines of %s:\n%s", name, strings.Join(lines, "\n"))
	}
}

// cluster is a backend's servers plus what the suite knows of them.
type cluster struct {
	t  *testing.T
	b  backend
	mu sync.Mutex
	// nodes holds every server ever started, in the order added.
	nodes []*node
	// voters names the servers that should be in the Raft configuration.
	voters map[string]bool
}

func newCluster(t *testing.T, b backend, n int) *cluster {
	c := &cluster{t: t, b: b, voters: map[string]bool{}}
	for i := 1; i <= n; i++ {
		nd, err := b.newNode(fmt.Sprintf("n%d", i))
		if err != nil {
			t.Fatalf("prepare server n%d: %v", i, err)
		}
		c.nodes = append(c.nodes, nd)
		c.voters[nd.name] = true
	}
	for _, nd := range c.nodes {
		if err := b.start(nd, n, c.others(nd)); err != nil {
			t.Fatalf("start %s: %v", nd.name, err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() {
			saveLogs(t, b)
		}
	})
	if _, err := c.waitAgreement(120 * time.Second); err != nil {
		t.Fatalf("the %d servers did not form a cluster: %v", n, err)
	}
	return c
}

func (c *cluster) others(n *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != n {
			out = append(out, o)
		}
	}
	return out
}

// all returns every server in the order added.
func (c *cluster) all() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.nodes)
}

// members returns the servers that should be Raft voters.
func (c *cluster) members() []*node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*node
	for _, n := range c.nodes {
		if c.voters[n.name] {
			out = append(out, n)
		}
	}
	return out
}

// live returns the members that run and can be reached: not down, paused
// or cut off.
func (c *cluster) live() []*node {
	var out []*node
	for _, n := range c.members() {
		c.mu.Lock()
		ok := n.state == stateUp && !n.cut
		c.mu.Unlock()
		if ok {
			out = append(out, n)
		}
	}
	return out
}

func (c *cluster) setState(n *node, s nodeState) {
	c.mu.Lock()
	n.state = s
	c.mu.Unlock()
}

func (c *cluster) stateOf(n *node) nodeState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return n.state
}

func (c *cluster) byName(name string) *node {
	for _, n := range c.all() {
		if n.name == name {
			return n
		}
	}
	return nil
}

func (c *cluster) clusterClient(n *node) clusterv1connect.ClusterServiceClient {
	return clusterv1connect.NewClusterServiceClient(harness.HTTPClient(), n.url)
}

func (c *cluster) instanceClient(n *node) instancev1connect.InstanceServiceClient {
	return instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), n.url)
}

func (c *cluster) workflowClient(n *node) workflowv1connect.WorkflowServiceClient {
	return workflowv1connect.NewWorkflowServiceClient(harness.HTTPClient(), n.url)
}

func (c *cluster) operatorClient(n *node) operatorv1connect.OperatorServiceClient {
	return operatorv1connect.NewOperatorServiceClient(harness.HTTPClient(), n.url)
}

func (c *cluster) status(n *node, timeout time.Duration) (*clusterv1.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	res, err := c.clusterClient(n).Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func (c *cluster) stateHash(n *node) (*operatorv1.StateHashResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.operatorClient(n).StateHash(ctx, connect.NewRequest(&operatorv1.StateHashRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// agreement reports the leader when every live member names the same
// leader, that leader is live, and its configuration holds exactly the
// expected voters.
func (c *cluster) agreement() (*node, string) {
	live := c.live()
	if len(live) == 0 {
		return nil, "no live server"
	}
	leaderID := ""
	for _, n := range live {
		st, err := c.status(n, 2*time.Second)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", n.name, err)
		}
		if st.LeaderId == "" {
			return nil, n.name + " knows no leader"
		}
		if leaderID == "" {
			leaderID = st.LeaderId
		} else if st.LeaderId != leaderID {
			return nil, fmt.Sprintf("%s names %s, another server %s", n.name, st.LeaderId, leaderID)
		}
	}
	var leader *node
	for _, n := range live {
		if n.name == leaderID {
			leader = n
		}
	}
	if leader == nil {
		return nil, fmt.Sprintf("leader %s is not a live member", leaderID)
	}
	st, err := c.status(leader, 2*time.Second)
	if err != nil {
		return nil, fmt.Sprintf("leader %s: %v", leader.name, err)
	}
	want := map[string]bool{}
	for _, m := range c.members() {
		want[m.name] = true
	}
	var voters []string
	for _, p := range st.Peers {
		if p.Voter {
			voters = append(voters, p.Id)
		}
	}
	slices.Sort(voters)
	if len(voters) != len(want) {
		return nil, fmt.Sprintf("leader %s has voters %v, want %d", leader.name, voters, len(want))
	}
	for _, v := range voters {
		if !want[v] {
			return nil, fmt.Sprintf("leader %s has voters %v, including %s which should not be one", leader.name, voters, v)
		}
	}
	return leader, ""
}

// waitAgreement polls agreement until it holds or timeout passes.
func (c *cluster) waitAgreement(timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	why := "not checked yet"
	for {
		l, w := c.agreement()
		if l != nil {
			return l, nil
		}
		why = w
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no agreement within %s: %s", timeout, why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitNewLeader waits until the servers in among agree on a leader other
// than old, and returns it.
func (c *cluster) waitNewLeader(among []*node, old *node, timeout time.Duration) (*node, error) {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		leader, agreed := "", true
		for _, n := range among {
			st, err := c.status(n, 2*time.Second)
			if err != nil || st.LeaderId == "" {
				agreed, last = false, fmt.Sprintf("%s: no leader (%v)", n.name, err)
				break
			}
			if leader == "" {
				leader = st.LeaderId
			} else if leader != st.LeaderId {
				agreed, last = false, fmt.Sprintf("%s names %s, another %s", n.name, st.LeaderId, leader)
				break
			}
		}
		if agreed && leader != "" && (old == nil || leader != old.name) {
			for _, n := range among {
				if n.name == leader {
					return n, nil
				}
			}
			last = "they name " + leader + ", outside the group"
		} else if agreed {
			last = "they still name " + leader
		}
		time.Sleep(100 * time.Millisecond)
	}
	return nil, fmt.Errorf("no new leader among %s within %s: %s", names(among), timeout, last)
}

func names(nodes []*node) string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.name)
	}
	return "[" + strings.Join(out, " ") + "]"
}
