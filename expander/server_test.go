package expander

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/augur-autoscaler/augur/cost"
	pb "github.com/augur-autoscaler/augur/expander/protos"
	"github.com/augur-autoscaler/augur/internal/certs"
	"github.com/augur-autoscaler/augur/spot"
)

// testServer is an expander served over TLS on a loopback port.
type testServer struct {
	addr   string
	caPool *x509.CertPool
	srv    *Server
	reg    *prometheus.Registry
	grpc   *grpc.Server
}

type serverSetup struct {
	ranker   *Ranker
	clientCA []byte // turns on mutual TLS
}

func startServer(t *testing.T, s serverSetup) *testServer {
	t.Helper()
	caPEM, certPEM, keyPEM, err := certs.NewServing([]string{"localhost"},
		[]net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := dir + "/" + name
		if err := writeFile(p, b); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := certs.ReloaderOptions{CertFile: write("tls.crt", certPEM),
		KeyFile: write("tls.key", keyPEM)}
	if s.clientCA != nil {
		opts.ClientCAFile = write("client-ca.crt", s.clientCA)
	}
	rl, err := certs.NewReloader(opts)
	if err != nil {
		t.Fatal(err)
	}
	if s.ranker == nil {
		s.ranker = snapshotRanker(t, DefaultConfig())
	}
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(ServerOptions{Ranker: s.ranker, Metrics: m,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g, _ := NewGRPCServer(srv, rl.TLSConfig())
	go func() { _ = g.Serve(lis) }()
	t.Cleanup(g.Stop)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &testServer{addr: lis.Addr().String(), caPool: pool, srv: srv, reg: reg, grpc: g}
}

// dial connects the way the Cluster Autoscaler does: TLS, trusting only the
// given bundle, no client certificate unless one is passed.
func (ts *testServer) dial(t *testing.T, clientCert *tls.Certificate) pb.ExpanderClient {
	t.Helper()
	conf := &tls.Config{RootCAs: ts.caPool, ServerName: "localhost"}
	if clientCert != nil {
		conf.Certificates = []tls.Certificate{*clientCert}
	}
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(credentials.NewTLS(conf)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return pb.NewExpanderClient(conn)
}

func callCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

var tlsGroups = []group{
	{id: "eks-general-large", instanceType: "m5.2xlarge", zone: "us-east-1a", cpu: "7910m",
		mem: "30Gi", nodes: 1},
	{id: "eks-general-small", instanceType: "m5.large", zone: "us-east-1b", cpu: "1930m",
		mem: "7Gi", nodes: 3},
	{id: "eks-spot-small", instanceType: "m5.large", zone: "us-east-1c", spot: true,
		cpu: "1930m", mem: "7Gi", nodes: 3},
}

func TestBestOptionsOverTLS(t *testing.T) {
	ts := startServer(t, serverSetup{})
	client := ts.dial(t, nil)
	ps := pods(5, "1", "4Gi")
	// Current autoscalers fill the bytes fields, older ones the message
	// fields; 1.34 fills both. Each must give the same answer.
	bytesReq := buildRequest(t, tlsGroups, ps, false)
	legacyReq := buildRequest(t, tlsGroups, ps, true)
	bothReq := buildRequest(t, tlsGroups, ps, false)
	bothReq.NodeMap = legacyReq.NodeMap
	for i := range bothReq.Options {
		bothReq.Options[i].Pod = legacyReq.Options[i].Pod
	}
	var answers [][]string
	for name, req := range map[string]*pb.BestOptionsRequest{"bytes": bytesReq,
		"legacy": legacyReq, "both": bothReq} {
		resp, err := client.BestOptions(callCtx(t), req)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var ids []string
		for _, o := range resp.GetOptions() {
			ids = append(ids, o.GetNodeGroupId())
			if len(o.GetPodBytes()) != 0 || len(o.GetPod()) != 0 {
				t.Errorf("%s: pods echoed back", name)
			}
		}
		if len(ids) == 0 {
			t.Fatalf("%s: empty answer", name)
		}
		answers = append(answers, ids)
	}
	for _, a := range answers[1:] {
		if diff := cmp.Diff(answers[0], a); diff != "" {
			t.Errorf("answers differ by field generation:\n%s", diff)
		}
	}
	// 5 pods of 1 CPU / 4 GiB: one m5.2xlarge wastes less than three
	// m5.large, but three spot m5.large cost far less at normal weights.
	d := ts.srv.Decisions().Recent(1)[0]
	if d.Options[0].Pods != 5 || d.Fallback != "" {
		t.Errorf("decision %+v", d)
	}
	if got := testutil.ToFloat64(ts.srvMetrics().requests.WithLabelValues("OK")); got != 3 {
		t.Errorf("requests_total{code=OK} = %v, want 3", got)
	}
}

func (ts *testServer) srvMetrics() *Metrics { return ts.srv.metrics }

func TestNoOptionsIsInvalidArgument(t *testing.T) {
	ts := startServer(t, serverSetup{})
	_, err := ts.dial(t, nil).BestOptions(callCtx(t), &pb.BestOptionsRequest{})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("got %v, want InvalidArgument", err)
	}
	if got := testutil.ToFloat64(ts.srvMetrics().requests.WithLabelValues("InvalidArgument")); got != 1 {
		t.Errorf("requests_total{code=InvalidArgument} = %v", got)
	}
}

func TestPlainTextRefused(t *testing.T) {
	ts := startServer(t, serverSetup{})
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, err = pb.NewExpanderClient(conn).BestOptions(callCtx(t),
		buildRequest(t, tlsGroups, nil, false))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("plain-text call got %v, want Unavailable", err)
	}
}

func TestUntrustedServerRefused(t *testing.T) {
	ts := startServer(t, serverSetup{})
	ts.caPool = x509.NewCertPool() // trusts nothing
	_, err := ts.dial(t, nil).BestOptions(callCtx(t), buildRequest(t, tlsGroups, nil, false))
	if err == nil {
		t.Fatal("a client that does not trust the server got an answer")
	}
}

func TestMutualTLS(t *testing.T) {
	caPEM, certPEM, keyPEM, err := certs.NewClient("cluster-autoscaler", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, serverSetup{clientCA: caPEM})
	req := buildRequest(t, tlsGroups, nil, false)
	if _, err := ts.dial(t, nil).BestOptions(callCtx(t), req); err == nil {
		t.Error("a client without a certificate got an answer under mutual TLS")
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.dial(t, &pair).BestOptions(callCtx(t), req); err != nil {
		t.Errorf("a client with a trusted certificate: %v", err)
	}
	_, otherCert, otherKey, err := certs.NewClient("someone-else", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := tls.X509KeyPair(otherCert, otherKey)
	if _, err := ts.dial(t, &other).BestOptions(callCtx(t), req); err == nil {
		t.Error("a client certificate from another authority was accepted")
	}
}

func TestHealthService(t *testing.T) {
	ts := startServer(t, serverSetup{})
	conn, err := grpc.NewClient(ts.addr, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: ts.caPool, ServerName: "localhost"})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, svc := range []string{"", ServiceName} {
		resp, err := healthpb.NewHealthClient(conn).Check(callCtx(t),
			&healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q: %v, %v", svc, resp, err)
		}
	}
}

// blockingPrices hangs until released, like a data source that stopped
// answering.
type blockingPrices struct{ release chan struct{} }

func (b blockingPrices) Price(string, string, cost.CapacityType) (cost.Price, bool) {
	<-b.release
	return cost.Price{}, false
}

func TestDeadlineFallsBackToAllOptions(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Deadline.Duration = 50 * time.Millisecond
	block := blockingPrices{release: make(chan struct{})}
	t.Cleanup(func() { close(block.release) })
	r := newTestRanker(t, cfg, block, fakeRisks{})
	ts := startServer(t, serverSetup{ranker: r})
	req := buildRequest(t, tlsGroups, nil, false)
	resp, err := ts.dial(t, nil).BestOptions(callCtx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, o := range resp.GetOptions() {
		ids = append(ids, o.GetNodeGroupId())
	}
	want := []string{"eks-general-large", "eks-general-small", "eks-spot-small"}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("fallback answer (-want +got):\n%s", diff)
	}
	if got := testutil.ToFloat64(ts.srvMetrics().fallbacks.WithLabelValues("deadline")); got != 1 {
		t.Errorf("fallbacks_total{reason=deadline} = %v, want 1", got)
	}
}

// panickyRisks panics, like a bug in a data source.
type panickyRisks struct{}

func (panickyRisks) Risk(string, string) (spot.Risk, bool) { panic("risk model bug") }

func TestPanicFallsBackToAllOptions(t *testing.T) {
	r := newTestRanker(t, DefaultConfig(), &fakePrices{}, panickyRisks{})
	ts := startServer(t, serverSetup{ranker: r})
	resp, err := ts.dial(t, nil).BestOptions(callCtx(t), buildRequest(t, tlsGroups, nil, false))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetOptions()) != len(tlsGroups) {
		t.Errorf("got %d options, want all %d", len(resp.GetOptions()), len(tlsGroups))
	}
	if got := testutil.ToFloat64(ts.srvMetrics().fallbacks.WithLabelValues("panic")); got != 1 {
		t.Errorf("fallbacks_total{reason=panic} = %v, want 1", got)
	}
}

func TestLargeRequestAccepted(t *testing.T) {
	ts := startServer(t, serverSetup{})
	// About 6 MiB of pods: over gRPC's default 4 MiB receive limit.
	req := buildRequest(t, tlsGroups[:1], pods(20000, "100m", "128Mi"), false)
	if _, err := ts.dial(t, nil).BestOptions(callCtx(t), req,
		grpc.MaxCallSendMsgSize(MaxMessageBytes)); err != nil {
		t.Fatal(err)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	ts := startServer(t, serverSetup{})
	if _, err := ts.dial(t, nil).BestOptions(callCtx(t),
		buildRequest(t, tlsGroups, pods(3, "1", "1Gi"), false)); err != nil {
		t.Fatal(err)
	}
	ready := true
	h := ts.srv.HTTPHandler(ts.reg, func() bool { return ready })
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz = %d", code)
	}
	ready = false
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while not ready = %d", code)
	}
	code, body := get("/metrics")
	if code != 200 || !strings.Contains(body, `augur_expander_decisions_total{mode="normal"`) {
		t.Errorf("/metrics = %d:\n%s", code, body)
	}
	code, body = get("/debug/decisions?limit=5")
	var ds []Decision
	if err := json.Unmarshal([]byte(body), &ds); code != 200 || err != nil || len(ds) != 1 {
		t.Fatalf("/debug/decisions = %d, %v:\n%s", code, err, body)
	}
	d := ds[0]
	if len(d.Options) != len(tlsGroups) || d.Reason == "" || len(d.Chosen) == 0 {
		t.Errorf("decision lacks options, reason or choice: %+v", d)
	}
	for _, o := range d.Options {
		if o.PriceSource == "" || o.Scores.Total < 0 || o.Scores.Total > 1 {
			t.Errorf("option %+v", o)
		}
	}
	if code, _ := get("/debug/decisions?limit=x"); code != http.StatusBadRequest {
		t.Errorf("bad limit = %d", code)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.observe(&Decision{Mode: ModeNormal, Chosen: []string{"ng"}, Options: []OptionResult{{
		NodeGroupID: "ng", Chosen: true, Scores: Scores{Cost: 0.25, Waste: 0.5, Total: 0.3},
		Penalties: []Penalty{PenaltyMissingPrice}}}})
	m.fallback("deadline")
	m.requests.WithLabelValues("OK").Inc()
	m.duration.Observe(0.01)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP augur_expander_decisions_total Scale-up decisions, by the winning node group (label node_group) and the active mode (label mode).
# TYPE augur_expander_decisions_total counter
augur_expander_decisions_total{mode="normal",node_group="ng"} 1
# HELP augur_expander_chosen_objective_score Objective scores (0 best, 1 worst) of the last winning option, by objective (label objective: cost, waste, spot_risk, total).
# TYPE augur_expander_chosen_objective_score gauge
augur_expander_chosen_objective_score{objective="cost"} 0.25
augur_expander_chosen_objective_score{objective="spot_risk"} 0
augur_expander_chosen_objective_score{objective="total"} 0.3
augur_expander_chosen_objective_score{objective="waste"} 0.5
# HELP augur_expander_option_penalties_total Options scored with missing or bad data, by reason (label reason).
# TYPE augur_expander_option_penalties_total counter
augur_expander_option_penalties_total{reason="missing_price"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"augur_expander_decisions_total", "augur_expander_chosen_objective_score",
		"augur_expander_option_penalties_total"); err != nil {
		t.Error(err)
	}
}

func TestNodeGroupLabelsBounded(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxNodeGroupLabels + 10 {
		m.nodeGroupLabel(strings.Repeat("x", i+1))
	}
	if got := m.nodeGroupLabel("one-more"); got != "other" {
		t.Errorf("label past the bound = %q, want other", got)
	}
}
