package store

import (
	"context"
	"slices"
	"sort"
	"testing"

	"github.com/miekg/dns"
)

// zoneKeys is the zone's served records (SOA left out) as a sorted set.
func zoneKeys(t *testing.T, s *Store, zone string) []string {
	t.Helper()
	zd, err := s.LoadZone(context.Background(), zone)
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, rr := range zd.Records {
		if rr.Header().Rrtype != dns.TypeSOA {
			set[recordKey(rr)] = true
		}
	}
	return sortedKeys(set)
}

func sortedKeys(set map[string]bool) []string {
	var out []string
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// applyJournal is what an RFC 1995 secondary does with the entries:
// deletions, then additions, per entry.
func applyJournal(base []string, es []JournalEntry) []string {
	set := map[string]bool{}
	for _, k := range base {
		set[k] = true
	}
	for _, e := range es {
		for _, rr := range e.Removed {
			delete(set, recordKey(rr))
		}
		for _, rr := range e.Added {
			set[recordKey(rr)] = true
		}
	}
	return sortedKeys(set)
}

func mustRR(t *testing.T, s string) dns.RR {
	t.Helper()
	rr, err := dns.NewRR(s)
	if err != nil {
		t.Fatal(err)
	}
	return rr
}

// TestJournalIsNetChange: the journal entry of a transaction is the net
// difference between the zone before and after it, so a secondary applying
// it ends up with the primary's data, whatever steps the transaction took.
func TestJournalIsNetChange(t *testing.T) {
	const pre = "old.example.org. 60 IN A 192.0.2.1"
	del := func(tx *Tx, owner string, typ uint16) error {
		ids, _, err := tx.RRset(owner, typ)
		for _, id := range ids {
			if _, err := tx.Delete(id); err != nil {
				return err
			}
		}
		return err
	}
	cases := []struct {
		name           string
		fn             func(*testing.T, *Tx) error
		removed, added int
	}{
		{"add then delete", func(t *testing.T, tx *Tx) error {
			id, err := tx.Add(mustRR(t, "x.example.org. 60 IN A 192.0.2.99"))
			if err != nil {
				return err
			}
			_, err = tx.Delete(id)
			return err
		}, 0, 0},
		{"add then change TTL", func(t *testing.T, tx *Tx) error {
			id, err := tx.Add(mustRR(t, "x.example.org. 60 IN A 192.0.2.99"))
			if err != nil {
				return err
			}
			if _, err := tx.Delete(id); err != nil {
				return err
			}
			_, err = tx.Add(mustRR(t, "x.example.org. 120 IN A 192.0.2.99"))
			return err
		}, 0, 1},
		{"add then delete name", func(t *testing.T, tx *Tx) error {
			for _, s := range []string{"x.example.org. 60 IN A 192.0.2.99", "x.example.org. 60 IN TXT \"hi\""} {
				if _, err := tx.Add(mustRR(t, s)); err != nil {
					return err
				}
			}
			return del(tx, "x.example.org.", 0)
		}, 0, 0},
		{"delete then add back", func(t *testing.T, tx *Tx) error {
			if err := del(tx, "old.example.org.", dns.TypeA); err != nil {
				return err
			}
			_, err := tx.Add(mustRR(t, pre))
			return err
		}, 0, 0},
		{"delete then add back with another TTL", func(t *testing.T, tx *Tx) error {
			if err := del(tx, "old.example.org.", dns.TypeA); err != nil {
				return err
			}
			_, err := tx.Add(mustRR(t, "old.example.org. 300 IN A 192.0.2.1"))
			return err
		}, 1, 1},
		{"change TTL and back", func(t *testing.T, tx *Tx) error {
			if err := del(tx, "old.example.org.", dns.TypeA); err != nil {
				return err
			}
			id, err := tx.Add(mustRR(t, "old.example.org. 300 IN A 192.0.2.1"))
			if err != nil {
				return err
			}
			if _, err := tx.Delete(id); err != nil {
				return err
			}
			_, err = tx.Add(mustRR(t, pre))
			return err
		}, 0, 0},
		{"delete back, delete again", func(t *testing.T, tx *Tx) error {
			if err := del(tx, "old.example.org.", dns.TypeA); err != nil {
				return err
			}
			if _, err := tx.Add(mustRR(t, pre)); err != nil {
				return err
			}
			return del(tx, "old.example.org.", dns.TypeA)
		}, 1, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := openTest(t)
			ctx := context.Background()
			mustZone(t, s, "example.org")
			if err := s.Update(ctx, "example.org", func(tx *Tx) error {
				_, err := tx.Add(mustRR(t, pre))
				return err
			}); err != nil {
				t.Fatal(err)
			}
			before, s0 := zoneKeys(t, s, "example.org"), serialOf(t, s, "example.org")
			if err := s.Update(ctx, "example.org", func(tx *Tx) error { return c.fn(t, tx) }); err != nil {
				t.Fatal(err)
			}
			after, s1 := zoneKeys(t, s, "example.org"), serialOf(t, s, "example.org")
			es, ok, err := s.Journal(ctx, "example.org", s0, s1, changesOf(t, s, "example.org"))
			if err != nil || !ok || len(es) != 1 {
				t.Fatalf("journal %d..%d: ok=%v err=%v len=%d", s0, s1, ok, err, len(es))
			}
			if got := applyJournal(before, es); !slices.Equal(got, after) {
				t.Errorf("secondary after the journal:\n%v\nprimary:\n%v", got, after)
			}
			if len(es[0].Removed) != c.removed || len(es[0].Added) != c.added {
				t.Errorf("removed %v, added %v; want %d and %d", es[0].Removed, es[0].Added, c.removed, c.added)
			}
		})
	}
}
