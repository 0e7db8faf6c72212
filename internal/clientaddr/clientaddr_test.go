package clientaddr

import (
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func TestFromVars(t *testing.T) {
	for _, tc := range []struct {
		clientIP, remote, want string
	}{
		{"203.0.113.5", "192.0.2.1:4000", "203.0.113.5"},
		{"", "192.0.2.1:4000", "192.0.2.1"},
		{"::ffff:198.51.100.7", "192.0.2.1:4000", "198.51.100.7"},
		{"fe80::1%eth0", "192.0.2.1:4000", "fe80::1"},
		{"garbage", "[2001:db8::1]:443", "2001:db8::1"},
		{"", "not an address", ""},
	} {
		vars := map[string]any{caddyhttp.ClientIPVarKey: tc.clientIP}
		ip, ok := FromVars(vars, tc.remote)
		if got := map[bool]string{true: ip.String(), false: ""}[ok]; got != tc.want {
			t.Errorf("client_ip %q, remote %q: %q, want %q", tc.clientIP, tc.remote, got, tc.want)
		}
	}
	if ip, ok := FromVars(nil, "192.0.2.9:1"); !ok || ip.String() != "192.0.2.9" {
		t.Errorf("no vars: %v %v", ip, ok)
	}
}
