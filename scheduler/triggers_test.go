package scheduler

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	"github.com/batonhq/baton/workflow"
)

// triggerFixture pushes a workflow with time triggers and starts nothing.
func triggerFixture(t *testing.T, definition string) *planFixture {
	t.Helper()
	def, err := workflow.Parse([]byte(definition))
	if err != nil {
		t.Fatal(err)
	}
	if err := def.Validate(workflow.Limits{MinTriggerInterval: time.Second}); err != nil {
		t.Fatal(err)
	}
	canon, err := workflow.Canonical(def)
	if err != nil {
		t.Fatal(err)
	}
	px := &planFixture{
		t: t, f: fsm.New(), now: time.Date(2026, 1, 2, 3, 4, 1, 0, time.UTC),
		members: []Member{{Name: "n1"}}, defs: NewDefinitionCache(), wf: def.Workflow.ID,
	}
	px.push(string(canon))
	return px
}

func (px *planFixture) push(canon string) {
	sum := sha256.Sum256([]byte(canon))
	px.apply(&statepb.PushWorkflow{WorkflowId: px.wf, Definition: canon, Digest: hex.EncodeToString(sum[:]), Now: px.ts()})
}

// fired lists the trigger request ids of the workflow's instances, oldest first.
func (px *planFixture) fired() []string {
	var out []string
	list := px.f.State().Instances(nil, px.wf, 0)
	for i := len(list) - 1; i >= 0; i-- {
		out = append(out, list[i].RequestId)
	}
	return out
}

func firedAt(times ...time.Time) string {
	s := ""
	for _, t := range times {
		s += fmt.Sprintf("trigger:tick:time-0:%d ", t.UnixNano())
	}
	return s
}

const everyFiveSeconds = `{"workflow": {"id": "tick",
  "time_triggers": [{"type": "CRON", "cron": "*/5 * * * * ? *"}],
  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`

// Each scheduled time fires exactly once, however often planning runs and
// whatever the gaps between rounds (a leader change is a gap).
func TestCronFiresEachScheduledTimeOnce(t *testing.T) {
	px := triggerFixture(t, everyFiveSeconds)
	out := px.round()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if !out.WakeAt.Equal(base) {
		t.Fatalf("wake at %v, want the first scheduled time %v", out.WakeAt, base)
	}
	if got := px.fired(); len(got) != 0 {
		t.Fatalf("fired before any time was due: %v", got)
	}
	// A gap of 12s (say, a leader change) covers three scheduled times.
	px.now = base.Add(12 * time.Second)
	px.round()
	px.round()
	want := firedAt(base, base.Add(5*time.Second), base.Add(10*time.Second))
	if got := fmt.Sprint(px.fired()); got != "["+want[:len(want)-1]+"]" {
		t.Fatalf("fired %s\nwant [%s]", got, want)
	}
	tr := px.f.State().Triggers(nil, "tick")[0]
	if tr.Fires != 3 || !tr.Next.AsTime().Equal(base.Add(15*time.Second)) {
		t.Fatalf("trigger after 3 fires: %v", tr)
	}
	// RUN_TS is the scheduled time, not the moment the leader got to it.
	inst := px.f.State().Instance(nil, "tick", 1)
	if v, _ := ValueFromParam(inst.Params["RUN_TS"]); v.Raw != base.UnixMilli() {
		t.Fatalf("RUN_TS %v, want %d", v.Raw, base.UnixMilli())
	}
	// A stale plan repeating a fire changes nothing.
	stale := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs})
	px.now = base.Add(16 * time.Second)
	px.round()
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: stale.Actions})
	if n := len(px.fired()); n != 4 {
		t.Fatalf("%d instances after a stale plan was applied again, want 4", n)
	}
}

// After downtime longer than the catch-up window only the window's times
// fire; the rest are counted as skipped.
func TestCronCatchUpAfterLongDowntime(t *testing.T) {
	px := triggerFixture(t, `{"workflow": {"id": "tick",
	  "time_triggers": [{"type": "CRON", "cron": "0 * * * *"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	px.now = px.now.Add(CatchUpWindow + 3*time.Hour)
	for i := 0; i < 5; i++ {
		px.round()
	}
	tr := px.f.State().Triggers(nil, "tick")[0]
	if got := len(px.fired()); got != 24 {
		t.Fatalf("%d fires after %s down, want the 24 hourly times within the window", got, CatchUpWindow+3*time.Hour)
	}
	// Down from 03:04:01 for 27h: 04:00, 05:00 and 06:00 of the first day
	// are older than the window.
	if tr.Skipped != 3 {
		t.Fatalf("skipped %d, want 3 (the hours before the window)", tr.Skipped)
	}
}

// Removing a trigger, or disabling time triggers, stops the firing.
func TestCronStopsWhenTheTriggerGoes(t *testing.T) {
	px := triggerFixture(t, everyFiveSeconds)
	px.round()
	px.push(`{"properties":{"time_trigger_disabled":true},"workflow":{"id":"tick","time_triggers":[{"type":"CRON","cron":"*/5 * * * * ? *"}],"steps":[{"step":{"id":"a","type":"NoOp"}}]}}`)
	px.round()
	if n := len(px.f.State().Triggers(nil, "tick")); n != 0 {
		t.Fatalf("%d trigger records with time triggers disabled", n)
	}
	px.now = px.now.Add(time.Minute)
	px.round()
	if got := px.fired(); len(got) != 0 {
		t.Fatalf("fired while disabled: %v", got)
	}
}

// A fired instance starts running in the entry that creates it when
// nothing else of its workflow is unfinished; otherwise, or under
// STRICT_SEQUENTIAL, it waits as CREATED for its run strategy. When the
// state changed between planning and applying, the FSM keeps it waiting.
func TestFiredInstanceRunsAtOnceWhenItsStrategyAdmitsIt(t *testing.T) {
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	statuses := func(px *planFixture) string {
		var out []string
		for _, inst := range px.f.State().Instances(nil, px.wf, 0) {
			out = append([]string{fmt.Sprintf("%d:%s", inst.InstanceId, inst.Status)}, out...)
		}
		return strings.Join(out, " ")
	}
	firesOnly := func(px *planFixture) []*statepb.PlanAction {
		var fires []*statepb.PlanAction
		for _, a := range Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs}).Actions {
			if a.GetFireTrigger() != nil {
				fires = append(fires, a)
			}
		}
		return fires
	}

	// Nothing else unfinished: the first of the round's fires runs, with
	// the entry's time as its start; the catch-up fire after it waits.
	px := triggerFixture(t, everyFiveSeconds)
	px.round()
	px.now = base.Add(7 * time.Second)
	fires := firesOnly(px)
	if len(fires) != 2 || !fires[0].GetFireTrigger().Run || fires[1].GetFireTrigger().Run {
		t.Fatalf("fires %v: want two, only the first to run", fires)
	}
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: fires})
	if got := statuses(px); got != "1:IN_PROGRESS 2:CREATED" {
		t.Fatalf("after the fires: %s", got)
	}
	if inst := px.f.State().Instance(nil, px.wf, 1); !inst.StartTime.AsTime().Equal(px.now) {
		t.Fatalf("start time %v, want the entry's %v", inst.StartTime.AsTime(), px.now)
	}

	// An instance already unfinished: the fire waits for the strategy.
	px = triggerFixture(t, everyFiveSeconds)
	px.round()
	px.apply(&statepb.StartInstance{WorkflowId: px.wf, WorkflowVersion: 1, Now: px.ts()})
	px.now = base.Add(time.Second)
	if fires := firesOnly(px); len(fires) != 1 || fires[0].GetFireTrigger().Run {
		t.Fatalf("fires %v: want one that waits", fires)
	}

	// Planned to run, but an instance started before the fire applied.
	px = triggerFixture(t, everyFiveSeconds)
	px.round()
	px.now = base.Add(time.Second)
	fires = firesOnly(px)
	if len(fires) != 1 || !fires[0].GetFireTrigger().Run {
		t.Fatalf("fires %v: want one to run", fires)
	}
	px.apply(&statepb.StartInstance{WorkflowId: px.wf, WorkflowVersion: 1, Now: px.ts()})
	px.apply(&statepb.ApplyPlan{Now: px.ts(), Actions: fires})
	if got := statuses(px); got != "1:CREATED 2:CREATED" {
		t.Fatalf("a fire planned to run after another start applied: %s", got)
	}

	// STRICT_SEQUENTIAL looks at the previous instance first.
	px = triggerFixture(t, `{"properties": {"run_strategy": "STRICT_SEQUENTIAL"}, "workflow": {"id": "tick",
	  "time_triggers": [{"type": "CRON", "cron": "*/5 * * * * ? *"}],
	  "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px.round()
	px.now = base.Add(time.Second)
	if fires := firesOnly(px); len(fires) != 1 || fires[0].GetFireTrigger().Run {
		t.Fatalf("STRICT_SEQUENTIAL fires %v: want one that waits", fires)
	}
}

// Under protocol 1 no fire starts its instance at once.
func TestFiresWaitUnderProtocol1(t *testing.T) {
	px := triggerFixture(t, everyFiveSeconds)
	px.round()
	px.now = time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	out := Plan(Input{State: px.f.State(), Now: px.now, Members: px.members, Defs: px.defs, Protocol: 1})
	fires := 0
	for _, a := range out.Actions {
		if f := a.GetFireTrigger(); f != nil {
			fires++
			if f.Run {
				t.Errorf("protocol 1: fire %v starts its instance at once", f)
			}
		}
	}
	if fires != 1 {
		t.Fatalf("%d fires, want 1", fires)
	}
}
