package spot

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

type modelMetrics struct {
	events    *prometheus.CounterVec
	placement *prometheus.CounterVec
	advisor   *prometheus.CounterVec
}

const placementAgeHelp = "Seconds since spot placement scores were last fetched."

// placementAge exports the age of the placement scores at scrape time.
type placementAge struct {
	m    *Model
	desc *prometheus.Desc
}

func (p placementAge) Describe(ch chan<- *prometheus.Desc) { ch <- p.desc }

// Collect sends nothing until a refresh has succeeded.
func (p placementAge) Collect(ch chan<- prometheus.Metric) {
	p.m.mu.Lock()
	last := p.m.lastOK
	p.m.mu.Unlock()
	if last.IsZero() {
		return
	}
	ch <- prometheus.MustNewConstMetric(p.desc, prometheus.GaugeValue,
		max(0, p.m.opts.Now().Sub(last).Seconds()))
}

func newModelMetrics(m *Model, reg prometheus.Registerer) (*modelMetrics, error) {
	mm := &modelMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_spot_observed_events_total",
			Help: "Spot events fed to the risk model by kind (interruption, " +
				"insufficient_capacity).",
		}, []string{"kind"}),
		placement: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_spot_placement_refreshes_total",
			Help: "Spot placement score refreshes by result (ok, throttled, denied, error).",
		}, []string{"result"}),
		advisor: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_spot_advisor_refreshes_total",
			Help: "Spot Advisor data re-reads by result (ok, error).",
		}, []string{"result"}),
	}
	if reg == nil {
		return mm, nil
	}
	age := placementAge{m: m, desc: prometheus.NewDesc("augur_spot_placement_age_seconds",
		placementAgeHelp, nil, nil)}
	for _, c := range []prometheus.Collector{mm.events, mm.placement, mm.advisor, age} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering spot metrics: %w", err)
		}
	}
	return mm, nil
}
