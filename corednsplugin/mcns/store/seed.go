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

// seedGroup is how many zone files one seeding transaction imports:
// enough that thousands of small zones cost a few commits rather than
// one each, few enough to bound the transaction.
const seedGroup = 256

// Seed imports each zone file whose zone is neither in the database nor was
// seeded before (a zone deleted on purpose stays deleted across restarts).
// Each zone is imported through the same rules as every other write,
// keeping the file's SOA serial, in its own savepoint of a transaction
// shared with up to seedGroup others. It returns the zones imported; on an
// error, the zones imported before it in file order, and the error names
// the first file that failed (the others of its group are imported).
func (s *Store) Seed(ctx context.Context, files []string) ([]string, error) {
	var imported []string
	for len(files) > 0 {
		n := min(len(files), seedGroup)
		done, err := s.seedGroup(ctx, files[:n])
		imported = append(imported, done...)
		if err != nil {
			return imported, err
		}
		files = files[n:]
	}
	return imported, nil
}

// seedGroup seeds files in one group commit.
func (s *Store) seedGroup(ctx context.Context, files []string) ([]string, error) {
	zones := make([]string, len(files))
	fns := make([]func(*Tx) error, len(files))
	done := make([]bool, len(files))
	for i, path := range files {
		zone, rrs, err := ReadZoneFile(path)
		if err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		zones[i] = zone
		fns[i] = func(t *Tx) error {
			ok, err := t.seed(path, rrs)
			done[i] = ok
			return err
		}
	}
	var imported []string
	for i, err := range s.updateTogether(ctx, zones, fns) {
		if err != nil {
			return imported, fmt.Errorf("seed %s: %w", files[i], err)
		}
		if done[i] {
			imported = append(imported, zones[i])
		}
	}
	return imported, nil
}

// seed imports rrs, read from path, as a new zone, unless the zone exists
// or was seeded before; it reports whether it did.
func (t *Tx) seed(path string, rrs []dns.RR) (bool, error) {
	var n int
	if err := t.queryRow("SELECT count(*) FROM mcns_seeded WHERE zone = ?", t.zone).Scan(&n); err != nil {
		return false, err
	}
	if n > 0 || t.zoneID != 0 {
		return false, nil
	}
	if err := t.createZone(); err != nil {
		return false, err
	}
	t.keepSOA = true
	for _, rr := range rrs {
		if soa, ok := rr.(*dns.SOA); ok {
			if err := t.setSOA(soa); err != nil {
				return false, err
			}
			continue
		}
		if _, err := t.Add(rr); err != nil {
			return false, fmt.Errorf("%s: %w", rr.String(), err)
		}
	}
	if _, err := t.exec("INSERT INTO mcns_seeded(zone, file, imported_at) VALUES (?, ?, ?)", t.zone, path, t.now.Unix()); err != nil {
		return false, err
	}
	return true, nil
}
