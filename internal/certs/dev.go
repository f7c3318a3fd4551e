package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// DevFiles are the files of a development certificate set.
type DevFiles struct {
	// CAFile is the PEM certificate of the authority that signed the
	// serving certificate: what the autoscaler's --grpc-expander-cert
	// takes.
	CAFile   string
	CertFile string
	KeyFile  string
}

// devValidity is how long development certificates stay valid.
const devValidity = 365 * 24 * time.Hour

// EnsureDev returns the development certificates in dir, making a new
// authority and a serving certificate for localhost, 127.0.0.1 and ::1
// when they are missing, do not parse or expire within a day. made is true
// when new files were written.
func EnsureDev(dir string) (files DevFiles, made bool, err error) {
	files = DevFiles{CAFile: filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	if devUsable(files) {
		return files, false, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return files, false, fmt.Errorf("creating %s: %w", dir, err)
	}
	caPEM, certPEM, keyPEM, err := NewServing([]string{"localhost"},
		[]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, devValidity)
	if err != nil {
		return files, false, err
	}
	for path, b := range map[string][]byte{files.CAFile: caPEM, files.CertFile: certPEM,
		files.KeyFile: keyPEM} {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return files, false, fmt.Errorf("writing %s: %w", path, err)
		}
	}
	return files, true, nil
}

func devUsable(f DevFiles) bool {
	pair, err := tls.LoadX509KeyPair(f.CertFile, f.KeyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || time.Until(leaf.NotAfter) < 24*time.Hour {
		return false
	}
	caPEM, err := os.ReadFile(f.CAFile)
	if err != nil {
		return false
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return false
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"})
	return err == nil
}

// NewServing makes a certificate authority and a serving certificate it
// signs for the given names and addresses, valid for validity. It returns
// the PEM of the authority's certificate, the serving certificate and the
// serving key.
func NewServing(dnsNames []string, ips []net.IP,
	validity time.Duration) (caPEM, certPEM, keyPEM []byte, err error) {
	return newPair(dnsNames, ips, validity, x509.ExtKeyUsageServerAuth)
}

// NewClient makes a client certificate for name, signed by a new
// authority, for mutual TLS. It returns the PEM of the authority's
// certificate, the client certificate and its key.
func NewClient(name string, validity time.Duration) (caPEM, certPEM, keyPEM []byte, err error) {
	return newPair([]string{name}, nil, validity, x509.ExtKeyUsageClientAuth)
}

func newPair(dnsNames []string, ips []net.IP, validity time.Duration,
	usage x509.ExtKeyUsage) (caPEM, certPEM, keyPEM []byte, err error) {
	if len(dnsNames) == 0 && len(ips) == 0 {
		return nil, nil, nil, errors.New("a serving certificate needs a name or an address")
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "augur development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("generating serving key: %w", err)
	}
	cn := "augur"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: cn},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("signing serving certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	return pemBlock("CERTIFICATE", caDER), pemBlock("CERTIFICATE", der),
		pemBlock("PRIVATE KEY", keyDER), nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
