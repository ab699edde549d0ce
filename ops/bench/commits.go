package bench

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"
)

// commitPoll is how often a commitWatch asks each node for its commit
// index.
const commitPoll = 2 * time.Millisecond

// commitEvent is an observation that the cluster's highest commit index
// grew.
type commitEvent struct {
	at    time.Time
	index uint64
	term  uint64
	node  string
}

// commitWatch asks every node for its status every commitPoll and records
// each time the highest commit index any node reports grows. A node's
// status answer is taken as the time of the commit it reports, so times
// are late by at most one poll interval plus one round trip.
type commitWatch struct {
	mu       sync.Mutex
	maxIndex uint64
	maxTerm  uint64
	events   []commitEvent

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// statusSource is a node whose status a commitWatch polls while alive
// says it runs.
type statusSource struct {
	name   string
	client *Client
	alive  func() bool
}

func agentSources(agents []*Agent) []statusSource {
	out := make([]statusSource, len(agents))
	for i, a := range agents {
		out[i] = statusSource{a.Name, a.Client(), a.Running}
	}
	return out
}

func watchCommits(ctx context.Context, sources []statusSource) *commitWatch {
	ctx, cancel := context.WithCancel(ctx)
	w := &commitWatch{cancel: cancel}
	for _, src := range sources {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for ctx.Err() == nil && src.alive() {
				t := time.Now()
				sctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
				st, err := src.client.Status(sctx)
				cancel()
				if err == nil {
					w.observe(time.Now(), st.CommitIndex, st.Term, src.name)
				}
				_ = sleepCtx(ctx, commitPoll-time.Since(t))
			}
		}()
	}
	return w
}

func (w *commitWatch) observe(at time.Time, index, term uint64, node string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if term > w.maxTerm {
		w.maxTerm = term
	}
	if index > w.maxIndex {
		w.maxIndex = index
		w.events = append(w.events, commitEvent{at, index, term, node})
	}
}

// committedAt returns when the watch first saw index committed.
func (w *commitWatch) committedAt(index uint64) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := sort.Search(len(w.events), func(i int) bool { return w.events[i].index >= index })
	if i == len(w.events) {
		return time.Time{}, false
	}
	return w.events[i].at, true
}

// snapshot returns the highest term and commit index seen so far.
func (w *commitWatch) snapshot() (term, index uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.maxTerm, w.maxIndex
}

// around waits for the first commit of a term after killTerm and returns
// it with the last commit seen before the kill.
func (w *commitWatch) around(ctx context.Context, killed time.Time, killTerm uint64, timeout time.Duration) (before, after commitEvent, err error) {
	deadline := time.Now().Add(timeout)
	for {
		w.mu.Lock()
		var haveBefore, haveAfter bool
		for _, e := range w.events {
			if !e.at.After(killed) {
				before, haveBefore = e, true
			} else if e.term > killTerm && !haveAfter {
				after, haveAfter = e, true
			}
		}
		w.mu.Unlock()
		if haveAfter {
			if !haveBefore {
				return before, after, errors.New("no commit was seen in the second before the kill; is the load running?")
			}
			return before, after, nil
		}
		if time.Now().After(deadline) {
			return before, after, fmt.Errorf("no commit of a term after %d within %s of the kill", killTerm, timeout)
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return before, after, err
		}
	}
}

func (w *commitWatch) stop() {
	w.cancel()
	w.wg.Wait()
}
