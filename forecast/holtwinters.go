package forecast

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/optimize"
)

// Trend selects the trend component of Holt-Winters.
type Trend uint8

const (
	// TrendNone has no trend: the level carries forward flat.
	TrendNone Trend = iota
	// TrendAdditive adds a linear trend.
	TrendAdditive
	// TrendDamped adds a trend whose slope decays by phi per step.
	TrendDamped
)

// Season selects the seasonal component of Holt-Winters.
type Season uint8

const (
	// SeasonNone has no season.
	SeasonNone Season = iota
	// SeasonAdditive adds a seasonal offset.
	SeasonAdditive
	// SeasonMultiplicative scales the level by a seasonal factor. It needs
	// strictly positive data.
	SeasonMultiplicative
)

// HoltWintersOptions configures [NewHoltWinters].
type HoltWintersOptions struct {
	// Period is the season length in points (e.g. 288 for a day of 5-minute
	// points). It must be at least 2 unless Season is SeasonNone.
	Period int
	// Trend and Season pick the components.
	Trend  Trend
	Season Season
	// Name labels the model; empty derives one from the components.
	Name string
	// MaxEvaluations bounds the objective evaluations of the parameter
	// search; zero means 400.
	MaxEvaluations int
}

// HoltWinters is exponential smoothing with level, optional (damped) trend
// and optional additive or multiplicative season.
type HoltWinters struct {
	opts HoltWintersOptions
}

// NewHoltWinters returns a Holt-Winters model. With additive season and
// damped trend the recursions are, for smoothing weights alpha, beta,
// gamma and damping phi:
//
//	l(t) = alpha*(y(t) - s(t-m)) + (1-alpha)*(l(t-1) + phi*b(t-1))
//	b(t) = beta*(l(t) - l(t-1)) + (1-beta)*phi*b(t-1)
//	s(t) = gamma*(y(t) - l(t-1) - phi*b(t-1)) + (1-gamma)*s(t-m)
//	yhat(t+k) = l(t) + (phi + phi^2 + ... + phi^k)*b(t) + s(t+k-m)
//
// The multiplicative season divides instead of subtracting and multiplies
// the level-plus-trend by s in the forecast. phi is 1 for TrendAdditive
// and b is 0 for TrendNone. Fit chooses the weights by minimising the sum
// of squared one-step errors with Nelder-Mead, subject to 0 < alpha < 1,
// 0 < beta < alpha, 0 < gamma < 1-alpha and 0.8 < phi < 0.98.
func NewHoltWinters(opts HoltWintersOptions) (*HoltWinters, error) {
	if opts.Season != SeasonNone && opts.Period < 2 {
		return nil, fmt.Errorf("creating holt-winters model: period %d is below 2", opts.Period)
	}
	if opts.Trend > TrendDamped || opts.Season > SeasonMultiplicative {
		return nil, fmt.Errorf("creating holt-winters model: unknown trend %d or season %d",
			opts.Trend, opts.Season)
	}
	if opts.Season == SeasonNone {
		opts.Period = 1
	}
	if opts.MaxEvaluations == 0 {
		opts.MaxEvaluations = 400
	}
	if opts.Name == "" {
		opts.Name = "holt-winters"
		switch opts.Trend {
		case TrendAdditive:
			opts.Name += "-trend"
		case TrendDamped:
			opts.Name += "-damped"
		}
		if opts.Season == SeasonMultiplicative {
			opts.Name += "-mul"
		}
	}
	return &HoltWinters{opts: opts}, nil
}

// Name returns the model's label.
func (m *HoltWinters) Name() string { return m.opts.Name }

// MinPoints returns two seasons (or 4 points without a season).
func (m *HoltWinters) MinPoints() int { return max(2*m.opts.Period, 4) }

// hwParams are the smoothing weights of one Holt-Winters fit.
type hwParams struct{ alpha, beta, gamma, phi float64 }

// hwState is the level, trend and seasonal ring after some prefix of the
// data; season[t%m] is the latest seasonal value for phase t%m.
type hwState struct {
	level, trend float64
	season       []float64
}

// Fit estimates the smoothing weights on y.
func (m *HoltWinters) Fit(y []float64) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	if m.opts.Season == SeasonMultiplicative {
		for i, v := range y {
			if v <= 0 {
				return nil, fmt.Errorf("fitting %s: value %d is %g; a multiplicative "+
					"season needs positive data", m.Name(), i, v)
			}
		}
	}
	init := m.initial(y)
	f := &hwFit{opts: m.opts, init: init}
	work := hwState{season: make([]float64, len(init.season))}
	obj := func(x []float64) float64 {
		p := m.decode(x)
		work.level, work.trend = init.level, init.trend
		copy(work.season, init.season)
		sse := f.run(p, &work, y, 0)
		if math.IsNaN(sse) || math.IsInf(sse, 0) {
			return math.MaxFloat64
		}
		return sse
	}
	x0 := []float64{logit(0.3), logit(0.1), logit(0.1), logit(0.8)}
	x0 = x0[:m.dims()]
	res, err := optimize.Minimize(optimize.Problem{Func: obj}, x0,
		&optimize.Settings{FuncEvaluations: m.opts.MaxEvaluations,
			Converger: &optimize.FunctionConverge{Absolute: 1e-10, Relative: 1e-5,
				Iterations: 20}},
		&optimize.NelderMead{})
	if err != nil && res == nil {
		return nil, fmt.Errorf("fitting %s: minimising one-step error: %w", m.Name(), err)
	}
	f.params = m.decode(res.X)
	f.state = hwState{level: init.level, trend: init.trend,
		season: append([]float64(nil), init.season...)}
	f.run(f.params, &f.state, y, 0)
	f.n = len(y)
	return f, nil
}

func (m *HoltWinters) dims() int {
	d := 1
	if m.opts.Trend != TrendNone {
		d++
	}
	if m.opts.Season != SeasonNone {
		d++
	}
	if m.opts.Trend == TrendDamped {
		d++
	}
	return d
}

// decode maps the unconstrained search vector to the weights; the layout
// is alpha, then beta if there is a trend, gamma if there is a season, phi
// if the trend is damped.
func (m *HoltWinters) decode(x []float64) hwParams {
	p := hwParams{phi: 1}
	p.alpha = 1e-4 + (1-2e-4)*sigmoid(x[0])
	i := 1
	if m.opts.Trend != TrendNone {
		p.beta = p.alpha * sigmoid(x[i])
		i++
	}
	if m.opts.Season != SeasonNone {
		p.gamma = (1 - p.alpha) * sigmoid(x[i])
		i++
	}
	if m.opts.Trend == TrendDamped {
		p.phi = 0.8 + 0.18*sigmoid(x[i])
	}
	if m.opts.Trend == TrendNone {
		p.phi = 0
	}
	return p
}

// initial estimates the starting state from the first (up to three)
// seasons: trend is the change of the seasonal means per step, level the
// first season's mean taken back to before its first point, season the
// average deviation (or ratio) from each season's trend line.
func (m *HoltWinters) initial(y []float64) hwState {
	p := m.opts.Period
	st := hwState{season: make([]float64, p)}
	if m.opts.Season == SeasonNone {
		st.level = y[0]
		if m.opts.Trend != TrendNone {
			st.trend = (y[min(3, len(y)-1)] - y[0]) / float64(min(3, len(y)-1))
		}
		return st
	}
	k := min(len(y)/p, 3)
	means := make([]float64, k)
	for j := range k {
		means[j] = mean(y[j*p : (j+1)*p])
	}
	if m.opts.Trend != TrendNone && k > 1 {
		st.trend = (means[k-1] - means[0]) / float64((k-1)*p)
	}
	// A season's mean sits at its middle; the state is the one before the
	// first point, half a season and one step earlier.
	mid := float64(p-1) / 2
	st.level = means[0] - st.trend*(mid+1)
	for i := range p {
		var acc float64
		for j := range k {
			base := means[j] + st.trend*(float64(i)-mid)
			if m.opts.Season == SeasonMultiplicative {
				if base <= 0 {
					base = means[j]
				}
				acc += y[j*p+i] / base
			} else {
				acc += y[j*p+i] - base
			}
		}
		st.season[i] = acc / float64(k)
	}
	return st
}

type hwFit struct {
	opts   HoltWintersOptions
	params hwParams
	init   hwState
	state  hwState // after the n training points
	n      int
}

// run advances st over y[from:], where st is the state after y[:from],
// and returns the sum of squared one-step errors. Each component choice
// has a loop of its own: this is the inner loop of the parameter search.
func (f *hwFit) run(p hwParams, st *hwState, y []float64, from int) float64 {
	var acc float64
	m := len(st.season)
	ph := from % m
	l, b, s := st.level, st.trend, st.season
	a1, g1 := 1-p.alpha, 1-p.gamma
	switch f.opts.Season {
	case SeasonMultiplicative:
		for t := from; t < len(y); t++ {
			base := l + p.phi*b
			sv := s[ph]
			e := y[t] - base*sv
			acc += e * e
			nl := p.alpha*(y[t]/sv) + a1*base
			if base != 0 {
				s[ph] = p.gamma*(y[t]/base) + g1*sv
			}
			b = p.beta*(nl-l) + (1-p.beta)*p.phi*b
			l = nl
			if ph++; ph == m {
				ph = 0
			}
		}
	case SeasonAdditive:
		for t := from; t < len(y); t++ {
			base := l + p.phi*b
			sv := s[ph]
			e := y[t] - base - sv
			acc += e * e
			nl := p.alpha*(y[t]-sv) + a1*base
			s[ph] = p.gamma*(y[t]-base) + g1*sv
			b = p.beta*(nl-l) + (1-p.beta)*p.phi*b
			l = nl
			if ph++; ph == m {
				ph = 0
			}
		}
	default:
		for t := from; t < len(y); t++ {
			base := l + p.phi*b
			e := y[t] - base
			acc += e * e
			nl := base + p.alpha*e
			b = p.beta*(nl-l) + (1-p.beta)*p.phi*b
			l = nl
		}
	}
	st.level, st.trend = l, b
	return acc
}

// forecastFrom writes the forecasts after origin o (state st is after
// y[:o]).
func (f *hwFit) forecastFrom(st *hwState, o int, dst []float64) {
	m := len(st.season)
	damp := 0.0
	pk := 1.0
	for k := range dst {
		pk *= f.params.phi
		damp += pk
		if f.opts.Trend == TrendAdditive {
			damp = float64(k + 1)
		}
		base := st.level + damp*st.trend
		switch f.opts.Season {
		case SeasonMultiplicative:
			dst[k] = base * st.season[(o+k)%m]
		case SeasonAdditive:
			dst[k] = base + st.season[(o+k)%m]
		default:
			dst[k] = base
		}
	}
}

func (f *hwFit) Forecast(dst []float64) {
	f.forecastFrom(&f.state, f.n, dst)
}

func (f *hwFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	st := hwState{level: f.state.level, trend: f.state.trend,
		season: append([]float64(nil), f.state.season...)}
	f.run(f.params, &st, y[:from], f.n)
	buf := make([]float64, h)
	for o := from; o <= len(y); o++ {
		f.forecastFrom(&st, o, buf)
		emit(o, buf)
		if o < len(y) {
			f.run(f.params, &st, y[:o+1], o)
		}
	}
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}
