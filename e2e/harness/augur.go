package harness

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// ExpanderOptions configures an `augur expander` process.
type ExpanderOptions struct {
	// Binary is the augur executable.
	Binary string
	// Dir receives the log.
	Dir string
	// CertFile and KeyFile are the serving certificate and key.
	CertFile, KeyFile string
	// MetricsPort is the HTTP port; zero picks a free one.
	MetricsPort int
	// ExtraArgs are appended to the command line.
	ExtraArgs []string
	// ReadyTimeout bounds the wait for /readyz.
	ReadyTimeout time.Duration
}

// Expander is a running `augur expander`.
type Expander struct {
	opts     ExpanderOptions
	grpcPort int
	// Process is the expander process.
	Process *Process
}

// NewExpander picks the ports and prepares the command line.
func NewExpander(o ExpanderOptions) (*Expander, error) {
	if o.ReadyTimeout == 0 {
		o.ReadyTimeout = 30 * time.Second
	}
	if _, err := Find(o.Binary, "run make build"); err != nil {
		return nil, err
	}
	grpcPort, err := FreePort()
	if err != nil {
		return nil, err
	}
	if o.MetricsPort == 0 {
		if o.MetricsPort, err = FreePort(); err != nil {
			return nil, err
		}
	}
	e := &Expander{opts: o, grpcPort: grpcPort}
	e.Process = &Process{
		Name: "augur-expander", Path: o.Binary,
		LogPath: filepath.Join(o.Dir, "augur-expander.log"),
		Args: append([]string{"expander",
			"--listen=127.0.0.1:" + strconv.Itoa(grpcPort),
			"--metrics-listen=127.0.0.1:" + strconv.Itoa(o.MetricsPort),
			"--tls-cert-file=" + o.CertFile, "--tls-key-file=" + o.KeyFile,
		}, o.ExtraArgs...),
	}
	return e, nil
}

// GRPCAddr is the gRPC listen address.
func (e *Expander) GRPCAddr() string { return "127.0.0.1:" + strconv.Itoa(e.grpcPort) }

// MetricsURL is the base URL of the HTTP endpoints.
func (e *Expander) MetricsURL() string {
	return "http://127.0.0.1:" + strconv.Itoa(e.opts.MetricsPort)
}

// Start starts the expander and waits until /readyz answers.
func (e *Expander) Start(ctx context.Context) error {
	for _, p := range []int{e.grpcPort, e.opts.MetricsPort} {
		if err := CheckPortFree(p); err != nil {
			return fmt.Errorf("starting expander: %w", err)
		}
	}
	if err := e.Process.Start(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.ReadyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	if err := WaitFor(ctx, e.Process, 100*time.Millisecond,
		HTTPOK(client, e.MetricsURL()+"/readyz", "")); err != nil {
		return fmt.Errorf("waiting for expander: (log: %s): %w", e.Process.LogPath, err)
	}
	return nil
}

// DialCA connects to the expander the way the Cluster Autoscaler does:
// TLS that trusts only caPEM and checks the certificate against
// serverName (the host of --grpc-expander-url), and no client certificate.
func DialCA(addr, serverName string, caPEM []byte) (*grpc.ClientConn, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, errors.New("dialing expander: ca bundle holds no certificate")
	}
	creds := credentials.NewTLS(&tls.Config{
		RootCAs: pool, ServerName: serverName, MinVersion: tls.VersionTLS12,
	})
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return nil, fmt.Errorf("dialing expander at %s: %w", addr, err)
	}
	return conn, nil
}

// WriteFile writes b to dir/name and returns the path.
func WriteFile(dir, name string, b []byte, mode os.FileMode) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, mode); err != nil {
		return "", fmt.Errorf("writing %s: %w", p, err)
	}
	return p, nil
}
