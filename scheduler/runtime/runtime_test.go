package runtime

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"
)

// slow is a bound that only a broken implementation reaches; the commands
// under test would otherwise run for 30s or more.
const slow = 20 * time.Second

func defaultLimits() limits {
	return limits{logBytes: MaxLogBytes, outputBytes: MaxOutputJSONBytes, killGrace: KillGrace, drain: drainWindow}
}

func shellSpec(t *testing.T, command string, args ...string) Spec {
	t.Helper()
	return Spec{
		AttemptID: "wf/3/step-a/2",
		StepID:    "step-a",
		StepType:  "Shell",
		StartedAt: time.Now(),
		LogDir:    filepath.Join(t.TempDir(), "logs"),
		Shell:     &ShellSpec{Command: command, Args: args},
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	return string(b)
}

func wantOutcome(t *testing.T, r Result, o Outcome, code int32) {
	t.Helper()
	if r.Outcome != o || r.ExitCode != code {
		t.Fatalf("got %s/%d (error %q, tail %q), want %s/%d", r.Outcome, r.ExitCode, r.Error, r.LogTail, o, code)
	}
}

func wantOutputs(t *testing.T, r Result, want map[string]Output) {
	t.Helper()
	if len(r.Outputs) != len(want) {
		t.Fatalf("outputs = %v, want %v", r.Outputs, want)
	}
	for name, w := range want {
		got, ok := r.Outputs[name]
		if !ok || got.Type != w.Type || !bytes.Equal(got.JSON, w.JSON) {
			t.Fatalf("output %s = %s %s, want %s %s", name, got.Type, got.JSON, w.Type, w.JSON)
		}
	}
}

// pidFrom waits for a command to have written a PID to path.
func pidFrom(t *testing.T, path string) int {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; {
		b, err := os.ReadFile(path)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				return pid
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no pid in %s", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGone reports whether pid has died. A killed orphan may linger as a
// zombie when PID 1 does not reap (common in containers), which counts as
// gone.
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	state := b[i+2]
	return state == 'Z' || state == 'X'
}

func waitGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !processGone(pid); {
		if time.Now().After(end) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("process %d is still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestShell(t *testing.T) {
	printPair := `printf '%s{"params":{"x":{"value":42,"type":"LONG"}}}%s' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"`
	tests := []struct {
		name  string
		cmd   string
		args  []string
		spec  func(t *testing.T, s *Spec)
		lim   func(l *limits)
		check func(t *testing.T, s Spec, r Result)
	}{
		{
			name: "success",
			cmd:  "echo hello",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if r.Error != "" || r.Outputs != nil || r.LogTail != "hello\n" {
					t.Fatalf("result = %+v", r)
				}
				if got := readFile(t, r.StdoutPath); got != "hello\n" {
					t.Fatalf("stdout file = %q", got)
				}
				if filepath.Dir(r.StdoutPath) != s.LogDir || filepath.Base(r.StdoutPath) != "wf_3_step-a_2.stdout.log" {
					t.Fatalf("stdout path = %s", r.StdoutPath)
				}
			},
		},
		{
			name: "exit code",
			cmd:  "echo bad >&2; exit 3",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, 3)
				if r.Error != "exit code 3" || r.LogTail != "bad\n" {
					t.Fatalf("result = %+v", r)
				}
				if got := readFile(t, r.StderrPath); got != "bad\n" {
					t.Fatalf("stderr file = %q", got)
				}
			},
		},
		{
			name: "tail interleaves streams in arrival order",
			cmd:  "echo out1; sleep 0.3; echo err1 >&2; sleep 0.3; echo out2",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if r.LogTail != "out1\nerr1\nout2\n" {
					t.Fatalf("tail = %q", r.LogTail)
				}
				if got := readFile(t, r.StdoutPath); got != "out1\nout2\n" {
					t.Fatalf("stdout file = %q", got)
				}
				if got := readFile(t, r.StderrPath); got != "err1\n" {
					t.Fatalf("stderr file = %q", got)
				}
			},
		},
		{
			name: "output params",
			cmd:  "echo before; " + printPair + "; echo after",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				wantOutputs(t, r, map[string]Output{"x": {Type: "LONG", JSON: []byte("42")}})
			},
		},
		{
			name: "last pair wins",
			cmd: `printf '%s{"params":{"x":{"value":1},"y":{"value":"a"}}}%s\n' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"
				echo noise
				printf '%s{"params":{"x":{"value":2.5}}}%s\n' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				wantOutputs(t, r, map[string]Output{"x": {Type: "DOUBLE", JSON: []byte("2.5")}})
			},
		},
		{
			name: "output split across writes",
			cmd: `printf '%s{"params":{"x":' "$MAESTRO_OUTPUT_START"; sleep 0.2
				printf '\n  {"value": ["a", "b"]}}}%s' "$MAESTRO_OUTPUT_END"`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				wantOutputs(t, r, map[string]Output{"x": {Type: "STRING_ARRAY", JSON: []byte(`["a","b"]`)}})
			},
		},
		{
			name: "marker token split across writes",
			cmd: `s=$MAESTRO_OUTPUT_START; head=${s%??????????}
				printf '%s' "$head"; sleep 0.2; printf '%s' "${s#"$head"}"
				printf '{"params":{"ok":{"value":true}}}%s' "$MAESTRO_OUTPUT_END"`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				wantOutputs(t, r, map[string]Output{"ok": {Type: "BOOLEAN", JSON: []byte("true")}})
			},
		},
		{
			name: "invalid output JSON",
			cmd:  `printf '%s{"params":{"x":%s' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, 0)
				if !strings.HasPrefix(r.Error, "output params: invalid JSON at offset") || r.Outputs != nil {
					t.Fatalf("result = %+v", r)
				}
			},
		},
		{
			name: "wrong output shape",
			cmd:  `printf '%s{"params":[1]}%s' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, 0)
				if !strings.Contains(r.Error, `"params" must be an object`) {
					t.Fatalf("error = %q", r.Error)
				}
			},
		},
		{
			name: "outputs ignored on failure",
			cmd:  printPair + "; exit 1",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, 1)
				if r.Error != "exit code 1" || r.Outputs != nil {
					t.Fatalf("result = %+v", r)
				}
			},
		},
		{
			name: "output too large",
			cmd:  `printf '%s{"params":{"x":{"value":"0123456789"}}}%s' "$MAESTRO_OUTPUT_START" "$MAESTRO_OUTPUT_END"`,
			lim:  func(l *limits) { l.outputBytes = 16 },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, 0)
				if !strings.Contains(r.Error, "more than 16 bytes") {
					t.Fatalf("error = %q", r.Error)
				}
			},
		},
		{
			name: "args",
			cmd:  `printf '%s|%s|%s|%s' "$0" "$1" "$2" "$#"`,
			args: []string{"a b", "$HOME"},
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if r.LogTail != "baton-step|a b|$HOME|2" {
					t.Fatalf("tail = %q", r.LogTail)
				}
			},
		},
		{
			name: "env",
			cmd: `echo "$BATON_WORKFLOW_ID|$LAYER|$BATON_ATTEMPT_ID|$BATON_STEP_ID|$PATH"
				case $MAESTRO_OUTPUT_START in __MAESTRO_OUTPUT_START_*__) echo start-ok;; esac
				case $MAESTRO_OUTPUT_END in __MAESTRO_OUTPUT_END_*__) echo end-ok;; esac`,
			spec: func(t *testing.T, s *Spec) {
				s.Env = map[string]string{"BATON_WORKFLOW_ID": "wf", "LAYER": "spec"}
				s.Shell.Env = map[string]string{"LAYER": "step", "MAESTRO_OUTPUT_START": "hijacked"}
			},
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				want := "wf|step|wf/3/step-a/2|step-a|" + os.Getenv("PATH") + "\nstart-ok\nend-ok\n"
				if r.LogTail != want {
					t.Fatalf("tail = %q, want %q", r.LogTail, want)
				}
			},
		},
		{
			name: "invalid env",
			cmd:  "true",
			spec: func(t *testing.T, s *Spec) { s.Shell.Env = map[string]string{"A=B": "c"} },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
			},
		},
		{
			name: "args too large to exec",
			cmd:  "true",
			args: []string{strings.Repeat("a", 1<<20)},
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
			},
		},
		{
			name: "working dir",
			cmd:  "pwd -P",
			spec: func(t *testing.T, s *Spec) { s.Shell.WorkingDir = t.TempDir() },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				want, err := filepath.EvalSymlinks(s.Shell.WorkingDir)
				if err != nil {
					t.Fatal(err)
				}
				if r.LogTail != want+"\n" {
					t.Fatalf("tail = %q, want %q", r.LogTail, want)
				}
			},
		},
		{
			name: "working dir defaults to log dir",
			cmd:  "pwd -P",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				want, err := filepath.EvalSymlinks(s.LogDir)
				if err != nil {
					t.Fatal(err)
				}
				if r.LogTail != want+"\n" {
					t.Fatalf("tail = %q, want %q", r.LogTail, want)
				}
			},
		},
		{
			name: "missing working dir",
			cmd:  "true",
			spec: func(t *testing.T, s *Spec) { s.Shell.WorkingDir = filepath.Join(t.TempDir(), "nope") },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
			},
		},
		{
			name: "empty command",
			cmd:  "  ",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
				if r.Error == "" {
					t.Fatal("no error")
				}
			},
		},
		{
			name: "no shell spec",
			spec: func(t *testing.T, s *Spec) { s.Shell = nil },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
			},
		},
		{
			name: "log dir not writable",
			cmd:  "true",
			spec: func(t *testing.T, s *Spec) {
				file := filepath.Join(t.TempDir(), "file")
				if err := os.WriteFile(file, nil, 0o644); err != nil {
					t.Fatal(err)
				}
				s.LogDir = filepath.Join(file, "logs")
			},
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, PlatformFailed, -1)
			},
		},
		{
			name: "killed by signal",
			cmd:  "echo dying; kill -KILL $$",
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, UserFailed, -1)
				if !strings.Contains(r.Error, "SIGKILL") || r.LogTail != "dying\n" {
					t.Fatalf("result = %+v", r)
				}
			},
		},
		{
			name: "log cap",
			cmd:  "yes abcdefghi | head -c 5000; echo err >&2",
			lim:  func(l *limits) { l.logBytes = 1000 },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				out := readFile(t, r.StdoutPath)
				if len(out) != 1000+len(truncatedNote) || !strings.HasSuffix(out, truncatedNote) ||
					strings.Count(out, "truncated") != 1 || !strings.HasPrefix(out, "abcdefghi\n") {
					t.Fatalf("stdout file has %d bytes, ends %q", len(out), out[max(0, len(out)-40):])
				}
				if got := readFile(t, r.StderrPath); got != "err\n" {
					t.Fatalf("stderr file = %q", got)
				}
				// The tail is not capped with the files: it keeps the latest output.
				if len(r.LogTail) != TailBytes || !strings.Contains(r.LogTail, "abcdefghi\n") {
					t.Fatalf("tail has %d bytes, ends %q", len(r.LogTail), r.LogTail[max(0, len(r.LogTail)-40):])
				}
			},
		},
		{
			name: "tail is valid UTF-8 after a split rune",
			cmd:  `i=0; while [ $i -lt 3000 ]; do printf 'é'; i=$((i+1)); done; echo`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if !utf8.ValidString(r.LogTail) || len(r.LogTail) != TailBytes-1 || !strings.HasPrefix(r.LogTail, "éé") {
					t.Fatalf("tail has %d bytes, valid=%v, starts %q", len(r.LogTail), utf8.ValidString(r.LogTail), r.LogTail[:min(8, len(r.LogTail))])
				}
			},
		},
		{
			name: "tail is valid UTF-8 for binary output",
			cmd:  `printf 'a\377\376b'`,
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if r.LogTail != "a\uFFFDb" {
					t.Fatalf("tail = %q", r.LogTail)
				}
			},
		},
		{
			name: "background child holding stdout does not block the result",
			cmd:  `sleep 100 & echo $! > "$1"; echo hi`,
			spec: func(t *testing.T, s *Spec) { s.Shell.Args = []string{filepath.Join(t.TempDir(), "pid")} },
			check: func(t *testing.T, s Spec, r Result) {
				wantOutcome(t, r, Succeeded, 0)
				if r.LogTail != "hi\n" {
					t.Fatalf("tail = %q", r.LogTail)
				}
				waitGone(t, pidFrom(t, s.Shell.Args[0]))
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := shellSpec(t, tc.cmd, tc.args...)
			if tc.spec != nil {
				tc.spec(t, &s)
			}
			lim := defaultLimits()
			if tc.lim != nil {
				tc.lim(&lim)
			}
			start := time.Now()
			r := run(context.Background(), s, lim)
			if d := time.Since(start); d > slow {
				t.Errorf("took %v", d)
			}
			tc.check(t, s, r)
		})
	}
}

func TestShellDeadlineKillsGroup(t *testing.T) {
	t.Parallel()
	s := shellSpec(t, `sleep 30 & echo $! > "$1"; sleep 30`, filepath.Join(t.TempDir(), "pid"))
	s.Deadline = s.StartedAt.Add(time.Second)
	start := time.Now()
	r := Run(context.Background(), s)
	if d := time.Since(start); d > slow {
		t.Fatalf("took %v", d)
	}
	wantOutcome(t, r, TimedOut, -1)
	if r.Error != "timed out after 1s" {
		t.Fatalf("error = %q", r.Error)
	}
	waitGone(t, pidFrom(t, s.Shell.Args[0]))
}

func TestShellDeadlineAlreadyPassed(t *testing.T) {
	t.Parallel()
	s := shellSpec(t, "echo ran")
	s.StartedAt = time.Now().Add(-time.Minute)
	s.Deadline = s.StartedAt.Add(30 * time.Second)
	r := Run(context.Background(), s)
	wantOutcome(t, r, TimedOut, -1)
	if r.Error != "timed out after 30s" || r.LogTail != "" {
		t.Fatalf("result = %+v", r)
	}
}

func TestShellCancel(t *testing.T) {
	t.Parallel()
	s := shellSpec(t, `echo started; sleep 30 & echo $! > "$1"; wait`, filepath.Join(t.TempDir(), "pid"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel()
		for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
			if b, _ := os.ReadFile(s.Shell.Args[0]); len(b) > 0 {
				return
			}
		}
	}()
	start := time.Now()
	r := Run(ctx, s)
	if d := time.Since(start); d > slow {
		t.Fatalf("took %v", d)
	}
	wantOutcome(t, r, Stopped, -1)
	if r.Error != "stopped: context canceled" || r.LogTail != "started\n" {
		t.Fatalf("result = %+v", r)
	}
	waitGone(t, pidFrom(t, s.Shell.Args[0]))
}

func TestShellCancelEscalatesToKill(t *testing.T) {
	t.Parallel()
	s := shellSpec(t, `trap '' TERM; echo ready; sleep 30; echo survived`)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	lim := defaultLimits()
	lim.killGrace = 300 * time.Millisecond
	start := time.Now()
	r := run(ctx, s, lim)
	if d := time.Since(start); d > slow {
		t.Fatalf("took %v", d)
	}
	wantOutcome(t, r, Stopped, -1)
	if r.LogTail != "ready\n" || !strings.Contains(r.Error, "deadline exceeded") {
		t.Fatalf("result = %+v", r)
	}
}

func TestShellCanceledBeforeStart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := shellSpec(t, "echo ran")
	r := Run(ctx, s)
	wantOutcome(t, r, Stopped, -1)
	if _, err := os.Stat(s.LogDir); !os.IsNotExist(err) {
		t.Fatalf("log dir was created: %v", err)
	}
}

// A process that leaves the group cannot be killed with it; the runtime must
// still return once the main process has exited.
func TestShellEscapedChildHoldingPipes(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not available")
	}
	pidFile := filepath.Join(t.TempDir(), "pid")
	s := shellSpec(t, `setsid sh -c 'echo $$ > "$1"; exec sleep 100' escaped "$1" &
		echo main-done`, pidFile)
	start := time.Now()
	r := Run(context.Background(), s)
	if d := time.Since(start); d > slow {
		t.Fatalf("took %v", d)
	}
	pid := pidFrom(t, pidFile)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	wantOutcome(t, r, Succeeded, 0)
	if r.LogTail != "main-done\n" {
		t.Fatalf("tail = %q", r.LogTail)
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		spec        func(now time.Time) Spec
		cancelAfter time.Duration
		want        Outcome
		wantError   string
		atLeast     time.Duration
	}{
		{
			name: "sleeps only the remainder",
			spec: func(now time.Time) Spec {
				return Spec{StartedAt: now.Add(-time.Hour), SleepFor: time.Hour + 400*time.Millisecond}
			},
			want:    Succeeded,
			atLeast: 100 * time.Millisecond,
		},
		{
			name: "already over",
			spec: func(now time.Time) Spec { return Spec{StartedAt: now.Add(-time.Hour), SleepFor: time.Minute} },
			want: Succeeded,
		},
		{
			name: "ended before a deadline that has since passed",
			spec: func(now time.Time) Spec {
				return Spec{StartedAt: now.Add(-time.Hour), SleepFor: time.Minute, Deadline: now.Add(-30 * time.Minute)}
			},
			want: Succeeded,
		},
		{
			name: "deadline first",
			spec: func(now time.Time) Spec {
				return Spec{StartedAt: now, SleepFor: 30 * time.Second, Deadline: now.Add(300 * time.Millisecond)}
			},
			want:      TimedOut,
			wantError: "timed out after 300ms",
		},
		{
			name:        "canceled",
			spec:        func(now time.Time) Spec { return Spec{StartedAt: now, SleepFor: 30 * time.Second} },
			cancelAfter: 200 * time.Millisecond,
			want:        Stopped,
			wantError:   "stopped: context canceled",
		},
		{
			name: "zero start time",
			spec: func(now time.Time) Spec { return Spec{SleepFor: 50 * time.Millisecond} },
			want: Succeeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancelAfter > 0 {
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			// Times are taken here, not when the table is built, because a
			// parallel subtest may wait a while for a free slot.
			start := time.Now()
			s := tc.spec(start)
			s.StepType = "Sleep"
			r := Run(ctx, s)
			d := time.Since(start)
			if d > slow || d < tc.atLeast {
				t.Fatalf("took %v", d)
			}
			wantOutcome(t, r, tc.want, -1)
			if r.Error != tc.wantError {
				t.Fatalf("error = %q, want %q", r.Error, tc.wantError)
			}
		})
	}
}

func TestOtherStepTypes(t *testing.T) {
	t.Parallel()
	r := Run(context.Background(), Spec{StepType: "NoOp"})
	wantOutcome(t, r, Succeeded, -1)

	r = Run(context.Background(), Spec{StepType: "Docker"})
	wantOutcome(t, r, UserFailed, -1)
	if !strings.Contains(r.Error, "Docker") {
		t.Fatalf("error = %q", r.Error)
	}

	var nilCtx context.Context
	r = Run(nilCtx, Spec{StepType: "NoOp"})
	wantOutcome(t, r, Succeeded, -1)
}

// Not parallel, so that the goroutine count is not disturbed by other tests.
func TestNoGoroutinesLeft(t *testing.T) {
	before := goruntime.NumGoroutine()
	s := shellSpec(t, `sleep 100 & echo hi`)
	if r := Run(context.Background(), s); r.Outcome != Succeeded {
		t.Fatalf("result = %+v", r)
	}
	s = shellSpec(t, `sleep 30`)
	s.Deadline = time.Now().Add(200 * time.Millisecond)
	if r := Run(context.Background(), s); r.Outcome != TimedOut {
		t.Fatalf("result = %+v", r)
	}
	for end := time.Now().Add(5 * time.Second); goruntime.NumGoroutine() > before; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
		}
	}
}
