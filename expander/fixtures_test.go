package expander

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/augur-autoscaler/augur/cost"
	pb "github.com/augur-autoscaler/augur/expander/protos"
	"github.com/augur-autoscaler/augur/spot"
)

// group describes one node group of a test request.
type group struct {
	id, instanceType, zone string
	spot                   bool
	cpu, mem               string // allocatable; empty leaves it out
	nodes                  int32
}

// templateNode builds the template node the autoscaler would send for g.
func templateNode(g group) *corev1.Node {
	labels := map[string]string{}
	if g.instanceType != "" {
		labels[labelInstanceType] = g.instanceType
	}
	if g.zone != "" {
		labels[labelZone] = g.zone
	}
	if g.spot {
		labels[labelEKSCapacity] = "SPOT"
	} else {
		labels[labelEKSCapacity] = "ON_DEMAND"
	}
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: "template-node-for-" + g.id, Labels: labels}}
	if g.cpu != "" {
		n.Status.Allocatable = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(g.cpu),
			corev1.ResourceMemory: resource.MustParse(g.mem),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
	}
	return n
}

// testPod is a pending pod of a Deployment asking for cpu and mem.
func testPod(i int, cpu, mem string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("web-7d4b9c6f8-%05d", i),
			Namespace: "default", Labels: map[string]string{"app": "web"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "web", Image: "registry.example/web:1.4.2",
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU:    resource.MustParse(cpu),
				corev1.ResourceMemory: resource.MustParse(mem),
			}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending},
	}
}

func mustMarshal(t testing.TB, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildRequest makes a request with one option per group, each carrying
// the same pods. legacy puts templates and pods in the fields older
// autoscalers fill (nodeMap, pod) instead of the bytes fields.
func buildRequest(t testing.TB, groups []group, pods []*corev1.Pod, legacy bool) *pb.BestOptionsRequest {
	t.Helper()
	podBytes := make([][]byte, len(pods))
	for i, p := range pods {
		podBytes[i] = mustMarshal(t, p)
	}
	req := &pb.BestOptionsRequest{NodeBytesMap: map[string][]byte{}, NodeMap: map[string][]byte{}}
	for _, g := range groups {
		nb := mustMarshal(t, templateNode(g))
		opt := &pb.Option{NodeGroupId: g.id, NodeCount: g.nodes, Debug: "test " + g.id}
		if legacy {
			req.NodeMap[g.id] = nb
			opt.Pod = podBytes
		} else {
			req.NodeBytesMap[g.id] = nb
			opt.PodBytes = podBytes
		}
		req.Options = append(req.Options, opt)
	}
	return req
}

func pods(n int, cpu, mem string) []*corev1.Pod {
	out := make([]*corev1.Pod, n)
	for i := range out {
		out[i] = testPod(i, cpu, mem)
	}
	return out
}

// fakePrices answers fixed prices and counts its calls.
type fakePrices struct {
	od, spot map[string]float64
	calls    int
}

func (f *fakePrices) Price(t, _ string, ct cost.CapacityType) (cost.Price, bool) {
	f.calls++
	m := f.od
	if ct == cost.Spot {
		m = f.spot
	}
	v, ok := m[t]
	return cost.Price{USDPerHour: v, Source: cost.SourceSnapshot}, ok
}

type fakeRisks map[string]float64

func (f fakeRisks) Risk(t, _ string) (spot.Risk, bool) {
	p, ok := f[t]
	return spot.Risk{Probability: p, Confidence: 0.5, Source: "test"}, ok
}

type fakeSpecs map[string]cost.Spec

func (f fakeSpecs) Spec(t string) (cost.Spec, bool) { s, ok := f[t]; return s, ok }

var testSpecs = fakeSpecs{
	"m5.large":   {VCPU: 2, MemoryMiB: 8192},
	"m5.xlarge":  {VCPU: 4, MemoryMiB: 16384},
	"m5.2xlarge": {VCPU: 8, MemoryMiB: 32768},
	"c5.xlarge":  {VCPU: 4, MemoryMiB: 8192},
}

func newTestRanker(t testing.TB, cfg Config, prices PriceSource, risks RiskSource) *Ranker {
	t.Helper()
	r, err := NewRanker(RankerOptions{Config: cfg, Prices: prices, Risks: risks, Specs: testSpecs})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// snapshotRanker ranks with the embedded us-east-1 snapshot.
func snapshotRanker(t testing.TB, cfg Config) *Ranker {
	t.Helper()
	adv, err := spot.NewAdvisor(cfg.Region)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := cost.New(cost.Options{Region: cfg.Region, SpotSavings: adv})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRanker(RankerOptions{Config: cfg, Prices: cat, Risks: adv, Specs: cat})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var testNow = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
