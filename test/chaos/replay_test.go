package chaos

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// TestReplayHistory checks a register history a pass saved (the file a
// skipped or failed linearizability check names) with porcupine again:
// BATON_CHAOS_HISTORY=FILE go test ./test/chaos -run TestReplayHistory -v.
// It also finds the shortest prefix of the history porcupine rejects or
// cannot decide, by the call times of its operations, to show where the
// difficulty starts.
func TestReplayHistory(t *testing.T) {
	path := os.Getenv("BATON_CHAOS_HISTORY")
	if path == "" {
		t.Skip("set BATON_CHAOS_HISTORY to a history file a pass saved")
	}
	ops, err := readHistory(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(n int, within time.Duration) porcupine.CheckResult {
		// Operations that returned after the prefix's last call are
		// still open at its end: their outcome is not known yet.
		end := ops[n-1].Call
		part := make([]porcupine.Operation, n)
		for i, op := range ops[:n] {
			if op.Return > end {
				op.Return, op.Output = math.MaxInt64, (*linOutput)(nil)
			}
			part[i] = op
		}
		v, _ := porcupine.CheckOperationsVerbose(linModel, part, within)
		return v
	}
	lo, hi := 1, len(ops)
	if v := check(hi, 5*time.Minute); v == porcupine.Ok {
		t.Logf("all %d operations are linearizable", hi)
		return
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if check(mid, 10*time.Second) == porcupine.Ok {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	t.Errorf("the first %d operations are linearizable; with operation %d (called at %s) porcupine rejects them or gives no verdict in 10 s",
		hi-1, hi, time.Duration(ops[hi-1].Call))
}

var historyLine = regexp.MustCompile(`^(\S+) \.\. (\S+) client (\d+) via (\S+): (push|activate|get|start)\(([^,)]+)(?:, content (\d+)|, v(\d+))?\) -> (.*)$`)

// readHistory parses what history.describe wrote.
func readHistory(path string) ([]porcupine.Operation, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	midnight, _ := time.Parse("15:04:05.000000", "00:00:00.000000")
	at := func(s string) (int64, error) {
		if s == "never" {
			return math.MaxInt64, nil
		}
		tm, err := time.Parse("15:04:05.000000", s)
		if err != nil {
			return 0, err
		}
		return int64(tm.Sub(midnight)), nil
	}
	var ops []porcupine.Operation
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		m := historyLine.FindStringSubmatch(sc.Text())
		if m == nil {
			return nil, fmt.Errorf("%s:%d: not an operation: %q", path, line, sc.Text())
		}
		call, err := at(m[1])
		if err != nil {
			return nil, err
		}
		ret, err := at(m[2])
		if err != nil {
			return nil, err
		}
		client, _ := strconv.Atoi(m[3])
		in := linInput{key: m[6]}
		in.content, _ = strconv.Atoi(m[7])
		in.version, _ = strconv.ParseInt(m[8], 10, 64)
		switch m[5] {
		case "push":
			in.kind = opPush
		case "activate":
			in.kind = opActivate
		case "get":
			in.kind = opGet
		case "start":
			in.kind = opStart
		}
		out, err := parseOutcome(in.kind, m[9])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		ops = append(ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Output: out, Metadata: m[4]})
	}
	return ops, sc.Err()
}

func parseOutcome(kind opKind, s string) (*linOutput, error) {
	var v, c int64
	var created bool
	switch {
	case s == "?":
		return nil, nil
	case s == "not found":
		return &linOutput{notFound: true}, nil
	case s == "ok":
		return &linOutput{}, nil
	}
	if n, _ := fmt.Sscanf(s, "v%d created=%t", &v, &created); n == 2 && kind == opPush {
		return &linOutput{version: v, created: created}, nil
	}
	if n, _ := fmt.Sscanf(s, "active v%d content %d", &v, &c); n == 2 {
		return &linOutput{version: v, content: int(c)}, nil
	}
	if n, _ := fmt.Sscanf(s, "v%d", &v); n == 1 {
		return &linOutput{version: v}, nil
	}
	return nil, fmt.Errorf("unknown outcome %q", s)
}

// A saved history reads back as the operations it describes, so that a
// replay checks what the pass checked.
func TestSavedHistoryReadsBack(t *testing.T) {
	k := "chaos-reg-1"
	h := &history{epoch: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	us := int64(time.Microsecond)
	h.ops = []porcupine.Operation{
		op(1, linInput{kind: opPush, key: k, content: 7}, 1*us, 9*us, &linOutput{version: 1, created: true}),
		op(2, linInput{kind: opPush, key: k, content: 8}, 2*us, math.MaxInt64, nil),
		op(3, linInput{kind: opActivate, key: k, version: 1}, 3*us, 8*us, &linOutput{}),
		op(1, linInput{kind: opActivate, key: k, version: 5}, 10*us, 11*us, &linOutput{notFound: true}),
		op(2, linInput{kind: opGet, key: k}, 12*us, 13*us, &linOutput{version: 1, content: 7}),
		op(3, linInput{kind: opStart, key: k}, 14*us, 15*us, &linOutput{version: 1}),
	}
	for i := range h.ops {
		h.ops[i].Metadata = "n2"
	}
	file := writeEvidence("history-readback", h.describe(h.ops))
	defer os.Remove(file)
	got, err := readHistory(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(h.ops) {
		t.Fatalf("read %d operations, wrote %d", len(got), len(h.ops))
	}
	for i, want := range h.ops {
		g := got[i]
		if g.Input != want.Input || g.ClientId != want.ClientId || g.Metadata != want.Metadata {
			t.Errorf("operation %d: read %+v, wrote %+v", i, g, want)
		}
		if wo, gotOut := want.Output.(*linOutput), g.Output.(*linOutput); (wo == nil) != (gotOut == nil) || (wo != nil && *wo != *gotOut) {
			t.Errorf("operation %d: read outcome %+v, wrote %+v", i, gotOut, wo)
		}
		if (want.Return == math.MaxInt64) != (g.Return == math.MaxInt64) || (want.Return != math.MaxInt64 && g.Return-g.Call != want.Return-want.Call) {
			t.Errorf("operation %d: read %d..%d, wrote %d..%d", i, g.Call, g.Return, want.Call, want.Return)
		}
	}
}
