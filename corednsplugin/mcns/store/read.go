package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// ZoneData is a zone as loaded for serving.
type ZoneData struct {
	Name    string // lower-case FQDN
	Records []dns.RR
	// Version is the zone's version the records were read at.
	Version ZoneVersion
	// Skipped counts rows that could not be served (unparsable content,
	// owner outside the zone); BadRow describes the first of them.
	Skipped int
	BadRow  error
}

// LoadZone reads every served record of zone, with its version, from one
// consistent read transaction. Disabled rows and rows without a type
// (PowerDNS's empty non-terminals) are left out, as PowerDNS does.
func (s *Store) LoadZone(ctx context.Context, name string) (*ZoneData, error) {
	zone, err := zoneName(name)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	zd := &ZoneData{Name: zone}
	err = tx.QueryRowContext(ctx, "SELECT id FROM domains WHERE name = ?", dbName(zone)).Scan(&zd.Version.ID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: zone %s", ErrNotFound, zone)
	}
	if err != nil {
		return nil, err
	}
	if zd.Version, err = zoneVersion(func(q string, args ...any) *sql.Row {
		return tx.QueryRowContext(ctx, q, args...)
	}, zd.Version.ID); err != nil {
		return nil, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT name, type, content, ttl, prio FROM records
		WHERE domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != '' ORDER BY id`, zd.Version.ID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			owner, typ string
			content    sql.NullString
			ttl, prio  sql.NullInt64
		)
		if err := rows.Scan(&owner, &typ, &content, &ttl, &prio); err != nil {
			return nil, err
		}
		rr, err := parseRow(owner, strings.ToUpper(typ), content.String, ttl.Int64, prio.Int64)
		if err == nil {
			if n := rr.Header().Name; n != zone && !dns.IsSubDomain(zone, n) {
				err = errors.New("owner outside the zone")
			}
		}
		if err != nil {
			if zd.Skipped == 0 {
				zd.BadRow = fmt.Errorf("zone %s: row %s %s %q: %w", zone, owner, typ, content.String, err)
			}
			zd.Skipped++
			continue
		}
		zd.Records = append(zd.Records, rr)
	}
	return zd, rows.Err()
}
