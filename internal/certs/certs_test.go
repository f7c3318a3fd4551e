package certs

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func writePair(t *testing.T, dir, name string) (caPEM []byte) {
	t.Helper()
	caPEM, certPEM, keyPEM, err := NewServing([]string{name}, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for file, b := range map[string][]byte{"tls.crt": certPEM, "tls.key": keyPEM} {
		if err := os.WriteFile(filepath.Join(dir, file), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return caPEM
}

// handshake connects to a server using conf and returns the name on the
// certificate it presented.
func handshake(t *testing.T, conf *tls.Config) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		c, err := lis.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = tls.Server(c, conf).Handshake()
	}()
	c, err := tls.Dial("tcp", lis.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestReloaderPicksUpNewFiles(t *testing.T) {
	dir := t.TempDir()
	writePair(t, dir, "first.example")
	r, err := NewReloader(ReloaderOptions{CertFile: filepath.Join(dir, "tls.crt"),
		KeyFile: filepath.Join(dir, "tls.key"),
		Logger:  slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.now = func() time.Time { return now }
	conf := r.TLSConfig()
	if got := handshake(t, conf); got != "first.example" {
		t.Fatalf("served %q", got)
	}
	writePair(t, dir, "second.example")
	if got := handshake(t, conf); got != "first.example" {
		t.Errorf("reloaded before the check interval: %q", got)
	}
	now = now.Add(checkEvery)
	if got := handshake(t, conf); got != "second.example" {
		t.Errorf("after rotation served %q, want second.example", got)
	}
	// A broken file keeps the last good certificate.
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(checkEvery)
	if got := handshake(t, conf); got != "second.example" {
		t.Errorf("after a bad write served %q, want the last good one", got)
	}
}

func TestReloaderErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewReloader(ReloaderOptions{}); err == nil {
		t.Error("no files accepted")
	}
	if _, err := NewReloader(ReloaderOptions{CertFile: filepath.Join(dir, "x"),
		KeyFile: filepath.Join(dir, "y")}); err == nil {
		t.Error("missing files accepted")
	}
	writePair(t, dir, "a")
	bad := filepath.Join(dir, "ca.crt")
	if err := os.WriteFile(bad, []byte("not pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewReloader(ReloaderOptions{CertFile: filepath.Join(dir, "tls.crt"),
		KeyFile: filepath.Join(dir, "tls.key"), ClientCAFile: bad}); err == nil {
		t.Error("a client CA file without certificates accepted")
	}
}

func TestEnsureDev(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "dev")
	files, made, err := EnsureDev(dir)
	if err != nil || !made {
		t.Fatalf("first EnsureDev: %v, made %v", err, made)
	}
	again, made, err := EnsureDev(dir)
	if err != nil || made || again != files {
		t.Fatalf("second EnsureDev: %v, made %v: want the same files reused", err, made)
	}
	caPEM, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(files.CertFile, files.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(pair.Certificate[0])
	for _, name := range []string{"localhost", "127.0.0.1", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("certificate not valid for %s: %v", name, err)
		}
	}
	// A corrupted set is made again.
	if err := os.WriteFile(files.CertFile, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, made, err := EnsureDev(dir); err != nil || !made {
		t.Errorf("corrupted set: %v, made %v", err, made)
	}
}
