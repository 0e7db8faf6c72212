package mcns

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestRestoredDatabaseContinuesAboveServedSerials follows the runbook's
// restore: a backup, two changes served, the backup copied over the
// database. The next start serves a serial above every one served before,
// drops the zone's IXFR journal (so secondaries take a full transfer), and
// a zone created after the backup and recreated later continues above its
// old serial too. A plain restart changes nothing.
func TestRestoredDatabaseContinuesAboveServedSerials(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "mcns.db")
	cfg := config{dbPath: db, seeds: writeZones(t, exampleOrg), refresh: time.Hour}
	ctx := context.Background()

	m := startWith(t, cfg, []string{"."})
	backup, err := m.st.Snapshot(ctx, filepath.Join(dir, "backups"), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"one", "two"} {
		if _, err := m.st.AddRecord(ctx, "example.org.", store.RecordSpec{Name: name, Type: "A", Value: "192.0.2.77"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.st.CreateZone(ctx, store.Zone{Name: "example.net", PrimaryNS: "ns1.example.net"}); err != nil {
		t.Fatal(err)
	}
	served, servedNet := zoneSerial(t, m, "example.org."), zoneSerial(t, m, "example.net.")
	m.Stop()

	// A plain restart: same serials, journal kept.
	m = startWith(t, cfg, []string{"."})
	if got := zoneSerial(t, m, "example.org."); got != served {
		t.Fatalf("restart without restore: serial %d, want %d unchanged", got, served)
	}
	if _, ok, _ := m.st.Journal(ctx, "example.org.", 2024010101, served, m.snap.Load().zones["example.org."].version.Changes); !ok {
		t.Fatal("restart without restore dropped the journal")
	}
	m.Stop()

	// The runbook's restore: copy the backup over the database.
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(db, data, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")

	m = startWith(t, cfg, []string{"."})
	got := zoneSerial(t, m, "example.org.")
	if !store.SerialAfter(got, served) {
		t.Fatalf("after restore: serial %d, not above %d served before", got, served)
	}
	if _, ok := m.snap.Load().zones["example.net."]; ok {
		t.Fatal("example.net came back with the old database")
	}
	// The journal before the restore described other data.
	if _, ok, _ := m.st.Journal(ctx, "example.org.", 2024010101, got, m.snap.Load().zones["example.org."].version.Changes); ok {
		t.Error("the restored zone's journal still chains to the new serial: IXFR would not fall back")
	}
	z, err := m.st.CreateZone(ctx, store.Zone{Name: "example.net", PrimaryNS: "ns1.example.net"})
	if err != nil {
		t.Fatal(err)
	}
	if !store.SerialAfter(z.Serial, servedNet) {
		t.Errorf("example.net recreated with serial %d, not above %d served before", z.Serial, servedNet)
	}
	floor, err := os.ReadFile(floorPath(db))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(floor), "example.org. ") {
		t.Errorf("floor file:\n%s", floor)
	}
}

func TestSerialFloorFileErrorsNameTheLine(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mcns.db.serials")
	if err := os.WriteFile(path, []byte("# comment\nexample.org. 2024010101\nexample.net. soon\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSerialFloor(path); err == nil || !strings.Contains(err.Error(), path+":3") {
		t.Fatalf("err %v, want one naming %s:3", err, path)
	}
	f, err := loadSerialFloor(filepath.Join(t.TempDir(), "missing"))
	if err != nil || len(f.served) != 0 {
		t.Fatalf("missing file: %v %v", f, err)
	}
}

// floorFileSerial is zone's serial in the floor file of db.
func floorFileSerial(t *testing.T, db, zone string) uint32 {
	t.Helper()
	f, err := loadSerialFloor(floorPath(db))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := f.served[zone]
	if !ok {
		t.Fatalf("floor file has no %s", zone)
	}
	return s
}

// TestSerialFloorIsWrittenRarely makes 200 writes and checks that the floor
// file was written a few times, not once per write, and that it bounds
// every serial served all along.
func TestSerialFloorIsWrittenRarely(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mcns.db")
	m := startWith(t, config{dbPath: db, seeds: writeZones(t, exampleOrg), refresh: time.Hour}, []string{"."})
	ctx := context.Background()
	before := m.floor.saves
	const writes = 200
	for i := 0; i < writes; i++ {
		if _, err := m.st.AddRecord(ctx, "example.org.", store.RecordSpec{Name: "h" + strconv.Itoa(i), Type: "A", Value: "192.0.2.1"}); err != nil {
			t.Fatal(err)
		}
		if s, bound := zoneSerial(t, m, "example.org."), floorFileSerial(t, db, "example.org."); store.SerialAfter(s, bound) {
			t.Fatalf("write %d: serial %d served above the floor file's %d", i, s, bound)
		}
	}
	if saves := m.floor.saves - before; saves > 2 {
		t.Errorf("%d writes wrote the floor file %d times", writes, saves)
	}
}

// TestSerialFloorAfterCrashServesAboveReservation leaves the floor file as
// a crash would (the reservations, not the serials served) and checks the
// next start serves above the reservation, and that a second instance on
// the same database, as a reload starts, takes the serials served instead.
func TestSerialFloorAfterCrashServesAboveReservation(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mcns.db")
	cfg := config{dbPath: db, seeds: writeZones(t, exampleOrg), refresh: time.Hour}
	ctx := context.Background()
	m := startWith(t, cfg, []string{"."})
	if _, err := m.st.AddRecord(ctx, "example.org.", store.RecordSpec{Name: "one", Type: "A", Value: "192.0.2.77"}); err != nil {
		t.Fatal(err)
	}
	served := zoneSerial(t, m, "example.org.")
	reserved := floorFileSerial(t, db, "example.org.")
	if !store.SerialAfter(reserved, served) {
		t.Fatalf("floor file holds %d while serving %d: no reservation", reserved, served)
	}

	// A reload: the new instance starts before the old one stops.
	m2 := startWith(t, cfg, []string{"."})
	if got := zoneSerial(t, m2, "example.org."); got != served {
		t.Fatalf("second instance serves %d, want %d unchanged", got, served)
	}
	crashed, err := os.ReadFile(floorPath(db))
	if err != nil {
		t.Fatal(err)
	}
	m.Stop()
	if got := floorFileSerial(t, db, "example.org."); got != reserved {
		t.Fatalf("floor file %d after the first of two instances stopped, want the reservation %d", got, reserved)
	}
	m2.Stop()
	if got := floorFileSerial(t, db, "example.org."); got != served {
		t.Fatalf("floor file %d after a clean stop, want the served %d", got, served)
	}

	if err := os.WriteFile(floorPath(db), crashed, 0o600); err != nil {
		t.Fatal(err)
	}
	m = startWith(t, cfg, []string{"."})
	if got := zoneSerial(t, m, "example.org."); !store.SerialAfter(got, reserved) {
		t.Fatalf("after a crash: serial %d, not above the reservation %d", got, reserved)
	}
}
