package spot_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/augur-autoscaler/augur/spot"
)

// The model starts from the Spot Advisor bucket; interruptions seen in the
// cluster raise the pool's risk and fade with time.
func ExampleModel_Risk() {
	adv, err := spot.NewAdvisor("us-east-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	m, err := spot.NewModel(spot.Options{Advisor: adv, Now: func() time.Time { return now }})
	if err != nil {
		fmt.Println(err)
		return
	}
	show := func(when string) {
		r, _ := m.Risk("c5.xlarge", "us-east-1a")
		fmt.Printf("%s: p=%.3f confidence=%.2f from %s\n", when, r.Probability,
			r.Confidence, r.Source)
	}
	show("advisor only")
	m.ObserveInterruption("c5.xlarge", "us-east-1a", now.Add(-10*time.Minute))
	show("after an interruption")
	now = now.Add(3 * 24 * time.Hour)
	show("three days later")
	// Output:
	// advisor only: p=0.025 confidence=0.50 from spot-advisor-snapshot
	// after an interruption: p=0.118 confidence=0.70 from spot-advisor-snapshot+observed
	// three days later: p=0.037 confidence=0.53 from spot-advisor-snapshot+observed
}

// Combine is the formula on its own, for a pool with every signal.
func ExampleCombine() {
	r := spot.Combine(spot.Inputs{Bucket: 2, Savings: 60, PlacementScore: 3,
		Interruptions: 0.5}, spot.Month)
	fmt.Printf("p=%.3f hazard=%.2e/h placement x%.2f observed x%.1f\n", r.Probability,
		r.HazardPerHour, r.PlacementFactor, r.ObservedFactor)
	// Output:
	// p=0.522 hazard=1.02e-03/h placement x1.84 observed x3.0
}

// Spot Advisor data in the format AWS publishes it can replace the
// embedded figures.
func ExampleParseAdvisorJSON() {
	doc := `{"spot_advisor":{"eu-west-1":{"Linux":{"m5.large":{"s":65,"r":1}}}}}`
	a, err := spot.ParseAdvisorJSON(strings.NewReader(doc), "eu-west-1")
	if err != nil {
		fmt.Println(err)
		return
	}
	r, _ := a.Risk("m5.large", "")
	s, _ := a.Savings("m5.large")
	fmt.Printf("bucket %d, p=%.3f a month, %.0f%% below on-demand\n", r.Bucket,
		r.Probability, s)
	// Output:
	// bucket 1, p=0.075 a month, 65% below on-demand
}
