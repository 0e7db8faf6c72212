package geofilter

import (
	"maps"
	"reflect"
	"slices"
	"sync"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"go.uber.org/zap"
)

// laxWarned remembers which servers of the config being loaded have been
// warned about, so several geofilter handlers and matchers in one server
// warn once. Configs load one at a time; a new one starts over.
var laxWarned struct {
	sync.Mutex
	app     *caddyhttp.App
	servers map[string]bool
}

// warnLaxTrustedProxies warns, once per config load and server, about the
// HTTP servers that take the client address from X-Forwarded-For (or their
// client_ip_headers) for trusted peers without trusted_proxies_strict. Caddy
// then takes the header's left end, which a client behind a proxy that
// appends to the header writes itself: it picks its own address and slips
// past every block and the rate limit.
//
// Handlers and matchers inside a server's routes are provisioned while that
// server is, and only it is checked; matchers of top-level routes are
// provisioned before any server, and every server is checked. The listener
// wrapper needs no check: it sees only the connection's peer.
func warnLaxTrustedProxies(ctx caddy.Context, logger *zap.Logger) {
	a, err := ctx.AppIfConfigured("http")
	if err != nil {
		return
	}
	app, ok := a.(*caddyhttp.App)
	if !ok {
		return
	}
	own, _ := ctx.Value(caddyhttp.ServerCtxKey).(*caddyhttp.Server)
	laxWarned.Lock()
	defer laxWarned.Unlock()
	if laxWarned.app != app {
		laxWarned.app, laxWarned.servers = app, map[string]bool{}
	}
	for _, name := range slices.Sorted(maps.Keys(app.Servers)) {
		srv := app.Servers[name]
		if (own != nil && srv != own) || srv.TrustedProxiesStrict > 0 || !trustsProxies(srv) || laxWarned.servers[name] {
			continue
		}
		laxWarned.servers[name] = true
		logger.Warn("server trusts proxies without trusted_proxies_strict: a client behind a proxy that appends to X-Forwarded-For "+
			"chooses its own address (the header's left end) and bypasses blocks and rate limits; add trusted_proxies_strict to the server's options",
			zap.String("server", name))
	}
}

// trustsProxies tells whether srv takes client addresses from headers for
// some peers. Until the server is provisioned its trusted_proxies are the raw
// TrustedProxiesRaw; provisioning clears that and keeps the loaded source in
// the unexported trustedProxies, which is only visible by reflection.
func trustsProxies(srv *caddyhttp.Server) bool {
	if srv.TrustedProxiesRaw != nil || srv.TrustedProxiesUnix {
		return true
	}
	f := reflect.ValueOf(srv).Elem().FieldByName("trustedProxies")
	return f.IsValid() && f.Kind() == reflect.Interface && !f.IsNil()
}
