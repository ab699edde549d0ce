package fsm

import (
	"sync"
)

// writeFeedSize is how many writes the feed keeps. The leader reads it every
// round, a few milliseconds apart, so it falls this far behind only after a
// pause; it then plans every instance once, as a new leader does.
const writeFeedSize = 1 << 16

// writeFeed lists, in the order committed entries wrote them, the instances
// whose record or step records were written or deleted, each with the
// entry's index. The leader reads it to re-plan only the instances that
// changed (scheduler.QuietInstances). It is local bookkeeping, not state: a
// restore starts it over, and nothing replicated reads it.
type writeFeed struct {
	mu sync.RWMutex
	// gen changes when the feed starts over (a restore): positions taken
	// before say nothing about the new store.
	gen  uint64
	next uint64 // sequence number of the next write
	ring [writeFeedSize]feedWrite
}

type feedWrite struct {
	index uint64
	key   InstanceKey
}

// FeedPos is a reader's position in the write feed.
type FeedPos struct {
	gen, seq uint64
}

func (w *writeFeed) add(index uint64, keys []InstanceKey) {
	if len(keys) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, k := range keys {
		w.ring[w.next%writeFeedSize] = feedWrite{index: index, key: k}
		w.next++
	}
}

// reset starts the feed over: the store was replaced.
func (w *writeFeed) reset() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gen++
	w.next = 0
}

// since returns the instances written from position from on by entries up
// to index through, and the position after them. ok is false when the feed
// no longer holds from (it was overwritten, or the feed started over): the
// caller must then assume every instance changed, and reads on from next.
func (w *writeFeed) since(from FeedPos, through uint64) (keys []InstanceKey, next FeedPos, ok bool) {
	w.mu.RLock()
	defer w.mu.RUnlock()
	oldest := uint64(0)
	if w.next > writeFeedSize {
		oldest = w.next - writeFeedSize
	}
	ok = from.gen == w.gen && from.seq >= oldest && from.seq <= w.next
	seq := from.seq
	if !ok {
		// Skip to the first write after through: the caller starts afresh
		// from the state it reads, which holds everything up to through.
		seq = w.next
		for seq > oldest && w.ring[(seq-1)%writeFeedSize].index > through {
			seq--
		}
		return nil, FeedPos{gen: w.gen, seq: seq}, false
	}
	for ; seq < w.next; seq++ {
		e := w.ring[seq%writeFeedSize]
		if e.index > through {
			break
		}
		keys = append(keys, e.key)
	}
	return keys, FeedPos{gen: w.gen, seq: seq}, true
}

// touch records that the applier wrote or deleted a record of the instance
// k, or one of its steps.
func (a *applier) touch(k InstanceKey) {
	if n := len(a.touched); n > 0 && a.touched[n-1] == k {
		return
	}
	a.touched = append(a.touched, k)
}

// InstancesWritten returns the instances whose records, or step records,
// were written or deleted by the entries after position from that this
// view holds, and the position after them. ok is false when from is no
// longer in the feed, or the view has no feed (a speculation's reads the
// FSM's): the caller must then take every instance as changed.
func (s *State) InstancesWritten(from FeedPos) (keys []InstanceKey, next FeedPos, ok bool) {
	if s.feed == nil {
		return nil, FeedPos{}, false
	}
	return s.feed.since(from, s.applied)
}

// Speculated reports whether the speculation this view reads wrote the
// instance k or one of its steps: what the view shows of it may never be
// committed. A view of committed state has written nothing.
func (s *State) Speculated(k InstanceKey) bool {
	if s.spec == nil {
		return false
	}
	return s.spec.wrote(k)
}

// SpeculatedInstances returns the instances the speculation this view reads
// wrote or deleted records of (none for a view of committed state).
func (s *State) SpeculatedInstances() []InstanceKey {
	if s.spec == nil {
		return nil
	}
	return s.spec.writtenKeys()
}

// Committed returns a view of the committed state this view reads: for a
// speculation's view, the state it started from; otherwise the view
// itself.
func (s *State) Committed() *State {
	if s.spec == nil {
		return s
	}
	return &State{txn: s.spec.base, abandon: s.abandon, applied: s.applied, feed: s.feed}
}
