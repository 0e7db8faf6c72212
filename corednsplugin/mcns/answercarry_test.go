package mcns

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/coredns/coredns/plugin/test"
	"github.com/coredns/coredns/request"
	"github.com/miekg/dns"
)

// carryNames are the names the carried-cache tests write to and ask for:
// every kind of dependency exampleOrg has (CNAME chains, the apex, MX and
// SRV targets, a wildcard and names below it, a delegation and its glue,
// an empty non-terminal, a DNAME and the names it rewrites), and names
// that do not exist yet.
var carryNames = []string{
	"example.org.", "www.example.org.", "alias.example.org.", "chain.example.org.",
	"mail.example.org.", "sip.example.org.", "_sip._tcp.example.org.", "ns1.example.org.",
	"x.wild.example.org.", "a.b.wild.example.org.", "b.wild.example.org.", "wild.example.org.",
	"sub.example.org.", "q.sub.example.org.", "ns.sub.example.org.", "ent.example.org.",
	"b.ent.example.org.", "a.b.ent.example.org.", "old.example.org.", "x.old.example.org.",
	"new.example.org.", "toapex.example.org.", "mx.example.org.", "srv.example.org.",
}

var carryTypes = []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX, dns.TypeCNAME, dns.TypeSRV, dns.TypeNS, dns.TypeSOA, dns.TypeANY}

// randomCarryUpdate is one random RFC 2136 update at one of carryNames:
// a record added (of a type chosen to reach other names often), an RRset
// or a name deleted.
func randomCarryUpdate(rnd *rand.Rand) []dns.RR {
	name := carryNames[rnd.IntN(len(carryNames))]
	target := carryNames[rnd.IntN(len(carryNames))]
	var s string
	switch rnd.IntN(9) {
	case 0:
		s = fmt.Sprintf("%s 300 A 192.0.2.%d", name, rnd.IntN(4))
	case 1:
		s = fmt.Sprintf("%s 300 TXT \"t%d\"", name, rnd.IntN(3))
	case 2:
		s = fmt.Sprintf("%s 300 CNAME %s", name, target)
	case 3:
		s = fmt.Sprintf("%s 300 MX 10 %s", name, target)
	case 4:
		s = fmt.Sprintf("%s 300 SRV 0 0 5060 %s", name, target)
	case 5:
		s = fmt.Sprintf("*.%s 300 A 192.0.2.%d", name, rnd.IntN(4))
	case 6:
		s = fmt.Sprintf("%s 300 NS %s", name, target)
	case 7:
		return []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: carryTypes[rnd.IntN(len(carryTypes)-2)], Class: dns.ClassANY}}}
	default:
		return []dns.RR{&dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeANY, Class: dns.ClassANY}}}
	}
	rr, err := dns.NewRR(s)
	if err != nil {
		panic(err)
	}
	return []dns.RR{rr}
}

// replyLines is a reply as comparable text: rcode, AA and each section
// sorted.
func replyLines(m *dns.Msg) string {
	section := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			if rr.Header().Rrtype != dns.TypeOPT {
				out = append(out, rr.String())
			}
		}
		slices.Sort(out)
		return out
	}
	return fmt.Sprintf("%s aa=%v\nanswer %q\nns %q\nextra %q", dns.RcodeToString[m.Rcode], m.Authoritative,
		section(m.Answer), section(m.Ns), section(m.Extra))
}

// TestCarriedAnswersMatchFreshOnes makes random changes to a zone whose
// answer cache survives its writes, and after each compares every answer
// served (through the cache, which the previous round filled) with the
// answer built from the zone loaded afresh from the database.
func TestCarriedAnswersMatchFreshOnes(t *testing.T) {
	seed := randomSeed(t)
	rnd := rand.New(rand.NewPCG(seed, seed))
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	ctx := context.Background()
	steps := 400
	if testing.Short() {
		steps = 100
	}
	applied, carried := 0, 0
	for step := range steps {
		before := m.snap.Load().zones["example.org."].answers
		if rc, changed := applyUpdate(ctx, m.st, "example.org.", nil, randomCarryUpdate(rnd)); rc != dns.RcodeSuccess || !changed {
			continue
		}
		applied++
		sz := m.snap.Load().zones["example.org."]
		if sz.answers == before {
			carried++
		}
		fresh, err := buildZone(ctx, m.st, "example.org.", sz.gen, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range carryNames {
			for _, qtype := range carryTypes {
				for _, do := range []bool{false, true} {
					compareWithFresh(t, m, fresh, step, name, qtype, do)
				}
			}
		}
	}
	t.Logf("%d steps, %d changes applied, %d of them kept the cache", steps, applied, carried)
	if applied < steps/4 || carried < applied/4 {
		t.Fatalf("too few changes applied (%d) or carried the cache (%d) for the test to mean anything", applied, carried)
	}
}

// compareWithFresh asks m for name/qtype and fails unless the reply equals
// the one answer builds from fresh.
func compareWithFresh(t *testing.T, m *MCNS, fresh *servedZone, step int, name string, qtype uint16, do bool) {
	t.Helper()
	q := new(dns.Msg).SetQuestion(name, qtype)
	if do {
		q.SetEdns0(4096, true)
	}
	got := ask(t, m, q)
	b, _ := fresh.answer(context.Background(), request.Request{W: &test.ResponseWriter{}, Req: q}, "example.org.", m.snap.Load())
	if b.msg == nil {
		if got.Rcode != dns.RcodeServerFailure {
			t.Fatalf("step %d: %s %s do=%v: got %s, want SERVFAIL", step, name, dns.TypeToString[qtype], do, replyLines(got))
		}
		return
	}
	if g, w := replyLines(got), replyLines(replyTo(q, b.msg)); g != w {
		t.Fatalf("step %d: %s %s do=%v:\nserved %s\nfresh  %s", step, name, dns.TypeToString[qtype], do, g, w)
	}
}

// TestWriteKeepsUnaffectedAnswers: a write drops the cached replies it can
// change and keeps the others; a change of the apex NS RRset, which every
// positive reply carries, starts the cache afresh.
func TestWriteKeepsUnaffectedAnswers(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	ctx := context.Background()
	warm := func() {
		for _, name := range []string{"www.example.org.", "alias.example.org.", "mail.example.org.", "sip.example.org."} {
			ask(t, m, new(dns.Msg).SetQuestion(name, dns.TypeA))
		}
	}
	cached := func(name string) bool {
		return m.snap.Load().zones["example.org."].answers.get(answerKey{name: name, qtype: dns.TypeA}) != nil
	}
	update := func(s string) {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		if rc, changed := applyUpdate(ctx, m.st, "example.org.", nil, []dns.RR{rr}); rc != dns.RcodeSuccess || !changed {
			t.Fatalf("%s: rcode %s changed %v", s, dns.RcodeToString[rc], changed)
		}
	}
	warm()
	update("other.example.org. 300 A 192.0.2.99")
	for _, name := range []string{"www.example.org.", "alias.example.org.", "mail.example.org.", "sip.example.org."} {
		if !cached(name) {
			t.Errorf("a write elsewhere dropped the cached reply for %s", name)
		}
	}
	update("www.example.org. 300 A 192.0.2.11")
	if cached("www.example.org.") || cached("alias.example.org.") {
		t.Error("a write at www kept the replies for www or for the alias to it")
	}
	if !cached("mail.example.org.") {
		t.Error("a write at www dropped the reply for mail")
	}
	if got := ask(t, m, new(dns.Msg).SetQuestion("alias.example.org.", dns.TypeA)); len(got.Answer) != 3 {
		t.Errorf("alias after the write: %v, want the CNAME and both addresses of www", got.Answer)
	}
	warm()
	update("example.org. 300 NS ns2.example.org.")
	if cached("mail.example.org.") {
		t.Error("a change of the apex NS RRset kept a positive reply, whose authority section it changes")
	}
}
