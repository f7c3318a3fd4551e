package forecast

import (
	"fmt"
	"math"
)

// Model is one forecasting method with its settings. Fit is safe to call
// from several goroutines at once; a Fitted value is not.
type Model interface {
	// Name identifies the model in reports, e.g. "holt-winters-damped".
	Name() string
	// MinPoints is the shortest training series Fit accepts.
	MinPoints() int
	// Fit estimates the model's parameters on y, which holds no NaN.
	Fit(y []float64) (Fitted, error)
}

// Fitted is a model with its parameters estimated on a training series.
type Fitted interface {
	// Forecast writes the point forecasts of the len(dst) steps that follow
	// the training series.
	Forecast(dst []float64)
	// Walk runs the model along y with its parameters frozen. y starts with
	// the training series and may go on past it. For every origin o from
	// from to len(y), both included, Walk calls emit with the forecasts of
	// y[o], ..., y[o+h-1] made from y[:o] alone. from must be at least the
	// training length. emit must not keep f.
	Walk(y []float64, from, h int, emit func(o int, f []float64))
}

// Naive forecasts the last value for every step.
type Naive struct{}

// NewNaive returns the naive model: y(t+k) = y(t).
func NewNaive() *Naive { return &Naive{} }

// Name returns "naive".
func (*Naive) Name() string { return "naive" }

// MinPoints returns 1.
func (*Naive) MinPoints() int { return 1 }

// Fit remembers the last value of y.
func (m *Naive) Fit(y []float64) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	return &naiveFit{last: y[len(y)-1]}, nil
}

type naiveFit struct{ last float64 }

func (f *naiveFit) Forecast(dst []float64) {
	for k := range dst {
		dst[k] = f.last
	}
}

func (f *naiveFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	buf := make([]float64, h)
	for o := from; o <= len(y); o++ {
		for k := range buf {
			buf[k] = y[o-1]
		}
		emit(o, buf)
	}
}

// SeasonalNaive forecasts the value one season earlier.
type SeasonalNaive struct {
	period int
	name   string
}

// NewSeasonalNaive returns the seasonal naive model with the given period
// in points: y(t+k) = y(t+k-m*ceil(k/m)). name labels it in reports; empty
// means "seasonal-naive-<period>".
func NewSeasonalNaive(period int, name string) (*SeasonalNaive, error) {
	if period < 1 {
		return nil, fmt.Errorf("creating seasonal naive model: period %d is not positive", period)
	}
	if name == "" {
		name = fmt.Sprintf("seasonal-naive-%d", period)
	}
	return &SeasonalNaive{period: period, name: name}, nil
}

// Name returns the model's label.
func (m *SeasonalNaive) Name() string { return m.name }

// MinPoints returns one period.
func (m *SeasonalNaive) MinPoints() int { return m.period }

// Fit remembers the last season of y.
func (m *SeasonalNaive) Fit(y []float64) (Fitted, error) {
	if err := checkTrain(m, y); err != nil {
		return nil, err
	}
	return &snaiveFit{period: m.period, last: y[len(y)-m.period:]}, nil
}

type snaiveFit struct {
	period int
	last   []float64
}

func (f *snaiveFit) Forecast(dst []float64) {
	for k := range dst {
		dst[k] = f.last[k%f.period]
	}
}

func (f *snaiveFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	buf := make([]float64, h)
	m := f.period
	for o := from; o <= len(y); o++ {
		for k := range buf {
			buf[k] = y[o-m+k%m]
		}
		emit(o, buf)
	}
}

// checkTrain rejects training data that is too short or not finite.
func checkTrain(m Model, y []float64) error {
	if len(y) < m.MinPoints() {
		return fmt.Errorf("fitting %s: %w: %d points, need %d",
			m.Name(), ErrTooFewPoints, len(y), m.MinPoints())
	}
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("fitting %s: value %d is %v", m.Name(), i, v)
		}
	}
	return nil
}
