package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// RRset operations change every record of one owner name and type at once,
// as PowerDNS's HTTP API does with its changetypes; they are Tx methods so a
// request changing several RRsets commits all of them or none.

// ReplaceRRset makes rrs the served records at owner of type typ. It
// deletes the RRset's rows and inserts rrs, so records present before and
// after get new row ids; the transaction's change (journal, IXFR and the
// served zone's diff) is the net one, in which such records appear on
// neither side, and a record whose TTL differs appears on both.
func (t *Tx) ReplaceRRset(owner string, typ uint16, rrs []dns.RR) error {
	if typ == dns.TypeSOA {
		return fmt.Errorf("%w: the SOA record is changed through the zone", ErrInvalid)
	}
	if err := t.DeleteRRset(owner, typ); err != nil {
		return err
	}
	return t.addAll(rrs)
}

// DeleteRRset removes every served record at owner of type typ.
func (t *Tx) DeleteRRset(owner string, typ uint16) error {
	if typ == dns.TypeSOA {
		return fmt.Errorf("%w: the SOA record is changed through the zone, not deleted", ErrInvalid)
	}
	ids, _, err := t.RRset(owner, typ)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := t.Delete(id); err != nil {
			return fmt.Errorf("delete %s %s: %w", owner, dns.TypeToString[typ], err)
		}
	}
	return nil
}

// ExtendRRset adds the records of rrs not yet present at owner/typ and
// keeps the others.
func (t *Tx) ExtendRRset(owner string, typ uint16, rrs []dns.RR) error {
	_, cur, err := t.RRset(owner, typ)
	if err != nil {
		return err
	}
	var missing []dns.RR
	for _, rr := range rrs {
		if !ContainsRecord(cur, rr) {
			missing = append(missing, rr)
		}
	}
	return t.addAll(missing)
}

// PruneRRset deletes the records of rrs present at owner/typ and keeps the
// others.
func (t *Tx) PruneRRset(owner string, typ uint16, rrs []dns.RR) error {
	if typ == dns.TypeSOA {
		return fmt.Errorf("%w: the SOA record is changed through the zone, not deleted", ErrInvalid)
	}
	ids, cur, err := t.RRset(owner, typ)
	if err != nil {
		return err
	}
	for i, rr := range cur {
		if ContainsRecord(rrs, rr) {
			if _, err := t.Delete(ids[i]); err != nil {
				return fmt.Errorf("prune %s %s: %w", owner, dns.TypeToString[typ], err)
			}
		}
	}
	return nil
}

func (t *Tx) addAll(rrs []dns.RR) error {
	for _, rr := range rrs {
		if _, err := t.Add(rr); err != nil {
			return err
		}
	}
	return nil
}

// ContainsRecord reports whether set holds rr's record (type and RDATA,
// compared as SameRecord does), whatever its TTL.
func ContainsRecord(set []dns.RR, rr dns.RR) bool {
	for _, x := range set {
		if x.Header().Rrtype == rr.Header().Rrtype && SameRecord(x, rr) {
			return true
		}
	}
	return false
}

// Comment is one row of PowerDNS's comments table: a note on an RRset.
type Comment struct {
	Name       string // owner FQDN, lower case
	Type       string
	Content    string
	Account    string
	ModifiedAt int64 // Unix seconds
}

// SetComments replaces the comments on owner/typ with cs; a comment with a
// zero ModifiedAt is stamped with the transaction's time.
func (t *Tx) SetComments(owner string, typ uint16, cs []Comment) error {
	if err := t.requireZone(); err != nil {
		return err
	}
	owner, tname := canonical(owner), dns.TypeToString[typ]
	if _, err := t.exec("DELETE FROM comments WHERE domain_id = ? AND name = ? AND type = ?", t.zoneID, dbName(owner), tname); err != nil {
		return fmt.Errorf("clear comments of %s %s: %w", owner, tname, err)
	}
	for _, c := range cs {
		at := c.ModifiedAt
		if at == 0 {
			at = t.now.Unix()
		}
		if _, err := t.exec("INSERT INTO comments(domain_id, name, type, modified_at, account, comment) VALUES (?, ?, ?, ?, ?, ?)",
			t.zoneID, dbName(owner), tname, at, c.Account, c.Content); err != nil {
			return fmt.Errorf("write comment of %s %s: %w", owner, tname, err)
		}
	}
	return nil
}

// Comments lists the comments of zone, ordered by name, type and id.
func (s *Store) Comments(ctx context.Context, zone string) ([]Comment, error) {
	zone, err := zoneName(zone)
	if err != nil {
		return nil, err
	}
	rows, err := s.query(ctx, `SELECT c.name, c.type, c.comment, COALESCE(c.account, ''), c.modified_at
		FROM comments c JOIN domains d ON d.id = c.domain_id WHERE d.name = ? ORDER BY c.name, c.type, c.id`, dbName(zone))
	if err != nil {
		return nil, fmt.Errorf("read comments of %s: %w", zone, err)
	}
	defer rows.Close()
	var out []Comment
	for rows.Next() {
		var c Comment
		if err := rows.Scan(&c.Name, &c.Type, &c.Content, &c.Account, &c.ModifiedAt); err != nil {
			return nil, err
		}
		c.Name = fqdnOf(c.Name)
		out = append(out, c)
	}
	return out, rows.Err()
}

// ErrZoneExists marks CreateZoneWith's failure because the zone exists,
// told apart from a conflict among the records fn adds.
var ErrZoneExists = errors.New("zone exists")

// CreateZoneWith creates zone like CreateZone and runs fn in the same
// transaction, so a zone created with records appears whole or not at all.
func (s *Store) CreateZoneWith(ctx context.Context, z Zone, fn func(*Tx) error) error {
	zone, err := zoneName(z.Name)
	if err != nil {
		return err
	}
	if zone == "." {
		return fmt.Errorf("%w: the root zone is not served", ErrInvalid)
	}
	soa, err := soaFor(zone, z, nil)
	if err != nil {
		return err
	}
	return s.Update(ctx, zone, func(t *Tx) error {
		if err := t.createZone(); err != nil {
			if errors.Is(err, ErrConflict) {
				return fmt.Errorf("%w (%w)", err, ErrZoneExists)
			}
			return err
		}
		if soa.Serial, err = t.firstSerial(); err != nil {
			return err
		}
		t.keepSOA = true
		if err := t.setSOA(soa); err != nil {
			return err
		}
		return fn(t)
	})
}
