package forecast

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// dataDir is where the shared real data sets live, relative to this
// package.
const dataDir = "../../shared/data"

// benchSeries names one real series used by the accuracy benchmark.
type benchSeries struct {
	set, name, file, column string
}

// accuracySeries are the series of the protocol in docs/forecast.md.
var accuracySeries = []benchSeries{
	{"seasonal", "azure_v2 cpu", azureFile, "cpu_usage"},
	{"seasonal", "capacity jul cluster14", capacityJuly, "cluster14"},
	{"seasonal", "capacity nov cluster10", capacityNov, "cluster10"},
	{"seasonal", "capacity nov cluster17", capacityNov, "cluster17"},
	{"seasonal", "capacity nov cluster23", capacityNov, "cluster23"},
	{"seasonal", "capacity nov cluster29", capacityNov, "cluster29"},
	{"seasonal", "capacity nov cluster35", capacityNov, "cluster35"},
	{"nab", "nab ec2_cpu 5f5533", nabCPU + "5f5533.csv", "value"},
	{"nab", "nab ec2_cpu 77c1ca", nabCPU + "77c1ca.csv", "value"},
	{"nab", "nab ec2_cpu fe7f93", nabCPU + "fe7f93.csv", "value"},
	{"alibaba", "alibaba requested cpu", alibabaFile, "running_cpu_cores_requested"},
}

// Files of the accuracy series under dataDir (see each folder's
// SOURCE.txt).
const (
	azureFile    = "datacenter_traces/azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv"
	capacityJuly = "cloud_cluster_capacity/cpu_5min_2024-07_cluster14.csv"
	capacityNov  = "cloud_cluster_capacity/cpu_5min_2024-11-01_to_05.csv"
	nabCPU       = "nab/realAWSCloudwatch/ec2_cpu_utilization_"
	alibabaFile  = "alibaba_clusterdata/gpu-v2025/derived_dlrm_demand_5min.csv"
)

// loadSeries reads one shared series or skips the test when the data is
// absent.
func loadSeries(tb testing.TB, bs benchSeries) *Series {
	tb.Helper()
	path := filepath.Join(dataDir, bs.file)
	f, err := os.Open(path)
	if err != nil {
		tb.Skipf("shared data not available: %v", err)
	}
	defer f.Close()
	s, _, err := ReadCSV(f, CSVOptions{Name: bs.name, Column: bs.column})
	if err != nil {
		tb.Fatalf("reading %s: %v", path, err)
	}
	return s
}

// holdoutSet names the series no model or default was chosen on: every
// cluster of the November capacity file outside the seasonal set.
const holdoutSet = "holdout"

// holdoutSeries lists the holdout set, or nothing when the data is
// absent.
func holdoutSeries(tb testing.TB) []benchSeries {
	tb.Helper()
	f, err := os.Open(filepath.Join(dataDir, capacityNov))
	if err != nil {
		return nil
	}
	defer f.Close()
	header, err := csv.NewReader(f).Read()
	if err != nil {
		tb.Fatalf("reading %s: %v", capacityNov, err)
	}
	var used []string
	for _, bs := range accuracySeries {
		if bs.file == capacityNov {
			used = append(used, bs.column)
		}
	}
	var out []benchSeries
	for _, col := range header[1:] {
		if !slices.Contains(used, col) {
			out = append(out, benchSeries{holdoutSet, "capacity nov " + col, capacityNov, col})
		}
	}
	return out
}
