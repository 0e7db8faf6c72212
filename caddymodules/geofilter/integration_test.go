package geofilter

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/metacircular/edge/internal/caddytestutil"
)

// The tests run Caddy in-process on free ports of their own (see
// caddytestutil.NewPorts); they share that one Caddy and run sequentially.
var (
	caddyPorts = caddytestutil.NewPorts()
	adminPort  = caddyPorts.Admin
	httpPort   = caddyPorts.HTTP
	httpsPort  = caddyPorts.HTTPS
)

func newTester(t *testing.T) *caddytest.Tester { return caddyPorts.NewTester(t) }

// globalOptions trusts loopback as a proxy, so tests can present any client
// address in X-Forwarded-For.
var globalOptions = caddyPorts.GlobalOptions("\tservers {\n\t\ttrusted_proxies static 127.0.0.1/32 ::1/128\n\t}\n")

func siteCaddyfile(filter string) string {
	return globalOptions + fmt.Sprintf(`
:%d {
	geofilter {
%s
	}
	respond "ok"
}
`, httpPort, filter)
}

// siteJSON is the JSON equivalent of siteCaddyfile; handler holds the
// geofilter handler's fields.
func siteJSON(handler string) string {
	return fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"apps": {
		"http": {
			"http_port": %d,
			"https_port": %d,
			"servers": {
				"srv0": {
					"listen": [":%d"],
					"trusted_proxies": {"source": "static", "ranges": ["127.0.0.1/32", "::1/128"]},
					"routes": [{"handle": [
						{"handler": "geofilter", %s},
						{"handler": "static_response", "body": "ok"}
					]}]
				}
			}
		},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}}
	}
}`, adminPort, httpPort, httpsPort, httpPort, handler)
}

type response struct {
	status int
	header http.Header
	body   string
}

// get requests the test site as client ip (via X-Forwarded-For; "" sends
// none).
func get(t *testing.T, tc *caddytest.Tester, ip string) response {
	t.Helper()
	req, err := http.NewRequest("GET", fmt.Sprintf("http://localhost:%d/", httpPort), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := tc.Client.Do(req)
	if err != nil {
		t.Fatalf("request as %s: %v", ip, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(body)}
}

type expect struct {
	ip         string
	status     int
	retryAfter string // checked when set
}

func check(t *testing.T, tc *caddytest.Tester, want []expect) {
	t.Helper()
	for i, w := range want {
		r := get(t, tc, w.ip)
		if r.status != w.status {
			t.Errorf("step %d: client %s got %d (%q), want %d", i, w.ip, r.status, r.body, w.status)
		}
		if w.retryAfter != "" && r.header.Get("Retry-After") != w.retryAfter {
			t.Errorf("step %d: client %s got Retry-After %q, want %q", i, w.ip, r.header.Get("Retry-After"), w.retryAfter)
		}
	}
}

// loadConfig posts a config to the admin API and returns the status and the
// response body; it is used for configs that must be refused.
func loadConfig(t *testing.T, cfg, adapter string) (int, string) {
	t.Helper()
	ct := "application/json"
	if adapter != "json" {
		ct = "text/" + adapter
	}
	status, body := caddyPorts.LoadConfig(t, cfg, ct)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal([]byte(body), &e) == nil && e.Error != "" {
		return status, e.Error
	}
	return status, body
}

func jsonList(s ...string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// TestOptions runs every handler option through both the Caddyfile and the
// JSON config, with clients at known places.
func TestOptions(t *testing.T) {
	dbs := makeTestDBs(t)
	cases := []struct {
		name      string
		caddyfile string
		json      string
		want      []expect
	}{{
		name:      "block_ips",
		caddyfile: "block_ips 203.0.113.7 2001:db8::1",
		json:      `"block_ips": ["203.0.113.7", "2001:db8::1"]`,
		want: []expect{
			{ip: ipBlocked, status: 403}, {ip: ipBlocked6, status: 403},
			{ip: "203.0.113.8", status: 200}, {ip: "2001:db8::2", status: 200},
			{ip: "::ffff:203.0.113.7", status: 403},
		},
	}, {
		name:      "block_cidrs",
		caddyfile: "block_cidrs 198.51.100.0/24 2001:db8:ff::/48",
		json:      `"block_cidrs": ["198.51.100.0/24", "2001:db8:ff::/48"]`,
		want: []expect{
			{ip: ipInBlocked, status: 403}, {ip: ipOutBlocked, status: 200},
			{ip: "2001:db8:ff:1::1", status: 403}, {ip: "2001:db8:fe::1", status: 200},
		},
	}, {
		name:      "allow_cidrs",
		caddyfile: "block_cidrs 198.51.100.0/24\n\t\tallow_cidrs 198.51.100.5 1.2.3.0/24\n\t\tdb " + dbs.country + "\n\t\tblock_countries CN",
		json:      `"block_cidrs": ["198.51.100.0/24"], "allow_cidrs": ["198.51.100.5", "1.2.3.0/24"], "db": ` + jsonList(dbs.country) + `, "block_countries": ["CN"]`,
		want: []expect{
			{ip: ipInBlocked, status: 200}, {ip: "198.51.100.6", status: 403},
			{ip: ipCN, status: 200}, {ip: "1.2.4.4", status: 403},
		},
	}, {
		name:      "block_countries",
		caddyfile: "db " + dbs.country + "\n\t\tblock_countries cn de",
		json:      `"db": ` + jsonList(dbs.country) + `, "block_countries": ["CN", "DE"]`,
		want: []expect{
			{ip: ipCN, status: 403}, {ip: ipCN6, status: 403}, {ip: ipRegDE, status: 403},
			{ip: ipUS, status: 200}, {ip: ipUnknown, status: 200},
		},
	}, {
		name:      "block_countries city layout",
		caddyfile: "db " + dbs.city + "\n\t\tblock_countries CN",
		json:      `"db": ` + jsonList(dbs.city) + `, "block_countries": ["CN"]`,
		want:      []expect{{ip: ipCN, status: 403}, {ip: ipUS, status: 200}},
	}, {
		name:      "block_countries flat layout",
		caddyfile: "db " + dbs.flat + "\n\t\tblock_countries CN",
		json:      `"db": ` + jsonList(dbs.flat) + `, "block_countries": ["CN"]`,
		want:      []expect{{ip: ipCN, status: 403}, {ip: ipUS, status: 200}, {ip: ipRegDE, status: 200}},
	}, {
		name:      "allow_countries",
		caddyfile: "db " + dbs.country + "\n\t\tallow_countries US",
		json:      `"db": ` + jsonList(dbs.country) + `, "allow_countries": ["US"]`,
		want: []expect{
			{ip: ipUS, status: 200}, {ip: ipCN, status: 403}, {ip: ipRegDE, status: 403},
			{ip: ipUnknown, status: 200},
		},
	}, {
		name:      "unknown_country block",
		caddyfile: "db " + dbs.country + "\n\t\tallow_countries US\n\t\tunknown_country block",
		json:      `"db": ` + jsonList(dbs.country) + `, "allow_countries": ["US"], "unknown_country": "block"`,
		want:      []expect{{ip: ipUS, status: 200}, {ip: ipUnknown, status: 403}, {ip: ipCN, status: 403}},
	}, {
		name:      "unknown_country allow",
		caddyfile: "db " + dbs.country + "\n\t\tblock_countries CN\n\t\tunknown_country allow",
		json:      `"db": ` + jsonList(dbs.country) + `, "block_countries": ["CN"], "unknown_country": "allow"`,
		want:      []expect{{ip: ipUnknown, status: 200}, {ip: ipCN, status: 403}},
	}, {
		name:      "block_asn",
		caddyfile: "db " + dbs.country + "\n\t\tdb " + dbs.asn + "\n\t\tblock_asn AS64496",
		json:      `"db": ` + jsonList(dbs.country, dbs.asn) + `, "block_asn": [64496]`,
		want: []expect{
			{ip: ipCN, status: 403}, {ip: ipCN6, status: 403},
			{ip: ipUS, status: 200}, {ip: ipUnknown, status: 200},
		},
	}, {
		name:      "status",
		caddyfile: "block_ips 203.0.113.7\n\t\tstatus 451",
		json:      `"block_ips": ["203.0.113.7"], "status": 451`,
		want:      []expect{{ip: ipBlocked, status: 451}, {ip: ipUS, status: 200}},
	}, {
		name:      "rate_limit",
		caddyfile: "rate_limit 3 1h\n\t\trate_limit_zone options-cf\n\t\tallow_cidrs 192.0.2.0/24",
		json:      `"rate_limit": {"requests": 3, "window": "1h", "zone": "options-json"}, "allow_cidrs": ["192.0.2.0/24"]`,
		want: []expect{
			{ip: ipUS, status: 200}, {ip: ipUS, status: 200}, {ip: ipUS, status: 200},
			// the 3 count for (1h-e)/1h in the next window: one more fits 20
			// minutes into it
			{ip: ipUS, status: 429, retryAfter: "4800"},
			{ip: ipCN, status: 200},
			// exempt clients are never limited
			{ip: "192.0.2.1", status: 200}, {ip: "192.0.2.1", status: 200},
			{ip: "192.0.2.1", status: 200}, {ip: "192.0.2.1", status: 200},
		},
	}, {
		name:      "rate_limit_ipv6_prefix 64",
		caddyfile: "rate_limit 1 1h\n\t\trate_limit_zone v6-64-cf",
		json:      `"rate_limit": {"requests": 1, "window": "1h", "zone": "v6-64-json"}`,
		want: []expect{
			{ip: "2001:db8:5:1::1", status: 200}, {ip: "2001:db8:5:1::2", status: 429},
			{ip: "2001:db8:5:2::1", status: 200},
		},
	}, {
		name:      "rate_limit_ipv6_prefix 128",
		caddyfile: "rate_limit 1 1h\n\t\trate_limit_ipv6_prefix 128\n\t\trate_limit_zone v6-128-cf",
		json:      `"rate_limit": {"requests": 1, "window": "1h", "ipv6_prefix": 128, "zone": "v6-128-json"}`,
		want: []expect{
			{ip: "2001:db8:5:1::1", status: 200}, {ip: "2001:db8:5:1::2", status: 200},
			{ip: "2001:db8:5:1::1", status: 429},
		},
	}, {
		name:      "rate_limit_max_clients",
		caddyfile: "rate_limit 1 1h\n\t\trate_limit_max_clients 1\n\t\trate_limit_zone max-cf",
		json:      `"rate_limit": {"requests": 1, "window": "1h", "max_clients": 1, "zone": "max-json"}`,
		want: []expect{
			{ip: ipUS, status: 200}, {ip: ipUS, status: 429},
			// a second client evicts the first, whose budget starts over
			{ip: ipCN, status: 200}, {ip: ipUS, status: 200}, {ip: ipUS, status: 429},
		},
	}}
	tc := newTester(t)
	for _, c := range cases {
		t.Run(c.name+"/caddyfile", func(t *testing.T) {
			tc.InitServer(siteCaddyfile("\t\t"+c.caddyfile), "caddyfile")
			check(t, tc, c.want)
		})
		t.Run(c.name+"/json", func(t *testing.T) {
			tc.InitServer(siteJSON(c.json), "json")
			check(t, tc, c.want)
		})
	}
}

// TestCaddyfileAdaptsToJSON pins the JSON the Caddyfile adapter writes.
func TestCaddyfileAdaptsToJSON(t *testing.T) {
	dbs := makeTestDBs(t)
	in := fmt.Sprintf(`:8080 {
	geofilter {
		db %s
		db %s
		block_countries cn RU
		block_asn 64496 AS64497
		block_ips 203.0.113.7 2001:db8::1
		block_cidrs 198.51.100.0/24
		allow_cidrs 10.0.0.0/8
		unknown_country block
		rate_limit 20 10s
		rate_limit_ipv6_prefix 56
		rate_limit_max_clients 1000
		status 404
	}
	basic_auth {
		u $2a$14$Zkx19XLiW6VYouLHR5NmfOFU0z2GTNmpkT/5qqR7hx4IjWJPDhjvG
	}
	respond "ok"
}`, dbs.country, dbs.asn)
	handler := fmt.Sprintf(`{"allow_cidrs":["10.0.0.0/8"],"block_asn":[64496,64497],"block_cidrs":["198.51.100.0/24"],"block_countries":["CN","RU"],"block_ips":["203.0.113.7","2001:db8::1"],"db":[%q,%q],"handler":"geofilter","rate_limit":{"ipv6_prefix":56,"max_clients":1000,"requests":20,"window":10000000000},"status":404,"unknown_country":"block"}`, dbs.country, dbs.asn)
	adapted, ok := adapt(t, in)
	if !ok {
		t.Fatal(adapted)
	}
	if !strings.Contains(adapted, handler) {
		t.Fatalf("adapted config lacks the handler:\n%s\nwant:\n%s", adapted, handler)
	}
	// geofilter is ordered before basic_auth without an order line.
	if strings.Index(adapted, `"handler":"geofilter"`) > strings.Index(adapted, `"handler":"authentication"`) {
		t.Fatalf("geofilter is not ordered before basic_auth:\n%s", adapted)
	}
}

// TestMaxMindTestDatabaseConfig runs MaxMind's own test databases through a
// served config, through both adapters.
func TestMaxMindTestDatabaseConfig(t *testing.T) {
	country := sharedData(t, "maxmind-test", "GeoIP2-Country-Test.mmdb")
	asn := sharedData(t, "maxmind-test", "GeoLite2-ASN-Test.mmdb")
	want := []expect{
		{ip: "81.2.69.160", status: 403}, // GB
		{ip: "1.128.0.1", status: 403},   // AS1221
		{ip: "2.125.160.216", status: 403},
		{ip: "216.160.83.56", status: 200}, // US
	}
	tc := newTester(t)
	tc.InitServer(siteCaddyfile("\t\tdb "+country+"\n\t\tdb "+asn+"\n\t\tblock_countries GB\n\t\tblock_asn 1221"), "caddyfile")
	check(t, tc, want)
	tc.InitServer(siteJSON(`"db": `+jsonList(country, asn)+`, "block_countries": ["GB"], "block_asn": [1221]`), "json")
	check(t, tc, want)
}
