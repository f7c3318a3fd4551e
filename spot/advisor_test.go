package spot

import "testing"

func TestAdvisorSnapshot(t *testing.T) {
	a, err := NewAdvisor("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	// us-east-1 m6i.2xlarge sits in the ">20%" bucket with 58% savings in
	// the embedded snapshot.
	r, ok := a.Risk("m6i.2xlarge", "us-east-1a")
	if !ok || r.Bucket != 4 || r.Probability != 0.25 || r.Confidence != AdvisorConfidence {
		t.Errorf("Risk(m6i.2xlarge) = %+v, %v", r, ok)
	}
	if s, ok := a.Savings("m6i.2xlarge"); !ok || s != 58 {
		t.Errorf("Savings(m6i.2xlarge) = %v, %v", s, ok)
	}
	if _, ok := a.Risk("no.such", ""); ok {
		t.Error("unknown type has a risk")
	}
}

func TestAdvisorBadInput(t *testing.T) {
	for name, tc := range map[string]struct {
		csv, region string
	}{
		"no region":      {"region,instance_type,savings_pct,interruption_bucket\n", ""},
		"unknown region": {"region,instance_type,savings_pct,interruption_bucket\nus-east-1,m5.large,50,1\n", "mars-1"},
		"bad bucket":     {"region,instance_type,savings_pct,interruption_bucket\nr,m5.large,50,7\n", "r"},
		"bad savings":    {"region,instance_type,savings_pct,interruption_bucket\nr,m5.large,x,1\n", "r"},
		"short row":      {"region,instance_type,savings_pct,interruption_bucket\nr,m5.large,1\n", "r"},
	} {
		if _, err := parseAdvisor([]byte(tc.csv), tc.region); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestBucketProbability(t *testing.T) {
	prev := 0.0
	for b := range Buckets {
		p, ok := BucketProbability(b)
		if !ok || p <= prev || p > 1 {
			t.Errorf("bucket %d: %v, %v; want increasing probabilities", b, p, ok)
		}
		prev = p
	}
	if _, ok := BucketProbability(-1); ok {
		t.Error("bucket -1 accepted")
	}
	if _, ok := BucketProbability(Buckets); ok {
		t.Error("bucket 5 accepted")
	}
}
