// Package runtime executes one step attempt on the node it was placed on.
//
// It deliberately speaks only in plain Go types so that it does not depend on
// the workflow model; the caller converts to and from it.
package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Spec is everything needed to run one attempt. Params are already resolved
// (interpolated) by the leader.
type Spec struct {
	// AttemptID is unique, e.g. "wf/3/step-a/2". It is exported to the
	// command's environment and, sanitized, names the log files.
	AttemptID string
	// Generation is the Raft index that placed the attempt on this node:
	// with AttemptID it names one placement, which an Http step sends so
	// that the service it calls can tell a repeated delivery.
	Generation uint64
	// Node is the node the attempt runs on.
	Node   string
	StepID string
	// StepType is "NoOp", "Sleep", "Shell" or "Http".
	StepType string
	// SleepFor is the total duration of a Sleep step.
	SleepFor time.Duration
	// StartedAt is when the attempt was started (cluster time). A Sleep ends
	// at StartedAt+SleepFor, so a runtime restarted after an agent crash
	// sleeps only the remainder.
	StartedAt time.Time
	// Deadline is the zero time for none; past it the attempt is TimedOut
	// and its process group is terminated.
	Deadline time.Time
	Shell    *ShellSpec
	HTTP     *HTTPSpec
	// AllowedHosts is the node's policy for the hosts an Http step may
	// reach. It comes from the agent's configuration, never the workflow,
	// and an empty list allows no host, so that a workflow cannot reach
	// internal services the operator did not mean to expose. See
	// CheckAllowedHost for the entry syntax.
	AllowedHosts []string
	// LogDir holds this attempt's stdout/stderr files; it is created (0o755)
	// if missing.
	LogDir string
	// Env is extra environment for Shell steps (e.g. BATON_WORKFLOW_ID),
	// applied on top of the agent's own environment.
	Env map[string]string
}

// ShellSpec describes a Shell step.
type ShellSpec struct {
	// Command runs as /bin/sh -c Command baton-step Args..., so $1... are
	// the Args.
	Command string
	Args    []string
	// Env overrides both the agent environment and Spec.Env.
	Env map[string]string
	// WorkingDir is the command's directory; "" means LogDir.
	WorkingDir string
}

// Outcome is how an attempt ended.
type Outcome string

const (
	Succeeded Outcome = "SUCCEEDED"
	// UserFailed covers a non-zero exit, bad output JSON and a bad spec
	// (e.g. an empty command).
	UserFailed Outcome = "USER_FAILED"
	// TimedOut means Deadline passed.
	TimedOut Outcome = "TIMED_OUT"
	// Stopped means the context was canceled.
	Stopped Outcome = "STOPPED"
	// PlatformFailed means the attempt could not be started for reasons
	// outside the user's control (fork failure, log dir not writable).
	PlatformFailed Outcome = "PLATFORM_FAILED"
	// FatallyFailed is a failure that a retry could not fix, so the step
	// must not be retried: an Http step's 4xx response, a host the node
	// does not allow, or an Http spec that cannot be sent at all. A retry
	// would also re-send a request the server has already refused, which
	// is not harmless for a non-idempotent method.
	FatallyFailed Outcome = "FATALLY_FAILED"
)

// Output is one output param: its Maestro type name (e.g. "LONG") and its raw
// JSON value.
type Output struct {
	Type string
	JSON []byte
}

// Result is what Run reports for an attempt.
type Result struct {
	Outcome Outcome
	// ExitCode is -1 when no process exit code applies (no process, or it
	// was killed by a signal).
	ExitCode int32
	// Error is a human-readable reason when Outcome is not Succeeded.
	Error string
	// LogTail is the last TailBytes bytes of stdout and stderr interleaved
	// in arrival order, as valid UTF-8.
	LogTail string
	// Outputs are the output params; nil if none.
	Outputs                map[string]Output
	StdoutPath, StderrPath string
}

const (
	TailBytes = 4096
	// MaxLogBytes caps each stream's log file; past it a single truncation
	// note is written and the rest is discarded.
	MaxLogBytes = 8 << 20
	// MaxOutputJSONBytes caps the output params JSON a command may print.
	MaxOutputJSONBytes = 1 << 20
)

// KillGrace is how long a terminated process group gets between SIGTERM and
// SIGKILL. It is read once at the start of each Run.
var KillGrace = 5 * time.Second

// drainWindow is how long output may keep arriving after the main process
// exits, for children that still hold its stdout/stderr. It bounds how long
// a forgotten background job can delay the result.
const drainWindow = 500 * time.Millisecond

// limits gathers the tunables so tests can shrink them without mutating
// package state that concurrent Runs read.
type limits struct {
	logBytes    int64
	outputBytes int
	killGrace   time.Duration
	drain       time.Duration
}

// Run executes the attempt and blocks until it finishes, the deadline passes,
// or ctx is canceled. Canceling ctx terminates the process group (SIGTERM,
// then SIGKILL after KillGrace) and returns Stopped.
func Run(ctx context.Context, s Spec) Result {
	return run(ctx, s, limits{
		logBytes:    MaxLogBytes,
		outputBytes: MaxOutputJSONBytes,
		killGrace:   KillGrace,
		drain:       drainWindow,
	})
}

func run(ctx context.Context, s Spec, lim limits) Result {
	if ctx == nil {
		ctx = context.Background()
	}
	localStart := time.Now()
	if ctx.Err() != nil {
		return stopped(ctx, -1)
	}
	switch {
	case strings.EqualFold(s.StepType, "NoOp"):
		return Result{Outcome: Succeeded, ExitCode: -1}
	case strings.EqualFold(s.StepType, "Sleep"):
		return runSleep(ctx, s, localStart)
	case strings.EqualFold(s.StepType, "Shell"):
		return runShell(ctx, s, lim, localStart)
	case strings.EqualFold(s.StepType, "Http"):
		return runHTTP(ctx, s, localStart, httpOptions{})
	default:
		return failed(UserFailed, fmt.Sprintf("unsupported step type %q", s.StepType))
	}
}

func runSleep(ctx context.Context, s Spec, localStart time.Time) Result {
	start := s.StartedAt
	if start.IsZero() {
		start = localStart
	}
	end := start.Add(max(s.SleepFor, 0))
	outcome := Succeeded
	// A sleep that would have ended by the deadline succeeds even when the
	// deadline has since passed too (e.g. the agent was down meanwhile).
	if !s.Deadline.IsZero() && s.Deadline.Before(end) {
		end, outcome = s.Deadline, TimedOut
	}
	t := time.NewTimer(time.Until(end))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return stopped(ctx, -1)
	case <-t.C:
	}
	if outcome == TimedOut {
		return Result{Outcome: TimedOut, ExitCode: -1, Error: timeoutMessage(s, localStart)}
	}
	return Result{Outcome: Succeeded, ExitCode: -1}
}

func failed(o Outcome, msg string) Result {
	return Result{Outcome: o, ExitCode: -1, Error: msg}
}

func stopped(ctx context.Context, code int32) Result {
	cause := context.Cause(ctx)
	msg := "stopped"
	if cause != nil {
		msg += ": " + cause.Error()
	}
	return Result{Outcome: Stopped, ExitCode: code, Error: msg}
}

func timeoutMessage(s Spec, localStart time.Time) string {
	base := s.StartedAt
	if base.IsZero() {
		base = localStart
	}
	d := max(s.Deadline.Sub(base), 0)
	if d >= time.Millisecond {
		d = d.Round(time.Millisecond)
	}
	return "timed out after " + d.String()
}
