package store

import (
	"context"
	"errors"
	"testing"
)

// TestApexKeepsAnNSRecord: deleting the apex's last NS record is refused
// with the zone unchanged; deleting one of two, or writing elsewhere, is
// not.
func TestApexKeepsAnNSRecord(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	z := mustZone(t, s, "example.org.")
	nsIDs := func() []int64 {
		rs, err := s.Records(ctx, z.Name, Filter{Name: "@", Type: "NS"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		return ids
	}
	first := nsIDs()
	if len(first) != 1 {
		t.Fatalf("new zone has %d apex NS records, want 1", len(first))
	}
	if _, err := s.AddRecord(ctx, z.Name, RecordSpec{Name: "www", Type: "A", Value: "192.0.2.1", TTL: 60}); err != nil {
		t.Fatal(err)
	}
	serial := func() uint32 {
		zz, err := s.Zone(ctx, z.Name)
		if err != nil {
			t.Fatal(err)
		}
		return zz.Serial
	}
	before := serial()
	if err := s.DeleteRecord(ctx, z.Name, first[0]); !errors.Is(err, ErrConflict) {
		t.Fatalf("deleting the last apex NS: %v, want a conflict", err)
	}
	if got := nsIDs(); len(got) != 1 || serial() != before {
		t.Fatalf("after the refused delete: NS %v, serial %d (was %d)", got, serial(), before)
	}
	if _, err := s.AddRecord(ctx, z.Name, RecordSpec{Name: "@", Type: "NS", Value: "ns2.example.net.", TTL: 60}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRecord(ctx, z.Name, first[0]); err != nil {
		t.Fatalf("deleting one of two apex NS records: %v", err)
	}
}
