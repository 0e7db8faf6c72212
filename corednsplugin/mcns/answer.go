package mcns

import (
	"context"
	"strings"

	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// answer builds the reply to a query for a name in zone from the zone's
// file.Zone lookup, so AA, NXDOMAIN/NODATA, CNAME chasing, wildcards,
// delegations with glue, empty non-terminals and DNAME behave as with the
// file plugin. The reply is a template for every query with the same
// answerKey (see answercache.go): replyTo fills in the per-query header.
// cacheable is false when the reply depends on more than the zone's data
// (an out-of-zone CNAME target resolved through the server) or would let
// random names grow the cache (NXDOMAIN). A nil reply means SERVFAIL.
func answer(ctx context.Context, state request.Request, z *file.Zone, zone string, snap *snapshot) (reply *dns.Msg, cacheable bool) {
	qname, qtype := state.Name(), state.QType()
	if qtype == dns.TypeANY {
		return answerANY(ctx, state, z, zone, snap)
	}
	ans, ns, extra, result := z.Lookup(ctx, state, qname)
	msg := new(dns.Msg)
	msg.SetReply(state.Req)
	msg.Authoritative = true
	msg.Answer, msg.Ns, msg.Extra = ans, ns, extra
	cacheable = true
	switch result {
	case file.NameError:
		msg.Rcode = dns.RcodeNameError
		cacheable = false
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
			return nil, false
		}
		msg.Rcode = dns.RcodeServerFailure
		cacheable = false
	}
	if result != file.Delegation {
		msg.Ns = negativeSOA(msg.Ns)
	}
	return msg, cacheable && onlyThisZone(msg.Answer, zone, snap)
}

// onlyThisZone reports whether an answer comes from zone's data alone: no
// record owned, and no CNAME pointing, outside it. A CNAME target elsewhere
// was resolved through the server (as the file plugin does), so the reply
// depends on other data and on who asked (recursion_allow); one in a zone
// nested below this one without a delegation comes from that zone's own
// generation. Either may change while this zone's generation stays.
func onlyThisZone(rrs []dns.RR, zone string, snap *snapshot) bool {
	for _, rr := range rrs {
		if !inZone(rr.Header().Name, zone, snap) {
			return false
		}
		if c, ok := rr.(*dns.CNAME); ok && !inZone(c.Target, zone, snap) {
			return false
		}
	}
	return true
}

// inZone reports whether zone is the served zone holding name. Owner
// names and targets keep the case they were stored in, which zoneOf's
// exact map lookups would miss; they are lower cased first, which copies
// only the rare name that is not lower case already.
func inZone(name, zone string, snap *snapshot) bool {
	if hasUpper(name) {
		name = strings.ToLower(name)
	}
	return snap.zoneOf(dns.Fqdn(name)) == zone
}

// hinfoRFC8482 is the RDATA RFC 8482 §4.2 suggests for a synthesized
// answer to ANY.
const hinfoRFC8482 = "RFC8482"

// answerANY answers qtype ANY as RFC 8482 has it, over UDP and TCP alike:
// never the empty NODATA the file plugin sends, and never every RRset of
// the name (the amplification ANY is abused for). A CNAME at the name is
// sent as the one RRset; a name with other data gets a synthesized HINFO
// "RFC8482" with the negative-caching TTL; missing names and delegations
// are answered as for any other type.
func answerANY(ctx context.Context, state request.Request, z *file.Zone, zone string, snap *snapshot) (*dns.Msg, bool) {
	q := state.Req.Question[0]
	probe := *state.Req
	probe.Question = []dns.Question{{Name: q.Name, Qtype: dns.TypeCNAME, Qclass: q.Qclass}}
	msg, cacheable := answer(ctx, request.Request{W: state.W, Req: &probe}, z, zone, snap)
	if msg == nil {
		return nil, false
	}
	msg.Question = []dns.Question{q}
	if msg.Rcode != dns.RcodeSuccess || len(msg.Answer) > 0 || !msg.Authoritative || emptyNonTerminal(z, state.Name()) {
		// An empty non-terminal owns nothing: NODATA, as for any type.
		return msg, cacheable
	}
	ttl := z.SOA.Minttl
	if z.SOA.Hdr.Ttl < ttl {
		ttl = z.SOA.Hdr.Ttl
	}
	msg.Answer = []dns.RR{&dns.HINFO{
		Hdr: dns.RR_Header{Name: state.Name(), Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: ttl},
		Cpu: hinfoRFC8482,
	}}
	msg.Ns, msg.Extra = nil, nil
	return msg, cacheable
}

// emptyNonTerminal reports whether qname exists in z only as the parent of
// other names. In the zone's canonical order a name's descendants follow it
// directly.
func emptyNonTerminal(z *file.Zone, qname string) bool {
	if _, ok := z.Search(qname); ok {
		return false
	}
	next, ok := z.Next(qname)
	return ok && next.Name() != qname && dns.IsSubDomain(qname, next.Name())
}

// replyTo is the reply to r from a template built for the same answerKey:
// r's ID, RD and CD bits and question, the template's sections. The
// template's slices are shared with every reply, so they are clipped: a
// writer appending (an OPT record) gets its own array. Owner names equal to
// the question's name are sent in the question's case, as NSD and Knot do,
// for resolvers checking 0x20 case randomisation. (Compression is the
// server's call: CoreDNS's ScrubWriter turns it off for every reply that
// fits the client's buffer uncompressed.)
func replyTo(r, template *dns.Msg) *dns.Msg {
	m := &dns.Msg{
		MsgHdr:   template.MsgHdr,
		Question: r.Question[:1:1],
		Answer:   template.Answer[:len(template.Answer):len(template.Answer)],
		Ns:       template.Ns[:len(template.Ns):len(template.Ns)],
		Extra:    template.Extra[:len(template.Extra):len(template.Extra)],
	}
	m.Id = r.Id
	m.RecursionDesired = r.RecursionDesired
	m.CheckingDisabled = r.CheckingDisabled
	if qname := r.Question[0].Name; hasUpper(qname) {
		m.Answer = echoCase(m.Answer, qname)
	}
	return m
}

// echoCase returns rrs with the owner names that equal qname but for case
// written as qname; the records themselves are shared, so those are copies.
func echoCase(rrs []dns.RR, qname string) []dns.RR {
	var out []dns.RR
	for i, rr := range rrs {
		if rr.Header().Name == qname || !strings.EqualFold(rr.Header().Name, qname) {
			continue
		}
		if out == nil {
			out = make([]dns.RR, len(rrs))
			copy(out, rrs)
		}
		c := dns.Copy(rr)
		c.Header().Name = qname
		out[i] = c
	}
	if out == nil {
		return rrs
	}
	return out
}

func hasUpper(s string) bool {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			return true
		}
	}
	return false
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
