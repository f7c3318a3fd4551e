package harness

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func TestLabelName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"prometheus.io/scrape", "prometheus_io_scrape"},
		{"app.kubernetes.io/name", "app_kubernetes_io_name"},
		{"plain_Key9", "plain_Key9"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := labelName(tc.in); got != tc.want {
			t.Errorf("labelName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestServiceDiscovery(t *testing.T) {
	kube := fake.NewClientset(&corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "augur", Namespace: "kube-system",
			Annotations: map[string]string{"prometheus.io/port": "8080"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{
			{Name: "metrics", Port: 8080},
		}},
	})
	srv := httptest.NewServer(&ServiceDiscovery{Kube: kube, Namespace: "kube-system"})
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got []targetGroup
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := []targetGroup{{
		Targets: []string{"augur.kube-system.svc:8080"},
		Labels: map[string]string{
			"__meta_kubernetes_namespace":                             "kube-system",
			"__meta_kubernetes_service_name":                          "augur",
			"__meta_kubernetes_service_port_name":                     "metrics",
			"__meta_kubernetes_service_cluster_ip":                    "10.96.0.10",
			"__meta_kubernetes_service_annotation_prometheus_io_port": "8080",
		},
	}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("target groups (-want +got):\n%s", diff)
	}
}

func TestObjects(t *testing.T) {
	const doc = "---\n# comment only\n---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: a\n"
	objs, err := Objects(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].GetName() != "a" {
		t.Errorf("objects = %v, want one Secret a", objs)
	}
	bad := []string{"kind: Secret\nmetadata:\n  name: a\n", "apiVersion: v1\nkind: [\n"}
	for _, bad := range bad {
		if _, err := Objects(bad); err == nil {
			t.Errorf("Objects(%q) succeeded, want an error", bad)
		}
	}
}

func TestWaitForReportsLastError(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := WaitFor(ctx, nil, 1, func() error { return errString("still starting") })
	if err == nil || !strings.Contains(err.Error(), "still starting") {
		t.Errorf("WaitFor = %v, want the last check's error", err)
	}
}

type errString string

func (e errString) Error() string { return string(e) }
