package chaos

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/batonhq/baton/test/harness"
)

// agentFlags are given to every server of every backend. Finished instances
// are all kept, because the checks read every one; so are the signals of the
// signals workload's names, which get far fewer than retainSignalsPerName in
// a long pass (about 580), while the signal trigger workload's noise name
// gets many more, so retention prunes it every few seconds; snapshots are frequent,
// so restarted and wiped servers catch up through InstallSnapshot and the
// state hash covers restored state too. The cron workload fires every two
// seconds, under the default minimum interval. The workflow actions
// workload's workflow gets far more actions than its record keeps, so
// retention deletes the oldest as it goes.
var agentFlags = []string{
	"-retain-finished", "0",
	"-retain-signals", strconv.Itoa(retainSignalsPerName),
	"-retain-workflow-actions", strconv.Itoa(retainWorkflowActions),
	"-retention-interval", "3s",
	"-raft-snapshot-threshold", "512",
	"-raft-trailing-logs", "256",
	"-raft-snapshot-interval", "2s",
	"-min-trigger-interval", "1s",
}

// retainSignalsPerName is what the servers keep of each signal name.
const retainSignalsPerName = 1000

// retainWorkflowActions is what the servers keep of each workflow's own
// record.
const retainWorkflowActions = 20

// processBackend runs servers as child processes on loopback through
// test/harness. Loopback cannot be partitioned, so it injects kill and pause
// faults only.
type processBackend struct {
	t         *testing.T
	ledgerDir string
	stepBin   string
	http      *httpLedger
	agents    []*harness.Agent
}

func newProcessBackend(t *testing.T) *processBackend {
	dir := t.TempDir()
	return &processBackend{t: t, ledgerDir: dir, stepBin: stepBinary(t), http: newHTTPLedger(t, "127.0.0.1", dir)}
}

func (p *processBackend) kind() string { return "process" }

func (p *processBackend) newNode(name string) (*node, error) {
	a := harness.NewAgent(p.t, name, append(p.http.allowFlags(), agentFlags...)...)
	p.agents = append(p.agents, a)
	return &node{name: name, url: a.URL(), agent: a}, nil
}

func (p *processBackend) serfAddr(n *node) string { return n.agent.SerfAddr }

func (p *processBackend) start(n *node, expect int, join []*node) error {
	if n.agent.Running() {
		return fmt.Errorf("%s is already running", n.name)
	}
	flags := []string{"-bootstrap-expect", strconv.Itoa(expect)}
	for _, j := range join {
		flags = append(flags, "-retry-join", j.agent.SerfAddr)
	}
	n.agent.Start(p.t, flags...)
	return nil
}

func (p *processBackend) kill(n *node) error {
	n.agent.Kill()
	return nil
}

// pid finds the agent's process among this test's children by its data
// dir, which is unique: the harness does not expose the pid.
func (p *processBackend) pid(n *node) (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	want := []byte("\x00-data-dir\x00" + n.agent.DataDir + "\x00")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// The parent pid is the second field after the command in parentheses.
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, want) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no running agent process for %s", n.name)
}

func (p *processBackend) signal(n *node, sig syscall.Signal) error {
	pid, err := p.pid(n)
	if err != nil {
		return err
	}
	// The agent only, not its process group: its running steps carry on, as
	// they would beside a hung agent.
	return syscall.Kill(pid, sig)
}

func (p *processBackend) stop(n *node) error { return p.signal(n, syscall.SIGSTOP) }
func (p *processBackend) cont(n *node) error { return p.signal(n, syscall.SIGCONT) }

func (p *processBackend) interrupt(n *node) error {
	n.agent.Interrupt()
	return nil
}

func (p *processBackend) wipe(n *node) error {
	if n.agent.Running() {
		return fmt.Errorf("%s is running; stop it before wiping", n.name)
	}
	return os.RemoveAll(n.agent.DataDir)
}

func (p *processBackend) partition([][2]*node) error { return errUnsupported }
func (p *processBackend) heal() error                { return nil }
func (p *processBackend) disconnect(*node) error     { return errUnsupported }
func (p *processBackend) reconnect(*node) error      { return errUnsupported }

func (p *processBackend) partitionSupport() string {
	return "servers are local processes on loopback, which cannot be partitioned"
}

func (p *processBackend) ledgers() (map[string][]byte, error) {
	return readLedgers([]string{p.ledgerDir})
}

func (p *processBackend) stepParams() map[string]string {
	return map[string]string{"step": p.stepBin, "ledger": p.ledgerDir, "http_base": "http://" + p.http.addr}
}

// serverLogs reads each agent's log file.
func (p *processBackend) serverLogs() (map[string]string, error) {
	logs := map[string]string{}
	for _, a := range p.agents {
		b, err := os.ReadFile(a.LogPath)
		if err != nil {
			return nil, fmt.Errorf("log of %s: %w", a.Name, err)
		}
		logs[a.Name] = string(b)
	}
	return logs, nil
}

// readLedgers reads every *.ledger file in dirs.
func readLedgers(dirs []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, d := range dirs {
		files, err := filepath.Glob(filepath.Join(d, "*.ledger"))
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			out[f] = b
		}
	}
	return out, nil
}
