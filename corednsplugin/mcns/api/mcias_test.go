package api

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeMCIAS is an identity service: tokens it knows, and a switch to fail.
type fakeMCIAS struct {
	t      *testing.T
	srv    *httptest.Server
	caFile string
	calls  atomic.Int32
	status atomic.Int32 // forced status, 0 for normal

	mu    sync.Mutex
	users map[string]map[string]any
	last  mciasRequest
}

func newFakeMCIAS(t *testing.T) *fakeMCIAS {
	f := &fakeMCIAS{t: t, users: map[string]map[string]any{
		"alice-token": {"username": "alice", "roles": []string{"admin"}},
		"bob-token":   {"user": "bob", "roles": []string{"read"}},
		"carol-token": {"valid": false, "username": "carol", "roles": []string{"admin"}},
		"nobody":      {"roles": []string{"admin"}},
	}}
	f.srv = httptest.NewTLSServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	f.caFile = filepath.Join(t.TempDir(), "ca.pem")
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw})
	if err := os.WriteFile(f.caFile, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeMCIAS) serve(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	if s := f.status.Load(); s != 0 {
		w.WriteHeader(int(s))
		return
	}
	if r.Method != "POST" || r.URL.Path != "/v1/token/validate" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var body mciasRequest
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.last = body
	u, ok := f.users[body.Token]
	f.mu.Unlock()
	if !ok || r.Header.Get("Authorization") != "Bearer "+body.Token {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(map[string]any{"error": "invalid token"})
		return
	}
	json.NewEncoder(w).Encode(u)
}

func mciasHarness(t *testing.T, f *fakeMCIAS, withCA bool) *harness {
	cfg := &MCIASConfig{URL: f.srv.URL, ServiceName: "mcns", Tags: []string{"dns"}, ValidatePath: defaultValidatePath}
	if withCA {
		cfg.CACert = f.caFile
	}
	h, _ := fakeHarness(t, &Config{MCIAS: cfg})
	return h
}

func TestMCIAS(t *testing.T) {
	f := newFakeMCIAS(t)
	// fakeHarness creates its zone as adminToken, which MCIAS does not
	// know; add it to the fake's users for that.
	f.users[adminToken] = map[string]any{"username": "setup", "roles": []string{"admin"}}
	h := mciasHarness(t, f, true)
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.mcias.now = func() time.Time { return now }
	rec := `{"name":"www","type":"A","value":"192.0.2.1"}`

	cases := []struct {
		name, token, method, path, body string
		status                          int
	}{
		{"admin writes", "alice-token", "POST", "/v1/zones/example.com/records", rec, 201},
		{"reader reads", "bob-token", "GET", "/v1/zones", "", 200},
		{"reader may not write", "bob-token", "DELETE", "/v1/zones/example.com", "", 403},
		{"unknown token", "mallory-token", "GET", "/v1/zones", "", 401},
		{"valid:false", "carol-token", "GET", "/v1/zones", "", 401},
		{"no user name", "nobody", "GET", "/v1/zones", "", 401},
	}
	for _, c := range cases {
		if r := h.do(c.method, c.path, c.token, c.body); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	f.mu.Lock()
	last := f.last
	f.mu.Unlock()
	if last.ServiceName != "mcns" || len(last.Tags) != 1 || last.Tags[0] != "dns" {
		t.Errorf("validation call body: %+v", last)
	}

	// Verdicts, good and bad, are cached for 30 s.
	calls := f.calls.Load()
	for _, tok := range []string{"alice-token", "bob-token", "mallory-token", "carol-token"} {
		h.do("GET", "/v1/zones", tok, "")
	}
	if f.calls.Load() != calls {
		t.Errorf("cached verdicts asked again: %d calls", f.calls.Load()-calls)
	}
	now = now.Add(mciasCacheTTL + time.Second)
	if r := h.do("GET", "/v1/zones", "alice-token", ""); r.status != 200 || f.calls.Load() != calls+1 {
		t.Errorf("after expiry: %d, %d calls", r.status, f.calls.Load()-calls)
	}

	// The service failing denies (fail closed) and is not cached.
	now = now.Add(mciasCacheTTL + time.Second)
	f.status.Store(http.StatusServiceUnavailable)
	r := h.do("GET", "/v1/zones", "alice-token", "")
	if r.status != 401 || r.code() != "auth_unavailable" {
		t.Errorf("5xx: %d %s", r.status, r.body)
	}
	f.status.Store(0)
	if r := h.do("GET", "/v1/zones", "alice-token", ""); r.status != 200 {
		t.Errorf("after recovery: %d", r.status)
	}
	// A redirect is not followed (the token would travel on) and denies.
	now = now.Add(mciasCacheTTL + time.Second)
	f.status.Store(http.StatusFound)
	if r := h.do("GET", "/v1/zones", "alice-token", ""); r.status != 401 {
		t.Errorf("redirect: %d", r.status)
	}
	f.status.Store(0)

	for _, tok := range []string{"alice-token", "bob-token", "mallory-token", "carol-token"} {
		if strings.Contains(h.log.String(), tok) {
			t.Errorf("token %s in the log:\n%s", tok, h.log)
		}
	}
}

func TestMCIASUnreachable(t *testing.T) {
	f := newFakeMCIAS(t)
	f.users[adminToken] = map[string]any{"username": "setup", "roles": []string{"admin"}}
	h := mciasHarness(t, f, true)
	f.srv.Close()
	for i := 0; i < failBurst+2; i++ {
		r := h.do("GET", "/v1/zones", "alice-token", "")
		if r.status != 401 || r.code() != "auth_unavailable" {
			t.Fatalf("attempt %d with the service down: %d %s", i, r.status, r.body)
		}
	}
}

func TestMCIASNeedsTrustedCert(t *testing.T) {
	f := newFakeMCIAS(t)
	cfg := &Config{MCIAS: &MCIASConfig{URL: f.srv.URL, ValidatePath: defaultValidatePath}}
	h := newHarness(t, newFakeStore(), cfg)
	if r := h.do("GET", "/v1/zones", "alice-token", ""); r.status != 401 {
		t.Errorf("untrusted certificate: %d", r.status)
	}
	if f.calls.Load() != 0 {
		t.Errorf("the request reached a server whose certificate is not trusted")
	}
}

func TestTokensFileBeforeMCIAS(t *testing.T) {
	f := newFakeMCIAS(t)
	dir := t.TempDir()
	cfg := &Config{TokensFile: writeTokens(t, dir), MCIAS: &MCIASConfig{URL: f.srv.URL, CACert: f.caFile, ValidatePath: defaultValidatePath}}
	h := newHarness(t, newFakeStore(), cfg)
	if r := h.do("GET", "/v1/zones", readerToken, ""); r.status != 200 || f.calls.Load() != 0 {
		t.Errorf("tokens-file token: %d, %d MCIAS calls", r.status, f.calls.Load())
	}
	if r := h.do("GET", "/v1/zones", "bob-token", ""); r.status != 200 || f.calls.Load() != 1 {
		t.Errorf("MCIAS token: %d, %d MCIAS calls", r.status, f.calls.Load())
	}
}

func TestMCIASConcurrentSameTokenOneCall(t *testing.T) {
	f := newFakeMCIAS(t)
	hold := make(chan struct{})
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-hold
		inner.ServeHTTP(w, r)
	})
	h := newHarness(t, newFakeStore(), &Config{MCIAS: &MCIASConfig{URL: f.srv.URL, CACert: f.caFile, ValidatePath: defaultValidatePath}})
	const n = 8
	var wg sync.WaitGroup
	statuses := make(chan int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses <- h.do("GET", "/v1/zones", "bob-token", "").status
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the requests gather on the call
	close(hold)
	wg.Wait()
	close(statuses)
	for s := range statuses {
		if s != 200 {
			t.Errorf("status %d", s)
		}
	}
	if c := f.calls.Load(); c < 1 || c > 2 {
		t.Errorf("%d validation calls for %d concurrent requests", c, n)
	}
}

func TestMCIASBrokenCADenies(t *testing.T) {
	f := newFakeMCIAS(t)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("not a certificate"), 0o600)
	h := newHarness(t, newFakeStore(), &Config{MCIAS: &MCIASConfig{URL: f.srv.URL, CACert: ca, ValidatePath: defaultValidatePath}})
	if r := h.do("GET", "/v1/zones", "bob-token", ""); r.status != 401 {
		t.Errorf("unusable ca_cert: %d", r.status)
	}
}

// TestMCIASVerdictCache: the verdict cache stays within mciasMaxEntries
// however many tokens are seen, and two tokens whose hashes share the
// cache key never share a verdict.
func TestMCIASVerdictCache(t *testing.T) {
	m, err := newMCIAS(&MCIASConfig{URL: "https://mcias.invalid"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	m.now = func() time.Time { return now }
	put := func(h tokenHash) {
		m.verdicts.Add(verdictKey(h), mciasVerdict{token: h, ok: true, expires: now.Add(mciasCacheTTL)})
	}
	for i := range 3 * mciasMaxEntries {
		put(hashToken(fmt.Sprint("flood-", i)))
	}
	if n := m.verdicts.Len(); n > mciasMaxEntries {
		t.Errorf("%d cached verdicts, bound is %d", n, mciasMaxEntries)
	}

	valid := hashToken("valid-token")
	put(valid)
	other := valid
	other[len(other)-1] ^= 1 // same key, different hash
	if verdictKey(other) != verdictKey(valid) {
		t.Fatal("test hashes do not share a key")
	}
	if _, ok := m.cachedValid(other); ok {
		t.Error("a token sharing the cache key took another token's verdict")
	}
	if _, ok := m.cachedValid(valid); !ok {
		t.Error("the cached verdict is not found")
	}
	now = now.Add(mciasCacheTTL)
	if _, ok := m.cachedValid(valid); ok {
		t.Error("an expired verdict still grants")
	}
}
