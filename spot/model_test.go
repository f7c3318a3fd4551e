package spot

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/augur-autoscaler/augur/cost"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func TestCombine(t *testing.T) {
	month := Month
	f4 := 0.25 // bucket 4
	cases := []struct {
		name string
		in   Inputs
		want Risk
	}{
		{"advisor alone", Inputs{Bucket: 4, Savings: 60, PlacementScore: -1},
			Risk{Probability: f4, Confidence: 0.5, Bucket: 4, PriceFactor: 1,
				PlacementFactor: 1, ObservedFactor: 1}},
		{"bad bucket", Inputs{Bucket: 5, PlacementScore: -1}, Risk{Bucket: -1}},
		{"negative bucket", Inputs{Bucket: -1, PlacementScore: -1}, Risk{Bucket: -1}},
		{"best placement", Inputs{Bucket: 4, PlacementScore: 10},
			Risk{Probability: 1 - math.Pow(1-f4, 1.0/3), Confidence: 1 - 0.5*0.7, Bucket: 4,
				PriceFactor: 1, PlacementFactor: 1.0 / 3, ObservedFactor: 1}},
		{"worst placement, stale a half-life", Inputs{Bucket: 4, PlacementScore: 1,
			PlacementAge: PlacementHalfLife},
			Risk{Probability: 1 - math.Pow(1-f4, math.Sqrt(3)), Confidence: 1 - 0.5*0.85,
				Bucket: 4, PriceFactor: 1, PlacementFactor: math.Sqrt(3), ObservedFactor: 1}},
		{"out of range score", Inputs{Bucket: 4, PlacementScore: 11},
			Risk{Probability: f4, Confidence: 0.5, Bucket: 4, PriceFactor: 1,
				PlacementFactor: 1, ObservedFactor: 1}},
		{"one interruption", Inputs{Bucket: 4, PlacementScore: -1, Interruptions: 1},
			Risk{Probability: 1 - math.Pow(1-f4, 5), Confidence: 1 - 0.5*math.Exp(-0.5),
				Bucket: 4, PriceFactor: 1, PlacementFactor: 1, ObservedFactor: 5}},
		{"storm is capped", Inputs{Bucket: 4, PlacementScore: -1, Interruptions: 1000},
			Risk{Probability: 1 - math.Pow(1-f4, MaxFactor), Confidence: 1, Bucket: 4,
				PriceFactor: 1, PlacementFactor: 1, ObservedFactor: 4001}},
		{"NaN counts", Inputs{Bucket: 4, PlacementScore: -1, Interruptions: math.NaN(),
			CapacityFailures: -3},
			Risk{Probability: f4, Confidence: 0.5, Bucket: 4, PriceFactor: 1,
				PlacementFactor: 1, ObservedFactor: 1}},
	}
	opt := cmpopts.EquateApprox(0, 1e-12)
	for _, tc := range cases {
		got := Combine(tc.in, month)
		got.HazardPerHour = 0
		if diff := cmp.Diff(tc.want, got, opt); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestPriceFactor(t *testing.T) {
	calm := cost.SpotStats{Latest: 0.04, OnDemand: 0.1, Mean: 0.04, Observed: t0}
	cases := []struct {
		name    string
		s       cost.SpotStats
		savings float64
		age     time.Duration
		wantF   float64
		wantC   float64
	}{
		{"as the advisor says", calm, 60, 0, 1, 0.3},
		{"at on-demand", cost.SpotStats{Latest: 0.1, OnDemand: 0.1, Mean: 0.1}, 60, 0,
			math.Sqrt2, 0.3},
		{"far below", cost.SpotStats{Latest: 0.01, OnDemand: 0.1, Mean: 0.01}, 60, 0,
			math.Pow(2, -0.25), 0.3},
		{"volatile and jumped", cost.SpotStats{Latest: 0.04, OnDemand: 0.1, Mean: 0.04,
			StdDev: 0.008, MaxRise: 0.5}, 60, 0, 1.5 * 2, 0.3},
		{"stale by one half-life", cost.SpotStats{Latest: 0.1, OnDemand: 0.1, Mean: 0.1}, 60,
			PriceHalfLife, math.Pow(2, 0.25), 0.15},
		{"no on-demand price", cost.SpotStats{Latest: 0.1, Mean: 0.1}, 60, 0, 1, 0.3},
		{"NaN savings", calm, math.NaN(), 0, 1, 0.3},
		{"zero everything", cost.SpotStats{}, 0, 0, 1, 0.3},
	}
	for _, tc := range cases {
		f, c := PriceFactor(tc.s, tc.savings, tc.age)
		if math.Abs(f-tc.wantF) > 1e-12 || math.Abs(c-tc.wantC) > 1e-12 {
			t.Errorf("%s: PriceFactor = %v, %v; want %v, %v", tc.name, f, c, tc.wantF, tc.wantC)
		}
	}
}

func TestObservedDecay(t *testing.T) {
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	now := t0
	m, err := NewModel(Options{Advisor: a, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	base, _ := m.Risk("m6i.2xlarge", "us-east-1a")
	m.ObserveInterruption("m6i.2xlarge", "us-east-1a", t0)
	m.ObserveInsufficientCapacity("m6i.2xlarge", "us-east-1a", t0)
	cases := []struct {
		after time.Duration
		zone  string
		want  float64 // ObservedFactor
	}{
		{0, "us-east-1a", 1 + 4 + 1},
		{0, "", 1 + 4 + 1},
		{0, "us-east-1b", 1},
		{2 * time.Hour, "us-east-1a", 1 + 4*math.Exp2(-2.0/24) + 0.5},
		{24 * time.Hour, "us-east-1a", 1 + 2 + 1.0/4096},
		{30 * 24 * time.Hour, "us-east-1a", 1 + 4*math.Exp2(-30)},
	}
	for _, tc := range cases {
		now = t0.Add(tc.after)
		r, ok := m.Risk("m6i.2xlarge", tc.zone)
		if !ok || math.Abs(r.ObservedFactor-tc.want) > 1e-9 {
			t.Errorf("after %v in %q: factor %v, want %v", tc.after, tc.zone, r.ObservedFactor,
				tc.want)
		}
		if tc.want > 1.5 && (r.Probability <= base.Probability ||
			!strings.HasSuffix(r.Source, "+observed")) {
			t.Errorf("after %v: risk %+v not above the advisor's %+v", tc.after, r, base)
		}
	}
	if _, ok := m.Risk("no.such", ""); ok {
		t.Error("unknown type has a risk")
	}
}

// fakeEC2 answers GetSpotPlacementScores and DescribeAvailabilityZones in
// the EC2 query protocol.
type fakeEC2 struct {
	mu     sync.Mutex
	calls  map[string]int
	errors []string // error codes answered, in order, before the data
	// seen, when not nil, receives the action of every call.
	seen chan string
}

func (f *fakeEC2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	action := form.Get("Action")
	f.mu.Lock()
	f.calls[action]++
	var code string
	if len(f.errors) > 0 {
		code, f.errors = f.errors[0], f.errors[1:]
	}
	seen := f.seen
	f.mu.Unlock()
	if seen != nil {
		select {
		case seen <- action:
		default:
		}
	}
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	if code != "" {
		w.WriteHeader(map[bool]int{true: 503, false: 403}[code == "RequestLimitExceeded"])
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Response><Errors>`+
			`<Error><Code>%s</Code><Message>no</Message></Error></Errors>`+
			`<RequestID>d6a3c9c1-1111-2222-3333-444455556666</RequestID></Response>`, code)
		return
	}
	switch action {
	case "DescribeSpotPriceHistory":
		ts := t0.Add(-time.Hour).Format(time.RFC3339)
		var items strings.Builder
		for i, z := range []string{"us-east-1a", "us-east-1b"} {
			fmt.Fprintf(&items, `<item><instanceType>m6i.2xlarge</instanceType>`+
				`<productDescription>Linux/UNIX</productDescription><spotPrice>0.%d</spotPrice>`+
				`<timestamp>%s</timestamp><availabilityZone>%s</availabilityZone></item>`,
				16+i, ts, z)
		}
		fmt.Fprintf(w, `<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
			`<requestId>r3</requestId><spotPriceHistorySet>%s</spotPriceHistorySet>`+
			`<nextToken></nextToken></DescribeSpotPriceHistoryResponse>`, items.String())
	case "DescribeAvailabilityZones":
		io.WriteString(w, `<DescribeAvailabilityZonesResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
			`<requestId>r1</requestId><availabilityZoneInfo>`+
			`<item><zoneName>us-east-1a</zoneName><zoneId>use1-az4</zoneId><zoneState>available</zoneState><regionName>us-east-1</regionName></item>`+
			`<item><zoneName>us-east-1b</zoneName><zoneId>use1-az6</zoneId><zoneState>available</zoneState><regionName>us-east-1</regionName></item>`+
			`</availabilityZoneInfo></DescribeAvailabilityZonesResponse>`)
	case "GetSpotPlacementScores":
		next, item := "page2", `<item><region>us-east-1</region><availabilityZoneId>use1-az4</availabilityZoneId><score>9</score></item>`
		if form.Get("NextToken") == "page2" {
			next, item = "", `<item><region>us-east-1</region><availabilityZoneId>use1-az6</availabilityZoneId><score>2</score></item>`+
				`<item><region>us-east-1</region><availabilityZoneId>use1-az99</availabilityZoneId><score>1</score></item>`
		}
		fmt.Fprintf(w, `<GetSpotPlacementScoresResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">`+
			`<requestId>r2</requestId><spotPlacementScoreSet>%s</spotPlacementScoreSet>`+
			`<nextToken>%s</nextToken></GetSpotPlacementScoresResponse>`, item, next)
	}
}

func newPlacementModel(t *testing.T, f *fakeEC2, reg prometheus.Registerer,
	now *time.Time) *Model {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := ec2.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		BaseEndpoint: aws.String(srv.URL), HTTPClient: srv.Client(),
		Retryer: func() aws.Retryer { return aws.NopRetryer{} }})
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(Options{Advisor: a, Placement: client, Registry: reg,
		PlacementTypes: []string{"m6i.2xlarge"}, Now: func() time.Time { return *now }})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestPlacementScores(t *testing.T) {
	f := &fakeEC2{calls: map[string]int{}, errors: []string{"RequestLimitExceeded"}}
	reg := prometheus.NewPedanticRegistry()
	now := t0
	m := newPlacementModel(t, f, reg, &now)
	ctx := context.Background()
	// Throttled first: an error, no scores, and a retry works.
	if err := m.RefreshPlacement(ctx); err == nil || !cost.Throttled(err) {
		t.Fatalf("throttled refresh returned %v", err)
	}
	if err := m.RefreshPlacement(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, z := range []string{"us-east-1a", "us-east-1b", "", "us-east-1c"} {
		r, _ := m.Risk("m6i.2xlarge", z)
		got[z] = r.PlacementFactor
	}
	want := map[string]float64{"us-east-1a": math.Pow(3, -3.5/4.5),
		"us-east-1b": math.Pow(3, 3.5/4.5), "": math.Pow(3, -3.5/4.5), "us-east-1c": 1}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("placement factors (-want +got):\n%s", diff)
	}
	// Failures keep the scores; the age metric tells how old they are.
	f.errors = []string{"InternalError"}
	now = t0.Add(time.Hour)
	if err := m.RefreshPlacement(ctx); err == nil {
		t.Fatal("failed refresh returned nil")
	}
	if r, _ := m.Risk("m6i.2xlarge", "us-east-1b"); r.PlacementFactor <= 1 {
		t.Errorf("scores lost after a failure: %+v", r)
	}
	wantAge := "# HELP augur_spot_placement_age_seconds " + placementAgeHelp + `
# TYPE augur_spot_placement_age_seconds gauge
augur_spot_placement_age_seconds 3600
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(wantAge),
		"augur_spot_placement_age_seconds"); err != nil {
		t.Error(err)
	}
	if problems, err := testutil.GatherAndLint(reg); err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
}

func TestPlacementNotPermitted(t *testing.T) {
	f := &fakeEC2{calls: map[string]int{}}
	f.errors = []string{"UnauthorizedOperation"}
	now := t0
	m := newPlacementModel(t, f, nil, &now)
	for range 3 {
		if err := m.RefreshPlacement(context.Background()); err != nil {
			t.Fatalf("denied refresh returned %v", err)
		}
	}
	if n := f.calls["DescribeAvailabilityZones"] + f.calls["GetSpotPlacementScores"]; n != 1 {
		t.Errorf("%d calls after a denial, want 1", n)
	}
	if r, ok := m.Risk("m6i.2xlarge", "us-east-1a"); !ok || r.PlacementFactor != 1 {
		t.Errorf("risk without permission = %+v, %v", r, ok)
	}
}

func TestParseAdvisorJSON(t *testing.T) {
	doc := `{"ranges":[],"spot_advisor":{"us-east-1":{"Linux":{"m5.large":{"s":61,"r":2}},
		"Windows":{"m5.large":{"s":40,"r":0}}}}}`
	a, err := ParseAdvisorJSON(strings.NewReader(doc), "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := a.Risk("m5.large", ""); !ok || r.Bucket != 2 || r.Source != "spot-advisor" {
		t.Errorf("Risk = %+v, %v", r, ok)
	}
	for name, bad := range map[string]string{
		"not json":     `{"spot_advisor":`,
		"no region":    `{"spot_advisor":{"eu-west-1":{"Linux":{"m5.large":{"s":1,"r":1}}}}}`,
		"bucket 5":     `{"spot_advisor":{"us-east-1":{"Linux":{"m5.large":{"s":1,"r":5}}}}}`,
		"no savings":   `{"spot_advisor":{"us-east-1":{"Linux":{"m5.large":{"r":1}}}}}`,
		"windows only": `{"spot_advisor":{"us-east-1":{"Windows":{"m5.large":{"s":1,"r":1}}}}}`,
	} {
		if _, err := ParseAdvisorJSON(strings.NewReader(bad), "us-east-1"); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	// The file AWS publishes, as kept beside the project.
	const path = "../../shared/data/aws_spot_advisor/spot-advisor-data_commit2025-06-28_spotinfo.json"
	if _, err := os.Stat(path); err != nil {
		t.Skip("public spot advisor data not present")
	}
	a, err = LoadAdvisor(context.Background(), path, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := a.Savings("m6i.2xlarge"); !ok || s != 58 {
		t.Errorf("m6i.2xlarge savings %v, %v", s, ok)
	}
}

func TestModelWithPrices(t *testing.T) {
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	prices := fakePrices{poolKey{"m6i.2xlarge", "us-east-1a"}: {Latest: 0.384, OnDemand: 0.384,
		Mean: 0.384, Observed: t0}}
	m, err := NewModel(Options{Advisor: a, Prices: prices, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := m.Risk("m6i.2xlarge", "us-east-1a")
	if math.Abs(r.PriceFactor-math.Sqrt2) > 1e-12 || r.Source != "spot-advisor-snapshot+price" {
		t.Errorf("a pool at on-demand price: %+v", r)
	}
	if r, _ := m.Risk("m6i.2xlarge", "us-east-1b"); r.PriceFactor != 1 {
		t.Errorf("a pool without prices: %+v", r)
	}
}

type fakePrices map[poolKey]cost.SpotStats

func (f fakePrices) SpotStats(t, z string) (cost.SpotStats, bool) {
	s, ok := f[poolKey{t, z}]
	return s, ok
}

func TestRunRefreshesAdvisorAndPlacement(t *testing.T) {
	served := make(chan int, 16)
	n := 0
	adv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		select {
		case served <- n:
		default:
		}
		if n > 1 {
			http.Error(w, "gone", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"spot_advisor":{"us-east-1":{"Linux":{"m6i.2xlarge":{"s":50,"r":0}}}}}`)
	}))
	defer adv.Close()
	f := &fakeEC2{calls: map[string]int{}, seen: make(chan string, 64)}
	now := t0
	m := newPlacementModel(t, f, nil, &now)
	m.opts.AdvisorSource, m.opts.AdvisorInterval = adv.URL, time.Millisecond
	m.opts.PlacementInterval = time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	// Three reads: the first good, the second failed, the third started,
	// so the second's failure was handled.
	for <-served < 3 {
	}
	// Each refresh reads two pages; a third call means one refresh ended.
	scores := 0
	for scores < 3 {
		if <-f.seen == "GetSpotPlacementScores" {
			scores++
		}
	}
	cancel()
	if err := <-done; err != context.Canceled {
		t.Errorf("Run returned %v", err)
	}
	r, ok := m.Risk("m6i.2xlarge", "us-east-1a")
	if !ok || r.Bucket != 0 || r.Source != "spot-advisor+placement" {
		t.Errorf("risk after the advisor re-read = %+v, %v", r, ok)
	}
	if got := testutil.ToFloat64(m.metrics.advisor.WithLabelValues("error")); got < 1 {
		t.Errorf("advisor errors counted %v", got)
	}
}

func TestObservedForgets(t *testing.T) {
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(Options{Advisor: a, Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	m.ObserveInterruption("m6i.2xlarge", "us-east-1a", t0.Add(-60*24*time.Hour))
	m.ObserveInsufficientCapacity("c5.xlarge", "us-east-1b", t0)
	if got := len(m.cur.Load().observed); got != 2 {
		t.Errorf("%d pools kept, want the two of c5.xlarge", got)
	}
	m.ObserveInterruption("", "us-east-1a", t0)
	if got := len(m.cur.Load().observed); got != 2 {
		t.Errorf("an event without a type was kept")
	}
}
