// Package mcns is a CoreDNS plugin that serves authoritative zones kept in
// SQLite, in PowerDNS's gsqlite3 layout.
package mcns

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/file"
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

	api    *api.Server
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
// snapshot through CoreDNS's file.Zone lookup, so AA, NXDOMAIN/NODATA,
// CNAME chasing, wildcards, delegations with glue, empty non-terminals and
// DNAME behave exactly as with the file plugin.
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
	z := snap.zones[zone].z

	answer, ns, extra, result := z.Lookup(ctx, state, qname)

	msg := new(dns.Msg)
	msg.SetReply(r)
	msg.Authoritative = true
	msg.Answer, msg.Ns, msg.Extra = answer, ns, extra
	switch result {
	case file.NameError:
		msg.Rcode = dns.RcodeNameError
	case file.Delegation:
		// A referral is not authoritative; an in-zone alias leading to
		// it keeps AA for the original name.
		if len(msg.Answer) == 0 {
			msg.Authoritative = false
		}
	case file.ServerFailure:
		// Non-empty: a CNAME whose out-of-zone target failed to resolve;
		// send the CNAME with the target's rcode (RFC 6604 §3).
		if len(msg.Answer) == 0 {
			return dns.RcodeServerFailure, nil
		}
		msg.Rcode = dns.RcodeServerFailure
	}
	if result != file.Delegation {
		msg.Ns = negativeSOA(msg.Ns)
	}
	w.WriteMsg(msg)
	return dns.RcodeSuccess, nil
}

// next passes a query for a name outside mcns's zones on (to cache and
// forward) if the client may recurse, and refuses it otherwise.
func (m *MCNS) next(ctx context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
	if !m.config.recursion.allows(w.RemoteAddr()) {
		refuseRecursion(w, r)
		return dns.RcodeSuccess, nil
	}
	return plugin.NextOrFailure(m.Name(), m.Next, ctx, w, r)
}

// negativeSOA caps the TTL of an SOA in the authority section, present only
// in negative answers, at the SOA's MINIMUM: RFC 2308 §3 makes the
// negative-caching TTL the lesser of the two. The zone's own SOA record is
// shared with other queries, so a changed one is a copy.
func negativeSOA(ns []dns.RR) []dns.RR {
	for i, rr := range ns {
		soa, ok := rr.(*dns.SOA)
		if !ok || soa.Hdr.Ttl <= soa.Minttl {
			continue
		}
		out := make([]dns.RR, len(ns))
		copy(out, ns)
		c := *soa
		c.Hdr.Ttl = soa.Minttl
		out[i] = &c
		return out
	}
	return ns
}

// Name implements plugin.Handler.
func (m *MCNS) Name() string { return pluginName }

// Ready implements the ready plugin's Readiness: true once the first
// snapshot of the database is loaded.
func (m *MCNS) Ready() bool { return m.ready.Load() }

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
