package fsm

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/batonhq/baton/fsm/statepb"
)

// A workflow's instances are listed a page at a time, newest first, with or
// without a status filter, and never run into the instances of a workflow
// whose id sorts next to it ("et" before, "etl2" after).
func TestInstancesPage(t *testing.T) {
	x := newFixture(t)
	for _, wf := range []string{"et", wfETL, "etl2"} {
		def := fmt.Sprintf(`{"workflow":{"id":%q,"steps":["a"]}}`, wf)
		applyAs[*PushResult](x, pushCmd(wf, def, 0))
	}
	applyAs[*StartResult](x, startCmd("et", "et-1", 1, 1))
	applyAs[*StartResult](x, startCmd("etl2", "etl2-1", 1, 1))
	for i := 1; i <= 7; i++ {
		applyAs[*StartResult](x, startCmd(wfETL, fmt.Sprintf("r%d", i), 1, 1+i))
	}
	for _, id := range []int64{2, 3, 6} {
		applyAs[*StopResult](x, stopCmd(wfETL, id, "", 10))
	}
	st := x.state()
	ids := func(p InstancePage) ([]int64, bool) {
		list, more := st.InstancesPage(p)
		var out []int64
		for _, inst := range list {
			if inst.WorkflowId != p.WorkflowID {
				t.Fatalf("%+v listed %s/%d", p, inst.WorkflowId, inst.InstanceId)
			}
			out = append(out, inst.InstanceId)
		}
		return out, more
	}
	stopped := []string{InstanceStopped}
	for _, c := range []struct {
		page InstancePage
		want []int64
		more bool
	}{
		{InstancePage{WorkflowID: wfETL}, []int64{7, 6, 5, 4, 3, 2, 1}, false},
		{InstancePage{WorkflowID: wfETL, Limit: 3}, []int64{7, 6, 5}, true},
		{InstancePage{WorkflowID: wfETL, Limit: 3, Before: 5}, []int64{4, 3, 2}, true},
		{InstancePage{WorkflowID: wfETL, Limit: 3, Before: 2}, []int64{1}, false},
		{InstancePage{WorkflowID: wfETL, Limit: 3, Before: 1}, nil, false},
		{InstancePage{WorkflowID: wfETL, Limit: 7}, []int64{7, 6, 5, 4, 3, 2, 1}, false},
		{InstancePage{WorkflowID: wfETL, Before: 100}, []int64{7, 6, 5, 4, 3, 2, 1}, false},
		{InstancePage{WorkflowID: wfETL, Statuses: stopped, Limit: 2}, []int64{6, 3}, true},
		{InstancePage{WorkflowID: wfETL, Statuses: stopped, Limit: 2, Before: 3}, []int64{2}, false},
		// The last match is the page's last: nothing older matches.
		{InstancePage{WorkflowID: wfETL, Statuses: stopped, Limit: 3}, []int64{6, 3, 2}, false},
		{InstancePage{WorkflowID: wfETL, Statuses: []string{InstanceCreated, InstanceFailed}, Limit: 2, Before: 4}, []int64{1}, false},
		{InstancePage{WorkflowID: "et", Limit: 5}, []int64{1}, false},
		{InstancePage{WorkflowID: "et", Before: 5}, []int64{1}, false},
		{InstancePage{WorkflowID: "nope", Before: 5}, nil, false},
	} {
		got, more := ids(c.page)
		if !slices.Equal(got, c.want) || more != c.more {
			t.Errorf("%+v: %v (more %v), want %v (more %v)", c.page, got, more, c.want, c.more)
		}
	}
}

// A name's signals are listed a page at a time, newest first, and never run
// into a neighbouring name's ("a" before "ab", "b" after).
func TestSignalsPage(t *testing.T) {
	x := newFixture(t)
	for i, name := range []string{"a", "ab", "ab", "ab", "ab", "ab", "b"} {
		applyAs[*SignalResult](x, &statepb.SendSignal{Name: name, Now: at(i)})
	}
	st := x.state()
	for _, c := range []struct {
		name          string
		before, limit int64
		want          []int64
		more          bool
	}{
		{"ab", 0, 0, []int64{5, 4, 3, 2, 1}, false},
		{"ab", 0, 2, []int64{5, 4}, true},
		{"ab", 4, 2, []int64{3, 2}, true},
		{"ab", 2, 2, []int64{1}, false},
		{"ab", 1, 2, nil, false},
		{"ab", 0, 5, []int64{5, 4, 3, 2, 1}, false},
		{"a", 9, 0, []int64{1}, false},
		{"b", 9, 3, []int64{1}, false},
		{"c", 9, 3, nil, false},
	} {
		list, more := st.SignalsPage(c.name, c.before, int(c.limit))
		var got []int64
		for _, sg := range list {
			if sg.Name != c.name {
				t.Fatalf("%+v listed %s #%d", c, sg.Name, sg.Seq)
			}
			got = append(got, sg.Seq)
		}
		if !slices.Equal(got, c.want) || more != c.more {
			t.Errorf("%+v: %v (more %v)", c, got, more)
		}
	}
	if got := st.Signals("ab", 2); len(got) != 2 || got[0].Seq != 5 {
		t.Errorf("Signals: %v", got)
	}
}

// ActiveInstancesBut passes over whole workflows, and only those: not a
// workflow whose id begins with a skipped one's.
func TestActiveInstancesBut(t *testing.T) {
	x := newFixture(t)
	for _, wf := range []string{"et", wfETL, "etl2", "z"} {
		def := fmt.Sprintf(`{"workflow":{"id":%q,"steps":["a"]}}`, wf)
		applyAs[*PushResult](x, pushCmd(wf, def, 0))
		for i := 1; i <= 3; i++ {
			applyAs[*StartResult](x, startCmd(wf, fmt.Sprintf("%s-%d", wf, i), 1, i))
		}
	}
	applyAs[*StopResult](x, stopCmd("etl2", 2, "", 10))
	st := x.state()
	listed := func(skip ...string) string {
		m := map[string]bool{}
		for _, wf := range skip {
			m[wf] = true
		}
		var out []string
		for _, inst := range st.ActiveInstancesBut(m) {
			out = append(out, fmt.Sprintf("%s/%d", inst.WorkflowId, inst.InstanceId))
		}
		return strings.Join(out, " ")
	}
	all := listed()
	if want := "et/1 et/2 et/3 etl/1 etl/2 etl/3 etl2/1 etl2/3 z/1 z/2 z/3"; all != want {
		t.Fatalf("listed %s, want %s", all, want)
	}
	for _, c := range []struct {
		skip []string
		want string
	}{
		{[]string{"et"}, "etl/1 etl/2 etl/3 etl2/1 etl2/3 z/1 z/2 z/3"},
		{[]string{wfETL}, "et/1 et/2 et/3 etl2/1 etl2/3 z/1 z/2 z/3"},
		{[]string{"et", "etl2", "z"}, "etl/1 etl/2 etl/3"},
		{[]string{"et", wfETL, "etl2", "z"}, ""},
		{[]string{"nothing", "e"}, all},
	} {
		if got := listed(c.skip...); got != c.want {
			t.Errorf("skipping %v listed %q, want %q", c.skip, got, c.want)
		}
	}
}
