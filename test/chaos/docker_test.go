package chaos

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// dockerBackend runs each server as a container of the chaos image on a
// private bridge network, with a fixed address, a named volume for /data and
// a host directory for its ledger. The test reaches every container at its
// address on the bridge, so it can still talk to a server that a partition
// has cut off from the others.
//
// Partitions are iptables rules in the containers' network namespaces. The
// image is FROM scratch and has no iptables, so the host's iptables runs in
// each container's namespace through nsenter; that needs root on the host.
// Without it, partitions are reported as unsupported and those scenarios
// skip, while kill, pause, wipe and membership faults still run.
type dockerBackend struct {
	t          *testing.T
	image      string
	name       string // prefix of every container, volume and network name
	network    string
	subnet     string // first three octets
	ledgerRoot string // host directory with one ledger directory per server
	http       *httpLedger

	mu      sync.Mutex
	nextIP  int
	cuts    map[string]bool // containers with partition rules
	support *string
}

func newDockerBackend(t *testing.T, scenario string) *dockerBackend {
	requireDocker(t)
	image := chaosImage(t)
	d := &dockerBackend{
		t: t, image: image, name: "baton-chaos-" + suffix + "-" + scenario,
		ledgerRoot: t.TempDir(), nextIP: 11, cuts: map[string]bool{},
	}
	d.network = d.name
	t.Cleanup(d.cleanup)
	var lastErr error
	for try := 0; try < 3; try++ {
		d.subnet = freeSubnet(t)
		out, err := docker(time.Minute, "network", "create", "--driver", "bridge", "--label", dockerLabel,
			"--subnet", d.subnet+".0/24", d.network)
		if err == nil {
			// The network's gateway is this host's address on it.
			d.http = newHTTPLedger(t, d.subnet+".1", filepath.Join(d.ledgerRoot, "http"))
			return d
		}
		lastErr = fmt.Errorf("docker network create %s on %s.0/24: %v\n%s", d.network, d.subnet, err, out)
	}
	t.Fatal(lastErr)
	return nil
}

// cleanup removes every container, volume and the network of this backend,
// pass or fail.
func (d *dockerBackend) cleanup() {
	out, _ := docker(time.Minute, "ps", "-aq", "--filter", "label="+dockerLabel, "--filter", "name="+d.name)
	if ids := strings.Fields(out); len(ids) > 0 {
		if o, err := docker(2*time.Minute, append([]string{"rm", "-f", "-v"}, ids...)...); err != nil {
			d.t.Errorf("remove containers: %v\n%s", err, o)
		}
	}
	out, _ = docker(time.Minute, "volume", "ls", "-q", "--filter", "label="+dockerLabel, "--filter", "name="+d.name)
	if vols := strings.Fields(out); len(vols) > 0 {
		if o, err := docker(2*time.Minute, append([]string{"volume", "rm", "-f"}, vols...)...); err != nil {
			d.t.Errorf("remove volumes: %v\n%s", err, o)
		}
	}
	if o, err := docker(time.Minute, "network", "rm", d.network); err != nil && !strings.Contains(o, "not found") {
		d.t.Errorf("remove network %s: %v\n%s", d.network, err, o)
	}
}

// freeSubnet picks the first three octets of a 10.232.x.0/24 that overlaps no
// docker network and no address of this host; ops/docker uses 172.29.56.0/24
// and test/docker 10.231.x.0/24.
func freeSubnet(t *testing.T) string {
	t.Helper()
	var used []*net.IPNet
	if ids, err := docker(30*time.Second, "network", "ls", "-q"); err == nil && strings.TrimSpace(ids) != "" {
		args := append([]string{"network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}} {{end}}"}, strings.Fields(ids)...)
		if out, err := docker(30*time.Second, args...); err == nil {
			for _, s := range strings.Fields(out) {
				if _, n, err := net.ParseCIDR(s); err == nil {
					used = append(used, n)
				}
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
	for _, x := range rand.Perm(256) {
		prefix := fmt.Sprintf("10.232.%d", x)
		_, cand, _ := net.ParseCIDR(prefix + ".0/24")
		free := true
		for _, u := range used {
			if u.Contains(cand.IP) || cand.Contains(u.IP) {
				free = false
				break
			}
		}
		if free {
			return prefix
		}
	}
	t.Fatal("no free /24 in 10.232.0.0/16")
	return ""
}

func (d *dockerBackend) kind() string { return "docker" }

func (d *dockerBackend) newNode(name string) (*node, error) {
	d.mu.Lock()
	ip := fmt.Sprintf("%s.%d", d.subnet, d.nextIP)
	d.nextIP++
	d.mu.Unlock()
	dir := filepath.Join(d.ledgerRoot, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// The agent runs as uid 65532; the ledger directory is the host's.
	if err := os.Chmod(dir, 0o777); err != nil {
		return nil, err
	}
	return &node{
		name: name, ip: ip, url: "http://" + ip + ":7420",
		volume: d.name + "-" + name, ledgerDir: dir,
	}, nil
}

func (d *dockerBackend) serfAddr(n *node) string { return n.ip + ":7422" }

func (d *dockerBackend) start(n *node, expect int, join []*node) error {
	if n.container != "" {
		out, err := docker(time.Minute, "start", n.container)
		if err != nil {
			return fmt.Errorf("docker start %s: %v\n%s", n.container, err, out)
		}
		return nil
	}
	if out, err := docker(time.Minute, "volume", "create", "--label", dockerLabel, n.volume); err != nil {
		return fmt.Errorf("docker volume create %s: %v\n%s", n.volume, err, out)
	}
	name := d.name + "-" + n.name
	args := []string{"run", "-d", "--name", name, "--hostname", n.name, "--label", dockerLabel,
		"--network", d.network, "--ip", n.ip,
		"-v", n.volume + ":/data", "-v", n.ledgerDir + ":/ledger",
		// Every round checks the instances it skips as quiet.
		"-e", "BATON_VERIFY_QUIET=1",
		d.image, "agent", "-node", n.name, "-data-dir", "/data",
		"-api-addr", n.ip + ":7420", "-raft-addr", n.ip + ":7421", "-serf-addr", n.ip + ":7422",
		"-bootstrap-expect", strconv.Itoa(expect)}
	for _, j := range join {
		args = append(args, "-retry-join", d.serfAddr(j))
	}
	args = append(args, agentFlags...)
	args = append(args, d.http.allowFlags()...)
	out, err := docker(2*time.Minute, args...)
	if err != nil {
		_, _ = docker(time.Minute, "rm", "-f", name)
		return fmt.Errorf("docker run %s: %v\n%s", name, err, out)
	}
	n.container = name
	return nil
}

// waitExited waits until the container's process is gone.
func (d *dockerBackend) waitExited(n *node, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		out, err := docker(30*time.Second, "inspect", "-f", "{{.State.Running}}", n.container)
		if err == nil && strings.TrimSpace(out) == "false" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s still running after %s (%v %s)", n.container, timeout, err, strings.TrimSpace(out))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (d *dockerBackend) signal(n *node, sig string) error {
	out, err := docker(time.Minute, "kill", "--signal", sig, n.container)
	if err != nil {
		return fmt.Errorf("docker kill --signal %s %s: %v\n%s", sig, n.container, err, out)
	}
	return nil
}

func (d *dockerBackend) kill(n *node) error {
	if err := d.signal(n, "KILL"); err != nil {
		return err
	}
	d.forgetCuts(n)
	return d.waitExited(n, 30*time.Second)
}

func (d *dockerBackend) stop(n *node) error { return d.signal(n, "STOP") }
func (d *dockerBackend) cont(n *node) error { return d.signal(n, "CONT") }

func (d *dockerBackend) interrupt(n *node) error {
	if err := d.signal(n, "INT"); err != nil {
		return err
	}
	d.forgetCuts(n)
	return d.waitExited(n, 60*time.Second)
}

func (d *dockerBackend) forgetCuts(n *node) {
	d.mu.Lock()
	delete(d.cuts, n.container)
	d.mu.Unlock()
}

// wipe removes the stopped container with its volume; start creates both
// anew, so the server comes back with the same name and address and no
// state.
func (d *dockerBackend) wipe(n *node) error {
	if out, err := docker(time.Minute, "rm", "-f", "-v", n.container); err != nil {
		return fmt.Errorf("docker rm %s: %v\n%s", n.container, err, out)
	}
	if out, err := docker(time.Minute, "volume", "rm", n.volume); err != nil {
		return fmt.Errorf("docker volume rm %s: %v\n%s", n.volume, err, out)
	}
	n.container = ""
	return nil
}

// netns runs the host's iptables in a container's network namespace.
func (d *dockerBackend) iptables(n *node, args ...string) error {
	out, err := docker(30*time.Second, "inspect", "-f", "{{.State.Pid}}", n.container)
	if err != nil {
		return fmt.Errorf("docker inspect %s: %v\n%s", n.container, err, out)
	}
	pid := strings.TrimSpace(out)
	if pid == "" || pid == "0" {
		return fmt.Errorf("%s is not running", n.container)
	}
	full := append([]string{"--net=/proc/" + pid + "/ns/net", "iptables", "-w"}, args...)
	if out, err := command(30*time.Second, "", nil, "nsenter", full...); err != nil {
		return fmt.Errorf("nsenter %s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return nil
}

func (d *dockerBackend) partitionSupport() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.support != nil {
		return *d.support
	}
	why := ""
	switch {
	case os.Geteuid() != 0:
		why = "partitions need root on the host, to run iptables in the containers' network namespaces with nsenter"
	default:
		for _, tool := range []string{"nsenter", "iptables"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = "partitions need " + tool + " on the host"
			}
		}
	}
	d.support = &why
	return why
}

func (d *dockerBackend) partition(pairs [][2]*node) error {
	if why := d.partitionSupport(); why != "" {
		return fmt.Errorf("%w: %s", errUnsupported, why)
	}
	for _, p := range pairs {
		for _, side := range [][2]*node{{p[0], p[1]}, {p[1], p[0]}} {
			from, to := side[0], side[1]
			d.mu.Lock()
			d.cuts[from.container] = true
			d.mu.Unlock()
			if err := d.iptables(from, "-I", "INPUT", "-s", to.ip, "-j", "DROP"); err != nil {
				return err
			}
			if err := d.iptables(from, "-I", "OUTPUT", "-d", to.ip, "-j", "DROP"); err != nil {
				return err
			}
		}
	}
	return nil
}

// heal flushes the filter chains the partitions used. Docker's own rules in
// a container's namespace live in the nat table, which this leaves alone.
func (d *dockerBackend) heal() error {
	d.mu.Lock()
	var containers []string
	for c := range d.cuts {
		containers = append(containers, c)
	}
	d.cuts = map[string]bool{}
	d.mu.Unlock()
	for _, c := range containers {
		n := &node{container: c}
		for _, chain := range []string{"INPUT", "OUTPUT"} {
			if err := d.iptables(n, "-F", chain); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *dockerBackend) disconnect(n *node) error {
	if out, err := docker(time.Minute, "network", "disconnect", d.network, n.container); err != nil {
		return fmt.Errorf("docker network disconnect %s: %v\n%s", n.container, err, out)
	}
	return nil
}

func (d *dockerBackend) reconnect(n *node) error {
	if out, err := docker(time.Minute, "network", "connect", "--ip", n.ip, d.network, n.container); err != nil {
		return fmt.Errorf("docker network connect %s: %v\n%s", n.container, err, out)
	}
	return nil
}

func (d *dockerBackend) ledgers() (map[string][]byte, error) {
	dirs, err := filepath.Glob(filepath.Join(d.ledgerRoot, "*"))
	if err != nil {
		return nil, err
	}
	return readLedgers(dirs)
}

func (d *dockerBackend) stepParams() map[string]string {
	return map[string]string{"step": "/chaos/step", "ledger": "/ledger", "http_base": "http://" + d.http.addr}
}

// serverLogs reads each container's log, every run of it since it was
// created.
func (d *dockerBackend) serverLogs() (map[string]string, error) {
	out, err := docker(time.Minute, "ps", "-aq", "--filter", "name="+d.name)
	if err != nil {
		return nil, err
	}
	logs := map[string]string{}
	for _, id := range strings.Fields(out) {
		name, _ := docker(30*time.Second, "inspect", "-f", "{{.Name}}", id)
		name = strings.TrimPrefix(strings.TrimSpace(name), "/")
		l, err := docker(time.Minute, "logs", id)
		if err != nil {
			return nil, fmt.Errorf("docker logs %s: %w", name, err)
		}
		logs[name] = l
	}
	return logs, nil
}
