package mcns

import (
	"context"
	"slices"
	"testing"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// servedRecords returns the served generation of zone as sorted lines.
func servedRecords(t *testing.T, sz *servedZone) []string {
	t.Helper()
	msgs, ok := sz.transferRecords()
	if !ok {
		t.Fatal("served generation not readable")
	}
	var out []string
	for _, rrs := range msgs {
		for _, rr := range rrs {
			out = append(out, rr.String())
		}
	}
	slices.Sort(out)
	return out
}

// TestIncrementalApplyMatchesReload applies a run of writes of every kind
// as differences (both copies of the zone take turns) and compares each
// served generation with the zone loaded afresh from the database.
func TestIncrementalApplyMatchesReload(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	ctx := context.Background()
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	del := func(s string, class uint16) dns.RR {
		r := rr(s)
		r.Header().Class, r.Header().Ttl = class, 0
		return r
	}
	// delSet deletes the RRset name/typ (RFC 2136 §2.5.2), all RRsets at
	// name when typ is ANY.
	delSet := func(name string, typ uint16) dns.RR {
		return &dns.ANY{Hdr: dns.RR_Header{Name: name, Rrtype: typ, Class: dns.ClassANY}}
	}
	steps := [][]dns.RR{
		{rr("a.example.org. 60 A 192.0.2.1"), rr("a.example.org. 60 A 192.0.2.2")},
		{rr("a.example.org. 120 A 192.0.2.1")}, // TTL change of one record
		{del("a.example.org. 0 A 192.0.2.2", dns.ClassNONE)},
		{rr("example.org. 3600 NS ns2.example.org."), rr("ns2.example.org. 3600 A 192.0.2.3")},
		{del("example.org. 0 NS ns1.example.org.", dns.ClassNONE)},
		{rr("alias.example.org. 300 CNAME a.example.org.")}, // replaces the CNAME
		{delSet("www.example.org.", dns.TypeAAAA)},
		{rr("deep.b.c.example.org. 60 TXT \"x\""), rr("www.example.org. 60 MX 10 mail.example.org.")},
		{delSet("deep.b.c.example.org.", dns.TypeANY), del("a.example.org. 0 A 192.0.2.1", dns.ClassNONE)},
		{rr("example.org. 3600 SOA ns1.example.org. hostmaster.example.org. 3000000000 7200 3600 1209600 600")},
	}
	before := counterValue(applied)
	for i, updates := range steps {
		if rc, changed := applyUpdate(ctx, m.st, "example.org.", nil, updates); rc != dns.RcodeSuccess || !changed {
			t.Fatalf("step %d: rcode %s changed %v", i, dns.RcodeToString[rc], changed)
		}
		sz := m.snap.Load().zones["example.org."]
		fresh, err := buildZone(ctx, m.st, "example.org.", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		got, want := servedRecords(t, sz), servedRecords(t, fresh)
		if !slices.Equal(got, want) {
			t.Fatalf("step %d: served\n%v\nloaded\n%v", i, got, want)
		}
		if sz.version != fresh.version || sz.soa.Serial != fresh.soa.Serial || sz.records != fresh.records {
			t.Fatalf("step %d: served %v/%d/%d records, loaded %v/%d/%d", i, sz.version, sz.soa.Serial, sz.records,
				fresh.version, fresh.soa.Serial, fresh.records)
		}
	}
	if got := counterValue(applied) - before; got != float64(len(steps)) {
		t.Fatalf("%v of %d writes applied as differences", got, len(steps))
	}
}

// A batch of writes to one zone becomes one generation.
func TestBurstIsOneGeneration(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	close(m.stopCh) // no poller: this test delivers the changes itself
	<-m.done
	m.stopCh = nil
	ctx := context.Background()
	other, err := store.Open(m.config.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var batch []store.Change
	other.OnCommit(func(c store.Change) { batch = append(batch, c) })
	for _, name := range []string{"b1", "b2", "b3"} {
		if _, err := other.AddRecord(ctx, "example.org", store.RecordSpec{Name: name, Type: "A", Value: "192.0.2.9"}); err != nil {
			t.Fatal(err)
		}
	}
	gen, before := m.gen, counterValue(applied)
	m.commit(batch)
	if m.gen != gen+1 || counterValue(applied)-before != 3 {
		t.Fatalf("3 writes: %d generations, %v applied", m.gen-gen, counterValue(applied)-before)
	}
	sz := m.snap.Load().zones["example.org."]
	fresh, err := buildZone(ctx, m.st, "example.org.", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := servedRecords(t, sz), servedRecords(t, fresh); !slices.Equal(got, want) || sz.version != fresh.version {
		t.Fatalf("served\n%v\nloaded\n%v", got, want)
	}
}
