package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ZoneVersion names one state of a zone's rows: the domains row's id (a
// zone deleted and created again differs) and the zone's change counter,
// which triggers on PowerDNS's tables raise with every row any program
// inserts, deletes or edits (migration 0005). A reader that knows which
// version it serves finds another program's edits by comparing versions,
// without reading records.
type ZoneVersion struct {
	ID, Changes int64
}

// ZoneState is a zone's current version and whether this store's last
// committed write made it.
type ZoneState struct {
	Version ZoneVersion
	// Ours: the version is the one this store's last write to the zone
	// left; its change is (or is being) delivered through OnCommit.
	Ours bool
}

// ZoneStates returns the version of every zone, keyed by lower-case FQDN:
// one row per zone. It holds the write lock while it reads, so Ours is
// exact: no write of this store commits in between.
func (s *Store) ZoneStates(ctx context.Context) (map[string]ZoneState, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	rows, err := s.query(ctx, `SELECT d.id, d.name, coalesce(c.changes, 0)
		FROM domains d LEFT JOIN mcns_zone_changes c ON c.domain_id = d.id`)
	if err != nil {
		return nil, fmt.Errorf("zone versions: %w", err)
	}
	defer rows.Close()
	out := map[string]ZoneState{}
	for rows.Next() {
		var (
			v    ZoneVersion
			name string
		)
		if err := rows.Scan(&v.ID, &name, &v.Changes); err != nil {
			return nil, fmt.Errorf("zone versions: %w", err)
		}
		last, known := s.committed[v.ID]
		out[fqdnOf(name)] = ZoneState{Version: v, Ours: known && last == v.Changes}
	}
	return out, rows.Err()
}

// zoneVersion reads the version of zone id with queryRow, which runs a
// query inside the caller's transaction.
func zoneVersion(queryRow func(query string, args ...any) *sql.Row, id int64) (ZoneVersion, error) {
	v := ZoneVersion{ID: id}
	err := queryRow("SELECT changes FROM mcns_zone_changes WHERE domain_id = ?", id).Scan(&v.Changes)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return v, fmt.Errorf("zone version: %w", err)
	}
	return v, nil
}
