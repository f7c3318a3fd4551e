package expander

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/augur-autoscaler/augur/cost"
	pb "github.com/augur-autoscaler/augur/expander/protos"
	"github.com/augur-autoscaler/augur/spot"
)

// PriceSource answers the hourly price of one node. cost.Catalog
// implements it.
type PriceSource interface {
	Price(instanceType, zone string, ct cost.CapacityType) (cost.Price, bool)
}

// RiskSource answers the interruption risk of a spot pool. spot.Advisor
// implements it.
type RiskSource interface {
	Risk(instanceType, zone string) (spot.Risk, bool)
}

// SpecSource answers the hardware of an instance type. cost.Catalog
// implements it.
type SpecSource interface {
	Spec(instanceType string) (cost.Spec, bool)
}

// OptionResult is how one option was scored, as /debug/decisions shows it.
type OptionResult struct {
	NodeGroupID  string `json:"nodeGroupId"`
	NodeCount    int    `json:"nodeCount"`
	InstanceType string `json:"instanceType,omitempty"`
	Zone         string `json:"zone,omitempty"`
	CapacityType string `json:"capacityType"`
	Pods         int    `json:"pods"`
	// PricePerNodeUSD is the price of one node for an hour as the
	// catalogue gives it (after any instance-family discount, before the
	// node group's); zero when unknown.
	PricePerNodeUSD float64 `json:"pricePerNodeUsdPerHour"`
	// HourlyCostUSD is the discounted price of all the option's nodes.
	HourlyCostUSD   float64 `json:"hourlyCostUsd"`
	PriceSource     string  `json:"priceSource"`
	PriceAgeSeconds float64 `json:"priceAgeSeconds"`
	// InterruptionProbability is the monthly interruption probability of
	// a spot pool; zero for on-demand capacity.
	InterruptionProbability float64   `json:"interruptionProbability"`
	RiskSource              string    `json:"riskSource,omitempty"`
	Scores                  Scores    `json:"scores"`
	Penalties               []Penalty `json:"penalties,omitempty"`
	Problems                []string  `json:"problems,omitempty"`
	// Excluded gives the reason a policy kept the option out of the
	// answer.
	Excluded string `json:"excluded,omitempty"`
	Chosen   bool   `json:"chosen"`
}

// Decision is the outcome of one request.
type Decision struct {
	Time    time.Time `json:"time"`
	Mode    string    `json:"mode"`
	Weights Weights   `json:"weights"`
	// Chosen are the node group ids returned, best first.
	Chosen []string `json:"chosen"`
	// Reason explains why Chosen[0] won.
	Reason string `json:"reason"`
	// Fallback is set when the expander could not rank and returned every
	// option in the order received; it says why.
	Fallback        string         `json:"fallback,omitempty"`
	DurationSeconds float64        `json:"durationSeconds"`
	Options         []OptionResult `json:"options"`
}

// Winner returns the best option of the decision.
func (d *Decision) Winner() *OptionResult {
	for i := range d.Options {
		if len(d.Chosen) > 0 && d.Options[i].NodeGroupID == d.Chosen[0] && d.Options[i].Chosen {
			return &d.Options[i]
		}
	}
	return nil
}

// Ranker scores and picks options. It holds no per-request state and is
// safe for concurrent use.
type Ranker struct {
	cfg    Config
	prices PriceSource
	risks  RiskSource
	specs  SpecSource
	now    func() time.Time
}

// RankerOptions are the dependencies of a Ranker.
type RankerOptions struct {
	Config Config
	Prices PriceSource
	Risks  RiskSource
	Specs  SpecSource
	// Now returns the current time; time.Now when nil.
	Now func() time.Time
}

// NewRanker returns a Ranker. The config must be valid.
func NewRanker(o RankerOptions) (*Ranker, error) {
	if err := o.Config.Validate(); err != nil {
		return nil, fmt.Errorf("invalid config: %w", err)
	}
	if o.Prices == nil || o.Risks == nil || o.Specs == nil {
		return nil, fmt.Errorf("ranker needs a price, a risk and a spec source")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Ranker{cfg: o.Config, prices: o.Prices, risks: o.Risks, specs: o.Specs, now: o.Now}, nil
}

// Rank scores every option of the request and chooses the best ones. It
// returns the context's error if the context ends first.
func (r *Ranker) Rank(ctx context.Context, req *pb.BestOptionsRequest) (*Decision, error) {
	cands, err := decodeRequest(ctx, req, r.cfg.CapacityTypeLabel, r.specs)
	if err != nil {
		return nil, err
	}
	mode := r.cfg.Mode
	w := r.cfg.WeightsFor(mode)
	now := r.now()
	d := &Decision{Time: now, Mode: mode, Weights: w, Options: make([]OptionResult, len(cands))}

	hourly := make([]float64, len(cands))
	known := make([]bool, len(cands))
	cheapest := math.Inf(1)
	for i := range cands {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := &cands[i]
		o := &d.Options[i]
		*o = OptionResult{NodeGroupID: c.NodeGroupID, NodeCount: c.NodeCount,
			InstanceType: c.Template.InstanceType, Zone: c.Template.Zone,
			CapacityType: c.Template.Capacity.String(), Pods: c.Demand.Pods,
			PriceSource: cost.SourceUnknown.String()}
		policy, _ := r.cfg.PolicyFor(c.NodeGroupID)
		if c.NodeCount < 1 {
			c.penalise(PenaltyBadNodeCount, "node count %d is below 1", c.NodeCount)
		}
		if c.Template.InstanceType != "" {
			p, ok := r.prices.Price(c.Template.InstanceType, c.Template.Zone, c.Template.Capacity)
			if ok {
				o.PricePerNodeUSD, o.PriceSource = p.USDPerHour, p.Source.String()
				if !p.Observed.IsZero() {
					o.PriceAgeSeconds = math.Max(0, now.Sub(p.Observed).Seconds())
				}
			}
			hourly[i], known[i] = HourlyCost(p.USDPerHour, c.NodeCount, policy.PriceDiscount)
			if !known[i] && c.NodeCount >= 1 {
				c.penalise(PenaltyMissingPrice, "no usable %s price for %q (got %v)",
					c.Template.Capacity, c.Template.InstanceType, p.USDPerHour)
			}
		}
		if known[i] {
			o.HourlyCostUSD = hourly[i]
			cheapest = math.Min(cheapest, hourly[i])
		}
		var risk spot.Risk
		riskKnown := false
		if c.Template.Capacity == cost.Spot {
			if c.Template.InstanceType != "" {
				risk, riskKnown = r.risks.Risk(c.Template.InstanceType, c.Template.Zone)
			}
			if !riskKnown {
				c.penalise(PenaltyUnknownSpotRisk, "no spot risk for %q in %q, scored %v",
					c.Template.InstanceType, c.Template.Zone, UnknownSpotRisk)
			} else {
				o.InterruptionProbability, o.RiskSource = risk.Probability, risk.Source
			}
		}
		waste, _ := WasteScore(c.Template, c.NodeCount, c.Demand)
		o.Scores = Scores{Waste: waste,
			SpotRisk: SpotRiskScore(c.Template.Capacity, risk, riskKnown)}
		switch {
		case policy.Excluded:
			o.Excluded = fmt.Sprintf("excluded by policy %q", policy.Match)
		case policy.MaxSpotRisk != nil && o.Scores.SpotRisk > *policy.MaxSpotRisk:
			o.Excluded = fmt.Sprintf("spot risk %.3f above maxSpotRisk %.3f of policy %q",
				o.Scores.SpotRisk, *policy.MaxSpotRisk, policy.Match)
		}
	}
	for i := range cands {
		o := &d.Options[i]
		o.Scores.Cost = CostScore(hourly[i], cheapest, known[i])
		o.Scores.Total = TotalScore(o.Scores, w)
		o.Penalties, o.Problems = cands[i].Penalties, cands[i].Problems
	}
	choose(d, r.cfg.Tolerance)
	return d, nil
}

// choose marks the best option and those within tol of its total score,
// and writes the reason. Options a policy excludes are left out unless
// that leaves none: an empty answer would veto the scale-up.
func choose(d *Decision, tol float64) {
	order := make([]int, 0, len(d.Options))
	for i := range d.Options {
		if d.Options[i].Excluded == "" {
			order = append(order, i)
		}
	}
	allExcluded := len(order) == 0
	if allExcluded {
		for i := range d.Options {
			order = append(order, i)
		}
	}
	// Stable on the request order, so ties keep the autoscaler's order.
	slices.SortStableFunc(order, func(a, b int) int {
		return cmpFloat(d.Options[a].Scores.Total, d.Options[b].Scores.Total)
	})
	best := d.Options[order[0]].Scores.Total
	seen := make(map[string]bool, len(order))
	var runnerUp = -1
	for _, i := range order {
		o := &d.Options[i]
		if seen[o.NodeGroupID] {
			continue // a duplicate id: the autoscaler maps ids to options
		}
		seen[o.NodeGroupID] = true
		if o.Scores.Total <= best+tol+1e-12 {
			o.Chosen = true
			d.Chosen = append(d.Chosen, o.NodeGroupID)
		} else if runnerUp < 0 {
			runnerUp = i
		}
	}
	d.Reason = explain(d, order[0], runnerUp, tol, allExcluded)
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// explain says why the winner won: its scores, and the objective that set
// it furthest apart from the best option not returned.
func explain(d *Decision, win, runnerUp int, tol float64, allExcluded bool) string {
	w := d.Options[win]
	var b strings.Builder
	fmt.Fprintf(&b, "%s has the lowest total %.3f (cost %.3f, waste %.3f, spot risk %.3f)",
		w.NodeGroupID, w.Scores.Total, w.Scores.Cost, w.Scores.Waste, w.Scores.SpotRisk)
	if runnerUp >= 0 {
		r := d.Options[runnerUp]
		// The objective whose weighted score difference is largest.
		names := [...]string{"cost", "waste", "spot risk"}
		gaps := [...]float64{
			d.Weights.Cost * (r.Scores.Cost - w.Scores.Cost),
			d.Weights.Waste * (r.Scores.Waste - w.Scores.Waste),
			d.Weights.SpotRisk * (r.Scores.SpotRisk - w.Scores.SpotRisk),
		}
		top := 0
		for i := range gaps {
			if gaps[i] > gaps[top] {
				top = i
			}
		}
		fmt.Fprintf(&b, "; next best %s at %.3f, behind mostly on %s", r.NodeGroupID,
			r.Scores.Total, names[top])
	}
	if n := len(d.Chosen); n > 1 {
		fmt.Fprintf(&b, "; %d more within tolerance %.3f returned for the next expander", n-1, tol)
	}
	if allExcluded {
		b.WriteString("; every option is excluded by policy, so all were ranked " +
			"rather than veto the scale-up")
	}
	return b.String()
}

// fallbackDecision keeps every option in the order received, which is what
// the autoscaler itself does when an expander fails, and says why.
func fallbackDecision(req *pb.BestOptionsRequest, mode, why string, now time.Time) *Decision {
	d := &Decision{Time: now, Mode: mode, Fallback: why,
		Reason: "fallback: every option returned in the order received (" + why + ")"}
	seen := make(map[string]bool, len(req.GetOptions()))
	for _, opt := range req.GetOptions() {
		id := opt.GetNodeGroupId()
		d.Options = append(d.Options, OptionResult{NodeGroupID: id,
			NodeCount: int(opt.GetNodeCount()), Chosen: !seen[id]})
		if !seen[id] {
			d.Chosen = append(d.Chosen, id)
			seen[id] = true
		}
	}
	return d
}
