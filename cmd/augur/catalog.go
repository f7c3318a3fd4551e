package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/augur-autoscaler/augur/spot"
)

// sourcesOptions say how to build the price catalogue and the risk model.
type sourcesOptions struct {
	region  string
	offline bool
	// types limits spot history and specs to these.
	types []string
	// placementTypes are the types to ask placement scores for.
	placementTypes []string
	discounts      map[string]cost.Discount
	// advisorFile is a file or URL of Spot Advisor data in AWS's format;
	// empty means the embedded snapshot.
	advisorFile string
	// cacheFile keeps the last good prices across restarts.
	cacheFile                                string
	onDemandEvery, spotEvery, placementEvery time.Duration
	registry                                 prometheus.Registerer
	log                                      *slog.Logger
	now                                      func() time.Time
}

// sources are the live (or offline) price catalogue and risk model.
type sources struct {
	catalog *cost.Catalog
	// model is nil where no Spot Advisor data covers the region.
	model *spot.Model
}

// Risk answers from the model, or knows nothing without one.
func (s *sources) Risk(instanceType, zone string) (spot.Risk, bool) {
	if s.model == nil {
		return spot.Risk{}, false
	}
	return s.model.Risk(instanceType, zone)
}

// buildSources makes the catalogue and the risk model. Unless offline, it
// loads the SDK's default configuration and wires the AWS clients in; it
// fetches nothing yet.
func buildSources(ctx context.Context, o sourcesOptions) (*sources, error) {
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	adv, err := spot.NewAdvisor(o.region)
	if o.advisorFile != "" {
		adv, err = spot.LoadAdvisor(ctx, o.advisorFile, o.region)
		if err != nil {
			return nil, err
		}
	}
	if err != nil {
		o.log.Warn("no spot advisor data: spot options get the unknown-risk penalty",
			"region", o.region, "error", err)
		adv = nil
	}
	copts := cost.Options{Region: o.region, Discounts: o.discounts, Types: o.types,
		OnDemandInterval: o.onDemandEvery, SpotInterval: o.spotEvery, CacheFile: o.cacheFile,
		Registry: o.registry, Logger: o.log, Now: o.now, Seed: uint64(time.Now().UnixNano())}
	if adv != nil {
		copts.SpotSavings = adv
	}
	var clients cost.Clients
	if !o.offline {
		if clients, err = cost.NewClients(ctx, o.region); err != nil {
			return nil, err
		}
		copts.EC2, copts.Pricing = clients.EC2, clients.Pricing
	}
	s := &sources{}
	if s.catalog, err = cost.New(copts); err != nil {
		return nil, err
	}
	if adv == nil {
		return s, nil
	}
	mopts := spot.Options{Advisor: adv, Prices: s.catalog, PlacementTypes: o.placementTypes,
		PlacementInterval: o.placementEvery, AdvisorSource: o.advisorFile,
		Registry: o.registry, Logger: o.log, Now: o.now,
		Seed: uint64(time.Now().UnixNano())}
	if !o.offline && len(o.placementTypes) > 0 {
		mopts.Placement = clients.EC2
	}
	if s.model, err = spot.NewModel(mopts); err != nil {
		return nil, err
	}
	return s, nil
}

// run refreshes the sources until ctx ends.
func (s *sources) run(ctx context.Context) {
	go func() { _ = s.catalog.Run(ctx) }()
	if s.model != nil {
		go func() { _ = s.model.Run(ctx) }()
	}
}

// catalogRow is one line of `augur catalog`.
type catalogRow struct {
	InstanceType            string   `json:"instance_type"`
	Zone                    string   `json:"zone"`
	CapacityType            string   `json:"capacity_type"`
	USDPerHour              float64  `json:"usd_per_hour"`
	InterruptionProbability *float64 `json:"interruption_probability"`
	Source                  string   `json:"source"`
	AgeSeconds              float64  `json:"age_seconds"`

	confidence float64
	riskSource string
}

func runCatalog(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("catalog", flag.ContinueOnError)
	fs.SetOutput(stderr)
	region := fs.String("region", defaultRegion(), "AWS region to price")
	typesFlag := fs.String("types", "", "comma-separated instance types (default: all known)")
	offline := fs.Bool("offline", false, "use the embedded snapshot only; call no AWS API")
	format := fs.String("format", "table", "table or json")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var errs []error
	if *region == "" {
		errs = append(errs, errors.New("--region is required"))
	}
	if *format != "table" && *format != "json" {
		errs = append(errs, fmt.Errorf("--format: %q is not table or json", *format))
	}
	types := splitList(*typesFlag)
	if err := errors.Join(errs...); err != nil {
		return err
	}
	// Failures are reported once each by refreshOnce, not by the log.
	src, err := buildSources(ctx, sourcesOptions{region: *region, offline: *offline,
		types: types, placementTypes: types})
	if err != nil {
		return err
	}
	if !*offline {
		refreshOnce(ctx, src, stderr)
	}
	asked := len(types) > 0
	if !asked {
		types = src.catalog.Types()
	}
	slices.Sort(types)
	rows, unknown := catalogRows(src, types, time.Now())
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if rows == nil {
			rows = []catalogRow{}
		}
		err = enc.Encode(rows)
	} else {
		err = writeTable(stdout, rows)
	}
	if err != nil {
		return fmt.Errorf("writing catalogue: %w", err)
	}
	if asked && len(unknown) > 0 {
		return fmt.Errorf("no price for %s in %s", strings.Join(unknown, ", "), *region)
	}
	return nil
}

// refreshOnce fetches everything once, saying on stderr what failed; the
// catalogue then answers from the snapshot where AWS did not.
func refreshOnce(ctx context.Context, src *sources, stderr io.Writer) {
	for _, r := range []struct {
		what string
		fn   func(context.Context) error
	}{
		{"on-demand prices", src.catalog.RefreshOnDemand},
		{"spot prices", src.catalog.RefreshSpot},
		{"instance types", src.catalog.RefreshSpecs},
	} {
		if err := r.fn(ctx); err != nil {
			fmt.Fprintf(stderr, "augur catalog: %s not refreshed, showing what the "+
				"snapshot has: %v\n", r.what, err)
		}
	}
	if src.model != nil {
		if err := src.model.RefreshPlacement(ctx); err != nil {
			fmt.Fprintf(stderr, "augur catalog: no spot placement scores: %v\n", err)
		}
	}
}

// catalogRows lists, per type, its on-demand price and its spot price in
// each zone with history (or one zone-less estimate), and the types that
// have no price at all.
func catalogRows(src *sources, types []string, now time.Time) ([]catalogRow, []string) {
	var rows []catalogRow
	var unknown []string
	age := func(p cost.Price) float64 {
		if p.Observed.IsZero() {
			return 0
		}
		return math.Max(0, math.Round(now.Sub(p.Observed).Seconds()))
	}
	for _, typ := range types {
		found := false
		if p, ok := src.catalog.Price(typ, "", cost.OnDemand); ok {
			zero := 0.0
			rows = append(rows, catalogRow{InstanceType: typ, CapacityType: "ON_DEMAND",
				USDPerHour: p.USDPerHour, InterruptionProbability: &zero,
				Source: p.Source.String(), AgeSeconds: age(p), confidence: 1})
			found = true
		}
		zones := src.catalog.Zones(typ)
		slices.Sort(zones)
		if len(zones) == 0 {
			zones = []string{""}
		}
		for _, z := range zones {
			p, ok := src.catalog.Price(typ, z, cost.Spot)
			if !ok {
				continue
			}
			found = true
			row := catalogRow{InstanceType: typ, Zone: z, CapacityType: "SPOT",
				USDPerHour: p.USDPerHour, Source: p.Source.String(), AgeSeconds: age(p)}
			if r, ok := src.Risk(typ, z); ok {
				prob := r.Probability
				row.InterruptionProbability = &prob
				row.confidence, row.riskSource = r.Confidence, r.Source
			}
			rows = append(rows, row)
		}
		if !found {
			unknown = append(unknown, typ)
		}
	}
	return rows, unknown
}

func writeTable(w io.Writer, rows []catalogRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TYPE\tZONE\tCAPACITY\tUSD/H\tSOURCE\tAGE\tP(INTERRUPT/MONTH)\tCONFIDENCE"+
		"\tRISK SOURCE")
	for _, r := range rows {
		zone, p, conf := r.Zone, "-", "-"
		if zone == "" {
			zone = "-"
		}
		if r.InterruptionProbability != nil && r.CapacityType == "SPOT" {
			p, conf = fmt.Sprintf("%.3f", *r.InterruptionProbability),
				fmt.Sprintf("%.2f", r.confidence)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4f\t%s\t%s\t%s\t%s\t%s\n", r.InstanceType, zone,
			r.CapacityType, r.USDPerHour, r.Source, shortAge(r.AgeSeconds), p, conf,
			orDash(r.riskSource))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// shortAge writes an age in its largest whole unit: 42s, 5m, 3h, 120d.
func shortAge(s float64) string {
	d := time.Duration(s) * time.Second
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// defaultRegion is the SDK's region variable, else us-east-1.
func defaultRegion() string {
	for _, env := range []string{"AWS_REGION", "AWS_DEFAULT_REGION"} {
		if v := os.Getenv(env); v != "" {
			return v
		}
	}
	return "us-east-1"
}

// priceFlags are the flags of the price catalogue and risk model, shared
// by the commands that serve them.
type priceFlags struct {
	offline                                  bool
	onDemandEvery, spotEvery, placementEvery time.Duration
	placementTypes, discounts, advisorFile   string
	cacheFile                                string
}

func (p *priceFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&p.offline, "offline", false,
		"price from the embedded snapshot only; call no AWS API")
	fs.DurationVar(&p.onDemandEvery, "ondemand-refresh", 6*time.Hour,
		"how often on-demand prices are fetched from the Price List API")
	fs.DurationVar(&p.spotEvery, "spot-refresh", 5*time.Minute,
		"how often spot price history is fetched from EC2")
	fs.DurationVar(&p.placementEvery, "placement-refresh", time.Hour,
		"how often spot placement scores are fetched")
	fs.StringVar(&p.placementTypes, "placement-types", "",
		"comma-separated instance types to fetch spot placement scores for (none if empty)")
	fs.StringVar(&p.discounts, "instance-discounts", "",
		"discounts per instance family or type, e.g. m5=0.28,c6i.large=0.3/0.05 "+
			"(on-demand fraction, then optionally /spot fraction)")
	fs.StringVar(&p.cacheFile, "price-cache-file", "",
		"file to keep the last good AWS prices in across restarts (none if empty)")
	fs.StringVar(&p.advisorFile, "spot-advisor-file", "",
		"file or URL of Spot Advisor data in AWS's JSON format, re-read daily "+
			"(embedded snapshot if empty)")
}

func (p *priceFlags) validate() []error {
	var errs []error
	for name, d := range map[string]time.Duration{"--ondemand-refresh": p.onDemandEvery,
		"--spot-refresh": p.spotEvery, "--placement-refresh": p.placementEvery} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if _, err := parseDiscounts(p.discounts); err != nil {
		errs = append(errs, fmt.Errorf("--instance-discounts: %w", err))
	}
	return errs
}

func (p *priceFlags) options(region string, reg prometheus.Registerer,
	log *slog.Logger) sourcesOptions {
	d, _ := parseDiscounts(p.discounts)
	return sourcesOptions{region: region, offline: p.offline, discounts: d,
		advisorFile: p.advisorFile, cacheFile: p.cacheFile, onDemandEvery: p.onDemandEvery,
		spotEvery:      p.spotEvery,
		placementEvery: p.placementEvery, placementTypes: splitList(p.placementTypes),
		registry: reg, log: log}
}

// parseDiscounts reads "key=od[/spot],..." where key is an instance family
// or type and each fraction is in [0, 1).
func parseDiscounts(s string) (map[string]cost.Discount, error) {
	out := map[string]cost.Discount{}
	for _, item := range splitList(s) {
		key, val, ok := strings.Cut(item, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%q is not family=fraction", item)
		}
		var d cost.Discount
		odStr, spotStr, hasSpot := strings.Cut(val, "/")
		var err error
		if d.OnDemand, err = strconv.ParseFloat(odStr, 64); err != nil {
			return nil, fmt.Errorf("discount of %q: %w", key, err)
		}
		if hasSpot {
			if d.Spot, err = strconv.ParseFloat(spotStr, 64); err != nil {
				return nil, fmt.Errorf("spot discount of %q: %w", key, err)
			}
		}
		for _, f := range []float64{d.OnDemand, d.Spot} {
			if !(f >= 0 && f < 1) {
				return nil, fmt.Errorf("discount of %q: %v is not in [0, 1)", key, f)
			}
		}
		out[key] = d
	}
	return out, nil
}

func splitList(s string) []string {
	var out []string
	for _, t := range strings.Split(s, ",") {
		if t = strings.TrimSpace(t); t != "" {
			out = append(out, t)
		}
	}
	return out
}
