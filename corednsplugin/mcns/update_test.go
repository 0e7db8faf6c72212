package mcns

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	_ "github.com/coredns/coredns/plugin/tsig" // registers the tsig directive
)

const (
	updateKey = "update-key."
	otherKey  = "other-key."
)

// updateChain is the tsig plugin in front of an mcns instance serving
// example.org and the reverse zone, where updateKey may UPDATE example.org
// and otherKey only the reverse zone. test.ResponseWriter reports every
// signature as valid, so a signed request stands for a validated one.
func updateChain(t *testing.T) (plugin.Handler, *MCNS) { return updateChainTB(t) }

func updateChainTB(t testing.TB) (plugin.Handler, *MCNS) {
	t.Helper()
	c := caddy.NewTestController("dns", "tsig . {\n secret "+updateKey+" c2VjcmV0c2VjcmV0c2VjcmV0\n secret "+otherKey+" b3RoZXJvdGhlcm90aGVy\n}")
	setupTsig, err := caddy.DirectiveAction("dns", "tsig")
	if err != nil {
		t.Fatal(err)
	}
	if err := setupTsig(c); err != nil {
		t.Fatal(err)
	}
	cfg := config{
		dbPath:  filepath.Join(t.TempDir(), "mcns.db"),
		seeds:   writeZones(t, exampleOrg, reverseZone),
		refresh: time.Second,
		updates: map[string]map[string]bool{
			"example.org.":          {updateKey: true},
			"2.0.192.in-addr.arpa.": {otherKey: true},
		},
	}
	m := startWith(t, cfg, []string{"."})
	chain := dnsserver.GetConfig(c).Plugin[0](m)
	return chain, m
}

// sendUpdate sends u through h (signed with key unless key is "") after a
// wire round trip, so header fields (RDLENGTH) are as a client sends them.
func sendUpdate(t *testing.T, h plugin.Handler, u *dns.Msg, key string) *dns.Msg {
	t.Helper()
	if key != "" {
		u.SetTsig(key, dns.HmacSHA256, 300, time.Now().Unix())
	}
	buf, err := u.Pack()
	if err != nil {
		t.Fatal(err)
	}
	r := new(dns.Msg)
	if err := r.Unpack(buf); err != nil {
		t.Fatal(err)
	}
	rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: true})
	if _, err := h.ServeDNS(context.Background(), rec, r); err != nil {
		t.Fatal(err)
	}
	if rec.Msg == nil {
		t.Fatal("no reply")
	}
	return rec.Msg
}

// apexNS is the authority section of positive answers in example.org.
var apexNS = []dns.RR{test.NS("example.org. 3600 IN NS ns1.example.org.")}

func rr(t *testing.T, s string) dns.RR {
	t.Helper()
	x, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func zoneSerial(t *testing.T, m *MCNS, zone string) uint32 {
	t.Helper()
	return m.snap.Load().zones[zone].soa.Serial
}

func TestUpdatePrerequisites(t *testing.T) {
	h, m := updateChain(t)
	add := rr(t, "new.example.org. 60 IN A 192.0.2.99")
	for _, tc := range []struct {
		name   string
		prereq func(u *dns.Msg)
		rcode  int
	}{
		// §2.4.1 RRset exists (value independent)
		{"rrset exists, yes", func(u *dns.Msg) { u.RRsetUsed([]dns.RR{rr(t, "www.example.org. A")}) }, dns.RcodeSuccess},
		{"rrset exists, no", func(u *dns.Msg) { u.RRsetUsed([]dns.RR{rr(t, "www.example.org. MX 1 x.")}) }, dns.RcodeNXRrset},
		// §2.4.2 RRset exists (value dependent)
		{"rrset equals, yes", func(u *dns.Msg) {
			u.Used([]dns.RR{rr(t, "www.example.org. 0 A 192.0.2.10")})
		}, dns.RcodeSuccess},
		{"rrset equals, other value", func(u *dns.Msg) {
			u.Used([]dns.RR{rr(t, "www.example.org. 0 A 192.0.2.11")})
		}, dns.RcodeNXRrset},
		{"rrset equals, subset", func(u *dns.Msg) {
			u.Used([]dns.RR{rr(t, "www.example.org. 0 A 192.0.2.10"), rr(t, "www.example.org. 0 A 192.0.2.12")})
		}, dns.RcodeNXRrset},
		// §2.4.3 RRset does not exist
		{"rrset absent, yes", func(u *dns.Msg) { u.RRsetNotUsed([]dns.RR{rr(t, "www.example.org. TXT \"x\"")}) }, dns.RcodeSuccess},
		{"rrset absent, no", func(u *dns.Msg) { u.RRsetNotUsed([]dns.RR{rr(t, "www.example.org. AAAA ::1")}) }, dns.RcodeYXRrset},
		// §2.4.4 name is in use
		{"name used, yes", func(u *dns.Msg) { u.NameUsed([]dns.RR{rr(t, "mail.example.org. A")}) }, dns.RcodeSuccess},
		{"name used, no", func(u *dns.Msg) { u.NameUsed([]dns.RR{rr(t, "nothing.example.org. A")}) }, dns.RcodeNameError},
		// An empty non-terminal holds no RRs: not "in use" (RFC 2136 §2.4.4).
		{"name used, ENT", func(u *dns.Msg) { u.NameUsed([]dns.RR{rr(t, "b.ent.example.org. A")}) }, dns.RcodeNameError},
		// §2.4.5 name is not in use
		{"name unused, yes", func(u *dns.Msg) { u.NameNotUsed([]dns.RR{rr(t, "nothing.example.org. A")}) }, dns.RcodeSuccess},
		{"name unused, no", func(u *dns.Msg) { u.NameNotUsed([]dns.RR{rr(t, "www.example.org. A")}) }, dns.RcodeYXDomain},
		// §3.2: outside the zone, bad TTL, bad class
		{"prereq outside zone", func(u *dns.Msg) { u.NameUsed([]dns.RR{rr(t, "www.example.net. A")}) }, dns.RcodeNotZone},
		{"prereq TTL", func(u *dns.Msg) { u.Answer = append(u.Answer, rr(t, "www.example.org. 5 IN A 192.0.2.10")) }, dns.RcodeFormatError},
		{"prereq class", func(u *dns.Msg) {
			x := rr(t, "www.example.org. 0 IN A 192.0.2.10")
			x.Header().Class = dns.ClassCHAOS
			u.Answer = append(u.Answer, x)
		}, dns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := zoneSerial(t, m, "example.org.")
			u := new(dns.Msg).SetUpdate("example.org.")
			tc.prereq(u)
			u.Insert([]dns.RR{add})
			resp := sendUpdate(t, h, u, updateKey)
			if resp.Rcode != tc.rcode {
				t.Fatalf("rcode %s, want %s", dns.RcodeToString[resp.Rcode], dns.RcodeToString[tc.rcode])
			}
			if resp.IsTsig() == nil {
				t.Error("reply not signed")
			}
			got := ask(t, m, new(dns.Msg).SetQuestion("new.example.org.", dns.TypeA))
			after := zoneSerial(t, m, "example.org.")
			if tc.rcode == dns.RcodeSuccess {
				if len(got.Answer) != 1 || after == before {
					t.Fatalf("update not applied: %v, serial %d -> %d", got.Answer, before, after)
				}
				// Undo for the next case.
				d := new(dns.Msg).SetUpdate("example.org.")
				d.RemoveName([]dns.RR{add})
				if resp := sendUpdate(t, h, d, updateKey); resp.Rcode != dns.RcodeSuccess {
					t.Fatalf("undo: %s", dns.RcodeToString[resp.Rcode])
				}
			} else if len(got.Answer) != 0 || after != before {
				t.Fatalf("failed prerequisite changed the zone: %v, serial %d -> %d", got.Answer, before, after)
			}
		})
	}
}

func TestUpdateSection(t *testing.T) {
	h, m := updateChain(t)
	steps := []struct {
		name   string
		build  func(u *dns.Msg)
		key    string
		rcode  int
		checks []test.Case
	}{
		{
			name: "add A and an ACME TXT",
			build: func(u *dns.Msg) {
				u.Insert([]dns.RR{rr(t, "host.example.org. 60 A 192.0.2.70"), rr(t, "_acme-challenge.example.org. 60 TXT \"tok-1\"")})
			},
			key: updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{
				{Qname: "host.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("host.example.org. 60 IN A 192.0.2.70")}, Ns: apexNS},
				{Qname: "_acme-challenge.example.org.", Qtype: dns.TypeTXT, Answer: []dns.RR{test.TXT("_acme-challenge.example.org. 60 IN TXT \"tok-1\"")}, Ns: apexNS},
			},
		},
		{
			name: "replace the A (delete RRset, add)",
			build: func(u *dns.Msg) {
				u.RemoveRRset([]dns.RR{rr(t, "host.example.org. A")})
				u.Insert([]dns.RR{rr(t, "host.example.org. 60 A 192.0.2.71")})
			},
			key: updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{{Qname: "host.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("host.example.org. 60 IN A 192.0.2.71")}, Ns: apexNS}},
		},
		{
			name:  "same record with a new TTL replaces it",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "host.example.org. 120 A 192.0.2.71")}) },
			key:   updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{{Qname: "host.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("host.example.org. 120 IN A 192.0.2.71")}, Ns: apexNS}},
		},
		{
			name:  "delete one TXT",
			build: func(u *dns.Msg) { u.Remove([]dns.RR{rr(t, "_acme-challenge.example.org. 60 TXT \"tok-1\"")}) },
			key:   updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{{Qname: "_acme-challenge.example.org.", Qtype: dns.TypeTXT, Rcode: dns.RcodeNameError,
				Ns: []dns.RR{test.SOA("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 0 7200 3600 1209600 300")}}},
		},
		{
			name: "CNAME beside data is refused and nothing of the update happens",
			build: func(u *dns.Msg) {
				u.Insert([]dns.RR{rr(t, "other.example.org. 60 A 192.0.2.72")})
				u.Insert([]dns.RR{rr(t, "host.example.org. 60 CNAME www.example.org.")})
			},
			key: updateKey, rcode: dns.RcodeRefused,
			checks: []test.Case{
				{Qname: "host.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{test.A("host.example.org. 120 IN A 192.0.2.71")}, Ns: apexNS},
				{Qname: "other.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
					Ns: []dns.RR{test.SOA("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 0 7200 3600 1209600 300")}},
			},
		},
		{
			name:  "data beside a CNAME is refused",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "alias.example.org. 60 TXT \"x\"")}) },
			key:   updateKey, rcode: dns.RcodeRefused,
		},
		{
			name:  "a CNAME replaces the CNAME",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "alias.example.org. 60 CNAME mail.example.org.")}) },
			key:   updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{{Qname: "alias.example.org.", Qtype: dns.TypeA, Answer: []dns.RR{
				test.CNAME("alias.example.org. 60 IN CNAME mail.example.org."), test.A("mail.example.org. 3600 IN A 192.0.2.20")}, Ns: apexNS}},
		},
		{
			name:  "apex NS and SOA are kept by delete-all",
			build: func(u *dns.Msg) { u.RemoveName([]dns.RR{rr(t, "example.org. A")}) },
			key:   updateKey, rcode: dns.RcodeSuccess,
			checks: []test.Case{
				{Qname: "example.org.", Qtype: dns.TypeNS, Answer: apexNS, Extra: []dns.RR{test.A("ns1.example.org. 3600 IN A 192.0.2.1")}},
				{Qname: "example.org.", Qtype: dns.TypeTXT, Ns: []dns.RR{test.SOA("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 0 7200 3600 1209600 300")}},
			},
		},
		{
			name:  "unsigned is refused",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "nokey.example.org. 60 A 192.0.2.1")}) },
			key:   "", rcode: dns.RcodeRefused,
			checks: []test.Case{{Qname: "nokey.example.org.", Qtype: dns.TypeA, Rcode: dns.RcodeNameError,
				Ns: []dns.RR{test.SOA("example.org. 300 IN SOA ns1.example.org. hostmaster.example.org. 0 7200 3600 1209600 300")}}},
		},
		{
			name:  "a key not allowed for the zone is refused",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "otherkey.example.org. 60 A 192.0.2.1")}) },
			key:   otherKey, rcode: dns.RcodeRefused,
		},
		{
			name:  "out-of-zone update record",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "x.example.net. 60 A 192.0.2.1")}) },
			key:   updateKey, rcode: dns.RcodeNotZone,
		},
		{
			name: "meta type in update",
			build: func(u *dns.Msg) {
				u.Insert([]dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: "x.example.org.", Rrtype: dns.TypeANY, Class: dns.ClassINET, Ttl: 60}}})
			},
			key: updateKey, rcode: dns.RcodeFormatError,
		},
		{
			name:  "a TTL above 2^31-1 is refused",
			build: func(u *dns.Msg) { u.Insert([]dns.RR{rr(t, "bad.example.org. 4294967295 A 192.0.2.1")}) },
			key:   updateKey, rcode: dns.RcodeRefused,
		},
	}
	for _, s := range steps {
		before := zoneSerial(t, m, "example.org.")
		u := new(dns.Msg).SetUpdate("example.org.")
		s.build(u)
		resp := sendUpdate(t, h, u, s.key)
		if resp.Rcode != s.rcode {
			t.Fatalf("%s: rcode %s, want %s", s.name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[s.rcode])
		}
		after := zoneSerial(t, m, "example.org.")
		if (s.rcode == dns.RcodeSuccess) != (after != before) {
			t.Errorf("%s: serial %d -> %d", s.name, before, after)
		}
		for _, c := range s.checks {
			// The SOA in negative answers carries the current serial.
			for _, ns := range c.Ns {
				if soa, ok := ns.(*dns.SOA); ok {
					soa.Serial = after
				}
			}
			got := ask(t, m, c.Msg())
			if err := test.SortAndCheck(got, c); err != nil {
				t.Errorf("%s: %s %s: %v", s.name, c.Qname, dns.TypeToString[c.Qtype], err)
			}
		}
	}
}

func TestUpdateZoneSection(t *testing.T) {
	h, _ := updateChain(t)
	u := new(dns.Msg).SetUpdate("www.example.org.") // not a zone apex
	if resp := sendUpdate(t, h, u, updateKey); resp.Rcode != dns.RcodeNotAuth {
		t.Errorf("non-apex zone: %s", dns.RcodeToString[resp.Rcode])
	}
	u = new(dns.Msg).SetUpdate("example.net.")
	if resp := sendUpdate(t, h, u, updateKey); resp.Rcode != dns.RcodeNotAuth {
		t.Errorf("foreign zone: %s", dns.RcodeToString[resp.Rcode])
	}
	u = new(dns.Msg).SetUpdate("example.org.")
	u.Question[0].Qtype = dns.TypeA
	if resp := sendUpdate(t, h, u, updateKey); resp.Rcode != dns.RcodeFormatError {
		t.Errorf("zone section type A: %s", dns.RcodeToString[resp.Rcode])
	}
	// otherKey may change the reverse zone.
	u = new(dns.Msg).SetUpdate("2.0.192.in-addr.arpa.")
	u.Insert([]dns.RR{rr(t, "11.2.0.192.in-addr.arpa. 60 PTR host.example.org.")})
	if resp := sendUpdate(t, h, u, otherKey); resp.Rcode != dns.RcodeSuccess {
		t.Errorf("reverse zone with its key: %s", dns.RcodeToString[resp.Rcode])
	}
	// An SOA with a newer serial sets it; an older one is ignored.
	u = new(dns.Msg).SetUpdate("example.org.")
	u.Insert([]dns.RR{rr(t, "example.org. 3600 SOA ns1.example.org. hostmaster.example.org. 2099010100 7200 3600 1209600 300")})
	if resp := sendUpdate(t, h, u, updateKey); resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("SOA update: %s", dns.RcodeToString[resp.Rcode])
	}
	got := ask(t, h, new(dns.Msg).SetQuestion("example.org.", dns.TypeSOA))
	if len(got.Answer) != 1 || got.Answer[0].(*dns.SOA).Serial != 2099010100 {
		t.Fatalf("SOA after update: %v", got.Answer)
	}
}

// FuzzUpdate feeds arbitrary UPDATE messages, signed with an allowed key,
// through the tsig plugin and mcns: no panic, a reply that packs, and a
// zone that still answers its SOA.
func FuzzUpdate(f *testing.F) {
	h, m := updateChainTB(f)
	seed := func(build func(u *dns.Msg)) {
		u := new(dns.Msg).SetUpdate("example.org.")
		build(u)
		b, err := u.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	mk := func(s string) dns.RR { x, _ := dns.NewRR(s); return x }
	seed(func(u *dns.Msg) { u.Insert([]dns.RR{mk("a.example.org. 60 A 192.0.2.1")}) })
	seed(func(u *dns.Msg) { u.RemoveRRset([]dns.RR{mk("www.example.org. A")}) })
	seed(func(u *dns.Msg) { u.RemoveName([]dns.RR{mk("example.org. A")}) })
	seed(func(u *dns.Msg) { u.Remove([]dns.RR{mk("example.org. 0 NS ns1.example.org.")}) })
	seed(func(u *dns.Msg) {
		u.NameUsed([]dns.RR{mk("www.example.org. A")})
		u.Insert([]dns.RR{mk("www.example.org. 60 CNAME x.")})
	})
	seed(func(u *dns.Msg) { u.Used([]dns.RR{mk("www.example.org. 0 A 192.0.2.10")}) })
	seed(func(u *dns.Msg) {
		u.Insert([]dns.RR{mk("example.org. 60 SOA ns1.example.org. h.example.org. 2099010101 1 1 1 1")})
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(data); err != nil || r.Opcode != dns.OpcodeUpdate {
			return
		}
		r.Extra = nil
		r.SetTsig(updateKey, dns.HmacSHA256, 300, time.Now().Unix())
		rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: true})
		h.ServeDNS(context.Background(), rec, r)
		if rec.Msg == nil {
			t.Fatal("no reply")
		}
		if _, err := rec.Msg.Pack(); err != nil && len(rec.Msg.Answer)+len(rec.Msg.Ns) > 0 {
			t.Fatalf("reply does not pack: %v", err)
		}
		if got := ask(t, m, new(dns.Msg).SetQuestion("example.org.", dns.TypeSOA)); len(got.Answer) != 1 {
			t.Fatalf("zone lost its SOA: %v", got)
		}
	})
}

// BenchmarkUpdate measures one signed UPDATE (add or delete of a TXT)
// through tsig and mcns: transaction, journal entry, zone rebuild.
func BenchmarkUpdate(b *testing.B) {
	h, _ := updateChainTB(b)
	txt, _ := dns.NewRR(`_acme-challenge.example.org. 60 TXT "bench"`)
	b.ResetTimer()
	for i := range b.N {
		u := new(dns.Msg).SetUpdate("example.org.")
		if i%2 == 0 {
			u.Insert([]dns.RR{txt})
		} else {
			u.Remove([]dns.RR{txt})
		}
		u.SetTsig(updateKey, dns.HmacSHA256, 300, time.Now().Unix())
		rec := dnstest.NewRecorder(&test.ResponseWriter{TCP: true})
		h.ServeDNS(context.Background(), rec, u)
		if rec.Msg == nil || rec.Msg.Rcode != dns.RcodeSuccess {
			b.Fatalf("update %d: %v", i, rec.Msg)
		}
	}
}
