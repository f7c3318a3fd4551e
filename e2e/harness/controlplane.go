package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// ControlPlaneOptions configures a ControlPlane.
type ControlPlaneOptions struct {
	// BinDir holds etcd, kube-apiserver, kube-scheduler and
	// kube-controller-manager.
	BinDir string
	// Dir receives data, certificates, the kubeconfig and one log file per
	// process.
	Dir string
	// ReadyTimeout bounds the wait for each process to become healthy.
	ReadyTimeout time.Duration
}

// ControlPlane is etcd and the three Kubernetes control-plane processes,
// listening on loopback ports chosen at start.
type ControlPlane struct {
	opts       ControlPlaneOptions
	pki        *pki
	apiPort    int
	kubeconfig string

	// Etcd, APIServer, Scheduler and ControllerManager are the processes,
	// exposed so that tests can restart them and read their logs.
	Etcd, APIServer, Scheduler, ControllerManager *Process
	// Kwok, when its binary is in BinDir, plays the kubelet for nodes
	// annotated KwokNodeAnnotation: it keeps them Ready and runs their pods.
	Kwok *Process
}

// KwokNodeAnnotation marks the nodes kwok manages; its value is "fake".
const KwokNodeAnnotation = "kwok.x-k8s.io/node"

// serviceRange is the cluster's service address range; its first address
// is the in-cluster API server Service.
const serviceRange = "10.96.0.0/24"

// Binaries lists the executables a ControlPlane needs in BinDir.
func Binaries() []string {
	return []string{"etcd", "kube-apiserver", "kube-scheduler", "kube-controller-manager"}
}

// NewControlPlane checks that every binary exists and prepares the folder.
func NewControlPlane(opts ControlPlaneOptions) (*ControlPlane, error) {
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 90 * time.Second
	}
	for _, b := range Binaries() {
		if _, err := Find(filepath.Join(opts.BinDir, b), "run make e2e-bins"); err != nil {
			return nil, err
		}
	}
	for _, d := range []string{"pki", "etcd", "logs", "cert"} {
		if err := os.MkdirAll(filepath.Join(opts.Dir, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	return &ControlPlane{opts: opts}, nil
}

// Kubeconfig is the path of an admin kubeconfig for the cluster.
func (c *ControlPlane) Kubeconfig() string { return c.kubeconfig }

// Host is the API server's URL.
func (c *ControlPlane) Host() string { return "https://127.0.0.1:" + strconv.Itoa(c.apiPort) }

// RESTConfig returns an admin client configuration.
func (c *ControlPlane) RESTConfig() *rest.Config {
	return &rest.Config{
		Host: c.Host(),
		TLSClientConfig: rest.TLSClientConfig{
			CAFile: c.pki.CACert, CertFile: c.pki.AdminCert, KeyFile: c.pki.AdminKey,
		},
		QPS: 50, Burst: 100,
	}
}

// ClientFiles returns the CA, client certificate and key that
// authenticate as cluster admin, for programs such as Prometheus.
func (c *ControlPlane) ClientFiles() (ca, cert, key string) {
	return c.pki.CACert, c.pki.AdminCert, c.pki.AdminKey
}

// Processes lists every process, in start order.
func (c *ControlPlane) Processes() []*Process {
	ps := []*Process{c.Etcd, c.APIServer, c.Scheduler, c.ControllerManager}
	if c.Kwok != nil {
		ps = append(ps, c.Kwok)
	}
	return ps
}

// HasKwok reports whether kwok runs the cluster's fake nodes.
func (c *ControlPlane) HasKwok() bool { return c.Kwok != nil }

// Start brings up etcd, the API server, the scheduler and the controller
// manager, each after the one before is healthy. On error, whatever was
// started is stopped.
func (c *ControlPlane) Start(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	_, svcNet, _ := net.ParseCIDR(serviceRange)
	svcIP := make(net.IP, len(svcNet.IP.To4()))
	copy(svcIP, svcNet.IP.To4())
	svcIP[3]++
	if c.pki, err = writePKI(filepath.Join(c.opts.Dir, "pki"), svcIP); err != nil {
		return err
	}
	ports := make([]int, 6)
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return err
		}
	}
	etcdClient, etcdPeer := ports[0], ports[1]
	c.apiPort = ports[2]
	schedPort, cmPort, kwokPort := ports[3], ports[4], ports[5]
	if err := c.writeKubeconfig(); err != nil {
		return err
	}
	logs := filepath.Join(c.opts.Dir, "logs")
	bin := func(n string) string { return filepath.Join(c.opts.BinDir, n) }
	clientURL := "http://127.0.0.1:" + strconv.Itoa(etcdClient)
	peerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeer)
	c.Etcd = &Process{
		Name: "etcd", Path: bin("etcd"), LogPath: filepath.Join(logs, "etcd.log"),
		Args: []string{
			"--name=e2e", "--data-dir=" + filepath.Join(c.opts.Dir, "etcd"),
			"--listen-client-urls=" + clientURL, "--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL, "--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=e2e=" + peerURL, "--unsafe-no-fsync", "--log-level=warn",
		},
	}
	c.APIServer = &Process{
		Name: "kube-apiserver", Path: bin("kube-apiserver"),
		LogPath: filepath.Join(logs, "kube-apiserver.log"),
		Args: []string{
			"--etcd-servers=" + clientURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(c.apiPort),
			"--cert-dir=" + filepath.Join(c.opts.Dir, "cert"),
			"--tls-cert-file=" + c.pki.ServingCert, "--tls-private-key-file=" + c.pki.ServingKey,
			"--client-ca-file=" + c.pki.CACert,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + c.pki.SAPub,
			"--service-account-signing-key-file=" + c.pki.SAKey,
			"--service-cluster-ip-range=" + serviceRange,
			"--authorization-mode=RBAC",
			// The advertised address is loopback, which the endpoint
			// reconciler refuses to publish for the kubernetes Service.
			"--endpoint-reconciler-type=none",
			"--v=1",
		},
	}
	kubeconfigFlags := func(port int) []string {
		return []string{
			"--kubeconfig=" + c.kubeconfig,
			"--authentication-kubeconfig=" + c.kubeconfig,
			"--authorization-kubeconfig=" + c.kubeconfig,
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(port),
			"--leader-elect=false", "--v=1",
		}
	}
	c.Scheduler = &Process{
		Name: "kube-scheduler", Path: bin("kube-scheduler"),
		LogPath: filepath.Join(logs, "kube-scheduler.log"),
		Args:    kubeconfigFlags(schedPort),
	}
	c.ControllerManager = &Process{
		Name: "kube-controller-manager", Path: bin("kube-controller-manager"),
		LogPath: filepath.Join(logs, "kube-controller-manager.log"),
		Args: append(kubeconfigFlags(cmPort),
			"--service-account-private-key-file="+c.pki.SAKey,
			"--root-ca-file="+c.pki.CACert,
			"--use-service-account-credentials=false",
			"--cluster-signing-cert-file="+c.pki.CACert,
			"--cluster-signing-key-file="+c.pki.CAKey,
			// No kubelet renews node leases here; keep the nodes the
			// tests create from being marked unreachable mid-run.
			"--node-monitor-grace-period=1h",
		),
	}
	if _, err := Find(bin("kwok"), "optional"); err == nil {
		if _, err := os.Stat(bin("kwok-stages.yaml")); err != nil {
			return fmt.Errorf("kwok without its stages: %w", err)
		}
		c.Kwok = &Process{
			Name: "kwok", Path: bin("kwok"), LogPath: filepath.Join(logs, "kwok.log"),
			Args: []string{
				"--kubeconfig=" + c.kubeconfig,
				"--config=" + bin("kwok-stages.yaml"),
				"--manage-nodes-with-annotation-selector=" + KwokNodeAnnotation + "=fake",
				"--server-address=127.0.0.1:" + strconv.Itoa(kwokPort),
				"--cidr=10.244.0.0/16",
			},
		}
	}
	if err := c.startAndWait(ctx, c.Etcd, clientURL+"/health", `"health":"true"`, nil); err != nil {
		return err
	}
	if err := c.StartAPIServer(ctx); err != nil {
		return err
	}
	insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // self-signed, loopback only
	}}
	for _, p := range []struct {
		proc *Process
		port int
	}{{c.Scheduler, schedPort}, {c.ControllerManager, cmPort}} {
		url := fmt.Sprintf("https://127.0.0.1:%d/healthz", p.port)
		if err := c.startAndWait(ctx, p.proc, url, "ok", insecure); err != nil {
			return err
		}
	}
	if c.Kwok != nil {
		url := fmt.Sprintf("http://127.0.0.1:%d/healthz", kwokPort)
		if err := c.startAndWait(ctx, c.Kwok, url, "", nil); err != nil {
			return err
		}
	}
	return nil
}

// StartAPIServer starts the API server and waits until /readyz answers.
func (c *ControlPlane) StartAPIServer(ctx context.Context) error {
	client, err := c.adminHTTPClient()
	if err != nil {
		return err
	}
	return c.startAndWait(ctx, c.APIServer, c.Host()+"/readyz", "ok", client)
}

// RestartAPIServer stops the API server and starts it again on the same
// port, waiting until it is ready.
func (c *ControlPlane) RestartAPIServer(ctx context.Context) error {
	if err := c.APIServer.Stop(); err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

func (c *ControlPlane) startAndWait(ctx context.Context, p *Process, url, want string,
	client *http.Client) error {
	u, port, err := hostPort(url)
	if err != nil {
		return err
	}
	if err := CheckPortFree(port); err != nil {
		return fmt.Errorf("starting %s at %s: %w", p.Name, u, err)
	}
	if err := p.Start(); err != nil {
		return err
	}
	if client == nil {
		client = &http.Client{Timeout: 5 * time.Second}
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReadyTimeout)
	defer cancel()
	if err := WaitFor(ctx, p, 200*time.Millisecond, HTTPOK(client, url, want)); err != nil {
		return fmt.Errorf("waiting for %s (log: %s): %w", p.Name, p.LogPath, err)
	}
	return nil
}

func hostPort(rawURL string) (string, int, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", 0, fmt.Errorf("parsing url %q: %w", rawURL, err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		return "", 0, fmt.Errorf("parsing port of %q: %w", rawURL, err)
	}
	return u.Host, port, nil
}

func (c *ControlPlane) adminHTTPClient() (*http.Client, error) {
	caPEM, err := os.ReadFile(c.pki.CACert)
	if err != nil {
		return nil, fmt.Errorf("reading ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("parsing ca: no certificate")
	}
	pair, err := tls.LoadX509KeyPair(c.pki.AdminCert, c.pki.AdminKey)
	if err != nil {
		return nil, fmt.Errorf("loading admin certificate: %w", err)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}},
	}}, nil
}

func (c *ControlPlane) writeKubeconfig() error {
	c.kubeconfig = filepath.Join(c.opts.Dir, "kubeconfig")
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{
		Server: c.Host(), CertificateAuthority: c.pki.CACert,
	}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificate: c.pki.AdminCert, ClientKey: c.pki.AdminKey,
	}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "admin"}
	cfg.CurrentContext = "e2e"
	if err := clientcmd.WriteToFile(*cfg, c.kubeconfig); err != nil {
		return fmt.Errorf("writing kubeconfig: %w", err)
	}
	return nil
}

// Stop stops every process, the last started first.
func (c *ControlPlane) Stop() {
	ps := c.Processes()
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i] != nil {
			_ = ps[i].Stop()
		}
	}
}
