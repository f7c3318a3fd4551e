package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// State is the anomaly state of a series as the expander reads it.
type State string

const (
	// StateNormal means recent points are where the forecast expected.
	StateNormal State = "normal"
	// StateAnomalous means the latest point, or the recent run of points,
	// is far from the forecast.
	StateAnomalous State = "anomalous"
	// StateRecovering means points are back within bounds after an anomaly
	// but not yet for long enough to call the series normal.
	StateRecovering State = "recovering"
)

// Kind says what tripped the detector.
type Kind string

const (
	// KindNone: nothing tripped.
	KindNone Kind = ""
	// KindPoint: one point's score reached Threshold.
	KindPoint Kind = "point"
	// KindShift: the mean score of the last ShiftWindow points reached
	// ShiftThreshold, a level shift the forecast did not expect.
	KindShift Kind = "shift"
)

// DetectorOptions configures [NewDetector]. Zero values take the defaults
// in brackets, chosen on NAB's realKnownCause series (see
// docs/forecast.md), not on the AWS series the detector is reported on.
type DetectorOptions struct {
	// Threshold is the |score| at which a single point is anomalous [8].
	Threshold float64
	// ShiftWindow is the number of latest scores averaged to detect level
	// shifts [6]; a negative value turns shift detection off.
	ShiftWindow int
	// ShiftThreshold is the |mean score| over ShiftWindow at which the
	// series is anomalous [3].
	ShiftThreshold float64
	// Recovery is the number of in-bounds points that lead from
	// recovering back to normal [72, six hours of 5-minute points].
	Recovery int
}

// Detector turns a stream of scores (standardised residuals) into an
// anomaly state. It is not safe for concurrent use.
type Detector struct {
	opts   DetectorOptions
	recent []float64 // ring of the last ShiftWindow scores
	next   int
	filled int
	state  State
	calm   int // in-bounds points since the last anomalous one
}

// Verdict is the detector's reading after one point.
type Verdict struct {
	// Score is the point's standardised residual (actual - p50) / scale.
	Score float64
	// ShiftScore is the mean Score over the last ShiftWindow points.
	ShiftScore float64
	// State is the state after this point.
	State State
	// Kind says what made the point anomalous, if anything.
	Kind Kind
	// Onset is true when this point moved the state from normal to
	// anomalous: the start of a new alert.
	Onset bool
}

// NewDetector returns a detector in the normal state.
func NewDetector(opts DetectorOptions) (*Detector, error) {
	if opts.Threshold == 0 {
		opts.Threshold = 8
	}
	if opts.ShiftWindow == 0 {
		opts.ShiftWindow = 12
	}
	if opts.ShiftThreshold == 0 {
		opts.ShiftThreshold = 3
	}
	if opts.Recovery == 0 {
		opts.Recovery = 72
	}
	if opts.Threshold < 0 || opts.ShiftThreshold < 0 || opts.Recovery < 0 ||
		math.IsNaN(opts.Threshold) || math.IsNaN(opts.ShiftThreshold) {
		return nil, fmt.Errorf("creating detector: thresholds %g, %g and recovery %d "+
			"must be positive", opts.Threshold, opts.ShiftThreshold, opts.Recovery)
	}
	d := &Detector{opts: opts, state: StateNormal}
	if opts.ShiftWindow > 0 {
		d.recent = make([]float64, opts.ShiftWindow)
	}
	return d, nil
}

// State returns the current state.
func (d *Detector) State() State { return d.state }

// Observe feeds one score and advances the state:
//
//	anomalous  if |score| >= Threshold
//	           or |mean of the last ShiftWindow scores| >= ShiftThreshold
//	recovering if the previous state was anomalous or recovering and fewer
//	           than Recovery in-bounds points have passed since
//	normal     otherwise
//
// A NaN score (no forecast for the point) keeps the state and counts
// toward nothing.
func (d *Detector) Observe(score float64) Verdict {
	v := Verdict{Score: score, ShiftScore: math.NaN(), State: d.state}
	if math.IsNaN(score) {
		return v
	}
	if len(d.recent) > 0 {
		d.recent[d.next] = score
		d.next = (d.next + 1) % len(d.recent)
		d.filled = min(d.filled+1, len(d.recent))
		if d.filled == len(d.recent) {
			v.ShiftScore = mean(d.recent)
		}
	}
	switch {
	case math.Abs(score) >= d.opts.Threshold:
		v.Kind = KindPoint
	case math.Abs(v.ShiftScore) >= d.opts.ShiftThreshold:
		v.Kind = KindShift
	}
	prev := d.state
	switch {
	case v.Kind != KindNone:
		d.state, d.calm = StateAnomalous, 0
	case prev == StateNormal:
	default:
		d.calm++
		d.state = StateRecovering
		if d.calm >= d.opts.Recovery {
			d.state = StateNormal
		}
	}
	v.State = d.state
	v.Onset = prev == StateNormal && d.state == StateAnomalous
	return v
}

// MonitorOptions configures [NewMonitor].
type MonitorOptions struct {
	// Forecaster makes the forecasts that points are scored against.
	// Required unless Candidates is set.
	Forecaster *Forecaster
	// Candidates, when set, replaces Forecaster: at every refit each
	// candidate forecasts, the forecasts of the previous refit are scored
	// (mean absolute error over the points since) and fed to a [Selector]
	// configured by Select, and the champion's forecast is the one points
	// are scored against. Before the first choice the first candidate that
	// can forecast is used.
	Candidates []*Forecaster
	// Select configures the champion selection over Candidates.
	Select SelectorOptions
	// Start is the time of the first observed point and Step the interval
	// between points [5 minutes]; they date the forecasts.
	Start time.Time
	Step  time.Duration
	// Window is the most points kept and trained on [4032].
	Window int
	// Refit is the number of points between refits; each forecast covers
	// that many steps [12].
	Refit int
	// Detector configures the anomaly state machine.
	Detector DetectorOptions
}

// Monitor follows a live series point by point: it keeps a sliding window
// of history, refits its forecaster every Refit points, scores each new
// point against the forecast made for it and tracks the anomaly state.
// It is not safe for concurrent use.
type Monitor struct {
	opts    MonitorOptions
	det     *Detector
	hist    []float64
	quality []Quality
	fc      *Forecast
	fcAt    int // points seen when fc was made
	seen    int
	lastErr error
	sel     *Selector
	candFc  map[string]*Forecast // the candidates' forecasts made at fcAt
}

// NewMonitor returns a monitor with no history.
func NewMonitor(opts MonitorOptions) (*Monitor, error) {
	if opts.Forecaster == nil && len(opts.Candidates) == 0 {
		return nil, errors.New("creating monitor: no forecaster")
	}
	if opts.Window == 0 {
		opts.Window = 4032
	}
	if opts.Refit == 0 {
		opts.Refit = 12
	}
	if opts.Step == 0 {
		opts.Step = 5 * time.Minute
	}
	if opts.Window < 0 || opts.Refit < 0 || opts.Step < 0 {
		return nil, fmt.Errorf("creating monitor: window %d, refit %d and step %s must be "+
			"positive", opts.Window, opts.Refit, opts.Step)
	}
	det, err := NewDetector(opts.Detector)
	if err != nil {
		return nil, fmt.Errorf("creating monitor: %w", err)
	}
	m := &Monitor{opts: opts, det: det}
	if len(opts.Candidates) > 0 {
		m.sel = NewSelector(opts.Select)
	}
	return m, nil
}

// Observe adds the next point of the series. A NaN value is a missing
// point: it is filled with the forecast's p50 (or the last value) for
// training and not scored. The verdict's Score is NaN while there is no
// forecast yet (the history is too short to calibrate one).
func (m *Monitor) Observe(v float64) Verdict {
	var verdict Verdict
	missing := math.IsNaN(v) || math.IsInf(v, 0)
	k := m.seen - m.fcAt
	var p50, scale float64 = math.NaN(), math.NaN()
	if m.fc != nil && k < len(m.fc.P50) {
		p50, scale = m.fc.P50[k], m.fc.Scale[k]
	}
	q := Observed
	if missing {
		q = Filled
		switch {
		case !math.IsNaN(p50):
			v = p50
		case len(m.hist) > 0:
			v = m.hist[len(m.hist)-1]
		default:
			v = 0
		}
		verdict = Verdict{Score: math.NaN(), ShiftScore: math.NaN(), State: m.det.State()}
	} else {
		verdict = m.det.Observe((v - p50) / scale)
	}
	m.hist = append(m.hist, v)
	m.quality = append(m.quality, q)
	if over := len(m.hist) - m.opts.Window; over > 0 {
		m.hist = append(m.hist[:0], m.hist[over:]...)
		m.quality = append(m.quality[:0], m.quality[over:]...)
	}
	m.seen++
	if m.fc == nil || m.seen-m.fcAt >= m.opts.Refit {
		m.refit()
	}
	return verdict
}

func (m *Monitor) refit() {
	first := m.seen - len(m.hist)
	s := &Series{Name: "monitor", Start: m.opts.Start.Add(time.Duration(first) * m.opts.Step),
		Step: m.opts.Step, Values: m.hist, Quality: m.quality}
	if m.sel != nil {
		m.refitCandidates(s)
		return
	}
	fc, err := m.opts.Forecaster.Forecast(s, m.opts.Refit)
	m.lastErr = err
	if err != nil {
		if !errors.Is(err, ErrTooFewPoints) {
			m.fc = nil
		}
		return
	}
	m.fc, m.fcAt = fc, m.seen
}

// refitCandidates scores the candidates' previous forecasts, lets the
// selector update its champion, and forecasts with every candidate.
func (m *Monitor) refitCandidates(s *Series) {
	if done := m.seen - m.fcAt; m.candFc != nil && done > 0 {
		scores := map[string]float64{}
		for _, f := range m.opts.Candidates {
			// A candidate that could not forecast yet is known, not scored.
			scores[f.Model().Name()] = math.NaN()
		}
		for name, fc := range m.candFc {
			scores[name] = m.windowError(fc, done)
		}
		m.sel.Observe(scores)
	}
	next := map[string]*Forecast{}
	var first *Forecast
	var errs []error
	for _, f := range m.opts.Candidates {
		fc, err := f.Forecast(s, m.opts.Refit)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		next[fc.Model] = fc
		if first == nil {
			first = fc
		}
	}
	m.lastErr = errors.Join(errs...)
	if first == nil {
		return
	}
	m.candFc, m.fcAt = next, m.seen
	m.fc = first
	if fc, ok := next[m.sel.Champion()]; ok {
		m.fc = fc
	}
}

// windowError is the mean absolute error of fc over the last done points,
// Filled points left out; NaN when none is scored.
func (m *Monitor) windowError(fc *Forecast, done int) float64 {
	var sum float64
	var n int
	base := len(m.hist) - done
	for k := 0; k < done && k < len(fc.P50); k++ {
		if i := base + k; i >= 0 && m.quality[i] != Filled {
			sum += math.Abs(m.hist[i] - fc.P50[k])
			n++
		}
	}
	if n == 0 {
		return math.NaN()
	}
	return sum / float64(n)
}

// Champion names the model the monitor forecasts with: the selector's
// champion with Candidates, else the forecaster's model; "" before the
// first forecast.
func (m *Monitor) Champion() string {
	if m.fc == nil {
		return ""
	}
	return m.fc.Model
}

// Forecast returns the latest forecast, or nil before the first one. Its
// first step is the next point to be observed only right after a refit.
func (m *Monitor) Forecast() *Forecast { return m.fc }

// Err returns the error of the latest refit, if it failed.
func (m *Monitor) Err() error { return m.lastErr }

// State returns the current anomaly state.
func (m *Monitor) State() State { return m.det.State() }
