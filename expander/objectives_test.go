package expander

import (
	"math"
	"testing"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/augur-autoscaler/augur/spot"
)

func TestHourlyCost(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	for _, tc := range []struct {
		name     string
		price    float64
		nodes    int
		discount float64
		want     float64
		ok       bool
	}{
		{"plain", 0.096, 3, 0, 0.288, true},
		{"discounted", 0.1, 2, 0.25, 0.15, true},
		{"zero price is missing", 0, 1, 0, 0, false},
		{"negative price", -1, 1, 0, 0, false},
		{"NaN price", nan, 1, 0, 0, false},
		{"infinite price", inf, 1, 0, 0, false},
		{"zero nodes", 0.1, 0, 0, 0, false},
		{"negative nodes", 0.1, -4, 0, 0, false},
		{"full discount", 0.1, 1, 1, 0, false},
		{"NaN discount", 0.1, 1, nan, 0, false},
		{"huge node count", 0.1, math.MaxInt32, 0, 0.1 * math.MaxInt32, true},
	} {
		got, ok := HourlyCost(tc.price, tc.nodes, tc.discount)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9*math.Max(1, tc.want) {
			t.Errorf("%s: HourlyCost = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCostScore(t *testing.T) {
	for _, tc := range []struct {
		name             string
		hourly, cheapest float64
		known            bool
		want             float64
	}{
		{"cheapest", 1, 1, true, 0},
		{"twice the price", 2, 1, true, 0.5},
		{"ten times", 10, 1, true, 0.9},
		{"unknown", 1, 1, false, 1},
		{"NaN", math.NaN(), 1, true, 1},
		{"infinite", math.Inf(1), 1, true, 1},
		{"no cheapest", 1, math.Inf(1), true, 1},
		{"cheapest zero", 1, 0, true, 1},
	} {
		if got := CostScore(tc.hourly, tc.cheapest, tc.known); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: CostScore = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWasteScore(t *testing.T) {
	node := Template{CPUMilli: 4000, MemoryBytes: 16 << 30}
	for _, tc := range []struct {
		name  string
		t     Template
		nodes int
		d     Demand
		want  float64
		ok    bool
	}{
		{"full", node, 1, Demand{CPUMilli: 4000, MemoryBytes: 16 << 30}, 0, true},
		{"half cpu, quarter memory", node, 1, Demand{CPUMilli: 2000, MemoryBytes: 12 << 30},
			(0.5 + 0.25) / 2, true},
		{"no pods", node, 2, Demand{}, 1, true},
		{"more than fits clamps", node, 1, Demand{CPUMilli: 9000, MemoryBytes: 64 << 30}, 0, true},
		{"unknown allocatable", Template{}, 1, Demand{CPUMilli: 1}, 1, false},
		{"zero nodes", node, 0, Demand{}, 1, false},
		{"huge node count", node, math.MaxInt32, Demand{CPUMilli: 4000, MemoryBytes: 16 << 30},
			1 - 1.0/math.MaxInt32, true},
	} {
		got, ok := WasteScore(tc.t, tc.nodes, tc.d)
		if ok != tc.ok || math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("%s: WasteScore = %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestSpotRiskScore(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ct    cost.CapacityType
		p     float64
		known bool
		want  float64
	}{
		{"on-demand", cost.OnDemand, 0.9, true, 0},
		{"on-demand unknown", cost.OnDemand, 0, false, 0},
		{"lowest bucket", cost.Spot, 0.025, true, 0.1},
		{"worst bucket", cost.Spot, 0.25, true, 1},
		{"above worst clamps", cost.Spot, 0.9, true, 1},
		{"negative clamps", cost.Spot, -1, true, 0},
		{"unknown", cost.Spot, 0, false, UnknownSpotRisk},
		{"NaN is unknown", cost.Spot, math.NaN(), true, UnknownSpotRisk},
	} {
		got := SpotRiskScore(tc.ct, spot.Risk{Probability: tc.p}, tc.known)
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: SpotRiskScore = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestTotalScore(t *testing.T) {
	s := Scores{Cost: 0.5, Waste: 1, SpotRisk: 0}
	for _, tc := range []struct {
		name string
		w    Weights
		want float64
	}{
		{"equal", Weights{1, 1, 1}, 0.5},
		{"cost only", Weights{Cost: 2}, 0.5},
		{"waste only", Weights{Waste: 1}, 1},
		{"zero weights fall back to equal", Weights{}, 0.5},
		{"NaN weights fall back to equal", Weights{Cost: math.NaN()}, 0.5},
	} {
		if got := TotalScore(s, tc.w); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: TotalScore = %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := TotalScore(Scores{Cost: math.NaN()}, Weights{1, 1, 1}); got != 1 {
		t.Errorf("NaN score total = %v, want the worst, 1", got)
	}
}
