package geofilter

import (
	"fmt"
	"strings"
	"testing"
)

func TestGeoMatcher(t *testing.T) {
	dbs := makeTestDBs(t)
	want := []struct{ ip, body string }{
		{ipUS, "home"},
		{ipCN, "asn"},        // CN, AS64496
		{ipRegDE, "foreign"}, // registered in DE
		{ipUnknown, "foreign"},
		{"192.0.2.9", "cidr"},
		{"2001:db8:2::1", "home"}, // US
	}
	caddyfile := globalOptions + fmt.Sprintf(`
:%d {
	@cidr geo cidr 192.0.2.0/24 198.51.100.7
	@asn geo {
		db %s
		asn 64496
	}
	@foreign not geo db %s country us
	handle @cidr {
		respond "cidr"
	}
	handle @asn {
		respond "asn"
	}
	handle @foreign {
		respond "foreign"
	}
	handle {
		respond "home"
	}
}
`, httpPort, dbs.asn, dbs.country)
	route := func(match, body string) string {
		return fmt.Sprintf(`{"match": [%s], "handle": [{"handler": "static_response", "body": %q}], "terminal": true}`, match, body)
	}
	routes := route(`{"geo": {"cidr": ["192.0.2.0/24", "198.51.100.7"]}}`, "cidr") + ",\n" +
		route(fmt.Sprintf(`{"geo": {"db": [%q], "asn": [64496]}}`, dbs.asn), "asn") + ",\n" +
		route(fmt.Sprintf(`{"not": [{"geo": {"db": [%q], "country": ["US"]}}]}`, dbs.country), "foreign") + ",\n" +
		`{"handle": [{"handler": "static_response", "body": "home"}]}`
	jsonCfg := fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"apps": {"http": {"http_port": %d, "https_port": %d, "servers": {"srv0": {
		"listen": [":%d"],
		"trusted_proxies": {"source": "static", "ranges": ["127.0.0.1/32", "::1/128"]},
		"routes": [%s]
	}}}}
}`, adminPort, httpPort, httpsPort, httpPort, routes)

	tc := newTester(t)
	for _, cfg := range []struct{ name, cfg, adapter string }{
		{"caddyfile", caddyfile, "caddyfile"},
		{"json", jsonCfg, "json"},
	} {
		t.Run(cfg.name, func(t *testing.T) {
			tc.InitServer(cfg.cfg, cfg.adapter)
			for _, w := range want {
				if r := get(t, tc, w.ip); r.status != 200 || r.body != w.body {
					t.Errorf("client %s: %d %q, want %q", w.ip, r.status, r.body, w.body)
				}
			}
		})
	}
}

func TestGeoMatcherCaddyfileErrors(t *testing.T) {
	dbs := makeTestDBs(t)
	for _, c := range []struct{ matcher, want string }{
		{"geo", "needs at least one of country, asn, cidr or blocked"},
		{"geo country US", "country and asn need a db"},
		{"geo db " + dbs.country + " country USA", `invalid country code "USA"`},
		{"geo asn x", `invalid AS number "x"`},
		{"geo cidr 10.0.0.0/99", `invalid CIDR "10.0.0.0/99"`},
		{"geo US", `expected db, country, asn, cidr or blocked, got "US"`},
		{"geo {\n\t\tcontinent EU\n\t}", `unrecognized subdirective "continent"`},
	} {
		out, ok := adapt(t, ":8080 {\n\t@m "+c.matcher+"\n\trespond @m 403\n}\n")
		if ok {
			t.Errorf("%s: accepted", c.matcher)
			continue
		}
		if !strings.Contains(out, c.want) || !strings.Contains(out, "Caddyfile:") {
			t.Errorf("%s: error %q does not contain %q and the line", c.matcher, out, c.want)
		}
	}
}
