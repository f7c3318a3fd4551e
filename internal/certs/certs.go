// Package certs serves TLS material from files that may change while the
// process runs, and makes a self-signed certificate authority and serving
// certificate for trying Augur out on one machine.
package certs

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// checkEvery bounds how often the files are looked at: at most once per
// interval, on a TLS handshake.
const checkEvery = time.Second

// Reloader holds a certificate, its key and optionally a client CA bundle
// read from files, and reads them again when their contents change. A file
// that no longer parses is logged and the last good material kept.
type Reloader struct {
	certFile, keyFile, clientCAFile string
	log                             *slog.Logger
	now                             func() time.Time

	mu        sync.Mutex
	checked   time.Time
	certPEM   []byte
	keyPEM    []byte
	caPEM     []byte
	cert      *tls.Certificate
	clientCAs *x509.CertPool
}

// ReloaderOptions name the files a Reloader serves.
type ReloaderOptions struct {
	CertFile, KeyFile string
	// ClientCAFile, when set, turns on client certificate verification
	// against the bundle it holds.
	ClientCAFile string
	Logger       *slog.Logger
}

// NewReloader reads the files once; they must be valid at start.
func NewReloader(o ReloaderOptions) (*Reloader, error) {
	if o.CertFile == "" || o.KeyFile == "" {
		return nil, errors.New("a TLS certificate file and key file are required")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	r := &Reloader{certFile: o.CertFile, keyFile: o.KeyFile, clientCAFile: o.ClientCAFile,
		log: o.Logger, now: time.Now}
	if err := r.reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// reload reads the files and swaps in their contents if they changed and
// parse. The caller holds mu, or is the constructor.
func (r *Reloader) reload() error {
	certPEM, err := os.ReadFile(r.certFile)
	if err != nil {
		return fmt.Errorf("reading certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(r.keyFile)
	if err != nil {
		return fmt.Errorf("reading key: %w", err)
	}
	var caPEM []byte
	if r.clientCAFile != "" {
		if caPEM, err = os.ReadFile(r.clientCAFile); err != nil {
			return fmt.Errorf("reading client CA bundle: %w", err)
		}
	}
	if bytes.Equal(certPEM, r.certPEM) && bytes.Equal(keyPEM, r.keyPEM) &&
		bytes.Equal(caPEM, r.caPEM) {
		return nil
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("parsing certificate and key: %w", err)
	}
	var pool *x509.CertPool
	if r.clientCAFile != "" {
		pool = x509.NewCertPool()
		if !pool.AppendCertsFromPEM(caPEM) {
			return fmt.Errorf("client CA bundle %s holds no PEM certificate", r.clientCAFile)
		}
	}
	first := r.cert == nil
	r.certPEM, r.keyPEM, r.caPEM, r.cert, r.clientCAs = certPEM, keyPEM, caPEM, &cert, pool
	if !first {
		r.log.Info("reloaded TLS material", "certFile", r.certFile,
			"clientCAFile", r.clientCAFile)
	}
	return nil
}

// current returns the material in use, re-reading the files if the last
// look is older than checkEvery.
func (r *Reloader) current() (*tls.Certificate, *x509.CertPool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= checkEvery {
		r.checked = now
		if err := r.reload(); err != nil {
			r.log.Error("keeping the previous TLS material", "err", err)
		}
	}
	return r.cert, r.clientCAs
}

// TLSConfig returns a server configuration that asks the Reloader for the
// certificate (and client CAs) on every handshake. TLS 1.2 is the floor.
func (r *Reloader) TLSConfig() *tls.Config {
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2"}}
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		cert, pool := r.current()
		c := base.Clone()
		c.GetConfigForClient = nil
		c.Certificates = []tls.Certificate{*cert}
		if pool != nil {
			c.ClientCAs = pool
			c.ClientAuth = tls.RequireAndVerifyClientCert
		}
		return c, nil
	}
	return base
}
