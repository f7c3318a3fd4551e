package forecast

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// CSVOptions configures [ReadCSV].
type CSVOptions struct {
	// Name labels the series; empty uses the value column's name.
	Name string
	// Column is the header of the value column. Empty picks the first
	// column that is not the time column.
	Column string
	// TimeColumn is the header of the time column. Empty looks for one of
	// timestamp, time, ts, date, datetime, t_seconds (any case). "-" means
	// there is none.
	TimeColumn string
	// Interval is the grid step. It is required when there is no time
	// column (row i is then at i*Interval from the Unix epoch); otherwise
	// zero infers it.
	Interval time.Duration
	// MaxInterpolate is passed on to [GridOptions].
	MaxInterpolate time.Duration
}

var timeColumnNames = []string{"timestamp", "time", "ts", "date", "datetime", "t_seconds"}

// ReadCSV reads one series from CSV with a header row. Times may be
// RFC 3339, "YYYY-MM-DD HH:MM:SS" with optional fractional seconds (taken
// as UTC), or seconds (possibly fractional) since any epoch; all are kept
// in UTC. Seconds that start below 1980 count from the start of a trace,
// not from the Unix epoch: the series is then Relative, as it is without
// a time column. Empty cells and "NaN" are missing values; any other
// non-numeric value is an error naming its line.
func ReadCSV(r io.Reader, opts CSVOptions) (*Series, GapReport, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = errors.New("empty input")
		}
		return nil, GapReport{}, fmt.Errorf("reading csv header: %w", err)
	}
	head = slices.Clone(head)
	if len(head) > 0 {
		head[0] = strings.TrimPrefix(head[0], "\ufeff") // a byte-order mark
	}
	tcol, vcol, err := csvColumns(head, opts)
	if err != nil {
		return nil, GapReport{}, err
	}
	if tcol < 0 && opts.Interval <= 0 {
		return nil, GapReport{}, errors.New("reading csv: no time column, so an interval is required")
	}
	name := opts.Name
	if name == "" {
		name = head[vcol]
	}
	var times []time.Time
	var values []float64
	var firstTime string
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, GapReport{}, fmt.Errorf("reading csv: %w", err)
		}
		if len(rec) <= vcol || (tcol >= 0 && len(rec) <= tcol) {
			return nil, GapReport{}, fmt.Errorf("reading csv line %d: %d fields, "+
				"column %q is missing", line, len(rec), head[vcol])
		}
		v, err := parseValue(rec[vcol])
		if err != nil {
			return nil, GapReport{}, fmt.Errorf("reading csv line %d column %q: %w",
				line, head[vcol], err)
		}
		values = append(values, v)
		if tcol >= 0 {
			t, err := parseTime(rec[tcol])
			if err != nil {
				return nil, GapReport{}, fmt.Errorf("reading csv line %d column %q: %w",
					line, head[tcol], err)
			}
			if len(times) == 0 {
				firstTime = rec[tcol]
			}
			times = append(times, t)
		}
	}
	gopts := GridOptions{Step: opts.Interval, MaxInterpolate: opts.MaxInterpolate}
	if tcol < 0 {
		s, rep, err := NewSeries(name, time.Unix(0, 0).UTC(), opts.Interval, values, gopts)
		if err != nil {
			return nil, rep, fmt.Errorf("reading csv: %w", err)
		}
		s.Relative = true
		return s, rep, nil
	}
	s, rep, err := FromSamples(name, times, values, gopts)
	if err != nil {
		return nil, rep, fmt.Errorf("reading csv: %w", err)
	}
	s.Relative = relativeSeconds(firstTime)
	return s, rep, nil
}

// relativeEpoch is where numeric times stop looking like seconds since
// the start of a trace: 1980, ten years of seconds after the Unix epoch.
const relativeEpoch = 10 * 365 * 24 * 3600

// relativeSeconds reports whether the first time of a CSV is a number
// below relativeEpoch: seconds counted from the start of a trace, not
// Unix time.
func relativeSeconds(first string) bool {
	v, err := strconv.ParseFloat(strings.TrimSpace(first), 64)
	return err == nil && math.Abs(v) < relativeEpoch
}

func csvColumns(head []string, opts CSVOptions) (tcol, vcol int, err error) {
	tcol = -1
	switch opts.TimeColumn {
	case "-":
	case "":
		for i, h := range head {
			if slices.Contains(timeColumnNames, strings.ToLower(strings.TrimSpace(h))) {
				tcol = i
				break
			}
		}
	default:
		tcol = slices.Index(head, opts.TimeColumn)
		if tcol < 0 {
			return 0, 0, fmt.Errorf("reading csv: no time column %q in header %q",
				opts.TimeColumn, head)
		}
	}
	vcol = -1
	if opts.Column != "" {
		vcol = slices.Index(head, opts.Column)
		if vcol < 0 {
			return 0, 0, fmt.Errorf("reading csv: no column %q in header %q", opts.Column, head)
		}
		if vcol == tcol {
			return 0, 0, fmt.Errorf("reading csv: column %q is the time column", opts.Column)
		}
		return tcol, vcol, nil
	}
	for i := range head {
		if i != tcol {
			return tcol, i, nil
		}
	}
	return 0, 0, fmt.Errorf("reading csv: header %q has no value column", head)
}

func parseValue(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "nan") {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing value %q: not a number", s)
	}
	if math.IsInf(v, 0) {
		return 0, fmt.Errorf("parsing value %q: infinite", s)
	}
	return v, nil
}

func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if v, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e11 {
			return time.Time{}, fmt.Errorf("parsing time %q: out of range", s)
		}
		sec, frac := math.Modf(v)
		return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999",
		"2006-01-02T15:04:05.999999999"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("parsing time %q: want RFC 3339, "+
		"YYYY-MM-DD HH:MM:SS or seconds", s)
}
