package runtime

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestMarkerScanner(t *testing.T) {
	const (
		S = "__MAESTRO_OUTPUT_START_0123456789abcdef__"
		E = "__MAESTRO_OUTPUT_END_fedcba9876543210__"
	)
	tests := []struct {
		name     string
		in       string
		limit    int
		want     string
		found    bool
		overflow bool
	}{
		{name: "none", in: "just logs\n", limit: 100},
		{name: "one pair", in: "log " + S + `{"a":1}` + E + " more", limit: 100, want: `{"a":1}`, found: true},
		{name: "last pair wins", in: S + "one" + E + "\n" + S + "two" + E + "\n", limit: 100, want: "two", found: true},
		{name: "restarted pair", in: S + "one" + S + "two" + E, limit: 100, want: "two", found: true},
		{name: "unterminated last pair is ignored", in: S + "one" + E + S + "two", limit: 100, want: "one", found: true},
		{name: "end without start", in: E + "x" + S + "y", limit: 100},
		{name: "empty pair", in: S + E, limit: 100, want: "", found: true},
		{name: "token look-alike is content", in: S + "a__MAESTRO_OUTPUT_b" + E, limit: 100, want: "a__MAESTRO_OUTPUT_b", found: true},
		{name: "adjacent pairs", in: S + "a" + E + S + "b" + E, limit: 100, want: "b", found: true},
		{name: "over the limit", in: S + "12345" + E, limit: 4, found: true, overflow: true},
		{name: "exactly the limit", in: S + "1234" + E, limit: 4, want: "1234", found: true},
		{name: "big pair then small one", in: S + "12345" + E + S + "ok" + E, limit: 4, want: "ok", found: true},
		{name: "small pair then big one", in: S + "ok" + E + S + "12345" + E, limit: 4, found: true, overflow: true},
		{name: "big unterminated pair after a good one", in: S + "ok" + E + S + strings.Repeat("x", 100), limit: 4, want: "ok", found: true},
	}
	for _, tc := range tests {
		// Every split point matters: tokens may straddle writes anywhere.
		for _, chunk := range []int{len(tc.in) + 1, 1, 2, 3, 7, 40} {
			m := newMarkerScanner(S, E, tc.limit)
			for i := 0; i < len(tc.in); i += chunk {
				m.Write([]byte(tc.in[i:min(i+chunk, len(tc.in))]))
			}
			data, found, overflow := m.result()
			if string(data) != tc.want || found != tc.found || overflow != tc.overflow {
				t.Errorf("%s (chunks of %d): got %q found=%v overflow=%v, want %q found=%v overflow=%v",
					tc.name, chunk, data, found, overflow, tc.want, tc.found, tc.overflow)
			}
		}
	}
}

func TestMarkerScannerBoundedMemory(t *testing.T) {
	const S, E = "<<start>>", "<<end>>"
	m := newMarkerScanner(S, E, 64)
	noise := []byte(strings.Repeat("x", 1000))
	m.Write([]byte(S))
	for range 1000 {
		m.Write(noise)
	}
	if cap(m.cur) > 64 || len(m.carry) >= len(S) {
		t.Fatalf("holding %d + %d bytes", cap(m.cur), len(m.carry))
	}
	m.Write([]byte(E))
	if _, found, overflow := m.result(); !found || !overflow {
		t.Fatalf("found=%v overflow=%v", found, overflow)
	}
}

func TestTailBuffer(t *testing.T) {
	tests := []struct {
		name   string
		size   int
		writes []string
		want   string
	}{
		{name: "short", size: 8, writes: []string{"ab", "cd"}, want: "abcd"},
		{name: "wraps", size: 8, writes: []string{"abcdef", "ghijkl"}, want: "efghijkl"},
		{name: "one big write", size: 4, writes: []string{"abcdefgh"}, want: "efgh"},
		{name: "split rune at the front", size: 5, writes: []string{"aé€b"}, want: "€b"},
		{name: "invalid bytes", size: 8, writes: []string{"a\xffb"}, want: "a\uFFFDb"},
		{name: "replacement keeps the size", size: 4, writes: []string{"\xff\xff\xff\xff"}, want: "\uFFFD"},
		{name: "split rune at the end", size: 8, writes: []string{"ab\xe2\x82"}, want: "ab\uFFFD"},
	}
	for _, tc := range tests {
		tb := newTailBuffer(tc.size)
		for _, w := range tc.writes {
			tb.Write([]byte(w))
		}
		got := tb.String()
		if got != tc.want || !utf8.ValidString(got) || len(got) > tc.size {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestCappedFile(t *testing.T) {
	for _, tc := range []struct {
		name   string
		writes []string
		want   string
	}{
		{name: "under", writes: []string{"ab", "c"}, want: "abc"},
		{name: "exactly", writes: []string{"ab", "cd"}, want: "abcd"},
		{name: "over in one write", writes: []string{"abcdef", "gh"}, want: "abcd" + truncatedNote},
		{name: "over across writes", writes: []string{"abc", "de", "f"}, want: "abcd" + truncatedNote},
	} {
		path := filepath.Join(t.TempDir(), "log")
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		c := &cappedFile{f: f, limit: 4}
		for _, w := range tc.writes {
			c.Write([]byte(w))
		}
		f.Close()
		if got := readFile(t, path); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestLogFileBase(t *testing.T) {
	long := strings.Repeat("a", 300)
	for in, want := range map[string]string{
		"wf/3/step-a/2": "wf_3_step-a_2",
		"":              "attempt",
		"..":            "attempt..",
		"a b\x00é":      "a_b___",
	} {
		if got := logFileBase(in); got != want {
			t.Errorf("logFileBase(%q) = %q, want %q", in, got, want)
		}
	}
	a, b := logFileBase(long), logFileBase(long+"b")
	if len(a) > 120 || a == b || strings.ContainsAny(a, "/") {
		t.Errorf("long ids: %q, %q", a, b)
	}
}
