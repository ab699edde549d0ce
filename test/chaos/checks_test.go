package chaos

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/test/harness"
)

// recoveryWindow is how long every instance gets to end once the faults
// are over and the cluster agrees again.
func recoveryWindow() time.Duration {
	if longPass() {
		return 10 * time.Minute
	}
	return 4 * time.Minute
}

// finalInstance is an instance as the cluster holds it after the run.
type finalInstance struct {
	inst   *statepb.Instance
	steps  []*statepb.Step
	events []*statepb.Event
}

func instKey(workflowID string, id int64) string { return fmt.Sprintf("%s/%d", workflowID, id) }

// listAll lists every instance of every workflow the suite started, and
// of the workflows their children belong to.
func (r *run) listAll() (map[string][]*statepb.Instance, error) {
	out := map[string][]*statepb.Instance{}
	wfs := r.starts.workflows()
	r.mu.Lock()
	for wf := range r.succeed {
		wfs = append(wfs, wf)
	}
	for wf := range r.childWorkflows {
		wfs = append(wfs, wf)
	}
	r.mu.Unlock()
	for _, wf := range wfs {
		if _, done := out[wf]; done {
			continue
		}
		err := r.retry(2*time.Minute, func(ctx context.Context, n *node) error {
			res, err := r.c.instanceClient(n).List(ctx, connect.NewRequest(&instancev1.ListRequest{WorkflowId: wf, Limit: 1 << 30}))
			if err == nil {
				out[wf] = res.Msg.Instances
			} else if isCode(err, connect.CodeNotFound) {
				out[wf], err = nil, nil
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", wf, err)
		}
	}
	return out, nil
}

// waitEnded waits until every instance of the suite's workflows has ended,
// or window passes, then reads each one with its steps and timeline.
func (r *run) waitEnded(window time.Duration) map[string]*finalInstance {
	r.t.Helper()
	deadline := time.Now().Add(window)
	var lists map[string][]*statepb.Instance
	for {
		var err error
		lists, err = r.listAll()
		if err != nil {
			r.t.Fatalf("after the run: %v", err)
		}
		pending, total := 0, 0
		for _, l := range lists {
			for _, inst := range l {
				total++
				if !fsm.InstanceTerminal(inst.Status) {
					pending++
				}
			}
		}
		if pending == 0 {
			r.logf("all %d instances ended", total)
			break
		}
		if time.Now().After(deadline) {
			r.logf("%d of %d instances still running after the %s recovery window", pending, total, window)
			break
		}
		time.Sleep(time.Second)
	}
	// Parents end after their children, so the children are over too;
	// each round reads the instances not read yet and finds the workflows
	// of their children, until no new one turns up.
	final := map[string]*finalInstance{}
	for {
		more := false
		for wf, l := range lists {
			for _, inst := range l {
				if final[instKey(wf, inst.InstanceId)] != nil {
					continue
				}
				fi, children := r.readInstance(wf, inst)
				final[instKey(wf, inst.InstanceId)] = fi
				r.mu.Lock()
				for _, ch := range children {
					if !r.childWorkflows[ch] {
						r.childWorkflows[ch] = true
						more = true
					}
				}
				r.mu.Unlock()
			}
		}
		if !more {
			break
		}
		var err error
		if lists, err = r.listAll(); err != nil {
			r.t.Fatalf("after the run: %v", err)
		}
	}
	r.stats.add("instances", int64(len(final)))
	return final
}

// readInstance reads one instance with its steps and whole timeline, and
// returns the workflows of its children.
func (r *run) readInstance(wf string, inst *statepb.Instance) (*finalInstance, []string) {
	r.t.Helper()
	fi := &finalInstance{inst: inst}
	var children []string
	err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: wf, InstanceId: inst.InstanceId}))
		if err != nil {
			return err
		}
		fi.inst, fi.steps, children = res.Msg.Instance, res.Msg.Steps, nil
		for _, ch := range res.Msg.Children {
			children = append(children, ch.WorkflowId)
		}
		fi.events = nil
		stream, err := r.c.instanceClient(n).Watch(ctx, connect.NewRequest(&instancev1.WatchRequest{WorkflowId: wf, InstanceId: inst.InstanceId}))
		if err != nil {
			return err
		}
		defer stream.Close()
		for stream.Receive() {
			fi.events = append(fi.events, stream.Msg().Event)
			// An instance that never ends keeps its stream open.
			if !fsm.InstanceTerminal(fi.inst.Status) && len(fi.events) >= int(fi.inst.LastEventSeq) {
				break
			}
		}
		return stream.Err()
	})
	if err != nil {
		r.t.Fatalf("read instance %s/%d: %v", wf, inst.InstanceId, err)
	}
	return fi, children
}

// checkStarts: every acknowledged Start made exactly one instance, the one
// it was told; no instance has a request id no client sent; a request never
// acknowledged made at most one.
func (r *run) checkStarts(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "each acknowledged start made exactly one instance"}
	byReq := map[string][]*statepb.Instance{}
	for _, fi := range final {
		// Children and trigger fires are the engine's starts, checked by
		// their own workloads.
		if fi.inst.Parent != nil || strings.HasPrefix(fi.inst.RequestId, "trigger:") || strings.HasPrefix(fi.inst.RequestId, "signal:") {
			continue
		}
		byReq[fi.inst.RequestId] = append(byReq[fi.inst.RequestId], fi.inst)
	}
	sent := map[string]bool{}
	for _, wf := range r.starts.workflows() {
		for _, rec := range r.starts.of(wf) {
			res.checked++
			sent[rec.requestID] = true
			got := byReq[rec.requestID]
			var ids []string
			for _, inst := range got {
				ids = append(ids, instKey(inst.WorkflowId, inst.InstanceId))
			}
			switch {
			case rec.acked && (len(got) != 1 || got[0].InstanceId != rec.instanceID || got[0].WorkflowId != wf):
				res.violations = append(res.violations, fmt.Sprintf("request %s was acknowledged as %s after %d tries (%d ambiguous); instances with that request id: %v",
					rec.requestID, instKey(wf, rec.instanceID), rec.tries, rec.ambiguous, ids))
			case !rec.acked && len(got) > 1:
				res.violations = append(res.violations, fmt.Sprintf("request %s (never acknowledged) made %d instances: %v", rec.requestID, len(got), ids))
			}
		}
	}
	for rid, got := range byReq {
		if !sent[rid] {
			res.violations = append(res.violations, fmt.Sprintf("instance %s has request id %q that no client sent", instKey(got[0].WorkflowId, got[0].InstanceId), rid))
		}
	}
	return res
}

// checkEnded: every instance ended, and those of workflows built to
// succeed succeeded.
func (r *run) checkEnded(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "every instance ended (and succeeded where it must)"}
	r.mu.Lock()
	succeed := maps(r.succeed)
	r.mu.Unlock()
	for _, k := range sortedKeys(final) {
		fi := final[k]
		res.checked++
		st := fi.inst.Status
		switch {
		case !fsm.InstanceTerminal(st):
			res.violations = append(res.violations, fmt.Sprintf("%s is still %s after the recovery window: %s", k, st, harness.DescribeSteps(fi.steps)))
		case succeed[fi.inst.WorkflowId] && st != fsm.InstanceSucceeded:
			res.violations = append(res.violations, fmt.Sprintf("%s ended %s (%s): %s", k, st, fi.inst.Reason, harness.DescribeSteps(fi.steps)))
		}
	}
	return res
}

// checkAttempts: at most one committed result per attempt, read from the
// timeline (each result moves its step out of RUNNING once), and at most
// one successful attempt per step, the last one.
func (r *run) checkAttempts(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "at most one committed result per attempt"}
	attempts := 0
	for _, k := range sortedKeys(final) {
		fi := final[k]
		for _, st := range fi.steps {
			succeeded := 0
			for i, a := range st.Attempts {
				attempts++
				if a.Status == fsm.AttemptSucceeded {
					succeeded++
					if i != len(st.Attempts)-1 {
						res.violations = append(res.violations, fmt.Sprintf("%s step %s: attempt %d SUCCEEDED but was followed by another: %s", k, st.StepId, a.AttemptNumber, harness.DescribeSteps([]*statepb.Step{st})))
					}
				}
				if i != len(st.Attempts)-1 && a.Status == fsm.AttemptRunning {
					res.violations = append(res.violations, fmt.Sprintf("%s step %s: attempt %d is still RUNNING beside a later attempt", k, st.StepId, a.AttemptNumber))
				}
			}
			if succeeded > 1 {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s has %d SUCCEEDED attempts: %s", k, st.StepId, succeeded, harness.DescribeSteps([]*statepb.Step{st})))
			}
			if st.Status == fsm.StepSucceeded && len(st.Attempts) > 0 && st.Attempts[len(st.Attempts)-1].Status != fsm.AttemptSucceeded {
				res.violations = append(res.violations, fmt.Sprintf("%s step %s SUCCEEDED but its last attempt is %s", k, st.StepId, st.Attempts[len(st.Attempts)-1].Status))
			}
		}
		// Replay the timeline: a step leaves RUNNING once per attempt.
		status := map[string]string{}
		running := map[string]int{}
		left := map[string]int{}
		for _, e := range fi.events {
			if e.StepId == "" {
				continue
			}
			ak := fmt.Sprintf("%s attempt %d", e.StepId, e.AttemptNumber)
			if e.Status == fsm.StepRunning && status[e.StepId] != fsm.StepRunning {
				running[ak]++
			}
			if status[e.StepId] == fsm.StepRunning && e.Status != fsm.StepRunning {
				left[ak]++
			}
			status[e.StepId] = e.Status
		}
		for ak, n := range left {
			if n > 1 {
				res.violations = append(res.violations, fmt.Sprintf("%s %s has %d committed results (the timeline leaves RUNNING %d times): %s", k, ak, n, n, describeEvents(fi.events)))
			}
		}
		for ak, n := range running {
			if n > 1 {
				res.violations = append(res.violations, fmt.Sprintf("%s %s was started %d times on the timeline: %s", k, ak, n, describeEvents(fi.events)))
			}
		}
	}
	res.checked = attempts
	r.stats.add("step attempts", int64(attempts))
	return res
}

func describeEvents(events []*statepb.Event) string {
	var parts []string
	for _, e := range events {
		status := e.Status
		if e.Action != "" {
			status += " " + e.Action
		}
		if e.StepId == "" {
			parts = append(parts, fmt.Sprintf("#%d@%d instance %s", e.Seq, e.Index, status))
		} else {
			parts = append(parts, fmt.Sprintf("#%d@%d %s/%d %s", e.Seq, e.Index, e.StepId, e.AttemptNumber, status))
		}
	}
	return strings.Join(parts, ", ")
}

// ledgerLine is one execution of a chaos step, as it wrote it.
type ledgerLine struct {
	attemptID  string
	generation uint64
	node       string
	attempt    int64
	at         time.Time
	file       string
}

func parseLedgers(files map[string][]byte) ([]ledgerLine, []string) {
	var out []ledgerLine
	var bad []string
	for _, f := range sortedKeys(files) {
		for _, l := range strings.Split(strings.TrimSpace(string(files[f])), "\n") {
			if l == "" {
				continue
			}
			p := strings.Fields(l)
			if len(p) != 6 {
				bad = append(bad, fmt.Sprintf("%s: malformed line %q", f, l))
				continue
			}
			gen, err1 := strconv.ParseUint(p[1], 10, 64)
			num, err2 := strconv.ParseInt(p[3], 10, 64)
			nanos, err3 := strconv.ParseInt(p[4], 10, 64)
			if err1 != nil || err2 != nil || err3 != nil {
				bad = append(bad, fmt.Sprintf("%s: malformed line %q", f, l))
				continue
			}
			out = append(out, ledgerLine{attemptID: p[0], generation: gen, node: p[2], attempt: num, at: time.Unix(0, nanos), file: f})
		}
	}
	return out, bad
}

// checkLedgers holds the cluster's record against what really ran: every
// execution belongs to an assignment the cluster committed (same attempt,
// generation and node); a succeeded attempt ran at least once; an attempt
// ran more than once only if the cluster recorded it (executions) or fenced
// it.
func (r *run) checkLedgers(final map[string]*finalInstance) checkResult {
	res := checkResult{name: "ledgers: no execution twice unless fenced or recorded"}
	files, err := r.c.b.ledgers()
	if err != nil {
		res.violations = append(res.violations, "read ledgers: "+err.Error())
		return res
	}
	lines, bad := parseLedgers(files)
	res.violations = append(res.violations, bad...)
	type placed struct {
		inst    string
		step    *statepb.Step
		attempt *statepb.Attempt
	}
	byID := map[string]placed{}
	for _, k := range sortedKeys(final) {
		for _, st := range final[k].steps {
			for _, a := range st.Attempts {
				byID[a.AttemptId] = placed{k, st, a}
			}
		}
	}
	runs := map[string][]ledgerLine{}
	for _, l := range lines {
		runs[l.attemptID] = append(runs[l.attemptID], l)
	}
	for _, rs := range runs {
		sort.Slice(rs, func(i, j int) bool { return rs[i].at.Before(rs[j].at) })
	}
	// wipedBetween reports whether node's data dir was wiped between two
	// executions of one attempt.
	wipedBetween := func(node string, rs []ledgerLine) bool {
		n := r.c.byName(node)
		if n == nil {
			return false
		}
		r.c.mu.Lock()
		defer r.c.mu.Unlock()
		for _, w := range n.wiped {
			if w.After(rs[0].at) && w.Before(rs[len(rs)-1].at) {
				return true
			}
		}
		return false
	}
	var reexec, fencedRan int64
	for _, id := range sortedKeys(runs) {
		rs := runs[id]
		res.checked++
		p, ok := byID[id]
		if !ok {
			res.violations = append(res.violations, fmt.Sprintf("attempt %s ran (%s) but the cluster has no such attempt", id, describeRuns(rs)))
			continue
		}
		a := p.attempt
		for _, l := range rs {
			if l.generation != a.Generation || l.node != a.Node {
				res.violations = append(res.violations, fmt.Sprintf("attempt %s ran on %s with generation %d; the cluster placed it on %s with generation %d",
					id, l.node, l.generation, a.Node, a.Generation))
			}
		}
		fenced := a.Status == fsm.AttemptPlatformFailed || a.Status == fsm.AttemptStopped
		if fenced {
			fencedRan++
		}
		if len(rs) > 1 {
			reexec++
			switch {
			case fenced, int(a.Executions) >= len(rs):
			case wipedBetween(a.Node, rs):
				res.violations = append(res.violations, fmt.Sprintf("attempt %s ran %d times (%s) but is %s with executions=%d: its node %s had its data dir wiped in between, and ran it again as if for the first time",
					id, len(rs), describeRuns(rs), a.Status, a.Executions, a.Node))
			default:
				res.violations = append(res.violations, fmt.Sprintf("attempt %s ran %d times (%s) but is %s with executions=%d",
					id, len(rs), describeRuns(rs), a.Status, a.Executions))
			}
		}
	}
	// Every succeeded Shell attempt left its line; every succeeded Http
	// attempt's call was recorded.
	for id, p := range byID {
		if (p.step.Type == "Shell" || p.step.Type == "Http") && p.attempt.Status == fsm.AttemptSucceeded && len(runs[id]) == 0 {
			res.violations = append(res.violations, fmt.Sprintf("attempt %s (%s step %s) SUCCEEDED on %s but never ran", id, p.inst, p.step.StepId, p.attempt.Node))
		}
	}
	r.stats.add("ledger executions", int64(len(lines)))
	r.stats.add("attempts re-executed", reexec)
	r.stats.add("fenced attempts that ran", fencedRan)
	return res
}

func describeRuns(rs []ledgerLine) string {
	var parts []string
	for _, l := range rs {
		parts = append(parts, fmt.Sprintf("%s gen %d at %s", l.node, l.generation, l.at.Format("15:04:05.000")))
	}
	return strings.Join(parts, "; ")
}

// checkStateHashes waits until every member reports the same applied index
// and compares their state hashes.
func (r *run) checkStateHashes() checkResult {
	res := checkResult{name: "replicas identical (state hash at equal applied index)"}
	members := r.c.members()
	res.checked = len(members)
	deadline := time.Now().Add(2 * time.Minute)
	var last string
	for {
		got := map[string]string{}
		var idx []uint64
		var desc []string
		ok := true
		for _, n := range members {
			h, err := r.c.stateHash(n)
			if err != nil {
				ok, last = false, fmt.Sprintf("%s: %v", n.name, err)
				break
			}
			got[n.name] = h.Sha256
			idx = append(idx, h.AppliedIndex)
			var tables []string
			for _, tc := range h.Tables {
				tables = append(tables, fmt.Sprintf("%s=%d", tc.Table, tc.Records))
			}
			desc = append(desc, fmt.Sprintf("%s@%d %s [%s]", n.name, h.AppliedIndex, h.Sha256[:16], strings.Join(tables, " ")))
		}
		if ok && slices.Min(idx) == slices.Max(idx) {
			hashes := map[string]bool{}
			for _, h := range got {
				hashes[h] = true
			}
			if len(hashes) != 1 {
				res.violations = append(res.violations, "replicas differ at applied index "+strconv.FormatUint(idx[0], 10)+": "+strings.Join(desc, "; "))
			} else {
				r.logf("state hashes agree at applied index %d: %s", idx[0], desc[0])
			}
			break
		}
		if ok {
			last = strings.Join(desc, "; ")
		}
		if time.Now().After(deadline) {
			res.violations = append(res.violations, "the replicas' applied indexes did not converge within 2m: "+last)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	return res
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func maps(m map[string]bool) map[string]bool {
	out := make(map[string]bool, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// writeEvidence keeps a long list in a file that outlives the test.
func writeEvidence(name string, lines []string) string {
	f, err := os.CreateTemp("", "baton-chaos-"+name+"-*.txt")
	if err != nil {
		return ""
	}
	defer f.Close()
	_, _ = f.WriteString(strings.Join(lines, "\n") + "\n")
	return f.Name()
}
