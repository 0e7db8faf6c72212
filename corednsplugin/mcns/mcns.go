// Package mcns is a CoreDNS plugin that serves authoritative zones kept in
// SQLite, in PowerDNS's gsqlite3 layout.
package mcns

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/transfer"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// MCNS serves the zones of one SQLite database.
type MCNS struct {
	Next   plugin.Handler
	config config

	// blockZones are the server block's zones; rootBlock is true for ".",
	// where every zone of the database is served.
	blockZones []string
	rootBlock  bool

	// The served zones and everything that keeps them current.
	*zoneMaintainer

	ready atomic.Bool

	startOnce sync.Once
	startErr  error
	stopOnce  sync.Once

	api    atomic.Pointer[api.Server] // read by Ready from the ready plugin
	stopCh chan struct{}
	done   chan struct{}

	// xfer is the server block's transfer plugin, if any, for NOTIFY.
	xfer atomic.Pointer[transfer.Transfer]
}

// New returns an mcns instance for cfg serving inside blockZones.
func New(cfg config, blockZones []string) *MCNS {
	if cfg.recursion == nil {
		cfg.recursion = defaultRecursionNets
	}
	m := &MCNS{config: cfg, blockZones: blockZones}
	m.zoneMaintainer = newZoneMaintainer(cfg, m.serves, m.sendNotify)
	for _, z := range blockZones {
		if z == "." {
			m.rootBlock = true
		}
	}
	return m
}

// ServeDNS implements plugin.Handler. Answers come from the current zone
// snapshot: from the zone's answer cache, or built by answer (file's
// lookup, so they behave exactly as with the file plugin) and kept there.
func (m *MCNS) ServeDNS(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	state := request.Request{W: w, Req: r}
	qname := state.Name()
	if !m.rootBlock && plugin.Zones(m.blockZones).Matches(qname) == "" {
		return m.next(ctx, w, r)
	}
	snap := m.snap.Load()
	if snap == nil {
		// Not loaded yet: forwarding our names elsewhere would leak them.
		return dns.RcodeServerFailure, nil
	}
	if r.Opcode == dns.OpcodeUpdate && len(m.config.updates) > 0 {
		// Answered here even for zones not served: an UPDATE must never
		// reach a forwarder.
		return m.serveUpdate(ctx, w, r, snap)
	}
	zone := snap.zoneOf(qname)
	if zone == "" || len(r.Question) == 0 {
		return m.next(ctx, w, r)
	}
	if r.Opcode != dns.OpcodeQuery {
		return dns.RcodeNotImplemented, nil
	}
	// Transfers are the transfer plugin's, which runs before this one.
	if qt := state.QType(); qt == dns.TypeAXFR || qt == dns.TypeIXFR {
		return dns.RcodeRefused, nil
	}
	tmpl, ok := m.lookup(ctx, state, snap, zone)
	if !ok {
		return m.next(ctx, w, r)
	}
	if tmpl == nil {
		return dns.RcodeServerFailure, nil
	}
	w.WriteMsg(replyTo(r, tmpl))
	return dns.RcodeSuccess, nil
}

// lookup returns the reply template for state's question from the
// generation of zone in snap, or from a later snapshot when that
// generation's copy has been reused meanwhile (a write came in). ok is
// false when no served zone holds the name any more; a nil template is
// SERVFAIL.
func (m *MCNS) lookup(ctx context.Context, state request.Request, snap *snapshot, zone string) (tmpl *dns.Msg, ok bool) {
	key := answerKey{name: state.Name(), qtype: state.QType(), do: state.Do()}
	for {
		sz := snap.zones[zone]
		if tmpl := sz.answers.get(key); tmpl != nil {
			answerHits.Inc()
			return tmpl, true
		}
		if sz.answers != nil {
			answerMisses.Inc()
		}
		b, read := sz.answer(ctx, state, zone, snap)
		if read {
			if b.msg != nil && b.cacheable {
				sz.answers.put(key, b.msg, sz.gen, b.lifetime, b.deps)
			}
			return b.msg, true
		}
		snap = m.snap.Load()
		if zone = snap.zoneOf(key.name); zone == "" {
			return nil, false
		}
	}
}

// serves reports whether zone is inside this instance's server block.
func (m *MCNS) serves(zone string) bool {
	return m.rootBlock || plugin.Zones(m.blockZones).Matches(zone) != ""
}

// next passes a query for a name outside mcns's zones on (to cache and
// forward) if the client may recurse, and refuses it otherwise.
func (m *MCNS) next(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if !m.config.mayRecurse(w.RemoteAddr()) {
		refuseRecursion(w, r)
		return dns.RcodeSuccess, nil
	}
	return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
}

// Name implements plugin.Handler.
func (m *MCNS) Name() string { return pluginName }

// Ready implements the ready plugin's Readiness: true once the first
// snapshot of the database is loaded, and false again while the API's
// tokens file does not parse (it grants nothing then; see api.Healthy), so
// the ready endpoint shows the broken credentials, not only the logs. DNS
// answers are not affected.
func (m *MCNS) Ready() bool {
	if !m.ready.Load() {
		return false
	}
	a := m.api.Load()
	return a == nil || a.Healthy() == nil
}

// CacheBypassZones implements cache.ZoneBypasser, so the cache plugin never
// answers for data that can change at any moment through the API or the
// database. In a "." block these are the zones in the database when the
// cache starts (cache asks during its own startup, which may run before
// ours, so this loads the database first); in a block naming zones, those.
func (m *MCNS) CacheBypassZones() []string {
	if !m.rootBlock {
		return append([]string(nil), m.blockZones...)
	}
	if err := m.Start(); err != nil {
		return nil
	}
	snap := m.snap.Load()
	if snap == nil {
		return nil
	}
	return append([]string(nil), snap.names...)
}
