package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	pb "github.com/augur-autoscaler/augur/expander/protos"
)

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// syncBuffer is a bytes.Buffer safe to write from the server and read from
// the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestExpanderCommand runs `augur expander --dev` as a user would, calls it
// the way the Cluster Autoscaler does with the printed CA bundle, reads its
// metrics, and stops it with a cancelled context (SIGTERM).
func TestExpanderCommand(t *testing.T) {
	grpcAddr, httpAddr := freePort(t), freePort(t)
	devDir := filepath.Join(t.TempDir(), "tls")
	cfgFile := filepath.Join(t.TempDir(), "augur.yaml")
	if err := os.WriteFile(cfgFile, []byte("region: us-east-1\n"+
		"instanceDiscounts:\n  m5: {onDemand: 0.5}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runExpander(ctx, []string{"--dev", "--dev-cert-dir", devDir,
			"--listen", grpcAddr, "--metrics-listen", httpAddr, "--config", cfgFile},
			&stdout, &stderr)
	}()

	caFile := filepath.Join(devDir, "ca.crt")
	waitReady(t, "http://"+httpAddr+"/readyz", done)
	if out := stdout.String(); !strings.Contains(out, "--grpc-expander-cert="+caFile) ||
		!strings.Contains(out, "--grpc-expander-url="+grpcAddr) {
		t.Errorf("the printed CA flags are wrong:\n%s", out)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(
		credentials.NewTLS(&tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	req := &pb.BestOptionsRequest{NodeBytesMap: map[string][]byte{}}
	for _, g := range []struct{ id, typ string }{{"big", "m5.4xlarge"}, {"fit", "m5.large"}} {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: g.id, Labels: map[string]string{
			"node.kubernetes.io/instance-type": g.typ,
			"eks.amazonaws.com/capacityType":   "ON_DEMAND"}}}
		b, err := node.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		req.NodeBytesMap[g.id] = b
		req.Options = append(req.Options, &pb.Option{NodeGroupId: g.id, NodeCount: 1})
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("1")}}}}}}
	pb1, err := pod.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range req.Options {
		o.PodBytes = [][]byte{pb1}
	}
	cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
	defer ccancel()
	resp, err := pb.NewExpanderClient(conn).BestOptions(cctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetOptions()) == 0 || resp.GetOptions()[0].GetNodeGroupId() != "fit" {
		t.Errorf("answer %v, want fit (m5.large) first", resp.GetOptions())
	}
	metrics := httpGet(t, "http://"+httpAddr+"/metrics")
	if !strings.Contains(metrics, `augur_expander_decisions_total{mode="normal",node_group="fit"} 1`) {
		t.Errorf("decision not counted:\n%s", metrics)
	}
	// The config's m5 discount halves the snapshot's 0.096 USD/h.
	var decisions []struct {
		Options []struct {
			NodeGroupID     string  `json:"nodeGroupId"`
			PricePerNodeUSD float64 `json:"pricePerNodeUsdPerHour"`
		} `json:"options"`
	}
	body := httpGet(t, "http://"+httpAddr+"/debug/decisions")
	if err := json.Unmarshal([]byte(body), &decisions); err != nil || len(decisions) != 1 {
		t.Fatalf("/debug/decisions: %v\n%s", err, body)
	}
	for _, o := range decisions[0].Options {
		if o.NodeGroupID == "fit" && math.Abs(o.PricePerNodeUSD-0.048) > 1e-9 {
			t.Errorf("m5.large priced %v, want 0.048 after the config's discount",
				o.PricePerNodeUSD)
		}
	}
	if !strings.Contains(stderr.String(), `"msg":"scale-up decision"`) {
		t.Errorf("no decision log line:\n%s", stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the expander did not stop")
	}
}

func waitReady(t *testing.T, url string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-done:
			t.Fatalf("expander exited early: %v", err)
		default:
		}
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s never became ready", url)
}

func httpGet(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExpanderFlags(t *testing.T) {
	t.Setenv("AUGUR_LISTEN", ":9443")
	t.Setenv("AUGUR_METRICS_LISTEN", ":9090")
	fs := flag.NewFlagSet("expander", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f expanderFlags
	f.register(fs)
	if err := parseFlags(fs, []string{"--metrics-listen", ":7070"}); err != nil {
		t.Fatal(err)
	}
	if f.listen != ":9443" {
		t.Errorf("listen = %q, want the environment's :9443", f.listen)
	}
	if f.metricsListen != ":7070" {
		t.Errorf("metrics-listen = %q: the command line must win over the environment",
			f.metricsListen)
	}
	err := f.Validate()
	if err == nil || !strings.Contains(err.Error(), "--tls-cert-file") {
		t.Errorf("missing certificate not reported: %v", err)
	}
	f.logLevel, f.logFormat = "loud", "xml"
	err = f.Validate()
	for _, want := range []string{"--tls-cert-file", "--log-level", "--log-format"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %s: %v", want, err)
		}
	}

	t.Setenv("AUGUR_SHUTDOWN_GRACE", "soon")
	fs2 := flag.NewFlagSet("expander", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	var g expanderFlags
	g.register(fs2)
	if err := parseFlags(fs2, nil); err == nil || !strings.Contains(err.Error(),
		"AUGUR_SHUTDOWN_GRACE") {
		t.Errorf("bad environment value not reported: %v", err)
	}
}

func TestExpanderRefusesBadConfig(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "augur.yaml")
	if err := os.WriteFile(cfg, []byte("regoin: us-east-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := runExpander(context.Background(), []string{"--dev", "--dev-cert-dir",
		t.TempDir(), "--config", cfg}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "regoin") {
		t.Errorf("bad config: %v", err)
	}
}

func TestDialTarget(t *testing.T) {
	for in, want := range map[string]string{":8443": "localhost:8443",
		"0.0.0.0:1": "localhost:1", "[::]:2": "localhost:2", "10.0.0.1:3": "10.0.0.1:3",
		"bad": "bad"} {
		if got := dialTarget(in); got != want {
			t.Errorf("dialTarget(%q) = %q, want %q", in, got, want)
		}
	}
}
