package forecast

import (
	"errors"
	"math"
	"slices"
)

// LoggedOptions configures [NewLogged].
type LoggedOptions struct {
	// Model is fitted to the logarithm of the series. Required.
	Model Model
	// Name labels the model; empty means the model's name + "-log".
	Name string
}

// Logged fits a model to the logarithm of a non-negative series, so that
// swings proportional to the level (a busy hour twice the quiet one)
// become additive, and a forecast is never negative.
type Logged struct {
	opts LoggedOptions
}

// NewLogged returns the log-transformed model. On training data y >= 0 it
// fits the wrapped model to
//
//	x(t) = log(y(t) + c),  c = median of the positive y / 100 (1 if none)
//
// and forecasts max(0, exp(xhat) - c). exp of a forecast median is the
// median on the original scale, which is what absolute error rewards.
// Training data with a negative value is passed to the wrapped model
// unchanged.
func NewLogged(opts LoggedOptions) (*Logged, error) {
	if opts.Model == nil {
		return nil, errors.New("creating logged model: no model")
	}
	if opts.Name == "" {
		opts.Name = opts.Model.Name() + "-log"
	}
	return &Logged{opts: opts}, nil
}

// Name returns the model's label.
func (l *Logged) Name() string { return l.opts.Name }

// MinPoints is the wrapped model's.
func (l *Logged) MinPoints() int { return l.opts.Model.MinPoints() }

// Fit is FitAt without times.
func (l *Logged) Fit(y []float64) (Fitted, error) { return l.FitAt(y, Clock{}) }

// FitAt fits the wrapped model on the logarithm of y, passing the clock.
func (l *Logged) FitAt(y []float64, clock Clock) (Fitted, error) {
	if err := checkTrain(l, y); err != nil {
		return nil, err
	}
	if !nonNegative(y) {
		return FitAt(l.opts.Model, y, clock)
	}
	c := logOffset(y)
	x := logOf(y, c)
	f, err := FitAt(l.opts.Model, x, clock)
	if err != nil {
		return nil, err
	}
	// exp turns a wild log forecast into an infinite one: cap it at a
	// thousand times the largest training value.
	return &loggedFit{fit: f, c: c, top: slices.Max(x) + math.Log(1000)}, nil
}

// logOffset is a hundredth of the median positive value of y, 1 when
// none is positive: small enough to leave the shape alone, large enough
// that zeros do not become minus infinity.
func logOffset(y []float64) float64 {
	var pos []float64
	for _, v := range y {
		if v > 0 {
			pos = append(pos, v)
		}
	}
	if len(pos) == 0 {
		return 1
	}
	return quantile(pos, 0.5) / 100
}

func logOf(y []float64, c float64) []float64 {
	out := make([]float64, len(y))
	for i, v := range y {
		out[i] = math.Log(math.Max(v, 0) + c)
	}
	return out
}

type loggedFit struct {
	fit    Fitted
	c, top float64
}

func (f *loggedFit) back(dst []float64) {
	for k, v := range dst {
		dst[k] = math.Max(math.Exp(math.Min(v, f.top))-f.c, 0)
	}
}

func (f *loggedFit) Forecast(dst []float64) {
	f.fit.Forecast(dst)
	f.back(dst)
}

func (f *loggedFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	buf := make([]float64, h)
	f.fit.Walk(logOf(y, f.c), from, h, func(o int, fc []float64) {
		copy(buf, fc)
		f.back(buf)
		emit(o, buf)
	})
}
