package scheduler

import (
	"fmt"
	"testing"

	"github.com/batonhq/baton/fsm"
)

// A suspect member (the leader's heartbeat to it failed) gets no new steps,
// while the attempt it already runs stays its own: it is not lost.
func TestSuspectMemberGetsNoNewSteps(t *testing.T) {
	var steps string
	for i := 0; i < 12; i++ {
		if i > 0 {
			steps += ","
		}
		steps += fmt.Sprintf(`{"step": {"id": "s%02d", "type": "NoOp"}}`, i)
	}
	px := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [`+steps+`]}}`)
	px.members = []Member{{Name: "n1"}, {Name: "n2"}, {Name: "n3", Suspect: true}}
	px.round()
	byNode := map[string]int{}
	for i := 0; i < 12; i++ {
		st := px.step(fmt.Sprintf("s%02d", i))
		if st.Status != fsm.StepRunning {
			t.Fatalf("s%02d is %s, want RUNNING", i, st.Status)
		}
		byNode[st.Node]++
	}
	if byNode["n3"] != 0 || byNode["n1"] == 0 || byNode["n2"] == 0 {
		t.Fatalf("placements by node %v: want none on the suspect n3", byNode)
	}

	// n1 becomes suspect while it runs attempts: they stay RUNNING on it.
	px.members = []Member{{Name: "n1", Suspect: true}, {Name: "n2"}, {Name: "n3"}}
	px.round()
	for i := 0; i < 12; i++ {
		if st := px.step(fmt.Sprintf("s%02d", i)); st.Status != fsm.StepRunning || len(st.Attempts) != 1 {
			t.Fatalf("s%02d %s with %d attempts after its node became suspect, want its attempt kept", i, st.Status, len(st.Attempts))
		}
	}

	// With every member suspect, steps wait rather than go to one of them.
	px2 := newPlanFixture(t, `{"workflow": {"id": "wf", "steps": [{"step": {"id": "a", "type": "NoOp"}}]}}`)
	px2.members = []Member{{Name: "n1", Suspect: true}}
	px2.round()
	if st := px2.step("a"); st.Status != fsm.StepCreated || st.Node != "" {
		t.Fatalf("a is %s on %q with only a suspect member, want CREATED, waiting", st.Status, st.Node)
	}
}
