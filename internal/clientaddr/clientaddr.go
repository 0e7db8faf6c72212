// Package clientaddr gives the Caddy modules one reading of a request's
// client address.
package clientaddr

import (
	"net/http"
	"net/netip"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// FromVars is the client address Caddy determined for a request, from its
// variables vars: the client_ip variable, which honours trusted_proxies,
// else the connection's peer remoteAddr. Zones are dropped and IPv4-mapped
// IPv6 addresses read as IPv4. It does not allocate.
func FromVars(vars map[string]any, remoteAddr string) (netip.Addr, bool) {
	if s, ok := vars[caddyhttp.ClientIPVarKey].(string); ok && s != "" {
		if ip, err := netip.ParseAddr(s); err == nil {
			return ip.WithZone("").Unmap(), true
		}
	}
	if ap, err := netip.ParseAddrPort(remoteAddr); err == nil {
		return ap.Addr().WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}

// Vars returns r's variables map, nil if it has none.
func Vars(r *http.Request) map[string]any {
	vars, _ := r.Context().Value(caddyhttp.VarsCtxKey).(map[string]any)
	return vars
}

// Of is FromVars for r.
func Of(r *http.Request) (netip.Addr, bool) { return FromVars(Vars(r), r.RemoteAddr) }
