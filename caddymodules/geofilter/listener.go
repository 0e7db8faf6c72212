package geofilter

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"

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
	if err := p.joinBlockList(ctx); err != nil {
		return err
	}
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
//
// The peer address of a plain TCP (or unix) connection is known at once,
// so those are judged here, before anything else happens. Any other
// connection, e.g. one from proxy_protocol, may have to read from the
// network to learn its address (go-proxyproto's RemoteAddr waits for the
// PROXY header), and one silent client must not stall the accept loop for
// everyone: such connections are judged on their first Read or Write, in
// the goroutine serving them.
func (l *filteredListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		switch c.(type) {
		case *net.TCPConn, *net.UnixConn:
			if l.refuse(c) {
				continue
			}
			return c, nil
		}
		return &checkedConn{Conn: c, l: l}, nil
	}
}

// refuse judges c's peer and closes c if it is refused.
func (l *filteredListener) refuse(c net.Conn) bool {
	ip, ok := peerIP(c.RemoteAddr())
	if !ok {
		// Not an IP connection (e.g. a unix socket): nothing to judge.
		return false
	}
	v := l.lw.policy.check(ip)
	if v.reason == "" {
		return false
	}
	// Counted before the close: a client that sees its connection closed
	// and then reads the metrics finds it there.
	count(l.lw.closed, v)
	_ = c.Close()
	if ce := l.lw.logger.Check(zap.DebugLevel, "connection closed"); ce != nil {
		ce.Write(zap.String("reason", v.reason), zap.Stringer("client", ip),
			zap.String("country", v.country.String()), zap.Uint32("asn", v.asn))
	}
	return true
}

// errRefused is what reads and writes on a refused connection return.
var errRefused = errors.New("geofilter: connection refused")

// checkedConn is a connection judged on its first Read or Write, so that
// a refused client gets no byte from the server.
type checkedConn struct {
	net.Conn
	l       *filteredListener
	once    sync.Once
	refused bool
}

func (c *checkedConn) check() error {
	c.once.Do(func() { c.refused = c.l.refuse(c.Conn) })
	if c.refused {
		return errRefused
	}
	return nil
}

func (c *checkedConn) Read(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *checkedConn) Write(p []byte) (int, error) {
	if err := c.check(); err != nil {
		return 0, err
	}
	return c.Conn.Write(p)
}

// CloseWrite half-closes the connection, as net/http does before closing
// one, when the wrapped connection supports it.
func (c *checkedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the wrapped connection.
func (c *checkedConn) Unwrap() net.Conn { return c.Conn }

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
