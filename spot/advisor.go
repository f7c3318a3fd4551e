// Package spot estimates how likely a spot instance is to be interrupted.
//
// The first source is the AWS Spot Instance Advisor: for each region and
// instance type it publishes the average savings over on-demand and a
// bucket of the interruption frequency over the trailing month. An
// embedded snapshot of it (see generate.go) lets the model answer offline.
package spot

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

//go:embed snapshot/advisor.csv
var advisorCSV []byte

// Buckets is the number of Spot Advisor interruption-frequency buckets.
const Buckets = 5

// bucketProbability is the monthly interruption frequency each Spot Advisor
// bucket stands for: the middle of the bucket's published range ("<5%",
// "5-10%", "10-15%", "15-20%"), and 25% for the open-ended ">20%".
var bucketProbability = [Buckets]float64{0.025, 0.075, 0.125, 0.175, 0.25}

// BucketProbability returns the monthly interruption frequency a Spot
// Advisor bucket stands for, and false for a bucket outside 0..4.
func BucketProbability(bucket int) (float64, bool) {
	if bucket < 0 || bucket >= Buckets {
		return 0, false
	}
	return bucketProbability[bucket], true
}

// Risk is the interruption risk of one spot pool.
type Risk struct {
	// Probability is the chance that a node of the pool is interrupted
	// within a month, in [0, 1].
	Probability float64
	// Confidence says how much the estimate is worth, in [0, 1]. The
	// advisor's bucket is a regional monthly average, so alone it is worth
	// AdvisorConfidence.
	Confidence float64
	// Bucket is the Spot Advisor bucket (0..4) the estimate came from.
	Bucket int
	// Source names where the estimate came from: "spot-advisor" (or
	// "spot-advisor-snapshot" for the embedded figures) followed by
	// "+price", "+placement" and "+observed" for each signal that entered.
	Source string
	// HazardPerHour is the modelled rate of interruptions per node-hour,
	// from which Probability follows for the horizon.
	HazardPerHour float64
	// PriceFactor, PlacementFactor and ObservedFactor are the multipliers
	// each signal applied to the advisor's hazard (1 when missing).
	PriceFactor, PlacementFactor, ObservedFactor float64
}

// AdvisorConfidence is the confidence given to an estimate that rests on
// the Spot Advisor bucket alone: it is a regional, type-level average over
// a month, blind to the zone and to the last hours.
const AdvisorConfidence = 0.5

type advisorEntry struct {
	savings float64
	bucket  int8
}

// Advisor answers Spot Advisor figures for one region.
// Its lookups do not allocate and are safe for concurrent use.
type Advisor struct {
	region  string
	entries map[string]advisorEntry
	// snapshot is true for the embedded figures.
	snapshot bool
}

// NewAdvisor returns the Spot Advisor figures of region from the embedded
// snapshot. A region the snapshot does not cover is an error.
func NewAdvisor(region string) (*Advisor, error) {
	a, err := parseAdvisor(advisorCSV, region)
	if err != nil {
		return nil, err
	}
	a.snapshot = true
	return a, nil
}

func parseAdvisor(b []byte, region string) (*Advisor, error) {
	if region == "" {
		return nil, errors.New("spot: region is required")
	}
	r := csv.NewReader(bytes.NewReader(b))
	r.FieldsPerRecord = 4
	r.ReuseRecord = true
	if _, err := r.Read(); err != nil {
		return nil, fmt.Errorf("reading spot advisor header: %w", err)
	}
	a := &Advisor{region: region, entries: make(map[string]advisorEntry, 1000)}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading spot advisor data: %w", err)
		}
		if rec[0] != region {
			continue
		}
		s, err := strconv.ParseFloat(rec[2], 64)
		if err != nil {
			return nil, fmt.Errorf("spot advisor savings of %s: %w", rec[1], err)
		}
		bk, err := strconv.Atoi(rec[3])
		if err != nil || bk < 0 || bk >= Buckets {
			return nil, fmt.Errorf("spot advisor bucket of %s: %q is not 0..4", rec[1], rec[3])
		}
		a.entries[rec[1]] = advisorEntry{savings: s, bucket: int8(bk)}
	}
	if len(a.entries) == 0 {
		return nil, fmt.Errorf("spot: the advisor snapshot has no data for region %q", region)
	}
	return a, nil
}

// Region returns the advisor's region.
func (a *Advisor) Region() string { return a.region }

// Savings returns the average spot savings of an instance type over
// on-demand, in percent.
func (a *Advisor) Savings(instanceType string) (float64, bool) {
	e, ok := a.entries[instanceType]
	return e.savings, ok
}

// Risk returns the interruption risk of the pool (instanceType, zone). The
// advisor does not tell zones apart, so zone does not change the answer.
func (a *Advisor) Risk(instanceType, zone string) (Risk, bool) {
	e, ok := a.entries[instanceType]
	if !ok {
		return Risk{}, false
	}
	f := bucketProbability[e.bucket]
	src := sourceNames[0]
	if a.snapshot {
		src = sourceNames[8]
	}
	return Risk{Probability: f, Confidence: AdvisorConfidence, Bucket: int(e.bucket),
		Source: src, HazardPerHour: -math.Log1p(-f) / Month.Hours(),
		PriceFactor: 1, PlacementFactor: 1, ObservedFactor: 1}, true
}
