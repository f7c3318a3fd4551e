package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/action"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/augur-autoscaler/augur/e2e/harness"
)

// These tests render the chart offline, like `helm template`, and need
// no cluster; the cluster suite applies what they describe.

func renderOffline(t *testing.T, values map[string]any,
	apiVersions ...string) []*unstructured.Unstructured {
	t.Helper()
	return renderObjects(context.Background(), t, harness.RenderOptions{
		ChartDir: chartDir(), Release: release, Namespace: namespace,
		Values: values, APIVersions: apiVersions,
	})
}

// renderObjects renders the chart and splits the manifest into objects,
// failing the test on any error.
func renderObjects(ctx context.Context, t *testing.T,
	opts harness.RenderOptions) []*unstructured.Unstructured {
	t.Helper()
	manifest, err := harness.Render(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := harness.Objects(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func chartDir() string { return filepath.Join("..", "manifests", "charts", "augur") }

func kinds(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(out)
	return out
}

// decodeStrict converts obj into a typed value and fails on any field the
// type does not declare.
func decodeStrict(t *testing.T, obj *unstructured.Unstructured, into any) {
	t.Helper()
	b, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		t.Fatalf("decoding %s %s strictly: %v", obj.GetKind(), obj.GetName(), err)
	}
}

func TestChartObjects(t *testing.T) {
	base := []string{"Deployment/augur", "PodDisruptionBudget/augur", "Secret/augur-ca",
		"Secret/augur-ca-bundle", "Secret/augur-tls", "Service/augur", "ServiceAccount/augur"}
	tests := []struct {
		name        string
		values      map[string]any
		apiVersions []string
		want        []string
	}{
		{name: "defaults", want: base},
		{
			name:        "prometheus operator present",
			apiVersions: []string{"monitoring.coreos.com/v1/ServiceMonitor"},
			want:        append([]string{"ServiceMonitor/augur"}, base...),
		},
		{
			name:   "one replica has no disruption budget",
			values: map[string]any{"replicas": 1},
			want: []string{"Deployment/augur", "Secret/augur-ca", "Secret/augur-ca-bundle",
				"Secret/augur-tls", "Service/augur", "ServiceAccount/augur"},
		},
		{
			name: "rbac only when rules are given",
			values: map[string]any{"rbac": map[string]any{"rules": []any{map[string]any{
				"apiGroups": []any{""}, "resources": []any{"pods"}, "verbs": []any{"list"},
			}}}},
			want: append([]string{"Role/augur", "RoleBinding/augur"}, base...),
		},
		{
			name:   "cert-manager replaces the generated secrets",
			values: map[string]any{"tls": map[string]any{"certManager": map[string]any{"enabled": true}}},
			want: []string{"Certificate/augur", "Certificate/augur-ca", "Deployment/augur",
				"Issuer/augur-ca", "Issuer/augur-selfsigned", "PodDisruptionBudget/augur",
				"Service/augur", "ServiceAccount/augur"},
		},
		{
			name: "cert-manager with the user's issuer",
			values: map[string]any{"tls": map[string]any{"certManager": map[string]any{
				"enabled": true, "issuerRef": map[string]any{"name": "corp", "kind": "ClusterIssuer"},
			}}},
			want: []string{"Certificate/augur", "Deployment/augur", "PodDisruptionBudget/augur",
				"Service/augur", "ServiceAccount/augur"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := kinds(renderOffline(t, tc.values, tc.apiVersions...))
			want := append([]string(nil), tc.want...)
			sort.Strings(want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestChartScrapeSettings(t *testing.T) {
	t.Run("annotations without the operator", func(t *testing.T) {
		objs := renderOffline(t, map[string]any{"expander": map[string]any{"metricsPort": 9102}})
		svc, _ := harness.FindObject(objs, schema.GroupKind{Kind: "Service"}, release)
		want := map[string]string{
			"prometheus.io/scrape": "true", "prometheus.io/port": "9102",
			"prometheus.io/path": "/metrics", "prometheus.io/scheme": "http",
		}
		if diff := cmp.Diff(want, svc.GetAnnotations()); diff != "" {
			t.Errorf("service annotations (-want +got):\n%s", diff)
		}
	})
	t.Run("service monitor with the operator", func(t *testing.T) {
		objs := renderOffline(t, nil, "monitoring.coreos.com/v1/ServiceMonitor")
		o, ok := harness.FindObject(objs, schema.GroupKind{Group: "monitoring.coreos.com",
			Kind: "ServiceMonitor"}, release)
		if !ok {
			t.Fatal("no ServiceMonitor rendered")
		}
		var sm monitoringv1.ServiceMonitor
		decodeStrict(t, o, &sm)
		svcObj, _ := harness.FindObject(objs, schema.GroupKind{Kind: "Service"}, release)
		var svc corev1.Service
		decodeStrict(t, svcObj, &svc)
		if len(svc.Annotations) != 0 {
			t.Errorf("service keeps scrape annotations %v beside a ServiceMonitor", svc.Annotations)
		}
		if diff := cmp.Diff(svc.Labels, sm.Spec.Selector.MatchLabels,
			cmpSubset()); diff != "" {
			t.Errorf("ServiceMonitor selector does not match the Service (-svc +selector):\n%s", diff)
		}
		ports := map[string]bool{}
		for _, p := range svc.Spec.Ports {
			ports[p.Name] = true
		}
		for _, ep := range sm.Spec.Endpoints {
			if !ports[ep.Port] {
				t.Errorf("ServiceMonitor endpoint port %q is not a Service port", ep.Port)
			}
		}
	})
}

// cmpSubset compares only the keys of the second map: a selector matches
// when each of its labels is on the object.
func cmpSubset() cmp.Option {
	return cmp.FilterPath(func(p cmp.Path) bool {
		if mi, ok := p.Last().(cmp.MapIndex); ok {
			_, vy := mi.Values()
			return !vy.IsValid()
		}
		return false
	}, cmp.Ignore())
}

func TestChartCertManagerNames(t *testing.T) {
	objs := renderOffline(t, map[string]any{"tls": map[string]any{
		"certManager":   map[string]any{"enabled": true},
		"extraDnsNames": []any{"augur.example.internal"},
	}})
	certGK := schema.GroupKind{Group: "cert-manager.io", Kind: "Certificate"}
	cert, ok := harness.FindObject(objs, certGK, release)
	if !ok {
		t.Fatal("no Certificate rendered")
	}
	names, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	want := []string{"augur", "augur.kube-system", "augur.kube-system.svc",
		"augur.kube-system.svc.cluster.local", "augur.example.internal"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("certificate names (-want +got):\n%s", diff)
	}
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	depObj, _ := harness.FindObject(objs, deploymentGK, release)
	var dep appsv1.Deployment
	decodeStrict(t, depObj, &dep)
	if got := dep.Spec.Template.Spec.Volumes[0].Secret.SecretName; got != secret {
		t.Errorf("deployment mounts secret %q, certificate writes %q", got, secret)
	}
}

func TestChartArgs(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   []string
	}{
		{name: "defaults", want: []string{"expander", "--listen=:8443", "--metrics-listen=:8080",
			"--tls-cert-file=/etc/augur/tls/tls.crt", "--tls-key-file=/etc/augur/tls/tls.key"}},
		{
			name: "mutual tls, config and log level",
			values: map[string]any{
				"tls":      map[string]any{"requireClientCert": true},
				"expander": map[string]any{"config": map[string]any{"mode": "cost"}, "logLevel": "debug"},
			},
			want: []string{"expander", "--listen=:8443", "--metrics-listen=:8080",
				"--tls-cert-file=/etc/augur/tls/tls.crt", "--tls-key-file=/etc/augur/tls/tls.key",
				"--client-ca-file=/etc/augur/tls/ca.crt", "--config=/etc/augur/config/config.yaml",
				"--log-level=debug"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			objs := renderOffline(t, tc.values)
			o, _ := harness.FindObject(objs, deploymentGK, release)
			var dep appsv1.Deployment
			decodeStrict(t, o, &dep)
			if diff := cmp.Diff(tc.want, dep.Spec.Template.Spec.Containers[0].Args); diff != "" {
				t.Errorf("args (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClusterAutoscalerValues checks the values override for the upstream
// chart against what the augur chart renders with its defaults in
// kube-system: CA must dial a name on the certificate, on the Service's
// gRPC port, and mount the Secret that holds the CA bundle.
func TestClusterAutoscalerValues(t *testing.T) {
	v := readCAValues(t, filepath.Join("..", "manifests", "cluster-autoscaler-values.yaml"))
	if got := fmt.Sprint(v.ExtraArgs["expander"]); got != "grpc,priority,least-waste" {
		t.Errorf("expander = %q", got)
	}
	u, err := url.Parse("grpc://" + fmt.Sprint(v.ExtraArgs["grpc-expander-url"]))
	if err != nil {
		t.Fatal(err)
	}
	objs := renderOffline(t, nil)
	svcObj, _ := harness.FindObject(objs, schema.GroupKind{Kind: "Service"}, release)
	var svc corev1.Service
	decodeStrict(t, svcObj, &svc)
	grpcPort := svc.Spec.Ports[0]
	if want := fmt.Sprint(grpcPort.Port); u.Port() != want || grpcPort.Name != "grpc" {
		t.Errorf("grpc-expander-url port %s, service grpc port %s", u.Port(), want)
	}
	tlsData := secretData(t, objs, "augur-tls")
	cert := parseCert(t, tlsData["tls.crt"])
	if err := cert.VerifyHostname(u.Hostname()); err != nil {
		t.Errorf("CA dials %q: %v", u.Hostname(), err)
	}
	certPath := fmt.Sprint(v.ExtraArgs["grpc-expander-cert"])
	found := false
	for _, vol := range v.ExtraVolumeSecrets {
		for _, it := range vol.Items {
			if vol.MountPath+"/"+it.Path != certPath {
				continue
			}
			found = true
			data := secretData(t, objs, vol.Name)
			if _, ok := data[it.Key]; !ok {
				t.Errorf("secret %s has no key %s", vol.Name, it.Key)
			}
			ca := parseCert(t, data[it.Key])
			if err := cert.CheckSignatureFrom(ca); err != nil {
				t.Errorf("bundle in %s does not verify the serving certificate: %v", vol.Name, err)
			}
		}
	}
	if !found {
		t.Errorf("no extraVolumeSecrets item is mounted at %s", certPath)
	}
	if !strings.HasPrefix(certPath, "/") {
		t.Errorf("grpc-expander-cert %q is not an absolute path", certPath)
	}
}

// TestChartLint runs Helm's own linter in strict mode, where warnings
// count as failures, with the defaults and with cert-manager on.
func TestChartLint(t *testing.T) {
	for _, vals := range []map[string]any{
		nil,
		{"tls": map[string]any{"certManager": map[string]any{"enabled": true}}},
	} {
		l := action.NewLint()
		l.Strict = true
		l.Namespace = namespace
		res := l.Run([]string{chartDir()}, vals)
		for _, err := range res.Errors {
			t.Errorf("helm lint (values %v): %v", vals, err)
		}
		for _, m := range res.Messages {
			t.Logf("helm lint: %v", m)
		}
		if res.TotalChartsLinted != 1 {
			t.Errorf("helm lint checked %d charts, want 1", res.TotalChartsLinted)
		}
	}
}

// TestChartValuesSchema checks that values.schema.json turns a misspelt or
// mistyped value into an error instead of a silent default.
func TestChartValuesSchema(t *testing.T) {
	tests := []struct {
		name   string
		values map[string]any
		want   string
	}{
		{"misspelt top-level key", map[string]any{"replica": 3}, "replica"},
		{"misspelt nested key", map[string]any{"tls": map[string]any{"extraDNSNames": []any{"x"}}},
			"extraDNSNames"},
		{"wrong type", map[string]any{"replicas": "two"}, "replicas"},
		{"bad enum", map[string]any{"topologySpread": map[string]any{
			"zone": map[string]any{"whenUnsatisfiable": "Never"}}}, "whenUnsatisfiable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := harness.Render(context.Background(), harness.RenderOptions{
				ChartDir: chartDir(), Release: release, Namespace: namespace, Values: tc.values,
			})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error = %v, want one naming %q", err, tc.want)
			}
		})
	}
}
