package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Defaults for zone fields left zero by CreateZone's caller (RFC 1912 §2.2
// ranges; minimum is the negative-caching TTL of RFC 2308).
const (
	DefaultRefresh = 10800
	DefaultRetry   = 3600
	DefaultExpire  = 1209600
	DefaultMinimum = 300
	DefaultTTL     = 3600
)

// Zones lists all zones.
func (s *Store) Zones(ctx context.Context) ([]Zone, error) {
	rows, err := s.query(ctx, `SELECT d.id, d.name, r.content, r.ttl FROM domains d
		LEFT JOIN records r ON r.id = (SELECT id FROM records WHERE domain_id = d.id AND name = d.name AND type = 'SOA' AND disabled = 0 ORDER BY id LIMIT 1)
		ORDER BY d.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Zone
	for rows.Next() {
		var (
			id      int64
			name    string
			content sql.NullString
			ttl     sql.NullInt64
		)
		if err := rows.Scan(&id, &name, &content, &ttl); err != nil {
			return nil, err
		}
		out = append(out, zoneFromSOA(id, name, content.String, ttl.Int64))
	}
	return out, rows.Err()
}

// Zone returns one zone.
func (s *Store) Zone(ctx context.Context, name string) (Zone, error) {
	zone, err := zoneName(name)
	if err != nil {
		return Zone{}, err
	}
	var (
		id      int64
		dbn     string
		content sql.NullString
		ttl     sql.NullInt64
	)
	err = s.queryRow(ctx, `SELECT d.id, d.name, r.content, r.ttl FROM domains d
		LEFT JOIN records r ON r.id = (SELECT id FROM records WHERE domain_id = d.id AND name = d.name AND type = 'SOA' AND disabled = 0 ORDER BY id LIMIT 1)
		WHERE d.name = ?`, dbName(zone)).Scan(&id, &dbn, &content, &ttl)
	if errors.Is(err, sql.ErrNoRows) {
		return Zone{}, fmt.Errorf("%w: zone %s", ErrNotFound, zone)
	}
	if err != nil {
		return Zone{}, err
	}
	return zoneFromSOA(id, dbn, content.String, ttl.Int64), nil
}

// zoneFromSOA fills a Zone from its domains row and SOA content; a zone
// whose SOA is missing or unreadable keeps zero SOA fields.
func zoneFromSOA(id int64, name, content string, ttl int64) Zone {
	z := Zone{ID: id, Name: fqdnOf(name)}
	if content == "" {
		return z
	}
	rr, err := parseRow(name, "SOA", content, ttl, 0)
	if err != nil {
		return z
	}
	soa := rr.(*dns.SOA)
	z.PrimaryNS = soa.Ns
	z.AdminEmail = mboxToEmail(soa.Mbox)
	z.Serial, z.Refresh, z.Retry, z.Expire, z.Minimum, z.TTL = soa.Serial, soa.Refresh, soa.Retry, soa.Expire, soa.Minttl, soa.Hdr.Ttl
	return z
}

// mboxToEmail turns an SOA RNAME (hostmaster.example.org.) into an address
// (hostmaster@example.org); an escaped dot belongs to the local part.
func mboxToEmail(mbox string) string {
	mbox = strings.TrimSuffix(mbox, ".")
	for i := 0; i < len(mbox); i++ {
		switch mbox[i] {
		case '\\':
			i++
		case '.':
			return strings.ReplaceAll(mbox[:i], `\.`, ".") + "@" + mbox[i+1:]
		}
	}
	return mbox
}

// emailToMbox accepts an address or an RNAME and returns the RNAME.
func emailToMbox(email string) (string, error) {
	email = strings.TrimSpace(email)
	if local, domain, ok := strings.Cut(email, "@"); ok {
		if local == "" || domain == "" || strings.ContainsAny(local, " \\;\"()") {
			return "", fmt.Errorf("%w: bad admin email %q", ErrInvalid, email)
		}
		email = strings.ReplaceAll(local, ".", `\.`) + "." + domain
	}
	if _, ok := dns.IsDomainName(email); !ok || strings.ContainsAny(email, " \t\n\r\x00;\"()") {
		return "", fmt.Errorf("%w: bad admin email %q", ErrInvalid, email)
	}
	return canonical(email), nil
}

// hostName validates a name used as a target (primary NS).
func hostName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: empty host name", ErrInvalid)
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.ContainsAny(name, " \t\n\r\x00;\"()\\") {
		return "", fmt.Errorf("%w: bad host name %q", ErrInvalid, name)
	}
	return canonical(name), nil
}

// soaFor builds the SOA of z, filling zero fields from defaults.
func soaFor(zone string, z Zone, base *dns.SOA) (*dns.SOA, error) {
	soa := &dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: DefaultTTL},
		Refresh: DefaultRefresh, Retry: DefaultRetry, Expire: DefaultExpire, Minttl: DefaultMinimum}
	if base != nil {
		soa = dns.Copy(base).(*dns.SOA)
	}
	if z.PrimaryNS != "" {
		ns, err := hostName(z.PrimaryNS)
		if err != nil {
			return nil, err
		}
		soa.Ns = ns
	}
	if soa.Ns == "" {
		return nil, fmt.Errorf("%w: primary_ns is required", ErrInvalid)
	}
	if z.AdminEmail != "" {
		mbox, err := emailToMbox(z.AdminEmail)
		if err != nil {
			return nil, err
		}
		soa.Mbox = mbox
	}
	if soa.Mbox == "" {
		soa.Mbox = "hostmaster." + zone
	}
	for _, f := range []struct {
		v   uint32
		dst *uint32
	}{{z.Refresh, &soa.Refresh}, {z.Retry, &soa.Retry}, {z.Expire, &soa.Expire}, {z.Minimum, &soa.Minttl}, {z.TTL, &soa.Hdr.Ttl}} {
		if f.v > maxTTL {
			return nil, fmt.Errorf("%w: SOA field %d is above 2147483647", ErrInvalid, f.v)
		}
		if f.v != 0 {
			*f.dst = f.v
		}
	}
	return soa, nil
}

// CreateZone adds a zone with its SOA (and NS for PrimaryNS). Zero timer
// fields take the Default values; the serial starts at today's YYYYMMDD00,
// or after the last serial of a zone of that name deleted before, unless
// z.Serial is set.
func (s *Store) CreateZone(ctx context.Context, z Zone) (Zone, error) {
	zone, err := zoneName(z.Name)
	if err != nil {
		return Zone{}, err
	}
	if zone == "." {
		return Zone{}, fmt.Errorf("%w: the root zone is not served", ErrInvalid)
	}
	soa, err := soaFor(zone, z, nil)
	if err != nil {
		return Zone{}, err
	}
	err = s.Update(ctx, zone, func(t *Tx) error {
		if err := t.createZone(); err != nil {
			return err
		}
		soa.Serial = z.Serial
		if soa.Serial == 0 {
			first, err := t.firstSerial()
			if err != nil {
				return err
			}
			soa.Serial = first
		}
		t.keepSOA = true
		if err := t.setSOA(soa); err != nil {
			return err
		}
		_, err := t.Add(&dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: soa.Hdr.Ttl}, Ns: soa.Ns})
		return err
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, zone)
}

// UpdateZone changes a zone's SOA fields and bumps its serial. Zero fields
// in z keep their current value; z.Name and z.Serial are ignored.
func (s *Store) UpdateZone(ctx context.Context, name string, z Zone) (Zone, error) {
	zone, err := zoneName(name)
	if err != nil {
		return Zone{}, err
	}
	err = s.Update(ctx, zone, func(t *Tx) error {
		cur, err := t.SOA()
		if err != nil {
			return err
		}
		soa, err := soaFor(zone, z, cur)
		if err != nil {
			return err
		}
		return t.setSOA(soa)
	})
	if err != nil {
		return Zone{}, err
	}
	return s.Zone(ctx, zone)
}

// DeleteZone removes a zone and its records.
func (s *Store) DeleteZone(ctx context.Context, name string) error {
	return s.Update(ctx, name, func(t *Tx) error { return t.deleteZone() })
}
