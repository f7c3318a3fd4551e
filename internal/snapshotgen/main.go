// Command snapshotgen builds the embedded data snapshots of the cost and spot
// packages from the public data sets kept beside the project. It is run by
// `go generate` (see cost/generate.go and spot/generate.go) and its output is
// committed, so a build never needs the data sets.
//
// Usage:
//
//	snapshotgen -data DIR -kind cost|spot -out DIR
//
// kind cost writes instance_types.csv (EC2 instance specs) and ondemand.csv
// (Linux on-demand USD prices per region); kind spot writes advisor.csv (Spot
// Instance Advisor interruption bucket and savings per region and type, Linux).
package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

func main() {
	data := flag.String("data", "../../shared/data", "folder of the public data sets")
	kind := flag.String("kind", "", "cost or spot")
	out := flag.String("out", ".", "folder to write the snapshot files into")
	flag.Parse()
	var err error
	switch *kind {
	case "cost":
		err = genCost(*data, *out)
	case "spot":
		err = genSpot(*data, *out)
	default:
		err = fmt.Errorf("unknown -kind %q (want cost or spot)", *kind)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "snapshotgen:", err)
		os.Exit(1)
	}
}

// advisorFile is the Spot Instance Advisor snapshot the generator reads.
const advisorFile = "aws_spot_advisor/spot-advisor-data_commit2025-06-28_spotinfo.json"

type advisorDoc struct {
	InstanceTypes map[string]struct {
		Cores int     `json:"cores"`
		RAMGB float64 `json:"ram_gb"`
	} `json:"instance_types"`
	SpotAdvisor map[string]map[string]map[string]struct {
		Savings int `json:"s"`
		Range   int `json:"r"`
	} `json:"spot_advisor"`
}

func readAdvisor(data string) (*advisorDoc, error) {
	b, err := os.ReadFile(filepath.Join(data, advisorFile))
	if err != nil {
		return nil, fmt.Errorf("reading spot advisor data: %w", err)
	}
	var doc advisorDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("decoding spot advisor data: %w", err)
	}
	return &doc, nil
}

func readCSV(path string) ([][]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if len(rows) < 2 {
		return nil, fmt.Errorf("%s has no data rows", path)
	}
	return rows[1:], nil
}

func genCost(data, out string) error {
	specs, err := readCSV(filepath.Join(data,
		"aws_instance_specs/ec2_instance_types_cluster_autoscaler.csv"))
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(specs))
	rows := [][]string{{"instance_type", "vcpu", "memory_mib", "gpu", "architecture"}}
	for _, r := range specs {
		if len(r) != 5 {
			return fmt.Errorf("instance spec row %v: want 5 fields", r)
		}
		seen[r[0]] = true
		rows = append(rows, r)
	}
	// Types the autoscaler's list lacks but the advisor knows: vCPU and
	// memory only (the advisor carries no GPU count or architecture).
	doc, err := readAdvisor(data)
	if err != nil {
		return err
	}
	var extra []string
	for name, it := range doc.InstanceTypes {
		if !seen[name] && it.Cores > 0 && it.RAMGB > 0 {
			extra = append(extra, name)
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		it := doc.InstanceTypes[name]
		mib := int(math.Round(it.RAMGB * 1024))
		rows = append(rows, []string{name, strconv.Itoa(it.Cores), strconv.Itoa(mib), "0", ""})
	}
	if err := writeCSV(filepath.Join(out, "snapshot/instance_types.csv"), rows); err != nil {
		return err
	}

	prices, err := readCSV(filepath.Join(data,
		"aws_ondemand_prices_karpenter/ondemand_linux_prices_latest.csv"))
	if err != nil {
		return err
	}
	prows := [][]string{{"region", "instance_type", "usd_per_hour", "generated_at"}}
	for _, r := range prices {
		if len(r) < 5 {
			return fmt.Errorf("price row %v: want at least 5 fields", r)
		}
		if r[3] != "USD" {
			continue // cn-north-1 is priced in CNY; the catalogue is USD only.
		}
		if _, err := strconv.ParseFloat(r[2], 64); err != nil {
			return fmt.Errorf("price row %v: %w", r, err)
		}
		prows = append(prows, []string{r[0], r[1], r[2], r[4]})
	}
	return writeCSV(filepath.Join(out, "snapshot/ondemand.csv"), prows)
}

func genSpot(data, out string) error {
	doc, err := readAdvisor(data)
	if err != nil {
		return err
	}
	rows := [][]string{{"region", "instance_type", "savings_pct", "interruption_bucket"}}
	regions := make([]string, 0, len(doc.SpotAdvisor))
	for r := range doc.SpotAdvisor {
		regions = append(regions, r)
	}
	slices.Sort(regions)
	for _, region := range regions {
		linux := doc.SpotAdvisor[region]["Linux"]
		types := make([]string, 0, len(linux))
		for t := range linux {
			types = append(types, t)
		}
		slices.Sort(types)
		for _, t := range types {
			e := linux[t]
			if e.Range < 0 || e.Range > 4 || e.Savings < -100 || e.Savings > 100 {
				return fmt.Errorf("advisor entry %s/%s out of range: %+v", region, t, e)
			}
			rows = append(rows, []string{region, t,
				strconv.Itoa(e.Savings), strconv.Itoa(e.Range)})
		}
	}
	if len(rows) == 1 {
		return errors.New("spot advisor data holds no Linux entries")
	}
	return writeCSV(filepath.Join(out, "snapshot/advisor.csv"), rows)
}

func writeCSV(path string, rows [][]string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	if err := w.WriteAll(rows); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return closeErr(f, path)
}

func closeErr(c io.Closer, path string) error {
	if err := c.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", path, err)
	}
	return nil
}
