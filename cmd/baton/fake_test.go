package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/batonhq/baton/fsm/statepb"
	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	workflowv1 "github.com/batonhq/baton/rpc/gen/baton/workflow/v1"
	"github.com/batonhq/baton/rpc/gen/baton/workflow/v1/workflowv1connect"
)

func TestMain(m *testing.M) {
	retryBase = time.Millisecond
	time.Local = time.UTC
	os.Unsetenv("BATON_ADDR")
	os.Exit(m.Run())
}

// runCLI runs one command line and returns its exit code and output.
func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(sec int) *timestamppb.Timestamp {
	return timestamppb.New(t0.Add(time.Duration(sec) * time.Second))
}

// fakeServer serves the three services from small in-memory fakes over
// HTTP/1.1 and h2c, as the agent does, and records what it was asked.
type fakeServer struct {
	*httptest.Server
	wf   *fakeWorkflows
	inst *fakeInstances
	cl   *fakeCluster

	mu     sync.Mutex
	protos map[string]string // procedure -> HTTP version of the last call
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{
		wf:     &fakeWorkflows{},
		inst:   &fakeInstances{},
		cl:     &fakeCluster{},
		protos: map[string]string{},
	}
	mux := http.NewServeMux()
	mux.Handle(workflowv1connect.NewWorkflowServiceHandler(f.wf))
	mux.Handle(instancev1connect.NewInstanceServiceHandler(f.inst))
	mux.Handle(clusterv1connect.NewClusterServiceHandler(f.cl))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.protos[r.URL.Path] = r.Proto
		f.mu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	t.Cleanup(srv.Close)
	f.Server = srv
	return f
}

func (f *fakeServer) proto(procedure string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.protos[procedure]
}

type fakeWorkflows struct {
	workflowv1connect.UnimplementedWorkflowServiceHandler
	pushed  []string
	created bool
}

var demoWorkflow = &statepb.Workflow{
	WorkflowId: "demo", LatestVersion: 3, ActiveVersion: 2, LastInstanceId: 7, CreateTime: ts(0), UpdateTime: ts(60),
}

func (f *fakeWorkflows) Push(_ context.Context, req *connect.Request[workflowv1.PushRequest]) (*connect.Response[workflowv1.PushResponse], error) {
	f.pushed = append(f.pushed, req.Msg.Definition)
	return connect.NewResponse(&workflowv1.PushResponse{
		Workflow: &statepb.Workflow{WorkflowId: "demo", LatestVersion: 3, ActiveVersion: 3},
		Version:  3, Created: f.created,
	}), nil
}

func (f *fakeWorkflows) Get(_ context.Context, req *connect.Request[workflowv1.GetRequest]) (*connect.Response[workflowv1.GetResponse], error) {
	if req.Msg.WorkflowId != "demo" {
		return nil, connect.NewError(connect.CodeNotFound, errors.New(`workflow "`+req.Msg.WorkflowId+`" not found`))
	}
	v := int64(2)
	if req.Msg.Version == "latest" {
		v = 3
	}
	return connect.NewResponse(&workflowv1.GetResponse{
		Workflow: demoWorkflow,
		Version: &statepb.WorkflowVersion{
			WorkflowId: "demo", Version: v, Digest: "abcdef0123456789", CreateTime: ts(30),
			Definition: `{"workflow":{"id":"demo","steps":[]}}`,
		},
	}), nil
}

func (f *fakeWorkflows) List(_ context.Context, req *connect.Request[workflowv1.ListRequest]) (*connect.Response[workflowv1.ListResponse], error) {
	if !req.Msg.Stale {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the test expects --stale"))
	}
	return connect.NewResponse(&workflowv1.ListResponse{Workflows: []*statepb.Workflow{demoWorkflow}}), nil
}

func (f *fakeWorkflows) ListVersions(context.Context, *connect.Request[workflowv1.ListVersionsRequest]) (*connect.Response[workflowv1.ListVersionsResponse], error) {
	return connect.NewResponse(&workflowv1.ListVersionsResponse{Versions: []*statepb.WorkflowVersion{
		{WorkflowId: "demo", Version: 1, Digest: "1111111111111111111", CreateTime: ts(0)},
		{WorkflowId: "demo", Version: 2, Digest: "2222222222222222222", CreateTime: ts(30)},
		{WorkflowId: "demo", Version: 3, Digest: "3333333333333333333", CreateTime: ts(60)},
	}}), nil
}

func (f *fakeWorkflows) Activate(_ context.Context, req *connect.Request[workflowv1.ActivateRequest]) (*connect.Response[workflowv1.ActivateResponse], error) {
	return connect.NewResponse(&workflowv1.ActivateResponse{
		Workflow: &statepb.Workflow{WorkflowId: req.Msg.WorkflowId, ActiveVersion: req.Msg.Version, LatestVersion: 3},
	}), nil
}

type fakeInstances struct {
	instancev1connect.UnimplementedInstanceServiceHandler

	mu sync.Mutex
	// Start answers Unavailable this many times before succeeding.
	startUnavailable int
	starts           []*instancev1.StartRequest
	lists            []*instancev1.ListRequest
	// events is the instance's whole timeline; the first watch breaks
	// after breakAfter of them when breakAfter > 0.
	events     []*statepb.Event
	breakAfter int
	breakCode  connect.Code // how it breaks; Unavailable when zero
	watches    []int64      // after_seq of each Watch call
	final      string       // the instance status Get reports
	// Stop answers Aborted this many times, applying the stop the first
	// time, as a leader that changed before confirming it would.
	stopAborted int
	stops       []*instancev1.StopRequest
}

func (f *fakeInstances) Start(_ context.Context, req *connect.Request[instancev1.StartRequest]) (*connect.Response[instancev1.StartResponse], error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.starts = append(f.starts, req.Msg)
	if f.startUnavailable > 0 {
		f.startUnavailable--
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("no Raft leader is available; retry later"))
	}
	return connect.NewResponse(&instancev1.StartResponse{
		Instance: &statepb.Instance{WorkflowId: req.Msg.WorkflowId, InstanceId: 8, WorkflowVersion: 2, Status: "CREATED", RequestId: req.Msg.RequestId},
		Created:  true,
	}), nil
}

func (f *fakeInstances) Get(_ context.Context, req *connect.Request[instancev1.GetRequest]) (*connect.Response[instancev1.GetResponse], error) {
	if req.Msg.InstanceId != 7 && req.Msg.InstanceId != 8 {
		return nil, connect.NewError(connect.CodeNotFound, errors.New(`workflow "x" has no instance 9`))
	}
	f.mu.Lock()
	final := f.final
	f.mu.Unlock()
	if final == "" {
		final = "FAILED"
	}
	return connect.NewResponse(&instancev1.GetResponse{
		Instance: &statepb.Instance{
			WorkflowId: "demo", InstanceId: req.Msg.InstanceId, WorkflowVersion: 2, Status: final,
			Reason: "step b failed", RequestId: "r-1", CreateTime: ts(0), StartTime: ts(1), EndTime: ts(9),
			Params: map[string]*statepb.Param{
				"base": {Type: "LONG", Value: structpb.NewNumberValue(20)},
				"name": {Type: "STRING", Value: structpb.NewStringValue("x y")},
			},
		},
		Steps: []*statepb.Step{
			{StepId: "a", Type: "NoOp", Status: "SUCCEEDED", Attempts: []*statepb.Attempt{
				{AttemptNumber: 1, Node: "n1", Status: "SUCCEEDED", EndTime: ts(3), ExitCode: -1},
			}},
			{StepId: "b", Type: "Shell", Status: "FATALLY_FAILED", Attempts: []*statepb.Attempt{
				{AttemptNumber: 1, Node: "n1", Status: "USER_FAILED", ExitCode: 1, Error: "first try"},
				{AttemptNumber: 2, Node: "n2", Status: "USER_FAILED", ExitCode: 2, Error: "exit status 2\nmore detail", LogTail: "starting\nboom\n"},
			}},
			{StepId: "c", Type: "Shell", Status: "STOPPED", Reason: "upstream step b failed"},
		},
	}), nil
}

func (f *fakeInstances) List(_ context.Context, req *connect.Request[instancev1.ListRequest]) (*connect.Response[instancev1.ListResponse], error) {
	if req.Msg.Limit != 2 {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the test expects --limit 2"))
	}
	f.mu.Lock()
	f.lists = append(f.lists, req.Msg)
	f.mu.Unlock()
	res := &instancev1.ListResponse{Instances: []*statepb.Instance{
		{WorkflowId: "demo", InstanceId: 7, WorkflowVersion: 2, Status: "FAILED", Reason: "step b failed", CreateTime: ts(0), EndTime: ts(9)},
		{WorkflowId: "demo", InstanceId: 6, WorkflowVersion: 1, Status: "SUCCEEDED", CreateTime: ts(-60), EndTime: ts(-50)},
	}}
	if req.Msg.Before > 0 {
		// A page further back, with more behind it.
		res.NextBefore = 6
	}
	return connect.NewResponse(res), nil
}

func (f *fakeInstances) Stop(_ context.Context, req *connect.Request[instancev1.StopRequest]) (*connect.Response[instancev1.StopResponse], error) {
	if req.Msg.Reason != "enough" {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("the test expects --reason enough"))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stops = append(f.stops, req.Msg)
	if f.stopAborted > 0 {
		f.stopAborted--
		return nil, connect.NewError(connect.CodeAborted, errors.New("the leader changed before the write was confirmed"))
	}
	return connect.NewResponse(&instancev1.StopResponse{Instance: &statepb.Instance{
		WorkflowId: req.Msg.WorkflowId, InstanceId: req.Msg.InstanceId, Status: "STOPPED",
	}, Repeated: len(f.stops) > 1}), nil
}

func (f *fakeInstances) Watch(_ context.Context, req *connect.Request[instancev1.WatchRequest], stream *connect.ServerStream[instancev1.WatchResponse]) error {
	f.mu.Lock()
	f.watches = append(f.watches, req.Msg.AfterSeq)
	first := len(f.watches) == 1
	events := f.events
	breakAfter, breakCode := f.breakAfter, f.breakCode
	f.mu.Unlock()
	if breakCode == 0 {
		breakCode = connect.CodeUnavailable
	}
	sent := 0
	for _, e := range events {
		if e.Seq <= req.Msg.AfterSeq {
			continue
		}
		if first && breakAfter > 0 && sent == breakAfter {
			return connect.NewError(breakCode, errors.New("node shutting down"))
		}
		if err := stream.Send(&instancev1.WatchResponse{Event: e}); err != nil {
			return err
		}
		sent++
	}
	return nil
}

type fakeCluster struct {
	clusterv1connect.UnimplementedClusterServiceHandler
}

func (fakeCluster) Status(context.Context, *connect.Request[clusterv1.StatusRequest]) (*connect.Response[clusterv1.StatusResponse], error) {
	return connect.NewResponse(&clusterv1.StatusResponse{
		Node: "n1", RaftState: "Follower", LeaderId: "n2", LeaderApiAddress: "http://10.0.0.2:7420",
		LastAppliedIndex: 42, CommitIndex: 42, LastLogIndex: 43, Term: 5, Protocol: 2, ClusterProtocol: 1,
		Peers: []*clusterv1.Peer{
			{Id: "n1", Address: "10.0.0.1:7421", Voter: true},
			{Id: "n2", Address: "10.0.0.2:7421", Voter: true, Leader: true},
		},
	}), nil
}

// timeline is an instance's events ending in the given instance status.
func timeline(final string) []*statepb.Event {
	return []*statepb.Event{
		{Seq: 1, Time: ts(0), Status: "IN_PROGRESS"},
		{Seq: 2, Time: ts(1), StepId: "a", AttemptNumber: 1, Status: "RUNNING", Message: "on n1"},
		{Seq: 3, Time: ts(2), StepId: "a", AttemptNumber: 1, Status: "SUCCEEDED"},
		{Seq: 4, Time: ts(3), Status: final, Message: "done"},
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
