// Package expander is the gRPC expander that the Kubernetes Cluster
// Autoscaler calls with --expander=grpc. For each scale-up the autoscaler
// sends the candidate node groups, their template nodes and the pods each
// would take; the expander scores every option on cost, waste and spot
// interruption risk and returns the best ones.
//
// The server never leaves the autoscaler without an answer: a request it
// cannot rank in time is answered with every option, an option with bad or
// missing data is still ranked with a stated penalty, and the answer is
// never empty (the autoscaler reads an empty answer as "scale up nothing").
package expander

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/augur-autoscaler/augur/expander/protos"
)

// MaxMessageBytes is the largest request the server accepts: the
// autoscaler sends every pod of every option, and its own limit is 128 MiB.
const MaxMessageBytes = 128 << 20

// Server implements the grpcplugin.Expander service.
type Server struct {
	pb.UnimplementedExpanderServer
	ranker    *Ranker
	log       *slog.Logger
	metrics   *Metrics
	decisions *DecisionLog
	deadline  time.Duration
}

var _ pb.ExpanderServer = (*Server)(nil)

// ServerOptions are the dependencies of a Server.
type ServerOptions struct {
	Ranker    *Ranker
	Logger    *slog.Logger
	Metrics   *Metrics
	Decisions *DecisionLog
}

// NewServer returns a Server. Its deadline is the ranker config's.
func NewServer(o ServerOptions) (*Server, error) {
	if o.Ranker == nil || o.Metrics == nil {
		return nil, errors.New("expander server needs a ranker and metrics")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Decisions == nil {
		o.Decisions = NewDecisionLog(o.Ranker.cfg.DecisionHistory)
	}
	return &Server{ranker: o.Ranker, log: o.Logger, metrics: o.Metrics,
		decisions: o.Decisions, deadline: o.Ranker.cfg.Deadline.Duration}, nil
}

// Decisions returns the server's decision log.
func (s *Server) Decisions() *DecisionLog { return s.decisions }

// BestOptions ranks the request's options. A request without options is
// InvalidArgument; every other request gets a non-empty answer.
func (s *Server) BestOptions(ctx context.Context,
	req *pb.BestOptionsRequest) (*pb.BestOptionsResponse, error) {
	start := time.Now()
	if len(req.GetOptions()) == 0 {
		s.log.Warn("rejecting a request with no options")
		return nil, status.Error(codes.InvalidArgument, "request has no options to rank")
	}
	ctx, cancel := context.WithTimeout(ctx, s.deadline)
	defer cancel()
	d, err := s.rank(ctx, req)
	if err != nil {
		reason := "deadline"
		switch {
		case errors.Is(err, errPanic):
			reason = "panic"
		case errors.Is(err, context.Canceled):
			reason = "canceled"
		}
		s.metrics.fallback(reason)
		s.log.Error("could not rank options, returning all of them unranked",
			"reason", reason, "err", err, "options", len(req.GetOptions()),
			"deadline", s.deadline)
		d = fallbackDecision(req, s.ranker.cfg.Mode, fmt.Sprintf("%s: %v", reason, err), start)
	}
	d.DurationSeconds = time.Since(start).Seconds()
	s.metrics.observe(d)
	s.decisions.Add(d)
	s.logDecision(d)
	return response(req, d), nil
}

// rank runs the ranker on its own goroutine and waits no longer than ctx:
// a data source that hangs cannot hold the answer past the deadline. A
// panic becomes an error, so one bad request can neither take the server
// down nor go unanswered.
func (s *Server) rank(ctx context.Context, req *pb.BestOptionsRequest) (*Decision, error) {
	type result struct {
		d   *Decision
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("ranking panicked", "panic", p, "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("%w: %v", errPanic, p)}
			}
		}()
		d, err := s.ranker.Rank(ctx, req)
		done <- result{d, err}
	}()
	select {
	case r := <-done:
		return r.d, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// errPanic marks a ranking that panicked.
var errPanic = errors.New("ranking panicked")

// response returns the chosen options, best first. Only the ids matter to
// the autoscaler, so pods are not echoed back.
func response(req *pb.BestOptionsRequest, d *Decision) *pb.BestOptionsResponse {
	byID := make(map[string]*pb.Option, len(req.GetOptions()))
	for _, o := range req.GetOptions() {
		if _, ok := byID[o.GetNodeGroupId()]; !ok {
			byID[o.GetNodeGroupId()] = o
		}
	}
	resp := &pb.BestOptionsResponse{Options: make([]*pb.Option, 0, len(d.Chosen))}
	for _, id := range d.Chosen {
		o := byID[id]
		resp.Options = append(resp.Options, &pb.Option{NodeGroupId: id,
			NodeCount: o.GetNodeCount(), Debug: o.GetDebug()})
	}
	return resp
}

// logDecision writes one line with the numbers that made the decision, and
// one warning for each option scored with a penalty.
func (s *Server) logDecision(d *Decision) {
	for _, o := range d.Options {
		if len(o.Penalties) > 0 {
			s.log.Warn("option scored with a penalty", "nodeGroup", o.NodeGroupID,
				"penalties", o.Penalties, "problems", o.Problems)
		}
	}
	w := d.Winner()
	if w == nil {
		return
	}
	s.log.Info("scale-up decision", "mode", d.Mode, "winner", w.NodeGroupID,
		"chosen", d.Chosen, "options", len(d.Options), "instanceType", w.InstanceType,
		"capacityType", w.CapacityType, "zone", w.Zone, "nodeCount", w.NodeCount,
		"hourlyCostUsd", w.HourlyCostUSD, "priceSource", w.PriceSource,
		"total", w.Scores.Total, "cost", w.Scores.Cost, "waste", w.Scores.Waste,
		"spotRisk", w.Scores.SpotRisk, "reason", d.Reason, "fallback", d.Fallback,
		"durationSeconds", d.DurationSeconds)
}
