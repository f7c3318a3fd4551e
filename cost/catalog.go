// Package cost is Augur's price catalogue: the hourly price and the
// hardware of an EC2 instance type in one region.
//
// The catalogue starts from a snapshot embedded in the binary (see
// generate.go for where it comes from), so it answers with no AWS account
// and no network. Given AWS clients it refreshes itself from the Pricing
// API (on-demand prices) and EC2 (spot price history, instance types); see
// refresh.go. Every price carries its source and the time it was observed,
// so a caller can tell a live number from an old one, and a failed refresh
// never takes away a value the catalogue already had.
package cost

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

//go:embed snapshot/ondemand.csv
var ondemandCSV []byte

//go:embed snapshot/instance_types.csv
var instanceTypesCSV []byte

// CapacityType says how a node is bought.
type CapacityType uint8

// Capacity types. The zero value is on-demand, the safe assumption when a
// node says nothing.
const (
	OnDemand CapacityType = iota
	Spot
)

// String returns the label value EKS uses for the capacity type.
func (c CapacityType) String() string {
	if c == Spot {
		return "SPOT"
	}
	return "ON_DEMAND"
}

// Source says where a price came from.
type Source uint8

// Price sources, from most to least trustworthy.
const (
	// SourceUnknown marks the zero Price.
	SourceUnknown Source = iota
	// SourceLive is a value fetched from AWS by the latest refresh, which
	// succeeded.
	SourceLive
	// SourceCached is a value fetched from AWS earlier and kept because
	// the latest refresh failed.
	SourceCached
	// SourceSnapshot is the embedded snapshot for the catalogue's region.
	SourceSnapshot
	// SourceProxy is the embedded snapshot of another region (us-east-1),
	// used where the snapshot has no price for the catalogue's region. It
	// keeps the order of prices within a region but not their level.
	SourceProxy
	// SourceSpotEstimate is an on-demand price reduced by the Spot
	// Advisor's average savings for the type, used until live spot prices
	// are known.
	SourceSpotEstimate
)

var sourceNames = [...]string{"unknown", "live", "cached", "snapshot", "snapshot-proxy",
	"spot-advisor-estimate"}

// String returns the lower-case name of the source.
func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// Price is the hourly price of one node.
type Price struct {
	// USDPerHour is the price of one instance for one hour, in US dollars,
	// after the discount of its instance family (see Options.Discounts).
	USDPerHour float64
	// Source says where the number came from.
	Source Source
	// Observed is when the number was known to be true: for a value from
	// AWS, the time of the refresh that fetched it; for the snapshot, when
	// the snapshot was generated upstream.
	Observed time.Time
	// Discount is the fraction taken off the published price, in [0, 1).
	Discount float64
}

// Spec is the hardware of an instance type.
type Spec struct {
	VCPU      int
	MemoryMiB int64
	GPU       int
	// Arch is amd64 or arm64, or empty where the source does not say.
	Arch string
}

// SavingsSource gives the average spot savings of an instance type in the
// catalogue's region, in percent of the on-demand price (the Spot Instance
// Advisor's "s" figure). spot.Advisor implements it.
type SavingsSource interface {
	Savings(instanceType string) (pct float64, ok bool)
}

// Discount is what an account pays less than the published price, as a
// fraction in [0, 1): 0.28 for a 28% Savings Plan or Reserved Instance
// rate, or an EDP discount.
type Discount struct {
	OnDemand float64 `json:"onDemand"`
	Spot     float64 `json:"spot"`
}

// Options configure a Catalog. Only Region is required; without AWS
// clients the catalogue serves the embedded snapshot alone.
type Options struct {
	// Region is the AWS region whose prices the catalogue answers with.
	Region string
	// SpotSavings estimates spot prices from on-demand ones where no live
	// spot price is known. Without it such pools have no spot price.
	SpotSavings SavingsSource
	// Discounts maps an instance family ("m5") or an instance type
	// ("m5.large") to the discount the account gets on it. A type's entry
	// wins over its family's.
	Discounts map[string]Discount

	// Pricing answers GetProducts; nil means no live on-demand prices.
	Pricing PricingAPI
	// EC2 answers DescribeSpotPriceHistory and DescribeInstanceTypes; nil
	// means no live spot prices or specs.
	EC2 EC2API
	// Types limits the spot price history and the instance types fetched
	// to these; empty means every type of the region.
	Types []string

	// OnDemandInterval is how often on-demand prices are refreshed;
	// default 6h.
	OnDemandInterval time.Duration
	// SpotInterval is how often spot prices are refreshed; default 5m.
	SpotInterval time.Duration
	// SpecsInterval is how often instance types are refreshed; default 24h.
	SpecsInterval time.Duration
	// SpotWindow is how much spot price history is kept per pool;
	// default 24h.
	SpotWindow time.Duration
	// MaxPointsPerPool caps the price changes kept per pool, so memory
	// stays bounded whatever AWS returns; default 128.
	MaxPointsPerPool int
	// CallTimeout bounds one refresh, every page included; default 2m.
	CallTimeout time.Duration
	// CacheFile, when set, is where the catalogue keeps the values of its
	// last successful refreshes, so that after a restart it answers with
	// them (as cached, with their age) until AWS answers again. A missing
	// or unreadable file leaves the snapshot in use.
	CacheFile string

	// Registry receives the catalogue's metrics; nil registers none.
	Registry prometheus.Registerer
	// Logger receives refresh failures; nil discards them.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// Seed seeds the jitter of the retry backoff.
	Seed uint64
}

func (o *Options) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.OnDemandInterval, 6*time.Hour)
	def(&o.SpotInterval, 5*time.Minute)
	def(&o.SpecsInterval, 24*time.Hour)
	def(&o.SpotWindow, 24*time.Hour)
	def(&o.CallTimeout, 2*time.Minute)
	if o.MaxPointsPerPool <= 0 {
		o.MaxPointsPerPool = 128
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	if o.Region == "" {
		return errors.New("cost: region is required")
	}
	for k, d := range o.Discounts {
		for _, f := range []float64{d.OnDemand, d.Spot} {
			if !(f >= 0 && f < 1) {
				return fmt.Errorf("cost: discount of %q: %v is not in [0, 1)", k, f)
			}
		}
	}
	return nil
}

// proxyRegion is the region whose snapshot prices stand in for regions the
// snapshot does not cover.
const proxyRegion = "us-east-1"

// poolKey names a spot pool.
type poolKey struct{ instanceType, zone string }

// typeEntry is everything the catalogue knows of one instance type. It is
// never changed once it is in a published table.
type typeEntry struct {
	od       Price
	hasOD    bool
	spec     Spec
	hasSpec  bool
	discount Discount
	// anySpot is the highest latest spot price over the type's zones,
	// answered when the zone is unknown.
	anySpot    Price
	hasAnySpot bool
	// anyStats are the statistics of that dearest pool.
	anyStats SpotStats
}

// table is one immutable state of the catalogue. A refresh builds a new
// table and swaps it in, so lookups need no lock.
type table struct {
	types map[string]*typeEntry
	pools map[poolKey]*Pool
	// odStale and spotStale say the latest refresh of that kind failed,
	// which turns live values into cached ones.
	odStale, spotStale bool
}

// Catalog answers prices and specs. Lookups do not allocate and are safe
// for concurrent use with each other and with refreshes.
type Catalog struct {
	opts     Options
	snapshot time.Time // when the embedded on-demand snapshot was made
	cur      atomic.Pointer[table]
	// mu serialises writers: refreshes and status changes.
	mu      sync.Mutex
	status  [numKinds]Status
	metrics *metrics
}

// New returns a catalogue backed by the embedded snapshot. It fetches
// nothing; call Refresh or Run for live values.
func New(opts Options) (*Catalog, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	specs, err := parseSpecs(instanceTypesCSV)
	if err != nil {
		return nil, fmt.Errorf("reading embedded instance types: %w", err)
	}
	ondemand, err := parseOnDemand(ondemandCSV, opts.Region)
	if err != nil {
		return nil, fmt.Errorf("reading embedded on-demand prices: %w", err)
	}
	c := &Catalog{opts: opts}
	t := &table{types: make(map[string]*typeEntry, len(ondemand)+64),
		pools: map[poolKey]*Pool{}}
	for typ, p := range ondemand {
		e := t.entry(typ, opts.Discounts)
		e.od, e.hasOD = p, true
		if p.Observed.After(c.snapshot) {
			c.snapshot = p.Observed
		}
	}
	for typ, s := range specs {
		e := t.entry(typ, opts.Discounts)
		e.spec, e.hasSpec = s, true
	}
	for k := range c.status {
		c.status[k].Kind = kind(k).String()
	}
	if opts.CacheFile != "" {
		odAt, spotAt, err := c.loadCache(t)
		switch {
		case errors.Is(err, errNoCache):
		case err != nil:
			opts.Logger.Warn("ignoring the price cache, starting from the snapshot",
				"error", err)
		default:
			// The last successes were another process's; say so through
			// the ages they give.
			c.status[kindOnDemand].LastSuccess = odAt
			c.status[kindSpot].LastSuccess = spotAt
		}
	}
	c.cur.Store(t)
	if c.metrics, err = newMetrics(c, opts.Registry); err != nil {
		return nil, err
	}
	return c, nil
}

// entry returns the entry of typ in a table being built, adding it if
// needed.
func (t *table) entry(typ string, discounts map[string]Discount) *typeEntry {
	e, ok := t.types[typ]
	if !ok {
		e = &typeEntry{discount: discountOf(typ, discounts)}
		t.types[typ] = e
	}
	return e
}

// clone returns a copy of t whose type map can be changed; the entries
// themselves are copied by whoever changes them.
func (t *table) clone() *table {
	n := &table{types: make(map[string]*typeEntry, len(t.types)), pools: t.pools,
		odStale: t.odStale, spotStale: t.spotStale}
	for k, v := range t.types {
		n.types[k] = v
	}
	return n
}

// discountOf returns the discount of an instance type: its own entry in
// discounts, else its family's (the part before the first dot).
func discountOf(typ string, discounts map[string]Discount) Discount {
	if d, ok := discounts[typ]; ok {
		return d
	}
	if i := strings.IndexByte(typ, '.'); i > 0 {
		return discounts[typ[:i]]
	}
	return Discount{}
}

// Region returns the region the catalogue prices.
func (c *Catalog) Region() string { return c.opts.Region }

// Spec returns the hardware of an instance type.
func (c *Catalog) Spec(instanceType string) (Spec, bool) {
	e, ok := c.cur.Load().types[instanceType]
	if !ok || !e.hasSpec {
		return Spec{}, false
	}
	return e.spec, true
}

// OnDemand returns the on-demand Linux price of an instance type.
func (c *Catalog) OnDemand(instanceType string) (Price, bool) {
	return c.Price(instanceType, "", OnDemand)
}

// Price returns the hourly price of one node of the given type and
// capacity type in a zone of the catalogue's region.
//
// A spot price is the latest price of the pool (type, zone) from the spot
// price history. Where the zone is empty or has no history, it is the
// highest latest price over the type's zones. Where the type has no
// history at all, it is estimated as
//
//	spot = ondemand * (1 - savings/100)
//
// where savings is the Spot Advisor's average for the type in the region.
// Every price is then multiplied by (1 - discount) of its family. ok is
// false when the type has no price of the asked capacity type.
func (c *Catalog) Price(instanceType, zone string, ct CapacityType) (Price, bool) {
	t := c.cur.Load()
	e, ok := t.types[instanceType]
	if !ok {
		return Price{}, false
	}
	if ct == OnDemand {
		if !e.hasOD {
			return Price{}, false
		}
		return discounted(staled(e.od, t.odStale), e.discount.OnDemand), true
	}
	if zone != "" {
		if p, ok := t.pools[poolKey{instanceType, zone}]; ok {
			return discounted(staled(p.price, t.spotStale), e.discount.Spot), true
		}
	}
	if e.hasAnySpot {
		return discounted(staled(e.anySpot, t.spotStale), e.discount.Spot), true
	}
	if !e.hasOD || c.opts.SpotSavings == nil {
		return Price{}, false
	}
	pct, ok := c.opts.SpotSavings.Savings(instanceType)
	if !ok || math.IsNaN(pct) || pct >= 100 || pct < 0 {
		return Price{}, false
	}
	p := Price{USDPerHour: e.od.USDPerHour * (1 - pct/100), Source: SourceSpotEstimate,
		Observed: e.od.Observed}
	return discounted(p, e.discount.Spot), true
}

// staled turns a live price into a cached one when the refresh that
// should have renewed it failed.
func staled(p Price, stale bool) Price {
	if stale && p.Source == SourceLive {
		p.Source = SourceCached
	}
	return p
}

func discounted(p Price, d float64) Price {
	p.USDPerHour *= 1 - d
	p.Discount = d
	return p
}

// SpotStats returns the price statistics of the spot pool (type, zone).
// Where the zone is empty or has no history, like Price it answers for
// the type's dearest pool. ok is false when the type has no history.
func (c *Catalog) SpotStats(instanceType, zone string) (SpotStats, bool) {
	t := c.cur.Load()
	e, ok := t.types[instanceType]
	if !ok {
		return SpotStats{}, false
	}
	var s SpotStats
	if p, ok := t.pools[poolKey{instanceType, zone}]; ok {
		s = p.stats
	} else if e.hasAnySpot {
		s = e.anyStats
	} else {
		return SpotStats{}, false
	}
	if e.hasOD {
		s.OnDemand = e.od.USDPerHour
	}
	return s, true
}

// Types returns every instance type the catalogue has an on-demand price
// or a spec for, in no particular order.
func (c *Catalog) Types() []string {
	t := c.cur.Load()
	out := make([]string, 0, len(t.types))
	for k := range t.types {
		out = append(out, k)
	}
	return out
}

// Zones returns the zones with a spot price history for instanceType.
func (c *Catalog) Zones(instanceType string) []string {
	var out []string
	for k := range c.cur.Load().pools {
		if k.instanceType == instanceType {
			out = append(out, k.zone)
		}
	}
	return out
}

func parseSpecs(b []byte) (map[string]Spec, error) {
	specs := make(map[string]Spec, 1200)
	err := eachRow(b, 5, func(r []string) error {
		vcpu, err := strconv.Atoi(r[1])
		if err != nil {
			return err
		}
		mem, err := strconv.ParseInt(r[2], 10, 64)
		if err != nil {
			return err
		}
		gpu, err := strconv.Atoi(r[3])
		if err != nil {
			return err
		}
		specs[r[0]] = Spec{VCPU: vcpu, MemoryMiB: mem, GPU: gpu, Arch: r[4]}
		return nil
	})
	return specs, err
}

// parseOnDemand keeps the prices of region, and fills the types it lacks
// from proxyRegion, marked as such.
func parseOnDemand(b []byte, region string) (map[string]Price, error) {
	own := make(map[string]Price, 1400)
	proxy := make(map[string]Price, 1400)
	err := eachRow(b, 4, func(r []string) error {
		if r[0] != region && r[0] != proxyRegion {
			return nil
		}
		usd, err := strconv.ParseFloat(r[2], 64)
		if err != nil {
			return err
		}
		at, err := time.Parse(time.RFC3339, r[3])
		if err != nil {
			return err
		}
		p := Price{USDPerHour: usd, Source: SourceSnapshot, Observed: at}
		if r[0] == region {
			own[r[1]] = p
		}
		if r[0] == proxyRegion && region != proxyRegion {
			p.Source = SourceProxy
			proxy[r[1]] = p
		}
		return nil
	})
	for t, p := range proxy {
		if _, ok := own[t]; !ok {
			own[t] = p
		}
	}
	return own, err
}

// eachRow calls fn for every data row of a CSV document with a header.
func eachRow(b []byte, fields int, fn func([]string) error) error {
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = fields
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return fmt.Errorf("reading header: %w", err)
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			line, _ := r.FieldPos(0)
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
}
