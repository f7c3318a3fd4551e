package spot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/prometheus/client_golang/prometheus"
)

// PriceSignals gives the recent spot price behaviour of a pool.
// *cost.Catalog implements it.
type PriceSignals interface {
	SpotStats(instanceType, zone string) (cost.SpotStats, bool)
}

// Observer takes interruptions and insufficient-capacity failures seen in
// the cluster. Whatever notices them (the interruption handler, the
// watcher of failed scale-ups) calls it; *Model implements it. An empty
// zone means the zone is not known.
type Observer interface {
	ObserveInterruption(instanceType, zone string, at time.Time)
	ObserveInsufficientCapacity(instanceType, zone string, at time.Time)
}

var _ Observer = (*Model)(nil)

// Month is the span of the Spot Advisor's interruption frequency and the
// default horizon of a Risk.
const Month = 30 * 24 * time.Hour

// Constants of the risk model; see Combine for where each enters.
const (
	// PriceHalfLife is how fast a price signal loses weight with age.
	PriceHalfLife = 6 * time.Hour
	// PlacementHalfLife is how fast a placement score loses weight.
	PlacementHalfLife = 12 * time.Hour
	// InterruptionHalfLife is how fast an observed interruption fades.
	InterruptionHalfLife = 24 * time.Hour
	// CapacityHalfLife is how fast an insufficient-capacity failure fades;
	// capacity comes back sooner than interruptions stop.
	CapacityHalfLife = 2 * time.Hour
	// MaxFactor bounds the product of all multipliers, so no signal can
	// make a pool more than this many times as risky as its bucket says.
	MaxFactor = 50.0
)

// Options configure a Model.
type Options struct {
	// Advisor gives the Spot Advisor buckets; required.
	Advisor *Advisor
	// Prices gives the spot price behaviour of each pool; nil leaves the
	// price signal out.
	Prices PriceSignals
	// Placement asks EC2 for Spot Placement Scores; nil leaves them out.
	Placement PlacementAPI
	// PlacementTypes are the instance types to ask placement scores for
	// (AWS limits how many distinct requests an account may make a day,
	// so only the types of the node groups are asked).
	PlacementTypes []string
	// PlacementCapacity is the number of instances the scores are asked
	// for; default 1.
	PlacementCapacity int32
	// PlacementInterval is how often scores are refreshed; default 1h.
	PlacementInterval time.Duration
	// AdvisorSource is a file path or http(s) URL of Spot Advisor data in
	// AWS's JSON format, re-read by Run every AdvisorInterval (default
	// 24h); empty keeps Advisor as it is.
	AdvisorSource   string
	AdvisorInterval time.Duration
	// Horizon is the span a Risk's probability is for; default Month.
	Horizon time.Duration
	// Registry receives the model's metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger receives refresh failures; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Seed seeds the jitter of the retry backoff.
	Seed uint64
}

// poolKey names a spot pool; an empty zone stands for the whole region.
type poolKey struct{ instanceType, zone string }

// placement is a Spot Placement Score and when it was fetched.
type placement struct {
	score int
	at    time.Time
}

// observed is a decayed count of events: value was the count at at, and
// decays by half every half-life since.
type observed struct {
	interruptions float64
	capacity      float64
	at            time.Time
}

// state is one immutable state of the model, swapped whole on change.
type state struct {
	advisor   *Advisor
	placement map[poolKey]placement
	observed  map[poolKey]observed
}

// Model estimates the interruption risk of spot pools from the Spot
// Advisor, price behaviour, placement scores and what the cluster saw.
// Lookups do not allocate and are safe for concurrent use with updates.
type Model struct {
	opts    Options
	cur     atomic.Pointer[state]
	mu      sync.Mutex // serialises writers
	zoneIDs map[string]string
	// permitted turns false once EC2 refuses placement scores for lack
	// of permission.
	permitted bool
	lastOK    time.Time
	metrics   *modelMetrics
}

// NewModel returns a risk model. It fetches nothing; call
// RefreshPlacement or Run for placement scores.
func NewModel(opts Options) (*Model, error) {
	if opts.Advisor == nil {
		return nil, errors.New("spot: an advisor is required")
	}
	if opts.Horizon <= 0 {
		opts.Horizon = Month
	}
	if opts.PlacementInterval <= 0 {
		opts.PlacementInterval = time.Hour
	}
	if opts.AdvisorInterval <= 0 {
		opts.AdvisorInterval = 24 * time.Hour
	}
	if opts.PlacementCapacity <= 0 {
		opts.PlacementCapacity = 1
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Model{opts: opts, permitted: true}
	m.cur.Store(&state{advisor: opts.Advisor, placement: map[poolKey]placement{},
		observed: map[poolKey]observed{}})
	var err error
	if m.metrics, err = newModelMetrics(m, opts.Registry); err != nil {
		return nil, err
	}
	return m, nil
}

// SetAdvisor replaces the Spot Advisor figures, for instance with a newer
// file the user gives.
func (m *Model) SetAdvisor(a *Advisor) error {
	if a == nil {
		return errors.New("spot: nil advisor")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := *m.cur.Load()
	s.advisor = a
	m.cur.Store(&s)
	return nil
}

// Savings returns the Spot Advisor's average savings of an instance type,
// in percent of the on-demand price.
func (m *Model) Savings(instanceType string) (float64, bool) {
	return m.cur.Load().advisor.Savings(instanceType)
}

// ObserveInterruption records that a spot node of the pool was
// interrupted (or warned of it) at the given time.
func (m *Model) ObserveInterruption(instanceType, zone string, at time.Time) {
	m.observe(instanceType, zone, at, 1, 0)
	m.metrics.events.WithLabelValues("interruption").Inc()
}

// ObserveInsufficientCapacity records that EC2 could not launch a spot
// node of the pool for lack of capacity at the given time.
func (m *Model) ObserveInsufficientCapacity(instanceType, zone string, at time.Time) {
	m.observe(instanceType, zone, at, 0, 1)
	m.metrics.events.WithLabelValues("insufficient_capacity").Inc()
}

func (m *Model) observe(instanceType, zone string, at time.Time, intr, capa float64) {
	if instanceType == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := m.cur.Load()
	s := *old
	s.observed = make(map[poolKey]observed, len(old.observed)+2)
	for k, v := range old.observed {
		// Drop what has faded to nothing, so the map holds only live pools.
		if d := v.decayed(at); d.interruptions+d.capacity > 1e-3 {
			s.observed[k] = v
		}
	}
	keys := []poolKey{{instanceType, ""}}
	if zone != "" {
		keys = append(keys, poolKey{instanceType, zone})
	}
	for _, k := range keys {
		o := s.observed[k].decayed(at)
		o.interruptions += intr
		o.capacity += capa
		s.observed[k] = o
	}
	m.cur.Store(&s)
}

// decayed returns o brought forward to t. When t is before o's time (an
// event reported late), o is returned as it is, so the late event counts
// as if it happened at o's time.
func (o observed) decayed(t time.Time) observed {
	if o.at.IsZero() {
		return observed{at: t}
	}
	if t.Before(o.at) {
		return o
	}
	d := t.Sub(o.at)
	return observed{interruptions: o.interruptions * halve(d, InterruptionHalfLife),
		capacity: o.capacity * halve(d, CapacityHalfLife), at: t}
}

// halve is the weight left after d with the given half-life: 2^(-d/h).
func halve(d, h time.Duration) float64 {
	if d <= 0 {
		return 1
	}
	return math.Exp2(-d.Seconds() / h.Seconds())
}

// Source strings, one per combination of signals, so a lookup builds none.
var sourceNames = func() [16]string {
	var out [16]string
	for mask := range out {
		s := "spot-advisor"
		if mask&8 != 0 {
			s += "-snapshot"
		}
		if mask&1 != 0 {
			s += "+price"
		}
		if mask&2 != 0 {
			s += "+placement"
		}
		if mask&4 != 0 {
			s += "+observed"
		}
		out[mask] = s
	}
	return out
}()

// Risk returns the interruption risk of the pool (instanceType, zone),
// combining every signal the model has for it (see Combine). ok is false
// when the Spot Advisor does not know the type.
func (m *Model) Risk(instanceType, zone string) (Risk, bool) {
	s := m.cur.Load()
	e, ok := s.advisor.entries[instanceType]
	if !ok {
		return Risk{}, false
	}
	now := m.opts.Now()
	in := Inputs{Bucket: int(e.bucket), Savings: e.savings, PlacementScore: -1}
	mask := 0
	if s.advisor.snapshot {
		mask |= 8
	}
	if m.opts.Prices != nil {
		if ps, ok := m.opts.Prices.SpotStats(instanceType, zone); ok {
			in.Price, in.HasPrice = ps, true
			in.PriceAge = now.Sub(ps.Observed)
			mask |= 1
		}
	}
	if p, ok := s.placement[poolKey{instanceType, zone}]; ok {
		in.PlacementScore, in.PlacementAge = p.score, now.Sub(p.at)
		mask |= 2
	}
	if o, ok := s.observed[poolKey{instanceType, zone}]; ok {
		o = o.decayed(now)
		in.Interruptions, in.CapacityFailures = o.interruptions, o.capacity
		mask |= 4
	}
	r := Combine(in, m.opts.Horizon)
	r.Source = sourceNames[mask]
	return r, true
}

// Inputs are the signals the model has for one pool.
type Inputs struct {
	// Bucket is the Spot Advisor bucket, 0..4.
	Bucket int
	// Savings is the Spot Advisor's average savings, in percent.
	Savings float64
	// Price is the pool's price behaviour, when HasPrice.
	Price    cost.SpotStats
	HasPrice bool
	PriceAge time.Duration
	// PlacementScore is the pool's Spot Placement Score, 1..10, or -1.
	PlacementScore int
	PlacementAge   time.Duration
	// Interruptions and CapacityFailures are decayed counts of events
	// seen in the cluster for the pool.
	Interruptions, CapacityFailures float64
}

// Combine computes the risk of one pool. Everything is a hazard rate (a
// rate of interruptions per node-hour) so signals multiply:
//
//	lambda0 = -ln(1 - f_b) / Month            (Spot Advisor bucket b)
//	lambda  = lambda0 * min(MaxFactor, Fp * Fs * Fo)
//	P       = 1 - exp(-lambda * horizon)
//
// where f_b is the bucket's monthly frequency (BucketProbability), and the
// factors are PriceFactor (Fp), PlacementFactor (Fs) and ObservedFactor
// (Fo), each 1 when its signal is missing. The confidence is
//
//	C = 1 - (1 - AdvisorConfidence)(1 - Cp)(1 - Cs)(1 - Co)
//
// with each signal's own confidence from its factor function. A bucket
// outside 0..4 gives the zero Risk with Bucket -1.
func Combine(in Inputs, horizon time.Duration) Risk {
	f, ok := BucketProbability(in.Bucket)
	if !ok {
		return Risk{Bucket: -1}
	}
	lambda0 := -math.Log1p(-f) / Month.Hours()
	fp, cp := 1.0, 0.0
	if in.HasPrice {
		fp, cp = PriceFactor(in.Price, in.Savings, in.PriceAge)
	}
	fs, cs := 1.0, 0.0
	if in.PlacementScore >= 0 {
		fs, cs = PlacementFactor(in.PlacementScore, in.PlacementAge)
	}
	fo, co := ObservedFactor(in.Interruptions, in.CapacityFailures)
	factor := math.Min(MaxFactor, fp*fs*fo)
	lambda := lambda0 * factor
	r := Risk{
		Probability:     -math.Expm1(-lambda * horizon.Hours()),
		Confidence:      1 - (1-AdvisorConfidence)*(1-cp)*(1-cs)*(1-co),
		Bucket:          in.Bucket,
		HazardPerHour:   lambda,
		PriceFactor:     fp,
		PlacementFactor: fs,
		ObservedFactor:  fo,
	}
	return r
}

// PriceFactor turns a pool's price behaviour into a hazard multiplier
// and a confidence:
//
//	re = 1 - savings/100                 expected spot/on-demand ratio
//	L  = clamp((latest/ondemand - re) / max(1 - re, 0.05), -0.5, 1)
//	V  = min(1, (sd/mean) / 0.10)        volatility, saturating at 10%
//	J  = min(1, maxRise / 0.25)          jumps, saturating at +25%
//	w  = 2^(-age/PriceHalfLife)
//	Fp = (sqrt(2)^L * 1.5^V * 2^J)^w     in [0.84, 4.25]
//	Cp = 0.3 * w
//
// A pool whose price moves or jumped lately is short of capacity, which
// is when EC2 reclaims. The level term L (a pool dearer than the
// advisor's average) has half the weight of the jump term: in the
// 2022-05-31 us-east-1 cross-section the price level does not rank the
// advisor's buckets (see the README), so it only nudges. L is left out
// when the on-demand price is unknown; V when the mean is not positive.
// Stale signals fade towards 1 through w.
func PriceFactor(s cost.SpotStats, savingsPct float64, age time.Duration) (float64, float64) {
	var logf float64
	if s.OnDemand > 0 && s.Latest > 0 && !math.IsNaN(savingsPct) {
		re := 1 - math.Min(math.Max(savingsPct, 0), 100)/100
		l := (s.Latest/s.OnDemand - re) / math.Max(1-re, 0.05)
		logf += math.Min(math.Max(l, -0.5), 1) * math.Ln2 / 2
	}
	if s.Mean > 0 && s.StdDev >= 0 {
		logf += math.Min(1, s.StdDev/s.Mean/0.10) * math.Log(1.5)
	}
	if s.MaxRise > 0 {
		logf += math.Min(1, s.MaxRise/0.25) * math.Ln2
	}
	if math.IsNaN(logf) {
		return 1, 0
	}
	w := halve(age, PriceHalfLife)
	return math.Exp(w * logf), 0.3 * w
}

// PlacementFactor turns a Spot Placement Score (1..10, 10 meaning a
// request very likely succeeds) into a hazard multiplier and a confidence:
//
//	Fs = 3^(w * (5.5 - score) / 4.5)     in [1/3, 3]
//	Cs = 0.3 * w,  w = 2^(-age/PlacementHalfLife)
//
// A score outside 1..10 counts as missing.
func PlacementFactor(score int, age time.Duration) (float64, float64) {
	if score < 1 || score > 10 {
		return 1, 0
	}
	w := halve(age, PlacementHalfLife)
	return math.Pow(3, w*(5.5-float64(score))/4.5), 0.3 * w
}

// ObservedFactor turns the decayed counts of interruptions (I) and
// insufficient-capacity failures (C) seen in the cluster for a pool into
// a hazard multiplier and a confidence:
//
//	Fo = 1 + 4*I + C
//	Co = 1 - exp(-(I + C)/2)
//
// One fresh interruption makes the pool five times as risky as the
// advisor's regional monthly figure says: an interruption in this cluster
// means the pool is being reclaimed now, which is what the expander must
// avoid. Negative or NaN counts count as 0.
func ObservedFactor(interruptions, capacityFailures float64) (float64, float64) {
	i, c := math.Max(0, interruptions), math.Max(0, capacityFailures)
	if math.IsNaN(i) {
		i = 0
	}
	if math.IsNaN(c) {
		c = 0
	}
	return 1 + 4*i + c, -math.Expm1(-(i + c) / 2)
}

// RefreshPlacement asks EC2 for the Spot Placement Score of every type of
// Options.PlacementTypes in each zone of the region. When EC2 refuses for
// lack of permission, the model stops asking and goes on without scores.
func (m *Model) RefreshPlacement(ctx context.Context) error {
	if m.opts.Placement == nil || len(m.opts.PlacementTypes) == 0 {
		return nil
	}
	m.mu.Lock()
	permitted, ids := m.permitted, m.zoneIDs
	m.mu.Unlock()
	if !permitted {
		return nil
	}
	now := m.opts.Now()
	region := m.opts.Advisor.Region()
	var err error
	if ids == nil {
		if ids, err = zoneNames(ctx, m.opts.Placement); err != nil {
			return m.placementFailed(err)
		}
	}
	scores, err := fetchScores(ctx, m.opts.Placement, region, m.opts.PlacementTypes,
		m.opts.PlacementCapacity, ids)
	if err != nil {
		return m.placementFailed(err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.zoneIDs = ids
	old := m.cur.Load()
	s := *old
	s.placement = make(map[poolKey]placement, len(old.placement)+len(scores))
	for k, v := range old.placement {
		s.placement[k] = v
	}
	for k, score := range scores {
		s.placement[k] = placement{score: score, at: now}
	}
	m.cur.Store(&s)
	m.lastOK = now
	m.metrics.placement.WithLabelValues("ok").Inc()
	return nil
}

func (m *Model) placementFailed(err error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if Denied(err) {
		m.permitted = false
		m.metrics.placement.WithLabelValues("denied").Inc()
		m.opts.Logger.Warn("spot placement scores not permitted, going on without them",
			"error", err)
		return nil
	}
	result := "error"
	if cost.Throttled(err) {
		result = "throttled"
	}
	m.metrics.placement.WithLabelValues(result).Inc()
	m.opts.Logger.Warn("spot placement score refresh failed, keeping last scores",
		"error", err)
	return fmt.Errorf("refreshing spot placement scores: %w", err)
}

// RefreshAdvisor re-reads the Spot Advisor data from AdvisorSource. On
// failure the model keeps the figures it had.
func (m *Model) RefreshAdvisor(ctx context.Context) error {
	if m.opts.AdvisorSource == "" {
		return nil
	}
	a, err := LoadAdvisor(ctx, m.opts.AdvisorSource, m.opts.Advisor.Region())
	if err != nil {
		m.metrics.advisor.WithLabelValues("error").Inc()
		m.opts.Logger.Warn("spot advisor refresh failed, keeping last figures",
			"source", m.opts.AdvisorSource, "error", err)
		return fmt.Errorf("refreshing spot advisor data: %w", err)
	}
	m.metrics.advisor.WithLabelValues("ok").Inc()
	return m.SetAdvisor(a)
}

// Run refreshes placement scores every PlacementInterval, first at once,
// and the Spot Advisor data every AdvisorInterval, first after one
// interval, until ctx ends, retrying failures with cost.Backoff. It
// returns ctx's error.
func (m *Model) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(stream uint64, every time.Duration, now bool,
		fn func(context.Context) error) {
		wg.Go(func() {
			rng := newRand(m.opts.Seed, stream)
			failures := 0
			wait := every
			if now {
				wait = 0
			}
			for {
				t := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					t.Stop()
					return
				case <-t.C:
				}
				wait = every
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					failures++
					wait = cost.Backoff(failures, cost.Throttled(err), every, rng.Float64())
				} else {
					failures = 0
				}
			}
		})
	}
	if m.opts.Placement != nil && len(m.opts.PlacementTypes) > 0 {
		loop(1, m.opts.PlacementInterval, true, m.RefreshPlacement)
	}
	if m.opts.AdvisorSource != "" {
		loop(2, m.opts.AdvisorInterval, false, m.RefreshAdvisor)
	}
	wg.Wait()
	return ctx.Err()
}
