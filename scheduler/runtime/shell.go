package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// shellArgv0 becomes $0 of the command, so that $1... are the step's Args.
const shellArgv0 = "baton-step"

func runShell(ctx context.Context, s Spec, lim limits, localStart time.Time) Result {
	sh := s.Shell
	if sh == nil || strings.TrimSpace(sh.Command) == "" {
		return failed(UserFailed, "shell step has an empty command")
	}
	if err := validateShell(s); err != nil {
		return failed(UserFailed, err.Error())
	}
	if !s.Deadline.IsZero() && !time.Now().Before(s.Deadline) {
		return failed(TimedOut, timeoutMessage(s, localStart))
	}
	if sh.WorkingDir != "" {
		fi, err := os.Stat(sh.WorkingDir)
		if err != nil {
			return failed(UserFailed, fmt.Sprintf("working dir: %v", err))
		}
		if !fi.IsDir() {
			return failed(UserFailed, fmt.Sprintf("working dir %s is not a directory", sh.WorkingDir))
		}
	}
	if s.LogDir == "" {
		return failed(PlatformFailed, "no log directory for the attempt")
	}
	if err := os.MkdirAll(s.LogDir, 0o755); err != nil {
		return failed(PlatformFailed, fmt.Sprintf("log dir: %v", err))
	}
	base := logFileBase(s.AttemptID)
	stdoutPath := filepath.Join(s.LogDir, base+".stdout.log")
	stderrPath := filepath.Join(s.LogDir, base+".stderr.log")
	stdoutFile, err := createLog(stdoutPath)
	if err != nil {
		return failed(PlatformFailed, fmt.Sprintf("stdout log: %v", err))
	}
	defer stdoutFile.Close()
	stderrFile, err := createLog(stderrPath)
	if err != nil {
		return failed(PlatformFailed, fmt.Sprintf("stderr log: %v", err))
	}
	defer stderrFile.Close()

	res := execShell(ctx, s, lim, localStart, stdoutFile, stderrFile)
	res.StdoutPath, res.StderrPath = stdoutPath, stderrPath
	return res
}

func createLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
}

// validateShell rejects what the kernel would refuse at exec time, so that
// such a failure is blamed on the spec rather than the platform.
func validateShell(s Spec) error {
	sh := s.Shell
	if strings.ContainsRune(sh.Command, 0) {
		return errors.New("shell command contains a NUL byte")
	}
	for i, a := range sh.Args {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("shell arg %d contains a NUL byte", i+1)
		}
	}
	if strings.ContainsRune(sh.WorkingDir, 0) {
		return errors.New("working dir contains a NUL byte")
	}
	for _, env := range []map[string]string{s.Env, sh.Env} {
		for k, v := range env {
			if k == "" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("invalid environment variable name %q", k)
			}
			if strings.ContainsRune(v, 0) {
				return fmt.Errorf("environment variable %s contains a NUL byte", k)
			}
		}
	}
	return nil
}

// logFileBase turns an attempt ID into a single, portable file name
// component. Over-long IDs keep a hash so distinct attempts stay distinct.
func logFileBase(id string) string {
	b := []byte(id)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	name := string(b)
	if strings.Trim(name, ".") == "" {
		name = "attempt" + name
	}
	const maxLen = 100
	if len(name) > maxLen {
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		name = fmt.Sprintf("%s-%08x", name[:maxLen], h.Sum32())
	}
	return name
}

func marker(kind string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "__MAESTRO_OUTPUT_" + kind + "_" + hex.EncodeToString(b[:]) + "__"
}

// buildEnv layers the agent environment, the attempt env, the step env and
// finally the variables the runtime owns, later layers winning.
func buildEnv(s Spec, startTok, endTok string) []string {
	var keys []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			set(k, v)
		}
	}
	for k, v := range s.Env {
		set(k, v)
	}
	for k, v := range s.Shell.Env {
		set(k, v)
	}
	set("MAESTRO_OUTPUT_START", startTok)
	set("MAESTRO_OUTPUT_END", endTok)
	set("BATON_ATTEMPT_ID", s.AttemptID)
	set("BATON_STEP_ID", s.StepID)
	env := make([]string, 0, len(keys))
	for _, k := range keys {
		env = append(env, k+"="+vals[k])
	}
	return env
}

func execShell(ctx context.Context, s Spec, lim limits, localStart time.Time, stdoutFile, stderrFile *os.File) Result {
	sh := s.Shell
	dir := sh.WorkingDir
	if dir == "" {
		dir = s.LogDir
	}
	startTok, endTok := marker("START"), marker("END")

	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return failed(PlatformFailed, fmt.Sprintf("stdout pipe: %v", err))
	}
	defer stdoutR.Close()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutW.Close()
		return failed(PlatformFailed, fmt.Sprintf("stderr pipe: %v", err))
	}
	defer stderrR.Close()

	argv := append([]string{"/bin/sh", "-c", sh.Command, shellArgv0}, sh.Args...)
	// Handing exec *os.File pipe ends (rather than io.Writers) keeps exec
	// from running copy goroutines that Wait would block on while a
	// background grandchild holds the pipe open; we read the pipes ourselves
	// and decide when to stop.
	cmd := &exec.Cmd{
		Path:        "/bin/sh",
		Args:        argv,
		Env:         buildEnv(s, startTok, endTok),
		Dir:         dir,
		Stdout:      stdoutW,
		Stderr:      stderrW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		// Oversized args or env are the step's doing, not the node's.
		if errors.Is(err, syscall.E2BIG) {
			return failed(UserFailed, "command, args and environment are too large to start the process")
		}
		return failed(PlatformFailed, fmt.Sprintf("start /bin/sh: %v", err))
	}
	pid := cmd.Process.Pid

	tail := newTailBuffer(TailBytes)
	scan := newMarkerScanner(startTok, endTok, lim.outputBytes)
	outLog := &cappedFile{f: stdoutFile, limit: lim.logBytes}
	errLog := &cappedFile{f: stderrFile, limit: lim.logBytes}
	var readers sync.WaitGroup
	readers.Go(func() {
		pump(stdoutR, func(b []byte) {
			tail.Write(b)
			outLog.Write(b)
			scan.Write(b)
		})
	})
	readers.Go(func() {
		pump(stderrR, func(b []byte) {
			tail.Write(b)
			errLog.Write(b)
		})
	})
	readersDone := make(chan struct{})
	go func() {
		readers.Wait()
		close(readersDone)
	}()

	// The leader is left unreaped (a zombie) until the end so that its PID,
	// which is also the group ID, cannot be reused while we still signal the
	// group.
	exited := make(chan struct{})
	var reaped bool
	var waitErr error
	go func() {
		if !waitNoReap(pid) {
			waitErr = cmd.Wait()
			reaped = true
		}
		close(exited)
	}()

	reason := supervise(ctx, s.Deadline, lim.killGrace, pid, exited)

	// Give children that inherited stdout/stderr a moment to finish
	// writing, then kill whatever is left of the group: the attempt is over
	// and must not leave processes behind on the node.
	drain := time.NewTimer(lim.drain)
	defer drain.Stop()
	select {
	case <-readersDone:
	case <-drain.C:
	}
	signalGroup(pid, syscall.SIGKILL)
	if !reaped {
		waitErr = cmd.Wait()
	}
	drain.Reset(lim.drain)
	select {
	case <-readersDone:
	case <-drain.C:
		// Something outside the group (e.g. a setsid'd daemon) still holds
		// the pipes; stop reading rather than wait for it.
		_ = stdoutR.SetReadDeadline(time.Now())
		_ = stderrR.SetReadDeadline(time.Now())
		<-readersDone
	}

	res := Result{ExitCode: -1, LogTail: tail.String()}
	state := cmd.ProcessState
	if state == nil {
		res.Outcome = PlatformFailed
		res.Error = fmt.Sprintf("wait for /bin/sh: %v", waitErr)
		if reason != "" {
			res.Outcome = reason
		}
		return res
	}
	res.ExitCode = int32(state.ExitCode())
	switch reason {
	case Stopped:
		r := stopped(ctx, res.ExitCode)
		r.LogTail = res.LogTail
		return r
	case TimedOut:
		res.Outcome = TimedOut
		res.Error = timeoutMessage(s, localStart)
		return res
	}
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		res.Outcome = UserFailed
		res.Error = "killed by signal " + signalName(ws.Signal())
		if ws.CoreDump() {
			res.Error += " (core dumped)"
		}
		return res
	}
	if res.ExitCode != 0 {
		res.Outcome = UserFailed
		res.Error = fmt.Sprintf("exit code %d", res.ExitCode)
		return res
	}
	data, found, overflow := scan.result()
	switch {
	case overflow:
		res.Outcome = UserFailed
		res.Error = fmt.Sprintf("output params: more than %d bytes between the output markers", lim.outputBytes)
		return res
	case found:
		outs, err := parseOutputs(data)
		if err != nil {
			res.Outcome = UserFailed
			res.Error = err.Error()
			return res
		}
		res.Outputs = outs
	}
	res.Outcome = Succeeded
	return res
}

// supervise waits for the main process to exit, terminating the group when
// the deadline passes or ctx is canceled, and says which of those happened
// ("" if neither).
func supervise(ctx context.Context, deadline time.Time, grace time.Duration, pid int, exited <-chan struct{}) Outcome {
	var (
		reason   Outcome
		done     = ctx.Done()
		timeoutC <-chan time.Time
		killC    <-chan time.Time
	)
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timeoutC = t.C
	}
	var killTimer *time.Timer
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()
	terminate := func(r Outcome) {
		reason, done, timeoutC = r, nil, nil
		if grace <= 0 {
			signalGroup(pid, syscall.SIGKILL)
			return
		}
		signalGroup(pid, syscall.SIGTERM)
		killTimer = time.NewTimer(grace)
		killC = killTimer.C
	}
	for {
		select {
		case <-exited:
			return reason
		case <-done:
			terminate(Stopped)
		case <-timeoutC:
			terminate(TimedOut)
		case <-killC:
			signalGroup(pid, syscall.SIGKILL)
			killC = nil
		}
	}
}

func signalGroup(pid int, sig syscall.Signal) {
	if pid > 0 {
		_ = syscall.Kill(-pid, sig)
	}
}

func pump(r *os.File, sink func([]byte)) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			sink(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

var signalNames = map[syscall.Signal]string{
	syscall.SIGHUP:  "SIGHUP",
	syscall.SIGINT:  "SIGINT",
	syscall.SIGQUIT: "SIGQUIT",
	syscall.SIGILL:  "SIGILL",
	syscall.SIGTRAP: "SIGTRAP",
	syscall.SIGABRT: "SIGABRT",
	syscall.SIGBUS:  "SIGBUS",
	syscall.SIGFPE:  "SIGFPE",
	syscall.SIGKILL: "SIGKILL",
	syscall.SIGUSR1: "SIGUSR1",
	syscall.SIGSEGV: "SIGSEGV",
	syscall.SIGUSR2: "SIGUSR2",
	syscall.SIGPIPE: "SIGPIPE",
	syscall.SIGALRM: "SIGALRM",
	syscall.SIGTERM: "SIGTERM",
	syscall.SIGXCPU: "SIGXCPU",
	syscall.SIGXFSZ: "SIGXFSZ",
	syscall.SIGSYS:  "SIGSYS",
}

func signalName(sig syscall.Signal) string {
	if name, ok := signalNames[sig]; ok {
		return fmt.Sprintf("%s (%v)", name, sig)
	}
	return fmt.Sprintf("%d (%v)", int(sig), sig)
}
