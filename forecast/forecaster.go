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
	// SingleFit skips the refit on all the data: the forecast comes from
	// the calibration fit walked to the end of the series, with its
	// parameters frozen. It halves the cost; the parameters then have not
	// seen the last Calibration points (the state has).
	SingleFit bool
}

// minCalibrationErrors is the fewest out-of-sample errors behind the
// quantiles of the last step; fewer make intervals too narrow to trust.
const minCalibrationErrors = 36

// Forecaster fits a model and attaches prediction intervals calibrated on
// the model's own out-of-sample errors.
type Forecaster struct {
	model  Model
	calib  int
	single bool
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
	return &Forecaster{model: opts.Model, calib: c, single: opts.SingleFit}, nil
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
	// P50, P90 and P99 are the 50th, 90th and 99th percentiles. P50 is
	// Point; P90 and P99 add how far the 90th and 99th percentiles of the
	// out-of-sample errors at that step lie above their median (errors
	// relative to the level for a series that is never negative, see
	// [Forecaster.Forecast]), widened where needed so that no step is
	// narrower than the one before.
	P50, P90, P99 []float64
	// Scale is a robust spread of the errors at that step:
	// 1.4826 * median(|e - median(e)|), which equals the standard
	// deviation for normal errors. It is never below a tiny positive floor.
	Scale []float64
	// Samples is the number of out-of-sample errors behind each step.
	Samples []int
	// MAE is the mean absolute out-of-sample error at each step: a
	// rolling-origin score of the model on the data before the forecast.
	MAE []float64
}

// Forecast fits the model on s and predicts h steps with intervals.
//
// Calibration: the model is fitted on s without its last c points, then
// walked over them with its parameters frozen, forecasting h steps from
// every origin; the errors e = actual - forecast at each step (on points
// that are not Filled) give that step's quantiles. The model is then
// refitted on all of s for the forecast itself.
//
// When no value of s is negative, forecasts are cut at zero and the
// quantiles are those of e / max(forecast, L) times max(p50, L), L a tenth
// of the mean of |s|: the interval widens with the level forecast.
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
	out := &Forecast{
		Model: f.model.Name(), Start: s.Time(n), Step: s.Step,
		Point: make([]float64, h), P50: make([]float64, h), P90: make([]float64, h),
		P99: make([]float64, h), Scale: make([]float64, h), Samples: make([]int, h),
		MAE: make([]float64, h),
	}
	floor := levelFloor(s.Values)
	errs, bases, err := f.calibrate(s, n-c, h, floor, out.Point)
	if err != nil {
		return nil, err
	}
	if len(errs[0]) == 0 {
		return nil, fmt.Errorf("forecasting %s with %s: the last %d points are all filled "+
			"gaps, so no interval can be calibrated", s.Name, f.model.Name(), c)
	}
	if !f.single {
		fit, err := FitAt(f.model, s.Values, clockOf(s))
		if err != nil {
			return nil, fmt.Errorf("forecasting %s: %w", s.Name, err)
		}
		fit.Forecast(out.Point)
	}
	// A series that was never negative (CPU, memory, pods) is not
	// forecast negative, and its errors are taken relative to the level
	// forecast, since such series swing more when they are busy.
	nonNeg := nonNegative(s.Values)
	if nonNeg {
		for k := range out.Point {
			out.Point[k] = math.Max(out.Point[k], 0)
		}
	}
	buf := make([]float64, s.Len())
	for k := range h {
		e, b := errs[k], bases[k]
		if len(e) == 0 && k > 0 {
			// No scored actual this far ahead: borrow the previous step's
			// spread rather than pretend to be sure.
			e, b = errs[k-1], bases[k-1]
		}
		errs[k], bases[k] = e, b
		out.Samples[k] = len(e)
		out.MAE[k] = meanAbs(e)
		out.P50[k] = out.Point[k]
		var q50, up90, up99 float64
		if nonNeg {
			rel := buf[:len(e)]
			for i := range e {
				rel[i] = e[i] / b[i]
			}
			r50, r90, r99 := upperQuantiles(rel)
			level := math.Max(out.Point[k], floor)
			up90, up99 = (r90-r50)*level, (r99-r50)*level
			q50 = quantile(e, 0.5)
		} else {
			var q90, q99 float64
			q50, q90, q99 = upperQuantiles(e)
			up90, up99 = q90-q50, q99-q50
		}
		if k > 0 { // uncertainty does not shrink with the horizon
			up90 = math.Max(up90, out.P90[k-1]-out.P50[k-1])
			up99 = math.Max(up99, out.P99[k-1]-out.P50[k-1])
		}
		out.P90[k] = out.Point[k] + up90
		out.P99[k] = out.Point[k] + up99
		out.Scale[k] = robustScale(e, q50, out.Point[k], buf)
	}
	return out, nil
}

// calibrate returns the out-of-sample errors per step, the level each
// was made at (the forecast, at least floor) and writes the frozen
// model's forecast from the end of s into last.
func (f *Forecaster) calibrate(s *Series, head, h int, floor float64,
	last []float64) (errs, bases [][]float64, err error) {
	fit, err := FitAt(f.model, s.Values[:head], clockOf(s))
	if err != nil {
		return nil, nil, fmt.Errorf("calibrating %s on %s: %w", f.model.Name(), s.Name, err)
	}
	n := s.Len()
	errs = make([][]float64, h)
	bases = make([][]float64, h)
	for k := range errs {
		errs[k] = make([]float64, 0, n-head)
		bases[k] = make([]float64, 0, n-head)
	}
	fit.Walk(s.Values, head, h, func(o int, fc []float64) {
		if o == n {
			copy(last, fc)
		}
		for k := 0; k < h && o+k < n; k++ {
			if s.Scored(o + k) {
				e := s.Values[o+k] - fc[k]
				if !math.IsNaN(e) && !math.IsInf(e, 0) {
					errs[k] = append(errs[k], e)
					bases[k] = append(bases[k], math.Max(fc[k], floor))
				}
			}
		}
	})
	return errs, bases, nil
}

// levelFloor is the smallest level relative errors are taken against: a
// tenth of the mean absolute value of y, so that errors made near zero do
// not become huge ratios.
func levelFloor(y []float64) float64 {
	return math.Max(0.1*meanAbs(y), 1e-12)
}

// quantile returns the p-quantile of x by linear interpolation between
// order statistics (position p*(n-1)); 0 for empty x. It reorders x.
func quantile(x []float64, p float64) float64 {
	if len(x) == 0 {
		return 0
	}
	q, _ := quantileFrom(x, p, 0)
	return q
}

// quantileFrom is quantile for non-empty x whose order statistic at
// position p*(n-1) lies in x[from:], every value before from being no
// larger than those after it (what an earlier selection leaves). It also
// returns that position, rounded down.
func quantileFrom(x []float64, p float64, from int) (float64, int) {
	pos := p * float64(len(x)-1)
	i := int(pos)
	lo := nthElement(x[from:], i-from)
	if i >= len(x)-1 {
		return lo, i
	}
	hi := slices.Min(x[i+1:])
	return lo + (pos-float64(i))*(hi-lo), i
}

// upperQuantiles returns the 0.5, 0.9 and 0.99 quantiles of x as
// quantile does, reordering x. Each selection runs on the part of x above
// the previous one, which a selection leaves in place.
func upperQuantiles(x []float64) (q50, q90, q99 float64) {
	if len(x) == 0 {
		return 0, 0, 0
	}
	q50, i := quantileFrom(x, 0.5, 0)
	q90, i = quantileFrom(x, 0.9, i)
	q99, _ = quantileFrom(x, 0.99, i)
	return q50, q90, q99
}

// nthElement reorders x so that x[k] is the value a full sort would put
// there, everything before it no larger and everything after no smaller,
// and returns x[k]. It is Hoare's selection with a median-of-three pivot:
// linear time on average, where sorting would be n log n.
func nthElement(x []float64, k int) float64 {
	lo, hi := 0, len(x)-1
	for hi > lo {
		mid := lo + (hi-lo)/2
		if x[mid] < x[lo] {
			x[mid], x[lo] = x[lo], x[mid]
		}
		if x[hi] < x[lo] {
			x[hi], x[lo] = x[lo], x[hi]
		}
		if x[hi] < x[mid] {
			x[hi], x[mid] = x[mid], x[hi]
		}
		pivot := x[mid]
		i, j := lo, hi
		for i <= j {
			for x[i] < pivot {
				i++
			}
			for x[j] > pivot {
				j--
			}
			if i <= j {
				x[i], x[j] = x[j], x[i]
				i++
				j--
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return x[k]
		}
	}
	return x[k]
}

// robustScale returns 1.4826 * MAD of x around med, floored at
// 1e-9 * max(1, |level|) so that scores never divide by zero. buf is
// scratch space of at least len(x).
func robustScale(x []float64, med, level float64, buf []float64) float64 {
	floor := 1e-9 * math.Max(1, math.Abs(level))
	if len(x) == 0 {
		return floor
	}
	d := buf[:len(x)]
	for i, v := range x {
		d[i] = math.Abs(v - med)
	}
	return math.Max(1.4826*quantile(d, 0.5), floor)
}

// nonNegative reports whether no value of y is below zero.
func nonNegative(y []float64) bool {
	for _, v := range y {
		if v < 0 {
			return false
		}
	}
	return true
}
