package harness

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/kube"
	release "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// RenderOptions names a chart, its release and the cluster it renders
// against.
type RenderOptions struct {
	// ChartDir is the chart's folder.
	ChartDir string
	// Release and Namespace name the release.
	Release, Namespace string
	// Values are the user's values, merged over the chart's defaults.
	Values map[string]any
	// Kubeconfig points at the cluster. The chart is rendered with the
	// Helm SDK in server dry-run mode, so lookup reads the live cluster and
	// .Capabilities lists the API versions it serves. Empty renders
	// offline, like `helm template`.
	Kubeconfig string
	// APIVersions adds API versions to .Capabilities when rendering
	// offline, e.g. "monitoring.coreos.com/v1/ServiceMonitor".
	APIVersions []string
	// KubeVersion is the cluster version assumed when rendering offline;
	// v1.37.2, the release of the project's client-go, when empty.
	KubeVersion string
	// Logger receives Helm's own logs; discarded when nil.
	Logger *slog.Logger
}

// Render renders the chart's templates the way `helm install --dry-run=server`
// does and returns the manifest.
func Render(ctx context.Context, o RenderOptions) (string, error) {
	ch, err := loader.Load(o.ChartDir)
	if err != nil {
		return "", fmt.Errorf("loading chart %s: %w", o.ChartDir, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(logger.Handler()))
	flags := genericclioptions.NewConfigFlags(false)
	if o.Kubeconfig != "" {
		flags.KubeConfig = &o.Kubeconfig
	}
	flags.Namespace = &o.Namespace
	if err := cfg.Init(flags, o.Namespace, "memory"); err != nil {
		return "", fmt.Errorf("initialising helm: %w", err)
	}
	install := action.NewInstall(cfg)
	install.ReleaseName = o.Release
	install.Namespace = o.Namespace
	install.DryRunStrategy = action.DryRunServer
	if o.Kubeconfig == "" {
		install.DryRunStrategy = action.DryRunClient
		install.APIVersions = o.APIVersions
		v := o.KubeVersion
		if v == "" {
			v = "v1.37.2"
		}
		kv, err := common.ParseKubeVersion(v)
		if err != nil {
			return "", fmt.Errorf("parsing kube version %q: %w", v, err)
		}
		install.KubeVersion = kv
	}
	install.Replace = true
	// Objects applied earlier by the suite carry no Helm release
	// annotations; rendering again must not refuse them.
	install.TakeOwnership = true
	rel, err := install.RunWithContext(ctx, ch, o.Values)
	if err != nil {
		return "", fmt.Errorf("rendering chart %s: %w", ch.Name(), err)
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return "", fmt.Errorf("rendering chart %s: unexpected release type %T", ch.Name(), rel)
	}
	return r.Manifest, nil
}

// Objects splits a rendered manifest into objects, in order. Empty
// documents are dropped; a document that is not a Kubernetes object is an
// error.
func Objects(manifest string) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(manifest)), 4096)
	var out []*unstructured.Unstructured
	for i := 0; ; i++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding document %d: %w", i, err)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			return nil, fmt.Errorf("document %d is not a named Kubernetes object", i)
		}
		out = append(out, u)
	}
}

// FindObject returns the first object of the given kind and name.
func FindObject(objs []*unstructured.Unstructured, gk schema.GroupKind,
	name string) (*unstructured.Unstructured, bool) {
	for _, o := range objs {
		if o.GroupVersionKind().GroupKind() == gk && o.GetName() == name {
			return o, true
		}
	}
	return nil, false
}

// InstallOrUpgrade does what `helm upgrade --install` does, with the Helm
// SDK and release records in Secrets: it installs the release, or upgrades
// it when it exists. It does not wait for workloads to become ready. It
// returns the release's revision.
func InstallOrUpgrade(ctx context.Context, o RenderOptions) (int, error) {
	ch, err := loader.Load(o.ChartDir)
	if err != nil {
		return 0, fmt.Errorf("loading chart %s: %w", o.ChartDir, err)
	}
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(logger.Handler()))
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig = &o.Kubeconfig
	flags.Namespace = &o.Namespace
	if err := cfg.Init(flags, o.Namespace, "secret"); err != nil {
		return 0, fmt.Errorf("initialising helm: %w", err)
	}
	var rel any
	if _, lastErr := cfg.Releases.Last(o.Release); lastErr != nil {
		install := action.NewInstall(cfg)
		install.ReleaseName = o.Release
		install.Namespace = o.Namespace
		install.CreateNamespace = true
		install.WaitStrategy = kube.HookOnlyStrategy
		install.Timeout = time.Minute
		if rel, err = install.RunWithContext(ctx, ch, o.Values); err != nil {
			return 0, fmt.Errorf("installing release %s: %w", o.Release, err)
		}
	} else {
		upgrade := action.NewUpgrade(cfg)
		upgrade.Namespace = o.Namespace
		upgrade.WaitStrategy = kube.HookOnlyStrategy
		upgrade.Timeout = time.Minute
		if rel, err = upgrade.RunWithContext(ctx, o.Release, ch, o.Values); err != nil {
			return 0, fmt.Errorf("upgrading release %s: %w", o.Release, err)
		}
	}
	r, ok := rel.(*release.Release)
	if !ok {
		return 0, fmt.Errorf("release %s: unexpected type %T", o.Release, rel)
	}
	return r.Version, nil
}
