package runtime

import (
	"syscall"
	"unsafe"
)

// waitNoReap blocks until process pid has exited without reaping it, and
// reports whether it could. Keeping the zombie around reserves its PID, and
// with it the process group ID, until the caller reaps it with Wait.
func waitNoReap(pid int) bool {
	const pPID = 1 // idtype_t P_PID
	// siginfo_t is 128 bytes on every Linux architecture; its contents are
	// not needed because Wait collects the status later.
	var info [16]uint64
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info)), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
			continue
		default:
			return false
		}
	}
}
