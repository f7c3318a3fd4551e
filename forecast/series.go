package forecast

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Quality says where a value on the grid came from.
type Quality uint8

const (
	// Observed values were measured (the mean of the samples in the bucket).
	Observed Quality = iota
	// Interpolated values fill a short gap linearly between its neighbours.
	// They are used for training and scored like observed values.
	Interpolated
	// Filled values stand in for a long gap. They are used for training
	// only and never scored.
	Filled
)

// String returns the lower-case name of q.
func (q Quality) String() string {
	switch q {
	case Observed:
		return "observed"
	case Interpolated:
		return "interpolated"
	case Filled:
		return "filled"
	}
	return fmt.Sprintf("quality(%d)", uint8(q))
}

// Series is a metric on a regular time grid: Values[i] belongs to
// Start + i*Step. Values holds no NaN; Quality[i] tells whether Values[i]
// was observed, interpolated or filled.
type Series struct {
	// Name identifies the series in reports.
	Name string
	// Start is the time of Values[0].
	Start time.Time
	// Step is the grid interval.
	Step time.Duration
	// Values are the grid values, one per step.
	Values []float64
	// Quality has one entry per value.
	Quality []Quality
	// Relative marks times counted from an arbitrary zero (a trace's
	// seconds since its start, or no times at all): they order the points
	// but carry no calendar, so models are given no weekdays.
	Relative bool
}

// Len returns the number of grid points.
func (s *Series) Len() int { return len(s.Values) }

// Time returns the time of grid point i.
func (s *Series) Time(i int) time.Time { return s.Start.Add(time.Duration(i) * s.Step) }

// PerDay returns the number of grid points in 24 hours, or 0 when a day is
// not a whole number of steps.
func (s *Series) PerDay() int { return pointsPer(24*time.Hour, s.Step) }

// Slice returns the sub-series of points [from, to). It shares memory with
// s.
func (s *Series) Slice(from, to int) *Series {
	return &Series{
		Name:     s.Name,
		Start:    s.Time(from),
		Step:     s.Step,
		Values:   s.Values[from:to:to],
		Quality:  s.Quality[from:to:to],
		Relative: s.Relative,
	}
}

// Scored reports whether point i counts in error statistics.
func (s *Series) Scored(i int) bool { return s.Quality[i] != Filled }

func pointsPer(period, step time.Duration) int {
	if step <= 0 || period%step != 0 {
		return 0
	}
	return int(period / step)
}

// GridOptions controls how samples are put on the grid.
type GridOptions struct {
	// Step is the grid interval. Zero infers it as the lower median of the
	// spacings between samples, near-duplicates left out.
	Step time.Duration
	// MaxInterpolate is the longest gap filled by linear interpolation.
	// Zero means one hour. Longer gaps are filled with the value one day
	// earlier (or the last value when there is no day before) and marked
	// Filled.
	MaxInterpolate time.Duration
}

// GapReport counts what building the grid did to the samples.
type GapReport struct {
	// Samples is the number of samples given.
	Samples int
	// Points is the number of grid points.
	Points int
	// Merged counts samples averaged into a bucket that already had one.
	Merged int
	// Dropped counts samples that were NaN or infinite.
	Dropped int
	// Irregular counts samples more than a quarter step off the grid.
	Irregular int
	// Gaps is the number of runs of empty buckets.
	Gaps int
	// Interpolated and Filled count grid points by how they were made.
	Interpolated, Filled int
	// LongestGap is the longest run of empty buckets.
	LongestGap time.Duration
}

// ErrTooFewPoints is returned (wrapped) when a series is too short for
// what was asked of it.
var ErrTooFewPoints = errors.New("too few points")

// FromSamples puts timestamped samples on a regular grid that starts at the
// earliest sample. Samples in one bucket (the nearest grid point) are
// averaged; NaN and infinite values are dropped. Times need not be sorted.
// A grid of more than 2,000,000 points (a typo in a timestamp, say) is
// refused rather than allocated.
func FromSamples(name string, times []time.Time, values []float64,
	opts GridOptions) (*Series, GapReport, error) {
	var rep GapReport
	rep.Samples = len(values)
	if len(times) != len(values) {
		return nil, rep, fmt.Errorf("building series %q: %d times for %d values",
			name, len(times), len(values))
	}
	idx := make([]int, 0, len(times))
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			rep.Dropped++
			continue
		}
		idx = append(idx, i)
	}
	if len(idx) < 2 {
		return nil, rep, fmt.Errorf("building series %q: %w: %d usable samples",
			name, ErrTooFewPoints, len(idx))
	}
	slices.SortStableFunc(idx, func(a, b int) int { return times[a].Compare(times[b]) })
	step := opts.Step
	if step == 0 {
		step = medianSpacing(times, idx)
	}
	if step <= 0 {
		return nil, rep, fmt.Errorf("building series %q: cannot infer a step: "+
			"samples share one timestamp", name)
	}
	start := times[idx[0]]
	span := times[idx[len(idx)-1]].Sub(start)
	n := int(math.Round(float64(span)/float64(step))) + 1
	const maxPoints = 2_000_000 // 23 days at 1 s, 19 years at 5 min
	if n > maxPoints {
		return nil, rep, fmt.Errorf("building series %q: %d grid points at step %s "+
			"exceeds %d", name, n, step, maxPoints)
	}
	sum := make([]float64, n)
	cnt := make([]int, n)
	for _, i := range idx {
		off := float64(times[i].Sub(start)) / float64(step)
		b := int(math.Round(off))
		if math.Abs(off-float64(b)) > 0.25 {
			rep.Irregular++
		}
		if cnt[b] > 0 {
			rep.Merged++
		}
		sum[b] += values[i]
		cnt[b]++
	}
	for b := range sum {
		if cnt[b] == 0 {
			sum[b] = math.NaN()
		} else {
			sum[b] /= float64(cnt[b])
		}
	}
	s, grep, err := NewSeries(name, start, step, sum, opts)
	grep.Samples, grep.Merged, grep.Dropped, grep.Irregular =
		rep.Samples, rep.Merged, rep.Dropped, rep.Irregular
	return s, grep, err
}

func medianSpacing(times []time.Time, idx []int) time.Duration {
	d := make([]time.Duration, 0, len(idx))
	for k := 1; k < len(idx); k++ {
		if dt := times[idx[k]].Sub(times[idx[k-1]]); dt > 0 {
			d = append(d, dt)
		}
	}
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	// Near-duplicate samples (a spacing under half the typical one) would
	// drag the median down; leave them out, then take the lower median.
	typical := d[len(d)/2]
	k := 0
	for k < len(d) && d[k] < typical/2 {
		k++
	}
	d = d[k:]
	return d[(len(d)-1)/2]
}

// NewSeries builds a series from values already on a grid; NaN marks a
// missing value. Gaps up to opts.MaxInterpolate are interpolated linearly,
// longer ones filled (see [GridOptions]); leading and trailing gaps are cut.
// values is not modified.
func NewSeries(name string, start time.Time, step time.Duration, values []float64,
	opts GridOptions) (*Series, GapReport, error) {
	rep := GapReport{Samples: len(values)}
	if step <= 0 {
		return nil, rep, fmt.Errorf("building series %q: step %s is not positive", name, step)
	}
	first, last := -1, -1
	for i, v := range values {
		if math.IsInf(v, 0) {
			return nil, rep, fmt.Errorf("building series %q: value %d is infinite", name, i)
		}
		if !math.IsNaN(v) {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		return nil, rep, fmt.Errorf("building series %q: %w: no values", name, ErrTooFewPoints)
	}
	maxGap := opts.MaxInterpolate
	if maxGap == 0 {
		maxGap = time.Hour
	}
	maxSteps := int(maxGap / step)
	perDay := pointsPer(24*time.Hour, step)
	y := slices.Clone(values[first : last+1])
	q := make([]Quality, len(y))
	for i := 0; i < len(y); {
		if !math.IsNaN(y[i]) {
			i++
			continue
		}
		j := i
		for math.IsNaN(y[j]) {
			j++
		}
		// y[i-1] and y[j] are observed; [i, j) is the gap.
		gap := j - i
		rep.Gaps++
		rep.LongestGap = max(rep.LongestGap, time.Duration(gap)*step)
		if gap <= maxSteps {
			a, b := y[i-1], y[j]
			for k := i; k < j; k++ {
				w := float64(k-i+1) / float64(gap+1)
				y[k] = a + w*(b-a)
				q[k] = Interpolated
			}
			rep.Interpolated += gap
		} else {
			for k := i; k < j; k++ {
				if perDay > 0 && k >= perDay {
					y[k] = y[k-perDay]
				} else {
					y[k] = y[i-1]
				}
				q[k] = Filled
			}
			rep.Filled += gap
		}
		i = j
	}
	rep.Points = len(y)
	return &Series{Name: name, Start: start.Add(time.Duration(first) * step),
		Step: step, Values: y, Quality: q}, rep, nil
}
