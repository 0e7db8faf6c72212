package store

import (
	"context"
	"testing"
)

// TestRecreatedZoneSerialContinues: a zone deleted and created again the
// same day continues after its old serial, or secondaries still holding the
// old zone would consider themselves current.
func TestRecreatedZoneSerialContinues(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.com")
	mustZone(t, s, "example.net")
	for i := range 3 {
		if _, err := s.AddRecord(ctx, "example.com", RecordSpec{Name: "h", Type: "A", Value: "192.0.2." + string(rune('1'+i)), TTL: 60}); err != nil {
			t.Fatal(err)
		}
	}
	old := serialOf(t, s, "example.com")
	if err := s.DeleteZone(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	z := mustZone(t, s, "example.com")
	if !SerialAfter(z.Serial, old) {
		t.Errorf("recreated zone's serial %d is not after the deleted one's %d", z.Serial, old)
	}
	// Again, now from the recreated zone's serial.
	old = z.Serial
	if err := s.DeleteZone(ctx, "example.com"); err != nil {
		t.Fatal(err)
	}
	if z := mustZone(t, s, "Example.COM."); z.Serial != old+1 {
		t.Errorf("second recreation: serial %d, want %d", z.Serial, old+1)
	}
	// Another zone is unaffected, and an explicit serial is kept.
	if got, want := serialOf(t, s, "example.net"), NextSerial(0, fixedNow); got != want {
		t.Errorf("untouched zone serial %d, want %d", got, want)
	}
	if err := s.DeleteZone(ctx, "example.net"); err != nil {
		t.Fatal(err)
	}
	if z, err := s.CreateZone(ctx, Zone{Name: "example.net", PrimaryNS: "ns.example.net", Serial: 7}); err != nil || z.Serial != 7 {
		t.Errorf("explicit serial: %d, %v", z.Serial, err)
	}
}
