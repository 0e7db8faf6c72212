package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// fakeHarness is a server over the in-memory fake with zone example.com.
func fakeHarness(t *testing.T, cfg *Config) (*harness, *fakeStore) {
	t.Helper()
	fs := newFakeStore()
	h := newHarness(t, fs, cfg)
	if r := h.do("POST", "/v1/zones", adminToken, `{"name":"example.com","primary_ns":"ns.example.com."}`); r.status != http.StatusCreated {
		t.Fatalf("create zone: %d %s", r.status, r.body)
	}
	return h, fs
}

func TestHealthNeedsNoToken(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	r := h.do("GET", "/v1/health", "", "")
	if r.status != http.StatusOK || r.json(t)["status"] != "ok" {
		t.Fatalf("health: %d %s", r.status, r.body)
	}
}

func TestAuthAndRoles(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	rec := `{"name":"ns","type":"A","value":"203.0.113.7","ttl":300}`
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            string
	}{
		{"no token", "GET", "/v1/zones", "", "", 401, "unauthenticated"},
		{"wrong token", "GET", "/v1/zones", "nope", "", 401, "unauthenticated"},
		{"reader reads", "GET", "/v1/zones", readerToken, "", 200, ""},
		{"reader reads zone", "GET", "/v1/zones/example.com", readerToken, "", 200, ""},
		{"reader may not write", "POST", "/v1/zones/example.com/records", readerToken, rec, 403, "forbidden"},
		{"reader may not snapshot", "POST", "/v1/admin/snapshot", readerToken, "", 403, "forbidden"},
		{"admin writes", "POST", "/v1/zones/example.com/records", adminToken, rec, 201, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, c.token, c.body)
		if r.status != c.status || (c.code != "" && r.code() != c.code) {
			t.Errorf("%s: got %d %s, want %d %s", c.name, r.status, r.body, c.status, c.code)
		}
		if r.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	// Other schemes and a bare "Bearer" are not tokens.
	for _, hdr := range []string{"Basic " + adminToken, "Bearer", "Bearer ", adminToken} {
		r := h.doHeader("GET", "/v1/zones", hdr)
		if r.status != 401 {
			t.Errorf("Authorization %q: %d", hdr, r.status)
		}
	}
	if r := h.doHeader("GET", "/v1/zones", "bearer "+adminToken); r.status != 200 {
		t.Errorf("scheme is case-insensitive: %d", r.status)
	}
	if strings.Contains(h.log.String(), "nope") || strings.Contains(h.log.String(), adminToken) {
		t.Errorf("a token reached the log:\n%s", h.log)
	}
	if !strings.Contains(h.log.String(), "authentication failed") {
		t.Errorf("failed authentication not logged:\n%s", h.log)
	}
}

func (h *harness) doHeader(method, path, authz string) reply {
	h.t.Helper()
	req, _ := http.NewRequest(method, path, nil)
	req.RemoteAddr = "198.51.100.9:4000"
	req.Header.Set("Authorization", authz)
	w := newRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return reply{status: w.Code, header: w.Result().Header, body: w.Body.Bytes()}
}

func TestWriteAnnouncesChangeBeforeAnswer(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	before := h.changeCount()
	r := h.do("POST", "/v1/zones/example.com/records", adminToken, `{"name":"ns","type":"A","value":"203.0.113.7","ttl":300}`)
	if r.status != 201 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if h.changeCount() != before+1 || h.changes[len(h.changes)-1] != "example.com." {
		t.Fatalf("onChange calls: %v", h.changes)
	}
	m := r.json(t)
	if m["name"] != "ns" || m["fqdn"] != "ns.example.com." || m["zone"] != "example.com." {
		t.Errorf("answer: %s", r.body)
	}
	if r.header.Get("Location") != "/v1/zones/example.com/records/1" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	// A rejected write announces nothing.
	if r := h.do("POST", "/v1/zones/example.com/records", adminToken, `{"name":"ns","type":"A","value":"203.0.113.7","ttl":300}`); r.status != 409 {
		t.Fatalf("duplicate: %d", r.status)
	}
	if h.changeCount() != before+1 {
		t.Errorf("onChange after a rejected write")
	}
}

func TestJSONLimits(t *testing.T) {
	h, fs := fakeHarness(t, nil)
	big := `{"name":"ns","type":"TXT","value":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	cases := []struct {
		name, body string
		status     int
	}{
		{"oversized", big, 413},
		{"unknown field", `{"name":"ns","type":"A","value":"203.0.113.7","prio":1}`, 400},
		{"two objects", `{"name":"ns","type":"A","value":"203.0.113.7"}{}`, 400},
		{"trailing garbage", `{"name":"ns","type":"A","value":"203.0.113.7"} x`, 400},
		{"array", `[]`, 400},
		{"empty", ``, 400},
		{"ttl as string", `{"name":"ns","type":"A","value":"203.0.113.7","ttl":"300"}`, 400},
		{"ttl negative", `{"name":"ns","type":"A","value":"203.0.113.7","ttl":-1}`, 400},
		{"ttl too big", `{"name":"ns","type":"A","value":"203.0.113.7","ttl":2147483648}`, 400},
		{"ttl fraction", `{"name":"ns","type":"A","value":"203.0.113.7","ttl":1.5}`, 400},
		{"missing value", `{"name":"ns","type":"A"}`, 400},
		{"missing type", `{"name":"ns","value":"203.0.113.7"}`, 400},
		{"missing name", `{"type":"A","value":"203.0.113.7"}`, 400},
	}
	for _, c := range cases {
		r := h.do("POST", "/v1/zones/example.com/records", adminToken, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		if r.json(t)["error"] == "" {
			t.Errorf("%s: no error message", c.name)
		}
	}
	if len(fs.records) != 0 {
		t.Errorf("records written: %v", fs.records)
	}
	// Any other content type is refused; none at all is accepted.
	req := newRequest("POST", "/v1/zones/example.com/records", `{"name":"ns","type":"A","value":"203.0.113.7"}`)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := newRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("form content type: %d", w.Code)
	}
	req.Header.Del("Content-Type")
	req = newRequest("POST", "/v1/zones/example.com/records", `{"name":"ns","type":"A","value":"203.0.113.7"}`)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	w = newRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	if w.Code != http.StatusCreated {
		t.Errorf("no content type: %d %s", w.Code, w.Body)
	}
}

func TestRouting(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{"DELETE", "/v1/zones", 405, "GET, HEAD, POST"},
		{"PATCH", "/v1/zones/example.com", 405, "GET, HEAD, PUT, DELETE"},
		{"GET", "/v1/admin/snapshot", 405, "POST"},
		{"POST", "/v1/health", 405, "GET, HEAD"},
		{"GET", "/v2/zones", 404, ""},
		{"GET", "/", 404, ""},
		{"GET", "/v1/zones/example.com/records/abc", 400, ""},
		{"GET", "/v1/zones/example.com/records/0", 400, ""},
		{"GET", "/v1/zones/example.com/records/99", 404, ""},
		{"GET", "/v1/zones/nope.example", 404, ""},
		{"GET", "/v1/zones/bad%20zone", 400, ""},
		{"GET", "/v1/zones/a..b", 400, ""},
	}
	for _, c := range cases {
		r := h.do(c.method, c.path, adminToken, "")
		if r.status != c.status || r.header.Get("Allow") != c.allow {
			t.Errorf("%s %s: %d Allow=%q %s, want %d %q", c.method, c.path, r.status, r.header.Get("Allow"), r.body, c.status, c.allow)
		}
		if r.code() == "" {
			t.Errorf("%s %s: no error code: %s", c.method, c.path, r.body)
		}
	}
}

func TestFailedAuthIsSlowedDown(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.fails.now = func() time.Time { return now }
	const attacker, other = "203.0.113.50:5555", "203.0.113.51:5555"
	for i := 0; i < failBurst; i++ {
		if r := h.doFrom(attacker, "GET", "/v1/zones", "guess", ""); r.status != 401 {
			t.Fatalf("attempt %d: %d", i, r.status)
		}
	}
	r := h.doFrom(attacker, "GET", "/v1/zones", "guess", "")
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("after %d failures: %d Retry-After=%q", failBurst, r.status, r.header.Get("Retry-After"))
	}
	if r := h.doFrom(other, "GET", "/v1/zones", "guess", ""); r.status != 401 {
		t.Errorf("another address is not held back: %d", r.status)
	}
	if r := h.doFrom(attacker, "GET", "/v1/health", "", ""); r.status != 200 {
		t.Errorf("health stays open: %d", r.status)
	}
	now = now.Add(failEvery)
	if r := h.doFrom(attacker, "GET", "/v1/zones", "guess", ""); r.status != 401 {
		t.Errorf("after %v: %d", failEvery, r.status)
	}
	// IPv6 clients are keyed by their /64.
	for i := 0; i < failBurst; i++ {
		h.doFrom(fmt.Sprintf("[2001:db8:1:2::%x]:1", i+1), "GET", "/v1/zones", "guess", "")
	}
	if r := h.doFrom("[2001:db8:1:2::ffff]:1", "GET", "/v1/zones", "guess", ""); r.status != 429 {
		t.Errorf("same /64: %d", r.status)
	}
	if r := h.doFrom("[2001:db8:1:3::1]:1", "GET", "/v1/zones", "guess", ""); r.status != 401 {
		t.Errorf("other /64: %d", r.status)
	}
}

func TestFailLimiterForgets(t *testing.T) {
	l := newFailLimiter()
	now := time.Unix(1_800_000_000, 0)
	l.now = func() time.Time { return now }
	k := clientKey("192.0.2.1:1")
	l.take(k)
	now = now.Add(time.Hour)
	l.take(clientKey("192.0.2.2:1")) // sweeps
	if _, ok := l.clients[k]; ok {
		t.Errorf("a refilled client is still tracked")
	}
}

func TestSnapshotEndpoint(t *testing.T) {
	h, _ := fakeHarness(t, nil)
	if r := h.do("POST", "/v1/admin/snapshot", adminToken, ""); r.status != http.StatusNotImplemented {
		t.Errorf("without snapshot_dir: %d", r.status)
	}
	dir := t.TempDir()
	h2, fs := fakeHarness(t, &Config{SnapshotDir: dir, SnapshotKeep: 3})
	r := h2.do("POST", "/v1/admin/snapshot", adminToken, "")
	if r.status != http.StatusCreated || r.json(t)["path"] != dir+"/snap.db" || len(fs.snapshot) != 1 {
		t.Errorf("snapshot: %d %s", r.status, r.body)
	}
	if r := h2.do("POST", "/v1/admin/snapshot", adminToken, `{"x":1}`); r.status != 400 {
		t.Errorf("snapshot with unknown field: %d", r.status)
	}
}

func TestNames(t *testing.T) {
	abs := []struct{ in, zone, want string }{
		{"@", "example.com.", "example.com."},
		{"ns", "example.com.", "ns.example.com."},
		{"a.b", "example.com.", "a.b.example.com."},
		{"ns.example.com.", "example.com.", "ns.example.com."},
		{"ns.example.com", "example.com.", "ns.example.com."},
		{"NS.Example.COM", "example.com.", "NS.Example.COM."},
		{"example.com", "example.com.", "example.com."},
		{"other.org.", "example.com.", "other.org."}, // the store refuses it
		{"*.x", "example.com.", "*.x.example.com."},
	}
	for _, c := range abs {
		if got, err := absName(c.in, c.zone); err != nil || got != c.want {
			t.Errorf("absName(%q, %q) = %q, %v; want %q", c.in, c.zone, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "a b", "a\tb", "a\x00b", strings.Repeat("a", 256)} {
		if _, err := absName(bad, "example.com."); err == nil {
			t.Errorf("absName(%q) accepted", bad)
		}
	}
	rel := []struct{ fqdn, zone, want string }{
		{"example.com.", "example.com.", "@"},
		{"ns.example.com.", "example.com.", "ns"},
		{"a.b.example.com.", "example.com.", "a.b"},
		{"notexample.com.", "example.com.", "notexample.com."},
	}
	for _, c := range rel {
		if got := relName(c.fqdn, c.zone); got != c.want {
			t.Errorf("relName(%q, %q) = %q; want %q", c.fqdn, c.zone, got, c.want)
		}
	}
	for _, ok := range []string{"example.com", "Example.COM.", "_tcp.example.com", "xn--bcher-kva.example"} {
		if _, err := zoneName(ok); err != nil {
			t.Errorf("zoneName(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a..b", ".a", "a b", "a;b", "a/b", "a\\b", "' OR 1=1 --", strings.Repeat("a", 64) + ".com"} {
		if _, err := zoneName(bad); err == nil {
			t.Errorf("zoneName(%q) accepted", bad)
		}
	}
}
