package e2e

import (
	"io"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/test/harness"
)

// A step waits for a signal matching its params (WAITING_FOR_SIGNALS), a
// signal that does not match leaves it waiting, a matching one starts it,
// and a step's signal_outputs are sent once when it succeeds. A repeated
// request id records one signal.
func TestSignalDependenciesAndOutputs(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()
	harness.MustCLI(t, addr, "workflow", "push", "testdata/signals.json")
	id := startID(t, harness.CLI(t, addr, "instance", "start", "e2e-signals"))
	waitStep(t, addr, "e2e-signals", id, "wait", "WAITING_FOR_SIGNALS")
	res := getInstance(t, addr, "e2e-signals", id)
	if why := stepByID(t, res, "wait").Reason; !strings.Contains(why, "table/ready (day = 20240301, watermark >= 100)") {
		t.Errorf("waiting reason %q does not say what it waits for", why)
	}
	harness.MustCLI(t, addr, "signal", "send", "table/ready", "-p", "day=20240301", "-p", "watermark=50")
	harness.MustCLI(t, addr, "signal", "send", "table/ready", "-p", "day=20240302", "-p", "watermark=500")
	time.Sleep(500 * time.Millisecond)
	if st := stepByID(t, getInstance(t, addr, "e2e-signals", id), "wait"); st.Status != "WAITING_FOR_SIGNALS" {
		t.Fatalf("non-matching signals started the step: %s", st.Status)
	}
	first := harness.MustCLI(t, addr, "signal", "send", "table/ready", "-p", "day=20240301", "-p", "watermark=100", "--request-id", "load-1")
	again := harness.MustCLI(t, addr, "signal", "send", "table/ready", "-p", "day=20240301", "-p", "watermark=100", "--request-id", "load-1")
	if first != again || !strings.Contains(first, "#3") {
		t.Errorf("signal sends: %q then %q, want #3 both times", first, again)
	}
	ended := harness.WaitInstancesEnded(t, addr, "e2e-signals", []int64{id}, time.Minute)[id]
	if ended.Instance.Status != "SUCCEEDED" {
		t.Fatalf("instance %s: %s", ended.Instance.Status, harness.DescribeSteps(ended.Steps))
	}
	var list signalv1.ListResponse
	harness.CLIJSON(t, addr, &list, "signal", "list", "job/done")
	if len(list.Signals) != 1 || list.Signals[0].Seq != 1 || list.Signals[0].Source != "e2e-signals/"+strconv.FormatInt(id, 10)+"/announce" {
		t.Fatalf("job/done signals: %v", list.Signals)
	}
	if got := list.Signals[0].Params["day"].GetValue().GetNumberValue(); got != 20240301 {
		t.Errorf("emitted day %v, want 20240301", got)
	}
	harness.CLIJSON(t, addr, &list, "signal", "list", "table/ready")
	if len(list.Signals) != 3 {
		t.Errorf("%d table/ready signals recorded, want 3 (the repeat is not new)", len(list.Signals))
	}
	// A page at a time, newest first.
	var page, last signalv1.ListResponse
	harness.CLIJSON(t, addr, &page, "signal", "list", "table/ready", "--limit", "2")
	harness.CLIJSON(t, addr, &last, "signal", "list", "table/ready", "--limit", "2", "--before", strconv.FormatInt(page.NextBefore, 10))
	if len(page.Signals) != 2 || page.Signals[0].Seq != 3 || page.NextBefore != 2 || len(last.Signals) != 1 || last.Signals[0].Seq != 1 || last.NextBefore != 0 {
		t.Errorf("pages: %v (next %d), then %v (next %d)", page.Signals, page.NextBefore, last.Signals, last.NextBefore)
	}
}

// The leader applies the signal retention policy: each name keeps its
// newest signals, and numbering goes on past the deleted ones.
func TestRetentionDeletesOldSignals(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t, "-retain-signals", "3", "-retention-interval", "200ms")
	addr := a.URL()
	for i := 1; i <= 8; i++ {
		harness.MustCLI(t, addr, "signal", "send", "e2e/many", "-p", "n="+strconv.Itoa(i))
	}
	for i := 1; i <= 2; i++ {
		harness.MustCLI(t, addr, "signal", "send", "e2e/few", "-p", "n="+strconv.Itoa(i))
	}
	seqs := func(name string) []int64 {
		var list signalv1.ListResponse
		harness.CLIJSON(t, addr, &list, "signal", "list", name)
		var out []int64
		for _, sg := range list.Signals {
			out = append(out, sg.Seq)
		}
		slices.Sort(out)
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for !slices.Equal(seqs("e2e/many"), []int64{6, 7, 8}) {
		if time.Now().After(deadline) {
			t.Fatalf("e2e/many signals kept: %v, want [6 7 8]", seqs("e2e/many"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := seqs("e2e/few"); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("e2e/few signals kept: %v, want [1 2]", got)
	}
	if out := harness.MustCLI(t, addr, "signal", "send", "e2e/many", "-p", "n=9"); !strings.Contains(out, "#9") {
		t.Errorf("the signal after the deleted ones: %q, want #9", out)
	}
	// The leader counts what retention deleted.
	res, err := harness.HTTPClient().Get(addr + "/v1/metrics?format=prometheus")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(body), "baton_retention_signals_deleted_total 5\n") {
		t.Errorf("metrics do not count 5 deleted signals:\n%s", grepLines(string(body), "retention"))
	}
}

// grepLines returns the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, s) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
