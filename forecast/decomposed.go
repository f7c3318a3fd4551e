package forecast

import (
	"fmt"
	"math"
	"time"
)

// DecomposedOptions configures [NewDecomposed].
type DecomposedOptions struct {
	// Period is the main season in points (a day). Required, at least 4.
	Period int
	// LongPeriod is an optional second season (a week), used only when the
	// training data holds at least two of them; 0 means none.
	LongPeriod int
	// HalfLife is the age, in main seasons, at which a past season weighs
	// half as much as the latest in the seasonal profile. Zero means 3.
	HalfLife float64
	// Smooth is the width in points of the circular mean that smooths the
	// main profile; the long profile uses Smooth*2+3. Zero means 5.
	Smooth int
	// Level forecasts the seasonally adjusted series; nil means damped
	// Holt ([NewHoltWinters] with TrendDamped and SeasonNone).
	Level Model
	// Workweek keeps separate main profiles for working days (Monday to
	// Friday) and weekends when the points' times are known ([FitAt]), the
	// long profile is not in use (too little data for two long periods)
	// and the training data holds at least a day of each kind. It is a
	// weekly season that needs days, not weeks, of history.
	Workweek bool
	// Location decides where days begin and which weekday a point falls
	// on; nil means the location of the clock's start time.
	Location *time.Location
	// Name labels the model; empty means "decomposed".
	Name string
}

// Decomposed removes a seasonal profile estimated from the recent seasons
// and forecasts the seasonally adjusted series with damped Holt
// exponential smoothing, then adds the profile back.
type Decomposed struct {
	opts  DecomposedOptions
	level Model
}

// NewDecomposed returns the decomposition model. The seasonal profile is
// estimated as follows, for a main period m:
//
//	T(t)  = centred moving average of y over m points (2 x m when m is even)
//	d(t)  = y(t) - T(t)
//	S(j)  = sum_t w(t)*d(t) / sum_t w(t) over t = j mod m,
//	        w(t) = 0.5^(age(t)/(HalfLife*m)), age counted from the last T
//	S     = S smoothed by a circular Smooth-point mean, shifted to mean zero
//
// and the same on d(t) - S(t mod m) for the long period (with a
// 2*Smooth+3-point smoother). With Workweek and too little data for the
// long period, S is instead one profile for working days and one for
// weekends (see workweekProfiles). The adjusted series y(t) - S(t) - L(t)
// is forecast with the Level model, damped Holt by default.
func NewDecomposed(opts DecomposedOptions) (*Decomposed, error) {
	if opts.Period < 4 {
		return nil, fmt.Errorf("creating decomposed model: period %d is below 4", opts.Period)
	}
	if opts.LongPeriod != 0 && opts.LongPeriod < 2*opts.Period {
		return nil, fmt.Errorf("creating decomposed model: long period %d is below twice "+
			"the period %d", opts.LongPeriod, opts.Period)
	}
	if opts.HalfLife == 0 {
		opts.HalfLife = 3
	}
	if opts.Smooth == 0 {
		opts.Smooth = 5
	}
	if opts.Smooth < 1 || opts.Smooth > opts.Period {
		return nil, fmt.Errorf("creating decomposed model: smoothing width %d is not in "+
			"1..%d", opts.Smooth, opts.Period)
	}
	if opts.HalfLife < 0 || math.IsNaN(opts.HalfLife) {
		return nil, fmt.Errorf("creating decomposed model: half-life %g is not positive",
			opts.HalfLife)
	}
	if opts.Name == "" {
		opts.Name = "decomposed"
	}
	if opts.Level != nil {
		return &Decomposed{opts: opts, level: opts.Level}, nil
	}
	level, err := NewHoltWinters(HoltWintersOptions{Trend: TrendDamped, Season: SeasonNone,
		Name: opts.Name + "-level", MaxEvaluations: 200})
	if err != nil {
		return nil, err
	}
	return &Decomposed{opts: opts, level: level}, nil
}

// Name returns the model's label.
func (m *Decomposed) Name() string { return m.opts.Name }

// MinPoints returns two main periods, or the level model's minimum if
// larger.
func (m *Decomposed) MinPoints() int { return max(2*m.opts.Period, m.level.MinPoints()) }

type decomposedFit struct {
	period, long int
	short, longS []float64 // profiles by phase
	// With week set, short is the working-day profile and weekend the
	// weekend one.
	week    *workweek
	weekend []float64
	level   Fitted
	n       int
}

// Fit estimates the profiles and the level model on y.
func (m *Decomposed) Fit(y []float64) (Fitted, error) { return m.FitAt(y, Clock{}) }

// FitAt is Fit with the times of y's points, which the Workweek option
// needs.
func (m *Decomposed) FitAt(y []float64, clock Clock) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	n := len(y)
	p := m.opts.Period
	f := &decomposedFit{period: p, n: n}
	trend, lo, hi := centredMean(y, p)
	d := make([]float64, n)
	for t := lo; t < hi; t++ {
		d[t] = y[t] - trend[t]
	}
	tau := m.opts.HalfLife * float64(p)
	f.short = profile(d, lo, hi, p, tau, m.opts.Smooth, nil)
	longOK := m.opts.LongPeriod > 0 && n >= 2*m.opts.LongPeriod
	if m.opts.Workweek && clock.Known() && !longOK {
		f.workweekProfiles(y, newWorkweek(clock, m.opts.Location), tau, m.opts.Smooth)
	}
	if lp := m.opts.LongPeriod; longOK {
		for t := lo; t < hi; t++ {
			d[t] -= f.short[t%p]
		}
		f.long = lp
		f.longS = profile(d, lo, hi, lp, m.opts.HalfLife*float64(lp), 2*m.opts.Smooth+3, nil)
	}
	adj := make([]float64, n)
	for t := range y {
		adj[t] = y[t] - f.season(t)
	}
	lf, err := m.level.Fit(adj)
	if err != nil {
		return nil, fmt.Errorf("fitting %s: %w", m.Name(), err)
	}
	f.level = lf
	return f, nil
}

// workweekProfiles replaces the main profile with one for working days
// and one for weekends when y holds at least a period of each. Both are
// deviations from one level, the mean of y, so that a working day's
// higher level is part of its profile and the change of kind at midnight
// adds no step; every point counts, since the only working day is often
// at an end where the centred mean is not defined. Each is shrunk towards
// the profile of all days as if one more period had followed it:
//
//	S_kind = (d*S_kind_raw + S_all) / (d + 1),  d = periods of that kind
func (f *decomposedFit) workweekProfiles(y []float64, w *workweek, tau float64, smooth int) {
	n, p := len(y), f.period
	work, rest := w.count(n)
	if work < p || rest < p {
		return
	}
	mu := mean(y)
	d := make([]float64, n)
	for t, v := range y {
		d[t] = v - mu
	}
	all := profile(d, 0, n, p, tau, smooth, nil)
	isWork := func(t int) bool { return !w.weekend(t) }
	f.short = shrink(profile(d, 0, n, p, tau, smooth, isWork), all, float64(work)/float64(p))
	f.weekend = shrink(profile(d, 0, n, p, tau, smooth, w.weekend), all, float64(rest)/float64(p))
	f.week = w
}

// shrink moves x towards the profile toward by one period's weight
// against days periods of x's own data, in place.
func shrink(x, toward []float64, days float64) []float64 {
	w := days / (days + 1)
	for j := range x {
		x[j] = w*x[j] + (1-w)*toward[j]
	}
	return x
}

func (f *decomposedFit) season(t int) float64 {
	if f.week != nil && f.week.weekend(t) {
		return f.weekend[t%f.period]
	}
	v := f.short[t%f.period]
	if f.long > 0 {
		v += f.longS[t%f.long]
	}
	return v
}

func (f *decomposedFit) Forecast(dst []float64) {
	f.level.Forecast(dst)
	for k := range dst {
		dst[k] += f.season(f.n + k)
	}
}

func (f *decomposedFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	adj := make([]float64, len(y))
	for t := range y {
		adj[t] = y[t] - f.season(t)
	}
	buf := make([]float64, h)
	f.level.Walk(adj, from, h, func(o int, fc []float64) {
		for k := range buf {
			buf[k] = fc[k] + f.season(o+k)
		}
		emit(o, buf)
	})
}

// centredMean returns the centred moving average of y over m points
// (for even m the 2 x m average that weighs the two end points by half)
// and the range [lo, hi) where it is defined.
func centredMean(y []float64, m int) ([]float64, int, int) {
	n := len(y)
	out := make([]float64, n)
	half := m / 2
	lo, hi := half, n-half
	if hi <= lo {
		return out, 0, 0
	}
	prefix := make([]float64, n+1)
	for i, v := range y {
		prefix[i+1] = prefix[i] + v
	}
	for t := lo; t < hi; t++ {
		if m%2 == 1 {
			out[t] = (prefix[t+half+1] - prefix[t-half]) / float64(m)
			continue
		}
		inner := prefix[t+half] - prefix[t-half+1]
		out[t] = (inner + 0.5*(y[t-half]+y[t+half])) / float64(m)
	}
	return out, lo, hi
}

// profile is the exponentially weighted mean of d by phase t mod period
// over the points of [lo, hi) that keep accepts (all when keep is nil),
// smoothed by a circular mean of width smooth and shifted to mean zero.
// tau is the age in points at which a weight halves.
func profile(d []float64, lo, hi, period int, tau float64, smooth int,
	keep func(int) bool) []float64 {
	sum := make([]float64, period)
	wsum := make([]float64, period)
	decay := math.Pow(0.5, 1/tau)
	w := 1.0
	for t := hi - 1; t >= lo; t-- {
		if keep != nil && !keep(t) {
			w *= decay
			continue
		}
		sum[t%period] += w * d[t]
		wsum[t%period] += w
		w *= decay
	}
	raw := make([]float64, period)
	for j := range raw {
		if wsum[j] > 0 {
			raw[j] = sum[j] / wsum[j]
		}
	}
	out := make([]float64, period)
	half := smooth / 2
	var total float64
	for j := range out {
		var acc float64
		for k := -half; k <= half; k++ {
			acc += raw[((j+k)%period+period)%period]
		}
		out[j] = acc / float64(2*half+1)
		total += out[j]
	}
	mu := total / float64(period)
	for j := range out {
		out[j] -= mu
	}
	return out
}
