package geofilter

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// testPKI is a throwaway CA that issues server and client certificates
// as PEM files in dir.
type testPKI struct {
	t    testing.TB
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	// CAFile is the CA certificate's PEM file.
	CAFile string
}

func newTestPKI(t testing.TB, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	p := &testPKI{t: t, dir: t.TempDir(), cert: cert, key: key}
	p.CAFile = p.write(name+"-ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(name, typ string, der []byte) string {
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// issue writes a leaf certificate for hosts with the given use and
// returns its certificate and key files.
func (p *testPKI) issue(name string, usage x509.ExtKeyUsage, hosts ...string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		p.t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		p.t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		p.t.Fatal(err)
	}
	return p.write(name+".pem", "CERTIFICATE", der), p.write(name+"-key.pem", "EC PRIVATE KEY", keyDER)
}

// startTLSRedis runs a redis-server with a TLS port whose certificate,
// from p, is valid for hosts; authClients is redis-server's
// tls-auth-clients (no, optional or yes, against p's CA). It returns the
// server and its TLS port.
func startTLSRedis(t testing.TB, p *testPKI, authClients string, hosts ...string) (*testRedis, int) {
	t.Helper()
	cert, key := p.issue("redis-server", x509.ExtKeyUsageServerAuth, hosts...)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// The plain port stays open for startRedis's readiness check only.
	r := startRedis(t, "--tls-port", strconv.Itoa(port), "--tls-cert-file", cert, "--tls-key-file", key,
		"--tls-ca-cert-file", p.CAFile, "--tls-auth-clients", authClients)
	return r, port
}

// tlsStoreHandler provisions a handler with a rate limit of one request
// a minute, kept in the store at url with tls, refusing requests while
// the store is down; timeouts tell handlers apart.
func tlsStoreHandler(t *testing.T, url string, tls *StoreTLS, timeout time.Duration) *Handler {
	t.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: t.Context()})
	t.Cleanup(cancel)
	h := &Handler{Filter: Filter{RateLimit: &RateLimit{Requests: 1, Window: caddy.Duration(time.Minute)}}, noVars: true,
		Store: &Store{Type: "redis", URL: url, Prefix: "tls:", Timeout: caddy.Duration(timeout), OnError: "block", TLS: tls}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Cleanup() })
	return h
}

// statuses serves one request from ip per entry of want through h.
func statuses(t *testing.T, h *Handler, ip string, want ...int) {
	t.Helper()
	for i, w := range want {
		if s := serveStatus(t, h, ip); s != w {
			t.Fatalf("request %d from %s: status %d, want %d", i+1, ip, s, w)
		}
	}
}

// A store over TLS with a private CA: the shared limit holds; a server
// whose certificate the CA did not sign is a store that is down; a name
// other than the URL's host is checked when set.
func TestStoreTLSPrivateCA(t *testing.T) {
	ca := newTestPKI(t, "store")
	_, port := startTLSRedis(t, ca, "no", "127.0.0.1", "redis.internal")
	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)

	a := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile}, 500*time.Millisecond)
	b := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile}, 501*time.Millisecond)
	statuses(t, a, "192.0.2.40", 200)
	statuses(t, b, "192.0.2.40", 429) // the count is shared

	named := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile, ServerName: "redis.internal"}, 502*time.Millisecond)
	statuses(t, named, "192.0.2.41", 200, 429)

	other := newTestPKI(t, "other")
	wrongCA := tlsStoreHandler(t, url, &StoreTLS{CACert: other.CAFile}, 503*time.Millisecond)
	statuses(t, wrongCA, "192.0.2.42", 503, 503)
	wrongName := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile, ServerName: "elsewhere.internal"}, 504*time.Millisecond)
	statuses(t, wrongName, "192.0.2.43", 503)
	systemRoots := tlsStoreHandler(t, url, nil, 505*time.Millisecond)
	statuses(t, systemRoots, "192.0.2.44", 503)
}

// A server that wants client certificates takes the store only with one
// signed by its CA.
func TestStoreTLSClientCertificate(t *testing.T) {
	ca := newTestPKI(t, "store")
	_, port := startTLSRedis(t, ca, "yes", "127.0.0.1")
	url := fmt.Sprintf("rediss://127.0.0.1:%d/0", port)
	cert, key := ca.issue("edge-client", x509.ExtKeyUsageClientAuth, "edge")

	// The files' names may come from the environment, like the URL.
	t.Setenv("STORE_CLIENT_KEY", key)
	mtls := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile, ClientCert: cert, ClientKey: "{env.STORE_CLIENT_KEY}"}, 500*time.Millisecond)
	statuses(t, mtls, "192.0.2.50", 200, 429)

	noCert := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile}, 501*time.Millisecond)
	statuses(t, noCert, "192.0.2.51", 503)

	other := newTestPKI(t, "other")
	otherCert, otherKey := other.issue("stranger", x509.ExtKeyUsageClientAuth, "stranger")
	stranger := tlsStoreHandler(t, url, &StoreTLS{CACert: ca.CAFile, ClientCert: otherCert, ClientKey: otherKey}, 502*time.Millisecond)
	statuses(t, stranger, "192.0.2.52", 503)
}

func TestStoreTLSCaddyfile(t *testing.T) {
	var h Handler
	err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser(`geofilter {
		rate_limit 20 10s
		store redis rediss://redis.internal:6380/0 {
			tls_ca_cert /etc/edge/redis-ca.pem
			tls_client_auth /etc/edge/client.pem /etc/edge/client-key.pem
			tls_server_name redis.internal
			on_error block
		}
	}`))
	if err != nil {
		t.Fatal(err)
	}
	want := StoreTLS{CACert: "/etc/edge/redis-ca.pem", ClientCert: "/etc/edge/client.pem",
		ClientKey: "/etc/edge/client-key.pem", ServerName: "redis.internal"}
	if h.Store == nil || h.Store.TLS == nil || *h.Store.TLS != want || h.Store.OnError != "block" {
		t.Fatalf("store = %+v, want TLS %+v", h.Store, want)
	}

	// A placeholder URL is checked once it is replaced.
	h = Handler{}
	if err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("geofilter {\nstore redis {env.REDIS_URL} {\ntls_ca_cert ca.pem\n}\n}")); err != nil {
		t.Errorf("placeholder URL with TLS options: %v", err)
	}

	for _, c := range []struct{ config, want string }{
		{"store redis redis://h:6379/0 {\n tls_ca_cert ca.pem\n}", "need a rediss:// URL"},
		{"store redis rediss://h {\n tls_ca_cert\n}", "wrong argument count"},
		{"store redis rediss://h {\n tls_ca_cert a.pem b.pem\n}", "wrong argument count"},
		{"store redis rediss://h {\n tls_client_auth cert.pem\n}", "wrong argument count"},
		{"store redis rediss://h {\n tls_server_name\n}", "wrong argument count"},
		{"store redis rediss://h {\n tls_ca_cert a.pem\n tls_ca_cert b.pem\n}", "set twice"},
		{"store redis rediss://h {\n tls_insecure_skip_verify true\n}", "unknown option"},
	} {
		var h Handler
		err := h.UnmarshalCaddyfile(caddyfile.NewTestDispenser("geofilter {\n" + c.config + "\n}"))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "Testfile:") {
			t.Errorf("%q: error %v, want one with %q and the file and line", c.config, err, c.want)
		}
	}
}

func TestStoreTLSValidate(t *testing.T) {
	for _, c := range []struct {
		url  string
		tls  StoreTLS
		want string
	}{
		{"rediss://h", StoreTLS{ClientCert: "c.pem"}, "both"},
		{"rediss://h", StoreTLS{ClientKey: "k.pem"}, "both"},
		{"rediss://h", StoreTLS{}, "no TLS option"},
		{"redis://:pw-secret@h/0", StoreTLS{ServerName: "h"}, "need a rediss:// URL"},
	} {
		s := Store{Type: "redis", URL: c.url, TLS: &c.tls}
		err := s.validate()
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("%s %+v: error %v, want one with %q (password masked)", c.url, c.tls, err, c.want)
		}
	}
	ok := Store{Type: "redis", URL: "rediss://h", TLS: &StoreTLS{CACert: "ca.pem"}}
	if err := ok.validate(); err != nil {
		t.Errorf("valid TLS store: %v", err)
	}
}

// Files that cannot be used fail the provisioning with a reason; a
// change of their contents makes a new client on the next config load.
func TestStoreTLSLoad(t *testing.T) {
	ca := newTestPKI(t, "store")
	cert, key := ca.issue("client", x509.ExtKeyUsageClientAuth, "client")
	_, otherKey := ca.issue("other", x509.ExtKeyUsageClientAuth, "other")
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		tls  StoreTLS
		want string
	}{
		{StoreTLS{CACert: filepath.Join(t.TempDir(), "missing.pem")}, "reading the CA certificates"},
		{StoreTLS{CACert: notPEM}, "no PEM certificate"},
		{StoreTLS{ClientCert: cert, ClientKey: otherKey}, "private key does not match"},
		{StoreTLS{ClientCert: cert, ClientKey: notPEM}, "client certificate"},
	} {
		_, _, err := acquireStore(Store{Type: "redis", URL: "rediss://127.0.0.1:1/0", TLS: &c.tls}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want one with %q", c.tls, err, c.want)
		}
	}

	st := &StoreTLS{CACert: ca.CAFile, ClientCert: cert, ClientKey: key}
	before, err := st.load()
	if err != nil {
		t.Fatal(err)
	}
	// A rotated client certificate.
	if _, err := copyFile(filepath.Join(ca.dir, "other.pem"), cert); err != nil {
		t.Fatal(err)
	}
	if _, err := copyFile(otherKey, key); err != nil {
		t.Fatal(err)
	}
	after, err := st.load()
	if err != nil {
		t.Fatal(err)
	}
	if before.fingerprint == after.fingerprint {
		t.Error("rotated client certificate: same fingerprint, the old client would be kept")
	}
}

func copyFile(from, to string) (int, error) {
	b, err := os.ReadFile(from)
	if err != nil {
		return 0, err
	}
	return len(b), os.WriteFile(to, b, 0o600)
}

// The TLS version offered is 1.2 or later, whatever the URL says.
func TestStoreTLSMinVersion(t *testing.T) {
	lt, err := (*StoreTLS)(nil).load()
	if err != nil {
		t.Fatal(err)
	}
	c := &tls.Config{MinVersion: tls.VersionTLS10}
	lt.apply(c)
	if c.MinVersion != tls.VersionTLS12 {
		t.Errorf("MinVersion %#x, want TLS 1.2 or later", c.MinVersion)
	}
}
