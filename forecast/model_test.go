package forecast

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// testDay is the season length of the synthetic series: a day of
// 30-minute points keeps the tests fast.
const testDay = 48

// synthetic returns n points of level + slope*t + a daily sine of
// amplitude amp + a weekly cosine of amplitude wamp, plus Gaussian noise of
// standard deviation sd from a source seeded with seed.
func synthetic(n int, level, slope, amp, wamp, sd float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	y := make([]float64, n)
	for t := range y {
		y[t] = truth(t, level, slope, amp, wamp) + sd*rng.NormFloat64()
	}
	return y
}

func truth(t int, level, slope, amp, wamp float64) float64 {
	return level + slope*float64(t) + amp*math.Sin(2*math.Pi*float64(t)/testDay) +
		wamp*math.Cos(2*math.Pi*float64(t)/(7*testDay))
}

func regular(tb testing.TB, y []float64) *Series {
	tb.Helper()
	s, _, err := NewSeries("synthetic", t0, 30*time.Minute, y, GridOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestBaselinesKnownAnswer(t *testing.T) {
	sn, err := NewSeasonalNaive(3, "")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		model Model
		y     []float64
		want  []float64
	}{
		{NewNaive(), []float64{1, 2, 3}, []float64{3, 3}},
		{sn, []float64{1, 2, 3, 4, 5, 6}, []float64{4, 5, 6, 4, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.model.Name(), func(t *testing.T) {
			f, err := tt.model.Fit(tt.y)
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, len(tt.want))
			f.Forecast(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("forecast (-want +got):\n%s", diff)
			}
		})
	}
}

// Exact season and trend, no noise: each model must recover the future
// within the stated tolerance.
func TestModelsKnownAnswer(t *testing.T) {
	const n, h = 10 * 7 * testDay / 5, testDay // two weeks
	hwAdd, _ := NewHoltWinters(HoltWintersOptions{Period: testDay, Trend: TrendAdditive,
		Season: SeasonAdditive})
	hwMul, _ := NewHoltWinters(HoltWintersOptions{Period: testDay, Trend: TrendDamped,
		Season: SeasonMultiplicative})
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}, {7 * testDay, 2}},
		Trend: true, AR: 2})
	dec, _ := NewDecomposed(DecomposedOptions{Period: testDay})
	tests := []struct {
		model       Model
		slope, wamp float64
		tol         float64
	}{
		// Holt-Winters tracks a linear trend plus daily season.
		{hwAdd, 0.05, 0, 0.5},
		// A multiplicative season on a flat level is close to additive.
		{hwMul, 0, 0, 0.5},
		// The harmonic regression recovers both cycles and the trend.
		{harm, 0.05, 3, 0.05},
		// The daily profile is smoothed over 5 points: a 1.4% attenuation
		// of the amplitude-10 sine, so 0.3 allows for it.
		{dec, 0, 0, 0.3},
	}
	for _, tt := range tests {
		t.Run(tt.model.Name(), func(t *testing.T) {
			y := synthetic(n+h, 100, tt.slope, 10, tt.wamp, 0, 1)
			f, err := tt.model.Fit(y[:n])
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float64, h)
			f.Forecast(got)
			if diff := cmp.Diff(y[n:], got, cmpopts.EquateApprox(0, tt.tol)); diff != "" {
				t.Errorf("forecast off by more than %g (-want +got):\n%s", tt.tol, diff)
			}
		})
	}
}

// With seeded noise of sd 1 the harmonic forecast stays within 3 sd of
// the noise-free truth at every step.
func TestHarmonicNoisy(t *testing.T) {
	const n, h = 4 * 7 * testDay, testDay
	y := synthetic(n, 50, 0, 5, 3, 1, 42)
	m, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}, {7 * testDay, 2}},
		AR: 4})
	f, err := m.Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, h)
	f.Forecast(got)
	for k, v := range got {
		if want := truth(n+k, 50, 0, 5, 3); math.Abs(v-want) > 3 {
			t.Errorf("step %d: forecast %g, truth %g", k+1, v, want)
		}
	}
}

func TestCleanedReplacesSpikesOnly(t *testing.T) {
	y := synthetic(200, 10, 0, 0, 0, 0.1, 2)
	y[100] += 50 // a spike
	for i := 150; i < len(y); i++ {
		y[i] += 20 // a level shift
	}
	c, err := NewCleaned(CleanedOptions{Model: NewNaive()})
	if err != nil {
		t.Fatal(err)
	}
	x := c.clean(y)
	if math.Abs(x[100]-10) > 0.5 {
		t.Errorf("spike cleaned to %g, want about 10", x[100])
	}
	// A shift is held back while it is a minority of the window, then
	// accepted: by the window's middle the median has moved.
	if math.Abs(x[160]-30) > 0.5 {
		t.Errorf("after the shift %g, want about 30", x[160])
	}
	changed := 0
	for i := range y {
		if x[i] != y[i] {
			changed++
		}
	}
	if changed > 6 {
		t.Errorf("%d points changed, want the spike and the shift's first few", changed)
	}
	f, err := c.Fit(y[:101])
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, 1)
	f.Forecast(got)
	if math.Abs(got[0]-10) > 0.5 {
		t.Errorf("naive after a spike forecasts %g, want about 10", got[0])
	}
}

func TestAutoregressiveRecoversCoefficients(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	y := make([]float64, 20000)
	for t := 2; t < len(y); t++ {
		y[t] = 0.6*y[t-1] + 0.3*y[t-2] + rng.NormFloat64()
	}
	m, _ := NewAutoregressive(AutoregressiveOptions{Order: 2})
	f, err := m.Fit(y)
	if err != nil {
		t.Fatal(err)
	}
	got := f.(*arFit).ar
	if diff := cmp.Diff([]float64{0.6, 0.3}, got, cmpopts.EquateApprox(0, 0.03)); diff != "" {
		t.Errorf("coefficients off by more than 0.03 (-want +got):\n%s", diff)
	}
}

// Walk at the end of the training data must agree with Forecast, and its
// forecast from origin o must depend on y[:o] only.
func TestWalkAgreesWithForecast(t *testing.T) {
	const n, h = 3 * 7 * testDay, 12
	y := synthetic(n+2*h, 100, 0.01, 10, 4, 1, 3)
	models, err := DefaultModels(testDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		t.Run(m.Name(), func(t *testing.T) {
			f, err := m.Fit(y[:n])
			if err != nil {
				t.Fatal(err)
			}
			checkWalk(t, f, y, n, h, func(v float64) float64 { return v + 1000 })
		})
	}
}

// checkWalk checks that f, fitted on y[:n], walks to what Forecast says at
// the end of its training data, and that no forecast from an origin up to
// n+h moves when change alters every value from n+h on.
func checkWalk(t *testing.T, f Fitted, y []float64, n, h int, change func(float64) float64) {
	t.Helper()
	want := make([]float64, h)
	f.Forecast(want)
	walked := map[int][]float64{}
	f.Walk(y, n, h, func(o int, fc []float64) {
		walked[o] = append([]float64(nil), fc...)
	})
	if diff := cmp.Diff(want, walked[n], cmpopts.EquateApprox(1e-9, 1e-9)); diff != "" {
		t.Errorf("walk at the end of training (-forecast +walk):\n%s", diff)
	}
	z := append([]float64(nil), y...)
	for i := n + h; i < len(z); i++ {
		z[i] = change(z[i])
	}
	f.Walk(z, n, h, func(o int, fc []float64) {
		if o <= n+h {
			if diff := cmp.Diff(walked[o], fc); diff != "" {
				t.Errorf("forecast from %d saw the future (-before +after):\n%s", o, diff)
			}
		}
	})
}

// Edge cases every default model must survive through a Forecaster: a
// clear error or finite, ordered quantiles; never a panic or NaN.
func TestForecasterEdgeCases(t *testing.T) {
	const n = 3 * 7 * testDay
	constant := make([]float64, n)
	for i := range constant {
		constant[i] = 7
	}
	huge := synthetic(n, 1e12, 0, 1e10, 0, 1e8, 5)
	tests := []struct {
		name string
		y    []float64
		// want is the value every p50 must be near, NaN for "anything
		// finite"; tol is relative to max(1, |want|).
		want, tol float64
	}{
		{"constant", constant, 7, 1e-6},
		{"all zeros", make([]float64, n), 0, 1e-6},
		{"single season", synthetic(testDay, 10, 0, 1, 0, 0, 1), math.NaN(), 0},
		{"huge values", huge, 1e12, 0.05},
	}
	models, err := DefaultModels(testDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		for _, m := range models {
			t.Run(tt.name+"/"+m.Name(), func(t *testing.T) {
				f, err := NewForecaster(ForecasterOptions{Model: m})
				if err != nil {
					t.Fatal(err)
				}
				fc, err := f.Forecast(regular(t, tt.y), 12)
				if err != nil {
					if !errors.Is(err, ErrTooFewPoints) {
						t.Fatalf("err = %v, want nil or ErrTooFewPoints", err)
					}
					return
				}
				for k := range fc.P50 {
					p50, p90, p99 := fc.P50[k], fc.P90[k], fc.P99[k]
					if !(p50 <= p90 && p90 <= p99) || math.IsInf(p99, 0) || math.IsNaN(p50) {
						t.Fatalf("step %d: p50 %g p90 %g p99 %g", k+1, p50, p90, p99)
					}
					if !math.IsNaN(tt.want) &&
						math.Abs(p50-tt.want) > tt.tol*math.Max(1, math.Abs(tt.want))+
							0.2*1e10*boolf(tt.name == "huge values") {
						t.Fatalf("step %d: p50 %g, want about %g", k+1, p50, tt.want)
					}
				}
			})
		}
	}
}

func boolf(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// A series whose calibration window is one long filled gap gets an error,
// not intervals of zero width.
func TestForecasterRefusesAllFilledCalibration(t *testing.T) {
	y := synthetic(3*7*testDay, 10, 0, 2, 0, 0.1, 1)
	s := regular(t, y)
	for i := s.Len() - 400; i < s.Len(); i++ {
		s.Quality[i] = Filled
	}
	f, _ := NewForecaster(ForecasterOptions{Model: NewNaive(), Calibration: 300})
	if _, err := f.Forecast(s, 6); err == nil || !strings.Contains(err.Error(), "filled") {
		t.Errorf("err = %v, want one about filled gaps", err)
	}
}

func TestFitRejectsBadData(t *testing.T) {
	models, err := DefaultModels(testDay)
	if err != nil {
		t.Fatal(err)
	}
	y := synthetic(3*7*testDay, 10, 0, 1, 0, 0, 1)
	y[100] = math.NaN()
	for _, m := range models {
		if _, err := m.Fit(y); err == nil {
			t.Errorf("%s: Fit accepted a NaN", m.Name())
		}
		if _, err := m.Fit(y[:1]); !errors.Is(err, ErrTooFewPoints) && m.MinPoints() > 1 {
			t.Errorf("%s: Fit on one point: err = %v, want ErrTooFewPoints", m.Name(), err)
		}
	}
	pos := synthetic(3*testDay, 10, 0, 1, 0, 0, 1)
	pos[5] = 0
	hw, _ := NewHoltWinters(HoltWintersOptions{Period: testDay, Season: SeasonMultiplicative})
	if _, err := hw.Fit(pos); err == nil {
		t.Error("multiplicative Holt-Winters accepted a zero")
	}
}

// A single fit forecasts from the calibration fit walked to the end: for
// a model whose fit is exact the two agree.
func TestSingleFit(t *testing.T) {
	y := synthetic(3*7*testDay, 10, 0, 2, 0, 0, 1)
	m, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 2}}})
	var got [2][]float64
	for i, single := range []bool{false, true} {
		f, err := NewForecaster(ForecasterOptions{Model: m, SingleFit: single})
		if err != nil {
			t.Fatal(err)
		}
		fc, err := f.Forecast(regular(t, y), 6)
		if err != nil {
			t.Fatal(err)
		}
		got[i] = fc.P50
	}
	if diff := cmp.Diff(got[0], got[1], cmpopts.EquateApprox(0, 1e-6)); diff != "" {
		t.Errorf("refit vs single fit (-refit +single):\n%s", diff)
	}
}

// On i.i.d. noise the calibrated p90 covers about 90% of new points.
func TestIntervalsCalibrated(t *testing.T) {
	const n = 3 * 7 * testDay
	y := synthetic(n+2000, 10, 0, 2, 0, 1, 11)
	m, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 2}}})
	f, err := NewForecaster(ForecasterOptions{Model: m, Calibration: 300})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := f.Forecast(regular(t, y[:n]), 1)
	if err != nil {
		t.Fatal(err)
	}
	// The model is exact up to the noise, so the error at the first step is
	// N(0, 1): p90 is near 1.28 above the point forecast, p50 near it.
	if d := fc.P90[0] - fc.Point[0]; math.Abs(d-1.2816) > 0.2 {
		t.Errorf("p90 - point = %g, want 1.28 +- 0.2", d)
	}
	if d := fc.Scale[0]; math.Abs(d-1) > 0.15 {
		t.Errorf("scale = %g, want 1 +- 0.15", d)
	}
	if fc.Samples[0] != 300 {
		t.Errorf("samples = %d, want 300", fc.Samples[0])
	}
}

func TestQuantileMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 2, 3, 10, 101, 1000} {
		x := make([]float64, n)
		for i := range x {
			x[i] = math.Round(rng.NormFloat64() * 3) // ties on purpose
		}
		sorted := append([]float64(nil), x...)
		slices.Sort(sorted)
		for _, p := range []float64{0, 0.5, 0.9, 0.99, 1} {
			pos := p * float64(n-1)
			i := int(pos)
			want := sorted[i]
			if i < n-1 {
				want += (pos - float64(i)) * (sorted[i+1] - sorted[i])
			}
			if got := quantile(append([]float64(nil), x...), p); got != want {
				t.Errorf("n=%d p=%g: quantile %g, want %g", n, p, got, want)
			}
		}
		y := append([]float64(nil), x...)
		a, b, c := upperQuantiles(y)
		got := []float64{a, b, c}
		var want []float64
		for _, p := range []float64{0.5, 0.9, 0.99} {
			want = append(want, quantile(append([]float64(nil), x...), p))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("n=%d: upperQuantiles (-quantile +upper):\n%s", n, diff)
		}
	}
}

func TestConstructorsRejectBadOptions(t *testing.T) {
	tests := []struct {
		name string
		err  func() error
	}{
		{"seasonal naive period 0", func() error { _, err := NewSeasonalNaive(0, ""); return err }},
		{"holt-winters period 1", func() error {
			_, err := NewHoltWinters(HoltWintersOptions{Period: 1, Season: SeasonAdditive})
			return err
		}},
		{"holt-winters unknown trend", func() error {
			_, err := NewHoltWinters(HoltWintersOptions{Trend: 9})
			return err
		}},
		{"harmonic order too high", func() error {
			_, err := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{Period: 10, Order: 5}}})
			return err
		}},
		{"harmonic negative AR", func() error {
			_, err := NewHarmonic(HarmonicOptions{AR: -1})
			return err
		}},
		{"autoregressive order 0", func() error {
			_, err := NewAutoregressive(AutoregressiveOptions{})
			return err
		}},
		{"decomposed period 2", func() error {
			_, err := NewDecomposed(DecomposedOptions{Period: 2})
			return err
		}},
		{"decomposed long period too short", func() error {
			_, err := NewDecomposed(DecomposedOptions{Period: 48, LongPeriod: 50})
			return err
		}},
		{"decomposed smoothing wider than the period", func() error {
			_, err := NewDecomposed(DecomposedOptions{Period: 8, Smooth: 9})
			return err
		}},
		{"decomposed negative half-life", func() error {
			_, err := NewDecomposed(DecomposedOptions{Period: 8, HalfLife: -1})
			return err
		}},
		{"cleaned without model", func() error {
			_, err := NewCleaned(CleanedOptions{})
			return err
		}},
		{"cleaned NaN threshold", func() error {
			_, err := NewCleaned(CleanedOptions{Model: NewNaive(), Threshold: math.NaN()})
			return err
		}},
		{"combination of nothing", func() error { _, err := NewCombination(""); return err }},
		{"forecaster without model", func() error {
			_, err := NewForecaster(ForecasterOptions{})
			return err
		}},
		{"forecaster negative calibration", func() error {
			_, err := NewForecaster(ForecasterOptions{Model: NewNaive(), Calibration: -1})
			return err
		}},
		{"monitor without forecaster", func() error {
			_, err := NewMonitor(MonitorOptions{})
			return err
		}},
		{"detector NaN threshold", func() error {
			_, err := NewDetector(DetectorOptions{Threshold: math.NaN()})
			return err
		}},
		{"default models for daily data", func() error { _, err := DefaultModels(1); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); err == nil {
				t.Error("accepted")
			}
		})
	}
}
