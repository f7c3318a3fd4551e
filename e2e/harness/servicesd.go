package harness

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// ServiceDiscovery serves Prometheus HTTP service discovery
// (http_sd_configs) from the Services in the API server, with the same
// __meta_kubernetes_* labels Prometheus's own Kubernetes discovery gives
// for role "service". Debian builds Prometheus without Kubernetes
// discovery, so this bridge lets the suite drive scraping from the
// chart's annotations as a cluster's Prometheus would.
type ServiceDiscovery struct {
	// Kube reads the Services.
	Kube kubernetes.Interface
	// Namespace limits discovery to one namespace.
	Namespace string
}

type targetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// ServeHTTP answers with one target group per Service port. If the API
// server cannot be read it answers 503, and Prometheus keeps the targets
// it had.
func (d *ServiceDiscovery) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	svcs, err := d.Kube.CoreV1().Services(d.Namespace).List(r.Context(), metav1.ListOptions{})
	if err != nil {
		http.Error(w, "listing services: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	groups := []targetGroup{}
	for _, s := range svcs.Items {
		for _, p := range s.Spec.Ports {
			host := s.Name + "." + s.Namespace + ".svc"
			labels := map[string]string{
				"__meta_kubernetes_namespace":          s.Namespace,
				"__meta_kubernetes_service_name":       s.Name,
				"__meta_kubernetes_service_port_name":  p.Name,
				"__meta_kubernetes_service_cluster_ip": s.Spec.ClusterIP,
			}
			for k, v := range s.Annotations {
				labels["__meta_kubernetes_service_annotation_"+labelName(k)] = v
			}
			for k, v := range s.Labels {
				labels["__meta_kubernetes_service_label_"+labelName(k)] = v
			}
			groups = append(groups, targetGroup{
				Targets: []string{net.JoinHostPort(host, strconv.Itoa(int(p.Port)))},
				Labels:  labels,
			})
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(groups)
}

// labelName turns an annotation or label key into a Prometheus label name
// the way Kubernetes discovery does: every character that is not a letter,
// digit or underscore becomes an underscore.
func labelName(k string) string {
	return strings.Map(func(r rune) rune {
		if r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, k)
}
