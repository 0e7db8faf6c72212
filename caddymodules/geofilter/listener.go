package geofilter

import (
	"fmt"
	"net"
	"net/netip"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(ListenerWrapper{})
}

// ListenerWrapper closes connections from blocked or over-rate clients as
// soon as they are accepted, before any TLS handshake or HTTP parsing, for
// hosts under attack. It takes the same options as the handler; the rate
// limit counts connections instead of requests.
//
// The client address is the connection's peer address. Place the wrapper
// after proxy_protocol to filter on the address that protocol carries, and
// before tls so refused clients cost no handshake.
type ListenerWrapper struct {
	Filter

	logger *zap.Logger
	policy *policy
	closed *prometheus.CounterVec
}

// CaddyModule returns the Caddy module information.
func (ListenerWrapper) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "caddy.listeners.geofilter",
		New: func() caddy.Module { return new(ListenerWrapper) },
	}
}

// Provision loads the databases and builds the lookup tables.
func (lw *ListenerWrapper) Provision(ctx caddy.Context) error {
	lw.logger = ctx.Logger()
	p, err := lw.Filter.provision(lw.logger, "listener", filterNames)
	if err != nil {
		return fmt.Errorf("geofilter: %w", err)
	}
	lw.policy = p
	lw.closed, err = registerCounter(ctx, newClosedConnections())
	return err
}

// Validate checks the configuration.
func (lw *ListenerWrapper) Validate() error { return lw.Filter.validate() }

// Cleanup releases the databases and the limiter state.
func (lw *ListenerWrapper) Cleanup() error {
	if lw.policy != nil {
		lw.policy.cleanup()
	}
	return nil
}

// WrapListener returns a listener that drops refused connections.
func (lw *ListenerWrapper) WrapListener(l net.Listener) net.Listener {
	return &filteredListener{Listener: l, lw: lw}
}

type filteredListener struct {
	net.Listener
	lw *ListenerWrapper
}

// Accept returns the next connection that passes the filter; refused ones
// are closed without a byte read or written.
func (l *filteredListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		ip, ok := peerIP(c.RemoteAddr())
		if !ok {
			// Not an IP connection (e.g. a unix socket): nothing to judge.
			return c, nil
		}
		v := l.lw.policy.check(ip)
		if v.reason == "" {
			return c, nil
		}
		_ = c.Close()
		count(l.lw.closed, v)
		if ce := l.lw.logger.Check(zap.DebugLevel, "connection closed"); ce != nil {
			ce.Write(zap.String("reason", v.reason), zap.Stringer("client", ip),
				zap.String("country", v.country.String()), zap.Uint32("asn", v.asn))
		}
	}
}

func peerIP(a net.Addr) (netip.Addr, bool) {
	switch a := a.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case nil:
		return netip.Addr{}, false
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().WithZone("").Unmap(), true
}

// Interface guards
var (
	_ caddy.Provisioner     = (*ListenerWrapper)(nil)
	_ caddy.Validator       = (*ListenerWrapper)(nil)
	_ caddy.CleanerUpper    = (*ListenerWrapper)(nil)
	_ caddy.ListenerWrapper = (*ListenerWrapper)(nil)
)
