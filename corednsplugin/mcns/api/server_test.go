package api

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

func tlsClient(pool *x509.CertPool, maxVersion uint16) *http.Client {
	return &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion}},
	}
}

// startTLS runs a server over b on a loopback port with a fresh certificate.
func startTLS(t *testing.T, b backend, tokensFile string) (*Server, string, *x509.CertPool) {
	t.Helper()
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	if tokensFile == "" {
		tokensFile = writeTokens(t, dir)
	}
	s := newServer(&Config{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, TokensFile: tokensFile, Log: &testLog{}}, b, nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s, "https://" + s.Addr().String(), pool
}

func TestTLS(t *testing.T) {
	st, _ := openStore(t)
	if _, err := st.CreateZone(context.Background(), store.Zone{Name: "mcp.metacircular.net.", PrimaryNS: "ns.mcp.metacircular.net."}); err != nil {
		t.Fatal(err)
	}
	_, base, pool := startTLS(t, st, "")

	// The deployment's exact call.
	req, _ := http.NewRequest("POST", base+"/v1/zones/mcp.metacircular.net/records",
		strings.NewReader(`{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}`))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := tlsClient(pool, 0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("POST over TLS: %d %s", resp.StatusCode, body)
	}
	recs, err := st.Records(context.Background(), "mcp.metacircular.net.", store.Filter{Name: "ns", Type: "A"})
	if err != nil || len(recs) != 1 || recs[0].Content != "203.0.113.7" || recs[0].TTL != 300 {
		t.Fatalf("stored: %+v %v", recs, err)
	}

	for _, v := range []uint16{tls.VersionTLS10, tls.VersionTLS11} {
		c := tlsClient(pool, v)
		c.Transport.(*http.Transport).TLSClientConfig.MinVersion = v
		if resp, err := c.Get(base + "/v1/health"); err == nil {
			resp.Body.Close()
			t.Errorf("TLS version %x accepted", v)
		}
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get(strings.Replace(base, "https", "http", 1) + "/v1/health"); err == nil {
		if resp.StatusCode == 200 {
			t.Errorf("plain HTTP answered on the TLS port")
		}
		resp.Body.Close()
	}
}

// slowStore blocks Zones until released, to hold a request in flight.
type slowStore struct {
	*fakeStore
	entered, release chan struct{}
}

func (s *slowStore) Zones(ctx context.Context) ([]store.Zone, error) {
	close(s.entered)
	<-s.release
	return s.fakeStore.Zones(ctx)
}

func TestStopFinishesRequestsInFlight(t *testing.T) {
	ss := &slowStore{fakeStore: newFakeStore(), entered: make(chan struct{}), release: make(chan struct{})}
	s, base, pool := startTLS(t, ss, "")
	type result struct {
		status int
		err    error
	}
	got := make(chan result, 1)
	go func() {
		req, _ := http.NewRequest("GET", base+"/v1/zones", nil)
		req.Header.Set("Authorization", "Bearer "+readerToken)
		resp, err := tlsClient(pool, 0).Do(req)
		if err != nil {
			got <- result{err: err}
			return
		}
		resp.Body.Close()
		got <- result{status: resp.StatusCode}
	}()
	<-ss.entered
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop() }()
	select {
	case <-stopped:
		t.Fatal("Stop returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(ss.release)
	if r := <-got; r.err != nil || r.status != 200 {
		t.Fatalf("request in flight: %+v", r)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	if _, err := tlsClient(pool, 0).Get(base + "/v1/health"); err == nil {
		t.Error("still listening after Stop")
	}
	// Start again on a fresh port works (Corefile reload restarts it).
	s.cfg.Addr = "127.0.0.1:0"
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	resp, err := tlsClient(pool, 0).Get("https://" + s.Addr().String() + "/v1/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after restart: %v", err)
	}
	resp.Body.Close()
	if err := s.Stop(); err != nil || s.Stop() != nil {
		t.Error("Stop twice")
	}
}

func TestPlaintextOnLoopback(t *testing.T) {
	dir := t.TempDir()
	s := newServer(&Config{Addr: "127.0.0.1:0", InsecurePlaintext: true, TokensFile: writeTokens(t, dir), Log: &testLog{}}, newFakeStore(), nil)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	resp, err := http.Get("http://" + s.Addr().String() + "/v1/health")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("plaintext health: %v", err)
	}
	resp.Body.Close()
	if err := s.Start(); err == nil {
		t.Error("second Start accepted")
	}
}

// TestReloadHandover starts a second server on the first one's port, as a
// Corefile reload does (new instance up before the old one stops), then
// stops the first: the port keeps answering throughout.
func TestReloadHandover(t *testing.T) {
	dir := t.TempDir()
	cert, key, pool := selfSigned(t, dir)
	tokens := writeTokens(t, dir)
	cfg := func(addr string) *Config {
		return &Config{Addr: addr, CertFile: cert, KeyFile: key, TokensFile: tokens, Log: &testLog{}}
	}
	old := newServer(cfg("127.0.0.1:0"), newFakeStore(), nil)
	if err := old.Start(); err != nil {
		t.Fatal(err)
	}
	addr := old.Addr().String()
	next := newServer(cfg(addr), newFakeStore(), nil)
	if err := next.Start(); err != nil {
		old.Stop()
		t.Fatalf("second server on %s: %v", addr, err)
	}
	defer next.Stop()
	if err := old.Stop(); err != nil {
		t.Fatal(err)
	}
	c := tlsClient(pool, 0)
	for i := 0; i < 3; i++ {
		resp, err := c.Get("https://" + addr + "/v1/health")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after handover: %v", err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
	}
}

// TestCertificateRenewal replaces the certificate files under a running
// server and sees new handshakes get the new certificate.
func TestCertificateRenewal(t *testing.T) {
	s, base, pool := startTLS(t, newFakeStore(), "")
	now := time.Now()
	s.certs.mu.Lock()
	s.certs.now = func() time.Time { return now }
	s.certs.mu.Unlock()
	serialOf := func(pool *x509.CertPool) string {
		t.Helper()
		c := tlsClient(pool, 0)
		resp, err := c.Get(base + "/v1/health")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c.CloseIdleConnections()
		return resp.TLS.PeerCertificates[0].SerialNumber.String() + string(resp.TLS.PeerCertificates[0].SubjectKeyId)
	}
	first := serialOf(pool)
	// New pair written over the old files (with a later mtime).
	_, _, newPool := selfSigned(t, filepath.Dir(s.cfg.CertFile))
	later := time.Now().Add(time.Minute)
	os.Chtimes(s.cfg.CertFile, later, later)
	os.Chtimes(s.cfg.KeyFile, later, later)
	s.certs.mu.Lock()
	now = now.Add(certReloadEvery)
	s.certs.mu.Unlock()
	if got := serialOf(newPool); got == first {
		t.Error("the renewed certificate was not picked up")
	}
	// A broken pair keeps the previous one.
	os.WriteFile(s.cfg.KeyFile, []byte("garbage"), 0o600)
	evenLater := later.Add(time.Minute)
	os.Chtimes(s.cfg.KeyFile, evenLater, evenLater)
	s.certs.mu.Lock()
	now = now.Add(certReloadEvery)
	s.certs.mu.Unlock()
	serialOf(newPool)
}
