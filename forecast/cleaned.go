package forecast

import (
	"fmt"
	"math"
	"slices"
)

// CleanedOptions configures [NewCleaned].
type CleanedOptions struct {
	// Model is the model fed the cleaned series. Required.
	Model Model
	// Window is the number of trailing points, the current one included,
	// whose median and spread judge each point. Zero means 9.
	Window int
	// Threshold is how many robust spreads from the median make a point an
	// outlier. Zero means 4.
	Threshold float64
	// Name labels the model; empty means "<model>-cleaned".
	Name string
}

// Cleaned replaces isolated outliers by the trailing median before another
// model sees the data (a causal Hampel filter), so one spike at the end of
// the history is not carried forward.
type Cleaned struct {
	opts CleanedOptions
}

// NewCleaned returns the wrapper. For each t with w = Window trailing
// points y(t-w+1..t), med their median and s = 1.4826 * their median
// absolute deviation from med,
//
//	x(t) = med   if |y(t) - med| > Threshold * s
//	x(t) = y(t)  otherwise
//
// Only past and present points are used, so cleaning a prefix gives the
// same values as cleaning the whole series.
func NewCleaned(opts CleanedOptions) (*Cleaned, error) {
	if opts.Model == nil {
		return nil, fmt.Errorf("creating cleaned model: no model")
	}
	if opts.Window == 0 {
		opts.Window = 9
	}
	if opts.Threshold == 0 {
		opts.Threshold = 4
	}
	if opts.Window < 3 || !(opts.Threshold > 0) {
		return nil, fmt.Errorf("creating cleaned model: window %d below 3 or threshold %g "+
			"not positive", opts.Window, opts.Threshold)
	}
	if opts.Name == "" {
		opts.Name = opts.Model.Name() + "-cleaned"
	}
	return &Cleaned{opts: opts}, nil
}

// Name returns the model's label.
func (c *Cleaned) Name() string { return c.opts.Name }

// MinPoints is the wrapped model's.
func (c *Cleaned) MinPoints() int { return c.opts.Model.MinPoints() }

// Fit cleans y and fits the wrapped model on the result.
func (c *Cleaned) Fit(y []float64) (Fitted, error) { return c.FitAt(y, Clock{}) }

// FitAt is Fit with the times of y's points, passed to the wrapped model.
func (c *Cleaned) FitAt(y []float64, clock Clock) (Fitted, error) {
	if err := checkTrain(c, y); err != nil {
		return nil, err
	}
	f, err := FitAt(c.opts.Model, c.clean(y), clock)
	if err != nil {
		return nil, fmt.Errorf("fitting %s: %w", c.Name(), err)
	}
	return &cleanedFit{c: c, fit: f}, nil
}

func (c *Cleaned) clean(y []float64) []float64 {
	w := c.opts.Window
	out := make([]float64, len(y))
	win := make([]float64, 0, w)
	dev := make([]float64, 0, w)
	for t, v := range y {
		out[t] = v
		if t+1 < w {
			continue
		}
		win = append(win[:0], y[t-w+1:t+1]...)
		slices.Sort(win)
		med := win[w/2]
		dev = dev[:0]
		for _, x := range win {
			dev = append(dev, math.Abs(x-med))
		}
		slices.Sort(dev)
		if s := 1.4826 * dev[w/2]; math.Abs(v-med) > c.opts.Threshold*s && s > 0 {
			out[t] = med
		}
	}
	return out
}

type cleanedFit struct {
	c   *Cleaned
	fit Fitted
}

func (f *cleanedFit) Forecast(dst []float64) { f.fit.Forecast(dst) }

func (f *cleanedFit) Walk(y []float64, from, h int, emit func(int, []float64)) {
	f.fit.Walk(f.c.clean(y), from, h, emit)
}
