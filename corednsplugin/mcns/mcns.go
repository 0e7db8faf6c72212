// Package mcns is a CoreDNS plugin that serves authoritative zones kept in SQLite.
package mcns

import (
	"context"

	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

// MCNS serves the zones of one SQLite database.
type MCNS struct {
	Next   plugin.Handler
	config config
}

// ServeDNS implements plugin.Handler.
func (m *MCNS) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
}

// Name implements plugin.Handler.
func (m *MCNS) Name() string { return pluginName }
