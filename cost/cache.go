package cost

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"
)

// cacheVersion is bumped when the cache file's layout changes; a file of
// another version is ignored.
const cacheVersion = 1

// cacheFile is what the catalogue keeps on disk of its last good values,
// so a restarted process starts from them rather than from the snapshot.
type cacheFile struct {
	Version  int                    `json:"version"`
	Region   string                 `json:"region"`
	OnDemand map[string]cachedPrice `json:"onDemand"`
	Pools    []cachedPool           `json:"pools"`
	// OnDemandAt and SpotAt are the last successful refreshes.
	OnDemandAt time.Time `json:"onDemandAt"`
	SpotAt     time.Time `json:"spotAt"`
}

type cachedPrice struct {
	USD      float64   `json:"usd"`
	Observed time.Time `json:"observed"`
}

type cachedPool struct {
	Type     string       `json:"type"`
	Zone     string       `json:"zone"`
	Observed time.Time    `json:"observed"`
	History  []PricePoint `json:"history"`
}

// saveCacheLocked writes the live values of the current table to
// Options.CacheFile, through a temporary file renamed into place so a
// reader never sees half a file. c.mu must be held.
func (c *Catalog) saveCacheLocked() {
	path := c.opts.CacheFile
	if path == "" {
		return
	}
	t := c.cur.Load()
	f := cacheFile{Version: cacheVersion, Region: c.opts.Region,
		OnDemand:   make(map[string]cachedPrice, len(t.types)),
		OnDemandAt: c.status[kindOnDemand].LastSuccess, SpotAt: c.status[kindSpot].LastSuccess}
	for typ, e := range t.types {
		if e.hasOD && (e.od.Source == SourceLive || e.od.Source == SourceCached) {
			f.OnDemand[typ] = cachedPrice{USD: e.od.USDPerHour, Observed: e.od.Observed}
		}
	}
	for k, p := range t.pools {
		f.Pools = append(f.Pools, cachedPool{Type: k.instanceType, Zone: k.zone,
			Observed: p.price.Observed, History: p.history})
	}
	if err := writeFileAtomic(path, f); err != nil {
		c.opts.Logger.Warn("could not keep prices on disk", "file", path, "error", err)
	}
}

func writeFileAtomic(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encoding price cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".prices-*")
	if err != nil {
		return fmt.Errorf("writing price cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("writing price cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing price cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing price cache: %w", err)
	}
	return nil
}

// errNoCache marks a cache file that is absent, which is not a problem.
var errNoCache = errors.New("no price cache")

// loadCache reads Options.CacheFile into t (a table being built), as
// cached values, and returns when each kind was last refreshed. A missing
// file returns errNoCache; a file that does not parse, is of another
// version or region, or holds a bad value returns an error and changes
// nothing.
func (c *Catalog) loadCache(t *table) (time.Time, time.Time, error) {
	path := c.opts.CacheFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return time.Time{}, time.Time{}, errNoCache
	}
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("reading price cache: %w", err)
	}
	var f cacheFile
	if err := json.Unmarshal(b, &f); err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("decoding price cache %s: %w", path, err)
	}
	if f.Version != cacheVersion || f.Region != c.opts.Region {
		return time.Time{}, time.Time{}, fmt.Errorf("price cache %s is version %d for %q, "+
			"not version %d for %q", path, f.Version, f.Region, cacheVersion, c.opts.Region)
	}
	for typ, p := range f.OnDemand {
		if !validPrice(p.USD) || typ == "" {
			return time.Time{}, time.Time{}, fmt.Errorf("price cache %s: bad price %v for %q",
				path, p.USD, typ)
		}
	}
	for _, p := range f.Pools {
		if p.Type == "" || p.Zone == "" || len(p.History) == 0 {
			return time.Time{}, time.Time{}, fmt.Errorf("price cache %s: bad pool %q/%q",
				path, p.Type, p.Zone)
		}
		for _, pt := range p.History {
			if !validPrice(pt.USDPerHour) {
				return time.Time{}, time.Time{}, fmt.Errorf("price cache %s: bad price %v "+
					"in pool %s/%s", path, pt.USDPerHour, p.Type, p.Zone)
			}
		}
	}
	for typ, p := range f.OnDemand {
		e := c.copyEntry(t, typ)
		e.od, e.hasOD = Price{USDPerHour: p.USD, Source: SourceCached, Observed: p.Observed}, true
	}
	now := c.opts.Now()
	start := now.Add(-c.opts.SpotWindow)
	pools := make(map[poolKey]*Pool, len(f.Pools))
	for _, p := range f.Pools {
		h := mergeHistory(nil, p.History, start, c.opts.MaxPointsPerPool)
		n := &Pool{history: h, stats: HistoryStats(h, start, now)}
		n.stats.Observed = p.Observed
		n.price = Price{USDPerHour: n.stats.Latest, Source: SourceCached, Observed: p.Observed}
		pools[poolKey{p.Type, p.Zone}] = n
	}
	t.pools = pools
	c.setAnySpot(t)
	return f.OnDemandAt, f.SpotAt, nil
}

func validPrice(usd float64) bool {
	return usd > 0 && !math.IsInf(usd, 1)
}
