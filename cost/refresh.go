package cost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/pricing"
	pricingtypes "github.com/aws/aws-sdk-go-v2/service/pricing/types"
	"github.com/aws/smithy-go"
)

// kind is one of the three things the catalogue refreshes.
type kind int

const (
	kindOnDemand kind = iota
	kindSpot
	kindSpecs
	numKinds
)

var kindNames = [numKinds]string{"ondemand", "spot", "specs"}

func (k kind) String() string { return kindNames[k] }

// Status is the state of one kind of refresh (ondemand, spot or specs).
type Status struct {
	Kind string `json:"kind"`
	// LastSuccess is when a refresh of this kind last succeeded, in this
	// process or, read from Options.CacheFile, in an earlier one; zero if
	// never.
	LastSuccess time.Time `json:"lastSuccess"`
	// LastAttempt is when a refresh of this kind was last tried.
	LastAttempt time.Time `json:"lastAttempt"`
	// Failures counts the refreshes that failed since the last success.
	Failures int `json:"failures"`
	// LastError is the error of the latest refresh, empty if it succeeded.
	LastError string `json:"lastError,omitempty"`
	// Items is how many values the last successful refresh brought.
	Items int `json:"items"`
}

// Status returns the state of the on-demand, spot and specs refreshes, in
// that order.
func (c *Catalog) Status() []Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Status(nil), c.status[:]...)
}

// ErrEmpty is wrapped by a refresh that got an answer with nothing usable
// in it, such as prices for a region AWS does not know. The catalogue
// keeps what it had.
var ErrEmpty = errors.New("answer holds no usable values")

// Throttled reports whether err is AWS refusing a call for its rate
// (ThrottlingException, RequestLimitExceeded and their kin).
func Throttled(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "ThrottlingException", "Throttling", "RequestLimitExceeded",
		"TooManyRequestsException", "RequestThrottled", "RequestThrottledException",
		"SlowDown", "PriorRequestNotComplete", "EC2ThrottledException":
		return true
	}
	return false
}

// RefreshOnDemand fetches every on-demand Linux price of the region from
// the Price List API. On failure the catalogue keeps the prices it had,
// marked cached, and the error says why.
func (c *Catalog) RefreshOnDemand(ctx context.Context) error {
	if c.opts.Pricing == nil {
		return errors.New("cost: no pricing client")
	}
	now := c.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	prices, err := c.fetchOnDemand(ctx)
	if err != nil {
		return c.fail(kindOnDemand, now, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.cur.Load().clone()
	t.odStale = false
	for typ, e := range t.types {
		if _, ok := prices[typ]; !ok && e.hasOD && e.od.Source == SourceLive {
			n := *e
			n.od.Source = SourceCached
			t.types[typ] = &n
		}
	}
	for typ, usd := range prices {
		n := c.copyEntry(t, typ)
		n.od, n.hasOD = Price{USDPerHour: usd, Source: SourceLive, Observed: now}, true
	}
	c.cur.Store(t)
	c.succeedLocked(kindOnDemand, now, len(prices))
	c.saveCacheLocked()
	return nil
}

// copyEntry replaces the entry of typ in t (a table being built) with a
// copy that may be changed, and returns the copy.
func (c *Catalog) copyEntry(t *table, typ string) *typeEntry {
	var n typeEntry
	if e, ok := t.types[typ]; ok {
		n = *e
	} else {
		n.discount = discountOf(typ, c.opts.Discounts)
	}
	t.types[typ] = &n
	return &n
}

func (c *Catalog) fetchOnDemand(ctx context.Context) (map[string]float64, error) {
	region := c.opts.Region
	filter := func(field, value string) pricingtypes.Filter {
		return pricingtypes.Filter{Type: pricingtypes.FilterTypeTermMatch,
			Field: aws.String(field), Value: aws.String(value)}
	}
	in := &pricing.GetProductsInput{
		ServiceCode:   aws.String("AmazonEC2"),
		FormatVersion: aws.String("aws_v1"),
		MaxResults:    aws.Int32(100),
		Filters: []pricingtypes.Filter{
			filter("regionCode", region),
			filter("operatingSystem", "Linux"),
			filter("tenancy", "Shared"),
			filter("preInstalledSw", "NA"),
			filter("capacitystatus", "Used"),
		},
	}
	prices := make(map[string]float64, 1024)
	var bad int
	var firstBad error
	pages := pricing.NewGetProductsPaginator(c.opts.Pricing, in)
	for page := 1; pages.HasMorePages(); page++ {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("getting on-demand prices of %s, page %d: %w", region, page, err)
		}
		for _, doc := range out.PriceList {
			typ, usd, err := parsePriceListItem(doc, region)
			switch {
			case errors.Is(err, errNotWanted):
			case err != nil:
				bad++
				if firstBad == nil {
					firstBad = err
				}
			default:
				if old, ok := prices[typ]; !ok || usd < old {
					prices[typ] = usd
				}
			}
		}
	}
	if bad > 0 {
		c.opts.Logger.Warn("skipped unreadable price list products", "region", region,
			"skipped", bad, "kept", len(prices), "error", firstBad)
	}
	if len(prices) == 0 {
		if firstBad != nil {
			return nil, fmt.Errorf("getting on-demand prices of %s: %w (%d unreadable: %w)",
				region, ErrEmpty, bad, firstBad)
		}
		return nil, fmt.Errorf("getting on-demand prices of %s: %w", region, ErrEmpty)
	}
	return prices, nil
}

// RefreshSpot fetches the spot price history of the region (of
// Options.Types, or every type) for Linux since the last successful
// refresh, or for the whole window the first time, and merges it into
// each pool's history. On failure the catalogue keeps the pools it had,
// marked cached.
func (c *Catalog) RefreshSpot(ctx context.Context) error {
	if c.opts.EC2 == nil {
		return errors.New("cost: no ec2 client")
	}
	now := c.opts.Now()
	windowStart := now.Add(-c.opts.SpotWindow)
	from := windowStart
	c.mu.Lock()
	if last := c.status[kindSpot].LastSuccess; !last.IsZero() && last.After(windowStart) {
		// AWS also returns the price in effect at the start time, so a
		// small overlap loses nothing.
		from = last.Add(-time.Minute)
	}
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	fetched, err := c.fetchSpot(ctx, from, now)
	if err != nil {
		return c.fail(kindSpot, now, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.cur.Load()
	t := old.clone()
	t.spotStale = false
	t.pools = make(map[poolKey]*Pool, len(old.pools)+len(fetched))
	for k, p := range old.pools {
		if _, ok := fetched[k]; ok {
			continue
		}
		// Not in this answer: keep it, say it is older than the rest.
		h := mergeHistory(p.history, nil, windowStart, c.opts.MaxPointsPerPool)
		n := &Pool{price: p.price, history: h, stats: HistoryStats(h, windowStart, now)}
		n.stats.Observed = p.stats.Observed
		if n.price.Source == SourceLive {
			n.price.Source = SourceCached
		}
		t.pools[k] = n
	}
	for k, add := range fetched {
		var prev []PricePoint
		if p, ok := old.pools[k]; ok {
			prev = p.history
		}
		h := mergeHistory(prev, add, windowStart, c.opts.MaxPointsPerPool)
		n := &Pool{history: h, stats: HistoryStats(h, windowStart, now)}
		n.stats.Observed = now
		n.price = Price{USDPerHour: n.stats.Latest, Source: SourceLive, Observed: now}
		t.pools[k] = n
	}
	c.setAnySpot(t)
	c.cur.Store(t)
	c.succeedLocked(kindSpot, now, len(fetched))
	c.saveCacheLocked()
	return nil
}

// setAnySpot sets every type's zone-less spot price to the highest latest
// price over its pools: the price a node group spanning all of them may
// pay.
func (c *Catalog) setAnySpot(t *table) {
	// The dearest pool of each type; the first zone by name among equals,
	// so the answer does not depend on map order.
	best := make(map[string]poolKey, len(t.types))
	for k, p := range t.pools {
		b, ok := best[k.instanceType]
		if !ok {
			best[k.instanceType] = k
			continue
		}
		bp := t.pools[b].price.USDPerHour
		if p.price.USDPerHour > bp || (p.price.USDPerHour == bp && k.zone < b.zone) {
			best[k.instanceType] = k
		}
	}
	for typ, e := range t.types {
		if e.hasAnySpot {
			if _, ok := best[typ]; !ok {
				n := c.copyEntry(t, typ)
				n.anySpot, n.anyStats, n.hasAnySpot = Price{}, SpotStats{}, false
			}
		}
	}
	for typ, k := range best {
		p := t.pools[k]
		n := c.copyEntry(t, typ)
		n.anySpot, n.anyStats, n.hasAnySpot = p.price, p.stats, true
	}
}

func (c *Catalog) fetchSpot(ctx context.Context, from, to time.Time) (
	map[poolKey][]PricePoint, error) {
	in := &ec2.DescribeSpotPriceHistoryInput{
		ProductDescriptions: []string{"Linux/UNIX"},
		StartTime:           aws.Time(from),
		EndTime:             aws.Time(to),
		MaxResults:          aws.Int32(1000),
	}
	for _, t := range c.opts.Types {
		in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(t))
	}
	out := make(map[poolKey][]PricePoint, 512)
	var bad int
	pages := ec2.NewDescribeSpotPriceHistoryPaginator(c.opts.EC2, in)
	for page := 1; pages.HasMorePages(); page++ {
		res, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("describing spot price history of %s, page %d: %w",
				c.opts.Region, page, err)
		}
		for _, sp := range res.SpotPriceHistory {
			k, pt, ok := spotPoint(sp)
			if !ok {
				bad++
				continue
			}
			h := append(out[k], pt)
			if len(h) > 2*c.opts.MaxPointsPerPool {
				// Bound memory while paging; mergeHistory keeps the newest.
				h = mergeHistory(nil, h, from, c.opts.MaxPointsPerPool)
			}
			out[k] = h
		}
	}
	if bad > 0 {
		c.opts.Logger.Warn("skipped unreadable spot prices", "region", c.opts.Region,
			"skipped", bad, "kept", len(out))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("describing spot price history of %s: %w", c.opts.Region,
			ErrEmpty)
	}
	return out, nil
}

func spotPoint(sp ec2types.SpotPrice) (poolKey, PricePoint, bool) {
	if sp.AvailabilityZone == nil || sp.SpotPrice == nil || sp.Timestamp == nil ||
		sp.InstanceType == "" {
		return poolKey{}, PricePoint{}, false
	}
	usd, err := strconv.ParseFloat(*sp.SpotPrice, 64)
	if err != nil || !(usd > 0) || math.IsInf(usd, 1) {
		return poolKey{}, PricePoint{}, false
	}
	return poolKey{string(sp.InstanceType), *sp.AvailabilityZone},
		PricePoint{At: *sp.Timestamp, USDPerHour: usd}, true
}

// RefreshSpecs fetches the hardware of the region's instance types (of
// Options.Types, or every type) from DescribeInstanceTypes, so a type
// newer than the snapshot is known. On failure the catalogue keeps the
// specs it had.
func (c *Catalog) RefreshSpecs(ctx context.Context) error {
	if c.opts.EC2 == nil {
		return errors.New("cost: no ec2 client")
	}
	now := c.opts.Now()
	ctx, cancel := context.WithTimeout(ctx, c.opts.CallTimeout)
	defer cancel()
	specs, err := c.fetchSpecs(ctx)
	if err != nil {
		return c.fail(kindSpecs, now, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.cur.Load().clone()
	for typ, s := range specs {
		n := c.copyEntry(t, typ)
		n.spec, n.hasSpec = s, true
	}
	c.cur.Store(t)
	c.succeedLocked(kindSpecs, now, len(specs))
	return nil
}

func (c *Catalog) fetchSpecs(ctx context.Context) (map[string]Spec, error) {
	// DescribeInstanceTypes takes at most 100 names a call.
	var batches [][]ec2types.InstanceType
	for i := 0; i < len(c.opts.Types); i += 100 {
		var b []ec2types.InstanceType
		for _, t := range c.opts.Types[i:min(i+100, len(c.opts.Types))] {
			b = append(b, ec2types.InstanceType(t))
		}
		batches = append(batches, b)
	}
	if len(batches) == 0 {
		batches = append(batches, nil)
	}
	specs := make(map[string]Spec, 1024)
	for _, b := range batches {
		in := &ec2.DescribeInstanceTypesInput{InstanceTypes: b}
		if len(b) == 0 {
			in.MaxResults = aws.Int32(100)
		}
		pages := ec2.NewDescribeInstanceTypesPaginator(c.opts.EC2, in)
		for page := 1; pages.HasMorePages(); page++ {
			res, err := pages.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing instance types of %s, page %d: %w",
					c.opts.Region, page, err)
			}
			for _, it := range res.InstanceTypes {
				if s, ok := specOf(it); ok {
					specs[string(it.InstanceType)] = s
				}
			}
		}
	}
	if len(specs) == 0 {
		return nil, fmt.Errorf("describing instance types of %s: %w", c.opts.Region, ErrEmpty)
	}
	return specs, nil
}

func specOf(it ec2types.InstanceTypeInfo) (Spec, bool) {
	if it.InstanceType == "" || it.VCpuInfo == nil || it.VCpuInfo.DefaultVCpus == nil ||
		it.MemoryInfo == nil || it.MemoryInfo.SizeInMiB == nil {
		return Spec{}, false
	}
	s := Spec{VCPU: int(*it.VCpuInfo.DefaultVCpus), MemoryMiB: *it.MemoryInfo.SizeInMiB}
	if it.GpuInfo != nil {
		for _, g := range it.GpuInfo.Gpus {
			if g.Count != nil {
				s.GPU += int(*g.Count)
			}
		}
	}
	if it.ProcessorInfo != nil {
		for _, a := range it.ProcessorInfo.SupportedArchitectures {
			switch a {
			case ec2types.ArchitectureTypeArm64:
				s.Arch = "arm64"
			case ec2types.ArchitectureTypeX8664:
				s.Arch = "amd64"
			}
		}
	}
	return s, true
}

// fail records a failed refresh of kind k, turns that kind's live values
// into cached ones, and returns err.
func (c *Catalog) fail(k kind, now time.Time, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status[k]
	s.LastAttempt, s.LastError = now, err.Error()
	s.Failures++
	old := c.cur.Load()
	t := *old
	switch k {
	case kindOnDemand:
		t.odStale = true
	case kindSpot:
		t.spotStale = true
	}
	c.cur.Store(&t)
	c.metrics.refreshed(k, err)
	c.opts.Logger.Warn("price refresh failed, keeping last good values", "kind", k.String(),
		"region", c.opts.Region, "failures", s.Failures, "throttled", Throttled(err),
		"error", err)
	return err
}

func (c *Catalog) succeedLocked(k kind, now time.Time, items int) {
	c.status[k] = Status{Kind: k.String(), LastSuccess: now, LastAttempt: now, Items: items}
	c.metrics.refreshed(k, nil)
}

// Backoff returns how long to wait before retrying a refresh that failed
// n times in a row (n >= 1):
//
//	d    = min(limit, base * 2^(n-1))
//	wait = d/2 + u*d/2
//
// where base is 30s after throttling and 5s after other errors, and u in
// [0, 1) is a uniform random draw, so retries of many replicas spread out.
// limit is the regular refresh interval; wait is never above it.
func Backoff(n int, throttled bool, limit time.Duration, u float64) time.Duration {
	base := 5 * time.Second
	if throttled {
		base = 30 * time.Second
	}
	if n < 1 {
		n = 1
	}
	d := limit
	if n <= 30 {
		if x := base << (n - 1); x < limit {
			d = x
		}
	}
	if !(u >= 0) {
		u = 0
	}
	u = math.Min(u, 1)
	return d/2 + time.Duration(u*float64(d/2))
}

// Run refreshes the catalogue until ctx ends: on-demand prices every
// OnDemandInterval, spot prices every SpotInterval and specs every
// SpecsInterval, each first at once, each retried after a failure with
// Backoff. It returns ctx's error.
func (c *Catalog) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	loop := func(k kind, every time.Duration, fn func(context.Context) error) {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(c.opts.Seed, uint64(k)))
			failures := 0
			for {
				wait := every
				if err := fn(ctx); err != nil && ctx.Err() == nil {
					failures++
					wait = Backoff(failures, Throttled(err), every, rng.Float64())
				} else {
					failures = 0
				}
				timer := time.NewTimer(wait)
				select {
				case <-ctx.Done():
					timer.Stop()
					return
				case <-timer.C:
				}
			}
		})
	}
	if c.opts.Pricing != nil {
		loop(kindOnDemand, c.opts.OnDemandInterval, c.RefreshOnDemand)
	}
	if c.opts.EC2 != nil {
		loop(kindSpot, c.opts.SpotInterval, c.RefreshSpot)
		loop(kindSpecs, c.opts.SpecsInterval, c.RefreshSpecs)
	}
	wg.Wait()
	return ctx.Err()
}
