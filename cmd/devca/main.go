// Command devca makes a throwaway certificate authority and leaf
// certificates for local runs and tests: the demo backend's certificate that
// Caddy verifies, and the DNS management API's.
//
//	devca -dir _run/pki -cert backend=localhost,127.0.0.1 -cert api=localhost,127.0.0.1
//
// It writes DIR/ca.pem and, per -cert NAME=HOSTS, DIR/NAME.pem and
// DIR/NAME-key.pem. Existing files are kept, so repeated runs are stable.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

type certFlags []string

func (c *certFlags) String() string     { return strings.Join(*c, " ") }
func (c *certFlags) Set(v string) error { *c = append(*c, v); return nil }

func main() {
	dir := flag.String("dir", "_run/pki", "output directory")
	var certs certFlags
	flag.Var(&certs, "cert", "NAME=HOST[,HOST...] leaf certificate to issue (repeatable)")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("devca: ")
	if err := run(*dir, certs); err != nil {
		log.Fatal(err)
	}
}

func run(dir string, certs []string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	ca, caKey, err := loadOrMakeCA(dir)
	if err != nil {
		return err
	}
	for _, spec := range certs {
		name, hosts, ok := strings.Cut(spec, "=")
		if !ok || name == "" || hosts == "" {
			return fmt.Errorf("-cert %q: want NAME=HOST[,HOST...]", spec)
		}
		certPath := filepath.Join(dir, name+".pem")
		if _, err := os.Stat(certPath); err == nil {
			continue
		}
		if err := issue(ca, caKey, strings.Split(hosts, ","), certPath, filepath.Join(dir, name+"-key.pem")); err != nil {
			return err
		}
	}
	return nil
}

func loadOrMakeCA(dir string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	if certPEM, err := os.ReadFile(certPath); err == nil {
		keyPEM, err := os.ReadFile(keyPath)
		if err != nil {
			return nil, nil, err
		}
		return parsePair(certPEM, keyPEM)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "edge development CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(5, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	if err := writePair(der, key, certPath, keyPath); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func issue(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, certPath, keyPath string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(1, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return err
	}
	return writePair(der, key, certPath, keyPath)
}

func writePair(der []byte, key *ecdsa.PrivateKey, certPath, keyPath string) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func parsePair(certPEM, keyPEM []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("CA files are not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	return cert, key, err
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}
