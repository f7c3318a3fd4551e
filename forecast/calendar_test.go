package forecast

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // a zone with summer time, whatever the machine has

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// friday is midnight UTC at the start of Friday 1 November 2024.
var friday = time.Date(2024, 11, 1, 0, 0, 0, 0, time.UTC)

// officeHours returns n points of testDay per day from start: a level of
// 100 with a daily sine of amplitude 5, plus 50 from 09:00 to 17:00 on
// working days, plus seeded noise of standard deviation sd.
func officeHours(start time.Time, n int, sd float64, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 2))
	step := 24 * time.Hour / testDay
	y := make([]float64, n)
	for t := range y {
		at := start.Add(time.Duration(t) * step)
		y[t] = 100 + 5*math.Sin(2*math.Pi*float64(t)/testDay) + sd*rng.NormFloat64()
		if wd := at.Weekday(); wd != time.Saturday && wd != time.Sunday &&
			at.Hour() >= 9 && at.Hour() < 17 {
			y[t] += 50
		}
	}
	return y
}

// Trained on Friday to Monday 08:00, a working-day profile expects
// Monday's office hours; the profile of all days, mostly weekend, does not.
func TestWorkweekForecastsMonday(t *testing.T) {
	const train, h = 3*testDay + 16, 24 // to Monday 08:00, then 12 hours
	y := officeHours(friday, train+h, 1, 1)
	clock := Clock{Start: friday, Step: 24 * time.Hour / testDay}
	ari, _ := NewAutoregressive(AutoregressiveOptions{Order: 4, Differenced: true})
	dec, _ := NewDecomposed(DecomposedOptions{Period: testDay, Level: ari, Workweek: true})
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}, {7 * testDay, 2}},
		AR: 2, Workweek: true})
	for _, m := range []Model{dec, harm} {
		t.Run(m.Name(), func(t *testing.T) {
			plain, err := m.Fit(y[:train])
			if err != nil {
				t.Fatal(err)
			}
			week, err := FitAt(m, y[:train], clock)
			if err != nil {
				t.Fatal(err)
			}
			pf, wf := make([]float64, h), make([]float64, h)
			plain.Forecast(pf)
			week.Forecast(wf)
			// Office hours are steps 3..18 (09:00 to 17:00). One Friday
			// and a third of Monday, shrunk by one day, give the
			// working-day profile 4/7 of its weight: about +29 of the 50.
			var pe, we float64
			for k := 2; k < 18; k++ {
				pe += math.Abs(y[train+k] - pf[k])
				we += math.Abs(y[train+k] - wf[k])
				if k >= 4 && k < 16 && wf[k] < pf[k]+10 { // 10:00 to 16:00
					t.Errorf("step %d: working-day forecast %.1f is not well above %.1f",
						k+1, wf[k], pf[k])
				}
			}
			if we > 0.75*pe {
				t.Errorf("office-hours error %.0f with working days apart, %.0f without: "+
					"want at most three quarters", we, pe)
			}
		})
	}
}

// Without both kinds of day in the data, or with two whole weeks (the
// weekly profile then applies), Workweek changes nothing.
func TestWorkweekFallsBack(t *testing.T) {
	monday := friday.AddDate(0, 0, 3)
	tests := []struct {
		name  string
		start time.Time
		n     int
	}{
		{"working days only", monday, 3 * testDay},
		{"two weeks", friday, 14 * testDay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			y := officeHours(tt.start, tt.n, 1, 3)
			clock := Clock{Start: tt.start, Step: 24 * time.Hour / testDay}
			for _, opts := range []DecomposedOptions{
				{Period: testDay, LongPeriod: 7 * testDay},
				{Period: testDay, LongPeriod: 7 * testDay, Workweek: true},
			} {
				m, err := NewDecomposed(opts)
				if err != nil {
					t.Fatal(err)
				}
				a, err := m.Fit(y)
				if err != nil {
					t.Fatal(err)
				}
				b, err := FitAt(m, y, clock)
				if err != nil {
					t.Fatal(err)
				}
				fa, fb := make([]float64, 12), make([]float64, 12)
				a.Forecast(fa)
				b.Forecast(fb)
				if diff := cmp.Diff(fa, fb); diff != "" {
					t.Errorf("workweek %v: forecast moved (-plain +clocked):\n%s",
						opts.Workweek, diff)
				}
			}
		})
	}
}

// The weekday is read in the given location: 23:00 UTC on a Friday is
// Saturday morning nine hours east.
func TestWorkweekLocation(t *testing.T) {
	clock := Clock{Start: friday.Add(23 * time.Hour), Step: time.Hour}
	if newWorkweek(clock, nil).weekend(0) {
		t.Error("Friday 23:00 UTC counted as weekend in UTC")
	}
	if !newWorkweek(clock, time.FixedZone("UTC+9", 9*3600)).weekend(0) {
		t.Error("Friday 23:00 UTC not counted as weekend at UTC+9")
	}
	if w, r := newWorkweek(Clock{Start: friday, Step: time.Hour}, nil).count(72); w != 24 || r != 48 {
		t.Errorf("Friday to Sunday: %d working and %d weekend hours, want 24 and 48", w, r)
	}
}

// Wrappers hand the clock to the models they wrap: a combination of one
// model forecasts what the model does, fitted with or without times.
func TestWrappersPassTheClock(t *testing.T) {
	const train = 3*testDay + 16
	y := officeHours(friday, train, 1, 4)
	clock := Clock{Start: friday, Step: 24 * time.Hour / testDay}
	dec, _ := NewDecomposed(DecomposedOptions{Period: testDay, Workweek: true})
	combo, _ := NewCombination("", dec)
	cleaned, _ := NewCleaned(CleanedOptions{Model: dec, Threshold: 1e9})
	logged, _ := NewLogged(LoggedOptions{Model: dec})
	want, err := FitAt(dec, y, clock)
	if err != nil {
		t.Fatal(err)
	}
	wf := make([]float64, 12)
	want.Forecast(wf)
	for _, m := range []Model{combo, cleaned, logged} {
		t.Run(m.Name(), func(t *testing.T) {
			with, err := FitAt(m, y, clock)
			if err != nil {
				t.Fatal(err)
			}
			without, err := m.Fit(y)
			if err != nil {
				t.Fatal(err)
			}
			a, b := make([]float64, 12), make([]float64, 12)
			with.Forecast(a)
			without.Forecast(b)
			if cmp.Equal(a, b) {
				t.Error("the clock made no difference")
			}
			// The log scale moves the logged forecast a little.
			tol := 1e-9
			if m == Model(logged) {
				tol = 0.05
			}
			if diff := cmp.Diff(wf, a, cmpopts.EquateApprox(tol, 1e-9)); diff != "" {
				t.Errorf("clocked forecast differs from the model's (-model +wrapper):\n%s", diff)
			}
		})
	}
}

// On the logarithm a season proportional to the level is additive: the
// logged harmonic model follows a growing, proportionally swinging series
// closely; the raw one cannot.
func TestLoggedKnownAnswer(t *testing.T) {
	const n, h = 6 * testDay, testDay
	y := make([]float64, n+h)
	for i := range y {
		y[i] = 100 * math.Exp(0.004*float64(i)) * (1 + 0.5*math.Sin(2*math.Pi*float64(i)/testDay))
	}
	harm, _ := NewHarmonic(HarmonicOptions{Seasons: []Harmonics{{testDay, 3}}, Trend: true})
	logged, _ := NewLogged(LoggedOptions{Model: harm})
	f, err := logged.Fit(y[:n])
	if err != nil {
		t.Fatal(err)
	}
	got := make([]float64, h)
	f.Forecast(got)
	// The offset c (1% of the median) bends the log slightly: 2% allowed.
	if diff := cmp.Diff(y[n:], got, cmpopts.EquateApprox(0.02, 0)); diff != "" {
		t.Errorf("logged forecast off by more than 2%% (-want +got):\n%s", diff)
	}
	// A negative value: the model is fitted on the raw values.
	z := append([]float64(nil), y[:n]...)
	z[0] = -1
	raw, _ := harm.Fit(z)
	lf, _ := logged.Fit(z)
	a, b := make([]float64, h), make([]float64, h)
	raw.Forecast(a)
	lf.Forecast(b)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("series with a negative value (-raw +logged):\n%s", diff)
	}
	// All zeros: finite zeros, not NaN.
	zf, err := logged.Fit(make([]float64, n))
	if err != nil {
		t.Fatal(err)
	}
	zf.Forecast(b)
	for k, v := range b {
		if v != 0 {
			t.Fatalf("all zeros: step %d forecast %g", k+1, v)
		}
	}
}

// A series that was never negative is never forecast negative, even by a
// trend running down through zero; one that was keeps its sign.
func TestForecasterKeepsNonNegative(t *testing.T) {
	const n = 4 * testDay
	y := make([]float64, n)
	for i := range y {
		y[i] = 5 + 400*float64(n-1-i)/float64(n) // falls to 5 at the end
	}
	holt, _ := NewHoltWinters(HoltWintersOptions{Trend: TrendAdditive, Season: SeasonNone})
	f, _ := NewForecaster(ForecasterOptions{Model: holt})
	fc, err := f.Forecast(regular(t, y), 12)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range fc.P50 {
		if v < 0 {
			t.Fatalf("step %d: p50 %g below zero", k+1, v)
		}
	}
	if fc.P50[11] != 0 {
		t.Errorf("p50 at 12 steps = %g, want the trend cut at 0", fc.P50[11])
	}
	for i := range y {
		y[i] -= 10
	}
	fc, err = f.Forecast(regular(t, y), 12)
	if err != nil {
		t.Fatal(err)
	}
	if fc.P50[11] >= -10 {
		t.Errorf("p50 at 12 steps = %g on a series with negative values, want the trend "+
			"continued below -10", fc.P50[11])
	}
}

// Fitted with its clock, no default model's forecast from an origin moves
// when data after that origin changes.
func TestClockedWalkNeverSeesTheFuture(t *testing.T) {
	const n, h = 3*testDay + 16, 12
	y := officeHours(friday, n+2*h, 1, 5)
	clock := Clock{Start: friday, Step: 24 * time.Hour / testDay}
	models, err := DefaultModels(testDay)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range models {
		if m.MinPoints() > n {
			continue // the weekly seasonal naive
		}
		t.Run(m.Name(), func(t *testing.T) {
			f, err := FitAt(m, y[:n], clock)
			if err != nil {
				t.Fatal(err)
			}
			checkWalk(t, f, y, n, h, func(v float64) float64 { return 3 * v })
		})
	}
}

// The day-by-index answer agrees with converting every point's time, in
// a zone with summer time, across both of its changes of the year.
func TestWorkweekMatchesTimeConversion(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		start time.Time
		step  time.Duration
	}{
		{time.Date(2024, 3, 28, 22, 10, 0, 0, time.UTC), 5 * time.Minute},
		{time.Date(2024, 10, 24, 3, 0, 0, 0, time.UTC), 7 * time.Minute},
		{time.Date(2024, 10, 24, 3, 0, 0, 0, time.UTC), 25 * time.Hour},
	} {
		clock := Clock{Start: tt.start, Step: tt.step}
		w := newWorkweek(clock, berlin)
		for i := range 5000 {
			wd := clock.Time(i).In(berlin).Weekday()
			want := wd == time.Saturday || wd == time.Sunday
			if got := w.weekend(i); got != want {
				t.Fatalf("start %s step %s point %d (%s): weekend %v, want %v",
					tt.start, tt.step, i, clock.Time(i).In(berlin), got, want)
			}
		}
	}
}

// Seconds from the start of a trace, or no time column, carry no weekday;
// Unix seconds and dates do. A relative series is forecast as if its
// times were unknown.
func TestRelativeTimes(t *testing.T) {
	const n = 3*testDay + 16
	y := officeHours(friday, n, 1, 6)
	step := 24 * time.Hour / testDay
	csvOf := func(stamp func(i int) string) string {
		var b []byte
		b = append(b, "time,cpu\n"...)
		for i, v := range y {
			b = fmt.Appendf(b, "%s,%g\n", stamp(i), v)
		}
		return string(b)
	}
	tests := []struct {
		name     string
		csv      string
		opts     CSVOptions
		relative bool
	}{
		{"seconds from zero", csvOf(func(i int) string {
			return fmt.Sprint(int(time.Duration(i) * step / time.Second))
		}), CSVOptions{}, true},
		{"unix seconds", csvOf(func(i int) string {
			return fmt.Sprint(friday.Add(time.Duration(i) * step).Unix())
		}), CSVOptions{}, false},
		{"dates", csvOf(func(i int) string {
			return friday.Add(time.Duration(i) * step).Format(time.DateTime)
		}), CSVOptions{}, false},
		{"no time column", csvOf(func(int) string { return "x" }),
			CSVOptions{TimeColumn: "-", Column: "cpu", Interval: step}, true},
	}
	dec, _ := NewDecomposed(DecomposedOptions{Period: testDay, Workweek: true})
	f, _ := NewForecaster(ForecasterOptions{Model: dec})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := ReadCSV(strings.NewReader(tt.csv), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if s.Relative != tt.relative {
				t.Fatalf("Relative = %v, want %v", s.Relative, tt.relative)
			}
			if s.Slice(1, s.Len()).Relative != tt.relative {
				t.Error("Slice lost Relative")
			}
			fc, err := f.Forecast(s, 12)
			if err != nil {
				t.Fatal(err)
			}
			plain := *s
			plain.Start = friday.AddDate(0, 0, 1) // a Saturday: other weekdays
			other, err := f.Forecast(&plain, 12)
			if err != nil {
				t.Fatal(err)
			}
			if moved := !cmp.Equal(fc.P50, other.P50); moved == tt.relative {
				t.Errorf("forecast moved with the start date: %v, want %v", moved,
					!tt.relative)
			}
		})
	}
}
