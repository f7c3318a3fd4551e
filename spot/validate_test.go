package spot

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/augur-autoscaler/augur/cost"
)

// The validation reads the public data sets kept beside the project and
// skips when they are absent. Run it with `make spot-validate`.
const dataDir = "../../shared/data"

// trace is one Bamboo spot fleet: how many instances ran over time.
type trace struct {
	name, instanceType, zone string
	// steps are (seconds since start, instances running from then on).
	steps [][2]float64
	end   float64 // seconds
}

// bambooTraces reads the fleet-size step functions of the Bamboo data set.
// Files with one point (no change seen) get their span from their name.
func bambooTraces(tb testing.TB) []trace {
	tb.Helper()
	dir := filepath.Join(dataDir, "spot_preemption_bamboo")
	files, _ := filepath.Glob(filepath.Join(dir, "aws-spot-instances-*.csv"))
	if len(files) == 0 {
		tb.Skip("bamboo spot preemption data not present")
	}
	var out []trace
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".csv")
		if strings.HasSuffix(base, "_scaled") {
			continue
		}
		tr := trace{name: base}
		switch {
		case strings.Contains(base, "g4dn-xlarge"):
			tr.instanceType = "g4dn.xlarge"
		case strings.Contains(base, "p2-xlarge"):
			tr.instanceType = "p2.xlarge"
		}
		if i := strings.Index(base, "us-east-1"); i >= 0 {
			tr.zone = base[i : i+len("us-east-1a")]
		}
		// The file without a zone has hours on its x axis.
		unit := 1.0
		if tr.zone == "" {
			unit = 3600
		}
		fh, err := os.Open(f)
		if err != nil {
			tb.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		for sc.Scan() {
			x, y, ok := strings.Cut(strings.TrimSpace(sc.Text()), ",")
			if !ok {
				continue
			}
			xv, err1 := strconv.ParseFloat(x, 64)
			yv, err2 := strconv.ParseFloat(y, 64)
			if err1 != nil || err2 != nil {
				tb.Fatalf("%s: bad line %q", f, sc.Text())
			}
			tr.steps = append(tr.steps, [2]float64{xv * unit, yv})
		}
		fh.Close()
		tr.end = tr.steps[len(tr.steps)-1][0]
		if len(tr.steps) == 1 {
			tr.end = spanFromName(tb, base)
		}
		out = append(out, tr)
	}
	return out
}

// spanFromName reads "...-2020-11-20-1730-to-2020-11-21-1104" as seconds.
func spanFromName(tb testing.TB, name string) float64 {
	parts := strings.Split(name, "-")
	var stamps []time.Time
	for i := 0; i+3 < len(parts); i++ {
		if len(parts[i]) == 4 && strings.HasPrefix(parts[i], "20") {
			hm := parts[i+3]
			if len(hm) == 2 && i+4 < len(parts) { // "15-30"
				hm += parts[i+4]
			}
			t, err := time.Parse("2006-01-02-1504", strings.Join([]string{parts[i],
				parts[i+1], parts[i+2], hm}, "-"))
			if err == nil {
				stamps = append(stamps, t)
			}
		}
	}
	if len(stamps) < 2 {
		tb.Fatalf("no span in %s", name)
	}
	return stamps[len(stamps)-1].Sub(stamps[0]).Seconds()
}

// preemptions returns the time of each instance lost (one entry per
// instance) and the instance-hours run.
func (tr trace) preemptions() ([]float64, float64) {
	var lost []float64
	var exposure float64
	for i := 1; i < len(tr.steps); i++ {
		prev, cur := tr.steps[i-1], tr.steps[i]
		exposure += (cur[0] - prev[0]) * prev[1] / 3600
		for n := 0; n < int(prev[1]-cur[1]); n++ {
			lost = append(lost, cur[0])
		}
	}
	last := tr.steps[len(tr.steps)-1]
	exposure += (tr.end - last[0]) * last[1] / 3600
	return lost, exposure
}

func advisor2021(tb testing.TB) *Advisor {
	path := filepath.Join(dataDir, "aws_spot_advisor",
		"spot-advisor-data_commit2021-02-10_spotinfo.json")
	a, err := LoadAdvisor(context.Background(), path, "us-east-1")
	if err != nil {
		tb.Skipf("spot advisor 2021 data: %v", err)
	}
	return a
}

// replay feeds a trace's preemptions to a fresh model hour by hour and
// returns, per hour, the modelled hazard at the start of the hour and
// whether an instance was lost during it.
func replay(tb testing.TB, a *Advisor, tr trace) (hazard []float64, lost []bool) {
	start := time.Date(2020, 11, 20, 0, 0, 0, 0, time.UTC)
	now := start
	m, err := NewModel(Options{Advisor: a, Now: func() time.Time { return now }})
	if err != nil {
		tb.Fatal(err)
	}
	events, _ := tr.preemptions()
	next := 0
	for h := 0.0; h+3600 <= tr.end; h += 3600 {
		now = start.Add(time.Duration(h) * time.Second)
		for next < len(events) && events[next] < h {
			m.ObserveInterruption(tr.instanceType, tr.zone,
				start.Add(time.Duration(events[next])*time.Second))
			next++
		}
		r, ok := m.Risk(tr.instanceType, tr.zone)
		if !ok {
			tb.Fatalf("no advisor figure for %s", tr.instanceType)
		}
		hit := next < len(events) && events[next] < h+3600
		hazard, lost = append(hazard, r.HazardPerHour), append(lost, hit)
	}
	return hazard, lost
}

// auc is the probability that a random positive scores above a random
// negative, ties counting half.
func auc(score []float64, positive []bool) float64 {
	var pairs, wins float64
	for i := range score {
		for j := range score {
			if positive[i] && !positive[j] {
				pairs++
				switch {
				case score[i] > score[j]:
					wins++
				case score[i] == score[j]:
					wins += 0.5
				}
			}
		}
	}
	if pairs == 0 {
		return math.NaN()
	}
	return wins / pairs
}

// TestBambooData checks the data reads as described in its SOURCE.txt, so
// the figures below rest on what the files hold.
func TestBambooData(t *testing.T) {
	traces := bambooTraces(t)
	got := map[string][2]float64{}
	for _, tr := range traces {
		lost, exp := tr.preemptions()
		got[tr.instanceType+" "+tr.zone] = [2]float64{float64(len(lost)), math.Round(exp)}
	}
	want := map[string][2]float64{
		"g4dn.xlarge us-east-1c": {85, 200}, "g4dn.xlarge us-east-1d": {51, 31},
		"p2.xlarge ": {178, 1375}, "p2.xlarge us-east-1a": {0, 141},
		"p2.xlarge us-east-1c": {0, 145}, "p2.xlarge us-east-1e": {3, 189},
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s: %v preemptions and instance-hours, want %v", k, got[k], w)
		}
	}
}

// BenchmarkValidateBamboo reports, over the Bamboo traces (us-east-1, Nov
// 2020, GPU types), the measured interruption rate against the one the
// 2021 Spot Advisor bucket implies, and how well the model's memory of
// observed interruptions ranks the hours in which an instance was lost
// (AUC), against the advisor's bucket alone, which tells types apart but
// not hours.
func BenchmarkValidateBamboo(b *testing.B) {
	traces := bambooTraces(b)
	a := advisor2021(b)
	for b.Loop() {
		var lostAll, expAll, burst, prevAll float64
		var hz, base []float64
		var pos []bool
		var advisorRate float64
		for _, tr := range traces {
			lost, exp := tr.preemptions()
			lostAll += float64(len(lost))
			expAll += exp
			for i := 1; i < len(lost); i++ {
				prevAll++
				if lost[i]-lost[i-1] <= 3600 {
					burst++
				}
			}
			r, _ := a.Risk(tr.instanceType, "")
			advisorRate += r.HazardPerHour * exp
			h, p := replay(b, a, tr)
			hz, pos = append(hz, h...), append(pos, p...)
			for range h {
				base = append(base, r.HazardPerHour)
			}
		}
		b.ReportMetric(lostAll/expAll, "measured-per-instance-hour")
		b.ReportMetric(advisorRate/expAll, "advisor-per-instance-hour")
		b.ReportMetric(burst/prevAll, "lost-within-1h-of-previous")
		b.ReportMetric(auc(hz, pos), "hour-AUC-with-observations")
		b.ReportMetric(auc(base, pos), "hour-AUC-advisor-only")
		b.ReportMetric(float64(len(pos)), "hours")
	}
}

// BenchmarkValidatePriceLevel reports, over the us-east-1 pools of the
// 2022-05-31 DescribeSpotPriceHistory cross-section, the rank correlation
// between a pool's spot/on-demand ratio and its type's Spot Advisor
// bucket (2024 snapshot, embedded on-demand prices), and the share of
// pools the price factor would mark as dearer than the advisor's average.
func BenchmarkValidatePriceLevel(b *testing.B) {
	path := filepath.Join(dataDir, "aws_spot_price_history", "spot_prices_2022-05-31_linux.csv")
	fh, err := os.Open(path)
	if err != nil {
		b.Skip("spot price history data not present")
	}
	defer fh.Close()
	r := csv.NewReader(fh)
	_, _ = r.Read()
	latest := map[[2]string]struct {
		at  string
		usd float64
	}{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if !strings.HasPrefix(rec[0], "use1-") {
			continue
		}
		usd, err := strconv.ParseFloat(rec[3], 64)
		if err != nil {
			b.Fatal(err)
		}
		k := [2]string{rec[1], rec[0]}
		if l, ok := latest[k]; !ok || rec[4] > l.at {
			latest[k] = struct {
				at  string
				usd float64
			}{rec[4], usd}
		}
	}
	adv, err := LoadAdvisor(context.Background(), filepath.Join(dataDir, "aws_spot_advisor",
		"spot-advisor-data_commit2024-02-28_bamboo.json"), "us-east-1")
	if err != nil {
		b.Skipf("spot advisor 2024 data: %v", err)
	}
	cat, err := cost.New(cost.Options{Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		var ratios, rel, buckets []float64
		dearer, n := 0, 0
		for k, l := range latest {
			od, ok := cat.OnDemand(k[0])
			e, ok2 := adv.entries[k[0]]
			if !ok || !ok2 || od.USDPerHour <= 0 {
				continue
			}
			ratio := l.usd / od.USDPerHour
			ratios, buckets = append(ratios, ratio), append(buckets, float64(e.bucket))
			re := 1 - e.savings/100
			rel = append(rel, (ratio-re)/math.Max(1-re, 0.05))
			f, _ := PriceFactor(cost.SpotStats{Latest: l.usd, OnDemand: od.USDPerHour,
				Mean: l.usd}, e.savings, 0)
			if f > 1.05 {
				dearer++
			}
			n++
		}
		b.ReportMetric(float64(n), "pools")
		b.ReportMetric(spearman(ratios, buckets), "spearman-ratio-vs-bucket")
		b.ReportMetric(spearman(rel, buckets), "spearman-level-vs-bucket")
		b.ReportMetric(float64(dearer)/float64(max(n, 1)), "share-price-factor>1.05")
	}
}

// BenchmarkValidateVolatility reports the price factor's volatility and
// jump terms over a month of m5.large history in five us-east-1 zones
// (Jan-Feb 2021), taking each zone's whole month as the window.
func BenchmarkValidateVolatility(b *testing.B) {
	path := filepath.Join(dataDir, "aws_spot_price_history",
		"instance_selector_DescribeSpotPriceHistory_m5.large_us-east-1_2021-01.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		b.Skip("m5.large spot price history not present")
	}
	var doc struct {
		SpotPriceHistory []struct {
			AvailabilityZone string
			SpotPrice        string
			Timestamp        time.Time
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	byZone := map[string][]cost.PricePoint{}
	var last time.Time
	for _, p := range doc.SpotPriceHistory {
		usd, err := strconv.ParseFloat(p.SpotPrice, 64)
		if err != nil {
			b.Fatal(err)
		}
		byZone[p.AvailabilityZone] = append(byZone[p.AvailabilityZone],
			cost.PricePoint{At: p.Timestamp, USDPerHour: usd})
		if p.Timestamp.After(last) {
			last = p.Timestamp
		}
	}
	for b.Loop() {
		var cvMax, riseMax, fMax float64
		for _, h := range byZone {
			slices.SortFunc(h, func(x, y cost.PricePoint) int { return x.At.Compare(y.At) })
			s := cost.HistoryStats(h, h[0].At, last)
			s.OnDemand = 0.096
			cvMax = math.Max(cvMax, s.StdDev/s.Mean)
			riseMax = math.Max(riseMax, s.MaxRise)
			f, _ := PriceFactor(s, 62, 0)
			fMax = math.Max(fMax, f)
		}
		b.ReportMetric(cvMax, "max-cv")
		b.ReportMetric(riseMax, "max-rise")
		b.ReportMetric(fMax, "max-price-factor")
	}
}

// spearman is the rank correlation of x and y, ties ranked by their mean.
func spearman(x, y []float64) float64 {
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(len(rx))
	my /= float64(len(ry))
	var sxy, sxx, syy float64
	for i := range rx {
		sxy += (rx[i] - mx) * (ry[i] - my)
		sxx += (rx[i] - mx) * (rx[i] - mx)
		syy += (ry[i] - my) * (ry[i] - my)
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return 0
	})
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}

// BenchmarkValidateAdvisorDrift reports how stable the Spot Advisor's
// buckets are from one published snapshot to the next (2021-02 to 2024-02
// to 2025-06, every region, Linux): the share of pools in the same bucket
// and within one bucket, and their rank correlation. It is what the
// advisor's fixed confidence rests on.
func BenchmarkValidateAdvisorDrift(b *testing.B) {
	files := []string{"spot-advisor-data_commit2021-02-10_spotinfo.json",
		"spot-advisor-data_commit2024-02-28_bamboo.json",
		"spot-advisor-data_commit2025-06-28_spotinfo.json"}
	var docs []advisorDoc
	for _, f := range files {
		raw, err := os.ReadFile(filepath.Join(dataDir, "aws_spot_advisor", f))
		if err != nil {
			b.Skip("spot advisor data not present")
		}
		var d advisorDoc
		if err := json.Unmarshal(raw, &d); err != nil {
			b.Fatal(err)
		}
		docs = append(docs, d)
	}
	for b.Loop() {
		for i, label := range []string{"2021-2024", "2024-2025"} {
			var x, y []float64
			same, near := 0, 0
			for region, oses := range docs[i].SpotAdvisor {
				for typ, e := range oses["Linux"] {
					n, ok := docs[i+1].SpotAdvisor[region]["Linux"][typ]
					if !ok || e.R == nil || n.R == nil {
						continue
					}
					x, y = append(x, float64(*e.R)), append(y, float64(*n.R))
					if *e.R == *n.R {
						same++
					}
					if d := *e.R - *n.R; d >= -1 && d <= 1 {
						near++
					}
				}
			}
			b.ReportMetric(float64(len(x)), label+"-pools")
			b.ReportMetric(float64(same)/float64(len(x)), label+"-same-bucket")
			b.ReportMetric(float64(near)/float64(len(x)), label+"-within-one")
			b.ReportMetric(spearman(x, y), label+"-spearman")
		}
	}
}
