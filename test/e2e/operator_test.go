package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/batonhq/baton/cluster"
	"github.com/batonhq/baton/fsm"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	operatorv1 "github.com/batonhq/baton/rpc/gen/baton/operator/v1"
	"github.com/batonhq/baton/rpc/gen/baton/operator/v1/operatorv1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/test/harness"
)

func tableCounts(info *operatorv1.SnapshotInfo) map[string]int64 {
	out := map[string]int64{}
	for _, tc := range info.Tables {
		out[tc.Table] = tc.Records
	}
	return out
}

func workflowIDs(t *testing.T, addr string) []string {
	t.Helper()
	var res workflowv1.ListResponse
	harness.CLIJSON(t, addr, &res, "workflow", "list")
	var ids []string
	for _, w := range res.Workflows {
		ids = append(ids, w.WorkflowId)
	}
	return ids
}

// A snapshot saved from one dev agent describes its state exactly, is
// refused when damaged without touching the target, and restored into a
// second agent replaces that agent's state with the first one's.
func TestOperatorSnapshotSaveInspectRestore(t *testing.T) {
	t.Parallel()
	src := harness.StartDev(t)
	harness.MustCLI(t, src.URL(), "workflow", "push", "testdata/diamond.yaml")
	r := harness.CLI(t, src.URL(), "instance", "start", "e2e-diamond", "-p", "base=3", "--wait")
	if r.Code != 0 {
		t.Fatalf("start --wait exited %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
	}
	id := startID(t, r)
	before := getInstance(t, src.URL(), "e2e-diamond", id)

	dir := t.TempDir()
	file := filepath.Join(dir, "cluster.snap")
	var saved operatorv1.SnapshotInfo
	harness.CLIJSON(t, src.URL(), &saved, "operator", "snapshot", "save", file)
	if saved.Index == 0 || saved.Term == 0 || saved.Size == 0 || !saved.ChecksumOk {
		t.Fatalf("snapshot save reported %v", &saved)
	}
	if _, err := os.Stat(file + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("snapshot save left %s.tmp behind (stat: %v)", file, err)
	}
	st, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() != saved.FileSize {
		t.Errorf("file is %d bytes, save reported %d", st.Size(), saved.FileSize)
	}

	var info operatorv1.SnapshotInfo
	harness.CLIJSON(t, src.URL(), &info, "operator", "snapshot", "inspect", file)
	if info.Index != saved.Index || info.Term != saved.Term || info.Size != saved.Size || !info.ChecksumOk {
		t.Errorf("inspect shows index %d term %d size %d checksum_ok %v; save reported %d/%d/%d",
			info.Index, info.Term, info.Size, info.ChecksumOk, saved.Index, saved.Term, saved.Size)
	}
	want := map[string]int64{
		"workflows": 1, "versions": 1, "instances": 1,
		"steps": int64(len(before.Steps)), "events": before.Instance.LastEventSeq,
	}
	got := tableCounts(&info)
	for table, n := range want {
		if got[table] != n {
			t.Errorf("inspect counts %d %s, want %d (all: %v)", got[table], table, n, got)
		}
	}
	if out := harness.MustCLI(t, src.URL(), "operator", "snapshot", "inspect", file); !strings.Contains(out, "Checksum  ok") {
		t.Errorf("inspect table does not report the checksum ok:\n%s", out)
	}

	// The target has state of its own, which a refused restore must keep.
	dst := harness.NewAgent(t, "target")
	dst.Start(t, "-dev")
	dst.WaitLeader(t, 30*time.Second)
	harness.MustCLI(t, dst.URL(), "workflow", "push", "testdata/fail.json")

	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), data...)
	flipped[len(flipped)/2] ^= 0x5a
	damaged := map[string][]byte{
		"flipped":   flipped,
		"truncated": data[:len(data)-100],
		"extended":  append(append([]byte(nil), data...), "more"...),
		"short":     data[:10],
		"foreign":   []byte(strings.Repeat("not a snapshot\n", 10)),
		// Intact as a file, checksum included, but its state data does not
		// parse: only the server's check of every record catches it.
		"bad state": rewrapped(t, data, []byte("BATONSNAP\x01\x09\x05bogus")),
	}
	for name, content := range damaged {
		bad := filepath.Join(dir, name+".snap")
		if err := os.WriteFile(bad, content, 0o600); err != nil {
			t.Fatal(err)
		}
		r := harness.CLI(t, dst.URL(), "operator", "snapshot", "restore", bad)
		if r.Code != 1 || !strings.Contains(r.Stderr, "snapshot file") {
			t.Errorf("restore of a %s file: exit %d, stderr %q; want exit 1 naming the snapshot file", name, r.Code, r.Stderr)
		}
		if name == "bad state" && !strings.Contains(r.Stderr, "invalid_argument") {
			t.Errorf("restore of a file with bad state data: stderr %q, want the server's invalid_argument", r.Stderr)
		}
		if r := harness.CLI(t, dst.URL(), "operator", "snapshot", "inspect", bad); r.Code != 1 {
			t.Errorf("inspect of a %s file exited %d, want 1\n%s", name, r.Code, r.Stdout)
		}
		// The server checks on its own, whatever the client did.
		if err := uploadSnapshot(dst.URL(), content); connect.CodeOf(err) != connect.CodeInvalidArgument {
			t.Errorf("API restore of a %s file: %v, want invalid_argument", name, err)
		}
	}
	if ids := workflowIDs(t, dst.URL()); len(ids) != 1 || ids[0] != "e2e-fail" {
		t.Fatalf("after refused restores the target holds workflows %v, want just e2e-fail", ids)
	}

	var restored operatorv1.SnapshotRestoreResponse
	harness.CLIJSON(t, dst.URL(), &restored, "operator", "snapshot", "restore", file)
	if restored.Snapshot.GetIndex() != saved.Index || restored.RestoredIndex <= saved.Index {
		t.Errorf("restore reported snapshot index %d, restored index %d; saved index is %d",
			restored.Snapshot.GetIndex(), restored.RestoredIndex, saved.Index)
	}
	after := getInstance(t, dst.URL(), "e2e-diamond", id)
	if after.Instance.Status != "SUCCEEDED" || len(after.Steps) != len(before.Steps) ||
		after.Instance.LastEventSeq != before.Instance.LastEventSeq {
		t.Errorf("restored instance: %s with %d steps and %d events; source: %s with %d steps and %d events",
			after.Instance.Status, len(after.Steps), after.Instance.LastEventSeq,
			before.Instance.Status, len(before.Steps), before.Instance.LastEventSeq)
	}
	if got := output(t, stepByID(t, after, "d"), "total"); got != output(t, stepByID(t, before, "d"), "total") {
		t.Errorf("restored d.total = %d, source has %d", got, output(t, stepByID(t, before, "d"), "total"))
	}
	if ids := workflowIDs(t, dst.URL()); len(ids) != 1 || ids[0] != "e2e-diamond" {
		t.Errorf("after the restore the target holds workflows %v, want just e2e-diamond", ids)
	}

	// The restored state is the target's own now: it survives a restart and
	// takes new instances.
	dst.Kill()
	dst.Restart(t)
	dst.WaitLeader(t, 30*time.Second)
	if st := getInstance(t, dst.URL(), "e2e-diamond", id).Instance.Status; st != "SUCCEEDED" {
		t.Errorf("restored instance after a restart: %s", st)
	}
	r = harness.CLI(t, dst.URL(), "instance", "start", "e2e-diamond", "--wait")
	if r.Code != 0 {
		t.Fatalf("new instance on the restored target: exit %d\n%s", r.Code, r.Stderr)
	}
	if next := startID(t, r); next != id+1 {
		t.Errorf("new instance on the restored target got id %d, want %d", next, id+1)
	}
}

// rewrapped returns the snapshot file with its state data replaced by
// state, under a header and checksum that match.
func rewrapped(t *testing.T, file, state []byte) []byte {
	t.Helper()
	sf, err := cluster.OpenSnapshotFile(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	h := sf.Header
	h.Size = int64(len(state))
	var out bytes.Buffer
	if err := cluster.WriteSnapshotFile(&out, &h, bytes.NewReader(state)); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func uploadSnapshot(addr string, data []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	up := operatorv1connect.NewOperatorServiceClient(harness.HTTPClient(), addr).SnapshotRestore(ctx)
	for len(data) > 0 {
		n := min(len(data), 1000)
		if err := up.Send(&operatorv1.SnapshotRestoreRequest{Data: data[:n]}); err != nil {
			break
		}
		data = data[n:]
	}
	_, err := up.CloseAndReceive()
	return err
}

// members and list-peers show a dev agent as the one alive member and the
// leading voter; the Raft commands that need another server say so.
func TestOperatorMembersAndPeersOnDevAgent(t *testing.T) {
	t.Parallel()
	a := harness.StartDev(t)
	addr := a.URL()

	var members operatorv1.MembersResponse
	harness.CLIJSON(t, addr, &members, "members")
	if len(members.Members) != 1 {
		t.Fatalf("members: %v, want one", members.Members)
	}
	m := members.Members[0]
	if m.Name != "dev" || m.Status != "alive" || m.Address != a.SerfAddr || m.Tags["raft"] != a.RaftAddr {
		t.Errorf("member %v: want dev, alive, at %s with raft tag %s", m, a.SerfAddr, a.RaftAddr)
	}
	if want := strconv.Itoa(fsm.Protocol); m.Tags["protocol"] != want {
		t.Errorf("member %v: protocol tag %q, want %s (the command protocol it applies)", m, m.Tags["protocol"], want)
	}
	var st clusterv1.StatusResponse
	harness.CLIJSON(t, addr, &st, "status")
	if st.Protocol != fsm.Protocol || st.ClusterProtocol != fsm.Protocol {
		t.Errorf("status: protocol %d, cluster protocol %d; want %d for both", st.Protocol, st.ClusterProtocol, fsm.Protocol)
	}
	if out := harness.MustCLI(t, addr, "members"); !strings.Contains(out, "alive") || !strings.Contains(out, a.SerfAddr) {
		t.Errorf("members table:\n%s", out)
	}

	var peers operatorv1.RaftListPeersResponse
	harness.CLIJSON(t, addr, &peers, "operator", "raft", "list-peers")
	if len(peers.Peers) != 1 {
		t.Fatalf("list-peers: %v, want one", peers.Peers)
	}
	if p := peers.Peers[0]; p.Id != "dev" || p.Address != a.RaftAddr || !p.Voter || !p.Leader {
		t.Errorf("peer %v: want dev at %s, voter and leader", p, a.RaftAddr)
	}

	r := harness.CLI(t, addr, "operator", "raft", "remove-peer", "dev")
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed_precondition") || !strings.Contains(r.Stderr, "transfer leadership first") {
		t.Errorf("remove-peer of the leader: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = harness.CLI(t, addr, "operator", "raft", "remove-peer", "nobody")
	if r.Code != 1 || !strings.Contains(r.Stderr, "not_found") {
		t.Errorf("remove-peer of an unknown id: exit %d, stderr %q", r.Code, r.Stderr)
	}
	r = harness.CLI(t, addr, "operator", "raft", "transfer-leader")
	if r.Code != 1 || !strings.Contains(r.Stderr, "failed_precondition") {
		t.Errorf("transfer-leader with one server: exit %d, stderr %q", r.Code, r.Stderr)
	}
	if r := harness.CLI(t, addr, "operator", "raft", "remove-peer"); r.Code != 2 {
		t.Errorf("remove-peer without an id exited %d, want 2", r.Code)
	}
	if r := harness.CLI(t, addr, "operator", "snapshot", "inspect", filepath.Join(t.TempDir(), "missing.snap")); r.Code != 1 {
		t.Errorf("inspect of a missing file exited %d, want 1", r.Code)
	}
}
