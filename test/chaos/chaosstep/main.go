// Command chaosstep is the program the chaos suite's Shell steps run. Each
// execution appends one line to its node's ledger before doing anything
// else, so that every time an attempt really ran is on disk, whatever the
// cluster later records about it.
//
//	chaosstep LEDGER_DIR [fail=N] [sleep=MS]
//
// appends "attempt_id generation node attempt unix_nanos pid" to
// LEDGER_DIR/<node>.ledger, sleeps MS milliseconds, and exits 1 while the
// attempt number is at most N (so the step is retried N times).
//
// The suite's container image is FROM scratch and the Shell runtime always
// starts /bin/sh -c COMMAND, so the image also installs this program as
// /bin/sh: called as "sh -c COMMAND ..." it splits COMMAND on blanks and
// executes it. The suite's commands use no shell syntax, so a real shell
// (the process backend) and this one run them the same way.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) >= 3 && os.Args[1] == "-c" {
		os.Exit(shell(os.Args[2]))
	}
	os.Exit(step(os.Args[1:]))
}

// shell executes a command line of plain words in place of this process, so
// the step keeps the process (and process group) the runtime started.
func shell(command string) int {
	words := strings.Fields(command)
	if len(words) == 0 {
		fmt.Fprintln(os.Stderr, "chaosstep sh: empty command")
		return 2
	}
	err := syscall.Exec(words[0], words, os.Environ())
	fmt.Fprintf(os.Stderr, "chaosstep sh: exec %s: %v\n", words[0], err)
	return 127
}

func step(args []string) int {
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: chaosstep LEDGER_DIR [fail=N] [sleep=MS]")
		return 2
	}
	dir := args[0]
	fail, sleep := int64(0), time.Duration(0)
	for _, a := range args[1:] {
		k, v, _ := strings.Cut(a, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "chaosstep: bad argument %q\n", a)
			return 2
		}
		switch k {
		case "fail":
			fail = n
		case "sleep":
			sleep = time.Duration(n) * time.Millisecond
		default:
			fmt.Fprintf(os.Stderr, "chaosstep: unknown argument %q\n", a)
			return 2
		}
	}
	id, gen, node := os.Getenv("BATON_ATTEMPT_ID"), os.Getenv("BATON_GENERATION"), os.Getenv("BATON_NODE")
	attempt, err := strconv.ParseInt(os.Getenv("BATON_ATTEMPT"), 10, 64)
	if id == "" || gen == "" || node == "" || err != nil {
		fmt.Fprintln(os.Stderr, "chaosstep: BATON_ATTEMPT_ID, BATON_GENERATION, BATON_NODE and BATON_ATTEMPT must be set")
		return 2
	}
	line := fmt.Sprintf("%s %s %s %d %d %d\n", id, gen, node, attempt, time.Now().UnixNano(), os.Getpid())
	// One write with O_APPEND: lines from concurrent attempts never interleave.
	f, err := os.OpenFile(filepath.Join(dir, node+".ledger"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
	if err != nil {
		fmt.Fprintf(os.Stderr, "chaosstep: open ledger: %v\n", err)
		return 3
	}
	if _, err := f.WriteString(line); err != nil {
		fmt.Fprintf(os.Stderr, "chaosstep: write ledger: %v\n", err)
		return 3
	}
	if err := f.Close(); err != nil {
		fmt.Fprintf(os.Stderr, "chaosstep: close ledger: %v\n", err)
		return 3
	}
	time.Sleep(sleep)
	if attempt <= fail {
		fmt.Printf("attempt %d fails on purpose (fail=%d)\n", attempt, fail)
		return 1
	}
	fmt.Printf("attempt %d on %s done\n", attempt, node)
	return 0
}
