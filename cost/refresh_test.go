package cost

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// clock is a settable time for tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// liveCatalog returns a catalogue wired to a fresh fake holding a few
// products, spot prices and instance types.
func liveCatalog(t *testing.T, opts Options) (*Catalog, *fakeAWS, *clock) {
	t.Helper()
	f := newFakeAWS(t)
	f.products = []string{
		priceDoc("m5.large", "us-east-1", "0.0960000000"),
		priceDoc("c5.xlarge", "us-east-1", "0.1700000000"),
		priceDoc("zz9.large", "us-east-1", "0.5000000000"), // newer than the snapshot
	}
	f.spot = []spotRow{
		{"m5.large", "us-east-1a", "0.038400", t0.Add(-3 * time.Hour)},
		{"m5.large", "us-east-1b", "0.041200", t0.Add(-2 * time.Hour)},
		{"c5.xlarge", "us-east-1a", "0.071000", t0.Add(-30 * time.Minute)},
	}
	f.types = []typeRow{
		{typ: "zz9.large", vcpu: 2, mib: 4096, arch: "arm64"},
		{typ: "g4dn.xlarge", vcpu: 4, mib: 16384, gpus: 1, arch: "x86_64"},
	}
	clk := &clock{t: t0}
	e, p := f.clients()
	opts.Region, opts.EC2, opts.Pricing, opts.Now = "us-east-1", e, p, clk.now
	if opts.CallTimeout == 0 {
		opts.CallTimeout = 5 * time.Second
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, f, clk
}

func refreshAll(t *testing.T, c *Catalog) {
	t.Helper()
	ctx := context.Background()
	for _, fn := range []func(context.Context) error{c.RefreshOnDemand, c.RefreshSpot,
		c.RefreshSpecs} {
		if err := fn(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRefreshLive(t *testing.T) {
	c, f, _ := liveCatalog(t, Options{})
	refreshAll(t, c)
	type got struct {
		USD    float64
		Source string
		Age    time.Duration
	}
	look := func(typ, zone string, ct CapacityType) got {
		p, ok := c.Price(typ, zone, ct)
		if !ok {
			return got{Source: "none"}
		}
		return got{math.Round(p.USDPerHour*1e6) / 1e6, p.Source.String(), t0.Sub(p.Observed)}
	}
	cases := []struct {
		typ, zone string
		ct        CapacityType
		want      got
	}{
		{"m5.large", "", OnDemand, got{0.096, "live", 0}},
		{"zz9.large", "", OnDemand, got{0.5, "live", 0}},
		{"m5.xlarge", "", OnDemand, got{0.192, "snapshot", t0.Sub(c.snapshot)}},
		{"m5.large", "us-east-1a", Spot, got{0.0384, "live", 0}},
		{"m5.large", "us-east-1b", Spot, got{0.0412, "live", 0}},
		// No zone, or a zone without history: the dearest zone.
		{"m5.large", "", Spot, got{0.0412, "live", 0}},
		{"m5.large", "us-east-1f", Spot, got{0.0412, "live", 0}},
		{"no.such", "", OnDemand, got{Source: "none"}},
		{"no.such", "us-east-1a", Spot, got{Source: "none"}},
	}
	for _, tc := range cases {
		if diff := cmp.Diff(tc.want, look(tc.typ, tc.zone, tc.ct)); diff != "" {
			t.Errorf("Price(%s, %q, %v) (-want +got):\n%s", tc.typ, tc.zone, tc.ct, diff)
		}
	}
	// Without a zone, the statistics of the dearest pool, as for the price.
	if s, ok := c.SpotStats("m5.large", ""); !ok || s.Latest != 0.0412 || s.OnDemand != 0.096 {
		t.Errorf("SpotStats(m5.large, \"\") = %+v, %v", s, ok)
	}
	if _, ok := c.SpotStats("m5.xlarge", ""); ok {
		t.Error("stats for a type without history")
	}
	if s, ok := c.Spec("zz9.large"); !ok || s != (Spec{VCPU: 2, MemoryMiB: 4096, Arch: "arm64"}) {
		t.Errorf("Spec(zz9.large) = %+v, %v", s, ok)
	}
	if s, ok := c.Spec("g4dn.xlarge"); !ok || s.GPU != 1 || s.Arch != "amd64" {
		t.Errorf("Spec(g4dn.xlarge) = %+v, %v", s, ok)
	}
	// The request carries the filters that make the answer one price per type.
	body := f.bodies["GetProducts"][0]
	for _, want := range []string{`"ServiceCode":"AmazonEC2"`, `"Value":"us-east-1"`,
		`"Field":"operatingSystem"`, `"Value":"Linux"`, `"Value":"Shared"`, `"Value":"NA"`,
		`"Field":"capacitystatus"`} {
		if !strings.Contains(body, want) {
			t.Errorf("GetProducts request lacks %s: %s", want, body)
		}
	}
	spotReq := f.bodies["DescribeSpotPriceHistory"][0]
	if !strings.Contains(spotReq, "ProductDescription.1=Linux%2FUNIX") {
		t.Errorf("spot history request is not for Linux: %s", spotReq)
	}
}

func TestRefreshPagination(t *testing.T) {
	c, f, _ := liveCatalog(t, Options{})
	f.pageSize = 2
	f.products = nil
	for i := range 7 {
		f.products = append(f.products, priceDoc(fmt.Sprintf("zz%d.large", i), "us-east-1",
			fmt.Sprintf("%d.5", i)))
	}
	f.spot = nil
	for i := range 9 {
		f.spot = append(f.spot, spotRow{"m5.large", fmt.Sprintf("us-east-1%c", 'a'+i%3),
			fmt.Sprintf("0.0%d", 30+i), t0.Add(-time.Duration(10-i) * time.Hour)})
	}
	refreshAll(t, c)
	calls := map[string]int{}
	for _, a := range []string{"GetProducts", "DescribeSpotPriceHistory",
		"DescribeInstanceTypes"} {
		calls[a] = f.count(a)
	}
	want := map[string]int{"GetProducts": 4, "DescribeSpotPriceHistory": 5,
		"DescribeInstanceTypes": 1}
	if diff := cmp.Diff(want, calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	for i := range 7 {
		typ := fmt.Sprintf("zz%d.large", i)
		if p, ok := c.OnDemand(typ); !ok || p.USDPerHour != float64(i)+0.5 {
			t.Errorf("%s = %+v, %v", typ, p, ok)
		}
	}
	// Zone c got rows 2, 5 and 8, the last the latest.
	s, ok := c.SpotStats("m5.large", "us-east-1c")
	if !ok || s.Latest != 0.038 || s.Changes != 2 || s.OnDemand != 0.096 {
		t.Errorf("SpotStats(m5.large, us-east-1c) = %+v, %v", s, ok)
	}
}

// TestRefreshFailureKeepsValues runs every way a refresh can fail after a
// good one, and checks the catalogue still answers the good values, says
// they are cached, and goes live again on the next success.
func TestRefreshFailureKeepsValues(t *testing.T) {
	cases := []struct {
		name      string
		action    string
		reply     reply
		throttled bool
		empty     bool
	}{
		{name: "pricing throttled", action: "GetProducts", throttled: true,
			reply: reply{status: 400, body: jsonError("ThrottlingException", "Rate exceeded")}},
		{name: "ec2 request limit", action: "DescribeSpotPriceHistory", throttled: true,
			reply: reply{status: 503,
				body: ec2Error("RequestLimitExceeded", "Request limit exceeded.")}},
		{name: "pricing 500", action: "GetProducts",
			reply: reply{status: 500, body: jsonError("InternalErrorException", "oops")}},
		{name: "ec2 503 unavailable", action: "DescribeSpotPriceHistory",
			reply: reply{status: 503, body: ec2Error("Unavailable", "try again")}},
		{name: "pricing slow", action: "GetProducts", reply: reply{block: true}},
		{name: "ec2 slow", action: "DescribeSpotPriceHistory", reply: reply{block: true}},
		{name: "pricing malformed", action: "GetProducts",
			reply: reply{status: 200, body: `{"FormatVersion":"aws_v1","PriceList":[{"not`}},
		{name: "pricing malformed products", action: "GetProducts", empty: true,
			reply: reply{status: 200, body: `{"FormatVersion":"aws_v1","PriceList":["{]"]}`}},
		{name: "ec2 malformed", action: "DescribeSpotPriceHistory",
			reply: reply{status: 200, body: `<DescribeSpotPriceHistoryResponse><spotPriceHistorySet><item>`}},
		{name: "pricing empty region", action: "GetProducts", empty: true,
			reply: reply{status: 200, body: `{"FormatVersion":"aws_v1","PriceList":[]}`}},
		{name: "ec2 empty region", action: "DescribeSpotPriceHistory", empty: true,
			reply: reply{status: 200, body: `<DescribeSpotPriceHistoryResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>x</requestId><spotPriceHistorySet/></DescribeSpotPriceHistoryResponse>`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reg := prometheus.NewPedanticRegistry()
			c, f, clk := liveCatalog(t, Options{Registry: reg, CallTimeout: 200 * time.Millisecond})
			refreshAll(t, c)
			typ, zone, ct, refresh, k := "m5.large", "", OnDemand, c.RefreshOnDemand, kindOnDemand
			if tc.action == "DescribeSpotPriceHistory" {
				zone, ct, refresh, k = "us-east-1a", Spot, c.RefreshSpot, kindSpot
			}
			before, _ := c.Price(typ, zone, ct)
			clk.t = t0.Add(time.Hour)
			f.queue(tc.action, tc.reply)
			err := refresh(context.Background())
			if err == nil {
				t.Fatal("refresh succeeded")
			}
			if Throttled(err) != tc.throttled || errors.Is(err, ErrEmpty) != tc.empty {
				t.Errorf("error %q: throttled %v, empty %v; want %v, %v", err, Throttled(err),
					errors.Is(err, ErrEmpty), tc.throttled, tc.empty)
			}
			after, ok := c.Price(typ, zone, ct)
			want := before
			want.Source = SourceCached
			if !ok || after != want {
				t.Errorf("after failure Price = %+v, %v; want %+v", after, ok, want)
			}
			st := c.Status()[k]
			if st.Failures != 1 || st.LastError == "" || !st.LastSuccess.Equal(t0) {
				t.Errorf("status = %+v", st)
			}
			result := "error"
			switch {
			case tc.throttled:
				result = "throttled"
			case tc.empty:
				result = "empty"
			}
			if got := testutil.ToFloat64(c.metrics.refreshes.WithLabelValues(k.String(),
				result)); got != 1 {
				t.Errorf("refreshes{%s,%s} = %v, want 1", k, result, got)
			}
			wantAge := fmt.Sprintf(`
# HELP augur_cost_data_age_seconds %s
# TYPE augur_cost_data_age_seconds gauge
augur_cost_data_age_seconds{kind="ondemand"} 3600
augur_cost_data_age_seconds{kind="specs"} 3600
augur_cost_data_age_seconds{kind="spot"} 3600
`, ageHelp)
			if err := testutil.GatherAndCompare(reg, strings.NewReader(wantAge),
				"augur_cost_data_age_seconds"); err != nil {
				t.Error(err)
			}
			if err := refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if p, _ := c.Price(typ, zone, ct); p.Source != SourceLive || !p.Observed.Equal(clk.t) {
				t.Errorf("after recovery Price = %+v; want live at %v", p, clk.t)
			}
		})
	}
}

func TestSpotHistoryWindow(t *testing.T) {
	c, f, clk := liveCatalog(t, Options{SpotWindow: 6 * time.Hour, MaxPointsPerPool: 3})
	if err := c.RefreshSpot(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Later, AWS answers only what changed since, for one pool.
	clk.t = t0.Add(2 * time.Hour)
	f.spot = []spotRow{
		{"m5.large", "us-east-1a", "0.050000", t0.Add(time.Hour)},
		{"m5.large", "us-east-1a", "0.045000", t0.Add(90 * time.Minute)},
	}
	if err := c.RefreshSpot(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The second call asks from a minute before the first success.
	if b := f.bodies["DescribeSpotPriceHistory"][1]; !strings.Contains(b,
		"StartTime=2026-12-01T11%3A59%3A00Z") {
		t.Errorf("second request does not start at the last success: %s", b)
	}
	s, ok := c.SpotStats("m5.large", "us-east-1a")
	// Window 8:00-14:00: 0.0384 from 9:00, 0.05 from 13:00, 0.045 from 13:30.
	wantMean := (0.0384*4 + 0.05*0.5 + 0.045*0.5) / 5
	if !ok || s.Latest != 0.045 || s.Changes != 2 || math.Abs(s.Mean-wantMean) > 1e-12 ||
		math.Abs(s.MaxRise-(0.05-0.0384)/0.0384) > 1e-12 {
		t.Errorf("stats = %+v, want mean %v", s, wantMean)
	}
	if p, _ := c.Price("m5.large", "us-east-1a", Spot); p.Source != SourceLive ||
		p.USDPerHour != 0.045 {
		t.Errorf("refreshed pool = %+v", p)
	}
	// A pool the answer left out is kept and marked as older.
	if p, _ := c.Price("c5.xlarge", "us-east-1a", Spot); p.Source != SourceCached ||
		!p.Observed.Equal(t0) || p.USDPerHour != 0.071 {
		t.Errorf("left-out pool = %+v", p)
	}
}

func TestMalformedItemsSkipped(t *testing.T) {
	c, f, _ := liveCatalog(t, Options{})
	f.products = []string{
		priceDoc("m5.large", "us-east-1", "0.0960000000"),
		`{"product":`,
		priceDoc("c5.xlarge", "us-east-1", "NaN"),
		priceDoc("c5.2xlarge", "eu-west-1", "0.38"), // another region: not wanted
		strings.Replace(priceDoc("r5.large", "us-east-1", "0.126"), `"Linux"`, `"Windows"`, 1),
		priceDoc("t3.micro", "us-east-1", "0.0104000000"),
	}
	f.types = append(f.types, typeRow{typ: "broken.large", broken: true})
	f.spot = append(f.spot, spotRow{"m5.xlarge", "us-east-1a", "-1", t0})
	refreshAll(t, c)
	if got := c.Status()[kindOnDemand].Items; got != 2 {
		t.Errorf("kept %d prices, want 2", got)
	}
	for typ, want := range map[string]Source{"m5.large": SourceLive, "t3.micro": SourceLive,
		"c5.xlarge": SourceSnapshot, "r5.large": SourceSnapshot} {
		if p, _ := c.OnDemand(typ); p.Source != want {
			t.Errorf("%s source = %v, want %v", typ, p.Source, want)
		}
	}
	if _, ok := c.Spec("broken.large"); ok {
		t.Error("an instance type without vCPUs has a spec")
	}
	if _, ok := c.SpotStats("m5.xlarge", "us-east-1a"); ok {
		t.Error("a negative spot price was kept")
	}
}

func TestDiscounts(t *testing.T) {
	c, err := New(Options{Region: "us-east-1", SpotSavings: fakeSavings{"m5.large": 60},
		Discounts: map[string]Discount{"m5": {OnDemand: 0.25, Spot: 0.1},
			"m5.xlarge": {OnDemand: 0.5}}})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		typ  string
		ct   CapacityType
		want float64
	}{
		{"m5.large", OnDemand, 0.096 * 0.75},
		{"m5.large", Spot, 0.096 * 0.4 * 0.9},
		{"m5.xlarge", OnDemand, 0.192 * 0.5},
		{"c5.xlarge", OnDemand, 0.17},
	}
	for _, tc := range cases {
		p, ok := c.Price(tc.typ, "", tc.ct)
		if !ok || math.Abs(p.USDPerHour-tc.want) > 1e-12 {
			t.Errorf("Price(%s, %v) = %+v, want %v", tc.typ, tc.ct, p, tc.want)
		}
	}
	for _, bad := range []Discount{{OnDemand: 1}, {Spot: -0.1}, {OnDemand: math.NaN()}} {
		if _, err := New(Options{Region: "us-east-1",
			Discounts: map[string]Discount{"m5": bad}}); err == nil {
			t.Errorf("discount %+v accepted", bad)
		}
	}
}

func TestEndpointsFromEnvironment(t *testing.T) {
	for _, env := range []string{"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_EC2",
		"AWS_ENDPOINT_URL_PRICING"} {
		t.Run(env, func(t *testing.T) {
			f := newFakeAWS(t)
			f.products = []string{priceDoc("m5.large", "us-east-1", "0.0960000000")}
			f.spot = []spotRow{{"m5.large", "us-east-1a", "0.038400", t0}}
			t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
			t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			t.Setenv("AWS_MAX_ATTEMPTS", "1")
			t.Setenv(env, f.srv.URL)
			cl, err := NewClients(context.Background(), "us-east-1")
			if err != nil {
				t.Fatal(err)
			}
			c, err := New(Options{Region: "us-east-1", EC2: cl.EC2, Pricing: cl.Pricing,
				CallTimeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			odErr, spotErr := c.RefreshOnDemand(ctx), c.RefreshSpot(ctx)
			wantOD := env != "AWS_ENDPOINT_URL_EC2"
			wantSpot := env != "AWS_ENDPOINT_URL_PRICING"
			if (odErr == nil) != wantOD || (spotErr == nil) != wantSpot {
				t.Errorf("on-demand error %v, spot error %v; want success %v, %v",
					odErr, spotErr, wantOD, wantSpot)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	hour := time.Hour
	cases := []struct {
		n         int
		throttled bool
		limit     time.Duration
		u         float64
		want      time.Duration
	}{
		{1, false, hour, 0, 2500 * time.Millisecond},
		{1, false, hour, 1, 5 * time.Second},
		{3, false, hour, 0.5, 15 * time.Second},
		{1, true, hour, 0, 15 * time.Second},
		{4, true, hour, 1, 240 * time.Second},
		{20, true, hour, 1, hour},
		{200, false, 5 * time.Minute, 0, 150 * time.Second},
		{0, false, hour, math.NaN(), 2500 * time.Millisecond},
		{2, true, 10 * time.Second, 2, 10 * time.Second},
	}
	for _, tc := range cases {
		if got := Backoff(tc.n, tc.throttled, tc.limit, tc.u); got != tc.want {
			t.Errorf("Backoff(%d, %v, %v, %v) = %v, want %v", tc.n, tc.throttled, tc.limit,
				tc.u, got, tc.want)
		}
	}
}

func TestRunRefreshesAndRetries(t *testing.T) {
	c, f, _ := liveCatalog(t, Options{OnDemandInterval: time.Millisecond,
		SpotInterval: time.Millisecond, SpecsInterval: time.Millisecond})
	f.seen = make(chan string, 64)
	f.queue("GetProducts", reply{status: 400, body: jsonError("ThrottlingException", "slow")})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	// A third call of each kind means the second one was done with.
	need := map[string]int{"GetProducts": 3, "DescribeSpotPriceHistory": 3,
		"DescribeInstanceTypes": 2}
	for len(need) > 0 {
		a := <-f.seen
		if need[a]--; need[a] <= 0 {
			delete(need, a)
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run returned %v", err)
	}
	// The throttled first call was retried and the retry succeeded.
	if st := c.Status()[kindOnDemand]; st.LastSuccess.IsZero() {
		t.Errorf("on-demand status %+v", st)
	}
	if got := testutil.ToFloat64(c.metrics.refreshes.WithLabelValues("ondemand",
		"throttled")); got != 1 {
		t.Errorf("throttled refreshes = %v, want 1", got)
	}
}

func TestMetricsLint(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	c, _, _ := liveCatalog(t, Options{Registry: reg})
	refreshAll(t, c)
	problems, err := testutil.GatherAndLint(reg)
	if err != nil || len(problems) > 0 {
		t.Errorf("lint: %v %+v", err, problems)
	}
	want := fmt.Sprintf(`
# HELP augur_cost_data_age_seconds %s
# TYPE augur_cost_data_age_seconds gauge
augur_cost_data_age_seconds{kind="ondemand"} 0
augur_cost_data_age_seconds{kind="specs"} 0
augur_cost_data_age_seconds{kind="spot"} 0
`, ageHelp)
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"augur_cost_data_age_seconds"); err != nil {
		t.Error(err)
	}
	if _, err := New(Options{Region: "us-east-1", Registry: reg}); err == nil {
		t.Error("registering twice succeeded")
	}
}
