package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func serialOf(t *testing.T, s *Store, zone string) uint32 {
	t.Helper()
	z, err := s.Zone(context.Background(), zone)
	if err != nil {
		t.Fatal(err)
	}
	return z.Serial
}

func TestJournalRecordsEveryChange(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	s0 := serialOf(t, s, "example.org")

	a, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "www", Type: "A", Value: "192.0.2.1", TTL: 300})
	if err != nil {
		t.Fatal(err)
	}
	s1 := serialOf(t, s, "example.org")
	if _, err := s.UpdateRecord(ctx, "example.org", a.ID, RecordSpec{Name: "www", Type: "A", Value: "192.0.2.2", TTL: 300}); err != nil {
		t.Fatal(err)
	}
	s2, v2 := serialOf(t, s, "example.org"), changesOf(t, s, "example.org")
	if _, err := s.UpdateZone(ctx, "example.org", Zone{Refresh: 1234}); err != nil {
		t.Fatal(err)
	}
	s3 := serialOf(t, s, "example.org")
	// A rejected write leaves no entry.
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "www", Type: "CNAME", Value: "x.example.net.", TTL: 300}); !errors.Is(err, ErrConflict) {
		t.Fatalf("CNAME beside A: %v", err)
	}

	es, ok, err := s.Journal(ctx, "example.org", s0, s3, changesOf(t, s, "example.org"))
	if err != nil || !ok {
		t.Fatalf("journal %d..%d: ok=%v err=%v", s0, s3, ok, err)
	}
	if len(es) != 3 {
		t.Fatalf("%d entries, want 3", len(es))
	}
	want := []struct {
		from, to       uint32
		removed, added string
	}{
		{s0, s1, "", "192.0.2.1"},
		{s1, s2, "192.0.2.1", "192.0.2.2"},
		{s2, s3, "", ""},
	}
	for i, w := range want {
		e := es[i]
		if e.From != w.from || e.To != w.to || e.OldSOA.Serial != w.from || e.NewSOA.Serial != w.to {
			t.Fatalf("entry %d: %d->%d (SOA %d->%d), want %d->%d", i, e.From, e.To, e.OldSOA.Serial, e.NewSOA.Serial, w.from, w.to)
		}
		if got := joinRR(e.Removed); !strings.Contains(got, w.removed) || (w.removed == "") != (got == "") {
			t.Errorf("entry %d removed %q, want %q", i, got, w.removed)
		}
		if got := joinRR(e.Added); !strings.Contains(got, w.added) || (w.added == "") != (got == "") {
			t.Errorf("entry %d added %q, want %q", i, got, w.added)
		}
	}
	if es[2].NewSOA.Refresh != 1234 || es[2].OldSOA.Refresh == 1234 {
		t.Errorf("SOA change not in journal: %v -> %v", es[2].OldSOA, es[2].NewSOA)
	}
	// A middle part of the chain.
	if es, ok, _ := s.Journal(ctx, "example.org", s1, s2, v2); !ok || len(es) != 1 {
		t.Errorf("journal %d..%d: ok=%v len=%d", s1, s2, ok, len(es))
	}
	// Unknown serials do not connect.
	if _, ok, _ := s.Journal(ctx, "example.org", s0-5, s3, changesOf(t, s, "example.org")); ok {
		t.Error("journal from an unknown serial claims a chain")
	}
	if _, ok, _ := s.Journal(ctx, "example.org", s0, s3+1, changesOf(t, s, "example.org")); ok {
		t.Error("journal to an unknown serial claims a chain")
	}
}

// changesOf is zone's current change counter (ZoneVersion.Changes).
func changesOf(t *testing.T, s *Store, zone string) int64 {
	t.Helper()
	states, err := s.ZoneStates(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return states[dns.Fqdn(zone)].Version.Changes
}

func joinRR(rrs []dns.RR) string {
	var b []string
	for _, rr := range rrs {
		b = append(b, rr.String())
	}
	return strings.Join(b, "\n")
}

func TestJournalTrimAndClear(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	s.SetJournalLimits(3, 0)
	mustZone(t, s, "example.org")
	var serials []uint32
	serials = append(serials, serialOf(t, s, "example.org"))
	for i := range 5 {
		if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "h", Type: "TXT", Value: strings.Repeat("x", i+1), TTL: 60}); err != nil {
			t.Fatal(err)
		}
		serials = append(serials, serialOf(t, s, "example.org"))
	}
	last := serials[len(serials)-1]
	if _, ok, _ := s.Journal(ctx, "example.org", serials[2], last, changesOf(t, s, "example.org")); !ok {
		t.Error("last 3 entries should be kept")
	}
	if _, ok, _ := s.Journal(ctx, "example.org", serials[1], last, changesOf(t, s, "example.org")); ok {
		t.Error("4th newest entry should have been trimmed")
	}
	var n int
	s.db.QueryRow("SELECT count(*) FROM mcns_journal").Scan(&n)
	if n != 3 {
		t.Errorf("%d journal rows, want 3", n)
	}

	// By age: entries older than the limit go at the next write.
	s.SetJournalLimits(100, time.Hour)
	s.now = func() time.Time { return fixedNow.Add(2 * time.Hour) }
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "h2", Type: "A", Value: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRow("SELECT count(*) FROM mcns_journal").Scan(&n)
	if n != 1 {
		t.Errorf("%d journal rows after age trim, want 1", n)
	}

	if err := s.ClearJournal(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRow("SELECT count(*) FROM mcns_journal").Scan(&n)
	if n != 0 {
		t.Errorf("%d journal rows after clear", n)
	}
	// Deleting the zone drops its journal too.
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "h3", Type: "A", Value: "192.0.2.9"}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteZone(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRow("SELECT count(*) FROM mcns_journal").Scan(&n)
	if n != 0 {
		t.Errorf("%d journal rows after zone delete", n)
	}

	// Off: nothing recorded.
	s.SetJournalLimits(0, 0)
	mustZone(t, s, "example.net")
	if _, err := s.AddRecord(ctx, "example.net", RecordSpec{Name: "a", Type: "A", Value: "192.0.2.1"}); err != nil {
		t.Fatal(err)
	}
	s.db.QueryRow("SELECT count(*) FROM mcns_journal").Scan(&n)
	if n != 0 {
		t.Errorf("%d journal rows with the journal off", n)
	}
}

// TestJournalTrimsInBatches: a zone's journal never holds more entries
// than its limit after a write, keeps at least the limit less one batch
// once it has reached it, and a lowered limit holds from the next write.
func TestJournalTrimsInBatches(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const limit = 64
	s.SetJournalLimits(limit, 0)
	mustZone(t, s, "example.org")
	count := func() int {
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM mcns_journal WHERE zone = 'example.org.'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	lowest := limit
	for i := range 3 * limit {
		if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: fmt.Sprintf("h%d", i), Type: "A", Value: "192.0.2.1", TTL: 60}); err != nil {
			t.Fatal(err)
		}
		n := count()
		if n > limit {
			t.Fatalf("write %d: %d journal entries, limit %d", i, n, limit)
		}
		if i >= limit {
			lowest = min(lowest, n)
		}
	}
	if want := limit - limit/journalTrimBatch; lowest != want {
		t.Errorf("fewest entries kept after the limit was reached: %d, want %d", lowest, want)
	}
	// What is kept still chains to the newest serial.
	cur := serialOf(t, s, "example.org")
	entries, ok, err := s.Journal(ctx, "example.org", cur-uint32(lowest), cur, changesOf(t, s, "example.org"))
	if err != nil || !ok || len(entries) != lowest {
		t.Errorf("journal of the last %d changes: %d entries, ok=%v, err=%v", lowest, len(entries), ok, err)
	}

	s.SetJournalLimits(5, 0)
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "last", Type: "A", Value: "192.0.2.1", TTL: 60}); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 5 {
		t.Errorf("%d entries after the limit was lowered to 5", n)
	}
}

// TestJournalKeyedMigrationKeepsEntries: migration 0008 moves a database's
// journal into the table keyed by (zone, seq), keeping every entry in its
// order and renumbering a zone whose numbers repeat.
func TestJournalKeyedMigrationKeepsEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcns.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.version >= 8 {
			break
		}
		if _, err := db.Exec(m.sql); err != nil {
			t.Fatalf("%s: %v", m.name, err)
		}
		if _, err := db.Exec("INSERT INTO schema_migrations VALUES (?, ?, 0)", m.version, m.name); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []struct {
		zone      string
		seq, from int
	}{{"example.org.", 1, 10}, {"example.org.", 2, 11}, {"example.org.", 2, 12}, {"other.test.", 5, 20}} {
		_, err := db.Exec(`INSERT INTO mcns_journal(zone, from_serial, to_serial, old_soa, new_soa, removed, added, to_changes, created_at, seq)
			VALUES (?, ?, ?, 'o', 'n', '', '', 7, 1, ?)`, e.zone, e.from, e.from+1, e.seq)
		if err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rows, err := s.db.Query("SELECT zone, seq, from_serial, to_changes FROM mcns_journal ORDER BY zone, seq")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var zone string
		var seq, from, changes int
		if err := rows.Scan(&zone, &seq, &from, &changes); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %d %d %d", zone, seq, from, changes))
	}
	rows.Close()
	want := []string{"example.org. 1 10 7", "example.org. 2 11 7", "example.org. 3 12 7", "other.test. 1 20 7"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("journal after migration: %q, want %q", got, want)
	}
	if _, err := s.db.Exec("INSERT INTO mcns_journal(zone, seq, from_serial, to_serial, old_soa, new_soa, removed, added, created_at) VALUES ('other.test.', 1, 0, 0, '', '', '', '', 0)"); err == nil {
		t.Fatal("a second entry with one zone and number was accepted")
	}
}
