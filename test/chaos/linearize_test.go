package chaos

import (
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/batonhq/baton/fsm"
)

// The linearizability check models two things a client can observe.
//
// Workflow registers: per workflow id, the list of pushed versions (each
// identified by the content id the suite put in its description) and the
// active version. Push appends a version and activates it, unless its
// content equals the latest version's, which answers that version and
// changes nothing; Activate sets the active version if it exists; Get reads
// the active version and its content; Start creates an instance of the
// active version, so the version it answers is a read of the register.
//
// Instance statuses: per instance, the statuses read through any server
// (linearizable reads) must never go back: CREATED, then IN_PROGRESS, then
// one terminal status for good. The engine's own writes are not visible to
// the client, so the model is a monotone register that each read may move
// forward, never back.

type opKind int

const (
	opPush opKind = iota
	opActivate
	opGet
	opStart
	opStatus
)

// linInput is an operation's request.
type linInput struct {
	kind    opKind
	key     string // workflow id, or workflow/instance for opStatus
	content int    // opPush: content id of the pushed definition
	fresh   bool   // opPush: the first push of this content
	version int64  // opActivate
}

// linOutput is an operation's answer; a nil *linOutput means the outcome
// is unknown (the call failed in a way that may have taken effect).
type linOutput struct {
	notFound bool
	version  int64 // push, get, start: the version answered
	created  bool  // push
	content  int   // get
	status   string
}

// history collects operations from every client.
type history struct {
	mu    sync.Mutex
	epoch time.Time
	ops   []porcupine.Operation
	// unknownPushes are pushes of fresh content whose outcome was unknown;
	// the end of the run resolves them from the versions that exist.
	unknownPushes []int
}

func newHistory() *history { return &history{epoch: time.Now()} }

func (h *history) now() int64 { return int64(time.Since(h.epoch)) }

// add records an operation; via names the server it was sent to.
func (h *history) add(client int, via string, in linInput, call, ret int64, out *linOutput) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	op := porcupine.Operation{ClientId: client, Input: in, Call: call, Return: ret, Metadata: via}
	if out == nil {
		// An unknown outcome may take effect at any time after the call.
		op.Return = math.MaxInt64
		op.Output = (*linOutput)(nil)
	} else {
		op.Output = out
	}
	h.ops = append(h.ops, op)
	return len(h.ops) - 1
}

func (h *history) len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// regState is a workflow register: contents[i] is version i+1's content.
// It is a string so that states compare with == and hash cheaply.
type regState string

func (s regState) parse() ([]int, int64) {
	if s == "" {
		return nil, 0
	}
	list, active, _ := strings.Cut(string(s), "|")
	var contents []int
	for _, c := range strings.Split(list, ",") {
		n, _ := strconv.Atoi(c)
		contents = append(contents, n)
	}
	a, _ := strconv.ParseInt(active, 10, 64)
	return contents, a
}

func makeReg(contents []int, active int64) regState {
	parts := make([]string, len(contents))
	for i, c := range contents {
		parts[i] = strconv.Itoa(c)
	}
	return regState(strings.Join(parts, ",") + "|" + strconv.FormatInt(active, 10))
}

func statusRank(s string) int {
	switch {
	case s == fsm.InstanceCreated:
		return 0
	case s == fsm.InstanceInProgress:
		return 1
	case fsm.InstanceTerminal(s):
		return 2
	}
	return -1
}

// linModel is the sequential specification described above, partitioned
// by key: every workflow and every instance is checked on its own.
var linModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(linInput).key
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		sort.Strings(keys)
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return regState("") },
	Step: func(state, input, output any) (bool, any) {
		in := input.(linInput)
		out := output.(*linOutput)
		if in.kind == opStatus {
			// The state of an instance partition is its status so far.
			cur := string(state.(regState))
			if out == nil {
				return true, state
			}
			if statusRank(out.status) < 0 {
				return false, state
			}
			if cur == "" || statusRank(out.status) > statusRank(cur) {
				return true, regState(out.status)
			}
			return out.status == cur, state
		}
		s := state.(regState)
		contents, active := s.parse()
		switch in.kind {
		case opPush:
			if n := len(contents); n > 0 && contents[n-1] == in.content {
				return out == nil || (!out.notFound && out.version == int64(n) && !out.created), s
			}
			next := makeReg(append(append([]int(nil), contents...), in.content), int64(len(contents)+1))
			return out == nil || (!out.notFound && out.version == int64(len(contents)+1) && out.created), next
		case opActivate:
			if in.version >= 1 && in.version <= int64(len(contents)) {
				return out == nil || !out.notFound, makeReg(contents, in.version)
			}
			return out == nil || out.notFound, s
		case opGet:
			if out == nil {
				return true, s
			}
			if len(contents) == 0 || active == 0 {
				return out.notFound, s
			}
			return !out.notFound && out.version == active && out.content == contents[active-1], s
		case opStart:
			if out == nil {
				return true, s
			}
			if len(contents) == 0 || active == 0 {
				return out.notFound, s
			}
			return !out.notFound && out.version == active, s
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in := input.(linInput)
		out := output.(*linOutput)
		res := "?"
		if out != nil {
			switch {
			case out.notFound:
				res = "not found"
			case in.kind == opStatus:
				res = out.status
			case in.kind == opPush:
				res = fmt.Sprintf("v%d created=%v", out.version, out.created)
			case in.kind == opGet:
				res = fmt.Sprintf("active v%d content %d", out.version, out.content)
			case in.kind == opStart:
				res = fmt.Sprintf("v%d", out.version)
			default:
				res = "ok"
			}
		}
		switch in.kind {
		case opPush:
			return fmt.Sprintf("push(%s, content %d) -> %s", in.key, in.content, res)
		case opActivate:
			return fmt.Sprintf("activate(%s, v%d) -> %s", in.key, in.version, res)
		case opGet:
			return fmt.Sprintf("get(%s) -> %s", in.key, res)
		case opStart:
			return fmt.Sprintf("start(%s) -> %s", in.key, res)
		}
		return fmt.Sprintf("status(%s) -> %s", in.key, res)
	},
	DescribeOperationMetadata: func(info any) string {
		s, _ := info.(string)
		return s
	},
	DescribeState: func(state any) string {
		s := state.(regState)
		if !strings.Contains(string(s), "|") {
			return string(s)
		}
		contents, active := s.parse()
		return fmt.Sprintf("contents %v, active v%d", contents, active)
	},
}

// resolvedOps returns the history with every push of fresh content whose
// outcome was unknown resolved: content never stored means the push did not
// happen, so it is dropped; stored once, at version v, it created v.
func (h *history) resolvedOps(stored map[string]map[int][]int64) []porcupine.Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	unknown := map[int]bool{}
	for _, i := range h.unknownPushes {
		unknown[i] = true
	}
	out := make([]porcupine.Operation, 0, len(h.ops))
	for i, op := range h.ops {
		if unknown[i] {
			in := op.Input.(linInput)
			versions := stored[in.key][in.content]
			switch len(versions) {
			case 0:
				continue
			case 1:
				op.Output = &linOutput{version: versions[0], created: true}
			}
		}
		out = append(out, op)
	}
	return out
}

// checkLinearizable runs porcupine over the history.
func (r *run) checkLinearizable() checkResult {
	res := checkResult{name: "linearizable history (porcupine)"}
	lw := r.linWorkload()
	if lw == nil || r.hist.len() == 0 {
		res.skipped = "no workflow register workload in this run"
		return res
	}
	stored, err := lw.storedContents(r)
	if err != nil {
		res.violations = append(res.violations, "cannot read the versions to resolve unknown pushes: "+err.Error())
		return res
	}
	ops := r.hist.resolvedOps(stored)
	res.checked = len(ops)
	unknown := 0
	for _, op := range ops {
		if op.Output.(*linOutput) == nil {
			unknown++
		}
	}
	r.stats.add("linearizability ops", int64(len(ops)))
	// Porcupine's time depends on the order it is given the operations
	// in, not only on their times: a history of 848 operations on one key
	// that it decided in 40 ms in the order of their calls went undecided
	// for 5 minutes in the order they ended (the order they are recorded
	// in), and in every shuffled order tried. So they go in call order.
	sort.SliceStable(ops, func(i, j int) bool { return ops[i].Call < ops[j].Call })
	// Each key is checked on its own, as porcupine would partition the
	// history anyway, so that a key it cannot decide in time is named and
	// its operations kept, rather than the whole check being skipped.
	timeout := time.Minute
	if longPass() {
		timeout = 5 * time.Minute
	}
	began := time.Now()
	var undecided []string
	verdict := porcupine.Ok
	for _, part := range linModel.Partition(ops) {
		key := part[0].Input.(linInput).key
		started := time.Now()
		v, info := porcupine.CheckOperationsVerbose(linModel, part, timeout)
		switch v {
		case porcupine.Ok:
		case porcupine.Illegal:
			verdict = porcupine.Illegal
			res.violations = append(res.violations, r.explainIllegal(key, part, info, stored, timeout)...)
		default:
			if verdict == porcupine.Ok {
				verdict = porcupine.Unknown
			}
			undecided = append(undecided, fmt.Sprintf("%s (%d operations, no verdict within %s): %s",
				key, len(part), time.Since(started).Round(time.Second), writeEvidence("history-"+key, r.hist.describe(part))))
		}
	}
	r.logf("porcupine: %d operations (%d with unknown outcome) checked in %s: %s", len(ops), unknown, time.Since(began).Round(time.Millisecond), verdict)
	if len(undecided) > 0 && len(res.violations) == 0 {
		res.skipped = fmt.Sprintf("porcupine gave no verdict on %s (%d operations in all, %d with unknown outcome)", strings.Join(undecided, "; "), len(ops), unknown)
	}
	return res
}

// explainIllegal describes a key whose operations porcupine found not
// linearizable: where porcupine's visualization is, whether pushes applied
// twice would explain it, and the longest legal order with every operation.
func (r *run) explainIllegal(key string, part []porcupine.Operation, info porcupine.LinearizationInfo, stored map[string]map[int][]int64, timeout time.Duration) []string {
	var out []string
	path := ""
	if f, err := os.CreateTemp("", "baton-chaos-"+r.scenario+"-*.html"); err == nil {
		path = f.Name()
		_ = f.Close()
		if err := porcupine.VisualizePath(linModel, info, path); err != nil {
			path = "(visualization failed: " + err.Error() + ")"
		}
	}
	out = append(out, fmt.Sprintf("the history of %d operations on %s is not linearizable; porcupine's visualization: %s", len(part), key, path))
	// A push applied twice (once unseen) was how this failed before
	// Push had a request id; say so if that alone explains it.
	if aug, evidence := withHiddenApplies(part, stored); len(evidence) > 0 {
		if v, _ := porcupine.CheckOperationsVerbose(linModel, aug, timeout); v == porcupine.Ok {
			out = append(out, "the history is linearizable if these pushes were applied more than once each: "+strings.Join(evidence, "; "))
		}
	}
	for _, partial := range info.PartialLinearizationsOperations() {
		longest := []porcupine.Operation(nil)
		for _, p := range partial {
			if len(p) > len(longest) {
				longest = p
			}
		}
		if len(longest) == len(part) {
			continue
		}
		// The longest partial linearization stops just before the
		// operation no order can explain.
		var tail []string
		for _, op := range longest[max(0, len(longest)-8):] {
			tail = append(tail, linModel.DescribeOperation(op.Input, op.Output))
		}
		out = append(out, fmt.Sprintf("%s: %d of %d operations linearize; the longest legal order ends: %s; every operation on it: %s",
			key, len(longest), len(part), strings.Join(tail, "; "), writeEvidence("history-"+key, r.hist.describe(part))))
	}
	return out
}

// describe lists operations by call time, with times relative to the
// history's start, the client and the server each went to.
func (h *history) describe(ops []porcupine.Operation) []string {
	sorted := append([]porcupine.Operation(nil), ops...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Call < sorted[j].Call })
	ms := func(t int64) string {
		if t == math.MaxInt64 {
			return "never"
		}
		return h.epoch.Add(time.Duration(t)).Format("15:04:05.000000")
	}
	var out []string
	for _, op := range sorted {
		via, _ := op.Metadata.(string)
		out = append(out, fmt.Sprintf("%s .. %s client %d via %s: %s", ms(op.Call), ms(op.Return), op.ClientId, via,
			linModel.DescribeOperation(op.Input, op.Output)))
	}
	return out
}

// withHiddenApplies returns the history with extra applications of pushes
// made explicit, and the evidence for each: the diagnosis of a push that a
// server sent twice. A version no push answered as created, holding content
// one push introduced, was created by that push: if that push answered
// something else (created=false, or another version), it was applied more
// than once. Each such application becomes an operation of its own, with
// the same interval and the outcome the stored versions prove.
func withHiddenApplies(ops []porcupine.Operation, stored map[string]map[int][]int64) ([]porcupine.Operation, []string) {
	type content struct {
		key string
		c   int
	}
	answered := map[content]map[int64]bool{}
	for _, op := range ops {
		in, o := op.Input.(linInput), op.Output.(*linOutput)
		if in.kind == opPush && o != nil && o.created {
			k := content{in.key, in.content}
			if answered[k] == nil {
				answered[k] = map[int64]bool{}
			}
			answered[k][o.version] = true
		}
	}
	var out []porcupine.Operation
	var evidence []string
	for _, op := range ops {
		in, o := op.Input.(linInput), op.Output.(*linOutput)
		if in.kind != opPush || !in.fresh {
			out = append(out, op)
			continue
		}
		versions := stored[in.key][in.content]
		var hidden []int64
		for _, v := range versions {
			if !answered[content{in.key, in.content}][v] {
				hidden = append(hidden, v)
			}
		}
		if len(hidden) == 0 || (o == nil && len(versions) == 1) {
			out = append(out, op)
			continue
		}
		if o != nil {
			out = append(out, op)
		}
		for _, v := range hidden {
			extra := op
			extra.Output = &linOutput{version: v, created: true}
			out = append(out, extra)
		}
		via, _ := op.Metadata.(string)
		answer := "no answer"
		if o != nil {
			answer = fmt.Sprintf("answered v%d created=%v", o.version, o.created)
		}
		evidence = append(evidence, fmt.Sprintf("one push of content %d to %s via %s (%s) %s; the content is stored as versions %v, of which %v no answer created",
			in.content, in.key, via, describeSpan(op), answer, versions, hidden))
	}
	return out, evidence
}

func describeSpan(op porcupine.Operation) string {
	if op.Return == math.MaxInt64 {
		return fmt.Sprintf("from +%s", time.Duration(op.Call).Round(time.Millisecond))
	}
	return fmt.Sprintf("+%s..+%s", time.Duration(op.Call).Round(time.Millisecond), time.Duration(op.Return).Round(time.Millisecond))
}

func (r *run) linWorkload() *linWorkload {
	for _, w := range r.workloads {
		if lw, ok := w.(*linWorkload); ok {
			return lw
		}
	}
	return nil
}
