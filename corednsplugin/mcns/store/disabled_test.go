package store

import (
	"context"
	"errors"
	"testing"
)

// TestDeleteIgnoresDisabledRow: a disabled row is not served, so it cannot
// be deleted (as Record cannot read it), and nothing reaches the journal.
func TestDeleteIgnoresDisabledRow(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.com")
	rec, err := s.AddRecord(ctx, "example.com", RecordSpec{Name: "www", Type: "A", Value: "192.0.2.1", TTL: 60})
	if err != nil {
		t.Fatal(err)
	}
	z, _ := s.Zone(ctx, "example.com")
	// A disabled copy of the served row, as PowerDNS admin tools leave.
	res, err := s.DB().Exec("INSERT INTO records(domain_id,name,type,content,ttl,prio,disabled,auth) VALUES (?, 'www.example.com','A','192.0.2.1',60,0,1,1)", z.ID)
	if err != nil {
		t.Fatal(err)
	}
	did, _ := res.LastInsertId()
	if _, err := s.Record(ctx, "example.com", did); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disabled row readable: %v", err)
	}
	s0 := serialOf(t, s, "example.com")
	if err := s.DeleteRecord(ctx, "example.com", did); !errors.Is(err, ErrNotFound) {
		t.Fatalf("delete of a disabled row: %v, want ErrNotFound", err)
	}
	if s1 := serialOf(t, s, "example.com"); s1 != s0 {
		t.Errorf("serial moved %d -> %d", s0, s1)
	}
	if _, err := s.Record(ctx, "example.com", rec.ID); err != nil {
		t.Errorf("served record: %v", err)
	}
	var n int
	s.DB().QueryRow("SELECT count(*) FROM records WHERE id = ?", did).Scan(&n)
	if n != 1 {
		t.Error("disabled row deleted")
	}
}
