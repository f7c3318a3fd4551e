package expander

import (
	"math"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/augur-autoscaler/augur/spot"
)

// The objectives. Each is a pure function whose result lies in [0, 1],
// where 0 is best. Normalisation and weights are applied in one place,
// TotalScore; missing inputs get the worst score (or the stated penalty
// value) on purpose, never a silent zero.

// HourlyCost returns the price of adding nodes nodes for an hour:
//
//	cost = pricePerNode * nodes * (1 - discount)
//
// ok is false when the price is not a finite positive number (a zero price
// is taken as missing data, not as free capacity), when nodes < 1, or when
// discount is outside [0, 1).
func HourlyCost(pricePerNode float64, nodes int, discount float64) (float64, bool) {
	if !(pricePerNode > 0) || math.IsInf(pricePerNode, 0) || nodes < 1 ||
		!(discount >= 0 && discount < 1) {
		return 0, false
	}
	return pricePerNode * float64(nodes) * (1 - discount), true
}

// CostScore compares an option's hourly cost with the cheapest option of
// the request:
//
//	score = 1 - cheapest/cost
//
// 0 for the cheapest option, 0.5 for one twice its price, approaching 1 as
// the price grows. The ratio keeps the score free of units and of the size
// of the spread. An option without a known cost scores 1.
func CostScore(hourly, cheapest float64, known bool) float64 {
	if !known || !(hourly > 0) || !(cheapest > 0) || math.IsInf(hourly, 0) ||
		math.IsInf(cheapest, 0) {
		return 1
	}
	return clamp01(1 - cheapest/hourly)
}

// WasteScore is the share of the new capacity left unused once the
// option's pods are placed, averaged over CPU and memory as the
// autoscaler's least-waste expander does:
//
//	waste = ((C - c)/C + (M - m)/M) / 2
//
// with C, M the allocatable CPU and memory of nodes nodes and c, m the
// pods' requests, each share clamped to [0, 1]. ok is false, and the score
// 1, when the allocatable resources or the node count are unknown.
func WasteScore(t Template, nodes int, d Demand) (float64, bool) {
	if t.CPUMilli <= 0 || t.MemoryBytes <= 0 || nodes < 1 {
		return 1, false
	}
	n := float64(nodes)
	cpu := unused(float64(t.CPUMilli)*n, float64(d.CPUMilli))
	mem := unused(float64(t.MemoryBytes)*n, float64(d.MemoryBytes))
	return (cpu + mem) / 2, true
}

func unused(capacity, used float64) float64 {
	return clamp01((capacity - used) / capacity)
}

// MaxInterruptionProbability is the monthly interruption probability that
// scores 1 on SpotRiskScore: the value given to the Spot Advisor's worst
// bucket (">20%").
const MaxInterruptionProbability = 0.25

// UnknownSpotRisk is the spot-risk score of a spot option whose risk is not
// known: that of the Spot Advisor's "15-20%" bucket, so an unknown pool is
// trusted less than most known ones but not ranked below the worst.
const UnknownSpotRisk = 0.7

// SpotRiskScore scores the interruption risk of an option:
//
//	score = min(1, p / MaxInterruptionProbability)
//
// where p is the pool's monthly interruption probability. On-demand
// capacity scores 0; a spot pool without a known risk scores
// UnknownSpotRisk; a NaN probability counts as unknown.
func SpotRiskScore(ct cost.CapacityType, r spot.Risk, known bool) float64 {
	if ct == cost.OnDemand {
		return 0
	}
	if !known || math.IsNaN(r.Probability) {
		return UnknownSpotRisk
	}
	return clamp01(r.Probability / MaxInterruptionProbability)
}

// Scores are an option's objective scores, each in [0, 1], lower better,
// and their weighted mean.
type Scores struct {
	Cost     float64 `json:"cost"`
	Waste    float64 `json:"waste"`
	SpotRisk float64 `json:"spotRisk"`
	Total    float64 `json:"total"`
}

// TotalScore is the one place where objectives meet: the weighted mean
//
//	total = (wc*cost + ww*waste + wr*spotRisk) / (wc + ww + wr)
//
// in [0, 1]. Weights that are not finite and positive in sum (which a
// validated config never has) give equal weights.
func TotalScore(s Scores, w Weights) float64 {
	sum := w.sum()
	if !(sum > 0) || math.IsInf(sum, 0) {
		w, sum = Weights{Cost: 1, Waste: 1, SpotRisk: 1}, 3
	}
	return clamp01((w.Cost*s.Cost + w.Waste*s.Waste + w.SpotRisk*s.SpotRisk) / sum)
}

// clamp01 limits v to [0, 1], mapping NaN to 1, the worst score.
func clamp01(v float64) float64 {
	switch {
	case math.IsNaN(v) || v > 1:
		return 1
	case v < 0:
		return 0
	}
	return v
}
