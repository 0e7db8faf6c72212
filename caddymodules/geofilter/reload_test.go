package geofilter

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/testutil"
)

// TestRateLimitSurvivesReload checks that limiter state is kept across a
// config reload when the limit is unchanged, and starts over when it is
// changed.
func TestRateLimitSurvivesReload(t *testing.T) {
	tc := newTester(t)
	tc.InitServer(siteCaddyfile("\t\trate_limit 2 1h\n\t\tstatus 403"), "caddyfile")
	check(t, tc, []expect{{ip: "192.0.2.50", status: 200}, {ip: "192.0.2.50", status: 200}, {ip: "192.0.2.50", status: 429}})

	// Same limit, other options changed: still limited.
	tc.InitServer(siteCaddyfile("\t\trate_limit 2 1h\n\t\tstatus 451"), "caddyfile")
	check(t, tc, []expect{{ip: "192.0.2.50", status: 429}})

	// A different limit starts from scratch.
	tc.InitServer(siteCaddyfile("\t\trate_limit 3 1h\n\t\tstatus 451"), "caddyfile")
	check(t, tc, []expect{{ip: "192.0.2.50", status: 200}})
}

// TestErrorsAndMetrics checks that refusals reach handle_errors and the
// metrics, labelled by reason and country only.
func TestErrorsAndMetrics(t *testing.T) {
	dbs := makeTestDBs(t)
	tc := newTester(t)
	tc.InitServer(globalOptions+fmt.Sprintf(`
:%d {
	geofilter {
		db %s
		block_countries CN
		rate_limit 1 1h
		rate_limit_zone metrics
	}
	respond "ok"
	handle_errors {
		respond "refused {err.status_code}: {err.message}"
	}
}
`, httpPort, dbs.country), "caddyfile")
	r := get(t, tc, ipCN)
	if r.status != 403 || !strings.HasPrefix(r.body, "refused 403: geofilter: client 1.2.3.4 refused: country") {
		t.Errorf("blocked: %d %q", r.status, r.body)
	}
	get(t, tc, ipUS)
	r = get(t, tc, ipUS)
	if r.status != 429 || !strings.HasPrefix(r.body, "refused 429") || r.header.Get("Retry-After") != "7200" {
		t.Errorf("limited: %d %q Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}

	resp, err := http.Get(fmt.Sprintf("http://localhost:%d/metrics", adminPort))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	metrics := string(body)
	for _, want := range []string{
		`caddy_geofilter_requests_blocked_total{country="CN",reason="country"} 1`,
		`caddy_geofilter_requests_blocked_total{country="US",reason="rate_limit"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, "1.2.3.4") || strings.Contains(metrics, "2.2.3.4") {
		t.Error("metrics are labelled with client addresses")
	}
}

// TestLoadErrors checks that bad configs are refused, naming the problem,
// through the admin API for both adapters, and that Caddy keeps running.
func TestLoadErrors(t *testing.T) {
	dbs := makeTestDBs(t)
	tc := newTester(t)
	tc.InitServer(siteCaddyfile("\t\tblock_ips 203.0.113.7"), "caddyfile")

	cases := []struct{ name, handler, want string }{
		{"both country lists", `"db": ` + jsonList(dbs.country) + `, "block_countries": ["CN"], "allow_countries": ["US"]`, "mutually exclusive"},
		{"bad country", `"db": ` + jsonList(dbs.country) + `, "block_countries": ["China"]`, `invalid country code "China"`},
		{"countries without db", `"block_countries": ["CN"]`, "need a db"},
		{"asn without asn db", `"db": ` + jsonList(dbs.country) + `, "block_asn": [64496]`,
			"geofilter: block_asn: no configured db has ASN data (db " + dbs.country + " is GeoLite2-Country with country data)"},
		{"countries with asn dbs only", `"db": ` + jsonList(dbs.asn, dbs.untypedASN) + `, "allow_countries": ["US"]`,
			"geofilter: allow_countries: no configured db has country data (db " + dbs.asn + " is GeoLite2-ASN with asn data, db " + dbs.untypedASN + " is ip-location-db with asn data)"},
		{"bad ip", `"block_ips": ["1.2.3"]`, `invalid IP address "1.2.3"`},
		{"bad cidr", `"block_cidrs": ["1.2.3.0/40"]`, `invalid CIDR "1.2.3.0/40"`},
		{"bad status", `"block_ips": ["1.2.3.4"], "status": 302`, "want a 4xx or 5xx code"},
		{"bad unknown_country", `"unknown_country": "deny"`, "want allow or block"},
		{"bad rate", `"rate_limit": {"requests": 0, "window": "1s"}`, "requests must be positive"},
		{"missing db", `"db": ["/nonexistent/x.mmdb"]`, "geofilter: db /nonexistent/x.mmdb: cannot open: no such file or directory"},
	}
	if dir := sharedDataDir(t); dir != "" {
		for _, f := range []string{
			"GeoIP2-City-Test-Broken-Double-Format.mmdb",
			"GeoIP2-City-Test-Invalid-Node-Count.mmdb",
			"MaxMind-DB-test-broken-pointers-24.mmdb",
			"MaxMind-DB-test-broken-search-tree-24.mmdb",
		} {
			cases = append(cases, struct{ name, handler, want string }{
				f, `"db": ` + jsonList(dir+"/"+f) + `, "block_countries": ["CN"]`, "geofilter: db " + dir + "/" + f + ": ",
			})
		}
	} else {
		t.Log("maxmind-test data not present; broken-database cases skipped")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, body := loadConfig(t, siteJSON(c.handler), "json")
			if status == http.StatusOK {
				t.Fatal("config accepted")
			}
			if !strings.Contains(body, c.want) {
				t.Errorf("error %q does not contain %q", body, c.want)
			}
		})
	}
	t.Run("caddyfile names file and line", func(t *testing.T) {
		status, body := loadConfig(t, siteCaddyfile("\t\tblock_ips 203.0.113.7\n\t\tblock_countries XYZ"), "caddyfile")
		if status == http.StatusOK || !strings.Contains(body, `invalid country code "XYZ"`) || !strings.Contains(body, "Caddyfile:14") {
			t.Errorf("got %d %s", status, body)
		}
	})
	// A Caddyfile naming a missing db adapts, and loading it names the file.
	t.Run("caddyfile missing db", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
		status, body := loadConfig(t, siteCaddyfile("\t\tdb "+missing+"\n\t\tblock_countries CN"), "caddyfile")
		if status == http.StatusOK || !strings.Contains(body, "geofilter: db "+missing+": cannot open") {
			t.Errorf("got %d %s", status, body)
		}
	})
	t.Run("caddyfile asn without asn db", func(t *testing.T) {
		status, body := loadConfig(t, siteCaddyfile("\t\tdb "+dbs.country+"\n\t\tblock_asn 64496"), "caddyfile")
		if status == http.StatusOK || !strings.Contains(body, "geofilter: block_asn: no configured db has ASN data (db "+dbs.country+" is GeoLite2-Country") {
			t.Errorf("got %d %s", status, body)
		}
	})
	t.Run("caddyfile geo matcher missing db", func(t *testing.T) {
		missing := filepath.Join(t.TempDir(), "GeoLite2-ASN.mmdb")
		cfg := globalOptions + fmt.Sprintf(":%d {\n\t@m geo db %s asn 64496\n\trespond @m 403\n}\n", httpPort, missing)
		status, body := loadConfig(t, cfg, "caddyfile")
		if status == http.StatusOK || !strings.Contains(body, "geo: db "+missing+": cannot open") {
			t.Errorf("got %d %s", status, body)
		}
	})
	// The previous config still serves.
	check(t, tc, []expect{{ip: ipBlocked, status: 403}, {ip: ipUS, status: 200}})
}

func sharedDataDir(t testing.TB) string {
	p := testutil.RepoRoot(t) + "/../shared/data/geoip/maxmind-test"
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}
