package store

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func rrsetValues(t *testing.T, s *Store, zone, owner string, typ uint16) []string {
	t.Helper()
	var out []string
	err := s.Update(context.Background(), zone, func(tx *Tx) error {
		_, rrs, err := tx.RRset(owner, typ)
		for _, rr := range rrs {
			out = append(out, Rdata(rr))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func mustRRs(t *testing.T, lines ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, rr)
	}
	return out
}

func TestRRsetChangeTypes(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org.")
	ctx := context.Background()
	const owner = "txt.example.org."
	update := func(fn func(*Tx) error) {
		t.Helper()
		if err := s.Update(ctx, "example.org.", fn); err != nil {
			t.Fatal(err)
		}
	}
	update(func(tx *Tx) error {
		return tx.ReplaceRRset(owner, dns.TypeTXT, mustRRs(t, owner+` 60 IN TXT "a"`, owner+` 60 IN TXT "b"`))
	})
	if got := strings.Join(rrsetValues(t, s, "example.org.", owner, dns.TypeTXT), " "); got != `"a" "b"` {
		t.Errorf("REPLACE: %s", got)
	}
	update(func(tx *Tx) error {
		return tx.ExtendRRset(owner, dns.TypeTXT, mustRRs(t, owner+` 60 IN TXT "b"`, owner+` 60 IN TXT "c"`))
	})
	if got := strings.Join(rrsetValues(t, s, "example.org.", owner, dns.TypeTXT), " "); got != `"a" "b" "c"` {
		t.Errorf("EXTEND: %s", got)
	}
	update(func(tx *Tx) error { return tx.PruneRRset(owner, dns.TypeTXT, mustRRs(t, owner+` 60 IN TXT "a"`)) })
	if got := strings.Join(rrsetValues(t, s, "example.org.", owner, dns.TypeTXT), " "); got != `"b" "c"` {
		t.Errorf("PRUNE: %s", got)
	}
	update(func(tx *Tx) error { return tx.DeleteRRset(owner, dns.TypeTXT) })
	if got := rrsetValues(t, s, "example.org.", owner, dns.TypeTXT); len(got) != 0 {
		t.Errorf("DELETE: %v", got)
	}
	err := s.Update(ctx, "example.org.", func(tx *Tx) error { return tx.DeleteRRset("example.org.", dns.TypeSOA) })
	if !errors.Is(err, ErrInvalid) {
		t.Errorf("SOA delete: %v", err)
	}
}

// TestRRsetsAtomic: a failing RRset change rolls back the earlier ones of
// the same transaction.
func TestRRsetsAtomic(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org.")
	before, _ := s.Zone(context.Background(), "example.org.")
	err := s.Update(context.Background(), "example.org.", func(tx *Tx) error {
		if err := tx.ReplaceRRset("a.example.org.", dns.TypeA, mustRRs(t, "a.example.org. 60 IN A 192.0.2.1")); err != nil {
			return err
		}
		return tx.ReplaceRRset("a.example.org.", dns.TypeCNAME, mustRRs(t, "a.example.org. 60 IN CNAME b.example.org."))
	})
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("CNAME beside A: %v", err)
	}
	if got := rrsetValues(t, s, "example.org.", "a.example.org.", dns.TypeA); len(got) != 0 {
		t.Errorf("A kept after rollback: %v", got)
	}
	after, _ := s.Zone(context.Background(), "example.org.")
	if after.Serial != before.Serial {
		t.Errorf("serial moved %d -> %d", before.Serial, after.Serial)
	}
}

func TestComments(t *testing.T) {
	s := openTest(t)
	mustZone(t, s, "example.org.")
	ctx := context.Background()
	err := s.Update(ctx, "example.org.", func(tx *Tx) error {
		return tx.SetComments("WWW.example.org.", dns.TypeA, []Comment{{Content: "web", Account: "ops"}, {Content: "old", ModifiedAt: 5}})
	})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := s.Comments(ctx, "example.org.")
	if err != nil || len(cs) != 2 || cs[0].Name != "www.example.org." || cs[0].Type != "A" || cs[0].ModifiedAt != fixedNow.Unix() || cs[1].ModifiedAt != 5 {
		t.Fatalf("comments: %+v %v", cs, err)
	}
	if err := s.Update(ctx, "example.org.", func(tx *Tx) error { return tx.SetComments("www.example.org.", dns.TypeA, nil) }); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.Comments(ctx, "example.org."); len(cs) != 0 {
		t.Errorf("comments after clearing: %+v", cs)
	}
}

func TestCreateZoneWithIsAtomic(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	ns := mustRRs(t, "example.org. 3600 IN NS ns1.example.org.")
	err := s.CreateZoneWith(ctx, Zone{Name: "example.org.", PrimaryNS: "ns1.example.org."}, func(tx *Tx) error {
		if _, err := tx.Add(ns[0]); err != nil {
			return err
		}
		return tx.ReplaceRRset("a.example.org.", dns.TypeCNAME, mustRRs(t, "a.example.org. 60 IN CNAME example.org.", "a.example.org. 60 IN CNAME b.example.org."))
	})
	if err == nil {
		t.Fatal("two CNAMEs accepted")
	}
	if _, err := s.Zone(ctx, "example.org."); !errors.Is(err, ErrNotFound) {
		t.Errorf("zone exists after failed create: %v", err)
	}
	if err := s.CreateZoneWith(ctx, Zone{Name: "example.org.", PrimaryNS: "ns1.example.org."}, func(tx *Tx) error {
		_, err := tx.Add(ns[0])
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateZoneWith(ctx, Zone{Name: "example.org.", PrimaryNS: "ns1.example.org."}, func(*Tx) error { return nil }); !errors.Is(err, ErrConflict) || !errors.Is(err, ErrZoneExists) {
		t.Errorf("second create: %v", err)
	}
}
