package cost

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

const ageHelp = "Age of the prices and specs in use by kind (ondemand, spot, specs): " +
	"seconds since the last successful refresh, or since the embedded snapshot was made."

// metrics are the catalogue's Prometheus metrics.
type metrics struct {
	refreshes *prometheus.CounterVec
}

// ageCollector exports how old the values in use are, computed at scrape
// time from the catalogue's status.
type ageCollector struct {
	c    *Catalog
	desc *prometheus.Desc
}

func (a ageCollector) Describe(ch chan<- *prometheus.Desc) { ch <- a.desc }

// Collect sends, per kind, the seconds since the last successful refresh,
// or since the embedded snapshot was made when no refresh has succeeded
// (for ondemand and spot; specs then has no sample).
func (a ageCollector) Collect(ch chan<- prometheus.Metric) {
	now := a.c.opts.Now()
	for _, s := range a.c.Status() {
		at := s.LastSuccess
		if at.IsZero() && s.Kind != kindSpecs.String() {
			at = a.c.snapshot
		}
		if at.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(a.desc, prometheus.GaugeValue,
			max(0, now.Sub(at).Seconds()), s.Kind)
	}
}

func newMetrics(c *Catalog, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "augur_cost_refreshes_total",
		Help: "Price catalogue refreshes by kind (ondemand, spot, specs) and result " +
			"(ok, throttled, empty, error).",
	}, []string{"kind", "result"})}
	for k := range numKinds {
		for _, r := range []string{"ok", "throttled", "empty", "error"} {
			m.refreshes.WithLabelValues(k.String(), r)
		}
	}
	if reg == nil {
		return m, nil
	}
	age := ageCollector{c: c, desc: prometheus.NewDesc("augur_cost_data_age_seconds",
		ageHelp, []string{"kind"}, nil)}
	for _, col := range []prometheus.Collector{m.refreshes, age} {
		if err := reg.Register(col); err != nil {
			return nil, fmt.Errorf("registering cost metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) refreshed(k kind, err error) {
	r := "ok"
	switch {
	case err == nil:
	case Throttled(err):
		r = "throttled"
	case errors.Is(err, ErrEmpty):
		r = "empty"
	default:
		r = "error"
	}
	m.refreshes.WithLabelValues(k.String(), r).Inc()
}
