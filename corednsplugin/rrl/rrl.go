// Package rrl is a CoreDNS plugin for response rate limiting (RRL): it
// limits the UDP responses sent to each client network, per kind of
// response and name, so that the server cannot be used to reflect and
// amplify traffic towards a spoofed source address.
package rrl

import (
	"context"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/metrics"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// RRL is the plugin.Handler.
type RRL struct {
	Next  plugin.Handler
	zones plugin.Zones
	cfg   config

	limits [numCategories]limits
	seed   maphash.Seed
	table  *table
	// epoch anchors the limiter's monotonic clock; now returns nanoseconds
	// since it (tests replace it).
	epoch time.Time
	now   func() int64
	// lastLog is the clock value of the last "limiting" log line, which
	// are at most one per second.
	lastLog atomic.Int64

	mu       sync.Mutex                                 // serialises additions to counters
	counters atomic.Pointer[map[string]*serverCounters] // by server label
	used     atomic.Int64                               // accounts in use, for the table gauge
}

// New returns the handler for cfg, limiting responses for names in zones.
func New(cfg config, zones []string) *RRL {
	r := &RRL{
		zones: plugin.Zones(zones),
		cfg:   cfg,
		seed:  maphash.MakeSeed(),
		table: newTable(cfg.maxTableSize),
		epoch: time.Now(),
	}
	r.counters.Store(&map[string]*serverCounters{})
	r.now = func() int64 { return int64(time.Since(r.epoch)) }
	for c := range numCategories {
		r.limits[c] = newLimits(cfg.rates[c], cfg.window)
	}
	r.lastLog.Store(-int64(time.Hour))
	return r
}

// Name implements plugin.Handler.
func (r *RRL) Name() string { return pluginName }

// ServeDNS implements plugin.Handler. Responses to UDP clients outside the
// exempt networks, for names in the plugin's zones, go through a writer
// that applies the limits to whatever the rest of the chain answers.
func (r *RRL) ServeDNS(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) (int, error) {
	ua, ok := udpAddr(w.RemoteAddr())
	if !ok || len(req.Question) == 0 || r.exempt(ua.IP) || r.zones.Matches(req.Question[0].Name) == "" {
		return plugin.NextOrFailure(r.Name(), r.Next, ctx, w, req)
	}
	// One writer per query, never pooled: a plugin may still hold it after
	// the chain returns (a goroutine of cache's serve_stale, say), and a
	// reused writer would then answer another client.
	lw := &writer{ResponseWriter: w, rrl: r, ctx: ctx, req: req, ip: ua.IP}
	rc, err := plugin.NextOrFailure(r.Name(), r.Next, ctx, lw, req)
	if !lw.wrote && !plugin.ClientWrite(rc) {
		// The chain left the reply to the server (errorFunc in CoreDNS's
		// dnsserver). Write that same reply here so it is limited too, and
		// tell the server it has been written.
		m := new(dns.Msg)
		m.SetRcode(req, rc)
		state := request.Request{W: w, Req: req}
		state.SizeAndDo(m)
		lw.WriteMsg(m)
		rc = dns.RcodeSuccess
	}
	return rc, err
}

// udpAddr returns a's UDP address, looking through wrappers such as the
// PROXY protocol's as CoreDNS's request.Proto does.
func udpAddr(a net.Addr) (*net.UDPAddr, bool) {
	if u, ok := a.(interface{ Unwrap() net.Addr }); ok {
		if inner := u.Unwrap(); inner != nil {
			a = inner
		}
	}
	ua, ok := a.(*net.UDPAddr)
	return ua, ok && ua != nil
}

func (r *RRL) exempt(ip net.IP) bool {
	return len(r.cfg.exempt) > 0 && r.cfg.exempt.ContainsIP(ip)
}

// decide accounts for response m to req from ip and says what to send.
func (r *RRL) decide(ctx context.Context, ip net.IP, req, m *dns.Msg) verdict {
	var qname string
	var qtype uint16
	if len(req.Question) > 0 {
		qname, qtype = req.Question[0].Name, req.Question[0].Qtype
	}
	cat, name := classify(m, qname)
	lim := r.limits[cat]
	if lim.interval == 0 {
		return allow
	}
	v6 := false
	if ip4 := ip.To4(); ip4 != nil {
		ip = ip4
	} else {
		v6 = true
	}
	bits := r.cfg.ipv4Bits
	if v6 {
		bits = r.cfg.ipv6Bits
	}
	key := keyOf(r.seed, cat, ip, v6, bits, qtype, name)
	now := r.now()
	v, started, added, evicted := r.table.check(key, lim, uint32(r.cfg.slip), now)
	switch {
	case added:
		r.used.Add(1)
		tableEntries.Inc()
	case evicted:
		tableEvictions.Inc()
	}
	if v == allow {
		return allow
	}
	sc := r.serverCounters(metrics.WithServer(ctx))
	if started {
		r.logStart(now, ip, bits, cat, name, qtype)
	}
	if r.cfg.reportOnly {
		sc.wouldLimit[cat].Inc()
		return allow
	}
	if v == slip {
		sc.slipped[cat].Inc()
	} else {
		sc.dropped[cat].Inc()
	}
	return v
}

// logStart logs that responses to a client network began to be limited, at
// most once a second so that a spoofed flood cannot flood the log too.
func (r *RRL) logStart(now int64, ip net.IP, bits int, cat category, name string, qtype uint16) {
	last := r.lastLog.Load()
	if now-last < int64(time.Second) || !r.lastLog.CompareAndSwap(last, now) {
		return
	}
	a, _ := netip.AddrFromSlice(ip)
	p, _ := a.Prefix(bits)
	what := "would limit"
	if !r.cfg.reportOnly {
		what = "limiting"
	}
	switch cat {
	case catResponse:
		log.Infof("%s responses to %s: %s %s %s", what, p, cat, name, dns.Type(qtype))
	case catError:
		log.Infof("%s responses to %s: %s", what, p, cat)
	default:
		log.Infof("%s responses to %s: %s %s", what, p, cat, name)
	}
}

// truncated is the reply sent in place of a slipped response: the header
// with TC set and the question, nothing else but a bare OPT record when the
// response had one (RFC 6891 §7 asks for it whenever the query had one).
func truncated(m *dns.Msg) *dns.Msg {
	t := new(dns.Msg)
	t.MsgHdr = m.MsgHdr
	t.Truncated = true
	t.Question = m.Question
	if opt := m.IsEdns0(); opt != nil {
		o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: opt.Hdr.Class, Ttl: opt.Hdr.Ttl}}
		t.Extra = []dns.RR{o}
	}
	return t
}

// writer applies the limits to the responses written through it.
type writer struct {
	dns.ResponseWriter
	rrl   *RRL
	ctx   context.Context
	req   *dns.Msg
	ip    net.IP
	wrote bool
}

// WriteMsg implements dns.ResponseWriter.
func (w *writer) WriteMsg(m *dns.Msg) error {
	w.wrote = true
	switch w.rrl.decide(w.ctx, w.ip, w.req, m) {
	case drop:
		return nil
	case slip:
		return w.ResponseWriter.WriteMsg(truncated(m))
	}
	return w.ResponseWriter.WriteMsg(m)
}

// Write implements dns.ResponseWriter for plugins that write packed
// messages. A packet that does not unpack is counted as an error and, as
// there is no header to echo, dropped rather than slipped when limited.
func (w *writer) Write(b []byte) (int, error) {
	w.wrote = true
	m := new(dns.Msg)
	ok := m.Unpack(b) == nil
	if !ok {
		m = &dns.Msg{MsgHdr: dns.MsgHdr{Rcode: dns.RcodeServerFailure}}
	}
	switch v := w.rrl.decide(w.ctx, w.ip, w.req, m); {
	case v == drop, v == slip && !ok:
		return len(b), nil
	case v == slip:
		if err := w.ResponseWriter.WriteMsg(truncated(m)); err != nil {
			return 0, err
		}
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}
