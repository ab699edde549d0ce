// Package docker checks the deployment files in ops/docker: it builds the
// FROM-scratch image, runs the three-server compose cluster on a private
// network, and drives it from the host through the published API ports.
//
// It needs a Docker daemon and compose (the plugin or docker-compose). When
// they are missing the test is skipped, unless CI=true, where a silent skip
// would hide that the deployment files went untested.
package docker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	"github.com/batonhq/baton/test/harness"
)

// node is one compose service as the host sees it.
type node struct {
	service   string // also the agent's node name
	url       string // published API on loopback
	container string
	killed    bool
}

// cluster is one compose project started by this test.
type cluster struct {
	compose []string
	project string
	file    string
	env     []string
	nodes   []*node
}

func TestComposeClusterSurvivesLeaderKill(t *testing.T) {
	compose := requireDocker(t)
	suffix := fmt.Sprintf("%d-%08x", os.Getpid(), rand.Uint32())
	tag := "baton:test-" + suffix

	// The image and the CLI binary are independent builds; overlap them.
	imageDone := make(chan error, 1)
	go func() { imageDone <- buildImage(tag) }()
	var imageErr error
	imageWaited := false
	waitImage := func() error {
		if !imageWaited {
			imageErr, imageWaited = <-imageDone, true
		}
		return imageErr
	}
	// Registered before the compose project's cleanup so it runs after it:
	// an image in use by containers cannot be removed. It waits for the
	// build, which may still run if the test stops early.
	t.Cleanup(func() {
		_ = waitImage()
		if out, err := docker(30*time.Second, nil, "image", "rm", "-f", tag); err != nil {
			t.Logf("remove image %s: %v\n%s", tag, err, out)
		}
	})
	harness.Binary(t)
	if err := waitImage(); err != nil {
		t.Fatal(err)
	}

	c := up(t, compose, "baton-test-"+suffix, tag)

	leader := c.waitAgreement(t, 90*time.Second)
	t.Logf("cluster formed; leader %s", leader.service)

	// Write through a follower (forwarded to the leader), read through the
	// third node.
	followers := c.others(leader)
	entry, reader := followers[0], followers[1]
	harness.MustCLI(t, entry.url, "workflow", "push", "testdata/relay.json")
	id := startInstance(t, entry)
	waitSucceeded(t, reader, id, 60*time.Second)
	checkSucceeded(t, reader, id)
	t.Logf("instance %d succeeded before the kill", id)

	if out, err := docker(30*time.Second, nil, "kill", "--signal", "KILL", leader.container); err != nil {
		t.Fatalf("docker kill %s: %v\n%s", leader.service, err, out)
	}
	leader.killed = true
	if out, _ := docker(10*time.Second, nil, "inspect", "-f", "{{.State.Running}}", leader.container); strings.TrimSpace(out) != "false" {
		t.Fatalf("%s still running after docker kill (restart policy?): %q", leader.service, out)
	}

	newLeader := c.waitAgreement(t, 45*time.Second)
	t.Logf("after killing %s the new leader is %s", leader.service, newLeader.service)
	survivors := c.others(leader)
	id2 := startInstance(t, survivors[0])
	waitSucceeded(t, survivors[1], id2, 60*time.Second)
	checkSucceeded(t, survivors[1], id2)
	t.Logf("instance %d succeeded on two servers", id2)

	// The killed server comes back from its volume as the same voter and
	// catches up on what happened while it was down.
	if out, err := docker(30*time.Second, nil, "start", leader.container); err != nil {
		t.Fatalf("docker start %s: %v\n%s", leader.service, err, out)
	}
	leader.killed = false
	c.waitAgreement(t, 45*time.Second)
	waitReplica(t, leader, 2, 30*time.Second)
}

// skipOrFail skips when Docker is missing, except on CI.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", msg)
	}
	t.Skipf("%s; this test needs a Docker daemon and docker compose or docker-compose", msg)
}

// requireDocker checks for a usable daemon and returns the compose command.
func requireDocker(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		skipOrFail(t, "docker is not installed")
	}
	if out, err := docker(30*time.Second, nil, "info", "-f", "{{.ServerVersion}}"); err != nil {
		skipOrFail(t, "the Docker daemon is not reachable: %v: %s", err, strings.TrimSpace(out))
	}
	if _, err := command(30*time.Second, nil, "docker", "compose", "version"); err == nil {
		return []string{"docker", "compose"}
	}
	if _, err := exec.LookPath("docker-compose"); err == nil {
		if _, err := command(30*time.Second, nil, "docker-compose", "version"); err == nil {
			return []string{"docker-compose"}
		}
	}
	skipOrFail(t, "neither 'docker compose' nor 'docker-compose' works")
	return nil
}

// command runs name with args and returns stdout and stderr together.
func command(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no answer within %s", name, strings.Join(args, " "), timeout)
	}
	return out.String(), err
}

func docker(timeout time.Duration, env []string, args ...string) (string, error) {
	return command(timeout, env, "docker", args...)
}

func buildImage(tag string) error {
	out, err := command(5*time.Minute, nil, harness.Path("ops/docker/build.sh"), tag)
	if err != nil {
		return fmt.Errorf("ops/docker/build.sh %s: %v\n%s", tag, err, out)
	}
	return nil
}

func (c *cluster) run(timeout time.Duration, args ...string) (string, error) {
	full := append(append(c.compose[1:len(c.compose):len(c.compose)], "-p", c.project, "-f", c.file), args...)
	return command(timeout, c.env, c.compose[0], full...)
}

// up starts the compose project on a /24 and loopback ports nobody uses.
// Another project can take the same subnet or port between the check and
// `up`, so a failed start is retried with new ones.
func up(t *testing.T, compose []string, project, tag string) *cluster {
	t.Helper()
	c := &cluster{compose: compose, project: project, file: harness.Path("ops/docker/compose.yaml")}
	t.Cleanup(func() {
		if t.Failed() {
			c.saveLogs(t)
		}
		if out, err := c.run(2*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	var lastErr error
	for try := 0; try < 3; try++ {
		subnet := freeSubnet(t)
		c.env = []string{"BATON_IMAGE=" + tag, "BATON_NET=" + subnet}
		c.nodes = nil
		for i := 1; i <= 3; i++ {
			port := harness.FreePort(t)
			c.env = append(c.env, fmt.Sprintf("BATON_API_PORT_%d=%d", i, port))
			c.nodes = append(c.nodes, &node{service: fmt.Sprintf("baton-%d", i), url: "http://127.0.0.1:" + strconv.Itoa(port)})
		}
		out, err := c.run(2*time.Minute, "up", "-d", "--no-build")
		if err == nil {
			for _, n := range c.nodes {
				id, err := c.run(30*time.Second, "ps", "-q", n.service)
				if id = strings.TrimSpace(id); err != nil || id == "" {
					t.Fatalf("compose ps %s: %v %q", n.service, err, id)
				}
				n.container = id
			}
			t.Logf("compose project %s up on %s.0/24, APIs %s %s %s", project, subnet, c.nodes[0].url, c.nodes[1].url, c.nodes[2].url)
			return c
		}
		lastErr = fmt.Errorf("compose up (subnet %s.0/24): %v\n%s", subnet, err, out)
		t.Log(lastErr)
		_, _ = c.run(2*time.Minute, "down", "-v", "--remove-orphans", "--timeout", "1")
	}
	t.Fatal(lastErr)
	return nil
}

// freeSubnet picks the first three octets of a 10.231.x.0/24 that overlaps
// no docker network and no address on this host.
func freeSubnet(t *testing.T) string {
	t.Helper()
	var used []*net.IPNet
	if ids, err := docker(30*time.Second, nil, "network", "ls", "-q"); err == nil && strings.TrimSpace(ids) != "" {
		args := append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, strings.Fields(ids)...)
		out, err := docker(30*time.Second, nil, args...)
		if err != nil {
			t.Fatalf("docker network inspect: %v\n%s", err, out)
		}
		for _, s := range strings.Fields(out) {
			if _, n, err := net.ParseCIDR(s); err == nil {
				used = append(used, n)
			}
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				used = append(used, n)
			}
		}
	}
next:
	for _, x := range rand.Perm(256) {
		prefix := fmt.Sprintf("10.231.%d", x)
		_, cand, _ := net.ParseCIDR(prefix + ".0/24")
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				continue next
			}
		}
		return prefix
	}
	t.Fatal("no free /24 in 10.231.0.0/16 for the compose network")
	return ""
}

// saveLogs keeps every server's whole log in a file that outlives the test,
// and shows the end of each inline.
func (c *cluster) saveLogs(t *testing.T) {
	out, err := c.run(time.Minute, "logs", "--no-color")
	if err != nil {
		t.Logf("compose logs: %v\n%s", err, out)
		return
	}
	if f, err := os.CreateTemp("", c.project+"-*.log"); err == nil {
		_, _ = f.WriteString(out)
		_ = f.Close()
		t.Logf("all server logs: %s", f.Name())
	}
	for _, n := range c.nodes {
		if tail, err := c.run(time.Minute, "logs", "--no-color", "--tail=40", n.service); err == nil {
			t.Logf("last 40 lines of %s:\n%s", n.service, tail)
		}
	}
}

func (c *cluster) others(n *node) []*node {
	var out []*node
	for _, o := range c.nodes {
		if o != n && !o.killed {
			out = append(out, o)
		}
	}
	return out
}

func status(n *node) (*clusterv1.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := clusterv1connect.NewClusterServiceClient(harness.HTTPClient(), n.url).
		Status(ctx, connect.NewRequest(&clusterv1.StatusRequest{}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

// waitAgreement waits until every server not killed names the same leader,
// that leader is one of them, and Raft has all three voters (a killed server
// stays a voter: SIGKILL does not leave the cluster).
func (c *cluster) waitAgreement(t *testing.T, timeout time.Duration) *node {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		n, why := c.agreement()
		if n != nil {
			return n
		}
		last = why
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("servers did not agree on a leader within %s: %s", timeout, last)
	return nil
}

func (c *cluster) agreement() (*node, string) {
	var leader *node
	leaderID := ""
	for _, n := range c.nodes {
		if n.killed {
			continue
		}
		st, err := status(n)
		if err != nil {
			return nil, fmt.Sprintf("%s: %v", n.service, err)
		}
		if st.LeaderId == "" || st.LeaderApiAddress == "" {
			return nil, n.service + " knows no leader"
		}
		if leaderID == "" {
			leaderID = st.LeaderId
		} else if st.LeaderId != leaderID {
			return nil, fmt.Sprintf("%s names %s, another server %s", n.service, st.LeaderId, leaderID)
		}
		if n.service == st.LeaderId {
			leader = n
			voters := 0
			for _, p := range st.Peers {
				if p.Voter {
					voters++
				}
			}
			if voters != 3 {
				return nil, fmt.Sprintf("leader %s has %d voters, want 3", n.service, voters)
			}
		}
	}
	if leader == nil {
		return nil, fmt.Sprintf("leader %s is not a running server", leaderID)
	}
	return leader, ""
}

func startInstance(t *testing.T, n *node) int64 {
	t.Helper()
	out := harness.MustCLI(t, n.url, "instance", "start", "relay")
	id, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
	if err != nil {
		t.Fatalf("instance start through %s printed %q, want an instance id", n.service, out)
	}
	return id
}

// waitSucceeded polls n until the instance ends, and fails unless it
// SUCCEEDED.
func waitSucceeded(t *testing.T, n *node, id int64, timeout time.Duration) {
	t.Helper()
	client := instancev1connect.NewInstanceServiceClient(harness.HTTPClient(), n.url)
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := client.Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: "relay", InstanceId: id}))
		cancel()
		switch {
		case err != nil:
			last = err.Error()
		case fsm.InstanceTerminal(res.Msg.Instance.GetStatus()):
			if s := res.Msg.Instance.GetStatus(); s != fsm.InstanceSucceeded {
				t.Fatalf("instance relay/%d ended %s (%s), want SUCCEEDED", id, s, res.Msg.Instance.GetReason())
			}
			return
		default:
			last = "status " + res.Msg.Instance.GetStatus()
		}
		time.Sleep(250 * time.Millisecond)
	}
	r := harness.CLI(t, n.url, "instance", "get", "relay", strconv.FormatInt(id, 10))
	t.Fatalf("instance relay/%d did not end within %s, read through %s: %s\n%s%s", id, timeout, n.service, last, r.Stdout, r.Stderr)
}

// checkSucceeded reads the instance with the CLI, as an operator would.
func checkSucceeded(t *testing.T, n *node, id int64) {
	t.Helper()
	var res instancev1.GetResponse
	harness.CLIJSON(t, n.url, &res, "instance", "get", "relay", strconv.FormatInt(id, 10))
	if s := res.Instance.GetStatus(); s != fsm.InstanceSucceeded {
		t.Fatalf("baton instance get relay %d through %s: %s, want SUCCEEDED", id, n.service, s)
	}
	if len(res.Steps) != 4 {
		t.Fatalf("instance relay/%d has %d steps, want 4", id, len(res.Steps))
	}
	for _, s := range res.Steps {
		if s.Status != fsm.StepSucceeded {
			t.Errorf("step %s: %s, want SUCCEEDED", s.StepId, s.Status)
		}
		// A step placed on a server just before it died is retried elsewhere;
		// show it, since that path is easy to miss.
		if len(s.Attempts) > 1 {
			var runs []string
			for _, a := range s.Attempts {
				runs = append(runs, a.Node+" "+a.Status)
			}
			t.Logf("instance %d step %s took %d attempts: %s", id, s.StepId, len(s.Attempts), strings.Join(runs, ", "))
		}
	}
}

// waitReplica waits until n's own replica (a stale read, not forwarded)
// holds want SUCCEEDED instances of relay.
func waitReplica(t *testing.T, n *node, want int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		r := harness.CLI(t, n.url, "instance", "list", "relay", "--stale")
		if r.Code == 0 && strings.Count(r.Stdout, "SUCCEEDED") == want {
			return
		}
		last = errors.New(strings.TrimSpace(r.Stdout + r.Stderr))
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("%s's replica did not list %d SUCCEEDED instances within %s: %v", n.service, want, timeout, last)
}
