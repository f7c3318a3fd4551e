package e2e

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

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

// sumSeries parses a Prometheus text exposition and adds up every series
// of the named counter.
func sumSeries(text, name string) (float64, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		return 0, fmt.Errorf("parsing metrics: %w", err)
	}
	f, ok := families[name]
	if !ok {
		return 0, fmt.Errorf("metric %s not exposed", name)
	}
	sum := 0.0
	for _, m := range f.GetMetric() {
		sum += m.GetCounter().GetValue()
	}
	return sum, nil
}
