package mcns

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// Two instances on one database (two server blocks, or two processes):
// the other's writes are outside edits to each, reloaded by polling, yet
// they are journaled, so IXFR stays incremental on both.
func TestTwoInstancesShareTheJournal(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mcns.db")
	a := startWith(t, config{dbPath: db, seeds: writeZones(t, exampleOrg), refresh: 50 * time.Millisecond}, []string{"."})
	b := startWith(t, config{dbPath: db, refresh: 50 * time.Millisecond}, []string{"."})
	ctx := context.Background()
	s0 := zoneSerial(t, a, "example.org.")
	if _, err := a.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "a1", Type: "A", Value: "192.0.2.81"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.st.AddRecord(ctx, "example.org", store.RecordSpec{Name: "b1", Type: "A", Value: "192.0.2.82"}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*MCNS{a, b} {
		eventually(t, 2*time.Second, "both writes served", func() bool {
			return len(ask(t, m, new(dns.Msg).SetQuestion("a1.example.org.", dns.TypeA)).Answer) == 1 &&
				len(ask(t, m, new(dns.Msg).SetQuestion("b1.example.org.", dns.TypeA)).Answer) == 1
		})
		// SOA, two steps of (old SOA, new SOA, one added record), SOA.
		if got := collect(t, m, "example.org.", s0); len(got) != 8 {
			t.Fatalf("IXFR from %d: %d records, want 8: %v", s0, len(got), got)
		}
	}
}

// An outside edit of one zone reloads that zone only.
func TestOutsideEditReloadsOneZone(t *testing.T) {
	m := startWith(t, config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg, reverseZone), refresh: time.Second}, []string{"."})
	ctx := context.Background()
	other, err := store.Open(m.config.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	reverse := m.snap.Load().zones["2.0.192.in-addr.arpa."]
	before := testutilRebuilds()
	if _, err := other.DB().ExecContext(ctx, `UPDATE records SET ttl = 77 WHERE name = 'www.example.org' AND type = 'A'`); err != nil {
		t.Fatal(err)
	}
	if err := m.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if a := ask(t, m, new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)).Answer; len(a) != 1 || a[0].Header().Ttl != 77 {
		t.Fatalf("outside edit not served: %v", a)
	}
	if got := testutilRebuilds() - before; got != 1 {
		t.Fatalf("%v zones reloaded, want 1", got)
	}
	if m.snap.Load().zones["2.0.192.in-addr.arpa."] != reverse {
		t.Fatal("the untouched zone got a new generation")
	}
}
