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
	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// MCNS serves the zones of one SQLite database.
type MCNS struct {
	Next   plugin.Handler
	config config

	// blockZones are the server block's zones; rootBlock is true for ".",
	// where every zone of the database is served.
	blockZones []string
	rootBlock  bool

	snap  atomic.Pointer[snapshot]
	ready atomic.Bool

	startOnce sync.Once
	startErr  error
	stopOnce  sync.Once

	// mu serialises snapshot rebuilds (poller and API callbacks).
	mu        sync.Mutex
	st        *store.Store
	version   int64 // data_version of the last full refresh
	haveVer   bool
	failing   bool // the last refresh failed; logged once per change
	gaugeZone float64
	gaugeRecs float64
	// journalGap holds zones changed by another writer whose IXFR journal
	// is still to be dropped (value: the failure was logged); their IXFRs
	// get full transfers meanwhile.
	journalGap map[string]bool

	// floor keeps the highest serial served per zone outside the
	// database (serialfloor.go); guarded by mu.
	floor *serialFloor

	api    atomic.Pointer[api.Server] // read by Ready from the ready plugin
	stopCh chan struct{}
	done   chan struct{}

	// xfer is the server block's transfer plugin, if any, for NOTIFY.
	xfer     atomic.Pointer[transfer.Transfer]
	notifier *notifier
}

// New returns an mcns instance for cfg serving inside blockZones.
func New(cfg config, blockZones []string) *MCNS {
	if cfg.recursion == nil {
		cfg.recursion = defaultRecursionNets
	}
	m := &MCNS{config: cfg, blockZones: blockZones, journalGap: map[string]bool{}}
	m.notifier = newNotifier(notifyDelay, m.sendNotify)
	for _, z := range blockZones {
		if z == "." {
			m.rootBlock = true
		}
	}
	return m
}

// ServeDNS implements plugin.Handler. Answers come from the current zone
// snapshot: from the generation's answer cache, or built by answer (file's
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
	zone := plugin.Zones(snap.names).Matches(qname)
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
	sz := snap.zones[zone]
	key := answerKey{name: qname, qtype: state.QType(), do: state.Do()}
	tmpl := sz.answers.get(key)
	if tmpl == nil {
		var cacheable bool
		tmpl, cacheable = answer(ctx, state, sz.z, zone, snap.names)
		if tmpl == nil {
			return dns.RcodeServerFailure, nil
		}
		if cacheable {
			sz.answers.put(key, tmpl)
		}
	}
	w.WriteMsg(replyTo(r, tmpl))
	return dns.RcodeSuccess, nil
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
