// Package cost is Augur's price catalogue: the hourly price and the
// hardware of an EC2 instance type in one region.
//
// The catalogue starts from a snapshot embedded in the binary (see
// generate.go for where it comes from), so it answers with no AWS account
// and no network. Every price carries its source and the time it was
// observed, so a caller can tell a live number from an old one.
package cost

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
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
	// SourceLive is a value fetched from AWS in the current refresh period.
	SourceLive
	// SourceCached is a value fetched from AWS earlier and kept because a
	// later refresh failed.
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
	// USDPerHour is the price of one instance for one hour, in US dollars.
	USDPerHour float64
	// Source says where the number came from.
	Source Source
	// Observed is when the number was true; for the snapshot, when the
	// snapshot was generated upstream.
	Observed time.Time
}

// Spec is the hardware of an instance type.
type Spec struct {
	VCPU      int
	MemoryMiB int64
	GPU       int
	// Arch is amd64 or arm64, or empty where the snapshot does not say.
	Arch string
}

// SavingsSource gives the average spot savings of an instance type in the
// catalogue's region, in percent of the on-demand price (the Spot Instance
// Advisor's "s" figure). spot.Advisor implements it.
type SavingsSource interface {
	Savings(instanceType string) (pct float64, ok bool)
}

// Options configure a Catalog.
type Options struct {
	// Region is the AWS region whose prices the catalogue answers with.
	Region string
	// SpotSavings estimates spot prices from on-demand ones. Without it
	// the catalogue has no spot price.
	SpotSavings SavingsSource
}

// proxyRegion is the region whose snapshot prices stand in for regions the
// snapshot does not cover.
const proxyRegion = "us-east-1"

// Catalog answers prices and specs. Its lookups do not allocate and are
// safe for concurrent use, since the catalogue is never changed after New.
type Catalog struct {
	region   string
	savings  SavingsSource
	specs    map[string]Spec
	ondemand map[string]Price
}

// New returns a catalogue backed by the embedded snapshot.
func New(opts Options) (*Catalog, error) {
	if opts.Region == "" {
		return nil, errors.New("cost: region is required")
	}
	specs, err := parseSpecs(instanceTypesCSV)
	if err != nil {
		return nil, fmt.Errorf("reading embedded instance types: %w", err)
	}
	ondemand, err := parseOnDemand(ondemandCSV, opts.Region)
	if err != nil {
		return nil, fmt.Errorf("reading embedded on-demand prices: %w", err)
	}
	return &Catalog{region: opts.Region, savings: opts.SpotSavings, specs: specs,
		ondemand: ondemand}, nil
}

// Region returns the region the catalogue prices.
func (c *Catalog) Region() string { return c.region }

// Spec returns the hardware of an instance type.
func (c *Catalog) Spec(instanceType string) (Spec, bool) {
	s, ok := c.specs[instanceType]
	return s, ok
}

// OnDemand returns the on-demand Linux price of an instance type.
func (c *Catalog) OnDemand(instanceType string) (Price, bool) {
	p, ok := c.ondemand[instanceType]
	return p, ok
}

// Price returns the hourly price of one node of the given type and
// capacity type in a zone of the catalogue's region.
//
// A spot price is estimated as ondemand * (1 - savings/100), where savings
// is the Spot Advisor's average for the type in the region; the zone does
// not change the estimate. ok is false when the type has no on-demand price
// or, for spot, no savings figure.
func (c *Catalog) Price(instanceType, zone string, ct CapacityType) (Price, bool) {
	od, ok := c.ondemand[instanceType]
	if !ok || ct == OnDemand {
		return od, ok
	}
	if c.savings == nil {
		return Price{}, false
	}
	pct, ok := c.savings.Savings(instanceType)
	if !ok || math.IsNaN(pct) || pct >= 100 {
		return Price{}, false
	}
	return Price{USDPerHour: od.USDPerHour * (1 - pct/100), Source: SourceSpotEstimate,
		Observed: od.Observed}, true
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
