package cost

import (
	"math"
	"slices"
	"time"
)

// PricePoint is one spot price change: from At on, the pool cost
// USDPerHour until the next point.
type PricePoint struct {
	At         time.Time
	USDPerHour float64
}

// Pool is the spot price history of one pool (instance type and zone).
// It is never changed once published.
type Pool struct {
	price   Price
	history []PricePoint
	stats   SpotStats
}

// SpotStats summarises the recent spot price of one pool, for the risk
// model.
type SpotStats struct {
	// Latest is the price now in effect, in USD per hour, before
	// discounts.
	Latest float64
	// OnDemand is the published on-demand price of the type, or 0 when
	// unknown.
	OnDemand float64
	// Mean and StdDev are the time-weighted mean and standard deviation
	// of the price over the history window.
	Mean, StdDev float64
	// MaxRise is the largest relative rise from one price to the next
	// within the window, (p[i] - p[i-1]) / p[i-1], or 0 when the price
	// never rose.
	MaxRise float64
	// Changes is the number of price changes within the window.
	Changes int
	// Observed is when the history was last confirmed by AWS.
	Observed time.Time
}

// mergeHistory returns the union of old and add, sorted by time, with a
// point of add winning over a point of old at the same instant. It keeps
// the points at or after start plus the one before start (the price in
// effect when the window opens) and at most max points, the newest. It
// never changes old or add.
func mergeHistory(old, add []PricePoint, start time.Time, max int) []PricePoint {
	h := make([]PricePoint, 0, len(old)+len(add))
	h = append(h, add...)
	h = append(h, old...)
	// A stable sort keeps add's point first among equal instants.
	slices.SortStableFunc(h, func(a, b PricePoint) int { return a.At.Compare(b.At) })
	h = slices.CompactFunc(h, func(a, b PricePoint) bool { return a.At.Equal(b.At) })
	first := 0
	for first < len(h) && h[first].At.Before(start) {
		first++
	}
	if first > 0 {
		first--
	}
	if len(h)-first > max {
		first = len(h) - max
	}
	return slices.Clip(h[first:])
}

// HistoryStats computes the statistics of a history h (sorted by time, as
// mergeHistory returns it) over the window [start, now]. Each price is
// weighted by how long it was in effect within the window:
//
//	mean = sum(w_i * p_i) / sum(w_i)
//	sd   = sqrt(sum(w_i * p_i^2) / sum(w_i) - mean^2)
//
// where w_i is the time price i was in effect within the window. When no
// price was in effect for a measurable time the mean is the latest price
// and sd is 0.
func HistoryStats(h []PricePoint, start, now time.Time) SpotStats {
	var s SpotStats
	if len(h) == 0 {
		return s
	}
	s.Latest = h[len(h)-1].USDPerHour
	var sw, swp, swp2 float64
	for i, p := range h {
		from := p.At
		if from.Before(start) {
			from = start
		} else if i > 0 {
			s.Changes++
			if prev := h[i-1].USDPerHour; prev > 0 && p.USDPerHour > prev {
				s.MaxRise = math.Max(s.MaxRise, (p.USDPerHour-prev)/prev)
			}
		}
		to := now
		if i+1 < len(h) {
			to = h[i+1].At
		}
		if w := to.Sub(from).Seconds(); w > 0 {
			sw += w
			swp += w * p.USDPerHour
			swp2 += w * p.USDPerHour * p.USDPerHour
		}
	}
	if sw <= 0 {
		s.Mean = s.Latest
		return s
	}
	s.Mean = swp / sw
	s.StdDev = math.Sqrt(math.Max(0, swp2/sw-s.Mean*s.Mean))
	return s
}
