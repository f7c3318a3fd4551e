package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"sigs.k8s.io/yaml"

	"github.com/augur-autoscaler/augur/e2e/harness"
)

// grpcConn is a client connection to the expander.
type grpcConn struct {
	*grpc.ClientConn
}

func dialExpander(addr, serverName string, caPEM []byte) (*grpcConn, error) {
	c, err := harness.DialCA(addr, serverName, caPEM)
	if err != nil {
		return nil, err
	}
	return &grpcConn{c}, nil
}

// healthy asks the standard gRPC health service about the expander's
// service name.
func (c *grpcConn) healthy(ctx context.Context) error {
	resp, err := healthpb.NewHealthClient(c.ClientConn).Check(ctx,
		&healthpb.HealthCheckRequest{Service: "grpcplugin.Expander"})
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	if resp.Status != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health check: status %s", resp.Status)
	}
	return nil
}

func decodeB64(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("decoding base64: %w", err)
	}
	return b, nil
}

// scrapeSeries fetches url and adds up the series of the named counter
// whose labels include every pair in match.
func scrapeSeries(ctx context.Context, url, name string, match map[string]string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("scraping %s: %w", url, err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("parsing metrics from %s: %w", url, err)
	}
	f, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("metric %s not exposed", name)
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		keep := true
		for k, v := range match {
			if labels[k] != v {
				keep = false
			}
		}
		if keep {
			sum += m.GetCounter().GetValue()
		}
	}
	return sum, nil
}

// caValues is the part of the upstream cluster-autoscaler chart's values
// that points CA at Augur: its arguments and the Secrets it mounts.
type caValues struct {
	ExtraArgs          map[string]any `json:"extraArgs"`
	ExtraVolumeSecrets map[string]struct {
		Name      string `json:"name"`
		MountPath string `json:"mountPath"`
		Items     []struct {
			Key  string `json:"key"`
			Path string `json:"path"`
		} `json:"items"`
	} `json:"extraVolumeSecrets"`
}

// readCAValues reads a values override for the cluster-autoscaler chart.
func readCAValues(t *testing.T, path string) caValues {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v caValues
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return v
}
