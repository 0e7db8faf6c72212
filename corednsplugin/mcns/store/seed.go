package store

import (
	"context"
	"fmt"
	"os"

	"github.com/miekg/dns"
)

// ReadZoneFile parses an RFC 1035 zone file with miekg/dns's ZoneParser.
// The zone is the owner of its single SOA record; names must be absolute or
// made so by $ORIGIN, since the file name does not say the zone.
func ReadZoneFile(path string) (zone string, rrs []dns.RR, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, "", path)
	zp.SetIncludeAllowed(true)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if soa, isSOA := rr.(*dns.SOA); isSOA {
			if zone != "" {
				return "", nil, fmt.Errorf("%s: more than one SOA record", path)
			}
			zone = canonical(soa.Hdr.Name)
		}
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return "", nil, fmt.Errorf("%s: %w (relative names need $ORIGIN)", path, err)
	}
	if zone == "" {
		return "", nil, fmt.Errorf("%s: no SOA record", path)
	}
	return zone, rrs, nil
}

// Seed imports each zone file whose zone is neither in the database nor was
// seeded before (a zone deleted on purpose stays deleted across restarts).
// Each zone is imported in one transaction through the same rules as every
// other write, keeping the file's SOA serial. It returns the zones imported.
func (s *Store) Seed(ctx context.Context, files []string) ([]string, error) {
	var imported []string
	for _, path := range files {
		zone, rrs, err := ReadZoneFile(path)
		if err != nil {
			return imported, fmt.Errorf("seed: %w", err)
		}
		done := false
		err = s.Update(ctx, zone, func(t *Tx) error {
			var n int
			if err := t.tx.QueryRowContext(ctx, "SELECT count(*) FROM mcns_seeded WHERE zone = ?", zone).Scan(&n); err != nil {
				return err
			}
			if n > 0 || t.zoneID != 0 {
				return nil
			}
			if err := t.createZone(); err != nil {
				return err
			}
			t.keepSOA = true
			for _, rr := range rrs {
				if soa, ok := rr.(*dns.SOA); ok {
					if err := t.setSOA(soa); err != nil {
						return err
					}
					continue
				}
				if _, err := t.Add(rr); err != nil {
					return fmt.Errorf("%s: %w", rr.String(), err)
				}
			}
			if _, err := t.tx.ExecContext(ctx, "INSERT INTO mcns_seeded(zone, file, imported_at) VALUES (?, ?, ?)",
				zone, path, t.now.Unix()); err != nil {
				return err
			}
			done = true
			return nil
		})
		if err != nil {
			return imported, fmt.Errorf("seed %s: %w", path, err)
		}
		if done {
			imported = append(imported, zone)
		}
	}
	return imported, nil
}
