package spot

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// BenchmarkLookup is what the expander does for every spot option of
// every request: the price of the pool and its risk, with every signal
// present (live price history, placement score, observed events).
func BenchmarkLookup(b *testing.B) {
	f := &fakeEC2{calls: map[string]int{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	client := ec2.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client()})
	now := func() time.Time { return t0 }
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		b.Fatal(err)
	}
	c, err := cost.New(cost.Options{Region: "us-east-1", SpotSavings: a, EC2: client, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	m, err := NewModel(Options{Advisor: a, Prices: c, Placement: client,
		PlacementTypes: []string{"m6i.2xlarge"}, Now: now})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.RefreshSpot(ctx); err != nil {
		b.Fatal(err)
	}
	if err := m.RefreshPlacement(ctx); err != nil {
		b.Fatal(err)
	}
	m.ObserveInterruption("m6i.2xlarge", "us-east-1a", t0.Add(-time.Hour))
	r, _ := m.Risk("m6i.2xlarge", "us-east-1a")
	if r.Source != "spot-advisor-snapshot+price+placement+observed" {
		b.Fatalf("not every signal is present: %+v", r)
	}
	b.ReportAllocs()
	for b.Loop() {
		p, ok := c.Price("m6i.2xlarge", "us-east-1a", cost.Spot)
		r, ok2 := m.Risk("m6i.2xlarge", "us-east-1a")
		if !ok || !ok2 || p.USDPerHour <= 0 || r.Probability <= 0 {
			b.Fatal("no answer")
		}
	}
}
