package forecast

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// fiveMinute builds a 5-minute series (288 points a day) from y.
func fiveMinute(tb testing.TB, y []float64) *Series {
	tb.Helper()
	s, _, err := NewSeries("five", t0, 5*time.Minute, y, GridOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// A backtest must never see the future: changing every value after some
// point leaves every forecast made before it untouched.
func TestBacktestNeverSeesTheFuture(t *testing.T) {
	const day = 288
	y := make([]float64, 4*day)
	for i := range y {
		y[i] = 100 + 10*math.Sin(2*math.Pi*float64(i)/day) + float64(i%7)
	}
	sn, _ := NewSeasonalNaive(day, "")
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{day, 3}}, AR: 2})
	models := []Model{NewNaive(), sn, harm}
	run := func(y []float64) map[string][]ForecastRecord {
		out := map[string][]ForecastRecord{}
		_, err := Backtest(fiveMinute(t, y), models, BacktestOptions{
			Horizons: []int{3, 12}, Select: &SelectorOptions{Windows: 2},
			OnForecast: func(r ForecastRecord) { out[r.Model] = append(out[r.Model], r) },
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := run(y)
	cut := len(y) - 5*24 // an origin: the test region starts at 70% and steps 24
	z := append([]float64(nil), y...)
	for i := cut; i < len(z); i++ {
		z[i] = -1e6
	}
	after := run(z)
	cutTime := t0.Add(time.Duration(cut) * 5 * time.Minute)
	compared := 0
	for model, recs := range before {
		for i, r := range recs {
			if r.Origin.After(cutTime) || r.Origin.Equal(cutTime) {
				continue
			}
			a := after[model][i]
			a.Actual, r.Actual = 0, 0 // actuals may lie past the cut
			if diff := cmp.Diff(r, a); diff != "" {
				t.Fatalf("%s forecast from %s changed (-before +after):\n%s",
					model, r.Origin, diff)
			}
			compared++
		}
	}
	if compared == 0 {
		t.Fatal("no forecast before the cut was compared")
	}
}

// The MASE of the naive model on a known series, computed by hand.
func TestBacktestMASEKnownAnswer(t *testing.T) {
	const day = 288
	// A sawtooth of period 4 on top of a daily step: |y(t) - y(t-288)| is 5
	// everywhere after the first day, so the scale is 5.
	y := make([]float64, 3*day)
	for i := range y {
		y[i] = float64(i%4) + 5*float64(i/day)
	}
	res, err := Backtest(fiveMinute(t, y), []Model{NewNaive()}, BacktestOptions{
		Horizons: []int{1, 4}, Every: 4, Test: 2 * 288 / 3, MaxTrain: 2 * day})
	if err != nil {
		t.Fatal(err)
	}
	if res.Scale != 5 {
		t.Fatalf("scale = %g, want 5", res.Scale)
	}
	// Origins are multiples of 4 (the sawtooth's 0): the last value is 3,
	// so step 1 (actual 0) errs by 3 and step 4 (actual 3) by 0, except
	// where a day boundary adds 5 to the actual.
	got := map[int]float64{}
	for _, sc := range res.Scores {
		got[sc.Step] = sc.MASE
	}
	want1, want4 := 0.0, 0.0
	for _, o := range res.Origins {
		want1 += math.Abs(y[o] - y[o-1])
		want4 += math.Abs(y[o+3] - y[o-1])
	}
	n := float64(len(res.Origins))
	want := map[int]float64{1: want1 / n / 5, 4: want4 / n / 5}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("MASE (-want +got):\n%s", diff)
	}
}

func TestBacktestErrors(t *testing.T) {
	constant := make([]float64, 3*288)
	for i := range constant {
		constant[i] = 4
	}
	tests := []struct {
		name   string
		y      []float64
		models []Model
		opts   BacktestOptions
		want   string
	}{
		{"constant", constant, []Model{NewNaive()}, BacktestOptions{Horizons: []int{12}},
			"MASE is undefined"},
		{"too short", constant[:20], []Model{NewNaive()}, BacktestOptions{Horizons: []int{12}},
			"too few points"},
		{"no horizons", constant, []Model{NewNaive()}, BacktestOptions{}, "one horizon"},
		{"no models", constant, nil, BacktestOptions{Horizons: []int{1}}, "one model"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Backtest(fiveMinute(t, tt.y), tt.models, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// A model that cannot forecast is reported as skipped, not fatal.
func TestBacktestSkipsModelsThatCannotFit(t *testing.T) {
	y := synthetic(3*288, 10, 0, 2, 0, 0.5, 9)
	week, _ := NewSeasonalNaive(7*288, "week")
	res, err := Backtest(fiveMinute(t, y), []Model{NewNaive(), week},
		BacktestOptions{Horizons: []int{12}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := res.Skipped["week"]; !ok {
		t.Errorf("skipped = %v, want week in it", res.Skipped)
	}
	if _, ok := res.Score("naive", 12); !ok {
		t.Error("no naive score")
	}
}

func TestSelector(t *testing.T) {
	type window map[string]float64
	tests := []struct {
		name    string
		opts    SelectorOptions
		windows []window
		want    []string // champion after each window
	}{
		{
			name: "first choice waits for enough windows",
			opts: SelectorOptions{Windows: 2},
			windows: []window{
				{"a": 1, "b": 2}, {"a": 1, "b": 2},
			},
			want: []string{"", "a"},
		},
		{
			name: "challenger must beat the margin",
			opts: SelectorOptions{Windows: 2, Margin: 0.1},
			windows: []window{
				{"a": 1, "b": 2}, {"a": 1, "b": 2},
				{"a": 1, "b": 0.95}, {"a": 1, "b": 0.95}, // 5% better: not enough
				{"a": 1, "b": 0.5}, // now 27.5% better over the two windows
			},
			want: []string{"", "a", "a", "a", "b"},
		},
		{
			name: "challenger must win most windows",
			opts: SelectorOptions{Windows: 3, Margin: 0.05, MinWins: 3},
			windows: []window{
				{"a": 1, "b": 2}, {"a": 1, "b": 2}, {"a": 1, "b": 2},
				{"a": 1, "b": 0.1}, {"a": 1, "b": 0.1}, {"a": 0.5, "b": 0.6},
				{"a": 1, "b": 0.1}, {"a": 1, "b": 0.1}, // 2 of 3 wins only
				{"a": 1, "b": 0.1}, // the 0.5/0.6 window has left
			},
			want: []string{"", "", "a", "a", "a", "a", "a", "a", "b"},
		},
		{
			name: "an initial champion must be beaten by the margin",
			opts: SelectorOptions{Windows: 2, Margin: 0.1, Initial: "a"},
			windows: []window{
				{"a": 1, "b": 0.95}, {"a": 1, "b": 0.95}, {"a": 1, "b": 0.5},
			},
			want: []string{"a", "a", "b"},
		},
		{
			name: "an initial champion keeps its place while it warms up",
			opts: SelectorOptions{Windows: 2, Margin: 0.1, Initial: "slow"},
			windows: []window{
				{"a": 1, "slow": math.NaN()}, {"a": 1, "slow": math.NaN()},
				{"a": 1, "slow": 1}, {"a": 1, "slow": 1}, {"a": 0.1, "slow": 1},
				{"a": 0.1, "slow": 1},
			},
			want: []string{"slow", "slow", "slow", "slow", "slow", "a"},
		},
		{
			name: "an initial champion that is not a candidate is replaced",
			opts: SelectorOptions{Windows: 2, Initial: "missing"},
			windows: []window{
				{"a": 1, "b": 2}, {"a": 1, "b": 2},
			},
			want: []string{"missing", "a"},
		},
		{
			name: "a champion that stops forecasting is replaced",
			opts: SelectorOptions{Windows: 1},
			windows: []window{
				{"a": 1, "b": 2}, {"a": math.NaN(), "b": 2},
			},
			want: []string{"a", "b"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			tt.opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
			s := NewSelector(tt.opts)
			var got []string
			switches := 0
			for _, w := range tt.windows {
				if _, ok := s.Observe(w); ok {
					switches++
				}
				got = append(got, s.Champion())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("champions (-want +got):\n%s", diff)
			}
			if n := strings.Count(logs.String(), "forecast champion chosen"); n != switches {
				t.Errorf("%d log lines for %d switches:\n%s", n, switches, logs.String())
			}
		})
	}
}

func TestDetectorStates(t *testing.T) {
	d, err := NewDetector(DetectorOptions{Threshold: 4, ShiftWindow: 3, ShiftThreshold: 2,
		Recovery: 2})
	if err != nil {
		t.Fatal(err)
	}
	scores := []float64{0, 1, -1, 5, 0, 0, 0, math.NaN(), 0, 2.5, 2.5, 2.5, 0, 0, 0, 0}
	var got []string
	for _, z := range scores {
		v := d.Observe(z)
		s := string(v.State)
		if v.Onset {
			s += "!" + string(v.Kind)
		}
		got = append(got, s)
	}
	want := []string{
		"normal", "normal", "normal", "anomalous!point", // a spike
		"recovering", "normal", "normal", // two calm points end it
		"normal", "normal", // NaN changes nothing
		"normal", "normal", "anomalous!shift", // mean of three 2.5s reaches 2
		"recovering", "normal", "normal", "normal",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	if _, err := NewDetector(DetectorOptions{Threshold: -1}); err == nil {
		t.Error("negative threshold accepted")
	}
}

// A monitor on a clean seasonal series stays normal, flags an injected
// spike at once, and is normal again after the recovery period.
func TestMonitorFlagsSpike(t *testing.T) {
	const day = 288
	y := synthetic(6*day, 100, 0, 20, 0, 1, 21)
	spike := 5*day + 100
	y[spike] += 40
	m, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}}, AR: 2})
	f, _ := NewForecaster(ForecasterOptions{Model: m})
	mon, err := NewMonitor(MonitorOptions{Forecaster: f,
		Detector: DetectorOptions{Recovery: 12}})
	if err != nil {
		t.Fatal(err)
	}
	var onsets []int
	var last Verdict
	for i, v := range y {
		last = mon.Observe(v)
		if last.Onset {
			onsets = append(onsets, i)
		}
		if i == spike && (last.State != StateAnomalous || last.Kind != KindPoint) {
			t.Errorf("at the spike: %+v", last)
		}
	}
	if diff := cmp.Diff([]int{spike}, onsets); diff != "" {
		t.Errorf("alert onsets (-want +got):\n%s", diff)
	}
	if last.State != StateNormal || mon.State() != StateNormal {
		t.Errorf("final state %s, want normal", last.State)
	}
	fc := mon.Forecast()
	if fc == nil || len(fc.P50) != 12 {
		t.Fatalf("forecast = %+v, want 12 steps", fc)
	}
	// The last refit happened after a whole number of refits; its first
	// step is the point after it, 5 minutes apart from the zero time.
	if want := time.Duration(len(y)) * 5 * time.Minute; fc.Start.Sub(time.Time{}) != want {
		t.Errorf("forecast starts at %s, want %s after the start", fc.Start, want)
	}
	// A missing point is not scored and does not change the state.
	if v := mon.Observe(math.NaN()); !math.IsNaN(v.Score) || v.State != StateNormal {
		t.Errorf("missing point: %+v", v)
	}
}

// With candidates the monitor scores each one's forecasts as actuals
// arrive and forecasts with the champion: on a strongly seasonal series the
// harmonic model must take over from the naive one.
func TestMonitorSelectsChampion(t *testing.T) {
	y := synthetic(8*testDay, 100, 0, 20, 0, 0.5, 8)
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}}, AR: 2})
	var cands []*Forecaster
	for _, m := range []Model{NewNaive(), harm} {
		f, err := NewForecaster(ForecasterOptions{Model: m, Calibration: 2 * testDay})
		if err != nil {
			t.Fatal(err)
		}
		cands = append(cands, f)
	}
	var logs bytes.Buffer
	mon, err := NewMonitor(MonitorOptions{Candidates: cands, Refit: 6,
		Select: SelectorOptions{Windows: 4, Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range y {
		mon.Observe(v)
	}
	if got := mon.Champion(); got != harm.Name() {
		t.Errorf("champion = %q, want %q; log:\n%s", got, harm.Name(), logs.String())
	}
	if !strings.Contains(logs.String(), "to=harmonic-ar") {
		t.Errorf("no switch to the harmonic model logged:\n%s", logs.String())
	}
}

// An initial champion that needs more history than the others is not
// replaced while it cannot forecast yet.
func TestMonitorKeepsWarmingChampion(t *testing.T) {
	y := synthetic(6*testDay, 100, 0, 20, 0, 0.5, 9)
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}}, AR: 24})
	var cands []*Forecaster
	for _, m := range []Model{NewNaive(), harm} {
		f, err := NewForecaster(ForecasterOptions{Model: m})
		if err != nil {
			t.Fatal(err)
		}
		cands = append(cands, f)
	}
	var logs bytes.Buffer
	mon, err := NewMonitor(MonitorOptions{Candidates: cands, Refit: 6,
		Select: SelectorOptions{Windows: 2, Initial: harm.Name(),
			Logger: slog.New(slog.NewTextHandler(&logs, nil))}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range y {
		mon.Observe(v)
	}
	if got := mon.Champion(); got != harm.Name() || logs.Len() > 0 {
		t.Errorf("champion = %q, want %q kept throughout; log:\n%s", got, harm.Name(),
			logs.String())
	}
}

func ExampleForecaster_Forecast() {
	// Two weeks of a daily cycle on 5-minute points, with a ripple.
	y := make([]float64, 14*288)
	for i := range y {
		y[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + float64(i%5) - 2
	}
	s, _, err := NewSeries("cpu", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		5*time.Minute, y, GridOptions{})
	if err != nil {
		panic(err)
	}
	model, err := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{Period: 288, Order: 3}}})
	if err != nil {
		panic(err)
	}
	f, err := NewForecaster(ForecasterOptions{Model: model})
	if err != nil {
		panic(err)
	}
	fc, err := f.Forecast(s, 12)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s from %s: 1 h ahead p50 %.1f, p90 %.1f, p99 %.1f\n", fc.Model,
		fc.Start.Format(time.DateTime), fc.P50[11], fc.P90[11], fc.P99[11])
	// Output:
	// harmonic-ar from 2026-01-15 00:00:00: 1 h ahead p50 52.4, p90 54.5, p99 55.0
}

func ExampleBacktest() {
	y := make([]float64, 4*288)
	for i := range y {
		y[i] = 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + float64(i%5)
	}
	s, _, err := NewSeries("cpu", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		5*time.Minute, y, GridOptions{})
	if err != nil {
		panic(err)
	}
	day, err := NewSeasonalNaive(288, "seasonal-naive-day")
	if err != nil {
		panic(err)
	}
	res, err := Backtest(s, []Model{NewNaive(), day}, BacktestOptions{Horizons: []int{12}})
	if err != nil {
		panic(err)
	}
	for _, sc := range res.Scores {
		fmt.Printf("%s: MASE %.2f over %d forecasts\n", sc.Model, sc.MASE, sc.Forecasts)
	}
	// Output:
	// naive: MASE 0.92 over 14 forecasts
	// seasonal-naive-day: MASE 0.98 over 14 forecasts
}

func ExampleMonitor() {
	m, err := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{Period: 288, Order: 3}}})
	if err != nil {
		panic(err)
	}
	f, err := NewForecaster(ForecasterOptions{Model: m})
	if err != nil {
		panic(err)
	}
	mon, err := NewMonitor(MonitorOptions{Forecaster: f})
	if err != nil {
		panic(err)
	}
	for i := range 3 * 288 {
		mon.Observe(50 + 10*math.Sin(2*math.Pi*float64(i)/288))
	}
	v := mon.Observe(500) // far above anything forecast
	fmt.Println(v.State, v.Kind, v.Onset)
	// Output:
	// anomalous point true
}
