package expander

import (
	"crypto/tls"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	pb "github.com/augur-autoscaler/augur/expander/protos"
)

// ServiceName is the full name of the service the autoscaler calls.
const ServiceName = "grpcplugin.Expander"

// NewGRPCServer returns a gRPC server that serves s over TLS only, with the
// standard health service, the autoscaler's message limit and the metrics
// interceptor. Both the overall health and ServiceName's start SERVING.
func NewGRPCServer(s *Server, tlsConf *tls.Config) (*grpc.Server, *health.Server) {
	g := grpc.NewServer(
		grpc.Creds(credentials.NewTLS(tlsConf)),
		grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.UnaryInterceptor(s.metrics.UnaryInterceptor()),
	)
	pb.RegisterExpanderServer(g, s)
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	h.SetServingStatus(ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(g, h)
	return g, h
}

// HTTPHandler serves /metrics from gatherer, /healthz (the process is up),
// /readyz (ready reports true) and /debug/decisions.
func (s *Server) HTTPHandler(gatherer prometheus.Gatherer, ready func() bool) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{
		ErrorLog: slogPrinter{s}}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /debug/decisions", s.decisions)
	return mux
}

// slogPrinter lets promhttp report gathering errors through the server's
// logger.
type slogPrinter struct{ s *Server }

func (p slogPrinter) Println(v ...any) { p.s.log.Error("serving metrics", "err", v) }
