package cost

import (
	"math"
	"testing"
)

type fakeSavings map[string]float64

func (f fakeSavings) Savings(t string) (float64, bool) { v, ok := f[t]; return v, ok }

func TestCatalogSnapshot(t *testing.T) {
	c, err := New(Options{Region: "us-east-1", SpotSavings: fakeSavings{
		"m5.large": 60, "c5.xlarge": math.NaN(), "t3.micro": 100}})
	if err != nil {
		t.Fatal(err)
	}
	// Prices published for us-east-1 in the snapshot's source.
	for typ, want := range map[string]float64{"m5.large": 0.096, "c5.xlarge": 0.17,
		"t3.micro": 0.0104} {
		p, ok := c.OnDemand(typ)
		if !ok || math.Abs(p.USDPerHour-want) > 1e-9 || p.Source != SourceSnapshot {
			t.Errorf("OnDemand(%s) = %+v, %v; want %v from the snapshot", typ, p, ok, want)
		}
	}
	p, ok := c.Price("m5.large", "us-east-1a", Spot)
	if !ok || math.Abs(p.USDPerHour-0.096*0.4) > 1e-9 || p.Source != SourceSpotEstimate {
		t.Errorf("spot m5.large = %+v, %v", p, ok)
	}
	for _, typ := range []string{"c5.xlarge", "t3.micro", "no.such"} {
		if p, ok := c.Price(typ, "", Spot); ok {
			t.Errorf("spot %s = %+v; want no price", typ, p)
		}
	}
	if _, ok := c.OnDemand("no.such"); ok {
		t.Error("unknown type has a price")
	}
	s, ok := c.Spec("m5.large")
	if !ok || s.VCPU != 2 || s.MemoryMiB != 8192 || s.Arch != "amd64" {
		t.Errorf("Spec(m5.large) = %+v, %v", s, ok)
	}
}

func TestCatalogProxyRegion(t *testing.T) {
	c, err := New(Options{Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := c.OnDemand("m5.large")
	if !ok || p.Source != SourceProxy {
		t.Errorf("eu-west-1 m5.large = %+v, %v; want a proxy price", p, ok)
	}
	if _, ok := c.Price("m5.large", "", Spot); ok {
		t.Error("spot price without a savings source")
	}
	if _, err := New(Options{}); err == nil {
		t.Error("New without a region succeeded")
	}
}

func BenchmarkPrice(b *testing.B) {
	c, err := New(Options{Region: "us-east-1", SpotSavings: fakeSavings{"m5.large": 60}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Price("m5.large", "us-east-1a", Spot); !ok {
			b.Fatal("no price")
		}
	}
}
