package forecast

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// nabWindow is one labelled anomaly window, as grid indices [from, to].
type nabWindow struct{ from, to int }

// windowCounts are the alert-by-window counts of one run.
type windowCounts struct {
	windows, detected int // labelled windows, windows with an alert inside
	alerts, inside    int // alert onsets, onsets inside some window
}

func (c *windowCounts) add(o windowCounts) {
	c.windows += o.windows
	c.detected += o.detected
	c.alerts += o.alerts
	c.inside += o.inside
}

// precision is inside / alerts; recall detected / windows; F1 their
// harmonic mean. Each is NaN when its denominator is zero.
func (c windowCounts) scores() (p, r, f1 float64) {
	p, r, f1 = math.NaN(), math.NaN(), math.NaN()
	if c.alerts > 0 {
		p = float64(c.inside) / float64(c.alerts)
	}
	if c.windows > 0 {
		r = float64(c.detected) / float64(c.windows)
	}
	if p+r > 0 {
		f1 = 2 * p * r / (p + r)
	}
	return p, r, f1
}

// scoreAlerts counts alert onsets against windows, ignoring both before
// probation (NAB's first 15% of the data, where a detector is learning).
func scoreAlerts(onsets []int, windows []nabWindow, probation int) windowCounts {
	var c windowCounts
	hit := make([]bool, len(windows))
	for _, w := range windows {
		if w.to >= probation {
			c.windows++
		}
	}
	for _, a := range onsets {
		if a < probation {
			continue
		}
		c.alerts++
		in := false
		for i, w := range windows {
			if a >= w.from && a <= w.to {
				in, hit[i] = true, true
			}
		}
		if in {
			c.inside++
		}
	}
	for i, w := range windows {
		if hit[i] && w.to >= probation {
			c.detected++
		}
	}
	return c
}

func TestScoreAlerts(t *testing.T) {
	windows := []nabWindow{{10, 20}, {50, 60}, {2, 4}}
	tests := []struct {
		name   string
		onsets []int
		want   windowCounts
	}{
		{"none", nil, windowCounts{windows: 2}},
		{"one hit one miss", []int{15, 30}, windowCounts{2, 1, 2, 1}},
		{"edges count", []int{10, 60}, windowCounts{2, 2, 2, 2}},
		{"probation ignored", []int{3}, windowCounts{windows: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := scoreAlerts(tt.onsets, windows, 5); got != tt.want {
				t.Errorf("scoreAlerts = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// nabWindows reads the labelled windows of one file from
// combined_windows.json as grid indices of s.
func nabWindows(tb testing.TB, s *Series, key string) []nabWindow {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "nab/labels/combined_windows.json"))
	if err != nil {
		tb.Skipf("nab labels not available: %v", err)
	}
	var all map[string][][2]string
	if err := json.Unmarshal(b, &all); err != nil {
		tb.Fatalf("decoding nab labels: %v", err)
	}
	var out []nabWindow
	for _, w := range all[key] {
		from, err1 := parseTime(w[0])
		to, err2 := parseTime(w[1])
		if err1 != nil || err2 != nil {
			tb.Fatalf("parsing window %v: %v %v", w, err1, err2)
		}
		idx := func(t time.Time) int {
			return int(math.Round(float64(t.Sub(s.Start)) / float64(s.Step)))
		}
		out = append(out, nabWindow{idx(from), idx(to)})
	}
	return out
}

// forecastOnsets runs a Monitor over s and returns the alert onsets.
func forecastOnsets(tb testing.TB, s *Series, m Model, dopts DetectorOptions) []int {
	tb.Helper()
	f, err := NewForecaster(ForecasterOptions{Model: m})
	if err != nil {
		tb.Fatal(err)
	}
	mon, err := NewMonitor(MonitorOptions{Forecaster: f, Detector: dopts})
	if err != nil {
		tb.Fatal(err)
	}
	var onsets []int
	for i, v := range s.Values {
		if !s.Scored(i) {
			v = math.NaN()
		}
		if mon.Observe(v).Onset {
			onsets = append(onsets, i)
		}
	}
	return onsets
}

// nabModel is the model the anomaly monitor forecasts with: the harmonic
// regression behind a Hampel filter, so that one spike does not drag the
// next forecasts (chosen over the plain model on realKnownCause: F1 0.318
// against 0.231).
func nabModel(tb testing.TB) Model {
	tb.Helper()
	m, err := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{288, 6}, {2016, 3}}, AR: 24})
	if err != nil {
		tb.Fatal(err)
	}
	c, err := NewCleaned(CleanedOptions{Model: m, Threshold: 5})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// threeSigmaOnsets flags |x - mean| >= 3 sd over the previous day of raw
// values, through the same state machine (no shift rule).
func threeSigmaOnsets(tb testing.TB, s *Series) []int {
	tb.Helper()
	det, err := NewDetector(DetectorOptions{Threshold: 3, ShiftWindow: -1})
	if err != nil {
		tb.Fatal(err)
	}
	const w = 288
	var onsets []int
	for i, v := range s.Values {
		z := math.NaN()
		if i >= w && s.Scored(i) {
			mu := mean(s.Values[i-w : i])
			var ss float64
			for _, x := range s.Values[i-w : i] {
				ss += (x - mu) * (x - mu)
			}
			sd := math.Sqrt(ss / float64(w-1))
			z = (v - mu) / math.Max(sd, 1e-9*math.Max(1, math.Abs(mu)))
		}
		if det.Observe(z).Onset {
			onsets = append(onsets, i)
		}
	}
	return onsets
}

// nabFiles lists the csv files of one NAB folder.
func nabFiles(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(filepath.Join(dataDir, "nab", dir))
	if err != nil {
		tb.Skipf("nab data not available: %v", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".csv") {
			out = append(out, dir+"/"+e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// evaluateNAB scores both detectors on every file of dir and writes a
// table to w.
func evaluateNAB(tb testing.TB, w io.Writer, dir string) (fc, sigma windowCounts) {
	fmt.Fprintf(w, "\nanomaly detection on NAB %s (alerts by window)\n", dir)
	fmt.Fprintf(w, "%-48s %8s %15s %15s\n", "file", "windows", "forecast det/al", "3-sigma det/al")
	for _, key := range nabFiles(tb, dir) {
		s := loadSeries(tb, benchSeries{name: key, file: "nab/" + key, column: "value"})
		if s.Step != 5*time.Minute {
			continue
		}
		wins := nabWindows(tb, s, key)
		prob := s.Len() * 15 / 100
		a := scoreAlerts(forecastOnsets(tb, s, nabModel(tb), DetectorOptions{}), wins, prob)
		b := scoreAlerts(threeSigmaOnsets(tb, s), wins, prob)
		fc.add(a)
		sigma.add(b)
		fmt.Fprintf(w, "%-48s %8d %8d/%-6d %8d/%-6d\n", key, a.windows, a.detected, a.alerts,
			b.detected, b.alerts)
	}
	for _, r := range []struct {
		name string
		c    windowCounts
	}{{"forecast residuals", fc}, {"three-sigma", sigma}} {
		p, rc, f1 := r.c.scores()
		fmt.Fprintf(w, "%-20s precision %.3f  recall %.3f  F1 %.3f  (%d/%d windows, %d/%d alerts)\n",
			r.name, p, rc, f1, r.c.detected, r.c.windows, r.c.inside, r.c.alerts)
	}
	return fc, sigma
}

// BenchmarkAnomalyNAB evaluates the forecast-residual detector and the
// three-sigma baseline on NAB's labelled AWS CloudWatch series (and on
// realKnownCause, the series the thresholds may be judged on).
func BenchmarkAnomalyNAB(b *testing.B) {
	for range b.N {
		evaluateNAB(b, os.Stdout, "realKnownCause")
		fc, sigma := evaluateNAB(b, os.Stdout, "realAWSCloudwatch")
		_, _, f1 := fc.scores()
		_, _, f1s := sigma.scores()
		b.ReportMetric(f1, "F1")
		b.ReportMetric(f1s, "F1-3sigma")
	}
}
