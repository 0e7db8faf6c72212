package mcns

import (
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

const exampleOrg = `$ORIGIN example.org.
$TTL 3600
@         IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300
@         NS    ns1
ns1       A     192.0.2.1
www       A     192.0.2.10
www       AAAA  2001:db8::10
alias     CNAME www
chain     CNAME alias
outside   CNAME www.example.net.
@         MX    10 mail
mail      A     192.0.2.20
@         TXT   "v=spf1 -all"
_sip._tcp SRV   10 20 5060 sip
sip       A     192.0.2.30
@         CAA   0 issue "letsencrypt.org"
*.wild    A     192.0.2.40
*.wild    TXT   "wild"
sub       NS    ns.sub
ns.sub    A     192.0.2.50
a.b.ent   A     192.0.2.60
old       DNAME wild.example.org.
`

const reverseZone = `$ORIGIN 2.0.192.in-addr.arpa.
$TTL 3600
@  IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 600
@  NS  ns1.example.org.
10 PTR www.example.org.
`

// negSOA is example.org's SOA as negative answers carry it: TTL capped at
// MINIMUM (300) per RFC 2308 §3, where the file plugin sends 3600.
func negSOA() dns.RR {
	return test.SOA("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300")
}

var serveCases = []test.Case{
	{Qname: "www.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Answer: []dns.RR{test.A("www.example.org. 3600 IN A 192.0.2.10")}},
	// A mixed-case (0x20) question: the owner name comes back in its case,
	// as NSD and Knot send it.
	{Qname: "WWW.Example.ORG.", Qtype: dns.TypeAAAA, Authoritative: true,
		Answer: []dns.RR{test.AAAA("WWW.Example.ORG. 3600 IN AAAA 2001:db8::10")}},
	// NODATA: NOERROR, empty answer, SOA with the negative TTL.
	{Qname: "www.example.org.", Qtype: dns.TypeMX, Authoritative: true,
		Ns: []dns.RR{negSOA()}},
	// NXDOMAIN.
	{Qname: "nope.example.org.", Qtype: dns.TypeA, Authoritative: true, Rcode: dns.RcodeNameError,
		Ns: []dns.RR{negSOA()}},
	// Empty non-terminals are NODATA, not NXDOMAIN.
	{Qname: "b.ent.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Ns: []dns.RR{negSOA()}},
	{Qname: "ent.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Ns: []dns.RR{negSOA()}},
	{Qname: "a.b.ent.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Answer: []dns.RR{test.A("a.b.ent.example.org. 3600 IN A 192.0.2.60")}},
	// In-zone CNAME chains are chased.
	{Qname: "chain.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Answer: []dns.RR{
			test.CNAME("alias.example.org. 3600 IN CNAME www.example.org."),
			test.CNAME("chain.example.org. 3600 IN CNAME alias.example.org."),
			test.A("www.example.org. 3600 IN A 192.0.2.10"),
		}},
	{Qname: "alias.example.org.", Qtype: dns.TypeCNAME, Authoritative: true,
		Answer: []dns.RR{test.CNAME("alias.example.org. 3600 IN CNAME www.example.org.")}},
	// Wildcards (RFC 4592): synthesized, NODATA for a missing type, and a
	// name below an existing one is not covered.
	{Qname: "x.wild.example.org.", Qtype: dns.TypeA, Authoritative: true,
		Answer: []dns.RR{test.A("x.wild.example.org. 3600 IN A 192.0.2.40")}},
	{Qname: "y.x.wild.example.org.", Qtype: dns.TypeTXT, Authoritative: true,
		Answer: []dns.RR{test.TXT(`y.x.wild.example.org. 3600 IN TXT "wild"`)}},
	{Qname: "x.wild.example.org.", Qtype: dns.TypeAAAA, Authoritative: true,
		Ns: []dns.RR{negSOA()}},
	// Delegation: referral without AA, glue in additional.
	{Qname: "host.sub.example.org.", Qtype: dns.TypeA,
		Ns:    []dns.RR{test.NS("sub.example.org. 3600 IN NS ns.sub.example.org.")},
		Extra: []dns.RR{test.A("ns.sub.example.org. 3600 IN A 192.0.2.50")}},
	{Qname: "sub.example.org.", Qtype: dns.TypeNS,
		Ns:    []dns.RR{test.NS("sub.example.org. 3600 IN NS ns.sub.example.org.")},
		Extra: []dns.RR{test.A("ns.sub.example.org. 3600 IN A 192.0.2.50")}},
	// DNAME (RFC 6672): the DNAME plus a synthesized CNAME. The file
	// plugin resolves the CNAME's target through the running server
	// (upstream), which an in-process test does not have: SERVFAIL with
	// the DNAME and CNAME, as RFC 6604 §3 asks.
	{Qname: "host.old.example.org.", Qtype: dns.TypeA, Authoritative: true, Rcode: dns.RcodeServerFailure,
		Answer: []dns.RR{
			test.CNAME("host.old.example.org. 3600 IN CNAME host.wild.example.org."),
			test.DNAME("old.example.org. 3600 IN DNAME wild.example.org."),
		}},
	{Qname: "old.example.org.", Qtype: dns.TypeDNAME, Authoritative: true,
		Answer: []dns.RR{test.DNAME("old.example.org. 3600 IN DNAME wild.example.org.")}},
	// Types.
	{Qname: "example.org.", Qtype: dns.TypeMX, Authoritative: true,
		Answer: []dns.RR{test.MX("example.org. 3600 IN MX 10 mail.example.org.")},
		Extra:  []dns.RR{test.A("mail.example.org. 3600 IN A 192.0.2.20")}},
	{Qname: "_sip._tcp.example.org.", Qtype: dns.TypeSRV, Authoritative: true,
		Answer: []dns.RR{test.SRV("_sip._tcp.example.org. 3600 IN SRV 10 20 5060 sip.example.org.")},
		Extra:  []dns.RR{test.A("sip.example.org. 3600 IN A 192.0.2.30")}},
	{Qname: "example.org.", Qtype: dns.TypeTXT, Authoritative: true,
		Answer: []dns.RR{test.TXT(`example.org. 3600 IN TXT "v=spf1 -all"`)}},
	{Qname: "example.org.", Qtype: dns.TypeCAA, Authoritative: true,
		Answer: []dns.RR{test.CAA(`example.org. 3600 IN CAA 0 issue "letsencrypt.org"`)}},
	{Qname: "example.org.", Qtype: dns.TypeSOA, Authoritative: true,
		Answer: []dns.RR{test.SOA("example.org. 3600 IN SOA ns1.example.org. hostmaster.example.org. 2024010101 7200 3600 1209600 300")},
		Ns:     []dns.RR{test.NS("example.org. 3600 IN NS ns1.example.org.")}},
	{Qname: "example.org.", Qtype: dns.TypeNS, Authoritative: true,
		Answer: []dns.RR{test.NS("example.org. 3600 IN NS ns1.example.org.")},
		Extra:  []dns.RR{test.A("ns1.example.org. 3600 IN A 192.0.2.1")}},
	{Qname: "10.2.0.192.in-addr.arpa.", Qtype: dns.TypePTR, Authoritative: true,
		Answer: []dns.RR{test.PTR("10.2.0.192.in-addr.arpa. 3600 IN PTR www.example.org.")}},
	// SOA TTL already at or below MINIMUM stays: min(3600, 600) = 600.
	{Qname: "9.2.0.192.in-addr.arpa.", Qtype: dns.TypePTR, Authoritative: true, Rcode: dns.RcodeNameError,
		Ns: []dns.RR{test.SOA("2.0.192.in-addr.arpa. 600 IN SOA ns1.example.org. hostmaster.example.org. 1 7200 3600 1209600 600")}},
}

// withApexNS adds the apex NS set the file plugin's lookup puts in the
// authority section of positive answers.
func withApexNS(tc test.Case) test.Case {
	if tc.Ns != nil || len(tc.Answer) == 0 || tc.Qtype == dns.TypeNS {
		return tc
	}
	if dns.IsSubDomain("2.0.192.in-addr.arpa.", tc.Qname) {
		tc.Ns = []dns.RR{test.NS("2.0.192.in-addr.arpa. 3600 IN NS ns1.example.org.")}
	} else {
		tc.Ns = []dns.RR{test.NS("example.org. 3600 IN NS ns1.example.org.")}
	}
	return tc
}

func TestServe(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg, reverseZone)...)
	for _, tc := range serveCases {
		tc = withApexNS(tc)
		resp := ask(t, m, tc.Msg())
		if err := test.SortAndCheck(resp, tc); err != nil {
			t.Errorf("%s %s: %v\n%v", tc.Qname, dns.TypeToString[tc.Qtype], err, resp)
		}
	}
}

func TestPassesOtherNamesOn(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	for _, q := range []string{"example.com.", "org.", "example.org.evil.", "."} {
		resp := ask(t, m, new(dns.Msg).SetQuestion(q, dns.TypeA))
		if resp.Rcode != nextMarker {
			t.Errorf("%s: rcode %s, want it passed to the next plugin", q, dns.RcodeToString[resp.Rcode])
		}
	}
}

func TestBlockZonesIntersect(t *testing.T) {
	// The block names example.org and example.com; the database holds
	// example.org and the reverse zone: only example.org is answered.
	m := startMCNS(t, []string{"example.org.", "example.com."}, writeZones(t, exampleOrg, reverseZone)...)
	if resp := ask(t, m, new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)); len(resp.Answer) != 1 || !resp.Authoritative {
		t.Fatalf("in both: %v", resp)
	}
	for _, q := range []string{"www.example.com.", "10.2.0.192.in-addr.arpa."} {
		if resp := ask(t, m, new(dns.Msg).SetQuestion(q, dns.TypeA)); resp.Rcode != nextMarker {
			t.Errorf("%s: rcode %s, want it passed on", q, dns.RcodeToString[resp.Rcode])
		}
	}
	got := m.CacheBypassZones()
	if len(got) != 2 || got[0] != "example.org." {
		t.Fatalf("CacheBypassZones = %v", got)
	}
}

func TestExampleZones(t *testing.T) {
	root := repoRoot(t)
	m := startMCNS(t, []string{"."},
		root+"/examples/zones/mcp.metacircular.net.zone", root+"/examples/zones/svc.mcp.metacircular.net.zone")
	for _, name := range []string{"rift.mcp.metacircular.net.", "ns.mcp.metacircular.net.",
		"metacrypt.svc.mcp.metacircular.net.", "mcr.svc.mcp.metacircular.net.",
		"sgard.svc.mcp.metacircular.net.", "mcp-agent.svc.mcp.metacircular.net."} {
		tc := test.Case{Qname: name, Qtype: dns.TypeA, Authoritative: true, Answer: []dns.RR{
			test.A(name + " 300 IN A 100.95.252.120"), test.A(name + " 300 IN A 192.168.88.181"),
		}, Ns: []dns.RR{test.NS(zoneOf(name) + " 300 IN NS ns.mcp.metacircular.net.")}}
		if err := test.SortAndCheck(ask(t, m, tc.Msg()), tc); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if got := m.CacheBypassZones(); len(got) != 2 {
		t.Fatalf("zones %v", got)
	}
	if !m.Ready() {
		t.Fatal("not ready after start")
	}
}

func zoneOf(name string) string {
	if dns.IsSubDomain("svc.mcp.metacircular.net.", name) {
		return "svc.mcp.metacircular.net."
	}
	return "mcp.metacircular.net."
}

func TestOddQueries(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	axfr := new(dns.Msg).SetQuestion("example.org.", dns.TypeAXFR)
	if resp := ask(t, m, axfr); resp.Rcode != dns.RcodeRefused {
		t.Errorf("AXFR: %s", dns.RcodeToString[resp.Rcode])
	}
	upd := new(dns.Msg).SetUpdate("example.org.")
	if resp := ask(t, m, upd); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("UPDATE: %s", dns.RcodeToString[resp.Rcode])
	}
	noq := new(dns.Msg)
	noq.Id = 1
	if resp := ask(t, m, noq); resp.Rcode != nextMarker {
		t.Errorf("no question: %s", dns.RcodeToString[resp.Rcode])
	}
	// Every class and a maximum-length name: no panic, an answer.
	long := ""
	for len(long) < 240 {
		long += "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghi."
	}
	long = long[:250-len("example.org.")] + ".example.org."
	for c := uint16(0); c < 260; c++ {
		r := new(dns.Msg)
		r.Question = []dns.Question{{Name: "www.example.org.", Qtype: dns.TypeA, Qclass: c}}
		ask(t, m, r)
	}
	// EDNS oddities: tiny and huge buffer sizes, DO, an unknown version,
	// unknown options, two OPT records.
	for _, size := range []uint16{0, 1, 512, 4096, 65535} {
		r := new(dns.Msg).SetQuestion("nope.example.org.", dns.TypeA)
		r.SetEdns0(size, true)
		opt := r.IsEdns0()
		opt.SetVersion(1)
		opt.Option = append(opt.Option, &dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}}, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0123456789abcdef"})
		r.Extra = append(r.Extra, dns.Copy(opt))
		if resp := ask(t, m, r); resp.Rcode != dns.RcodeNameError {
			t.Errorf("EDNS size %d: %s", size, dns.RcodeToString[resp.Rcode])
		}
	}
	for typ := uint16(0); typ < 300; typ++ {
		ask(t, m, new(dns.Msg).SetQuestion("www.example.org.", typ))
		ask(t, m, new(dns.Msg).SetQuestion("x.wild.example.org.", typ))
		ask(t, m, new(dns.Msg).SetQuestion(dns.Fqdn(long), typ))
	}
}
