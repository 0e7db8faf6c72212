package geofilter

import (
	"fmt"
	"testing"
)

// TestTrustedProxies checks that X-Forwarded-For decides the client only
// when the peer is one of the server's trusted_proxies.
func TestTrustedProxies(t *testing.T) {
	site := func(trusted string) string {
		return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
	servers {
		trusted_proxies static %s
	}
}
:%d {
	geofilter {
		block_ips 203.0.113.7 127.0.0.1 ::1
	}
	respond "ok"
}
`, adminPort, httpPort, httpsPort, trusted, httpPort)
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
