package bench

import "syscall"

// agentProcAttr puts an agent in its own process group, so that killing the
// group also kills the step processes it ran and a Ctrl-C at the terminal
// reaches only the bench command (which then stops the agents itself), and
// asks the kernel to SIGKILL the agent if the bench process dies first.
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
