package geofilter

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddytest"
	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/metacircular/edge/internal/geoiptest"
)

// advanceClock moves the clock of bans, runtime blocks and rate limits
// forward; the test puts it back when done.
func advanceClock(t *testing.T, d time.Duration) {
	t.Helper()
	if clockSkew.Add(int64(d)) == int64(d) {
		t.Cleanup(func() { clockSkew.Store(0) })
	}
}

// adminDo calls the running Caddy's admin API.
func adminDo(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, fmt.Sprintf("http://localhost:%d%s", adminPort, path), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Close = true
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// listBlocks returns the admin API's entries as "kind cidr reason".
func listBlocks(t *testing.T) []string {
	t.Helper()
	status, body := adminDo(t, "GET", blocksPath, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %s", blocksPath, status, body)
	}
	var got struct{ Blocks []blockEntry }
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	out := make([]string, 0, len(got.Blocks))
	for _, e := range got.Blocks {
		out = append(out, e.Kind+" "+e.CIDR+" "+e.Reason)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// fetch requests path on the test site as client ip.
func fetch(t *testing.T, tc *caddytest.Tester, path, ip string) response {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://localhost:%d%s", httpPort, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Forwarded-For", ip)
	resp, err := tc.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(body)}
}

// withStorage is globalOptions with Caddy's storage in dir.
func withStorage(dir string) string {
	return strings.Replace(globalOptions, "\tskip_install_trust\n", "\tskip_install_trust\n\tstorage file_system "+dir+"\n", 1)
}

func TestBanTriggeredAndExpires(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(siteCaddyfile("\t\trate_limit 1 10m\n\t\trate_limit_zone bans\n\t\tban 2 1h\n\t\tallow_cidrs 192.0.2.0/24\n\t\tstatus 451"), "caddyfile")
	const client = "203.0.113.70"
	check(t, tc, []expect{
		{ip: client, status: 200},
		{ip: client, status: 429},                     // first strike
		{ip: client, status: 451, retryAfter: "3600"}, // second: banned for 1h
		{ip: client, status: 451, retryAfter: "3600"},
		{ip: "203.0.113.71", status: 200}, // others are not affected
	})
	if l := listBlocks(t); !contains(l, "ban 203.0.113.70/32 banned") {
		t.Errorf("ban not listed: %v", l)
	}

	advanceClock(t, 30*time.Minute)
	check(t, tc, []expect{{ip: client, status: 451, retryAfter: "1800"}})
	advanceClock(t, 31*time.Minute)
	check(t, tc, []expect{{ip: client, status: 200}})
	if l := listBlocks(t); contains(l, "ban 203.0.113.70/32 banned") {
		t.Errorf("expired ban still listed: %v", l)
	}

	// IPv6 clients are banned per rate_limit_ipv6_prefix network.
	check(t, tc, []expect{
		{ip: "2001:db8:70:1::1", status: 200}, {ip: "2001:db8:70:1::2", status: 429},
		{ip: "2001:db8:70:1::3", status: 451}, {ip: "2001:db8:70:1::4", status: 451},
		{ip: "2001:db8:70:2::1", status: 200},
	})
	// A ban can be lifted through the admin API.
	if status, body := adminDo(t, "DELETE", blocksPath+"/2001:db8:70:1::%2F64", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d %s", status, body)
	}
	check(t, tc, []expect{{ip: "2001:db8:70:1::1", status: 429}}) // rate limited, not banned

	// allow_cidrs are never limited, so never banned.
	for range 5 {
		check(t, tc, []expect{{ip: "192.0.2.70", status: 200}})
	}
}

func TestRateLimitStatus(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	geofilter {
		rate_limit 2 1h
		rate_limit_status 401
		rate_limit_zone login
		rate_limit_headers
	}
	handle /login {
		respond "wrong password" 401
	}
	handle /login-error {
		error 401
	}
	respond "ok"
}
`, httpPort), "caddyfile")
	const client = "203.0.113.90"
	r := fetch(t, tc, "/", client)
	if r.status != 200 || r.header.Get("RateLimit") != `"login";r=2;t=3600` || r.header.Get("RateLimit-Policy") != `"login";q=2;w=3600` {
		t.Errorf("first request: %d RateLimit %q RateLimit-Policy %q", r.status, r.header.Get("RateLimit"), r.header.Get("RateLimit-Policy"))
	}
	for range 5 { // 200s do not count
		if r := fetch(t, tc, "/", client); r.status != 200 {
			t.Fatalf("got %d", r.status)
		}
	}
	if r := fetch(t, tc, "/login", client); r.status != 401 || r.body != "wrong password" {
		t.Errorf("login 1: %d %q", r.status, r.body)
	}
	if r := fetch(t, tc, "/login-error", client); r.status != 401 {
		t.Errorf("login 2: %d", r.status)
	}
	r = fetch(t, tc, "/login", client)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.HasPrefix(r.header.Get("RateLimit"), `"login";r=0;t=`) {
		t.Errorf("login 3: %d Retry-After %q RateLimit %q", r.status, r.header.Get("Retry-After"), r.header.Get("RateLimit"))
	}
	if r := fetch(t, tc, "/", client); r.status != 429 {
		t.Errorf("after the limit: %d", r.status)
	}
	if r := fetch(t, tc, "/login", "203.0.113.91"); r.status != 401 {
		t.Errorf("other client: %d", r.status)
	}
}

func TestRuntimeBlocks(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(withStorage(t.TempDir())+fmt.Sprintf(`
:%d {
	geofilter {
		block_ips 203.0.113.7
	}
	respond "ok"
}
`, httpPort), "caddyfile")
	const client = "203.0.113.80"
	check(t, tc, []expect{{ip: client, status: 200}})

	status, body := adminDo(t, "POST", blocksPath, `{"cidr": "203.0.113.80/32", "ttl": "1h", "reason": "abuse"}`)
	if status != http.StatusCreated || !strings.Contains(body, `"cidr":"203.0.113.80/32"`) {
		t.Fatalf("POST: %d %s", status, body)
	}
	check(t, tc, []expect{{ip: client, status: 403}, {ip: "203.0.113.81", status: 200}})
	if l := listBlocks(t); !contains(l, "block 203.0.113.80/32 abuse") {
		t.Errorf("block not listed: %v", l)
	}

	// Invalid requests change nothing.
	before := listBlocks(t)
	for _, bad := range []string{
		`{"cidr": "203.0.113.0/33"}`, `{"cidr": "not-an-ip"}`, `{"cidr": "203.0.113.82", "ttl": "-1h"}`,
		`{"cidr": "203.0.113.83", "ttl": "soon"}`, `{"cidr": "203.0.113.84", "color": "red"}`, `not json`,
	} {
		if status, body := adminDo(t, "POST", blocksPath, bad); status != http.StatusBadRequest {
			t.Errorf("POST %s: %d %s", bad, status, body)
		}
	}
	if after := listBlocks(t); strings.Join(after, ",") != strings.Join(before, ",") {
		t.Errorf("invalid requests changed the list: %v -> %v", before, after)
	}

	// An IPv6 network, a single address (stored as /128), and a TTL that
	// runs out.
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "2001:db8:80::/48"}`); status != http.StatusCreated {
		t.Fatalf("POST v6: %d %s", status, body)
	}
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "203.0.113.85", "ttl": "1m"}`); status != http.StatusCreated {
		t.Fatalf("POST ttl: %d %s", status, body)
	}
	check(t, tc, []expect{{ip: "2001:db8:80:1::1", status: 403}, {ip: "203.0.113.85", status: 403}})
	advanceClock(t, 2*time.Minute)
	check(t, tc, []expect{{ip: "203.0.113.85", status: 200}, {ip: client, status: 403}})

	if status, _ := adminDo(t, "DELETE", blocksPath+"/2001:db8:80::%2F48", ""); status != http.StatusNoContent {
		t.Errorf("DELETE escaped: %d", status)
	}
	check(t, tc, []expect{{ip: "2001:db8:80:1::1", status: 200}})

	// Removal, by plain or escaped CIDR.
	if status, _ := adminDo(t, "DELETE", blocksPath+"/203.0.113.80/32", ""); status != http.StatusNoContent {
		t.Errorf("DELETE: %d", status)
	}
	if status, _ := adminDo(t, "DELETE", blocksPath+"/203.0.113.80/32", ""); status != http.StatusNotFound {
		t.Errorf("second DELETE: %d", status)
	}
	if status, _ := adminDo(t, "DELETE", blocksPath+"/nonsense", ""); status != http.StatusBadRequest {
		t.Errorf("DELETE nonsense: %d", status)
	}
	check(t, tc, []expect{{ip: client, status: 200}})
}

func TestGeoMatcherBlocked(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(withStorage(t.TempDir())+fmt.Sprintf(`
:%d {
	@blocked geo blocked
	respond @blocked "on the list"
	respond "ok"
}
`, httpPort), "caddyfile")
	t.Cleanup(func() { adminDo(t, "DELETE", blocksPath+"/203.0.113.86%2F32", "") })
	if r := fetch(t, tc, "/", "203.0.113.86"); r.body != "ok" {
		t.Errorf("before: %q", r.body)
	}
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "203.0.113.86"}`); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	if r := fetch(t, tc, "/", "203.0.113.86"); r.body != "on the list" {
		t.Errorf("after: %q", r.body)
	}
}

// TestRuntimeBlocksPersist checks that runtime blocks survive a config
// reload and a restart (kept in Caddy's storage).
func TestRuntimeBlocksPersist(t *testing.T) {
	dir := t.TempDir()
	cfg := withStorage(dir) + fmt.Sprintf(`
:%d {
	geofilter {
		block_ips 203.0.113.7
	}
	respond "ok"
}
`, httpPort)
	tc := newTester(t)
	tc.InitServer(cfg, "caddyfile")
	const client = "203.0.113.95"
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "203.0.113.95/32", "reason": "persist"}`); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	t.Cleanup(func() { adminDo(t, "DELETE", blocksPath+"/203.0.113.95%2F32", "") })
	stored, err := os.ReadFile(filepath.Join(dir, "geofilter", "blocks.json"))
	if err != nil || !strings.Contains(string(stored), `"cidr": "203.0.113.95/32"`) {
		t.Fatalf("not stored: %v %s", err, stored)
	}

	tc.InitServer(strings.Replace(cfg, "203.0.113.7", "203.0.113.8", 1), "caddyfile") // reload
	check(t, tc, []expect{{ip: client, status: 403}})

	// A restart: everything is stopped and released, the list is read
	// back from storage.
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, _ := blockListPool.References(blockListKey)
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("block list still held %d times after stop", n)
		}
	}
	tc.InitServer(cfg, "caddyfile")
	check(t, tc, []expect{{ip: client, status: 403}, {ip: "203.0.113.96", status: 200}})
	if l := listBlocks(t); !contains(l, "block 203.0.113.95/32 persist") {
		t.Errorf("restored list: %v", l)
	}

	// Removal is persisted too.
	if status, _ := adminDo(t, "DELETE", blocksPath+"/203.0.113.95%2F32", ""); status != http.StatusNoContent {
		t.Fatalf("DELETE: %d", status)
	}
	if err := caddy.Stop(); err != nil {
		t.Fatal(err)
	}
	tc.InitServer(cfg, "caddyfile")
	check(t, tc, []expect{{ip: client, status: 200}})
}

func TestGeoPlaceholders(t *testing.T) {
	dbs := makeTestDBs(t)
	logFile := filepath.Join(t.TempDir(), "access.log")
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	log {
		output file %s
		format json
	}
	geofilter {
		db %s
		db %s
		block_ips 203.0.113.7
	}
	log_append geo_country {http.vars.geo.country}
	header >X-Geo-ASN {http.vars.geo.asn}
	respond "{http.vars.geo.country}|{http.vars.geo.asn}|{http.vars.geo.asn_org}"
}
`, httpPort, logFile, dbs.country, dbs.asn), "caddyfile")
	for ip, want := range map[string]string{
		ipCN:      "CN|64496|Example AS",
		ipUS:      "US|64497|Example AS",
		ipRegDE:   "DE||",
		ipUnknown: "||",
	} {
		r := fetch(t, tc, "/", ip)
		if r.status != 200 || r.body != want {
			t.Errorf("%s: %d %q, want %q", ip, r.status, r.body, want)
		}
		if asn := strings.Split(want, "|")[1]; r.header.Get("X-Geo-ASN") != asn {
			t.Errorf("%s: X-Geo-ASN %q, want %q", ip, r.header.Get("X-Geo-ASN"), asn)
		}
	}
	// A refused request is logged with its country too.
	if r := fetch(t, tc, "/", ipBlocked); r.status != 403 {
		t.Errorf("blocked: %d", r.status)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		data, _ := os.ReadFile(logFile)
		refusedLogged := false
		for _, line := range strings.Split(string(data), "\n") {
			refusedLogged = refusedLogged || strings.Contains(line, `"status":403,`) && strings.Contains(line, `"geo_country":"US"`)
		}
		if strings.Contains(string(data), `"geo_country":"CN"`) && refusedLogged {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("access log lacks geo_country:\n%s", data)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestListenerBlockList checks that runtime blocks and bans close
// connections in the listener wrapper.
func TestListenerBlockList(t *testing.T) {
	v4 := fmt.Sprintf("127.0.0.1:%d", httpPort)
	v6 := fmt.Sprintf("[::1]:%d", httpPort)
	tc := newTester(t)
	cfg := strings.Replace(listenerCaddyfile("\t\t\t\trate_limit 2 1h\n\t\t\t\trate_limit_zone listener-ban\n\t\t\t\tban 1 1h\n\t\t\t\trate_limit_ipv6_prefix 128"),
		"\tskip_install_trust\n", "\tskip_install_trust\n\tstorage file_system "+t.TempDir()+"\n", 1)
	tc.InitServer(cfg, "caddyfile")
	t.Cleanup(func() {
		adminDo(t, "DELETE", blocksPath+"/127.0.0.1%2F32", "")
		adminDo(t, "DELETE", blocksPath+"/::1%2F128", "")
	})
	served := func(addr string) bool {
		got, err := exchange(t, addr)
		return err == nil && strings.HasPrefix(got, "HTTP/1.1 200")
	}
	if !served(v4) || !served(v4) {
		t.Fatal("connection within the limit refused")
	}
	if served(v4) || served(v4) { // rate limited, which bans
		t.Fatal("connection over the limit served")
	}
	if l := listBlocks(t); !contains(l, "ban 127.0.0.1/32 banned") {
		t.Errorf("ban not listed: %v", l)
	}
	if !served(v6) {
		t.Fatal("::1 refused")
	}
	if status, body := adminDo(t, "POST", blocksPath, `{"cidr": "::1/128"}`); status != http.StatusCreated {
		t.Fatalf("POST: %d %s", status, body)
	}
	if served(v6) {
		t.Error("::1 served while blocked")
	}
	adminDo(t, "DELETE", blocksPath+"/::1%2F128", "")
	if !served(v6) {
		t.Error("::1 refused after removal")
	}
}

// TestActiveCaddyfile pins the JSON of the ban and response options and
// their errors, which name the file and line.
func TestActiveCaddyfile(t *testing.T) {
	out, ok := adapt(t, `:8080 {
	geofilter {
		rate_limit 20 10s
		rate_limit_status 401 403 404
		rate_limit_headers
		ban 3 1h
	}
	@bad geo blocked
	respond @bad 403
}`)
	if !ok {
		t.Fatal(out)
	}
	for _, want := range []string{
		`"ban":{"duration":3600000000000,"strikes":3}`,
		`"rate_limit_headers":true`,
		`"rate_limit_status":[401,403,404]`,
		`{"geo":{"blocked":true}}`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
	for _, c := range []struct{ block, want string }{
		{"ban 3 1h", "ban needs rate_limit, at Caddyfile:3"},
		{"rate_limit_status 401", "rate_limit_* options need rate_limit, at Caddyfile:3"},
		{"rate_limit 1 1s\n\t\tban 0 1h", `ban: invalid strike count "0", at Caddyfile:4`},
		{"rate_limit 1 1s\n\t\tban 3 forever", `ban: invalid duration "forever", at Caddyfile:4`},
		{"rate_limit 1 1s\n\t\trate_limit_status 200 999", `rate_limit_status: want HTTP status codes, got "999", at Caddyfile:4`},
	} {
		out, ok := adapt(t, ":8080 {\n\tgeofilter {\n\t\t"+c.block+"\n\t}\n}")
		if ok || !strings.Contains(out, c.want) {
			t.Errorf("%q: got %s, want an error with %q", c.block, out, c.want)
		}
	}
}

// TestGeoPlaceholdersOneDatabase: a database holding both countries and
// ASNs (as ip-location-db's combined files do) fills all three
// placeholders from one lookup, the same as two databases would.
func TestGeoPlaceholdersOneDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "asn-country.mmdb")
	both := func(cc string, asn uint32) mmdbtype.Map {
		m := geoiptest.Country(cc)
		for k, v := range asnRecord(asn) {
			m[k] = v
		}
		return m
	}
	writeDB(t, path, "GeoLite2-Country", map[string]mmdbtype.Map{
		"1.0.0.0/8":       both("CN", 64496),
		"2.0.0.0/8":       both("US", 64497),
		"3.0.0.0/8":       geoiptest.Country("DE"),
		"2001:db8:1::/48": both("CN", 64496),
	})
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	geofilter {
		db %s
		block_countries CN
	}
	respond "{http.vars.geo.country}|{http.vars.geo.asn}|{http.vars.geo.asn_org}"
}
`, httpPort, path), "caddyfile")
	for ip, want := range map[string]struct {
		status int
		body   string
	}{
		ipUS:      {200, "US|64497|Example AS"},
		"3.1.1.1": {200, "DE||"},
		ipUnknown: {200, "||"},
		ipCN:      {403, ""},
	} {
		r := fetch(t, tc, "/", ip)
		if r.status != want.status || want.status == 200 && r.body != want.body {
			t.Errorf("%s: %d %q, want %d %q", ip, r.status, r.body, want.status, want.body)
		}
	}
}
