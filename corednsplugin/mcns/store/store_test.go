package store

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var fixedNow = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func openTest(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "mcns.db"))
	if err != nil {
		t.Fatal(err)
	}
	s.now = func() time.Time { return fixedNow }
	t.Cleanup(func() { s.Close() })
	return s
}

func mustZone(t *testing.T, s *Store, name string) Zone {
	t.Helper()
	z, err := s.CreateZone(context.Background(), Zone{Name: name, PrimaryNS: "ns." + name, AdminEmail: "hostmaster@" + name})
	if err != nil {
		t.Fatal(err)
	}
	return z
}

func TestOpenCreatesSchemaIdempotently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub.db")
	for i := 0; i < 3; i++ {
		s, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.db.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		ms, _ := migrations()
		if n != len(ms) {
			t.Fatalf("open %d: %d migrations recorded, want %d", i, n, len(ms))
		}
		for _, table := range []string{"domains", "records", "supermasters", "comments", "domainmetadata", "cryptokeys", "tsigkeys", "mcns_seeded"} {
			var c int
			s.db.QueryRow("SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", table).Scan(&c)
			if c != 1 {
				t.Fatalf("table %s missing", table)
			}
		}
		var mode string
		s.db.QueryRow("PRAGMA journal_mode").Scan(&mode)
		var fk int
		s.db.QueryRow("PRAGMA foreign_keys").Scan(&fk)
		if mode != "wal" || fk != 1 {
			t.Fatalf("journal_mode %q foreign_keys %d", mode, fk)
		}
		s.Close()
	}
}

func TestOpenAdoptsPowerDNSDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pdns.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ms, _ := migrations()
	if _, err := db.Exec(ms[0].sql); err != nil {
		t.Fatal(err)
	}
	db.Exec("INSERT INTO domains(name, type) VALUES ('example.org', 'NATIVE')")
	db.Close()
	s, err := Open(path)
	if err != nil {
		t.Fatalf("open of a PowerDNS-created database: %v", err)
	}
	defer s.Close()
	zs, err := s.Zones(context.Background())
	if err != nil || len(zs) != 1 || zs[0].Name != "example.org." {
		t.Fatalf("zones %v %v", zs, err)
	}
}

func TestOpenUnwritableDirectory(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "plain")
	os.WriteFile(file, nil, 0o600)
	for _, p := range []string{filepath.Join(file, "x.db"), filepath.Join(dir, "missing", "x.db")} {
		_, err := Open(p)
		if err == nil || !strings.Contains(err.Error(), filepath.Dir(p)) {
			t.Fatalf("Open(%s) = %v, want an error naming the directory", p, err)
		}
	}
}

func TestNextSerial(t *testing.T) {
	for _, c := range []struct {
		old, want uint32
	}{
		{0, 2026112600},
		{1, 2026112600},
		{2024010105, 2026112600},
		{2026112600, 2026112601},
		{2026112605, 2026112606},
		{2026112699, 2026112700},
		{2026112700, 2026112701}, // ahead of today: +1
		{4294967295, 2026112600}, // after 2^32-1 in RFC 1982 order
	} {
		if got := NextSerial(c.old, fixedNow); got != c.want {
			t.Errorf("NextSerial(%d) = %d, want %d", c.old, got, c.want)
		}
	}
}

func TestZoneLifecycleAndSerial(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	z := mustZone(t, s, "Example.ORG")
	if z.Name != "example.org." || z.Serial != 2026112600 || z.PrimaryNS != "ns.example.org." || z.AdminEmail != "hostmaster@example.org" ||
		z.Refresh != DefaultRefresh || z.Minimum != DefaultMinimum || z.TTL != DefaultTTL {
		t.Fatalf("created %+v", z)
	}
	if _, err := s.CreateZone(ctx, Zone{Name: "example.org", PrimaryNS: "ns.example.org"}); !errors.Is(err, ErrConflict) {
		t.Fatalf("second create: %v", err)
	}
	if _, err := s.CreateZone(ctx, Zone{Name: "x.test"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("create without primary NS: %v", err)
	}
	// PowerDNS layout of the rows.
	var content string
	s.db.QueryRow("SELECT content FROM records WHERE type='SOA'").Scan(&content)
	if content != "ns.example.org hostmaster.example.org 2026112600 10800 3600 1209600 300" {
		t.Fatalf("SOA content %q", content)
	}
	prev := z.Serial
	for i := 0; i < 3; i++ {
		if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "h" + string(rune('a'+i)), Type: "A", Value: "192.0.2.1", TTL: 60}); err != nil {
			t.Fatal(err)
		}
		z, _ = s.Zone(ctx, "example.org.")
		if !SerialAfter(z.Serial, prev) {
			t.Fatalf("serial %d after %d", z.Serial, prev)
		}
		prev = z.Serial
	}
	if z.Serial != 2026112603 {
		t.Fatalf("serial %d", z.Serial)
	}
	z, err := s.UpdateZone(ctx, "example.org", Zone{Minimum: 60, AdminEmail: "first.last@example.net"})
	if err != nil || z.Minimum != 60 || z.AdminEmail != "first.last@example.net" || z.Refresh != DefaultRefresh || z.Serial != 2026112604 {
		t.Fatalf("update %+v %v", z, err)
	}
	if err := s.DeleteZone(ctx, "example.org"); err != nil {
		t.Fatal(err)
	}
	var n int
	s.db.QueryRow("SELECT count(*) FROM records").Scan(&n)
	if n != 0 {
		t.Fatalf("%d records left after zone delete", n)
	}
	if err := s.DeleteZone(ctx, "example.org"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if _, err := s.AddRecord(ctx, "example.org", RecordSpec{Name: "a", Type: "A", Value: "192.0.2.1"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("add to missing zone: %v", err)
	}
}

// dump is every row of the tables a rejected write must leave unchanged.
func dump(t *testing.T, s *Store) string {
	t.Helper()
	rows, err := s.db.Query("SELECT id, domain_id, name, type, content, ttl, prio, disabled, auth FROM records ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var v [9]sql.NullString
		rows.Scan(&v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8])
		for _, x := range v {
			b.WriteString(x.String + "|")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestRecordRules(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	mustZone(t, s, "other.test")
	good := []RecordSpec{
		{"www", "A", "192.0.2.1", 300},
		{"www", "A", "192.0.2.2", 300},
		{"www.example.org.", "AAAA", "2001:db8::1", 300},
		{"@", "MX", "10 mail", 300},
		{"@", "TXT", `"v=spf1 -all" "second"`, 300},
		{"_sip._tcp", "SRV", "5 10 5060 sip.example.org.", 300},
		{"@", "CAA", `0 issue "letsencrypt.org"`, 300},
		{"alias", "CNAME", "www", 300},
		{"1.2", "PTR", "host.example.net.", 300},
		{"sub", "NS", "ns.sub", 300},
		{"ns.sub", "A", "192.0.2.53", 300},
		{"d", "DNAME", "example.net.", 300},
		{"*.wild", "A", "192.0.2.9", 0},
		{"max", "A", "192.0.2.9", 2147483647},
		{"sshfp", "SSHFP", "1 1 123456789abcdef67890123456789abcdef67890", 300},
	}
	for _, r := range good {
		if _, err := s.AddRecord(ctx, "example.org", r); err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
	}
	// Stored as PowerDNS stores them.
	for q, want := range map[string]string{
		"SELECT content || '/' || prio FROM records WHERE type='MX'":          "mail.example.org/10",
		"SELECT content || '/' || prio FROM records WHERE type='SRV'":         "10 5060 sip.example.org/5",
		"SELECT content FROM records WHERE type='CNAME'":                      "www.example.org",
		"SELECT name FROM records WHERE type='AAAA'":                          "www.example.org",
		"SELECT content FROM records WHERE type='TXT'":                        `"v=spf1 -all" "second"`,
		"SELECT content FROM records WHERE type='CAA'":                        `0 issue "letsencrypt.org"`,
		"SELECT auth FROM records WHERE type='NS' AND name='sub.example.org'": "0",
	} {
		var got string
		if err := s.db.QueryRow(q).Scan(&got); err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", q, got, err, want)
		}
	}
	bad := []struct {
		r    RecordSpec
		want error
	}{
		{RecordSpec{"x", "A", "2001:db8::1", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "::ffff:192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "192.0.2.300", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "192.0.2.1 extra", 300}, ErrInvalid},
		{RecordSpec{"x", "AAAA", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "192.0.2.1\nevil 300 IN A 192.0.2.2", 300}, ErrInvalid},
		{RecordSpec{"x", "A", "192.0.2.1", 2147483648}, ErrInvalid},
		{RecordSpec{"x", "NOPE", "1", 300}, ErrInvalid},
		{RecordSpec{"x", "MX", "mail", 300}, ErrInvalid},
		{RecordSpec{"x", "MX", "70000 mail", 300}, ErrInvalid},
		{RecordSpec{"x", "SRV", "1 2 mail", 300}, ErrInvalid},
		{RecordSpec{"x", "TXT", `"unterminated`, 300}, ErrInvalid},
		{RecordSpec{"x", "CAA", `0 issue`, 300}, ErrInvalid},
		{RecordSpec{"x", "SOA", "ns hm 1 2 3 4 5", 300}, ErrInvalid},
		{RecordSpec{"x", "ANY", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"www.other.test.", "A", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"example.org.evil.", "A", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"a..b", "A", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"x'; DROP TABLE records; --", "A", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"", "A", "192.0.2.1", 300}, ErrInvalid},
		{RecordSpec{"@", "CNAME", "www", 300}, ErrInvalid},
		{RecordSpec{"www", "CNAME", "other.test.", 300}, ErrConflict},   // CNAME beside A
		{RecordSpec{"alias", "A", "192.0.2.1", 300}, ErrConflict},       // A beside CNAME
		{RecordSpec{"alias", "CNAME", "other.test.", 300}, ErrConflict}, // second CNAME
		{RecordSpec{"sub", "CNAME", "other.test.", 300}, ErrConflict},   // CNAME at a delegation
		{RecordSpec{"d", "DNAME", "example.com.", 300}, ErrConflict},
		{RecordSpec{"x.d", "A", "192.0.2.1", 300}, ErrConflict},        // below a DNAME
		{RecordSpec{"y.x.d", "TXT", `"t"`, 300}, ErrConflict},          // further below
		{RecordSpec{"sub", "DNAME", "example.com.", 300}, ErrConflict}, // names below sub exist
		{RecordSpec{"@", "DNAME", "example.com.", 300}, ErrConflict},   // the whole zone is below
		{RecordSpec{"www", "A", "192.0.2.1", 60}, ErrConflict},         // duplicate, TTL aside
		{RecordSpec{"WWW.example.org.", "A", "192.0.2.1", 300}, ErrConflict},
		{RecordSpec{"@", "MX", "10 mail.example.org.", 300}, ErrConflict},
	}
	before := dump(t, s)
	zBefore, _ := s.Zone(ctx, "example.org")
	for _, b := range bad {
		_, err := s.AddRecord(ctx, "example.org", b.r)
		if !errors.Is(err, b.want) {
			t.Errorf("%+v: err %v, want %v", b.r, err, b.want)
		}
	}
	if after := dump(t, s); after != before {
		t.Fatalf("rejected writes changed the database:\n%s\n%s", before, after)
	}
	if z, _ := s.Zone(ctx, "example.org"); z.Serial != zBefore.Serial {
		t.Fatalf("serial moved on rejected writes")
	}
}

func TestUpdateDeleteRecord(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	mustZone(t, s, "other.test")
	a, err := s.AddRecord(ctx, "example.org", RecordSpec{"www", "A", "192.0.2.1", 300})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := s.AddRecord(ctx, "example.org", RecordSpec{"alias", "CNAME", "www", 300})
	// Turning a CNAME into an A at the same name is fine: the old row is gone.
	r, err := s.UpdateRecord(ctx, "example.org", c.ID, RecordSpec{"alias", "A", "192.0.2.7", 60})
	if err != nil || r.ID != c.ID || r.Type != "A" || r.Content != "192.0.2.7" || r.TTL != 60 {
		t.Fatalf("update %+v %v", r, err)
	}
	if _, err := s.UpdateRecord(ctx, "example.org", a.ID, RecordSpec{"alias", "CNAME", "x", 60}); !errors.Is(err, ErrConflict) {
		t.Fatalf("update into a CNAME conflict: %v", err)
	}
	if _, err := s.Record(ctx, "other.test", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("record through a foreign zone: %v", err)
	}
	if err := s.DeleteRecord(ctx, "other.test", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete through a foreign zone: %v", err)
	}
	if err := s.DeleteRecord(ctx, "example.org", a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, "example.org", a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	recs, _ := s.Records(ctx, "example.org", Filter{Type: "NS"})
	if len(recs) != 1 {
		t.Fatalf("NS records %+v", recs)
	}
	if err := s.DeleteRecord(ctx, "example.org", recs[0].ID); !errors.Is(err, ErrConflict) {
		t.Fatalf("deleting the last apex NS: %v", err)
	}
	soa, _ := s.Records(ctx, "example.org", Filter{Type: "soa"})
	if err := s.DeleteRecord(ctx, "example.org", soa[0].ID); !errors.Is(err, ErrInvalid) {
		t.Fatalf("deleting the SOA: %v", err)
	}
	got, _ := s.Records(ctx, "example.org", Filter{Name: "alias"})
	if len(got) != 1 || got[0].Name != "alias.example.org." {
		t.Fatalf("filter by name %+v", got)
	}
}

// TestWrittenRecordIsTheStoredOne: AddRecord and UpdateRecord answer with
// the record they wrote without reading its row back; what they answer
// must be what a later read of the row shows.
func TestWrittenRecordIsTheStoredOne(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	specs := []RecordSpec{
		{"WWW", "A", "192.0.2.1", 300},
		{"v6.example.org.", "aaaa", "2001:DB8::1", 60},
		{"@", "MX", "10 Mail.Example.org.", 3600},
		{"_sip._tcp", "SRV", "10 20 5060 sip", 120},
		{"t", "TXT", `"a b" "c"`, 30},
		{"@", "CAA", `0 issue "letsencrypt.org"`, 0},
		{"alias", "CNAME", "www", 300},
	}
	for _, spec := range specs {
		got, err := s.AddRecord(ctx, "example.org", spec)
		if err != nil {
			t.Fatalf("add %+v: %v", spec, err)
		}
		if want, err := s.Record(ctx, "example.org", got.ID); err != nil || got != want {
			t.Fatalf("add %+v answered %+v, stored %+v (%v)", spec, got, want, err)
		}
	}
	recs, _ := s.Records(ctx, "example.org", Filter{Name: "alias"})
	got, err := s.UpdateRecord(ctx, "example.org", recs[0].ID, RecordSpec{"alias", "MX", "5 mx.other.test.", 90})
	if err != nil {
		t.Fatal(err)
	}
	if want, err := s.Record(ctx, "example.org", got.ID); err != nil || got != want {
		t.Fatalf("update answered %+v, stored %+v (%v)", got, want, err)
	}
}

func TestSeedOnceAndLoad(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "example.org.zone")
	os.WriteFile(path, []byte(`$ORIGIN example.org.
$TTL 300
@ IN SOA ns hostmaster 2024010101 7200 3600 1209600 60
@ NS ns
ns A 192.0.2.1
@ MX 10 mail
mail A 192.0.2.2
`), 0o600)
	for i := 0; i < 2; i++ {
		got, err := s.Seed(ctx, []string{path})
		if err != nil {
			t.Fatal(err)
		}
		if (i == 0) != (len(got) == 1) {
			t.Fatalf("run %d imported %v", i, got)
		}
	}
	z, _ := s.Zone(ctx, "example.org")
	if z.Serial != 2024010101 || z.Minimum != 60 {
		t.Fatalf("seeded zone %+v", z)
	}
	// A deleted seeded zone is not imported again.
	s.DeleteZone(ctx, "example.org")
	if got, err := s.Seed(ctx, []string{path}); err != nil || len(got) != 0 {
		t.Fatalf("re-seed after delete: %v %v", got, err)
	}
	bad := filepath.Join(t.TempDir(), "bad.zone")
	os.WriteFile(bad, []byte("www A 192.0.2.1\n"), 0o600)
	if _, err := s.Seed(ctx, []string{bad}); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad seed file: %v", err)
	}
}

func TestLoadZoneFollowsPowerDNSRows(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	z := mustZone(t, s, "example.org")
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := s.db.Exec(q, args...); err != nil {
			t.Fatal(err)
		}
	}
	// Rows as pdnsutil and the sqlite3 shell write them.
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'www.example.org', 'A', '192.0.2.1', 300, 0, 0, 1)", z.ID)
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'off.example.org', 'A', '192.0.2.2', 300, 0, 1, 1)", z.ID)
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'ent.example.org', NULL, NULL, NULL, NULL, 0, 1)", z.ID)
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'example.org', 'MX', 'mail.example.org', 300, 10, 0, 1)", z.ID)
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'bad.example.org', 'A', 'not-an-ip', 300, 0, 0, 1)", z.ID)
	exec("INSERT INTO records(domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, 'www.elsewhere.test', 'A', '192.0.2.3', 300, 0, 0, 1)", z.ID)
	zd, err := s.LoadZone(ctx, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range zd.Records {
		got = append(got, rr.String())
	}
	want := []string{
		"example.org.\t3600\tIN\tSOA\tns.example.org. hostmaster.example.org. 2026112600 10800 3600 1209600 300",
		"example.org.\t3600\tIN\tNS\tns.example.org.",
		"www.example.org.\t300\tIN\tA\t192.0.2.1",
		"example.org.\t300\tIN\tMX\t10 mail.example.org.",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("loaded:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if zd.Skipped != 2 || zd.BadRow == nil {
		t.Fatalf("skipped %d %v", zd.Skipped, zd.BadRow)
	}
	// The zone's version moves with edits that keep the row count, such
	// as a new address, made by another program.
	st1, _ := s.ZoneStates(ctx)
	if st1["example.org."].Version != zd.Version {
		t.Fatalf("version %v vs load %v", st1["example.org."].Version, zd.Version)
	}
	exec("UPDATE records SET content = '192.0.2.9' WHERE name = 'www.example.org'")
	st2, _ := s.ZoneStates(ctx)
	if st2["example.org."].Version == st1["example.org."].Version || st2["example.org."].Ours {
		t.Fatalf("version after an outside edit: %v then %v", st1["example.org."], st2["example.org."])
	}
	// data_version moves when another connection commits.
	v1, err := s.DataVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exec("UPDATE records SET ttl = 5 WHERE name = 'www.example.org'")
	if v2, _ := s.DataVersion(ctx); v2 == v1 {
		t.Fatal("data_version did not move")
	}
	if _, err := s.LoadZone(ctx, "missing.test"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing zone: %v", err)
	}
}

func TestSnapshotKeepsNewest(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org")
	dir := t.TempDir()
	var last string
	for i := 0; i < 4; i++ {
		s.now = func() time.Time { return fixedNow.Add(time.Duration(i) * time.Second) }
		p, err := s.Snapshot(context.Background(), dir, 2)
		if err != nil {
			t.Fatal(err)
		}
		last = p
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("%d snapshots kept", len(entries))
	}
	c, err := Open(last)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if z, err := c.Zone(context.Background(), "example.org"); err != nil || z.Serial != 2026112600 {
		t.Fatalf("snapshot zone %+v %v", z, err)
	}
	_ = dns.TypeA
}
