package runtime

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"unicode/utf8"
)

// truncatedNote marks where a log file stopped recording.
const truncatedNote = "\n[... truncated ...]\n"

// tailBuffer keeps the last size bytes written to it. Both streams share one
// so the tail shows them interleaved as they arrived.
type tailBuffer struct {
	mu   sync.Mutex
	size int
	buf  []byte
}

func newTailBuffer(size int) *tailBuffer {
	return &tailBuffer{size: size, buf: make([]byte, 0, 2*size)}
}

func (t *tailBuffer) Write(p []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.size <= 0 {
		return
	}
	if len(p) >= t.size {
		t.buf = append(t.buf[:0], p[len(p)-t.size:]...)
		return
	}
	t.buf = append(t.buf, p...)
	if n := len(t.buf); n > t.size {
		copy(t.buf, t.buf[n-t.size:])
		t.buf = t.buf[:t.size]
	}
}

// String returns the tail as valid UTF-8 of at most size bytes. The cut at
// the front may have split a rune, and the command may print arbitrary bytes,
// while the tail ends up in places (RPCs, JSON) that require UTF-8.
func (t *tailBuffer) String() string {
	t.mu.Lock()
	b := bytes.Clone(t.buf)
	t.mu.Unlock()
	for i := 0; i < utf8.UTFMax-1 && len(b) > 0 && !utf8.RuneStart(b[0]); i++ {
		b = b[1:]
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > t.size {
		cut := len(s) - t.size
		for cut < len(s) && !utf8.RuneStart(s[cut]) {
			cut++
		}
		s = s[cut:]
	}
	return s
}

// cappedFile writes a stream to disk up to a limit.
type cappedFile struct {
	f         *os.File
	limit     int64
	n         int64
	truncated bool
}

// Write never fails: a full or broken disk must not stall the step by
// back-pressuring its pipe, and the tail still captures the output.
func (c *cappedFile) Write(p []byte) {
	if c.truncated {
		return
	}
	room := c.limit - c.n
	if int64(len(p)) <= room {
		_, _ = c.f.Write(p)
		c.n += int64(len(p))
		return
	}
	if room > 0 {
		_, _ = c.f.Write(p[:room])
	}
	c.n = c.limit
	_, _ = c.f.WriteString(truncatedNote)
	c.truncated = true
}

// markerScanner finds the output params JSON in stdout: the bytes between the
// last complete START...END token pair. It holds only the pair being read and
// the last complete one, each capped at limit, so a chatty command cannot
// make the agent buffer its whole output.
type markerScanner struct {
	start, end []byte
	limit      int

	inside  bool   // a START was seen and its END has not been yet
	cur     []byte // bytes since that START
	curOver bool

	found    bool // a complete pair was seen
	last     []byte
	lastOver bool

	// carry holds trailing bytes that may be the beginning of a token split
	// across writes.
	carry []byte
}

func newMarkerScanner(start, end string, limit int) *markerScanner {
	return &markerScanner{start: []byte(start), end: []byte(end), limit: limit}
}

func (m *markerScanner) Write(p []byte) {
	if len(m.start) == 0 || len(m.end) == 0 {
		return
	}
	data := p
	if len(m.carry) > 0 {
		data = append(m.carry, p...)
		m.carry = nil
	}
	keep := max(len(m.start), len(m.end)) - 1
	for {
		if !m.inside {
			i := bytes.Index(data, m.start)
			if i < 0 {
				m.keepTail(data, len(m.start)-1)
				return
			}
			data = data[i+len(m.start):]
			m.begin()
			continue
		}
		si := bytes.Index(data, m.start)
		ei := bytes.Index(data, m.end)
		switch {
		case ei >= 0 && (si < 0 || ei < si):
			m.appendCur(data[:ei])
			m.found, m.lastOver = true, m.curOver
			m.last = append(m.last[:0], m.cur...)
			m.inside, m.cur, m.curOver = false, m.cur[:0], false
			data = data[ei+len(m.end):]
		case si >= 0:
			// A new START before any END restarts the pair: the last one wins.
			data = data[si+len(m.start):]
			m.begin()
		default:
			k := min(keep, len(data))
			m.appendCur(data[:len(data)-k])
			m.keepTail(data, k)
			return
		}
	}
}

func (m *markerScanner) begin() {
	m.inside, m.cur, m.curOver = true, m.cur[:0], false
}

func (m *markerScanner) keepTail(data []byte, k int) {
	k = min(k, len(data))
	if k > 0 {
		m.carry = bytes.Clone(data[len(data)-k:])
	}
}

func (m *markerScanner) appendCur(b []byte) {
	if m.curOver {
		return
	}
	if len(m.cur)+len(b) > m.limit {
		m.cur, m.curOver = nil, true
		return
	}
	m.cur = append(m.cur, b...)
}

// result reports the JSON of the last complete pair, whether there was one,
// and whether it exceeded the limit (then data is nil).
func (m *markerScanner) result() (data []byte, found, overflow bool) {
	if !m.found {
		return nil, false, false
	}
	if m.lastOver {
		return nil, true, true
	}
	return m.last, true, false
}
