package forecast

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// protocolHorizons are the steps scored by the accuracy benchmark: 15
// minutes, 1 hour and 2 hours of 5-minute points.
var protocolHorizons = []int{3, 12, 24}

// rModel is the row label of R's forecast::stlf in the accuracy table.
const rModel = "R stlf"

// setRow accumulates one model's figures over the series of one set.
type setRow struct {
	mase, cov, secs []float64
}

// BenchmarkAccuracy runs the protocol of docs/forecast.md on every shared
// series and prints model x set x horizon tables: mean MASE, mean p90
// coverage, mean fit-and-forecast time. When Rscript with the forecast
// package is installed, R's stlf runs on the same series, origins and
// training windows and is scored by the same code.
func BenchmarkAccuracy(b *testing.B) {
	withR := rAvailable()
	for range b.N {
		rows := map[string]map[string]map[int]*setRow{} // set -> model -> step
		var models []string
		add := func(set string, sc Score) {
			if rows[set] == nil {
				rows[set] = map[string]map[int]*setRow{}
			}
			if rows[set][sc.Model] == nil {
				rows[set][sc.Model] = map[int]*setRow{}
				if !contains(models, sc.Model) {
					models = append(models, sc.Model)
				}
			}
			r := rows[set][sc.Model][sc.Step]
			if r == nil {
				r = &setRow{}
				rows[set][sc.Model][sc.Step] = r
			}
			r.mase = append(r.mase, sc.MASE)
			r.cov = append(r.cov, sc.CoverageP90)
			r.secs = append(r.secs, sc.FitSeconds)
		}
		fmt.Printf("\nper series, 1 h ahead (12 steps): MASE (p90 coverage)\n")
		all := append(slices.Clone(accuracySeries), holdoutSeries(b)...)
		perSet := map[string]int{}
		for _, bs := range all {
			perSet[bs.set]++
		}
		for _, bs := range all {
			s := loadSeries(b, bs)
			ms, err := DefaultModels(s.PerDay())
			if err != nil {
				b.Fatal(err)
			}
			res, err := Backtest(s, ms, BacktestOptions{Horizons: protocolHorizons,
				Select: &SelectorOptions{Initial: DefaultChampion}})
			if err != nil {
				b.Fatalf("backtesting %s: %v", bs.name, err)
			}
			scores := res.Scores
			if withR {
				rs, err := rScores(s, res)
				if err != nil {
					b.Fatalf("running R on %s: %v", bs.name, err)
				}
				scores = append(scores, rs...)
			}
			quiet := bs.set == holdoutSet
			if !quiet {
				fmt.Printf("%-24s", bs.name)
			}
			for _, sc := range scores {
				add(bs.set, sc)
				if sc.Step == 12 && !quiet {
					fmt.Printf("  %s %.3f (%.2f)", sc.Model, sc.MASE, sc.CoverageP90)
				}
			}
			if !quiet {
				fmt.Printf("  selected %s\n", res.Selected)
			}
		}
		if !withR {
			fmt.Println("\n(R's forecast package not installed: no R stlf rows)")
		}
		for _, set := range []string{"seasonal", "nab", "alibaba", holdoutSet} {
			fmt.Printf("\nset %s: mean MASE / mean p90 coverage / mean fit+forecast ms\n", set)
			fmt.Printf("%-26s", "model")
			for _, h := range protocolHorizons {
				fmt.Printf("  %22s", fmt.Sprintf("%d steps (%s)", h, time.Duration(h)*5*time.Minute))
			}
			fmt.Println()
			for _, m := range models {
				byStep := rows[set][m]
				if byStep == nil {
					continue
				}
				fmt.Printf("%-26s", m)
				for _, h := range protocolHorizons {
					r := byStep[h]
					n := len(r.mase)
					label := ""
					if n < perSet[set] {
						label = fmt.Sprintf(" [%d/%d]", n, perSet[set])
					}
					fmt.Printf("  %6.3f / %4.2f / %5.1f%s", meanOf(r.mase), meanOf(r.cov),
						1e3*meanOf(r.secs), label)
				}
				fmt.Println()
			}
		}
	}
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func meanOf(x []float64) float64 {
	if len(x) == 0 {
		return math.NaN()
	}
	return mean(x)
}

// rAvailable reports whether Rscript can load the forecast package.
func rAvailable() bool {
	if _, err := exec.LookPath("Rscript"); err != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return exec.CommandContext(ctx, "Rscript", "-e",
		"suppressMessages(library(forecast))").Run() == nil
}

// rScores runs testdata/stlf.R on the backtest's series and origins and
// scores its forecasts like Augur's.
func rScores(s *Series, res *BacktestResult) ([]Score, error) {
	dir, err := os.MkdirTemp("", "augur-r-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "series.csv")
	f, err := os.Create(in)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "value")
	for _, v := range s.Values {
		fmt.Fprintln(w, strconv.FormatFloat(v, 'g', -1, 64))
	}
	if err := w.Flush(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	orig := filepath.Join(dir, "origins.txt")
	var ob []byte
	for _, o := range res.Origins {
		ob = strconv.AppendInt(ob, int64(o), 10)
		ob = append(ob, '\n')
	}
	if err := os.WriteFile(orig, ob, 0o600); err != nil {
		return nil, err
	}
	out := filepath.Join(dir, "forecasts.csv")
	h := protocolHorizons[len(protocolHorizons)-1]
	cmd := exec.Command("Rscript", "testdata/stlf.R", in, orig, out,
		strconv.Itoa(s.PerDay()), strconv.Itoa(h), strconv.Itoa(14*s.PerDay()))
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("Rscript: %w: %s", err, msg)
	}
	fc, err := readRForecasts(out, len(res.Origins), h)
	if err != nil {
		return nil, err
	}
	var scores []Score
	for _, step := range protocolHorizons {
		scores = append(scores, scoreStep(s, rModel, fc, res.Origins, step, res.Scale))
	}
	return scores, nil
}

// readRForecasts reads origin_index,step,p50,p90,p99,seconds rows.
func readRForecasts(path string, origins, h int) ([]originForecast, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := make([]originForecast, origins)
	for i := range out {
		out[i] = originForecast{p50: nanSlice(h), p90: nanSlice(h), p99: nanSlice(h)}
	}
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		return nil, err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		var v [6]float64
		for i := range v {
			if v[i], err = strconv.ParseFloat(rec[i], 64); err != nil {
				return nil, fmt.Errorf("parsing R output %q: %w", rec, err)
			}
		}
		i, k := int(v[0]), int(v[1])-1
		if i < 0 || i >= origins || k < 0 || k >= h {
			return nil, fmt.Errorf("R output row %q out of range", rec)
		}
		out[i].p50[k], out[i].p90[k], out[i].p99[k] = v[2], v[3], v[4]
		out[i].seconds = v[5]
	}
	return out, nil
}

func nanSlice(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = math.NaN()
	}
	return x
}

// BenchmarkFitForecast times one fit-and-forecast (calibrated intervals,
// 24 steps) of a 14-day window of 5-minute points per model, with the
// refit on all data (the default) and with SingleFit. Run with -cpu 1 for
// the single-core figure.
func BenchmarkFitForecast(b *testing.B) {
	s := loadSeries(b, accuracySeries[0])
	win := s.Slice(s.Len()-4032, s.Len())
	models, err := DefaultModels(288)
	if err != nil {
		b.Fatal(err)
	}
	for _, single := range []bool{false, true} {
		for _, m := range models {
			name := m.Name()
			if single {
				name += "/single-fit"
			}
			b.Run(name, func(b *testing.B) {
				f, err := NewForecaster(ForecasterOptions{Model: m, SingleFit: single})
				if err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					if _, err := f.Forecast(win, 24); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
