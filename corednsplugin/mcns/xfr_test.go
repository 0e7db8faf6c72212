package mcns

import (
	"context"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// collect drains a transfer channel into one list.
func collect(t *testing.T, m *MCNS, zone string, serial uint32) []dns.RR {
	t.Helper()
	ch, err := m.Transfer(zone, serial)
	if err != nil {
		t.Fatalf("Transfer(%s, %d): %v", zone, serial, err)
	}
	var out []dns.RR
	for rrs := range ch {
		out = append(out, rrs...)
	}
	return out
}

func soaSerial(t *testing.T, rr dns.RR) uint32 {
	t.Helper()
	soa, ok := rr.(*dns.SOA)
	if !ok {
		t.Fatalf("%v is not an SOA", rr)
	}
	return soa.Serial
}

// isAXFR reports whether rrs is a full transfer of a zone at serial: SOA
// first and last, everything else in between without another SOA.
func isAXFR(t *testing.T, rrs []dns.RR, serial uint32, wantRecords int) {
	t.Helper()
	if len(rrs) != wantRecords+2 {
		t.Fatalf("AXFR of %d records, want %d + 2 SOA: %v", len(rrs), wantRecords, rrs)
	}
	if soaSerial(t, rrs[0]) != serial || soaSerial(t, rrs[len(rrs)-1]) != serial {
		t.Fatalf("AXFR not framed by SOA %d", serial)
	}
	for _, rr := range rrs[1 : len(rrs)-1] {
		if rr.Header().Rrtype == dns.TypeSOA {
			t.Fatalf("SOA inside AXFR: %v", rrs)
		}
	}
}

// exampleOrgRecords is the number of non-SOA records in exampleOrg.
const exampleOrgRecords = 19

func TestTransferAXFR(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	isAXFR(t, collect(t, m, "example.org.", 0), 2024010101, exampleOrgRecords)
	for _, z := range []string{"example.net.", "www.example.org.", "org."} {
		if _, err := m.Transfer(z, 0); err != transfer.ErrNotAuthoritative {
			t.Errorf("Transfer(%s): %v, want ErrNotAuthoritative", z, err)
		}
	}
	// A block naming another zone does not transfer example.org.
	other := startMCNS(t, []string{"example.net."}, writeZones(t, exampleOrg)...)
	if _, err := other.Transfer("example.org.", 0); err != transfer.ErrNotAuthoritative {
		t.Errorf("outside the block: %v", err)
	}
}

func TestTransferIXFRFromJournal(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	st := m.st
	ctx := context.Background()
	s0 := zoneSerial(t, m, "example.org.")

	// Three changes through the store, each rebuilt as the API does.
	rec, err := st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "new", Type: "A", Value: "192.0.2.77", TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	s1 := zoneSerial(t, m, "example.org.")
	if _, err := st.UpdateRecord(ctx, "example.org", rec.ID, store.RecordSpec{Name: "new", Type: "A", Value: "192.0.2.78", TTL: 60}); err != nil {
		t.Fatal(err)
	}
	list, err := st.Records(ctx, "example.org", store.Filter{Name: "mail", Type: "A"})
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	if err := st.DeleteRecord(ctx, "example.org", list[0].ID); err != nil {
		t.Fatal(err)
	}
	s3 := zoneSerial(t, m, "example.org.")

	// From s0: the condensed sequence of all three changes.
	got := collect(t, m, "example.org.", s0)
	want := []string{
		"SOA " + u32(s3),
		"SOA " + u32(s0), "SOA " + u32(s1), "A new.example.org. 192.0.2.77",
		"SOA " + u32(s1), "A new.example.org. 192.0.2.77", "SOA ", "A new.example.org. 192.0.2.78",
		"SOA ", "A mail.example.org. 192.0.2.20", "SOA " + u32(s3),
		"SOA " + u32(s3),
	}
	if len(got) != len(want) {
		t.Fatalf("IXFR from %d: %d records, want %d:\n%v", s0, len(got), len(want), got)
	}
	for i, w := range want {
		if d := describe(got[i]); len(d) < len(w) || d[:len(w)] != w {
			t.Errorf("IXFR record %d: %q, want %q", i, d, w)
		}
	}

	// From s1: only the last two changes.
	if got := collect(t, m, "example.org.", s1); len(got) != 9 || soaSerial(t, got[1]) != s1 {
		t.Errorf("IXFR from %d: %v", s1, got)
	}
	// Up to date, or ahead: the SOA alone.
	for _, s := range []uint32{s3, s3 + 5} {
		if got := collect(t, m, "example.org.", s); len(got) != 1 || soaSerial(t, got[0]) != s3 {
			t.Errorf("IXFR from %d: %v", s, got)
		}
	}
	// Older than the journal: a full transfer.
	isAXFR(t, collect(t, m, "example.org.", s0-1), s3, exampleOrgRecords)
}

func describe(rr dns.RR) string {
	switch v := rr.(type) {
	case *dns.SOA:
		return "SOA " + u32(v.Serial)
	case *dns.A:
		return "A " + v.Hdr.Name + " " + v.A.String()
	}
	return rr.String()
}

func u32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// A change made by another writer has no journal entry: IXFR across it
// must fall back to a full transfer, never send a diff missing it.
func TestTransferIXFRAfterOutsideEdit(t *testing.T) {
	m := startMCNS(t, []string{"."}, writeZones(t, exampleOrg)...)
	ctx := context.Background()
	s0 := zoneSerial(t, m, "example.org.")
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a1", Type: "A", Value: "192.0.2.81"}); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, m, "example.org.", s0); len(got) != 5 {
		t.Fatalf("IXFR before the outside edit: %v", got)
	}
	// Another process adds a row by SQL, without touching the serial.
	other, err := store.Open(m.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.DB().ExecContext(ctx, `INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth)
		SELECT id, 'sneaky.example.org', 'A', '192.0.2.82', 60, 0, 0, 1 FROM domains WHERE name = 'example.org'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "poller sees the outside edit", func() bool {
		return len(ask(t, m, new(dns.Msg).SetQuestion("sneaky.example.org.", dns.TypeA)).Answer) == 1
	})
	// An API change after it: the journal has an entry for it, but the
	// chain from s0 is broken.
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a2", Type: "A", Value: "192.0.2.83"}); err != nil {
		t.Fatal(err)
	}
	cur := zoneSerial(t, m, "example.org.")
	isAXFR(t, collect(t, m, "example.org.", s0), cur, exampleOrgRecords+3)

	// Journaled again from there; then another edit that keeps the
	// serial: the journal does not reach the served data, though its
	// serials would connect.
	prev := cur
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a3", Type: "A", Value: "192.0.2.84"}); err != nil {
		t.Fatal(err)
	}
	cur = zoneSerial(t, m, "example.org.")
	if got := collect(t, m, "example.org.", prev); len(got) != 5 {
		t.Fatalf("IXFR from %d: %v", prev, got)
	}
	if _, err := other.DB().ExecContext(ctx, `UPDATE records SET ttl = 61 WHERE name = 'a3.example.org'`); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "poller sees the edit", func() bool {
		a := ask(t, m, new(dns.Msg).SetQuestion("a3.example.org.", dns.TypeA)).Answer
		return len(a) == 1 && a[0].Header().Ttl == 61
	})
	isAXFR(t, collect(t, m, "example.org.", prev), cur, exampleOrgRecords+4)
}

func TestNotifierCoalesces(t *testing.T) {
	var (
		mu    sync.Mutex
		sends []time.Time
		block = make(chan struct{})
		inFly atomic.Bool
	)
	n := newNotifier(30*time.Millisecond, func(zone string) {
		mu.Lock()
		sends = append(sends, time.Now())
		first := len(sends) == 1
		mu.Unlock()
		if first {
			inFly.Store(true)
			<-block // hold the first round open
			inFly.Store(false)
		}
	})
	defer n.stop()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(sends) }

	for range 20 {
		n.changed("example.org.")
	}
	eventually(t, 2*time.Second, "first NOTIFY round", func() bool { return inFly.Load() })
	// Changes during the round: exactly one more round, after it.
	for range 20 {
		n.changed("example.org.")
	}
	time.Sleep(60 * time.Millisecond)
	if c := count(); c != 1 {
		t.Fatalf("%d rounds while the first is in flight", c)
	}
	close(block)
	eventually(t, 2*time.Second, "trailing NOTIFY round", func() bool { return count() == 2 })
	time.Sleep(80 * time.Millisecond)
	if c := count(); c != 2 {
		t.Fatalf("%d rounds for two bursts, want 2", c)
	}
	// Zones are independent; after stop nothing more is sent.
	n.changed("example.net.")
	eventually(t, 2*time.Second, "other zone's round", func() bool { return count() == 3 })
	n.stop()
	n.changed("example.net.")
	time.Sleep(80 * time.Millisecond)
	if c := count(); c != 3 {
		t.Fatalf("sent after stop: %d", c)
	}
}

// Every kind of change is followed by a NOTIFY round for its zone: a write
// followed by its rebuild (the API's and UPDATE's path) and an outside edit
// found by polling; startup notifies every zone once.
func TestNotifyAfterEveryChange(t *testing.T) {
	rounds := make(chan string, 100)
	cfg := config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg, reverseZone), refresh: 20 * time.Millisecond}
	m := New(cfg, []string{"."})
	m.Next = nextHandler()
	m.notifier = newNotifier(10*time.Millisecond, func(zone string) { rounds <- zone })
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	expect := func(what string, zones ...string) {
		t.Helper()
		want := map[string]bool{}
		for _, z := range zones {
			want[z] = true
		}
		deadline := time.After(2 * time.Second)
		for len(want) > 0 {
			select {
			case z := <-rounds:
				if !want[z] {
					t.Fatalf("%s: NOTIFY for %s", what, z)
				}
				delete(want, z)
			case <-deadline:
				t.Fatalf("%s: no NOTIFY for %v", what, want)
			}
		}
		select {
		case z := <-rounds:
			t.Fatalf("%s: extra NOTIFY for %s", what, z)
		case <-time.After(50 * time.Millisecond):
		}
	}
	expect("startup", "example.org.", "2.0.192.in-addr.arpa.")

	ctx := context.Background()
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "n1", Type: "A", Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	expect("API change", "example.org.")

	other, err := store.Open(m.st.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.AddRecord(ctx, "2.0.192.in-addr.arpa", store.RecordSpec{Name: "11", Type: "PTR", Value: "n1.example.org."}); err != nil {
		t.Fatal(err)
	}
	expect("outside edit", "2.0.192.in-addr.arpa.")
}

// An outside edit that keeps the serial, followed at once by a write
// through mcns (before the poller looks): the write's rebuild finds that
// the journal does not account for the whole change, so IXFR across it is
// a full transfer.
func TestTransferIXFROutsideEditThenWrite(t *testing.T) {
	cfg := config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg), refresh: time.Second}
	m := startWith(t, cfg, []string{"."})
	ctx := context.Background()
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a1", Type: "A", Value: "192.0.2.81"}); err != nil {
		t.Fatal(err)
	}
	s1 := zoneSerial(t, m, "example.org.")
	if _, err := m.st.DB().ExecContext(ctx, `UPDATE records SET content = '192.0.2.99' WHERE name = 'www.example.org' AND type = 'A'`); err != nil {
		t.Fatal(err)
	}
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a2", Type: "A", Value: "192.0.2.82"}); err != nil {
		t.Fatal(err)
	}
	isAXFR(t, collect(t, m, "example.org.", s1), zoneSerial(t, m, "example.org."), exampleOrgRecords+2)

	// Journaled writes from here on are incremental again.
	s2 := zoneSerial(t, m, "example.org.")
	if _, err := m.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a3", Type: "A", Value: "192.0.2.83"}); err != nil {
		t.Fatal(err)
	}
	if got := collect(t, m, "example.org.", s2); len(got) != 5 {
		t.Fatalf("IXFR from %d after the gap: %v", s2, got)
	}
}
