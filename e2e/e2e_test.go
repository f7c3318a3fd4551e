package e2e

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/retry"

	"github.com/augur-autoscaler/augur/e2e/harness"
	pb "github.com/augur-autoscaler/augur/expander/protos"
)

const (
	release   = "augur"
	namespace = "kube-system"
	workloads = "workloads"
	// labelNodeGroup is the label EKS managed node groups put on nodes.
	labelNodeGroup = "eks.amazonaws.com/nodegroup"
	// decisionsMetric counts the expander's scale-up decisions.
	decisionsMetric = "augur_expander_decisions_total"
)

// deploymentGK names the chart's Deployment kind.
var deploymentGK = schema.GroupKind{Group: "apps", Kind: "Deployment"}

// nodeGroup is one EKS-like node group, with one template node.
type nodeGroup struct {
	name, instanceType, zone, capacity string
	cpu, memory                        string
}

func testNodeGroups() []nodeGroup {
	return []nodeGroup{
		{"general-ondemand", "m5.large", "us-east-1a", "ON_DEMAND", "2", "8Gi"},
		{"general-spot", "m5.xlarge", "us-east-1b", "SPOT", "4", "16Gi"},
		{"compute-spot", "c5.xlarge", "us-east-1c", "SPOT", "4", "8Gi"},
	}
}

// suite is the shared state of the scenarios, which run in order.
type suite struct {
	env     suiteEnv
	cp      *harness.ControlPlane
	kube    kubernetes.Interface
	dyn     dynamic.Interface
	applier *harness.Applier
	values  map[string]any
	objects []*unstructured.Unstructured
	// metricsPort is where the expander serves /metrics; the chart is
	// rendered with it so that the scrape annotations name it.
	metricsPort int
	expander    *harness.Expander
	prom        *harness.Prometheus
	// sdURL serves Prometheus the Services of the API server.
	sdURL string
	// certFile and keyFile are the expander's serving pair on disk, and
	// caPEM the bundle clients trust.
	certFile, keyFile string
	caPEM             []byte
	conn              *grpcConn
	// winners counts, by node group, the first option of every answer.
	winners map[string]int
}

// TestEndToEnd runs the scenarios against one control plane. Each
// scenario needs the ones before it, so the first failure stops the run.
func TestEndToEnd(t *testing.T) {
	env := loadEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	s := &suite{env: env, winners: map[string]int{}}
	t.Logf("logs and data in %s", env.artifacts)
	s.startControlPlane(ctx, t)
	steps := []struct {
		name string
		run  func(context.Context, *testing.T)
	}{
		{"chart objects pass server-side validation and apply", s.applyChart},
		{"a bad field is rejected by the API server", s.rejectBadField},
		{"generated TLS is stable across upgrades", s.tlsStable},
		{"helm install then upgrade keeps the certificates", s.helmUpgrade},
		{"scheduler spreads the replicas across zones", s.replicasSpread},
		{"expander answers a CA-shaped BestOptions over the chart's TLS", s.bestOptions},
		{"expander serves a re-issued certificate without a restart", s.certReload},
		{"the chart's policy ConfigMap drives the expander", s.policyConfig},
		{"prometheus scrapes the decision counter", s.prometheusScrapes},
		{"expander keeps answering while the API server restarts", s.apiServerRestart},
		{"expander keeps answering while prometheus restarts", s.prometheusRestart},
	}
	for _, st := range steps {
		if !t.Run(st.name, func(t *testing.T) { st.run(ctx, t) }) {
			t.Fatalf("stopping after failed scenario %q", st.name)
		}
	}
}

// startControlPlane starts the suite's own control plane or, on kind,
// connects to the cluster named by AUGUR_E2E_KUBECONFIG.
func (s *suite) startControlPlane(ctx context.Context, t *testing.T) {
	var cfg *rest.Config
	var err error
	t.Cleanup(func() { s.teardown(t) })
	if s.env.kubeconfig != "" {
		if cfg, err = clientcmd.BuildConfigFromFlags("", s.env.kubeconfig); err != nil {
			t.Fatalf("loading %s: %v", s.env.kubeconfig, err)
		}
	} else {
		s.cp, err = harness.NewControlPlane(harness.ControlPlaneOptions{
			BinDir: s.env.binDir, Dir: filepath.Join(s.env.artifacts, "cluster"),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.cp.Start(ctx); err != nil {
			t.Fatalf("starting control plane: %v", err)
		}
		s.env.kubeconfig = s.cp.Kubeconfig()
		cfg = s.cp.RESTConfig()
	}
	if s.kube, err = kubernetes.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	if s.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		t.Fatal(err)
	}
	s.applier = harness.NewApplier(s.dyn, s.kube.Discovery())
	sd := httptest.NewServer(&harness.ServiceDiscovery{Kube: s.kube, Namespace: namespace})
	t.Cleanup(sd.Close)
	s.sdURL = sd.URL
	if s.metricsPort, err = harness.FreePort(); err != nil {
		t.Fatal(err)
	}
	// The values a user would pass, plus a strict zone spread so that the
	// scheduler's placement is an observable outcome. On kind the image
	// built from the Dockerfile runs for real, and kind has no zones.
	s.values = map[string]any{
		"expander": map[string]any{"metricsPort": s.metricsPort},
		"topologySpread": map[string]any{
			"zone": map[string]any{"whenUnsatisfiable": "DoNotSchedule"},
		},
		"serviceAccount": map[string]any{"annotations": map[string]any{
			"eks.amazonaws.com/role-arn": "arn:aws:iam::111122223333:role/augur",
		}},
	}
	if s.onKind() {
		repo, tag, _ := strings.Cut(s.env.image, ":")
		s.values["image"] = map[string]any{"repository": repo, "tag": tag, "pullPolicy": "Never"}
		s.values["topologySpread"] = map[string]any{"enabled": false}
	}
}

// onKind reports whether the suite runs on a cluster it did not start.
func (s *suite) onKind() bool { return s.cp == nil }

// teardown prints the logs of every process after a failure and stops
// them all, the last started first.
func (s *suite) teardown(t *testing.T) {
	var procs []*harness.Process
	if s.cp != nil {
		procs = s.cp.Processes()
	}
	if s.expander != nil {
		procs = append(procs, s.expander.Process)
	}
	if s.prom != nil {
		procs = append(procs, s.prom.Process)
	}
	if t.Failed() {
		for _, p := range procs {
			if p != nil {
				t.Logf("---- last log lines of %s (%s)\n%s", p.Name, p.LogPath, p.Tail(3000))
			}
		}
	}
	if s.conn != nil {
		s.conn.Close()
	}
	for i := len(procs) - 1; i >= 0; i-- {
		if procs[i] != nil {
			_ = procs[i].Stop()
		}
	}
}

func (s *suite) render(ctx context.Context, t *testing.T,
	values map[string]any) []*unstructured.Unstructured {
	t.Helper()
	return renderObjects(ctx, t, harness.RenderOptions{
		ChartDir: s.env.chartDir, Release: release, Namespace: namespace,
		Values: values, Kubeconfig: s.env.kubeconfig,
	})
}

func (s *suite) applyChart(ctx context.Context, t *testing.T) {
	if err := s.createNodes(ctx); err != nil {
		t.Fatal(err)
	}
	s.objects = s.render(ctx, t, s.values)
	var kinds []string
	for _, o := range s.objects {
		kinds = append(kinds, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(kinds)
	want := []string{
		"Deployment/augur", "PodDisruptionBudget/augur", "Secret/augur-ca",
		"Secret/augur-ca-bundle", "Secret/augur-tls", "Service/augur",
		"ServiceAccount/augur",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Fatalf("rendered objects (-want +got):\n%s", diff)
	}
	for _, dry := range []bool{true, false} {
		for _, o := range s.objects {
			if _, err := s.applier.Apply(ctx, o, dry); err != nil {
				t.Fatal(err)
			}
		}
	}
	dep, err := s.kube.AppsV1().Deployments(namespace).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back the deployment: %v", err)
	}
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]
	checks := []struct {
		what string
		ok   bool
	}{
		{"two replicas", *dep.Spec.Replicas == 2},
		{"non-root", pod.SecurityContext.RunAsNonRoot != nil && *pod.SecurityContext.RunAsNonRoot},
		{"seccomp RuntimeDefault", pod.SecurityContext.SeccompProfile != nil &&
			pod.SecurityContext.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"read-only root", *c.SecurityContext.ReadOnlyRootFilesystem},
		{"no privilege escalation", !*c.SecurityContext.AllowPrivilegeEscalation},
		{"readiness on /readyz", c.ReadinessProbe.HTTPGet.Path == "/readyz"},
		{"liveness on /healthz", c.LivenessProbe.HTTPGet.Path == "/healthz"},
		{"resource requests", !c.Resources.Requests.Cpu().IsZero()},
		{"no API token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
	}
	for _, ch := range checks {
		if !ch.ok {
			t.Errorf("deployment as stored: want %s", ch.what)
		}
	}
	sa, err := s.kube.CoreV1().ServiceAccounts(namespace).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading back the service account: %v", err)
	}
	const role = "arn:aws:iam::111122223333:role/augur"
	if got := sa.Annotations["eks.amazonaws.com/role-arn"]; got != role {
		t.Errorf("service account IRSA annotation = %q", got)
	}
}

// rejectBadField proves that the apply path catches a typo: the same
// Deployment with one unknown field must be refused.
func (s *suite) rejectBadField(ctx context.Context, t *testing.T) {
	dep, ok := harness.FindObject(s.objects, deploymentGK, release)
	if !ok {
		t.Fatal("no deployment rendered")
	}
	bad := dep.DeepCopy()
	if err := unstructured.SetNestedField(bad.Object, int64(2), "spec", "replica"); err != nil {
		t.Fatal(err)
	}
	_, err := s.applier.Apply(ctx, bad, true)
	var status apierrors.APIStatus
	if !errors.As(err, &status) || !strings.Contains(err.Error(), ".spec.replica") {
		t.Fatalf("applying a deployment with spec.replica: err = %v, want a strict "+
			"validation error naming the field", err)
	}
}

func secretData(t *testing.T, objs []*unstructured.Unstructured, name string) map[string]string {
	t.Helper()
	o, ok := harness.FindObject(objs, schema.GroupKind{Kind: "Secret"}, name)
	if !ok {
		t.Fatalf("secret %s not rendered", name)
	}
	data, _, err := unstructured.NestedStringMap(o.Object, "data")
	if err != nil {
		t.Fatalf("secret %s data: %v", name, err)
	}
	return data
}

// tlsStable renders the chart again, as `helm upgrade` would: lookup finds
// the Secrets applied before and the chart must keep them byte for byte.
// Changing the certificate's names re-issues the serving certificate from
// the same CA.
func (s *suite) tlsStable(ctx context.Context, t *testing.T) {
	again := s.render(ctx, t, s.values)
	for _, name := range []string{"augur-ca", "augur-tls", "augur-ca-bundle"} {
		if diff := cmp.Diff(secretData(t, s.objects, name), secretData(t, again, name)); diff != "" {
			t.Errorf("secret %s changed on re-render (-first +second):\n%s", name, diff)
		}
	}
	tlsData := secretData(t, s.objects, "augur-tls")
	cert := parseCert(t, tlsData["tls.crt"])
	wantNames := []string{"augur", "augur.kube-system", "augur.kube-system.svc",
		"augur.kube-system.svc.cluster.local"}
	if diff := cmp.Diff(wantNames, cert.DNSNames); diff != "" {
		t.Errorf("serving certificate names (-want +got):\n%s", diff)
	}
	ca := parseCert(t, secretData(t, s.objects, "augur-ca-bundle")["ca.crt"])
	if err := cert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("serving certificate not signed by the published CA: %v", err)
	}

	renamed := cloneValues(s.values)
	renamed["tls"] = map[string]any{"extraDnsNames": []any{"augur.example.internal"}}
	re := s.render(ctx, t, renamed)
	reCert := parseCert(t, secretData(t, re, "augur-tls")["tls.crt"])
	if !contains(reCert.DNSNames, "augur.example.internal") {
		t.Errorf("re-issued certificate names = %v, want augur.example.internal among them",
			reCert.DNSNames)
	}
	caBefore, caAfter := secretData(t, s.objects, "augur-ca"), secretData(t, re, "augur-ca")
	if diff := cmp.Diff(caBefore, caAfter); diff != "" {
		t.Errorf("CA changed when only the names did (-before +after):\n%s", diff)
	}
	if err := reCert.CheckSignatureFrom(ca); err != nil {
		t.Errorf("re-issued certificate not signed by the same CA: %v", err)
	}
}

// helmUpgrade installs the chart as a Helm release in a namespace of its
// own, as a user would, upgrades it with a changed value, and checks that
// the upgrade applied and that the TLS Secrets did not change.
func (s *suite) helmUpgrade(ctx context.Context, t *testing.T) {
	const ns = "augur-helm"
	opts := harness.RenderOptions{
		ChartDir: s.env.chartDir, Release: release, Namespace: ns,
		Values: cloneValues(s.values), Kubeconfig: s.env.kubeconfig,
	}
	if rev, err := harness.InstallOrUpgrade(ctx, opts); err != nil || rev != 1 {
		t.Fatalf("helm install: revision %d, %v", rev, err)
	}
	before := s.secrets(ctx, t, ns)
	opts.Values["replicas"] = 3
	if rev, err := harness.InstallOrUpgrade(ctx, opts); err != nil || rev != 2 {
		t.Fatalf("helm upgrade: revision %d, %v", rev, err)
	}
	dep, err := s.kube.AppsV1().Deployments(ns).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 3 {
		t.Errorf("replicas after upgrade = %d, want 3", *dep.Spec.Replicas)
	}
	if diff := cmp.Diff(before, s.secrets(ctx, t, ns)); diff != "" {
		t.Errorf("TLS secrets changed on helm upgrade (-install +upgrade):\n%s", diff)
	}
	if err := s.kube.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil {
		t.Errorf("deleting namespace %s: %v", ns, err)
	}
}

// secrets returns the data of the chart's TLS Secrets in ns.
func (s *suite) secrets(ctx context.Context, t *testing.T,
	ns string) map[string]map[string][]byte {
	t.Helper()
	out := map[string]map[string][]byte{}
	for _, name := range []string{"augur-ca", "augur-tls", "augur-ca-bundle"} {
		sec, err := s.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("reading secret %s/%s: %v", ns, name, err)
		}
		out[name] = sec.Data
	}
	return out
}

func (s *suite) replicasSpread(ctx context.Context, t *testing.T) {
	if s.onKind() {
		s.replicasAvailable(ctx, t)
		return
	}
	sel := "app.kubernetes.io/name=augur,app.kubernetes.io/instance=" + release
	var zones map[string]string
	err := harness.WaitFor(ctx, nil, 250*time.Millisecond, func() error {
		pods, err := s.kube.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: sel})
		if err != nil {
			return err
		}
		zones = map[string]string{}
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" {
				return fmt.Errorf("pod %s not scheduled yet", p.Name)
			}
			n, err := s.kube.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			zones[p.Name] = n.Labels[corev1.LabelTopologyZone]
		}
		if len(zones) != 2 {
			return fmt.Errorf("%d pods, want 2", len(zones))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for the deployment's pods to be scheduled: %v", err)
	}
	seen := map[string]bool{}
	for _, z := range zones {
		seen[z] = true
	}
	if len(seen) != 2 {
		t.Errorf("replicas placed in zones %v, want two different zones", zones)
	}
	if !s.cp.HasKwok() {
		return
	}
	// kwok runs the pods on the fake nodes: the Deployment becomes
	// available and the disruption budget allows exactly one eviction.
	s.replicasAvailable(ctx, t)
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = harness.WaitFor(wctx, nil, 250*time.Millisecond, func() error {
		pdb, err := s.kube.PolicyV1().PodDisruptionBudgets(namespace).Get(wctx, release,
			metav1.GetOptions{})
		if err != nil {
			return err
		}
		if pdb.Status.CurrentHealthy != 2 || pdb.Status.DisruptionsAllowed != 1 {
			return fmt.Errorf("budget: %d healthy, %d disruptions allowed; want 2 and 1",
				pdb.Status.CurrentHealthy, pdb.Status.DisruptionsAllowed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// replicasAvailable waits until the Deployment's two pods are available:
// on kind they run the image and pass the readiness probe; locally kwok
// reports them running and ready.
func (s *suite) replicasAvailable(ctx context.Context, t *testing.T) {
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	err := harness.WaitFor(wctx, nil, time.Second, func() error {
		d, err := s.kube.AppsV1().Deployments(namespace).Get(wctx, release, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d.Status.AvailableReplicas != 2 {
			return fmt.Errorf("%d of 2 replicas available", d.Status.AvailableReplicas)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for the deployment: %v", err)
	}
}

// caSettings reads the values override for the upstream cluster-autoscaler
// chart: the host CA dials and the Secret it mounts as its trust bundle.
func (s *suite) caSettings(t *testing.T) (host, secret string) {
	t.Helper()
	v := readCAValues(t, s.env.caValues)
	if got := fmt.Sprint(v.ExtraArgs["expander"]); !strings.HasPrefix(got, "grpc,") {
		t.Errorf("extraArgs.expander = %q, want grpc first", got)
	}
	target := fmt.Sprint(v.ExtraArgs["grpc-expander-url"])
	u, err := url.Parse("grpc://" + target)
	if err != nil {
		t.Fatalf("parsing grpc-expander-url %q: %v", target, err)
	}
	certPath := fmt.Sprint(v.ExtraArgs["grpc-expander-cert"])
	for _, vol := range v.ExtraVolumeSecrets {
		if strings.HasPrefix(certPath, vol.MountPath+"/") {
			return u.Hostname(), vol.Name
		}
	}
	t.Fatalf("no extraVolumeSecrets entry mounts %s", certPath)
	return "", ""
}

// bestOptions starts the expander with the serving certificate the chart
// stored in the cluster and calls it the way CA does, with the trust
// bundle and host name CA is configured with.
func (s *suite) bestOptions(ctx context.Context, t *testing.T) {
	host, bundle := s.caSettings(t)
	tlsSecret, err := s.kube.CoreV1().Secrets(namespace).Get(ctx, "augur-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading serving secret: %v", err)
	}
	caSecret, err := s.kube.CoreV1().Secrets(namespace).Get(ctx, bundle, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading ca bundle secret %s: %v", bundle, err)
	}
	dir := filepath.Join(s.env.artifacts, "expander")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	certFile, keyFile, err := writeServingPair(dir, tlsSecret.Data)
	if err != nil {
		t.Fatal(err)
	}
	s.certFile, s.keyFile, s.caPEM = certFile, keyFile, caSecret.Data["ca.crt"]
	s.expander, err = harness.NewExpander(harness.ExpanderOptions{
		Binary: s.env.augur, Dir: dir, CertFile: certFile, KeyFile: keyFile,
		MetricsPort: s.metricsPort,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.expander.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.conn, err = dialExpander(s.expander.GRPCAddr(), host, caSecret.Data["ca.crt"])
	if err != nil {
		t.Fatal(err)
	}
	if err := s.conn.healthy(ctx); err != nil {
		t.Fatalf("health check: %v", err)
	}
	// A wrong host name must fail the TLS handshake, as it would for CA.
	wrong, err := dialExpander(s.expander.GRPCAddr(), "augur.other.svc", caSecret.Data["ca.crt"])
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	if err := wrong.healthy(ctx); err == nil {
		t.Error("handshake with a host outside the certificate's names succeeded")
	}

	req, err := s.buildRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.call(ctx, req); err != nil {
			t.Fatal(err)
		}
	}
	got, err := scrapeCounter(ctx, s.expander.MetricsURL()+"/metrics", decisionsMetric)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(total(s.winners)); got != want {
		t.Errorf("augur_expander_decisions_total = %v, want %v", got, want)
	}
}

// writeServingPair writes tls.crt and tls.key from a Secret's data into
// dir. Each file is written beside its final name and renamed into place,
// so the expander never reads half a file, as with a kubelet's update of a
// mounted Secret.
func writeServingPair(dir string, data map[string][]byte) (certFile, keyFile string, err error) {
	for _, k := range []string{"tls.key", "tls.crt"} {
		tmp, err := harness.WriteFile(dir, "."+k+".new", data[k], 0o600)
		if err != nil {
			return "", "", err
		}
		if err := os.Rename(tmp, filepath.Join(dir, k)); err != nil {
			return "", "", fmt.Errorf("replacing %s: %w", k, err)
		}
	}
	return filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), nil
}

// certReload re-issues the serving certificate through the chart with an
// extra DNS name, stores it in the cluster, writes it where the running
// expander reads its pair, and waits until a client checking that new
// name completes the handshake. The process must not have restarted: its
// decision counter keeps its count.
func (s *suite) certReload(ctx context.Context, t *testing.T) {
	const newName = "augur.example.internal"
	values := cloneValues(s.values)
	values["tls"] = map[string]any{"extraDnsNames": []any{newName}}
	objs := s.render(ctx, t, values)
	sec, ok := harness.FindObject(objs, schema.GroupKind{Kind: "Secret"}, "augur-tls")
	if !ok {
		t.Fatal("no serving secret rendered")
	}
	if _, err := s.applier.Apply(ctx, sec, false); err != nil {
		t.Fatal(err)
	}
	stored, err := s.kube.CoreV1().Secrets(namespace).Get(ctx, "augur-tls", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := dialExpander(s.expander.GRPCAddr(), newName, s.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.healthy(ctx); err == nil {
		t.Fatalf("handshake for %s succeeded before the certificate carried it", newName)
	}
	if _, _, err := writeServingPair(filepath.Dir(s.certFile), stored.Data); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	err = harness.WaitFor(wctx, s.expander.Process, 200*time.Millisecond, func() error {
		return conn.healthy(wctx)
	})
	if err != nil {
		t.Fatalf("handshake for %s after the certificate changed: %v", newName, err)
	}
	got, err := scrapeCounter(ctx, s.expander.MetricsURL()+"/metrics", decisionsMetric)
	if err != nil {
		t.Fatal(err)
	}
	if want := float64(total(s.winners)); got != want {
		t.Errorf("decisions after reload = %v, want %v (process restarted?)", got, want)
	}
}

// policyConfig renders the chart with a policy in expander.config,
// applies it, and starts a second expander on the ConfigMap's file as read
// back from the cluster: spot groups are excluded and the mode is
// high-availability, so every answer is the on-demand group and the
// decisions are counted under that mode. A misspelt key in the same file
// must stop the expander at start with an error that names it.
func (s *suite) policyConfig(ctx context.Context, t *testing.T) {
	values := cloneValues(s.values)
	values["expander"] = map[string]any{
		"metricsPort": s.metricsPort,
		"config": map[string]any{
			"region": "us-east-1", "mode": "high-availability",
			"nodeGroups": []any{map[string]any{"match": "*-spot", "excluded": true}},
		},
	}
	objs := s.render(ctx, t, values)
	for _, dry := range []bool{true, false} {
		for _, o := range objs {
			if _, err := s.applier.Apply(ctx, o, dry); err != nil {
				t.Fatal(err)
			}
		}
	}
	cm, err := s.kube.CoreV1().ConfigMaps(namespace).Get(ctx, release, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading the policy ConfigMap: %v", err)
	}
	dir := filepath.Join(s.env.artifacts, "expander-policy")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfgFile, err := harness.WriteFile(dir, "config.yaml", []byte(cm.Data["config.yaml"]), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	e, err := harness.NewExpander(harness.ExpanderOptions{
		Binary: s.env.augur, Dir: dir, CertFile: s.certFile, KeyFile: s.keyFile,
		ExtraArgs: []string{"--config=" + cfgFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Process.Stop() })
	if err := e.Start(ctx); err != nil {
		t.Fatalf("%v\n%s", err, e.Process.Tail(2000))
	}
	conn, err := dialExpander(e.GRPCAddr(), "augur.kube-system.svc", s.caPEM)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	req, err := s.buildRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		resp, err := pb.NewExpanderClient(conn.ClientConn).BestOptions(cctx, req)
		cancel()
		if err != nil {
			t.Fatalf("BestOptions with the policy: %v", err)
		}
		var ids []string
		for _, o := range resp.Options {
			ids = append(ids, o.NodeGroupId)
		}
		if diff := cmp.Diff([]string{"general-ondemand"}, ids); diff != "" {
			t.Errorf("answer with spot groups excluded (-want +got):\n%s", diff)
		}
	}
	got, err := scrapeSeries(ctx, e.MetricsURL()+"/metrics", decisionsMetric,
		map[string]string{"mode": "high-availability", "node_group": "general-ondemand"})
	if err != nil {
		t.Fatal(err)
	}
	if got != 3 {
		t.Errorf("decisions in high-availability mode for general-ondemand = %v, want 3", got)
	}

	bad := strings.Replace(cm.Data["config.yaml"], "mode:", "modee:", 1)
	badFile, err := harness.WriteFile(dir, "bad.yaml", []byte(bad), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	badDir := filepath.Join(dir, "bad")
	if err := os.MkdirAll(badDir, 0o700); err != nil {
		t.Fatal(err)
	}
	be, err := harness.NewExpander(harness.ExpanderOptions{
		Binary: s.env.augur, Dir: badDir, CertFile: s.certFile, KeyFile: s.keyFile,
		ExtraArgs: []string{"--config=" + badFile},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = be.Process.Stop() })
	if err := be.Start(ctx); err == nil {
		t.Fatal("expander started with a misspelt policy key")
	}
	if tail := be.Process.Tail(4000); !strings.Contains(tail, "modee") {
		t.Errorf("expander's error does not name the misspelt key:\n%s", tail)
	}
}

// call sends one BestOptions request and checks the answer the way CA
// reads it: a non-empty list of ids that were offered.
func (s *suite) call(ctx context.Context, req *pb.BestOptionsRequest) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second) // CA's own deadline
	defer cancel()
	resp, err := pb.NewExpanderClient(s.conn.ClientConn).BestOptions(ctx, req)
	if err != nil {
		return fmt.Errorf("BestOptions: %w", err)
	}
	offered := map[string]bool{}
	for _, o := range req.Options {
		offered[o.NodeGroupId] = true
	}
	if len(resp.Options) == 0 {
		return fmt.Errorf("BestOptions returned no option (a veto) for %d offered", len(offered))
	}
	for _, o := range resp.Options {
		if !offered[o.NodeGroupId] {
			return fmt.Errorf("BestOptions returned %q, which was not offered", o.NodeGroupId)
		}
	}
	s.winners[resp.Options[0].NodeGroupId]++
	return nil
}

// prometheusScrapes starts Prometheus with service discovery fed from the
// real API server. It keeps only Services annotated prometheus.io/scrape
// and takes the port and path from the chart's annotations; the one change
// is the host, since a Service's cluster IP is not routed on this machine
// and the expander listens on loopback.
func (s *suite) prometheusScrapes(ctx context.Context, t *testing.T) {
	config := fmt.Sprintf(prometheusConfig, s.sdURL)
	var err error
	s.prom, err = harness.NewPrometheus(harness.PrometheusOptions{
		Path: s.env.prometheus, Dir: filepath.Join(s.env.artifacts, "prometheus"), Config: config,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.prom.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitForDecisions(ctx, t)
}

// waitForDecisions polls Prometheus until the decision counter, summed by
// node group, matches the answers the suite received.
func (s *suite) waitForDecisions(ctx context.Context, t *testing.T) {
	t.Helper()
	want := map[string]float64{}
	for g, n := range s.winners {
		want[g] = float64(n)
	}
	var got map[string]float64
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err := harness.WaitFor(wctx, s.prom.Process, 500*time.Millisecond, func() error {
		samples, err := s.prom.Query(wctx,
			`sum by (node_group) (augur_expander_decisions_total{job="kubernetes-services",`+
				`namespace="kube-system",service="augur"})`)
		if err != nil {
			return err
		}
		got = map[string]float64{}
		for _, sm := range samples {
			got[sm.Metric["node_group"]] = sm.Value
		}
		if !cmp.Equal(want, got) {
			return fmt.Errorf("decisions in prometheus %v, want %v", got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

const prometheusConfig = `global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: kubernetes-services
    http_sd_configs:
      - url: %s
        refresh_interval: 1s
    relabel_configs:
      - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scrape]
        regex: "true"
        action: keep
      - source_labels: [__meta_kubernetes_service_port_name]
        regex: metrics
        action: keep
      - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_scheme]
        regex: (https?)
        target_label: __scheme__
      - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_path]
        regex: (.+)
        target_label: __metrics_path__
      - source_labels: [__meta_kubernetes_service_annotation_prometheus_io_port]
        regex: (\d+)
        replacement: 127.0.0.1:$1
        target_label: __address__
      - source_labels: [__meta_kubernetes_namespace]
        target_label: namespace
      - source_labels: [__meta_kubernetes_service_name]
        target_label: service
`

// apiServerRestart stops the API server, calls the expander while it is
// down and after it is back, and checks the cluster is usable again.
func (s *suite) apiServerRestart(ctx context.Context, t *testing.T) {
	if s.onKind() {
		t.Skip("needs an API server the suite started itself")
	}
	req, err := s.buildRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cp.APIServer.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err == nil {
		t.Fatal("API server still answers after it was stopped")
	}
	for i := 0; i < 5; i++ {
		if err := s.call(ctx, req); err != nil {
			t.Fatalf("while the API server is down: %v", err)
		}
	}
	if err := s.cp.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{}); err != nil {
		t.Fatalf("API server after restart: %v", err)
	}
	if err := s.call(ctx, req); err != nil {
		t.Fatalf("after the API server restarted: %v", err)
	}
	s.waitForDecisions(ctx, t)
}

// prometheusRestart stops Prometheus, calls the expander while it is down,
// and checks the restarted Prometheus sees every decision, the ones made
// during its absence included.
func (s *suite) prometheusRestart(ctx context.Context, t *testing.T) {
	req, err := s.buildRequest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.prom.Process.Stop(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := s.call(ctx, req); err != nil {
			t.Fatalf("while prometheus is down: %v", err)
		}
	}
	if err := s.prom.Start(ctx); err != nil {
		t.Fatal(err)
	}
	s.waitForDecisions(ctx, t)
}

func (s *suite) createNodes(ctx context.Context) error {
	for _, ns := range []string{workloads} {
		_, err := s.kube.CoreV1().Namespaces().Create(ctx,
			&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", ns, err)
		}
	}
	for _, g := range testNodeGroups() {
		name := "ip-10-0-" + g.name
		n := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
				corev1.LabelHostname:             name,
				corev1.LabelInstanceTypeStable:   g.instanceType,
				corev1.LabelTopologyZone:         g.zone,
				corev1.LabelTopologyRegion:       "us-east-1",
				corev1.LabelOSStable:             "linux",
				corev1.LabelArchStable:           "amd64",
				"eks.amazonaws.com/capacityType": g.capacity,
				labelNodeGroup:                   g.name,
			}},
			Spec: corev1.NodeSpec{ProviderID: "aws:///" + g.zone + "/i-" + g.name},
		}
		if s.cp != nil && s.cp.HasKwok() {
			n.Annotations = map[string]string{harness.KwokNodeAnnotation: "fake"}
		}
		if s.onKind() {
			// Only templates for the request: kind's real nodes run the pods.
			n.Spec.Taints = []corev1.Taint{{
				Key: "augur.io/e2e-template", Effect: corev1.TaintEffectNoSchedule,
			}}
		}
		created, err := s.kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("creating node %s: %w", name, err)
		}
		res := corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse(g.cpu),
			corev1.ResourceMemory: resource.MustParse(g.memory),
			corev1.ResourcePods:   resource.MustParse("29"),
		}
		// The node controller edits new nodes too (taints), so retry on a
		// conflict with the latest copy, as a kubelet would.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			cur, err := s.kube.CoreV1().Nodes().Get(ctx, created.Name, metav1.GetOptions{})
			if err != nil {
				return err
			}
			now := metav1.Now()
			cur.Status.Capacity, cur.Status.Allocatable = res, res
			cur.Status.Conditions = []corev1.NodeCondition{{
				Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
				LastHeartbeatTime: now, LastTransitionTime: now,
			}}
			_, err = s.kube.CoreV1().Nodes().UpdateStatus(ctx, cur, metav1.UpdateOptions{})
			return err
		})
		if err != nil {
			return fmt.Errorf("marking node %s ready: %w", name, err)
		}
	}
	// Pending pods the way CA sees them: stored by the API server but not
	// placed. A scheduler name no scheduler serves keeps them pending.
	for i := 0; i < 3; i++ {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("batch-%d", i), Namespace: workloads,
				Labels: map[string]string{"app": "batch"}},
			Spec: corev1.PodSpec{
				SchedulerName: "pending-for-e2e",
				Containers: []corev1.Container{{
					Name: "work", Image: "registry.k8s.io/pause:3.10",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU:    resource.MustParse("1500m"),
						corev1.ResourceMemory: resource.MustParse("2Gi"),
					}},
				}},
			},
		}
		_, err := s.kube.CoreV1().Pods(workloads).Create(ctx, p, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating pod %s: %w", p.Name, err)
		}
	}
	return nil
}

// buildRequest builds a BestOptionsRequest the way CA 1.35 and later do:
// the template node of every node group in nodeBytesMap and, for every
// group, an option carrying the pending pods in protobuf encoding.
func (s *suite) buildRequest(ctx context.Context) (*pb.BestOptionsRequest, error) {
	nodes, err := s.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: labelNodeGroup})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	pods, err := s.kube.CoreV1().Pods(workloads).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	var podBytes [][]byte
	var cpu int64
	for i := range pods.Items {
		b, err := pods.Items[i].Marshal()
		if err != nil {
			return nil, fmt.Errorf("encoding pod %s: %w", pods.Items[i].Name, err)
		}
		podBytes = append(podBytes, b)
		for _, c := range pods.Items[i].Spec.Containers {
			cpu += c.Resources.Requests.Cpu().MilliValue()
		}
	}
	req := &pb.BestOptionsRequest{NodeBytesMap: map[string][]byte{}}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		group := n.Labels[labelNodeGroup]
		b, err := n.Marshal()
		if err != nil {
			return nil, fmt.Errorf("encoding node %s: %w", n.Name, err)
		}
		req.NodeBytesMap[group] = b
		perNode := n.Status.Allocatable.Cpu().MilliValue()
		if perNode == 0 {
			return nil, fmt.Errorf("node %s has no allocatable cpu", n.Name)
		}
		req.Options = append(req.Options, &pb.Option{
			NodeGroupId: group,
			NodeCount:   int32(math.Ceil(float64(cpu) / float64(perNode))),
			PodBytes:    podBytes,
			Debug:       "e2e " + group,
		})
	}
	if len(req.Options) != len(testNodeGroups()) {
		return nil, fmt.Errorf("built %d options, want %d", len(req.Options), len(testNodeGroups()))
	}
	return req, nil
}

func parseCert(t *testing.T, b64 string) *x509.Certificate {
	t.Helper()
	raw, err := decodeB64(b64)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		t.Fatal("certificate is not PEM")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func scrapeCounter(ctx context.Context, url, name string) (float64, error) {
	return scrapeSeries(ctx, url, name, nil)
}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func cloneValues(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		out[k] = x
	}
	return out
}
