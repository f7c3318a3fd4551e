package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ForecasterOptions configures [NewForecaster].
type ForecasterOptions struct {
	// Model is the forecasting method. Required.
	Model Model
	// Calibration is the number of points at the end of the training data
	// held out to measure the model's out-of-sample errors. Zero means
	// 576 (two days of 5-minute points), capped at a third of the data.
	Calibration int
}

// minCalibrationErrors is the fewest out-of-sample errors behind the
// quantiles of the last step; fewer make intervals too narrow to trust.
const minCalibrationErrors = 36

// Forecaster fits a model and attaches prediction intervals calibrated on
// the model's own out-of-sample errors.
type Forecaster struct {
	model Model
	calib int
}

// NewForecaster returns a forecaster for opts.Model.
func NewForecaster(opts ForecasterOptions) (*Forecaster, error) {
	if opts.Model == nil {
		return nil, errors.New("creating forecaster: no model")
	}
	if opts.Calibration < 0 {
		return nil, fmt.Errorf("creating forecaster: negative calibration %d", opts.Calibration)
	}
	c := opts.Calibration
	if c == 0 {
		c = 576
	}
	return &Forecaster{model: opts.Model, calib: c}, nil
}

// Model returns the forecaster's model.
func (f *Forecaster) Model() Model { return f.model }

// Forecast is a prediction of the steps after a series ends. Every slice
// has one entry per step; entry k is for Start + k*Step.
type Forecast struct {
	// Model names the model that made the forecast.
	Model string
	// Start is the time of the first step; Step the grid interval.
	Start time.Time
	Step  time.Duration
	// Point is the model's own forecast.
	Point []float64
	// P50, P90 and P99 are the 50th, 90th and 99th percentiles: Point plus
	// the matching quantile of the out-of-sample errors at that step.
	P50, P90, P99 []float64
	// Scale is a robust spread of the errors at that step:
	// 1.4826 * median(|e - median(e)|), which equals the standard
	// deviation for normal errors. It is never below a tiny positive floor.
	Scale []float64
	// Samples is the number of out-of-sample errors behind each step.
	Samples []int
}

// Forecast fits the model on s and predicts h steps with intervals.
//
// Calibration: the model is fitted on s without its last c points, then
// walked over them with its parameters frozen, forecasting h steps from
// every origin; the errors e = actual - forecast at each step (on points
// that are not Filled) give that step's quantiles. The model is then
// refitted on all of s for the forecast itself.
func (f *Forecaster) Forecast(s *Series, h int) (*Forecast, error) {
	if h < 1 {
		return nil, fmt.Errorf("forecasting %s: horizon %d is not positive", s.Name, h)
	}
	n := s.Len()
	c := min(f.calib, n/3, n-f.model.MinPoints())
	if need := h + minCalibrationErrors; c < need {
		return nil, fmt.Errorf("forecasting %s with %s: %w: %d points leave %d for "+
			"calibration, need %d", s.Name, f.model.Name(), ErrTooFewPoints, n, max(c, 0), need)
	}
	errs, err := f.calibrate(s, n-c, h)
	if err != nil {
		return nil, err
	}
	fit, err := f.model.Fit(s.Values)
	if err != nil {
		return nil, fmt.Errorf("forecasting %s: %w", s.Name, err)
	}
	out := &Forecast{
		Model: f.model.Name(), Start: s.Time(n), Step: s.Step,
		Point: make([]float64, h), P50: make([]float64, h), P90: make([]float64, h),
		P99: make([]float64, h), Scale: make([]float64, h), Samples: make([]int, h),
	}
	fit.Forecast(out.Point)
	for k := range h {
		e := errs[k]
		if len(e) == 0 && k > 0 {
			// No scored actual this far ahead: borrow the previous step's
			// spread rather than pretend to be sure.
			e = errs[k-1]
		}
		errs[k] = e
		out.Samples[k] = len(e)
		q50, q90, q99 := quantile(e, 0.5), quantile(e, 0.9), quantile(e, 0.99)
		out.P50[k] = out.Point[k]
		out.P90[k] = out.Point[k] + q90 - q50
		out.P99[k] = out.Point[k] + q99 - q50
		out.Scale[k] = robustScale(e, q50, out.Point[k])
	}
	return out, nil
}

// calibrate returns the sorted out-of-sample errors per step.
func (f *Forecaster) calibrate(s *Series, head, h int) ([][]float64, error) {
	fit, err := f.model.Fit(s.Values[:head])
	if err != nil {
		return nil, fmt.Errorf("calibrating %s on %s: %w", f.model.Name(), s.Name, err)
	}
	n := s.Len()
	errs := make([][]float64, h)
	for k := range errs {
		errs[k] = make([]float64, 0, n-head)
	}
	fit.Walk(s.Values, head, h, func(o int, fc []float64) {
		for k := 0; k < h && o+k < n; k++ {
			if s.Scored(o + k) {
				e := s.Values[o+k] - fc[k]
				if !math.IsNaN(e) && !math.IsInf(e, 0) {
					errs[k] = append(errs[k], e)
				}
			}
		}
	})
	for k := range errs {
		slices.Sort(errs[k])
	}
	return errs, nil
}

// quantile returns the p-quantile of sorted x by linear interpolation
// between order statistics (position p*(n-1)); 0 for empty x.
func quantile(x []float64, p float64) float64 {
	if len(x) == 0 {
		return 0
	}
	pos := p * float64(len(x)-1)
	i := int(pos)
	if i >= len(x)-1 {
		return x[len(x)-1]
	}
	w := pos - float64(i)
	return x[i] + w*(x[i+1]-x[i])
}

// robustScale returns 1.4826 * MAD of sorted x around med, floored at
// 1e-9 * max(1, |level|) so that scores never divide by zero.
func robustScale(x []float64, med, level float64) float64 {
	floor := 1e-9 * math.Max(1, math.Abs(level))
	if len(x) == 0 {
		return floor
	}
	d := make([]float64, len(x))
	for i, v := range x {
		d[i] = math.Abs(v - med)
	}
	slices.Sort(d)
	return math.Max(1.4826*quantile(d, 0.5), floor)
}
