package expander

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/augur-autoscaler/augur/expander/protos"
	"github.com/augur-autoscaler/augur/internal/certs"
)

// echoServer takes the same request and answers with its first option: the
// cost of the transport alone (TLS, HTTP/2, protobuf), the baseline the
// expander's own work is measured against.
type echoServer struct {
	pb.UnimplementedExpanderServer
}

func (echoServer) BestOptions(_ context.Context,
	req *pb.BestOptionsRequest) (*pb.BestOptionsResponse, error) {
	o := req.GetOptions()[0]
	return &pb.BestOptionsResponse{Options: []*pb.Option{{NodeGroupId: o.GetNodeGroupId(),
		NodeCount: o.GetNodeCount()}}}, nil
}

// benchConn serves srv over TLS on loopback with the same limits as the
// expander and returns a client connection the way the autoscaler makes it.
func benchConn(b *testing.B, register func(*grpc.Server)) *grpc.ClientConn {
	b.Helper()
	caPEM, certPEM, keyPEM, err := certs.NewServing([]string{"localhost"}, nil, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer(grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{pair}})),
		grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes))
	register(g)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = g.Serve(lis) }()
	b.Cleanup(g.Stop)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(lis.Addr().String(),
		grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool,
			ServerName: "localhost"})),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(MaxMessageBytes),
			grpc.MaxCallRecvMsgSize(MaxMessageBytes)))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// benchGroups makes n node groups cycling through instance types, zones
// and capacity types found in the embedded snapshot.
func benchGroups(n int) []group {
	types := []struct{ name, cpu, mem string }{
		{"m5.large", "1930m", "7Gi"}, {"m5.xlarge", "3920m", "15Gi"},
		{"c5.2xlarge", "7910m", "14Gi"}, {"r5.xlarge", "3920m", "30Gi"},
		{"m6i.2xlarge", "7910m", "30Gi"},
	}
	zones := []string{"us-east-1a", "us-east-1b", "us-east-1c"}
	out := make([]group, n)
	for i := range out {
		ty := types[i%len(types)]
		out[i] = group{id: fmt.Sprintf("eks-ng-%03d", i), instanceType: ty.name,
			zone: zones[i%len(zones)], spot: i%2 == 1, cpu: ty.cpu, mem: ty.mem,
			nodes: int32(1 + i%4)}
	}
	return out
}

// BenchmarkBestOptions calls the expander and the echo server with the same
// requests over TLS on loopback. Every option carries the same pending
// pods, as the autoscaler's options do. Besides ns/op it reports the median
// and 99th percentile of the call latency.
func BenchmarkBestOptions(b *testing.B) {
	ranker := snapshotRanker(b, DefaultConfig())
	srv, err := NewServer(ServerOptions{Ranker: ranker, Metrics: mustMetrics(b),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		b.Fatal(err)
	}
	servers := []struct {
		name     string
		register func(*grpc.Server)
	}{
		{"echo", func(g *grpc.Server) { pb.RegisterExpanderServer(g, echoServer{}) }},
		{"augur", func(g *grpc.Server) { pb.RegisterExpanderServer(g, srv) }},
	}
	for _, size := range []struct{ options, pods int }{
		{10, 1}, {10, 100}, {10, 1000}, {100, 1}, {100, 100}, {100, 1000},
		{500, 1}, {500, 100}, {500, 1000},
	} {
		req := buildRequest(b, benchGroups(size.options), pods(size.pods, "250m", "512Mi"), false)
		for _, s := range servers {
			name := fmt.Sprintf("options=%d/pods=%d/server=%s", size.options, size.pods, s.name)
			b.Run(name, func(b *testing.B) {
				client := pb.NewExpanderClient(benchConn(b, s.register))
				ctx := context.Background()
				if _, err := client.BestOptions(ctx, req); err != nil {
					b.Fatal(err) // warm the connection up
				}
				var lat []time.Duration
				b.ReportAllocs()
				for b.Loop() {
					start := time.Now()
					resp, err := client.BestOptions(ctx, req)
					lat = append(lat, time.Since(start))
					if err != nil || len(resp.GetOptions()) == 0 {
						b.Fatalf("answer %v, %v", resp, err)
					}
				}
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[(len(lat)*99)/100].Microseconds()), "p99-µs")
			})
		}
	}
}

func mustMetrics(b *testing.B) *Metrics {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	return m
}
