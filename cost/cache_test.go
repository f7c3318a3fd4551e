package cost

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestCacheSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prices.json")
	c, _, _ := liveCatalog(t, Options{CacheFile: path})
	refreshAll(t, c)
	// A new process an hour later, with AWS unreachable.
	later := t0.Add(time.Hour)
	r, err := New(Options{Region: "us-east-1", CacheFile: path,
		Now: func() time.Time { return later }})
	if err != nil {
		t.Fatal(err)
	}
	type got struct {
		USD    float64
		Source string
		At     time.Time
	}
	look := func(typ, zone string, ct CapacityType) got {
		p, _ := r.Price(typ, zone, ct)
		return got{p.USDPerHour, p.Source.String(), p.Observed}
	}
	want := map[string]got{
		"m5.large od":     {0.096, "cached", t0},
		"zz9.large od":    {0.5, "cached", t0},
		"m5.xlarge od":    {0.192, "snapshot", c.snapshot},
		"m5.large spot a": {0.0384, "cached", t0},
		"m5.large spot":   {0.0412, "cached", t0},
	}
	have := map[string]got{
		"m5.large od":     look("m5.large", "", OnDemand),
		"zz9.large od":    look("zz9.large", "", OnDemand),
		"m5.xlarge od":    look("m5.xlarge", "", OnDemand),
		"m5.large spot a": look("m5.large", "us-east-1a", Spot),
		"m5.large spot":   look("m5.large", "", Spot),
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Errorf("after restart (-want +got):\n%s", diff)
	}
	if s, ok := r.SpotStats("m5.large", "us-east-1a"); !ok || s.Latest != 0.0384 {
		t.Errorf("history lost: %+v, %v", s, ok)
	}
	if st := r.Status(); !st[kindOnDemand].LastSuccess.Equal(t0) ||
		!st[kindSpot].LastSuccess.Equal(t0) {
		t.Errorf("status after restart: %+v", st)
	}
}

func TestCacheBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"not json":      `{"version":1,`,
		"other region":  `{"version":1,"region":"eu-west-1","onDemand":{"m5.large":{"usd":9}}}`,
		"other version": `{"version":7,"region":"us-east-1"}`,
		"bad price":     `{"version":1,"region":"us-east-1","onDemand":{"m5.large":{"usd":-1}}}`,
		"bad pool": `{"version":1,"region":"us-east-1","pools":[{"type":"m5.large",` +
			`"zone":"us-east-1a","history":[]}]}`,
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := New(Options{Region: "us-east-1", CacheFile: path})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p, _ := c.OnDemand("m5.large"); p.Source != SourceSnapshot || p.USDPerHour != 0.096 {
			t.Errorf("%s: m5.large = %+v, want the snapshot price", name, p)
		}
	}
	// A missing file is the first start: no complaint, the snapshot.
	if _, err := New(Options{Region: "us-east-1",
		CacheFile: filepath.Join(dir, "none")}); err != nil {
		t.Error(err)
	}
}
