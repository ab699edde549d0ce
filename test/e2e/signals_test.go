package e2e

import (
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
}
