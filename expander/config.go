package expander

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path"
	"reflect"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// Mode names. Each picks its own objective weights.
const (
	ModeNormal           = "normal"
	ModePeak             = "peak"
	ModeCost             = "cost"
	ModeHighAvailability = "high-availability"
)

// Modes lists the mode names a config may use, in a fixed order.
var Modes = []string{ModeNormal, ModePeak, ModeCost, ModeHighAvailability}

// Weights are the relative importance of each objective. Only their ratios
// matter; they must be finite, non-negative and not all zero.
type Weights struct {
	Cost     float64 `json:"cost"`
	Waste    float64 `json:"waste"`
	SpotRisk float64 `json:"spotRisk"`
}

// weightNames are the config keys of Weights' fields, in field order.
var weightNames = [...]string{"cost", "waste", "spotRisk"}

func (w Weights) sum() float64 { return w.Cost + w.Waste + w.SpotRisk }

// NodeGroupPolicy adjusts how the node groups whose id matches Match are
// scored. The first policy that matches a node group applies.
type NodeGroupPolicy struct {
	// Match is a node group id, or a shell pattern as path.Match reads it
	// ("eks-spot-*").
	Match string `json:"match"`
	// PriceDiscount is the fraction taken off the list price, for Savings
	// Plans, Reserved Instances or an enterprise discount: 0.3 is 30% off.
	PriceDiscount float64 `json:"priceDiscount,omitempty"`
	// Excluded keeps the node group out of the answer unless every option
	// is excluded, since an empty answer would veto the scale-up.
	Excluded bool `json:"excluded,omitempty"`
	// MaxSpotRisk excludes the node group, as Excluded does, while its
	// spot-risk score (0..1, see SpotRiskScore) is above this value.
	MaxSpotRisk *float64 `json:"maxSpotRisk,omitempty"`
}

// Config is the expander's policy, read from one YAML file.
type Config struct {
	// Region is the AWS region whose prices and spot data apply.
	Region string `json:"region"`
	// Mode is the active mode, one of Modes.
	Mode string `json:"mode"`
	// Modes overrides the weights of the named modes.
	Modes map[string]Weights `json:"modes,omitempty"`
	// Tolerance is how far above the best total score an option may be
	// and still be returned beside it, letting the next expander of the
	// chain (priority, least-waste) choose among near ties.
	Tolerance float64 `json:"tolerance"`
	// CapacityTypeLabel is one more node label read for the capacity type,
	// after eks.amazonaws.com/capacityType and karpenter.sh/capacity-type.
	// A value of "spot" (any case) means spot.
	CapacityTypeLabel string `json:"capacityTypeLabel,omitempty"`
	// Deadline bounds the work on one request; past it the expander
	// answers with every option in the order received. It must stay well
	// under the autoscaler's 5 s client deadline.
	Deadline metav1.Duration `json:"deadline"`
	// DecisionHistory is how many decisions /debug/decisions keeps.
	DecisionHistory int `json:"decisionHistory"`
	// NodeGroups are per-node-group policies, the first match winning.
	NodeGroups []NodeGroupPolicy `json:"nodeGroups,omitempty"`
	// InstanceDiscounts are what the account pays less than the published
	// price, per instance family ("m5") or type ("m5.large"); a type's entry
	// wins over its family's. They apply in the price catalogue, before a
	// node group's PriceDiscount.
	InstanceDiscounts map[string]InstanceDiscount `json:"instanceDiscounts,omitempty"`
}

// InstanceDiscount is the fraction taken off the on-demand and the spot
// price of an instance family or type: 0.28 is 28% off.
type InstanceDiscount struct {
	OnDemand float64 `json:"onDemand,omitempty"`
	Spot     float64 `json:"spot,omitempty"`
}

// defaultWeights are the built-in weights of each mode.
//
//   - normal balances price against waste and interruptions;
//   - peak puts reliable capacity first: an interruption during a peak
//     costs more than the price difference;
//   - cost takes the cheapest capacity and tolerates interruptions;
//   - high-availability avoids spot risk above all.
var defaultWeights = map[string]Weights{
	ModeNormal:           {Cost: 1, Waste: 0.5, SpotRisk: 0.5},
	ModePeak:             {Cost: 0.4, Waste: 0.3, SpotRisk: 1},
	ModeCost:             {Cost: 1, Waste: 0.3, SpotRisk: 0.1},
	ModeHighAvailability: {Cost: 0.2, Waste: 0.2, SpotRisk: 1},
}

// DefaultConfig returns the configuration used when no file is given.
func DefaultConfig() Config {
	return Config{
		Region:          "us-east-1",
		Mode:            ModeNormal,
		Tolerance:       0.02,
		Deadline:        metav1.Duration{Duration: 2 * time.Second},
		DecisionHistory: 100,
	}
}

// WeightsFor returns the weights of a mode: the config's own where it sets
// them, the built-in ones otherwise.
func (c *Config) WeightsFor(mode string) Weights {
	if w, ok := c.Modes[mode]; ok {
		return w
	}
	return defaultWeights[mode]
}

// PolicyFor returns the first policy matching a node group id.
func (c *Config) PolicyFor(nodeGroupID string) (NodeGroupPolicy, bool) {
	for _, p := range c.NodeGroups {
		if p.Match == nodeGroupID {
			return p, true
		}
		if ok, err := path.Match(p.Match, nodeGroupID); err == nil && ok {
			return p, true
		}
	}
	return NodeGroupPolicy{}, false
}

// ParseConfig reads a YAML config over the defaults. Unknown keys are
// errors, and every bad field is named in the error.
func ParseConfig(data []byte) (Config, error) {
	cfg := DefaultConfig()
	js, err := yaml.YAMLToJSON(data)
	if err != nil {
		return cfg, fmt.Errorf("parsing config: %w", err)
	}
	if string(js) == "null" {
		return cfg, cfg.Validate()
	}
	var raw any
	if err := json.Unmarshal(js, &raw); err != nil {
		return cfg, fmt.Errorf("parsing config: %w", err)
	}
	if unknown := unknownKeys(raw, reflect.TypeFor[Config](), ""); len(unknown) > 0 {
		return cfg, fmt.Errorf("config has unknown fields: %s", strings.Join(unknown, ", "))
	}
	// A bad duration's error does not say which field it is in; say it.
	if m, ok := raw.(map[string]any); ok {
		if v, ok := m["deadline"]; ok {
			str, _ := v.(string)
			if _, err := time.ParseDuration(str); err != nil {
				return cfg, fmt.Errorf("deadline: %v is not a duration such as 1500ms", v)
			}
		}
	}
	if err := yaml.UnmarshalStrict(data, &cfg); err != nil {
		return cfg, fmt.Errorf("decoding config: %w", err)
	}
	return cfg, cfg.Validate()
}

// unknownKeys lists the keys of v (decoded JSON) that type t does not
// have, by their dotted path.
func unknownKeys(v any, t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch x := v.(type) {
	case map[string]any:
		switch t.Kind() {
		case reflect.Struct:
			fields := jsonFields(t)
			for k, sub := range x {
				f, ok := fields[k]
				if !ok {
					out = append(out, prefix+k)
					continue
				}
				out = append(out, unknownKeys(sub, f, prefix+k+".")...)
			}
		case reflect.Map:
			for k, sub := range x {
				out = append(out, unknownKeys(sub, t.Elem(), prefix+k+".")...)
			}
		}
	case []any:
		if t.Kind() == reflect.Slice {
			for i, sub := range x {
				out = append(out, unknownKeys(sub, t.Elem(),
					fmt.Sprintf("%s[%d].", strings.TrimSuffix(prefix, "."), i))...)
			}
		}
	}
	slices.Sort(out)
	return out
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	fields := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if f.Type == reflect.TypeFor[metav1.Duration]() {
			fields[name] = reflect.TypeFor[string]()
			continue
		}
		fields[name] = f.Type
	}
	return fields
}

// Validate reports every field that is out of range, joined in one error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Region == "" {
		bad("region", "must be set")
	}
	if !slices.Contains(Modes, c.Mode) {
		bad("mode", "%q is not one of %s", c.Mode, strings.Join(Modes, ", "))
	}
	for _, name := range sortedKeys(c.Modes) {
		w := c.Modes[name]
		field := "modes." + name
		if !slices.Contains(Modes, name) {
			bad(field, "unknown mode (want one of %s)", strings.Join(Modes, ", "))
			continue
		}
		for i, v := range []float64{w.Cost, w.Waste, w.SpotRisk} {
			if !finite(v) || v < 0 {
				bad(field+"."+weightNames[i], "must be a finite number >= 0, got %v", v)
			}
		}
		if finite(w.sum()) && w.sum() <= 0 {
			bad(field, "weights must not all be zero")
		}
	}
	if !finite(c.Tolerance) || c.Tolerance < 0 || c.Tolerance > 1 {
		bad("tolerance", "must be between 0 and 1, got %v", c.Tolerance)
	}
	if d := c.Deadline.Duration; d <= 0 || d > 4*time.Second {
		bad("deadline", "must be above 0 and at most 4s (the autoscaler waits 5s), got %v", d)
	}
	if c.DecisionHistory < 0 || c.DecisionHistory > 10000 {
		bad("decisionHistory", "must be between 0 and 10000, got %d", c.DecisionHistory)
	}
	for i, p := range c.NodeGroups {
		field := fmt.Sprintf("nodeGroups[%d]", i)
		if p.Match == "" {
			bad(field+".match", "must be set")
		} else if _, err := path.Match(p.Match, ""); err != nil {
			bad(field+".match", "bad pattern %q: %v", p.Match, err)
		}
		if !finite(p.PriceDiscount) || p.PriceDiscount < 0 || p.PriceDiscount >= 1 {
			bad(field+".priceDiscount", "must be at least 0 and below 1, got %v",
				p.PriceDiscount)
		}
		if p.MaxSpotRisk != nil && (!finite(*p.MaxSpotRisk) || *p.MaxSpotRisk < 0 ||
			*p.MaxSpotRisk > 1) {
			bad(field+".maxSpotRisk", "must be between 0 and 1, got %v", *p.MaxSpotRisk)
		}
	}
	for _, key := range sortedKeys(c.InstanceDiscounts) {
		d := c.InstanceDiscounts[key]
		field := "instanceDiscounts." + key
		if strings.TrimSpace(key) == "" {
			bad("instanceDiscounts", "an empty family or type name")
		}
		if !finite(d.OnDemand) || d.OnDemand < 0 || d.OnDemand >= 1 {
			bad(field+".onDemand", "must be at least 0 and below 1, got %v", d.OnDemand)
		}
		if !finite(d.Spot) || d.Spot < 0 || d.Spot >= 1 {
			bad(field+".spot", "must be at least 0 and below 1, got %v", d.Spot)
		}
	}
	return errors.Join(errs...)
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
