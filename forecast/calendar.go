package forecast

import "time"

// Clock places the points of a training series in time: point i is at
// Start + i*Step. Models that know it can use the day of the week.
type Clock struct {
	Start time.Time
	Step  time.Duration
}

// Time returns the time of point i.
func (c Clock) Time(i int) time.Time { return c.Start.Add(time.Duration(i) * c.Step) }

// Known reports whether the clock says anything: a zero Step means the
// points' times are unknown.
func (c Clock) Known() bool { return c.Step > 0 }

// ClockedModel is a [Model] that can use the times of its training points,
// for example to keep working days and weekends apart. Callers that know
// the times use [FitAt]; Fit still works without them.
type ClockedModel interface {
	Model
	// FitAt is Fit with the times of y's points.
	FitAt(y []float64, c Clock) (Fitted, error)
}

// FitAt fits m on y, passing the clock when m can use it.
func FitAt(m Model, y []float64, c Clock) (Fitted, error) {
	if cm, ok := m.(ClockedModel); ok && c.Known() {
		return cm.FitAt(y, c)
	}
	return m.Fit(y)
}

// clockOf is the clock of s's points from index from on.
func clockOf(s *Series, from int) Clock { return Clock{Start: s.Time(from), Step: s.Step} }

// workweek tells working days (Monday to Friday) from weekends for the
// points of one clock.
type workweek struct {
	clock Clock
	loc   *time.Location
}

// newWorkweek returns the workweek of clock in loc (nil: the clock's own
// location).
func newWorkweek(clock Clock, loc *time.Location) *workweek {
	if loc == nil {
		loc = clock.Start.Location()
	}
	return &workweek{clock: clock, loc: loc}
}

// weekend reports whether point t falls on a Saturday or Sunday.
func (w *workweek) weekend(t int) bool {
	switch w.clock.Time(t).In(w.loc).Weekday() {
	case time.Saturday, time.Sunday:
		return true
	}
	return false
}

// count returns how many of the first n points fall on working days and
// on weekends.
func (w *workweek) count(n int) (work, rest int) {
	for t := range n {
		if !w.weekend(t) {
			work++
		}
	}
	return work, n - work
}
