package forecast

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"time"
)

// AutoModel is the name under which [Backtest] reports the forecasts of
// the champion chosen by its [Selector].
const AutoModel = "auto"

// BacktestOptions configures [Backtest]. Zero values follow the protocol
// in docs/forecast.md.
type BacktestOptions struct {
	// Horizons are the steps scored, e.g. 3, 12 and 24. Required.
	Horizons []int
	// Every is the spacing of origins in points. Zero means 2 hours.
	Every int
	// Test is the number of points at the end of the series over which
	// origins are placed. Zero means 7 days, or the last 30% when the
	// series is shorter than 10 days.
	Test int
	// MaxTrain is the most points each origin trains on. Zero means 14
	// days.
	MaxTrain int
	// Calibration and SingleFit are passed to each [Forecaster].
	Calibration int
	SingleFit   bool
	// Select adds the AutoModel entry: at each origin it takes the
	// forecast of the champion a [Selector] picked from windows whose
	// actuals were all known at that origin. The first champion is chosen
	// on windows inside the first training data.
	Select *SelectorOptions
	// OnForecast, when set, receives every forecast made.
	OnForecast func(ForecastRecord)
}

// ForecastRecord is one step of one forecast made during a backtest.
type ForecastRecord struct {
	Model         string
	Origin        time.Time
	Step          int
	Actual        float64
	P50, P90, P99 float64
	// Scored is false when the actual was Filled.
	Scored bool
}

// Score is one model's accuracy at one horizon step.
type Score struct {
	Model string
	Step  int
	// Forecasts is the number of scored forecasts.
	Forecasts int
	// MASE is mean |actual - p50| divided by the backtest's Scale.
	MASE float64
	// SMAPE is the mean of 2|a - f| / (|a| + |f|) over forecasts where
	// the denominator is not zero.
	SMAPE float64
	// WAPE is sum |a - f| / sum |a|.
	WAPE float64
	// CoverageP90 and CoverageP99 are the shares of actuals at or below
	// the p90 and p99 forecasts.
	CoverageP90, CoverageP99 float64
	// PinballP90 is the mean pinball loss of p90 divided by Scale:
	// max(0.9*(a - q), 0.1*(q - a)) / Scale.
	PinballP90 float64
	// FitSeconds is the mean wall time of one fit and forecast.
	FitSeconds float64
}

// BacktestResult is the outcome of [Backtest].
type BacktestResult struct {
	Series string
	Points int
	Step   time.Duration
	// Origins are the grid indices of the forecast origins.
	Origins []int
	// Scale is the MASE denominator: mean |y(t) - y(t-m)| over the first
	// origin's training data, m one day of points (or 1 when a day is not
	// a whole number of steps or longer than the training data).
	Scale float64
	// Scores has one entry per model and horizon, models in the order
	// given, AutoModel last.
	Scores []Score
	// Skipped maps a model that could not forecast at every origin to the
	// first error.
	Skipped map[string]string
	// Switches lists the champion changes of the AutoModel selector.
	Switches []Switch
	// Selected is the champion at the end of the backtest.
	Selected string
}

// Score returns the score of model at step, if present.
func (r *BacktestResult) Score(model string, step int) (Score, bool) {
	for _, s := range r.Scores {
		if s.Model == model && s.Step == step {
			return s, true
		}
	}
	return Score{}, false
}

// originForecast is one model's forecast from one origin.
type originForecast struct {
	p50, p90, p99 []float64
	seconds       float64
}

// Backtest scores models on s by rolling origin. At every origin o each
// model is fitted, through a [Forecaster], on at most MaxTrain points
// before o and forecasts max(Horizons) steps; nothing at or after o is
// visible to the fit. Actuals that are Filled are never scored.
func Backtest(s *Series, models []Model, opts BacktestOptions) (*BacktestResult, error) {
	if len(opts.Horizons) == 0 || len(models) == 0 {
		return nil, errors.New("backtesting: need at least one model and one horizon")
	}
	h := slices.Max(opts.Horizons)
	if slices.Min(opts.Horizons) < 1 {
		return nil, fmt.Errorf("backtesting %s: horizon steps must be positive", s.Name)
	}
	day := s.PerDay()
	if day == 0 {
		return nil, fmt.Errorf("backtesting %s: step %s does not divide a day", s.Name, s.Step)
	}
	every, test, maxTrain := opts.Every, opts.Test, opts.MaxTrain
	if every == 0 {
		every = max(day/12, 1)
	}
	if maxTrain == 0 {
		maxTrain = 14 * day
	}
	n := s.Len()
	if test == 0 {
		test = 7 * day
		if n < 10*day {
			test = n * 3 / 10
		}
	}
	first := n - test
	if first < 2 || test < h {
		return nil, fmt.Errorf("backtesting %s: %w: %d points, test region %d, horizon %d",
			s.Name, ErrTooFewPoints, n, test, h)
	}
	var origins []int
	for o := first; o+h <= n; o += every {
		origins = append(origins, o)
	}
	res := &BacktestResult{Series: s.Name, Points: n, Step: s.Step, Origins: origins,
		Skipped: map[string]string{}}
	lo := max(0, first-maxTrain)
	res.Scale = mae1(s, lo, first, day)
	if !(res.Scale > 1e-12*meanAbs(s.Values[lo:first])) || res.Scale == 0 {
		return nil, fmt.Errorf("backtesting %s: the naive error scale of the first "+
			"training window is %g, so MASE is undefined (constant series?)", s.Name, res.Scale)
	}
	fcs := make(map[string][]originForecast, len(models))
	var names []string
	for _, m := range models {
		fc, err := forecastOrigins(s, m, origins, h, maxTrain, opts)
		if err != nil {
			res.Skipped[m.Name()] = err.Error()
			continue
		}
		fcs[m.Name()] = fc
		names = append(names, m.Name())
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("backtesting %s: no model could forecast: %v", s.Name, res.Skipped)
	}
	if opts.Select != nil {
		auto, sw, champ, err := selectOrigins(s, models, names, fcs, origins, h, maxTrain,
			res.Scale, opts)
		if err != nil {
			return nil, err
		}
		fcs[AutoModel] = auto
		names = append(names, AutoModel)
		res.Switches, res.Selected = sw, champ
	}
	for _, name := range names {
		for _, step := range opts.Horizons {
			res.Scores = append(res.Scores, scoreStep(s, name, fcs[name], origins, step, res.Scale))
		}
		if opts.OnForecast != nil {
			for i, o := range origins {
				f := fcs[name][i]
				for k := range h {
					opts.OnForecast(ForecastRecord{Model: name, Origin: s.Time(o), Step: k + 1,
						Actual: s.Values[o+k], P50: f.p50[k], P90: f.p90[k], P99: f.p99[k],
						Scored: s.Scored(o + k)})
				}
			}
		}
	}
	if res.Selected == "" {
		res.Selected = bestAt(res, names, opts.Horizons)
	}
	return res, nil
}

// mae1 is the mean |y(t) - y(t-m)| over t in [lo+m, hi) where both points
// are scored; m is day, or 1 when the window is not longer than a day.
func mae1(s *Series, lo, hi, day int) float64 {
	m := day
	if hi-lo <= m {
		m = 1
	}
	var sum float64
	var cnt int
	for t := lo + m; t < hi; t++ {
		if s.Scored(t) && s.Scored(t-m) {
			sum += math.Abs(s.Values[t] - s.Values[t-m])
			cnt++
		}
	}
	if cnt == 0 {
		return math.NaN()
	}
	return sum / float64(cnt)
}

func meanAbs(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += math.Abs(v)
	}
	return s / float64(max(len(x), 1))
}

func forecastOrigins(s *Series, m Model, origins []int, h, maxTrain int,
	opts BacktestOptions) ([]originForecast, error) {
	f, err := NewForecaster(ForecasterOptions{Model: m, Calibration: opts.Calibration,
		SingleFit: opts.SingleFit})
	if err != nil {
		return nil, err
	}
	out := make([]originForecast, len(origins))
	for i, o := range origins {
		start := time.Now()
		fc, err := f.Forecast(s.Slice(max(0, o-maxTrain), o), h)
		if err != nil {
			return nil, err
		}
		out[i] = originForecast{p50: fc.P50, p90: fc.P90, p99: fc.P99,
			seconds: time.Since(start).Seconds()}
	}
	return out, nil
}

// windowScore is the mean scaled absolute error over the scored steps of
// one forecast; NaN when no step is scored.
func windowScore(s *Series, o int, f originForecast, scale float64) float64 {
	var sum float64
	var cnt int
	for k, p := range f.p50 {
		if s.Scored(o + k) {
			sum += math.Abs(s.Values[o+k] - p)
			cnt++
		}
	}
	if cnt == 0 {
		return math.NaN()
	}
	return sum / float64(cnt) / scale
}

// selectOrigins builds the AutoModel forecasts. The selector first sees
// windows placed inside the first origin's training data (forecast from
// data before each of them), then, at each origin, every earlier window
// whose h actuals lie before that origin.
func selectOrigins(s *Series, models []Model, names []string,
	fcs map[string][]originForecast, origins []int, h, maxTrain int, scale float64,
	opts BacktestOptions) ([]originForecast, []Switch, string, error) {
	sopts := *opts.Select
	if sopts.Logger == nil {
		sopts.Logger = slog.New(slog.DiscardHandler)
	}
	sopts.Logger = sopts.Logger.With("series", s.Name)
	sel := NewSelector(sopts)
	windows := sel.opts.Windows
	every := h
	if len(origins) > 1 {
		every = max(origins[1]-origins[0], 1)
	}
	var switches []Switch
	record := func(sw Switch, ok bool) {
		if ok {
			switches = append(switches, sw)
		}
	}
	// Warm-up windows end before the first origin.
	var warm []int
	for k := windows; k >= 1; k-- {
		if o := origins[0] - h - (k-1)*every; o > 0 {
			warm = append(warm, o)
		}
	}
	warmFcs := map[string][]originForecast{}
	for _, m := range models {
		if !slices.Contains(names, m.Name()) {
			continue
		}
		// A model too short for the warm-up origins just sits them out.
		if fc, err := forecastOrigins(s, m, warm, h, maxTrain, opts); err == nil {
			warmFcs[m.Name()] = fc
		}
	}
	for i, o := range warm {
		scores := map[string]float64{}
		for _, name := range names {
			scores[name] = math.NaN() // known to the selector, not scored yet
			if fc, ok := warmFcs[name]; ok {
				scores[name] = windowScore(s, o, fc[i], scale)
			}
		}
		record(sel.Observe(scores))
	}
	auto := make([]originForecast, len(origins))
	next := 0
	for i, o := range origins {
		for ; next < i && origins[next]+h <= o; next++ {
			scores := map[string]float64{}
			for _, name := range names {
				scores[name] = windowScore(s, origins[next], fcs[name][next], scale)
			}
			record(sel.Observe(scores))
		}
		champ := sel.Champion()
		if champ == "" {
			champ = names[0]
		}
		auto[i] = fcs[champ][i]
	}
	return auto, switches, sel.Champion(), nil
}

// bestAt names the model with the lowest MASE at the middle horizon.
func bestAt(r *BacktestResult, names []string, horizons []int) string {
	step := horizons[len(horizons)/2]
	best, bestV := "", math.Inf(1)
	for _, n := range names {
		if sc, ok := r.Score(n, step); ok && sc.MASE < bestV {
			best, bestV = n, sc.MASE
		}
	}
	return best
}

func scoreStep(s *Series, name string, fc []originForecast, origins []int, step int,
	scale float64) Score {
	sc := Score{Model: name, Step: step}
	var abs, sm, act, cov90, cov99, pin, secs float64
	var smN int
	for i, o := range origins {
		secs += fc[i].seconds
		t := o + step - 1
		if !s.Scored(t) {
			continue
		}
		a, f := s.Values[t], fc[i].p50[step-1]
		e := math.Abs(a - f)
		abs += e
		act += math.Abs(a)
		if d := math.Abs(a) + math.Abs(f); d > 0 {
			sm += 2 * e / d
			smN++
		}
		q90 := fc[i].p90[step-1]
		if a <= q90 {
			cov90++
		}
		if a <= fc[i].p99[step-1] {
			cov99++
		}
		pin += math.Max(0.9*(a-q90), 0.1*(q90-a))
		sc.Forecasts++
	}
	sc.FitSeconds = secs / float64(len(origins))
	if sc.Forecasts == 0 {
		sc.MASE, sc.SMAPE, sc.WAPE = math.NaN(), math.NaN(), math.NaN()
		sc.CoverageP90, sc.CoverageP99, sc.PinballP90 = math.NaN(), math.NaN(), math.NaN()
		return sc
	}
	nf := float64(sc.Forecasts)
	sc.MASE = abs / nf / scale
	sc.SMAPE = math.NaN()
	if smN > 0 {
		sc.SMAPE = sm / float64(smN)
	}
	sc.WAPE = math.NaN()
	if act > 0 {
		sc.WAPE = abs / act
	}
	sc.CoverageP90 = cov90 / nf
	sc.CoverageP99 = cov99 / nf
	sc.PinballP90 = pin / nf / scale
	return sc
}
