package expander

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	pb "github.com/augur-autoscaler/augur/expander/protos"
)

func ptr[T any](v T) *T { return &v }

func TestRankAdversarial(t *testing.T) {
	prices := &fakePrices{
		od: map[string]float64{"m5.large": 0.096, "m5.xlarge": 0.192, "m5.2xlarge": 0.384,
			"c5.xlarge": math.NaN()},
		spot: map[string]float64{"m5.large": 0.04, "m5.xlarge": 0.0, "m5.2xlarge": 0.15},
	}
	risks := fakeRisks{"m5.large": 0.25, "m5.2xlarge": 0.025}
	small := pods(4, "500m", "1Gi")
	for _, tc := range []struct {
		name    string
		cfg     func(*Config)
		groups  []group
		req     func(*pb.BestOptionsRequest)
		want    []string
		penalty map[string][]Penalty
	}{
		{
			name: "cheapest on-demand wins",
			groups: []group{
				{id: "large", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
				{id: "small", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			want: []string{"small"},
		},
		{
			name: "NaN on-demand price is a missing price",
			groups: []group{
				{id: "nan", instanceType: "c5.xlarge", cpu: "3920m", mem: "7Gi", nodes: 1},
				{id: "ok", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
			},
			want:    []string{"ok"},
			penalty: map[string][]Penalty{"nan": {PenaltyMissingPrice}},
		},
		{
			name: "zero spot price is a missing price",
			groups: []group{
				{id: "zero", instanceType: "m5.xlarge", spot: true, cpu: "3920m", mem: "15Gi", nodes: 1},
				{id: "od", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
			},
			want:    []string{"od"},
			penalty: map[string][]Penalty{"zero": {PenaltyMissingPrice, PenaltyUnknownSpotRisk}},
		},
		{
			name: "unknown instance type is ranked with a penalty",
			groups: []group{
				{id: "mystery", instanceType: "z9.huge", cpu: "4", mem: "16Gi", nodes: 1},
				{id: "known", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
			},
			want: []string{"known"},
			penalty: map[string][]Penalty{"mystery": {PenaltyUnknownInstanceType,
				PenaltyMissingPrice}},
		},
		{
			name: "empty labels",
			groups: []group{
				{id: "bare", cpu: "4", mem: "16Gi", nodes: 1},
				{id: "known", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
			},
			want:    []string{"known"},
			penalty: map[string][]Penalty{"bare": {PenaltyUnknownInstanceType}},
		},
		{
			name: "allocatable from the catalogue when the template has none",
			groups: []group{
				{id: "noalloc", instanceType: "m5.large", nodes: 1},
				{id: "big", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
			},
			want: []string{"noalloc"},
		},
		{
			name: "risky spot loses to safer spot in high-availability mode",
			cfg:  func(c *Config) { c.Mode = ModeHighAvailability },
			groups: []group{
				{id: "risky", instanceType: "m5.large", spot: true, cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "safe", instanceType: "m5.2xlarge", spot: true, cpu: "7910m", mem: "30Gi", nodes: 1},
			},
			want: []string{"safe"},
		},
		{
			name: "maxSpotRisk excludes the risky pool",
			cfg: func(c *Config) {
				c.NodeGroups = []NodeGroupPolicy{{Match: "spot-*", MaxSpotRisk: ptr(0.5)}}
			},
			groups: []group{
				{id: "spot-risky", instanceType: "m5.large", spot: true, cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "od", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
			},
			want: []string{"od"},
		},
		{
			name: "every option excluded still answers",
			cfg: func(c *Config) {
				c.NodeGroups = []NodeGroupPolicy{{Match: "*", Excluded: true}}
			},
			groups: []group{
				{id: "a", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
				{id: "b", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			want: []string{"b"},
		},
		{
			name: "discount turns the order",
			cfg: func(c *Config) {
				c.NodeGroups = []NodeGroupPolicy{{Match: "reserved", PriceDiscount: 0.9}}
			},
			groups: []group{
				{id: "list", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 2},
				{id: "reserved", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
			},
			want: []string{"reserved"},
		},
		{
			name: "huge node count",
			groups: []group{
				{id: "huge", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: math.MaxInt32},
				{id: "one", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			want: []string{"one"},
		},
		{
			name: "zero and negative node counts",
			groups: []group{
				{id: "zero", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 0},
				{id: "neg", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: -3},
				{id: "one", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			want: []string{"one"},
			penalty: map[string][]Penalty{"zero": {PenaltyBadNodeCount},
				"neg": {PenaltyBadNodeCount}},
		},
		{
			name: "duplicate node group ids are returned once",
			groups: []group{
				{id: "dup", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "dup", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "other", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
			},
			want: []string{"dup"},
		},
		{
			name: "ties are all returned in request order",
			groups: []group{
				{id: "b", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "a", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			want: []string{"b", "a"},
		},
		{
			name: "missing and undecodable templates",
			groups: []group{
				{id: "missing", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "garbage", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
				{id: "ok", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
			},
			req: func(r *pb.BestOptionsRequest) {
				delete(r.NodeBytesMap, "missing")
				r.NodeBytesMap["garbage"] = []byte{0xff, 0xff, 0xff}
			},
			want: []string{"ok"},
			penalty: map[string][]Penalty{
				"missing": {PenaltyMissingTemplate},
				"garbage": {PenaltyUndecodableTemplate},
			},
		},
		{
			name: "undecodable pods are counted, not fatal",
			groups: []group{
				{id: "a", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
			},
			req: func(r *pb.BestOptionsRequest) {
				r.Options[0].PodBytes = append(r.Options[0].PodBytes, []byte{0x0a, 0xff})
			},
			want:    []string{"a"},
			penalty: map[string][]Penalty{"a": {PenaltyUndecodablePod}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Tolerance = 0
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			r := newTestRanker(t, cfg, prices, risks)
			req := buildRequest(t, tc.groups, small, false)
			if tc.req != nil {
				tc.req(req)
			}
			d, err := r.Rank(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, d.Chosen); diff != "" {
				t.Errorf("chosen (-want +got):\n%s\nreason: %s", diff, d.Reason)
			}
			got := map[string][]Penalty{}
			for _, o := range d.Options {
				for _, s := range []float64{o.Scores.Cost, o.Scores.Waste, o.Scores.SpotRisk,
					o.Scores.Total} {
					if !(s >= 0 && s <= 1) {
						t.Errorf("%s: score %v outside [0, 1]: %+v", o.NodeGroupID, s, o.Scores)
					}
				}
				if len(o.Penalties) > 0 {
					got[o.NodeGroupID] = o.Penalties
				}
			}
			if tc.penalty == nil {
				tc.penalty = map[string][]Penalty{}
			}
			if diff := cmp.Diff(tc.penalty, got); diff != "" {
				t.Errorf("penalties (-want +got):\n%s", diff)
			}
			if !strings.Contains(d.Reason, d.Chosen[0]) {
				t.Errorf("reason %q does not name the winner %s", d.Reason, d.Chosen[0])
			}
		})
	}
}

func TestRankNoPods(t *testing.T) {
	r := snapshotRanker(t, DefaultConfig())
	req := buildRequest(t, []group{
		{id: "a", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
		{id: "b", instanceType: "m5.xlarge", cpu: "3920m", mem: "15Gi", nodes: 1},
	}, nil, false)
	d, err := r.Rank(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a"}, d.Chosen); diff != "" {
		t.Errorf("chosen (-want +got):\n%s", diff)
	}
	for _, o := range d.Options {
		if o.Scores.Waste != 1 {
			t.Errorf("%s: waste %v with no pods, want 1", o.NodeGroupID, o.Scores.Waste)
		}
	}
}

func TestRankSnapshotPrices(t *testing.T) {
	r := snapshotRanker(t, DefaultConfig())
	req := buildRequest(t, []group{
		{id: "od", instanceType: "m5.xlarge", zone: "us-east-1a", cpu: "3920m", mem: "15Gi", nodes: 2},
		{id: "spot", instanceType: "m5.xlarge", zone: "us-east-1b", spot: true, cpu: "3920m",
			mem: "15Gi", nodes: 2},
	}, pods(12, "500m", "2Gi"), false)
	d, err := r.Rank(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	od := d.Options[0]
	if od.PriceSource != "snapshot" || math.Abs(od.HourlyCostUSD-2*0.192) > 1e-9 {
		t.Errorf("on-demand option priced %v from %s, want 0.384 from the snapshot",
			od.HourlyCostUSD, od.PriceSource)
	}
	sp := d.Options[1]
	if sp.PriceSource != "spot-advisor-estimate" || !(sp.HourlyCostUSD < od.HourlyCostUSD) {
		t.Errorf("spot option priced %v from %s", sp.HourlyCostUSD, sp.PriceSource)
	}
	if sp.InterruptionProbability <= 0 || sp.RiskSource == "" {
		t.Errorf("spot option has no risk: %+v", sp)
	}
	if od.Pods != 12 || sp.Pods != 12 {
		t.Errorf("pods counted %d and %d, want 12", od.Pods, sp.Pods)
	}
}

func TestRankHonoursContext(t *testing.T) {
	r := snapshotRanker(t, DefaultConfig())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := buildRequest(t, []group{{id: "a", instanceType: "m5.large", nodes: 1}}, nil, false)
	if _, err := r.Rank(ctx, req); err == nil {
		t.Fatal("Rank on a cancelled context succeeded")
	}
}

func TestFallbackDecision(t *testing.T) {
	req := &pb.BestOptionsRequest{Options: []*pb.Option{{NodeGroupId: "b"},
		{NodeGroupId: "a"}, {NodeGroupId: "b"}}}
	d := fallbackDecision(req, ModeNormal, "deadline", testNow)
	if !slices.Equal(d.Chosen, []string{"b", "a"}) || d.Fallback == "" {
		t.Errorf("fallback = %+v", d)
	}
}

func TestReasonNamesTheDecidingObjective(t *testing.T) {
	prices := &fakePrices{od: map[string]float64{"m5.large": 0.096, "m5.2xlarge": 0.384}}
	cfg := DefaultConfig()
	cfg.Tolerance = 0
	r := newTestRanker(t, cfg, prices, fakeRisks{})
	d, err := r.Rank(context.Background(), buildRequest(t, []group{
		{id: "large", instanceType: "m5.2xlarge", cpu: "7910m", mem: "30Gi", nodes: 1},
		{id: "small", instanceType: "m5.large", cpu: "1930m", mem: "7Gi", nodes: 1},
	}, pods(4, "500m", "1Gi"), false))
	if err != nil {
		t.Fatal(err)
	}
	want := "small has the lowest total"
	if !strings.HasPrefix(d.Reason, want) ||
		!strings.Contains(d.Reason, "next best large at") ||
		!strings.Contains(d.Reason, "behind mostly on cost") {
		t.Errorf("reason %q", d.Reason)
	}
}
