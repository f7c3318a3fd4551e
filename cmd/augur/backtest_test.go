package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeSeriesCSV writes days of 5-minute points of a daily cycle with a
// ripple, with a timestamp column in the given form, and returns the path.
func writeSeriesCSV(t *testing.T, days int, stamp func(time.Time) string) string {
	t.Helper()
	var b strings.Builder
	if stamp != nil {
		b.WriteString("timestamp,")
	}
	b.WriteString("cpu,mem\n")
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range days * 288 {
		if stamp != nil {
			b.WriteString(stamp(start.Add(time.Duration(i)*5*time.Minute)) + ",")
		}
		v := 50 + 10*math.Sin(2*math.Pi*float64(i)/288) + float64(i%7)
		fmt.Fprintf(&b, "%.3f,%d\n", v, i)
	}
	path := filepath.Join(t.TempDir(), "series.csv")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBacktestJSON(t *testing.T) {
	path := writeSeriesCSV(t, 4, func(ts time.Time) string { return ts.Format(time.DateTime) })
	out := filepath.Join(t.TempDir(), "forecasts.csv")
	var stdout, stderr bytes.Buffer
	err := runBacktest(context.Background(), []string{"--input", path, "--column", "cpu",
		"--format", "json", "--forecasts-out", out}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	var got backtestJSON
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("decoding %s: %v", stdout.String(), err)
	}
	if got.Series != "cpu" || got.Points != 4*288 || got.IntervalSeconds != 300 ||
		got.HorizonSeconds != 3600 || got.Selected == "" {
		t.Errorf("header = %+v", got)
	}
	names := map[string]bool{}
	for _, m := range got.Models {
		names[m.Name] = true
		if m.MASE < 0 || m.CoverageP90 < 0 || m.CoverageP90 > 1 || m.FitSeconds <= 0 {
			t.Errorf("model %+v has figures out of range", m)
		}
	}
	for _, want := range []string{"naive", "seasonal-naive-day", "holt-winters-damped",
		"harmonic-ar", "auto"} {
		if !names[want] {
			t.Errorf("no %s in %v", want, names)
		}
	}
	if !strings.Contains(stderr.String(), "seasonal-naive-week") {
		t.Errorf("stderr does not say why the weekly model was skipped: %s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "forecast champion chosen") {
		t.Errorf("stderr does not log the champion: %s", stderr.String())
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"model", "origin", "step", "actual", "p50", "p90", "p99"},
		rows[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	// Every model that was scored forecast 12 steps from every origin.
	if n := len(rows) - 1; n%12 != 0 || n == 0 {
		t.Errorf("%d forecast rows, want a multiple of 12", n)
	}
}

func TestBacktestTableFormats(t *testing.T) {
	tests := []struct {
		name  string
		stamp func(time.Time) string
		args  []string
	}{
		{"rfc3339", func(ts time.Time) string { return ts.Format(time.RFC3339) }, nil},
		{"seconds", func(ts time.Time) string { return fmt.Sprint(ts.Unix()) }, nil},
		{"no time column", nil, []string{"--interval", "5m"}},
		{"time zone", func(ts time.Time) string { return ts.Format(time.DateTime) },
			[]string{"--timezone", "America/New_York"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeSeriesCSV(t, 3, tt.stamp)
			var stdout, stderr bytes.Buffer
			args := append([]string{"--input", path, "--horizon", "15m"}, tt.args...)
			if err := runBacktest(context.Background(), args, &stdout, &stderr); err != nil {
				t.Fatalf("%v: %s", err, stderr.String())
			}
			for _, want := range []string{"series cpu: 864 points every 5m0s",
				"model", "MASE", "naive", "auto"} {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, stdout.String())
				}
			}
		})
	}
}

func TestBacktestErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := writeSeriesCSV(t, 3, func(ts time.Time) string { return ts.Format(time.DateTime) })
	short := write("short.csv", "timestamp,cpu\n0,1\n300,2\n600,3\n900,4\n")
	bad := write("bad.csv", "timestamp,cpu\n0,1\n300,2\n600,oops\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no input", nil, "--input is required"},
		{"bad format and horizon", []string{"--input", good, "--format", "xml", "--horizon",
			"-1m"}, `--format "xml"`},
		{"missing file", []string{"--input", filepath.Join(dir, "nope.csv")}, "opening input"},
		{"missing column", []string{"--input", good, "--column", "disk"}, `no column "disk"`},
		{"non-numeric", []string{"--input", bad}, `line 4 column "cpu"`},
		{"too few points", []string{"--input", short}, "too few points"},
		{"horizon off the grid", []string{"--input", good, "--horizon", "7m"},
			"not a whole number"},
		{"no time column without interval", []string{"--input", good, "--time-column", "-"},
			"interval is required"},
		{"unknown time zone", []string{"--input", good, "--timezone", "Mars/Olympus"},
			`--timezone "Mars/Olympus"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runBacktest(context.Background(), tt.args, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}
