package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestRestoreSecondaryConverges follows the runbook's restore with knotd as
// the secondary: knotd follows two changes, the primary is stopped, an
// older backup is copied over its database, and it is started again.
// knotd must converge to the restored data within 2 s: the restored zone
// is served with a serial above every serial served before, and its IXFR
// journal no longer claims to lead there, so knotd takes a full transfer.
func TestRestoreSecondaryConverges(t *testing.T) {
	bin := binDir(t)
	knotd := needTool(t, "knotd")
	knotPort := freePort(t)
	p := startPrimary(t, bin, knotPort)
	knot := startKnotSecondary(t, knotd, knotPort, p.port)
	waitSerial := func(what string, within time.Duration, want uint32) {
		t.Helper()
		waitFor(t, within, what, func() error {
			got, err := soaSerialAt(knot, xfrZone)
			if err == nil && got != want {
				err = fmt.Errorf("knotd serial %d, want %d", got, want)
			}
			return err
		})
	}
	waitSerial("knotd loads the zone", 10*time.Second, xfrSerial)

	// The backup, taken as mcns-backup.sh and the API take them.
	db := filepath.Join(p.dir, "zones.db")
	backup := snapshotOf(t, db)

	for _, name := range []string{"after-backup-1", "after-backup-2"} {
		p.apiAddRecord(t, xfrZone, name, "A", "192.0.2.201")
		serial, err := soaSerialAt(p.addr, xfrZone)
		if err != nil {
			t.Fatal(err)
		}
		waitSerial("knotd follows "+name, 2*time.Second, serial)
	}
	followed, _ := soaSerialAt(knot, xfrZone)

	// The runbook: stop, copy the backup over the database, drop the WAL.
	if err := p.process.interrupt(t, 10*time.Second); err != nil {
		t.Logf("primary exit: %v", err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, db, string(data))
	os.Remove(db + "-wal")
	os.Remove(db + "-shm")
	p.process = start(t, p.dir, nil, filepath.Join(bin, "coredns"), "-conf", filepath.Join(p.dir, "Corefile"))
	var restored uint32
	waitFor(t, 10*time.Second, "primary answers after the restore", func() error {
		restored, err = soaSerialAt(p.addr, xfrZone)
		return err
	})
	started := time.Now()
	if !store.SerialAfter(restored, followed) {
		t.Fatalf("restored zone served with serial %d, not above %d that knotd holds", restored, followed)
	}
	waitFor(t, 2*time.Second, "knotd converges to the restored data", func() error {
		got, err := soaSerialAt(knot, xfrZone)
		if err != nil || got != restored {
			return fmt.Errorf("knotd serial %d (%v), want %d", got, err, restored)
		}
		if a, rcode, err := answerAt(knot, "after-backup-1.example.test.", dns.TypeA); err != nil || rcode != dns.RcodeNameError {
			return fmt.Errorf("knotd still has after-backup-1: %v %s %v", a, dns.RcodeToString[rcode], err)
		}
		return nil
	})
	t.Logf("knotd converged %v after the restored primary answered", time.Since(started).Round(time.Millisecond))
}

// snapshotOf copies db with VACUUM INTO, as the backup timer does.
func snapshotOf(t *testing.T, db string) string {
	t.Helper()
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	path, err := st.Snapshot(context.Background(), t.TempDir(), 1)
	if err != nil {
		t.Fatal(err)
	}
	return path
}
