package cost

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"
)

// BenchmarkPriceLive is the expander's hot path: the spot price of one
// pool with live history.
func BenchmarkPriceLive(b *testing.B) {
	c, _, _ := liveCatalogB(b, 3, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := c.Price("zz1.large", "us-east-1b", Spot); !ok {
			b.Fatal("no price")
		}
	}
}

// liveCatalogB returns a catalogue refreshed from a fake holding types
// on-demand products and types*zones spot pools with points prices each.
func liveCatalogB(b *testing.B, zones, points int) (*Catalog, *fakeAWS, int) {
	b.Helper()
	types := 1000
	f := newFakeAWS(b)
	f.pages = map[string]string{}
	for i := range types {
		f.products = append(f.products, priceDoc(fmt.Sprintf("zz%d.large", i), "us-east-1",
			fmt.Sprintf("0.%04d", 100+i)))
	}
	pools := 0
	for i := range types {
		for z := range zones {
			if pools >= 500 {
				break
			}
			pools++
			for p := range points {
				f.spot = append(f.spot, spotRow{fmt.Sprintf("zz%d.large", i),
					fmt.Sprintf("us-east-1%c", 'a'+z), fmt.Sprintf("0.%04d", 50+(i+p)%40),
					t0.Add(-time.Duration(points-p) * time.Hour)})
			}
		}
	}
	f.pageSize = 1000
	e, p := f.clients()
	c, err := New(Options{Region: "us-east-1", EC2: e, Pricing: p,
		Now: func() time.Time { return t0 }})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := c.RefreshOnDemand(ctx); err != nil {
		b.Fatal(err)
	}
	if err := c.RefreshSpot(ctx); err != nil {
		b.Fatal(err)
	}
	return c, f, pools
}

// BenchmarkRefreshRegion refreshes every on-demand price of a region
// (1000 products in the Price List API's format, pages of 100) and a
// day of hourly spot history for 500 pools (12,000 rows, pages of 1000),
// and reports the peak and retained heap. The heap includes the fake
// server's data and its pages, reported as base.
func BenchmarkRefreshRegion(b *testing.B) {
	f := newFakeAWS(b)
	f.pages = map[string]string{}
	for i := range 1000 {
		f.products = append(f.products, priceDoc(fmt.Sprintf("zz%d.large", i), "us-east-1",
			fmt.Sprintf("0.%04d", 100+i)))
	}
	for i := range 500 {
		for p := range 24 {
			f.spot = append(f.spot, spotRow{fmt.Sprintf("zz%d.large", i/3),
				fmt.Sprintf("us-east-1%c", 'a'+i%3), fmt.Sprintf("0.%04d", 50+(i+p)%40),
				t0.Add(-time.Duration(24-p) * time.Hour)})
		}
	}
	f.pageSize = 1000
	e, p := f.clients()
	ctx := context.Background()
	refresh := func() *Catalog {
		c, err := New(Options{Region: "us-east-1", EC2: e, Pricing: p,
			Now: func() time.Time { return t0 }})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.RefreshOnDemand(ctx); err != nil {
			b.Fatal(err)
		}
		if err := c.RefreshSpot(ctx); err != nil {
			b.Fatal(err)
		}
		return c
	}
	refresh() // render and keep the fake's pages
	base := heapAfterGC()
	var peak uint64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		var ms runtime.MemStats
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	})
	var c *Catalog
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c = refresh()
	}
	b.StopTimer()
	close(stop)
	wg.Wait()
	retained := heapAfterGC()
	if got := c.Status()[kindSpot].Items; got != 500 {
		b.Fatalf("%d pools, want 500", got)
	}
	runtime.KeepAlive(c)
	const mib = 1 << 20
	b.ReportMetric(float64(base)/mib, "base-heap-MiB")
	b.ReportMetric(float64(peak)/mib, "peak-heap-MiB")
	b.ReportMetric(float64(retained-min(retained, base))/mib, "retained-MiB")
}

func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}
