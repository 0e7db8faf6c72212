package api

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// testLog collects log lines so tests can check what is (not) logged.
type testLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *testLog) add(level, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, level+" "+fmt.Sprintf(format, v...))
}
func (l *testLog) Infof(format string, v ...any)    { l.add("INFO", format, v...) }
func (l *testLog) Warningf(format string, v ...any) { l.add("WARN", format, v...) }
func (l *testLog) Errorf(format string, v ...any)   { l.add("ERROR", format, v...) }

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Tokens used throughout the tests.
const (
	adminToken  = "admin-token-0123456789abcdefghijklmnopqrstuv"
	readerToken = "reader-token-0123456789abcdefghijklmnopqrstu"
)

func writeTokens(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "tokens")
	data := "# mcns api tokens\n" +
		TokenLine(adminToken, "ops", []string{"admin"}) + "\n\n" +
		TokenLine(readerToken, "viewer", []string{"read"}) + "\n"
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// harness is a Server over some backend, driven without a listener.
type harness struct {
	t       testing.TB
	srv     *Server
	log     *testLog
	mu      sync.Mutex
	changes []string
}

func newHarness(t testing.TB, b backend, cfg *Config) *harness {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	if cfg.AllowZones == nil {
		cfg.AllowZones = []string{"."}
	}
	if cfg.TokensFile == "" && cfg.MCIAS == nil {
		cfg.TokensFile = writeTokens(t, t.TempDir())
	}
	h := &harness{t: t, log: &testLog{}}
	cfg.Log = h.log
	h.srv = newServer(cfg, b, func(zone string) {
		h.mu.Lock()
		h.changes = append(h.changes, zone)
		h.mu.Unlock()
	})
	return h
}

func (h *harness) changeCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.changes)
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("answer %d is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// code is the error code of an error answer.
func (r reply) code() string {
	var e apiError
	_ = json.Unmarshal(r.body, &e)
	return e.Code
}

func (h *harness) doFrom(remote, method, path, token, body string) reply {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if remote != "" {
		req.RemoteAddr = remote
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	res := w.Result()
	ct := res.Header.Get("Content-Type")
	if w.Code != http.StatusNoContent && ct != "application/json" {
		h.t.Errorf("%s %s: Content-Type %q", method, path, ct)
	}
	return reply{status: w.Code, header: res.Header, body: w.Body.Bytes()}
}

func (h *harness) do(method, path, token, body string) reply {
	h.t.Helper()
	return h.doFrom("", method, path, token, body)
}

// selfSigned writes a certificate for 127.0.0.1/localhost and its key.
func selfSigned(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func newRecorder() *httptest.ResponseRecorder { return httptest.NewRecorder() }

func newRequest(method, path, body string) *http.Request {
	return httptest.NewRequest(method, path, strings.NewReader(body))
}
