package bench

import (
	"os"
	"testing"
	"time"
)

func TestParseProcStatCPU(t *testing.T) {
	// Fields 14 and 15 (utime, stime) are 250 and 50 ticks: 3 s. The
	// command name holds spaces and parentheses.
	line := "4242 (baton (agent) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 12 0 99 123456 789 18446744073709551615\n"
	got, err := parseProcStatCPU(line)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parse = %v, %v; want 3s", got, err)
	}
	for _, bad := range []string{
		"",
		"4242 baton S 1",
		"4242 (baton) S 1 2 3",
		"4242 (baton) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 50 0",
		"4242 (baton) S 1 4242 4242 0 -1 4194560 1234 0 0 0 -5 50 0",
	} {
		if _, err := parseProcStatCPU(bad); err == nil {
			t.Errorf("parse(%q) did not fail", bad)
		}
	}
}

// This process's own counter, read the way the agents' are, grows while it
// computes.
func TestProcessCPUGrows(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	x := 1
	for time.Now().Before(deadline) {
		for i := 0; i < 1e6; i++ {
			x = x*31 + i
		}
		now, err := processCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if now > before {
			return
		}
	}
	t.Fatalf("CPU time stayed at %v through 10 s of computing (%d)", before, x)
}
