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

// clockOf is the clock of s's points; unknown when s's times are
// relative.
func clockOf(s *Series) Clock {
	if s.Relative {
		return Clock{}
	}
	return Clock{Start: s.Start, Step: s.Step}
}

// workweek tells working days (Monday to Friday) from weekends for the
// points of one clock. It finds the local midnights after the start once
// (time.Date, so days of 23 or 25 hours are right) and then answers by
// index, without a time conversion per point.
type workweek struct {
	clock Clock
	loc   *time.Location
	first time.Weekday // of the local day holding the start
	// midnights[i] is the time from the start to the beginning of local
	// day i+1 (day 0 holds the start).
	midnights []time.Duration
	y, d      int
	m         time.Month
}

// newWorkweek returns the workweek of clock in loc (nil: the clock's own
// location).
func newWorkweek(clock Clock, loc *time.Location) *workweek {
	if loc == nil {
		loc = clock.Start.Location()
	}
	local := clock.Start.In(loc)
	y, m, d := local.Date()
	return &workweek{clock: clock, loc: loc, first: local.Weekday(), y: y, m: m, d: d}
}

// day returns the index of the local day that point t falls on.
func (w *workweek) day(t int) int {
	e := time.Duration(t) * w.clock.Step
	for len(w.midnights) == 0 || w.midnights[len(w.midnights)-1] <= e {
		next := time.Date(w.y, w.m, w.d+len(w.midnights)+1, 0, 0, 0, 0, w.loc)
		w.midnights = append(w.midnights, next.Sub(w.clock.Start))
	}
	i := min(int(e/(24*time.Hour)), len(w.midnights)-1)
	for i > 0 && w.midnights[i-1] > e {
		i--
	}
	for w.midnights[i] <= e {
		i++
	}
	return i
}

// weekend reports whether point t falls on a Saturday or Sunday.
func (w *workweek) weekend(t int) bool {
	switch (int(w.first) + w.day(t)) % 7 {
	case int(time.Saturday), int(time.Sunday):
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
