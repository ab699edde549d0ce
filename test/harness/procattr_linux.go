package harness

import "syscall"

// agentProcAttr puts an agent in its own process group, so killing the group
// also kills the step processes it ran, and asks the kernel to SIGKILL it if
// the test process dies first (a go test timeout, ^C) so no agent outlives
// its test holding ports and CPU.
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
