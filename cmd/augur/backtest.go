package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/augur-autoscaler/augur/forecast"
)

// backtestOptions are the flags of `augur backtest`.
type backtestOptions struct {
	input        string
	column       string
	timeColumn   string
	interval     time.Duration
	horizon      time.Duration
	format       string
	forecastsOut string
	timezone     string
}

// Validate names every bad field at once.
func (o *backtestOptions) Validate() error {
	var errs []error
	if o.input == "" {
		errs = append(errs, errors.New("--input is required"))
	}
	if o.interval < 0 {
		errs = append(errs, fmt.Errorf("--interval %s is negative", o.interval))
	}
	if o.horizon <= 0 {
		errs = append(errs, fmt.Errorf("--horizon %s is not positive", o.horizon))
	}
	if o.format != "table" && o.format != "json" {
		errs = append(errs, fmt.Errorf("--format %q: want table or json", o.format))
	}
	if o.timezone != "" {
		if _, err := time.LoadLocation(o.timezone); err != nil {
			errs = append(errs, fmt.Errorf("--timezone %q: %w", o.timezone, err))
		}
	}
	return errors.Join(errs...)
}

func runBacktest(_ context.Context, args []string, stdout, stderr io.Writer) error {
	var o backtestOptions
	fs := flag.NewFlagSet("backtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.input, "input", "", "CSV file with a header row (- for stdin)")
	fs.StringVar(&o.column, "column", "", "value column (default: the first non-time column)")
	fs.StringVar(&o.timeColumn, "time-column", "",
		"time column (default: timestamp, time, ts, date, datetime or t_seconds; - for none)")
	fs.DurationVar(&o.interval, "interval", 0,
		"grid step; required without a time column, inferred otherwise")
	fs.DurationVar(&o.horizon, "horizon", time.Hour, "forecast horizon scored")
	fs.StringVar(&o.format, "format", "table", "output format: table or json")
	fs.StringVar(&o.timezone, "timezone", "",
		"IANA zone in which days and weekdays are counted, e.g. Europe/Berlin "+
			"(default UTC)")
	fs.StringVar(&o.forecastsOut, "forecasts-out", "",
		"also write every forecast (model,origin,step,actual,p50,p90,p99) to this CSV file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: augur backtest --input FILE.csv [flags]")
		fmt.Fprintln(stderr, "\nScores the forecasting models on a series by rolling origin.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := o.Validate(); err != nil {
		return fmt.Errorf("invalid flags: %w", err)
	}
	s, rep, err := readSeries(o)
	if err != nil {
		return err
	}
	if o.timezone != "" {
		loc, _ := time.LoadLocation(o.timezone) // checked by Validate
		s.Start = s.Start.In(loc)
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	if s.Relative {
		logger.Info("times count from the start of a trace, so the models get no weekdays",
			"series", s.Name, "timezone_ignored", o.timezone != "")
	}
	if rep.Gaps > 0 || rep.Irregular > 0 || rep.Dropped > 0 {
		logger.Warn("series has gaps or irregular samples", "series", s.Name,
			"gaps", rep.Gaps, "interpolated", rep.Interpolated, "filled", rep.Filled,
			"longest_gap", rep.LongestGap, "irregular", rep.Irregular, "dropped", rep.Dropped)
	}
	step := int(o.horizon / s.Step)
	if step < 1 || o.horizon%s.Step != 0 {
		return fmt.Errorf("horizon %s is not a whole number of %s steps", o.horizon, s.Step)
	}
	perDay := s.PerDay()
	if perDay == 0 {
		return fmt.Errorf("interval %s does not divide a day", s.Step)
	}
	models, err := forecast.DefaultModels(perDay)
	if err != nil {
		return err
	}
	bopts := forecast.BacktestOptions{Horizons: []int{step},
		Select: &forecast.SelectorOptions{Initial: forecast.DefaultChampion, Logger: logger}}
	var fw *forecastWriter
	if o.forecastsOut != "" {
		fw, err = newForecastWriter(o.forecastsOut)
		if err != nil {
			return err
		}
		bopts.OnForecast = fw.write
	}
	res, err := forecast.Backtest(s, models, bopts)
	if fw != nil {
		if cerr := fw.close(); err == nil && cerr != nil {
			return cerr
		}
	}
	if err != nil {
		return err
	}
	for name, why := range res.Skipped {
		logger.Warn("model skipped", "model", name, "reason", why)
	}
	if o.format == "json" {
		return writeBacktestJSON(stdout, res, o.horizon)
	}
	return writeBacktestTable(stdout, res, o.horizon)
}

func readSeries(o backtestOptions) (*forecast.Series, forecast.GapReport, error) {
	var r io.Reader = os.Stdin
	if o.input != "-" {
		f, err := os.Open(o.input)
		if err != nil {
			return nil, forecast.GapReport{}, fmt.Errorf("opening input: %w", err)
		}
		defer f.Close()
		r = f
	}
	s, rep, err := forecast.ReadCSV(r, forecast.CSVOptions{Column: o.column,
		TimeColumn: o.timeColumn, Interval: o.interval})
	if err != nil {
		return nil, rep, fmt.Errorf("reading %s: %w", o.input, err)
	}
	return s, rep, nil
}

// backtestJSON is the JSON form of a backtest: one object.
type backtestJSON struct {
	Series          string      `json:"series"`
	Points          int         `json:"points"`
	IntervalSeconds float64     `json:"interval_seconds"`
	HorizonSeconds  float64     `json:"horizon_seconds"`
	Selected        string      `json:"selected"`
	Models          []modelJSON `json:"models"`
}

type modelJSON struct {
	Name        string  `json:"name"`
	MASE        float64 `json:"mase"`
	SMAPE       float64 `json:"smape"`
	WAPE        float64 `json:"wape"`
	CoverageP90 float64 `json:"coverage_p90"`
	PinballP90  float64 `json:"pinball_p90"`
	FitSeconds  float64 `json:"fit_seconds"`
}

// finite maps NaN and infinities, which JSON cannot carry, to -1.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return -1
	}
	return v
}

func writeBacktestJSON(w io.Writer, res *forecast.BacktestResult, horizon time.Duration) error {
	out := backtestJSON{Series: res.Series, Points: res.Points,
		IntervalSeconds: res.Step.Seconds(), HorizonSeconds: horizon.Seconds(),
		Selected: res.Selected, Models: []modelJSON{}}
	for _, sc := range res.Scores {
		out.Models = append(out.Models, modelJSON{Name: sc.Model, MASE: finite(sc.MASE),
			SMAPE: finite(sc.SMAPE), WAPE: finite(sc.WAPE),
			CoverageP90: finite(sc.CoverageP90), PinballP90: finite(sc.PinballP90),
			FitSeconds: sc.FitSeconds})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("writing json: %w", err)
	}
	return nil
}

func writeBacktestTable(w io.Writer, res *forecast.BacktestResult, horizon time.Duration) error {
	fmt.Fprintf(w, "series %s: %d points every %s, %d origins, horizon %s, selected %s\n",
		res.Series, res.Points, res.Step, len(res.Origins), horizon, res.Selected)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "model\tMASE\tsMAPE\tWAPE\tp90 cov.\tp90 pinball\tfit ms")
	for _, sc := range res.Scores {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.2f\t%.3f\t%.2f\n", sc.Model, sc.MASE,
			sc.SMAPE, sc.WAPE, sc.CoverageP90, sc.PinballP90, sc.FitSeconds*1e3)
	}
	for name, why := range res.Skipped {
		fmt.Fprintf(tw, "%s\tskipped: %s\n", name, why)
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("writing table: %w", err)
	}
	for _, sw := range res.Switches {
		if sw.From == "" {
			fmt.Fprintf(w, "champion %s chosen after %d windows (score %.3f)\n",
				sw.To, sw.Window, sw.ToScore)
			continue
		}
		fmt.Fprintf(w, "champion %s -> %s after %d windows (score %.3f -> %.3f, %d/%d wins)\n",
			sw.From, sw.To, sw.Window, sw.FromScore, sw.ToScore, sw.Wins, sw.Windows)
	}
	return nil
}

// forecastWriter streams forecast records to a CSV file.
type forecastWriter struct {
	f   *os.File
	w   *csv.Writer
	err error
	rec []string
}

func newForecastWriter(path string) (*forecastWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("creating forecasts file: %w", err)
	}
	fw := &forecastWriter{f: f, w: csv.NewWriter(f), rec: make([]string, 7)}
	fw.err = fw.w.Write(strings.Split("model,origin,step,actual,p50,p90,p99", ","))
	return fw, nil
}

func (fw *forecastWriter) write(r forecast.ForecastRecord) {
	if fw.err != nil {
		return
	}
	actual := strconv.FormatFloat(r.Actual, 'g', -1, 64)
	if !r.Scored {
		actual = ""
	}
	fw.rec[0], fw.rec[1], fw.rec[2] = r.Model, r.Origin.UTC().Format(time.RFC3339),
		strconv.Itoa(r.Step)
	fw.rec[3] = actual
	fw.rec[4] = strconv.FormatFloat(r.P50, 'g', -1, 64)
	fw.rec[5] = strconv.FormatFloat(r.P90, 'g', -1, 64)
	fw.rec[6] = strconv.FormatFloat(r.P99, 'g', -1, 64)
	fw.err = fw.w.Write(fw.rec)
}

func (fw *forecastWriter) close() error {
	fw.w.Flush()
	err := errors.Join(fw.err, fw.w.Error(), fw.f.Close())
	if err != nil {
		return fmt.Errorf("writing forecasts file: %w", err)
	}
	return nil
}
