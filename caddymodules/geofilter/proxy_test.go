package geofilter

import (
	"fmt"
	"testing"
)

// TestTrustedProxies checks that X-Forwarded-For decides the client only
// when the peer is one of the server's trusted_proxies.
func TestTrustedProxies(t *testing.T) {
	site := func(trusted string) string {
		return serversSite("", "trusted_proxies static "+trusted, "\tgeofilter {\n\t\tblock_ips 203.0.113.7 127.0.0.1 ::1\n\t}")
	}
	tc := newTester(t)

	// Loopback is not trusted: a forged header neither blocks an innocent
	// peer nor unblocks a blocked one.
	tc.InitServer(site("10.0.0.0/8"), "caddyfile")
	check(t, tc, []expect{
		{ip: "", status: 403},
		{ip: "2.2.3.4", status: 403},
		{ip: ipBlocked, status: 403},
	})

	// Loopback is trusted: the forwarded client is judged.
	tc.InitServer(site("127.0.0.1/32 ::1/128"), "caddyfile")
	check(t, tc, []expect{
		{ip: "2.2.3.4", status: 200},
		{ip: ipBlocked, status: 403},
		{ip: "", status: 403},
	})
}

// TestTrustedProxiesStrict shows why geofilter warns about trusted proxies
// without strict mode: behind a trusted proxy that appends the client's
// address to X-Forwarded-For, a client that sends its own header chooses
// the header's left end, the address Caddy takes without
// trusted_proxies_strict; strict mode takes the right end, the address the
// proxy saw.
func TestTrustedProxiesStrict(t *testing.T) {
	site := func(strict string) string {
		return serversSite("", "trusted_proxies static 127.0.0.1/32 ::1/128\n\t\t"+strict, "\tgeofilter {\n\t\tblock_ips "+ipBlocked+"\n\t}")
	}
	// The blocked client sent "X-Forwarded-For: 2.2.3.4"; the proxy (on
	// loopback) appended the address it saw.
	forged := "2.2.3.4, " + ipBlocked
	tc := newTester(t)
	tc.InitServer(site(""), "caddyfile")
	check(t, tc, []expect{{ip: forged, status: 200}})
	tc.InitServer(site("trusted_proxies_strict"), "caddyfile")
	check(t, tc, []expect{{ip: forged, status: 403}, {ip: "2.2.3.4", status: 200}})
}

// serversSite is a Caddyfile on the test ports with more global options,
// the servers options and one site of the given directives answering "ok".
func serversSite(global, servers, site string) string {
	return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
%s
	servers {
		%s
	}
}
:%d {
%s
	respond "ok"
}
`, adminPort, httpPort, httpsPort, global, servers, httpPort, site)
}
