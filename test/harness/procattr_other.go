//go:build !linux

package harness

import "syscall"

// agentProcAttr puts an agent in its own process group, so killing the group
// also kills the step processes it ran.
func agentProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
