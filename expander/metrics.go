package expander

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
)

// maxNodeGroupLabels bounds the distinct node_group label values; the rest
// are counted under "other", so a cluster with runaway node groups cannot
// blow up a scrape.
const maxNodeGroupLabels = 500

// Metrics are the expander's Prometheus metrics.
type Metrics struct {
	requests   *prometheus.CounterVec
	duration   prometheus.Histogram
	decisions  *prometheus.CounterVec
	chosen     *prometheus.GaugeVec
	fallbacks  *prometheus.CounterVec
	penalties  *prometheus.CounterVec
	mu         sync.Mutex
	nodeGroups map[string]bool
}

// NewMetrics creates the expander's metrics and registers them on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_expander_requests_total",
			Help: "BestOptions calls answered, by gRPC status code (label code).",
		}, []string{"code"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "augur_expander_request_duration_seconds",
			Help: "Time to answer one BestOptions call, decoding included.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
				1, 2, 4},
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_expander_decisions_total",
			Help: "Scale-up decisions, by the winning node group (label node_group) " +
				"and the active mode (label mode).",
		}, []string{"node_group", "mode"}),
		chosen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "augur_expander_chosen_objective_score",
			Help: "Objective scores (0 best, 1 worst) of the last winning option, " +
				"by objective (label objective: cost, waste, spot_risk, total).",
		}, []string{"objective"}),
		fallbacks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_expander_fallbacks_total",
			Help: "Answers that returned every option unranked, by reason " +
				"(label reason: deadline, canceled, panic).",
		}, []string{"reason"}),
		penalties: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "augur_expander_option_penalties_total",
			Help: "Options scored with missing or bad data, by reason (label reason).",
		}, []string{"reason"}),
		nodeGroups: make(map[string]bool),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.decisions, m.chosen,
		m.fallbacks, m.penalties} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// UnaryInterceptor counts every call by status code and times it.
func (m *Metrics) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo,
		handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		m.duration.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(status.Code(err).String()).Inc()
		return resp, err
	}
}

func (m *Metrics) nodeGroupLabel(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.nodeGroups[id] {
		return id
	}
	if len(m.nodeGroups) >= maxNodeGroupLabels {
		return "other"
	}
	m.nodeGroups[id] = true
	return id
}

// observe records one decision.
func (m *Metrics) observe(d *Decision) {
	for _, o := range d.Options {
		for _, p := range o.Penalties {
			m.penalties.WithLabelValues(string(p)).Inc()
		}
	}
	if d.Fallback != "" {
		return
	}
	w := d.Winner()
	if w == nil {
		return
	}
	m.decisions.WithLabelValues(m.nodeGroupLabel(w.NodeGroupID), d.Mode).Inc()
	m.chosen.WithLabelValues("cost").Set(w.Scores.Cost)
	m.chosen.WithLabelValues("waste").Set(w.Scores.Waste)
	m.chosen.WithLabelValues("spot_risk").Set(w.Scores.SpotRisk)
	m.chosen.WithLabelValues("total").Set(w.Scores.Total)
}

func (m *Metrics) fallback(reason string) { m.fallbacks.WithLabelValues(reason).Inc() }
