package cost_test

import (
	"fmt"
	"time"

	"github.com/augur-autoscaler/augur/cost"
)

// A catalogue without AWS clients answers from the embedded snapshot.
func ExampleNew() {
	c, err := cost.New(cost.Options{Region: "us-east-1",
		Discounts: map[string]cost.Discount{"m5": {OnDemand: 0.25}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, _ := c.Price("m5.large", "us-east-1a", cost.OnDemand)
	fmt.Printf("%.3f USD/h from the %s, %.0f%% off\n", p.USDPerHour, p.Source, p.Discount*100)
	_, ok := c.Price("m5.large", "us-east-1a", cost.Spot)
	fmt.Println("spot price without a savings source:", ok)
	// Output:
	// 0.072 USD/h from the snapshot, 25% off
	// spot price without a savings source: false
}

// Backoff spreads retries out: half the capped exponential delay, plus a
// random share of the other half.
func ExampleBackoff() {
	for n := 1; n <= 4; n++ {
		fmt.Println(cost.Backoff(n, true, 5*time.Minute, 1),
			cost.Backoff(n, false, 5*time.Minute, 0))
	}
	// Output:
	// 30s 2.5s
	// 1m0s 5s
	// 2m0s 10s
	// 4m0s 20s
}
