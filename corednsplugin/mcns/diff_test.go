package mcns

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/pkg/upstream"
	"github.com/miekg/dns"
)

// genZone writes a zone exercising every lookup path of the file plugin:
// wildcards at several depths, delegations with in- and out-of-bailiwick
// glue, CNAME chains (in zone, dangling, out of zone), empty non-terminals,
// DNAME, and a record of every common type. It returns the zone text and
// the names worth asking about.
func genZone(rng *rand.Rand, origin string, hosts int) (string, []string) {
	var b strings.Builder
	names := map[string]bool{}
	add := func(name, rest string) {
		fmt.Fprintf(&b, "%s %s\n", name, rest)
		names[name] = true
	}
	fmt.Fprintf(&b, "$ORIGIN %s\n$TTL 3600\n", origin)
	add("@", "IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300")
	add("@", "NS ns1")
	add("@", "NS ns2.example.net.")
	add("ns1", "A 192.0.2.1")
	add("ns1", "AAAA 2001:db8::1")
	add("@", "MX 10 mail")
	add("@", "MX 20 mail.example.net.")
	add("mail", "A 192.0.2.2")
	add("@", `TXT "v=spf1 -all"`)
	add("@", `CAA 0 issue "letsencrypt.org"`)
	add("@", `CAA 128 iodef "mailto:security@example.org"`)
	for i := 0; i < hosts; i++ {
		h := fmt.Sprintf("h%d", i)
		add(h, fmt.Sprintf("A 192.0.2.%d", 10+i%200))
		if i%2 == 0 {
			add(h, fmt.Sprintf("AAAA 2001:db8::%x", 10+i))
		}
		if i%3 == 0 {
			add(h, fmt.Sprintf(`TXT "host %d" "second string"`, i))
		}
		if i%5 == 0 {
			add(h, fmt.Sprintf("MX %d h%d", i%50, (i+1)%hosts))
		}
		if i%7 == 0 {
			add("_svc._tcp."+h, fmt.Sprintf("SRV %d %d %d h%d", i%10, i%20, 1000+i, (i+2)%hosts))
		}
		if i%11 == 0 {
			add(h, "SSHFP 1 1 0123456789abcdef0123456789abcdef01234567")
		}
		if i%13 == 0 {
			add(fmt.Sprintf("%d.rev", i), fmt.Sprintf("PTR h%d", i))
		}
	}
	// CNAME chains: in zone, dangling, out of zone, into a wildcard.
	add("c1", "CNAME h1")
	add("c2", "CNAME c1")
	add("c3", "CNAME c2")
	add("dangling", "CNAME nowhere")
	add("away", "CNAME www.example.net.")
	add("towild", "CNAME x.w1")
	add("loop1", "CNAME loop2")
	add("loop2", "CNAME loop1")
	// Wildcards.
	add("*.w1", "A 192.0.2.100")
	add("*.w1", `TXT "wild"`)
	add("*.a.w2", "AAAA 2001:db8::100")
	add("b.a.w2", "A 192.0.2.101") // sits beside the wildcard
	add("*.w3", "CNAME h2")
	add("*", "MX 5 mail")
	// Delegations with glue.
	add("sub", "NS ns.sub")
	add("sub", "NS ns.example.net.")
	add("ns.sub", "A 192.0.2.200")
	add("ns.sub", "AAAA 2001:db8::200")
	add("sub2", "NS ns1")
	add("deep.del", "NS ns.deep.del")
	add("ns.deep.del", "A 192.0.2.201")
	add("sub", "DS 12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF")
	// Empty non-terminals.
	add("a.b.c.ent", "A 192.0.2.150")
	add("x.y.ent2", "TXT \"deep\"")
	// DNAME.
	add("old", "DNAME w1."+origin)
	add("gone", "DNAME example.net.")
	// More types.
	add("naptr", `NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp.example.org.`)
	add("hinfo", `HINFO "PC" "Linux"`)
	add("loc", "LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m")
	add("_443._tcp.h1", "TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	add("svc", `HTTPS 1 . alpn="h2,h3"`)
	add("svc2", "SVCB 1 h1 port=8443")
	add("uri", `URI 10 1 "https://example.org/"`)
	add("rp", "RP hostmaster.example.org. h1.example.org.")
	var asks []string
	for n := range names {
		if n == "@" {
			asks = append(asks, origin)
			continue
		}
		asks = append(asks, n+"."+origin)
	}
	for _, n := range []string{"nx", "nx.h1", "x.w1", "y.x.w1", "b.a.w2", "c.a.w2", "z.c.a.w2", "q.w3", "anything",
		"host.sub", "ns.sub", "a.b.sub", "x.deep.del", "deep.del", "del", "b.c.ent", "c.ent", "ent", "y.ent2", "ent2",
		"x.old", "a.b.old", "x.gone", "rev", "_tcp.h1", "H1", "Mail"} {
		asks = append(asks, n+"."+origin)
	}
	sort.Strings(asks)
	rng.Shuffle(len(asks), func(i, j int) { asks[i], asks[j] = asks[j], asks[i] })
	return b.String(), asks
}

// normalize sorts every section, so equal answers compare equal.
func normalize(m *dns.Msg) string {
	sec := func(rrs []dns.RR) string {
		var s []string
		for _, rr := range rrs {
			if _, ok := rr.(*dns.OPT); ok {
				continue
			}
			s = append(s, rr.String())
		}
		sort.Strings(s)
		return strings.Join(s, "\n")
	}
	return fmt.Sprintf("rcode=%s aa=%v tc=%v\nANSWER\n%s\nAUTHORITY\n%s\nADDITIONAL\n%s",
		dns.RcodeToString[m.Rcode], m.Authoritative, m.Truncated, sec(m.Answer), sec(m.Ns), sec(m.Extra))
}

// capNegativeTTL applies to a file-plugin reply the one intended difference:
// an SOA in the authority section carries min(TTL, MINIMUM).
func capNegativeTTL(m *dns.Msg) bool {
	changed := false
	for i, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok && soa.Hdr.Ttl > soa.Minttl {
			c := *soa
			c.Hdr.Ttl = soa.Minttl
			m.Ns[i] = &c
			changed = true
		}
	}
	return changed
}

// withType is q asking for qtype instead.
func withType(q *dns.Msg, qtype uint16) *dns.Msg {
	c := q.Copy()
	c.Question[0].Qtype = qtype
	return c
}

// rfc8482 turns the file plugin's reply to a CNAME query into what RFC 8482
// expects for ANY: the CNAME RRset where there is one, otherwise, for a
// name owning records, one synthesized HINFO with the negative-caching TTL;
// NXDOMAIN, referrals and empty non-terminals (NODATA) unchanged.
func rfc8482(cnameReply, q *dns.Msg, ent bool) *dns.Msg {
	r := cnameReply
	r.Question = q.Question
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) > 0 || !r.Authoritative || ent {
		return r
	}
	ttl := uint32(0)
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			ttl = min(soa.Hdr.Ttl, soa.Minttl)
		}
	}
	r.Answer = []dns.RR{&dns.HINFO{Hdr: dns.RR_Header{Name: strings.ToLower(q.Question[0].Name), Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: ttl}, Cpu: "RFC8482"}}
	r.Ns = nil
	var extra []dns.RR
	for _, rr := range r.Extra {
		if rr.Header().Rrtype == dns.TypeOPT {
			extra = append(extra, rr)
		}
	}
	r.Extra = extra
	return r
}

// isEmptyNonTerminal reports whether name owns nothing in its zone of fz but
// has names below it (found by scanning every owner).
func isEmptyNonTerminal(fz file.Zones, name string) bool {
	origin := plugin.Zones(fz.Names).Matches(name)
	if origin == "" {
		return false
	}
	name = strings.ToLower(name)
	below := false
	for _, e := range fz.Z[origin].All() {
		if e.Name() == name {
			return false
		}
		below = below || dns.IsSubDomain(name, e.Name())
	}
	return below
}

// packed is m on the wire with a fixed ID.
func packed(t *testing.T, m *dns.Msg) []byte {
	t.Helper()
	m.Id = 1
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDifferentialAgainstFilePlugin(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	dir := t.TempDir()
	type zoneSrc struct{ origin, text string }
	var zones []zoneSrc
	var asks []string
	for _, origin := range []string{"diff.test.", "inner.diff.test."} {
		text, names := genZone(rng, origin, 60)
		zones = append(zones, zoneSrc{origin, text})
		asks = append(asks, names...)
	}
	root := repoRoot(t)
	for _, f := range []string{"mcp.metacircular.net", "svc.mcp.metacircular.net"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "zones", f+".zone"))
		if err != nil {
			t.Fatal(err)
		}
		zones = append(zones, zoneSrc{f + ".", string(b)})
		for _, n := range []string{"rift", "ns", "metacrypt", "mcr", "sgard", "mcp-agent", "nx", "svc"} {
			asks = append(asks, n+"."+f+".")
		}
		asks = append(asks, f+".")
	}
	asks = append(asks, "example.com.", "test.", "diff.test.evil.")

	fz := file.Zones{Z: map[string]*file.Zone{}}
	var seeds []string
	for i, z := range zones {
		path := filepath.Join(dir, fmt.Sprintf("z%d.zone", i))
		if err := os.WriteFile(path, []byte(z.text), 0o600); err != nil {
			t.Fatal(err)
		}
		seeds = append(seeds, path)
		parsed, err := file.Parse(strings.NewReader(z.text), z.origin, path, 0)
		if err != nil {
			t.Fatal(err)
		}
		parsed.Upstream = upstream.New()
		fz.Z[z.origin] = parsed
		fz.Names = append(fz.Names, z.origin)
	}
	fp := file.File{Next: nextHandler(), Zones: fz}
	m := startMCNS(t, []string{"."}, seeds...)
	// The same data without the answer cache: every reply built afresh.
	uncached := startWith(t, config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: seeds, refresh: time.Second, answerCache: -1}, []string{"."})

	qtypes := []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeMX, dns.TypeTXT, dns.TypeNS, dns.TypeSOA, dns.TypeCNAME,
		dns.TypeSRV, dns.TypeCAA, dns.TypePTR, dns.TypeDNAME, dns.TypeDS, dns.TypeSSHFP, dns.TypeNAPTR,
		dns.TypeHINFO, dns.TypeLOC, dns.TypeTLSA, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeURI, dns.TypeRP, dns.TypeANY, 65280}
	queries, capped := 0, 0
	for _, name := range asks {
		for _, qt := range qtypes {
			q := new(dns.Msg).SetQuestion(name, qt)
			if rng.Intn(4) == 0 {
				q.SetEdns0(1232, rng.Intn(2) == 0)
			}
			var want *dns.Msg
			if qt == dns.TypeANY {
				want = rfc8482(ask(t, fp, withType(q, dns.TypeCNAME)), q, isEmptyNonTerminal(fz, name))
			} else {
				want = ask(t, fp, q.Copy())
			}
			// The one other intended difference: owner names equal to the
			// question's name come back in its case (0x20).
			// (The file plugin's slices are its zone's own: copy first.)
			want.Answer = append([]dns.RR(nil), want.Answer...)
			for i, rr := range want.Answer {
				if strings.EqualFold(rr.Header().Name, name) && rr.Header().Name != name {
					c := dns.Copy(rr)
					c.Header().Name = name
					want.Answer[i] = c
				}
			}
			got := ask(t, m, q.Copy())
			// Asked again, the reply comes from the answer cache; it must
			// be byte for byte what the uncached path sends.
			if again, fresh := packed(t, ask(t, m, q.Copy())), packed(t, ask(t, uncached, q.Copy())); !bytes.Equal(again, fresh) {
				t.Fatalf("%s %s: cached reply differs from the uncached one\ncached:\n%v\nuncached:\n%v", name, dns.TypeToString[qt], ask(t, m, q.Copy()), ask(t, uncached, q.Copy()))
			}
			if capNegativeTTL(want) {
				capped++
			}
			queries++
			if w, g := normalize(want), normalize(got); w != g {
				t.Fatalf("%s %s differs\nfile:\n%s\nmcns:\n%s", name, dns.TypeToString[qt], w, g)
			}
		}
	}
	if queries < 2000 || capped == 0 {
		t.Fatalf("%d queries, %d negative answers: the comparison is too thin", queries, capped)
	}
	t.Logf("%d queries identical; %d negative answers differ only in the SOA TTL (RFC 2308 §3)", queries, capped)
}
