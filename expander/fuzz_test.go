package expander

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	pb "github.com/augur-autoscaler/augur/expander/protos"
)

// FuzzBestOptions feeds arbitrary bytes to the request decoder and the
// ranker. Whatever parses as a request with options must be answered
// without a panic, with a non-empty choice of the request's own ids and
// every score inside [0, 1].
func FuzzBestOptions(f *testing.F) {
	ps := pods(3, "250m", "512Mi")
	for _, legacy := range []bool{false, true} {
		b, err := proto.Marshal(buildRequest(f, tlsGroups, ps, legacy))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	odd := buildRequest(f, []group{{id: "", nodes: -1}, {id: "x", instanceType: "m5.large",
		spot: true, nodes: 1 << 30}}, nil, false)
	odd.NodeBytesMap["x"] = []byte{0x0a, 0x02, 0x0a}
	b, err := proto.Marshal(odd)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{0x0a, 0x00})
	f.Add([]byte("not a request"))

	r := snapshotRanker(f, DefaultConfig())
	f.Fuzz(func(t *testing.T, data []byte) {
		var req pb.BestOptionsRequest
		if err := proto.Unmarshal(data, &req); err != nil || len(req.GetOptions()) == 0 {
			return
		}
		d, err := r.Rank(context.Background(), &req)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Chosen) == 0 {
			t.Fatal("empty choice")
		}
		ids := make([]string, 0, len(req.GetOptions()))
		for _, o := range req.GetOptions() {
			ids = append(ids, o.GetNodeGroupId())
		}
		for _, id := range d.Chosen {
			if !slices.Contains(ids, id) {
				t.Fatalf("chose %q, not in the request", id)
			}
		}
		for _, o := range d.Options {
			s := o.Scores
			for _, v := range []float64{s.Cost, s.Waste, s.SpotRisk, s.Total} {
				if !(v >= 0 && v <= 1) {
					t.Fatalf("score outside [0, 1]: %+v", s)
				}
			}
		}
		resp := response(&req, d)
		if len(resp.GetOptions()) == 0 {
			t.Fatal("empty response")
		}
	})
}
