package rpc

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"connectrpc.com/connect"

	instancev1 "github.com/batonhq/baton/rpc/gen/baton/instance/v1"
	"github.com/batonhq/baton/rpc/gen/baton/instance/v1/instancev1connect"
	signalv1 "github.com/batonhq/baton/rpc/gen/baton/signal/v1"
	"github.com/batonhq/baton/rpc/gen/baton/signal/v1/signalv1connect"
)

// Oversized input is refused with InvalidArgument before the call goes
// anywhere: the server below has no Raft and no leader, so a call that got
// past the checks would not be refused this way.
func TestOversizedReasonsAndRunParamsAreRefused(t *testing.T) {
	_, h := instancev1connect.NewInstanceServiceHandler(&instanceService{&Server{Leadership: followerLeadership{}}}, HandlerOptions()...)
	mux := httptest.NewServer(h)
	defer mux.Close()
	c := instancev1connect.NewInstanceServiceClient(mux.Client(), mux.URL)
	ctx := context.Background()

	_, err := c.Stop(ctx, connect.NewRequest(&instancev1.StopRequest{WorkflowId: "wf", InstanceId: 1, Reason: strings.Repeat("r", MaxReasonBytes+1)}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "reason is 4097 bytes; the limit is 4096") {
		t.Errorf("stop with a long reason: %v", err)
	}
	params := map[string]string{}
	for i := range 129 {
		params[fmt.Sprintf("p%d", i)] = "v"
	}
	_, err = c.Start(ctx, connect.NewRequest(&instancev1.StartRequest{WorkflowId: "wf", Params: params}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "129 run params; the limit is 128") {
		t.Errorf("start with 129 params: %v", err)
	}
}

// A signal name with a control character is refused before the call goes
// anywhere: a NUL byte would sort one name's signals among another's.
func TestSignalNamesWithControlCharactersAreRefused(t *testing.T) {
	_, h := signalv1connect.NewSignalServiceHandler(&signalService{&Server{Leadership: followerLeadership{}}}, HandlerOptions()...)
	mux := httptest.NewServer(h)
	defer mux.Close()
	c := signalv1connect.NewSignalServiceClient(mux.Client(), mux.URL)
	for name, want := range map[string]string{
		"orders\x00x": "a signal name must not hold control characters (U+0000)",
		"a\tb":        "(U+0009)",
		"  ":          "signal name is required",
	} {
		_, err := c.Send(context.Background(), connect.NewRequest(&signalv1.SendRequest{Name: name}))
		if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), want) {
			t.Errorf("send %q: %v, want invalid_argument mentioning %q", name, err, want)
		}
	}
}
