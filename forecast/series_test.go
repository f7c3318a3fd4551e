package forecast

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC)

func TestNewSeriesGaps(t *testing.T) {
	nan := math.NaN()
	step := 10 * time.Minute
	tests := []struct {
		name    string
		in      []float64
		opts    GridOptions
		want    []float64
		quality []Quality
		report  GapReport
	}{
		{
			name: "no gaps", in: []float64{1, 2, 3},
			want: []float64{1, 2, 3}, quality: []Quality{0, 0, 0},
			report: GapReport{Samples: 3, Points: 3},
		},
		{
			name: "short gap interpolated", in: []float64{1, nan, nan, 4},
			want: []float64{1, 2, 3, 4}, quality: []Quality{0, 1, 1, 0},
			report: GapReport{Samples: 4, Points: 4, Gaps: 1, Interpolated: 2,
				LongestGap: 20 * time.Minute},
		},
		{
			name: "long gap filled, not interpolated", in: []float64{1, nan, nan, 4},
			opts: GridOptions{MaxInterpolate: 10 * time.Minute},
			want: []float64{1, 1, 1, 4}, quality: []Quality{0, 2, 2, 0},
			report: GapReport{Samples: 4, Points: 4, Gaps: 1, Filled: 2,
				LongestGap: 20 * time.Minute},
		},
		{
			name: "leading and trailing gaps cut", in: []float64{nan, 5, 6, nan},
			want: []float64{5, 6}, quality: []Quality{0, 0},
			report: GapReport{Samples: 4, Points: 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, rep, err := NewSeries("s", t0, step, tt.in, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.Values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.quality, s.Quality); diff != "" {
				t.Errorf("quality (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.report, rep); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
		})
	}
}

// A gap longer than the interpolation limit is filled from the day before,
// never drawn as a line across the day.
func TestNewSeriesFillsFromPreviousDay(t *testing.T) {
	step := time.Hour
	in := make([]float64, 48)
	for i := range in {
		in[i] = float64(i % 24)
	}
	for i := 30; i < 36; i++ {
		in[i] = math.NaN()
	}
	s, rep, err := NewSeries("s", t0, step, in, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 30; i < 36; i++ {
		if s.Values[i] != float64(i-24) || s.Quality[i] != Filled || s.Scored(i) {
			t.Errorf("point %d = %g (%s), want %d filled", i, s.Values[i], s.Quality[i], i-24)
		}
	}
	if rep.Filled != 6 || rep.Gaps != 1 {
		t.Errorf("report = %+v, want 6 filled in 1 gap", rep)
	}
}

func TestFromSamples(t *testing.T) {
	times := []time.Time{
		t0.Add(10 * time.Minute), t0, t0.Add(5 * time.Minute), t0.Add(5*time.Minute + time.Second),
		t0.Add(20 * time.Minute), t0.Add(25 * time.Minute),
	}
	values := []float64{3, 1, 2, 4, 5, math.NaN()}
	s, rep, err := FromSamples("s", times, values, GridOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Step != 5*time.Minute || !s.Start.Equal(t0) {
		t.Errorf("grid = %s from %s, want 5m from %s", s.Step, s.Start, t0)
	}
	// Bucket 1 averages 2 and 4; bucket 3 (15m) is an interpolated gap.
	if diff := cmp.Diff([]float64{1, 3, 3, 4, 5}, s.Values); diff != "" {
		t.Errorf("values (-want +got):\n%s", diff)
	}
	want := GapReport{Samples: 6, Points: 5, Merged: 1, Dropped: 1, Gaps: 1,
		Interpolated: 1, LongestGap: 5 * time.Minute}
	if diff := cmp.Diff(want, rep); diff != "" {
		t.Errorf("report (-want +got):\n%s", diff)
	}
}

func TestSeriesErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		run  func() error
		want string
	}{
		{"no values", func() error {
			_, _, err := NewSeries("s", t0, time.Minute, []float64{nan, nan}, GridOptions{})
			return err
		}, "no values"},
		{"infinite", func() error {
			_, _, err := NewSeries("s", t0, time.Minute, []float64{1, math.Inf(1)}, GridOptions{})
			return err
		}, "infinite"},
		{"zero step", func() error {
			_, _, err := NewSeries("s", t0, 0, []float64{1, 2}, GridOptions{})
			return err
		}, "not positive"},
		{"one sample", func() error {
			_, _, err := FromSamples("s", []time.Time{t0}, []float64{1}, GridOptions{})
			return err
		}, "too few points"},
		{"one timestamp", func() error {
			_, _, err := FromSamples("s", []time.Time{t0, t0}, []float64{1, 2}, GridOptions{})
			return err
		}, "cannot infer a step"},
		{"length mismatch", func() error {
			_, _, err := FromSamples("s", []time.Time{t0}, []float64{1, 2}, GridOptions{})
			return err
		}, "1 times for 2 values"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
	_, _, err := NewSeries("s", t0, time.Minute, []float64{nan}, GridOptions{})
	if !errors.Is(err, ErrTooFewPoints) {
		t.Errorf("err = %v, want ErrTooFewPoints", err)
	}
}

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		opts  CSVOptions
		want  []float64
		step  time.Duration
		start time.Time
	}{
		{"stamp", "timestamp,v\n2026-01-05 00:00:00,1\n2026-01-05 00:05:00,2\n", CSVOptions{},
			[]float64{1, 2}, 5 * time.Minute, t0},
		{"rfc3339 and column", "time,a,b\n2026-01-05T00:00:00Z,1,7\n2026-01-05T00:01:00Z,2,8\n",
			CSVOptions{Column: "b"}, []float64{7, 8}, time.Minute, t0},
		{"seconds", "t_seconds,v\n0,1\n300,2\n600,\n900,4\n", CSVOptions{},
			[]float64{1, 2, 3, 4}, 5 * time.Minute, time.Unix(0, 0).UTC()},
		{"byte-order mark", "\ufefftimestamp,v\n2026-01-05 00:00:00,1\n2026-01-05 00:05:00,2\n",
			CSVOptions{}, []float64{1, 2}, 5 * time.Minute, t0},
		{"no time column", "v\n1\n2\n", CSVOptions{Interval: time.Minute},
			[]float64{1, 2}, time.Minute, time.Unix(0, 0).UTC()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _, err := ReadCSV(strings.NewReader(tt.in), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, s.Values); diff != "" {
				t.Errorf("values (-want +got):\n%s", diff)
			}
			if s.Step != tt.step || !s.Start.Equal(tt.start) {
				t.Errorf("grid = %s from %s, want %s from %s", s.Step, s.Start, tt.step, tt.start)
			}
		})
	}
}

func TestReadCSVErrors(t *testing.T) {
	tests := []struct {
		name, in string
		opts     CSVOptions
		want     string
	}{
		{"empty", "", CSVOptions{}, "empty input"},
		{"missing column", "timestamp,v\n0,1\n", CSVOptions{Column: "cpu"}, `no column "cpu"`},
		{"non-numeric", "timestamp,v\n0,1\n300,abc\n", CSVOptions{}, `line 3 column "v"`},
		{"bad time", "timestamp,v\nyesterday,1\n", CSVOptions{}, `parsing time "yesterday"`},
		{"no interval", "v\n1\n2\n", CSVOptions{}, "interval is required"},
		{"short row", "timestamp,a,b\n0,1\n", CSVOptions{Column: "b"}, "line 2"},
		{"value column is time", "timestamp,v\n0,1\n", CSVOptions{Column: "timestamp"},
			"is the time column"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := ReadCSV(strings.NewReader(tt.in), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// Whatever the input, ReadCSV returns an error or a series without NaN
// whose quality marks match its values.
func FuzzReadCSV(f *testing.F) {
	f.Add("timestamp,v\n2026-01-05 00:00:00,1\n2026-01-05 00:05:00,2\n", "")
	f.Add("t_seconds,v\n0,1\n300,\n900,4\n", "v")
	f.Add("v\n1\nNaN\n3\n", "")
	f.Add("time,a\n2026-01-05T00:00:00Z,1e308\n2026-01-05T00:00:00Z,-1e308\n", "a")
	f.Fuzz(func(t *testing.T, in, column string) {
		s, _, err := ReadCSV(strings.NewReader(in), CSVOptions{Column: column,
			Interval: time.Minute})
		if err != nil {
			return
		}
		if len(s.Values) != len(s.Quality) || len(s.Values) == 0 || s.Step <= 0 {
			t.Fatalf("bad series: %d values, %d marks, step %s", len(s.Values),
				len(s.Quality), s.Step)
		}
		for i, v := range s.Values {
			if math.IsNaN(v) {
				t.Fatalf("value %d is NaN", i)
			}
		}
	})
}
