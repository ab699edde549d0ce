package rpc

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	clusterv1 "github.com/batonhq/baton/rpc/gen/baton/cluster/v1"
	"github.com/batonhq/baton/rpc/gen/baton/cluster/v1/clusterv1connect"
)

// instantLeader answers every result call at once.
type instantLeader struct {
	clusterv1connect.UnimplementedClusterServiceHandler
}

func (instantLeader) ReportResults(context.Context, *connect.Request[clusterv1.ReportResultsRequest]) (*connect.Response[clusterv1.ReportResultsResponse], error) {
	return connect.NewResponse(&clusterv1.ReportResultsResponse{}), nil
}

// BenchmarkForward is one call forwarded from a follower to a leader over
// loopback HTTP/2: what every result of a step run off the leader pays.
func BenchmarkForward(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(clusterv1connect.NewClusterServiceHandler(instantLeader{}))
	p := &http.Protocols{}
	p.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: mux, Protocols: p}
	go srv.Serve(ln)
	defer srv.Close()
	s := &Server{Leadership: leaderAt{"http://" + ln.Addr().String()}, ForwardWait: time.Minute}
	req := connect.NewRequest(&clusterv1.ReportResultsRequest{})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := onLeader(context.Background(), s, req, nil, forwardResults); err != nil {
			b.Fatal(err)
		}
	}
}
