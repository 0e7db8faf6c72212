package mcnsdns

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// Tokens of the test API: one with the admin role, one that may only read.
const (
	adminToken  = "admin-token-for-the-mcnsdns-tests-0123456789"
	readerToken = "reader-token-for-the-mcnsdns-tests-012345678"
	// acmeToken is scoped to example.com:_acme-challenge.*:TXT, the token
	// the README tells operators to mint.
	acmeToken = "acme-token-for-the-mcnsdns-tests-0123456789a"
	testZone  = "example.com."
)

// mcns is a real mcns management API over a real SQLite store, serving
// HTTPS on a loopback port with a certificate from a CA of its own.
type mcns struct {
	endpoint string
	caFile   string
	store    *store.Store
}

type quietLog struct{}

func (quietLog) Infof(string, ...any)    {}
func (quietLog) Warningf(string, ...any) {}
func (quietLog) Errorf(string, ...any)   {}

func startMCNS(t *testing.T) *mcns {
	t.Helper()
	dir := t.TempDir()
	caFile, certFile, keyFile := writePKI(t, dir, "mcns test CA")
	tokens := filepath.Join(dir, "tokens")
	acme, err := api.ParseScope(strings.TrimSuffix(testZone, ".") + ":_acme-challenge.*:TXT")
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, tokens, api.TokenLine(adminToken, "caddy", []string{api.RoleAdmin})+"\n"+
		api.TokenLine(readerToken, "viewer", []string{"read"})+"\n"+
		api.TokenLine(acmeToken, "caddy-acme", []string{api.RoleAdmin}, acme)+"\n")
	st, err := store.Open(filepath.Join(dir, "mcns.sqlite3"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateZone(context.Background(), store.Zone{Name: testZone, PrimaryNS: "ns.example.com.", AdminEmail: "hostmaster@example.com"}); err != nil {
		t.Fatal(err)
	}
	srv := api.New(&api.Config{
		Addr:     "127.0.0.1:0",
		CertFile: certFile, KeyFile: keyFile,
		TokensFile: tokens,
		AllowZones: []string{"."},
		Log:        quietLog{},
	}, st, nil)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	return &mcns{endpoint: "https://" + srv.Addr().String(), caFile: caFile, store: st}
}

// provider is a provisioned provider for m with token.
func (m *mcns) provider(t *testing.T, token string) *Provider {
	t.Helper()
	p := &Provider{Endpoint: m.endpoint, Token: token, CACert: m.caFile}
	if err := p.setup(nil); err != nil {
		t.Fatal(err)
	}
	return p
}

// stored is every record of the test zone at fqdn with type typ, as
// "type value" lines straight from the store.
func (m *mcns) stored(t *testing.T, fqdn, typ string) []string {
	t.Helper()
	recs, err := m.store.Records(context.Background(), testZone, store.Filter{Name: fqdn, Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		out = append(out, r.Type+" "+r.Content)
	}
	return out
}

// writePKI makes a CA and a certificate for 127.0.0.1 and localhost signed
// by it, and returns the files' paths.
func writePKI(t *testing.T, dir, caName string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: caName},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caFile, certFile, keyFile = filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	writeTestFile(t, caFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})))
	writeTestFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER})))
	writeTestFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
	return caFile, certFile, keyFile
}

func writeTestFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
