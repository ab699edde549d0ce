package chaos

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/fsm"
	"github.com/batonhq/baton/fsm/statepb"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
)

// The workflow deletion workload. One client works in rounds on
// deleteWorkflow: it pushes the workflow, starts an instance, waits for
// it to end and deletes the workflow; half the time it then sends copies of
// the round's push, start and deletion again: the push's must be refused
// (its version went with the workflow), the start's must start nothing
// (answered with the round's instance while the leader has not deleted it
// yet, refused after) and the deletion's must be a repeat. Every call
// carries its request id and is sent again, to any server, while its
// outcome is unknown, and impatient calls leave copies held up in the
// cluster, which may take effect late.
//
// The check: each round's push created the workflow, and numbering went on
// by exactly one from the deletion before it, which reports exactly the
// round's version and instance: no late copy of a push or start created
// anything. Once retention has had time, no instance a deletion left is
// still in the state. The run's own start checks never see these
// instances: they are started outside its start records.
const deleteWorkflow = "chaos-delete"

// deleteRound is what one round learnt.
type deleteRound struct {
	version, instance int64
	// created: the push was answered as creating the version.
	created bool
	// deleted: the deletion was answered, with what it kept of the id.
	deleted *statepb.DeletedWorkflow
}

type deleteWorkload struct {
	interval time.Duration

	clientRecords[deleteRound]
}

func newDeleteWorkload(interval time.Duration) *deleteWorkload {
	return &deleteWorkload{interval: interval}
}

func (w *deleteWorkload) name() string     { return "workflow deletions" }
func (w *deleteWorkload) clients() int     { return 1 }
func (w *deleteWorkload) setup(*run) error { return nil }

func (w *deleteWorkload) client(r *run, id int, stop <-chan struct{}) {
	const within = 5 * time.Minute
	def := definition(deleteWorkflow, noopStep("only"))
	for r.pace(w.interval, stop) {
		base := fmt.Sprintf("%s-del-%d", r.scenario, r.nextID())
		rec := &deleteRound{}
		w.add(rec)
		err := r.call("push "+deleteWorkflow, within, func(ctx context.Context, n *node) error {
			res, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def, RequestId: base + "-push"}))
			if err == nil {
				w.set(func() { rec.version, rec.created = res.Msg.Version, res.Msg.Created })
			}
			return err
		})
		if err == nil {
			err = r.call("start "+deleteWorkflow, within, func(ctx context.Context, n *node) error {
				res, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: deleteWorkflow, RequestId: base + "-start"}))
				if err == nil {
					w.set(func() { rec.instance = res.Msg.Instance.GetInstanceId() })
				}
				return err
			})
		}
		if err == nil {
			err = w.waitEnded(r, rec.instance, within)
		}
		if err == nil {
			err = w.delete(r, rec, base+"-delete", within)
		}
		if err != nil {
			w.unexpected("%v", err)
			continue
		}
		if r.chance(0.5) {
			if err := w.sendLate(r, def, base, rec.instance, within); err != nil {
				w.unexpected("%v", err)
			}
		}
	}
}

// waitEnded polls an instance of deleteWorkflow until it has ended.
func (w *deleteWorkload) waitEnded(r *run, instanceID int64, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		var status string
		err := r.retry(within, func(ctx context.Context, n *node) error {
			res, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: deleteWorkflow, InstanceId: instanceID}))
			if err == nil {
				status = res.Msg.Instance.Status
			}
			return err
		})
		switch {
		case err != nil:
			return fmt.Errorf("read %s/%d: %w", deleteWorkflow, instanceID, err)
		case fsm.InstanceTerminal(status):
			return nil
		case time.Now().After(deadline):
			return fmt.Errorf("%s/%d is still %s after %s", deleteWorkflow, instanceID, status, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// delete deletes deleteWorkflow until the deletion is answered. A refusal
// (an unfinished instance would be one a late start's copy created) is an
// error.
func (w *deleteWorkload) delete(r *run, rec *deleteRound, requestID string, within time.Duration) error {
	return r.call("delete "+deleteWorkflow+", request "+requestID, within, func(ctx context.Context, n *node) error {
		res, err := r.c.workflowClient(n).Delete(ctx, connect.NewRequest(&workflowv1.DeleteRequest{WorkflowId: deleteWorkflow, Reason: "chaos", RequestId: requestID}))
		if err == nil {
			r.countAction("workflow deletions", res.Msg.Repeated)
			w.set(func() { rec.deleted = res.Msg.Deleted })
		}
		return err
	})
}

// sendLate sends copies of an answered round's push, start and deletion
// again, after the deletion: the push's must be refused, the start's must
// start nothing, and the deletion's must be a repeat.
func (w *deleteWorkload) sendLate(r *run, def, base string, instanceID int64, within time.Duration) error {
	what := "late copy of push " + deleteWorkflow + ", request " + base + "-push"
	err := r.call(what, within, func(ctx context.Context, n *node) error {
		res, err := r.c.workflowClient(n).Push(ctx, connect.NewRequest(&workflowv1.PushRequest{Definition: def, RequestId: base + "-push"}))
		switch {
		case err == nil:
			return verdictf("%s through %s pushed version %d (created %v) of the deleted workflow", what, n.name, res.Msg.Version, res.Msg.Created)
		case isCode(err, connect.CodeNotFound) && strings.Contains(err.Error(), "which went with the workflow"):
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	what = "late copy of start " + deleteWorkflow + ", request " + base + "-start"
	err = r.call(what, within, func(ctx context.Context, n *node) error {
		res, err := r.c.instanceClient(n).Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: deleteWorkflow, RequestId: base + "-start"}))
		switch {
		case err == nil:
			if res.Msg.Created || res.Msg.Instance.GetInstanceId() != instanceID {
				return verdictf("%s through %s answered instance %d (created %v); the round's was %d", what, n.name, res.Msg.Instance.GetInstanceId(), res.Msg.Created, instanceID)
			}
			return nil
		case isCode(err, connect.CodeNotFound) && strings.Contains(err.Error(), "which was deleted with its workflow"):
			return nil
		}
		return err
	})
	if err != nil {
		return err
	}
	what = "late copy of delete " + deleteWorkflow + ", request " + base + "-delete"
	err = r.call(what, within, func(ctx context.Context, n *node) error {
		res, err := r.c.workflowClient(n).Delete(ctx, connect.NewRequest(&workflowv1.DeleteRequest{WorkflowId: deleteWorkflow, Reason: "chaos", RequestId: base + "-delete"}))
		if err != nil {
			return err
		}
		if !res.Msg.Repeated {
			return verdictf("%s through %s was not answered as a repeat", what, n.name)
		}
		return nil
	})
	if err == nil {
		r.stats.add("late copies sent", 3)
	}
	return err
}

func (w *deleteWorkload) check(r *run) {
	rounds, errs := w.snapshot()
	r.addCheck(checkResult{name: "workflow deletion clients' calls all answered", checked: len(rounds), violations: errs})
	// Retention runs every few seconds: give it a minute to delete what
	// the deletions left.
	var left []int64
	deadline := time.Now().Add(time.Minute)
	for {
		left = left[:0]
		for _, rd := range rounds {
			if rd.deleted == nil || rd.instance == 0 {
				continue
			}
			err := r.retry(time.Minute, func(ctx context.Context, n *node) error {
				_, err := r.c.instanceClient(n).Get(ctx, connect.NewRequest(&instancev1.GetRequest{WorkflowId: deleteWorkflow, InstanceId: rd.instance}))
				if isCode(err, connect.CodeNotFound) {
					return nil
				}
				if err == nil {
					left = append(left, rd.instance)
				}
				return err
			})
			if err != nil {
				r.addCheck(checkResult{name: deleteCheckName, violations: []string{fmt.Sprintf("read %s/%d: %v", deleteWorkflow, rd.instance, err)}})
				return
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	r.stats.add("workflow deletions answered", int64(countDeleted(rounds)))
	r.addCheck(checkDeletions(rounds, left))
}

const deleteCheckName = "workflow deletions: numbering goes on by one per round, late copies create nothing, and what each deletion left is deleted"

func countDeleted(rounds []deleteRound) int {
	n := 0
	for _, rd := range rounds {
		if rd.deleted != nil {
			n++
		}
	}
	return n
}

// checkDeletions: each round's version and instance are above every
// earlier round's (its version may be the one before when that round's
// deletion went unanswered). After a round whose deletion was answered, the next
// round's push created the workflow, with the version and instance numbers
// one above what the deletion reported; a deletion reports exactly its
// round's version and instance. So nothing but the rounds' own calls (no
// late copy of a push or start) created a version or an instance. And no
// instance of a round whose deletion was answered is left (left lists
// those still found).
func checkDeletions(rounds []deleteRound, left []int64) checkResult {
	res := checkResult{name: deleteCheckName}
	var prev deleteRound
	for i, rd := range rounds {
		if rd.version == 0 || rd.instance == 0 {
			continue
		}
		res.checked++
		// A round after one whose deletion went unanswered may find the
		// workflow still there, at the same version.
		if rd.version < prev.version || (rd.version == prev.version && prev.deleted != nil) || rd.instance <= prev.instance {
			res.violations = append(res.violations, fmt.Sprintf("round %d got version %d, instance %d; an earlier round got version %d, instance %d",
				i, rd.version, rd.instance, prev.version, prev.instance))
		}
		if i > 0 && rounds[i-1].deleted != nil {
			d := rounds[i-1].deleted
			if !rd.created {
				res.violations = append(res.violations, fmt.Sprintf("round %d's push found %s there after the round before deleted it: something else created it", i, deleteWorkflow))
			}
			if rd.version != d.LatestVersion+1 || rd.instance != d.LastInstanceId+1 {
				res.violations = append(res.violations, fmt.Sprintf("round %d got version %d, instance %d; the deletion before it reported up to version %d, instance %d, so something else took the numbers between",
					i, rd.version, rd.instance, d.LatestVersion, d.LastInstanceId))
			}
		}
		if d := rd.deleted; d != nil && (d.LatestVersion != rd.version || d.LastInstanceId != rd.instance) {
			res.violations = append(res.violations, fmt.Sprintf("round %d's deletion reports up to version %d, instance %d, where the round got version %d, instance %d",
				i, d.LatestVersion, d.LastInstanceId, rd.version, rd.instance))
		}
		prev = rd
	}
	for _, id := range left {
		res.violations = append(res.violations, fmt.Sprintf("%s/%d is still in the state a minute after the load stopped, though its workflow's deletion was answered", deleteWorkflow, id))
	}
	return res
}
