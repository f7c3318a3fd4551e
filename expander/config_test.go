package expander

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfigExamples(t *testing.T) {
	files, err := filepath.Glob("../manifests/examples/*.yaml")
	if err != nil || len(files) < 2 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseConfig(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestParseConfigAdvanced(t *testing.T) {
	data, err := os.ReadFile("../manifests/examples/advanced.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Region != "eu-west-1" || cfg.Deadline.Duration != 1500*time.Millisecond ||
		cfg.Tolerance != 0.03 {
		t.Errorf("parsed %+v", cfg)
	}
	if w := cfg.WeightsFor(ModePeak); w != (Weights{Cost: 0.3, Waste: 0.2, SpotRisk: 1}) {
		t.Errorf("peak weights = %+v", w)
	}
	p, ok := cfg.PolicyFor("eks-general-od-abc123")
	if !ok || p.PriceDiscount != 0.28 {
		t.Errorf("policy for eks-general-od-abc123 = %+v, %v", p, ok)
	}
	if p, ok := cfg.PolicyFor("eks-batch-spot-x"); !ok || p.MaxSpotRisk == nil {
		t.Errorf("policy for eks-batch-spot-x = %+v, %v", p, ok)
	}
	if d := cfg.InstanceDiscounts["c6i.2xlarge"]; d != (InstanceDiscount{OnDemand: 0.3,
		Spot: 0.05}) {
		t.Errorf("instance discount of c6i.2xlarge = %+v", d)
	}
	if _, ok := cfg.PolicyFor("unrelated"); ok {
		t.Error("unrelated node group matched a policy")
	}
}

func TestParseConfigDefaults(t *testing.T) {
	for _, in := range []string{"", "# nothing\n", "{}"} {
		cfg, err := ParseConfig([]byte(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if diff := cmp.Diff(DefaultConfig(), cfg); diff != "" {
			t.Errorf("%q differs from the defaults:\n%s", in, diff)
		}
	}
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"unknown keys are all named", "regoin: x\nmodes:\n  peak: {cost: 1, wast: 2}\n" +
			"nodeGroups:\n  - match: a\n    discount: 0.1\n",
			[]string{"regoin", "modes.peak.wast", "nodeGroups[0].discount"}},
		{"every bad value is named", "region: ''\nmode: turbo\ntolerance: 2\n" +
			"deadline: 9s\ndecisionHistory: -1\n" +
			"modes:\n  peak: {cost: -1}\n  cost: {cost: 0, waste: 0, spotRisk: 0}\n" +
			"  fast: {cost: 1}\n" +
			"nodeGroups:\n  - match: ''\n  - match: '['\n    priceDiscount: 1\n" +
			"    maxSpotRisk: 3\ninstanceDiscounts:\n  m5: {onDemand: 1, spot: -0.1}\n",
			[]string{"region:", "mode:", "tolerance:", "deadline:", "decisionHistory:",
				"modes.peak.cost:", "modes.cost:", "modes.fast:", "nodeGroups[0].match:",
				"nodeGroups[1].match:", "nodeGroups[1].priceDiscount:",
				"nodeGroups[1].maxSpotRisk:", "instanceDiscounts.m5.onDemand:",
				"instanceDiscounts.m5.spot:"}},
		{"wrong type", "tolerance: lots\n", []string{"tolerance"}},
		{"bad duration", "deadline: soon\n", []string{"deadline"}},
		{"not yaml", "region: [unclosed\n", []string{"parsing config"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tc.in))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}
