package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// ownerName resolves a record name given relative to zone ("@" for the apex)
// or fully qualified inside it.
func ownerName(name, zone string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: empty record name", ErrInvalid)
	}
	if strings.ContainsAny(name, " \t\n\r\x00;\"()$") {
		return "", fmt.Errorf("%w: bad record name %q", ErrInvalid, name)
	}
	var fqdn string
	switch {
	case name == "@":
		fqdn = zone
	case dns.IsFqdn(name):
		fqdn = name
	default:
		fqdn = name + "." + zone
		if zone == "." {
			fqdn = name + "."
		}
	}
	if _, ok := dns.IsDomainName(fqdn); !ok {
		return "", fmt.Errorf("%w: bad record name %q", ErrInvalid, name)
	}
	fqdn = canonical(fqdn)
	if fqdn != zone && !dns.IsSubDomain(zone, fqdn) {
		return "", fmt.Errorf("%w: %s is not inside zone %s", ErrInvalid, fqdn, zone)
	}
	return fqdn, nil
}

// ParseSpec turns a RecordSpec into an RR of zone, validating the value with
// miekg/dns's presentation-format parser for its type.
func ParseSpec(zone string, r RecordSpec) (dns.RR, error) {
	zone, err := zoneName(zone)
	if err != nil {
		return nil, err
	}
	owner, err := ownerName(r.Name, zone)
	if err != nil {
		return nil, err
	}
	typ := strings.ToUpper(strings.TrimSpace(r.Type))
	rrtype, ok := dns.StringToType[typ]
	if !ok || typ == "" {
		return nil, fmt.Errorf("%w: unknown record type %q", ErrInvalid, r.Type)
	}
	if r.TTL > maxTTL {
		return nil, fmt.Errorf("%w: TTL %d is above 2147483647", ErrInvalid, r.TTL)
	}
	value := strings.TrimSpace(r.Value)
	if value == "" {
		return nil, fmt.Errorf("%w: empty value", ErrInvalid)
	}
	if strings.ContainsAny(value, "\n\r\x00") {
		return nil, fmt.Errorf("%w: value contains a line break", ErrInvalid)
	}
	// Values are read with the zone as origin, so "mail" in an MX means
	// mail.<zone>, as in a zone file.
	rr, err := parseRR(owner+" "+strconv.FormatUint(uint64(r.TTL), 10)+" IN "+typ+" "+value, zone)
	if err != nil {
		return nil, fmt.Errorf("%w: %s value %q: %v", ErrInvalid, typ, r.Value, err)
	}
	if rr.Header().Rrtype != rrtype {
		return nil, fmt.Errorf("%w: %s value %q", ErrInvalid, typ, r.Value)
	}
	if err := checkRdata(rr); err != nil {
		return nil, fmt.Errorf("%w: %s value %q: %v", ErrInvalid, typ, r.Value, err)
	}
	return rr, nil
}

// checkRdata rejects records the parser lets through with empty RDATA (as it
// must for UPDATE) and addresses of the wrong family.
func checkRdata(rr dns.RR) error {
	switch v := rr.(type) {
	case *dns.A:
		if v.A == nil || v.A.To4() == nil {
			return errors.New("not an IPv4 address")
		}
	case *dns.AAAA:
		if v.AAAA == nil || len(v.AAAA) != 16 {
			return errors.New("not an IPv6 address")
		}
	}
	if strings.TrimSpace(Rdata(rr)) == "" {
		return errors.New("empty RDATA")
	}
	return nil
}

// Records lists a zone's served records (disabled rows and PowerDNS's
// empty-non-terminal rows left out), ordered by name, type and id.
func (s *Store) Records(ctx context.Context, zone string, f Filter) ([]Record, error) {
	z, err := s.Zone(ctx, zone)
	if err != nil {
		return nil, err
	}
	q := "SELECT id, name, type, content, ttl, prio FROM records WHERE domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != ''"
	args := []any{z.ID}
	if f.Name != "" {
		owner, err := ownerName(f.Name, z.Name)
		if err != nil {
			return nil, err
		}
		q += " AND name = ?"
		args = append(args, dbName(owner))
	}
	if f.Type != "" {
		typ := strings.ToUpper(strings.TrimSpace(f.Type))
		if _, ok := dns.StringToType[typ]; !ok {
			return nil, fmt.Errorf("%w: unknown record type %q", ErrInvalid, f.Type)
		}
		q += " AND type = ?"
		args = append(args, typ)
	}
	q += " ORDER BY name, type, id"
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Record{}
	for rows.Next() {
		r, err := scanRecord(rows, z.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

type scanner interface{ Scan(...any) error }

func scanRecord(sc scanner, zone string) (Record, error) {
	var (
		id             int64
		name, typ, cnt string
		ttl, prio      sql.NullInt64
	)
	if err := sc.Scan(&id, &name, &typ, &cnt, &ttl, &prio); err != nil {
		return Record{}, err
	}
	r := Record{ID: id, Zone: zone, Name: fqdnOf(name), Type: strings.ToUpper(typ), Content: cnt}
	if ttl.Valid && ttl.Int64 >= 0 && ttl.Int64 <= maxTTL {
		r.TTL = uint32(ttl.Int64)
	}
	if hasPrio(r.Type) {
		r.Prio = int(prio.Int64)
	}
	return r, nil
}

// Record returns one record of a zone.
func (s *Store) Record(ctx context.Context, zone string, id int64) (Record, error) {
	z, err := s.Zone(ctx, zone)
	if err != nil {
		return Record{}, err
	}
	r, err := scanRecord(s.queryRow(ctx, "SELECT id, name, type, content, ttl, prio FROM records WHERE id = ? AND domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != ''", id, z.ID), z.Name)
	if errors.Is(err, sql.ErrNoRows) {
		return Record{}, fmt.Errorf("%w: record %d in zone %s", ErrNotFound, id, z.Name)
	}
	return r, err
}

// storedRecord is rr as add wrote it into row id, shown as scanRecord
// shows a row, without a statement to read the row back.
func (t *Tx) storedRecord(id int64, rr dns.RR) Record {
	h := rr.Header()
	content, prio := contentOf(rr)
	r := Record{ID: id, Zone: t.zone, Name: canonical(h.Name), Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl, Content: content}
	if hasPrio(r.Type) {
		r.Prio = prio
	}
	return r
}

// AddRecord validates and inserts a record, bumping the zone's serial. It
// returns the record as stored.
func (s *Store) AddRecord(ctx context.Context, zone string, r RecordSpec) (Record, error) {
	var rec Record
	err := s.Update(ctx, zone, func(t *Tx) error {
		if err := t.requireZone(); err != nil {
			return err
		}
		rr, err := ParseSpec(t.zone, r)
		if err != nil {
			return err
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			return fmt.Errorf("%w: the SOA record is changed through the zone", ErrInvalid)
		}
		id, err := t.Add(rr)
		if err != nil {
			return err
		}
		rec = t.storedRecord(id, rr)
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	return rec, nil
}

// UpdateRecord replaces a record, keeping its id, bumping the zone's serial.
// The new record is checked against the zone without the old one. It
// returns the record as stored.
func (s *Store) UpdateRecord(ctx context.Context, zone string, id int64, r RecordSpec) (Record, error) {
	var rec Record
	err := s.Update(ctx, zone, func(t *Tx) error {
		if err := t.requireZone(); err != nil {
			return err
		}
		rr, err := ParseSpec(t.zone, r)
		if err != nil {
			return err
		}
		if rr.Header().Rrtype == dns.TypeSOA {
			return fmt.Errorf("%w: the SOA record is changed through the zone", ErrInvalid)
		}
		if _, err := t.Delete(id); err != nil {
			return err
		}
		if _, err = t.add(rr, id); err != nil {
			return err
		}
		rec = t.storedRecord(id, rr)
		return nil
	})
	if err != nil {
		return Record{}, err
	}
	return rec, nil
}

// DeleteRecord removes a record, bumping the zone's serial.
func (s *Store) DeleteRecord(ctx context.Context, zone string, id int64) error {
	return s.Update(ctx, zone, func(t *Tx) error {
		_, err := t.Delete(id)
		return err
	})
}
