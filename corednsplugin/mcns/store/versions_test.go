package store

import (
	"context"
	"testing"
)

// TestDomainBookkeepingIsNoChange checks that the columns pdns_server
// writes as bookkeeping leave the zone's change counter alone, while a
// change of what the zone is raises it.
func TestDomainBookkeepingIsNoChange(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	version := func() ZoneVersion {
		t.Helper()
		states, err := s.ZoneStates(ctx)
		if err != nil {
			t.Fatal(err)
		}
		st, ok := states["example.org."]
		if !ok {
			t.Fatal("example.org. missing from ZoneStates")
		}
		return st.Version
	}
	before := version()
	if _, err := s.db.ExecContext(ctx, "UPDATE domains SET notified_serial = 2026112601, last_check = 1764158400 WHERE name = 'example.org'"); err != nil {
		t.Fatal(err)
	}
	if got := version(); got != before {
		t.Fatalf("notified_serial and last_check changed the version from %+v to %+v", before, got)
	}
	if _, err := s.db.ExecContext(ctx, "UPDATE domains SET account = 'ops' WHERE name = 'example.org'"); err != nil {
		t.Fatal(err)
	}
	if got := version(); got.Changes <= before.Changes {
		t.Fatalf("account changed but the version stayed %+v", got)
	}
}
