package bench

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// cpuWindow is the CPU time the local agents and this process used while a
// workload measured. Three agents share the machine's CPUs, so it says
// whether a run was bound by CPU, and divided by the work done, what a unit
// of work costs across the cluster.
type cpuWindow struct {
	wall time.Duration
	// agents holds each agent whose process ran through the whole window
	// (an agent killed or restarted in it is left out, and named in gone).
	agents map[string]time.Duration
	gone   []string
	leader string
	bench  time.Duration
}

func (w *cpuWindow) agentsTotal() time.Duration {
	var sum time.Duration
	for _, d := range w.agents {
		sum += d
	}
	return sum
}

// clockTicks is the unit of /proc's CPU times (USER_HZ, 100 on Linux for
// every architecture Go supports).
const clockTicks = 100

// processCPU reads the user and system time of a process from
// /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStatCPU(string(b))
}

// parseProcStatCPU takes utime and stime (fields 14 and 15) from a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses, so the fields are counted from its closing parenthesis.
func parseProcStatCPU(stat string) (time.Duration, error) {
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("proc stat %q: no command name", stat)
	}
	fields := strings.Fields(stat[end+1:])
	// fields[0] is field 3 (state), so utime (14) and stime (15) are 11, 12.
	if len(fields) < 13 {
		return 0, fmt.Errorf("proc stat: %d fields after the command name, want at least 13", len(fields))
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("proc stat: CPU time %q is not a tick count", f)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// selfCPU is this process's user and system time.
func selfCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// cpuMeter measures one window: begin reads the counters, and the function
// it returns reads them again and keeps the difference. Only the first
// window of a run counts, as with the profiles.
type cpuMeter struct {
	mu     sync.Mutex
	begun  bool
	window *cpuWindow
	err    error
}

func (m *cpuMeter) begin(cl *Cluster, leaderURL string) func() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.begun || cl == nil {
		return func() {}
	}
	m.begun = true
	type mark struct {
		pid int
		cpu time.Duration
	}
	marks := map[string]mark{}
	leader := ""
	for _, a := range cl.Running() {
		pid := a.Pid()
		cpu, err := processCPU(pid)
		if err != nil {
			m.err = err
			return func() {}
		}
		marks[a.Name] = mark{pid, cpu}
		if a.URL() == leaderURL {
			leader = a.Name
		}
	}
	self0, err := selfCPU()
	if err != nil {
		m.err = err
		return func() {}
	}
	t0 := time.Now()
	var once sync.Once
	return func() {
		once.Do(func() {
			w := &cpuWindow{wall: time.Since(t0), agents: map[string]time.Duration{}, leader: leader}
			if self1, err := selfCPU(); err == nil {
				w.bench = self1 - self0
			}
			for _, a := range cl.Agents {
				mk, ok := marks[a.Name]
				if !ok {
					continue
				}
				cpu, err := processCPU(mk.pid)
				if err != nil || a.Pid() != mk.pid {
					w.gone = append(w.gone, a.Name)
					continue
				}
				w.agents[a.Name] = cpu - mk.cpu
			}
			m.mu.Lock()
			m.window = w
			m.mu.Unlock()
		})
	}
}

// report adds the window's figures to res: nothing against a cluster given
// by address, whose processes this command cannot see.
func (m *cpuMeter) report(res *Result) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.begun {
		return
	}
	w := m.window
	if w == nil || m.err != nil {
		why := "the run did not end its measured window"
		if m.err != nil {
			why = m.err.Error()
		}
		res.unknown("agents_cpu_s", "s", helpAgentsCPU, "cannot read the agents' CPU time: "+why)
		return
	}
	agents := w.agentsTotal()
	res.add("agents_cpu_s", round3(agents.Seconds()), "s", helpAgentsCPU)
	if d, ok := w.agents[w.leader]; ok {
		res.add("leader_cpu_s", round3(d.Seconds()), "s", "the part of agents_cpu_s the leader used (the agent that led when the window began)")
	}
	res.add("bench_cpu_s", round3(w.bench.Seconds()), "s", "CPU time this command's own clients used in the same window")
	if w.wall > 0 {
		res.add("cpus_busy", round3((agents+w.bench).Seconds()/w.wall.Seconds()), "CPUs", "CPUs the agents and the clients kept busy on average in the window (of conditions.cpus)")
	}
	if n, ok := res.Metric("starts"); ok && n.Known && n.Value > 0 {
		res.add("agents_cpu_ms_per_start", round3(ms(agents)/n.Value), "ms", "agents_cpu_s per acknowledged start: what one start costs across the cluster")
	}
	if len(w.gone) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("agents_cpu_s leaves out %s: stopped or restarted during the window", strings.Join(w.gone, ", ")))
	}
}

const helpAgentsCPU = "CPU time (user + system) the local agents used while the workload measured"
