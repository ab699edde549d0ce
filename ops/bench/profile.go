package bench

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// profileChunk is the length of each CPU profile. Go's profile endpoint
// records for a fixed number of seconds and loses the profile if the
// request is cancelled, so a workload of unknown length is recorded as a
// series of short profiles; `go tool pprof` merges the files it is given.
const profileChunk = 2 * time.Second

// profiler records CPU profiles of the leader while a workload measures,
// and a heap profile of the leader at the end.
type profiler struct {
	dir, workload string
	env           *Env

	mu      sync.Mutex
	written []string
	seq     int
	stopped chan struct{}
	done    chan struct{}
	errs    errorCounter
}

func newProfiler(dir, workload string, env *Env) *profiler {
	return &profiler{dir: dir, workload: workload, env: env}
}

// start begins recording, one chunk after another, each from whichever
// node leads when the chunk begins (after a failover, the new leader).
func (p *profiler) start(ctx context.Context) func() {
	p.mu.Lock()
	if p.stopped != nil {
		p.mu.Unlock()
		return func() {}
	}
	p.stopped, p.done = make(chan struct{}), make(chan struct{})
	stopped, done := p.stopped, p.done
	p.mu.Unlock()
	go func() {
		defer close(done)
		for {
			select {
			case <-stopped:
				return
			case <-ctx.Done():
				return
			default:
			}
			url, name, err := p.leader(ctx)
			if err != nil {
				p.errs.add(err)
				if sleepCtx(ctx, 200*time.Millisecond) != nil {
					return
				}
				continue
			}
			p.mu.Lock()
			p.seq++
			file := filepath.Join(p.dir, fmt.Sprintf("cpu-%s-%03d-%s.pprof", p.workload, p.seq, name))
			p.mu.Unlock()
			secs := int(profileChunk / time.Second)
			if err := p.fetch(ctx, fmt.Sprintf("%s/debug/pprof/profile?seconds=%d", url, secs), file, profileChunk+30*time.Second); err != nil {
				p.errs.add(err)
				if sleepCtx(ctx, 200*time.Millisecond) != nil {
					return
				}
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stopped)
			// The chunk under way ends on its own within profileChunk.
			select {
			case <-done:
			case <-time.After(profileChunk + 35*time.Second):
			}
		})
	}
}

// finish takes the heap profile of the leader.
func (p *profiler) finish(ctx context.Context) {
	p.mu.Lock()
	done := p.done
	p.mu.Unlock()
	if done != nil {
		<-done
	}
	url, name, err := p.leader(ctx)
	if err != nil {
		p.errs.add(err)
	} else {
		file := filepath.Join(p.dir, fmt.Sprintf("heap-%s-%s.pprof", p.workload, name))
		if err := p.fetch(ctx, url+"/debug/pprof/heap", file, 30*time.Second); err != nil {
			p.errs.add(err)
		}
	}
	if err := p.errs.err(); err != nil {
		p.env.Logf("profiling: %d request(s) failed: %v", p.errs.count(), err)
	}
}

// leader returns the API URL and name of the current leader.
func (p *profiler) leader(ctx context.Context) (url, name string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var via []*Client
	if p.env.Local != nil {
		for _, a := range p.env.Local.Running() {
			via = append(via, a.Client())
		}
	} else {
		via = []*Client{p.env.API}
	}
	for _, c := range via {
		st, err := c.Status(ctx)
		if err == nil && st.LeaderApiAddress != "" {
			return st.LeaderApiAddress, st.LeaderId, nil
		}
	}
	return "", "", fmt.Errorf("no leader to profile")
}

func (p *profiler) fetch(ctx context.Context, url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := profileHTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 300))
		if res.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%s: 404 (is the agent running with -enable-pprof?)", url)
		}
		return fmt.Errorf("%s: %s: %s", url, res.Status, body)
	}
	tmp := file + ".part"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, file); err != nil {
		return err
	}
	p.mu.Lock()
	p.written = append(p.written, file)
	p.mu.Unlock()
	return nil
}

func (p *profiler) files() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.written...)
}

// profileHTTP fetches profiles over plain HTTP/1.1: a profile request
// stays open for seconds and should not share a connection with the
// workload's calls.
var profileHTTP = &http.Client{}
