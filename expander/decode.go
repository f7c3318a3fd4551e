package expander

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	resourcehelper "k8s.io/component-helpers/resource"

	"github.com/augur-autoscaler/augur/cost"
	pb "github.com/augur-autoscaler/augur/expander/protos"
)

// Node labels the expander reads from a node group's template node.
const (
	labelInstanceType     = "node.kubernetes.io/instance-type"
	labelInstanceTypeBeta = "beta.kubernetes.io/instance-type"
	labelZone             = "topology.kubernetes.io/zone"
	labelZoneBeta         = "failure-domain.beta.kubernetes.io/zone"
	labelEKSCapacity      = "eks.amazonaws.com/capacityType"
	labelKarpenterCap     = "karpenter.sh/capacity-type"
)

// Penalty names the reason an option was scored with less than full
// information. The set is closed, so it is safe as a metric label.
type Penalty string

// Penalties. Each is logged with the option it hit and counted.
const (
	PenaltyMissingTemplate     Penalty = "missing_template"
	PenaltyUndecodableTemplate Penalty = "undecodable_template"
	PenaltyUnknownInstanceType Penalty = "unknown_instance_type"
	PenaltyMissingPrice        Penalty = "missing_price"
	PenaltyUnknownSpotRisk     Penalty = "unknown_spot_risk"
	PenaltyUnknownAllocatable  Penalty = "unknown_allocatable"
	PenaltyUndecodablePod      Penalty = "undecodable_pod"
	PenaltyBadNodeCount        Penalty = "bad_node_count"
)

// Template is what the expander reads from a node group's template node.
type Template struct {
	InstanceType string
	Zone         string
	Capacity     cost.CapacityType
	// CPUMilli and MemoryBytes are the allocatable resources of one node;
	// zero when unknown.
	CPUMilli    int64
	MemoryBytes int64
}

// Demand is the sum of the effective requests of an option's pods.
type Demand struct {
	Pods        int
	CPUMilli    int64
	MemoryBytes int64
	// Undecodable counts pods whose bytes did not decode; they add nothing.
	Undecodable int
}

// Candidate is one option of a request, decoded.
type Candidate struct {
	// Index is the option's position in the request.
	Index       int
	NodeGroupID string
	NodeCount   int
	Template    Template
	Demand      Demand
	penaltyList
}

// penaltyList holds the penalties an option was scored with, each with the
// problem that caused it.
type penaltyList struct {
	Penalties []Penalty
	// Problems explain the penalties, for the log.
	Problems []string
}

func (l *penaltyList) penalise(p Penalty, format string, args ...any) {
	l.Penalties = append(l.Penalties, p)
	l.Problems = append(l.Problems, fmt.Sprintf(format, args...))
}

// podCache decodes each distinct pod once per request: the autoscaler sends
// the same pending pods in many options.
type podCache map[string]podRequests

type podRequests struct {
	cpuMilli, memBytes int64
	ok                 bool
}

func (pc podCache) requests(b []byte) podRequests {
	if r, ok := pc[string(b)]; ok {
		return r
	}
	var pod corev1.Pod
	var r podRequests
	if err := pod.Unmarshal(b); err == nil {
		req := resourcehelper.PodRequests(&pod, resourcehelper.PodResourcesOptions{})
		r = podRequests{cpuMilli: req.Cpu().MilliValue(), memBytes: req.Memory().Value(),
			ok: true}
	}
	pc[string(b)] = r
	return r
}

// templateCache decodes each node group's template once per request.
type templateCache struct {
	bytesMap, msgMap map[string][]byte
	capLabel         string
	specs            SpecSource
	done             map[string]templateResult
}

type templateResult struct {
	t Template
	penaltyList
}

func (tc *templateCache) get(id string) templateResult {
	if r, ok := tc.done[id]; ok {
		return r
	}
	r := tc.decode(id)
	tc.done[id] = r
	return r
}

func (tc *templateCache) decode(id string) templateResult {
	var r templateResult
	b, ok := tc.bytesMap[id]
	if !ok || len(b) == 0 {
		b, ok = tc.msgMap[id]
	}
	if !ok || len(b) == 0 {
		r.penalise(PenaltyMissingTemplate, "the request carries no template node for it")
		return r
	}
	var node corev1.Node
	if err := node.Unmarshal(b); err != nil {
		r.penalise(PenaltyUndecodableTemplate, "decoding template node: %v", err)
		return r
	}
	r.t = readTemplate(&node, tc.capLabel)
	spec, known := tc.specs.Spec(r.t.InstanceType)
	if r.t.InstanceType == "" {
		r.penalise(PenaltyUnknownInstanceType, "template node has no instance-type label")
	} else if !known {
		r.penalise(PenaltyUnknownInstanceType, "instance type %q is not in the catalogue",
			r.t.InstanceType)
	}
	if r.t.CPUMilli <= 0 || r.t.MemoryBytes <= 0 {
		if known && spec.VCPU > 0 && spec.MemoryMiB > 0 {
			r.t.CPUMilli, r.t.MemoryBytes = int64(spec.VCPU)*1000, spec.MemoryMiB<<20
		} else {
			r.penalise(PenaltyUnknownAllocatable,
				"template node has no allocatable cpu and memory")
		}
	}
	return r
}

// readTemplate reads instance type, zone, capacity type and allocatable
// resources from a template node. Allocatable falls back to capacity.
func readTemplate(node *corev1.Node, capLabel string) Template {
	l := node.Labels
	t := Template{
		InstanceType: firstLabel(l, labelInstanceType, labelInstanceTypeBeta),
		Zone:         firstLabel(l, labelZone, labelZoneBeta),
	}
	keys := []string{labelEKSCapacity, labelKarpenterCap}
	if capLabel != "" {
		keys = append(keys, capLabel)
	}
	for _, k := range keys {
		if strings.EqualFold(l[k], "spot") {
			t.Capacity = cost.Spot
			break
		}
	}
	res := node.Status.Allocatable
	if res.Cpu().IsZero() || res.Memory().IsZero() {
		res = node.Status.Capacity
	}
	t.CPUMilli, t.MemoryBytes = res.Cpu().MilliValue(), res.Memory().Value()
	return t
}

func firstLabel(l map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := l[k]; v != "" {
			return v
		}
	}
	return ""
}

// decodeRequest turns the request's options into candidates. Pods are read
// from podBytes (field 5) and, when that is empty, from the older pod field
// (4); templates from nodeBytesMap (3), then nodeMap (2). It stops early,
// with the context's error, when the context ends.
func decodeRequest(ctx context.Context, req *pb.BestOptionsRequest, capLabel string,
	specs SpecSource) ([]Candidate, error) {
	tc := &templateCache{bytesMap: req.GetNodeBytesMap(), msgMap: req.GetNodeMap(),
		capLabel: capLabel, specs: specs, done: make(map[string]templateResult)}
	pods := make(podCache)
	out := make([]Candidate, len(req.GetOptions()))
	for i, opt := range req.GetOptions() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c := &out[i]
		c.Index, c.NodeGroupID, c.NodeCount = i, opt.GetNodeGroupId(), int(opt.GetNodeCount())
		tr := tc.get(c.NodeGroupID)
		c.Template = tr.t
		c.Penalties = append(c.Penalties, tr.Penalties...)
		c.Problems = append(c.Problems, tr.Problems...)
		raw := opt.GetPodBytes()
		if len(raw) == 0 {
			raw = opt.GetPod()
		}
		for _, b := range raw {
			r := pods.requests(b)
			if !r.ok {
				c.Demand.Undecodable++
				continue
			}
			c.Demand.Pods++
			c.Demand.CPUMilli += r.cpuMilli
			c.Demand.MemoryBytes += r.memBytes
		}
		if c.Demand.Undecodable > 0 {
			c.penalise(PenaltyUndecodablePod, "%d of %d pods did not decode",
				c.Demand.Undecodable, len(raw))
		}
	}
	return out, nil
}
