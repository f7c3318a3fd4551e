package spot

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
)

// maxAdvisorBytes bounds what LoadAdvisor reads; AWS's file is about
// 3 MiB.
const maxAdvisorBytes = 64 << 20

// advisorDoc is the part of the Spot Instance Advisor's published JSON
// (spot-advisor-data.json) the model reads.
type advisorDoc struct {
	SpotAdvisor map[string]map[string]map[string]struct {
		S *float64 `json:"s"`
		R *int     `json:"r"`
	} `json:"spot_advisor"`
}

// ParseAdvisorJSON reads the Linux figures of region from a document in
// the format AWS publishes the Spot Instance Advisor data in.
func ParseAdvisorJSON(r io.Reader, region string) (*Advisor, error) {
	if region == "" {
		return nil, fmt.Errorf("spot: region is required")
	}
	var doc advisorDoc
	if err := json.NewDecoder(r).Decode(&doc); err != nil {
		return nil, fmt.Errorf("decoding spot advisor data: %w", err)
	}
	linux := doc.SpotAdvisor[region]["Linux"]
	if len(linux) == 0 {
		return nil, fmt.Errorf("spot advisor data has no Linux figures for region %q", region)
	}
	a := &Advisor{region: region, entries: make(map[string]advisorEntry, len(linux))}
	for typ, e := range linux {
		if e.S == nil || e.R == nil || *e.R < 0 || *e.R >= Buckets || math.IsNaN(*e.S) {
			return nil, fmt.Errorf("spot advisor data of %s in %s: missing or bad s/r",
				typ, region)
		}
		a.entries[typ] = advisorEntry{savings: *e.S, bucket: int8(*e.R)}
	}
	return a, nil
}

// LoadAdvisor reads Spot Advisor figures of region from a file path or an
// http(s) URL holding AWS's JSON format.
func LoadAdvisor(ctx context.Context, location, region string) (*Advisor, error) {
	var body io.ReadCloser
	if strings.HasPrefix(location, "http://") || strings.HasPrefix(location, "https://") {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, location, nil)
		if err != nil {
			return nil, fmt.Errorf("fetching spot advisor data: %w", err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, fmt.Errorf("fetching spot advisor data: %w", err)
		}
		if res.StatusCode != http.StatusOK {
			res.Body.Close()
			return nil, fmt.Errorf("fetching spot advisor data from %s: status %s",
				location, res.Status)
		}
		body = res.Body
	} else {
		f, err := os.Open(location)
		if err != nil {
			return nil, fmt.Errorf("opening spot advisor data: %w", err)
		}
		body = f
	}
	defer body.Close()
	a, err := ParseAdvisorJSON(io.LimitReader(body, maxAdvisorBytes), region)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", location, err)
	}
	return a, nil
}
