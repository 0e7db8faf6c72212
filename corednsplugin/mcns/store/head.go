package store

import (
	"database/sql"
	"errors"
	"fmt"

	"github.com/miekg/dns"
)

// headQuery reads, in one statement, the state of a zone a write starts
// from: its id, version, SOA row, and newest and oldest journal entries.
// A write needs all of them before its first change, and each statement
// costs SQLite and database/sql about as much as this one. Its arguments
// are the zone's journal name (?1) and its domains name (?2). No row: no
// zone.
const headQuery = `SELECT d.id,
	coalesce((SELECT changes FROM mcns_zone_changes WHERE domain_id = d.id), 0),
	s.id, s.name, s.content, s.ttl,
	n.seq, n.to_changes, o.seq, o.created_at
FROM domains d
LEFT JOIN records s ON s.id = (SELECT id FROM records
	WHERE domain_id = d.id AND name = d.name AND type = 'SOA' AND disabled = 0 ORDER BY id LIMIT 1)
LEFT JOIN mcns_journal n ON n.zone = ?1 AND n.seq = (SELECT max(seq) FROM mcns_journal WHERE zone = ?1)
LEFT JOIN mcns_journal o ON o.zone = ?1 AND o.seq = (SELECT min(seq) FROM mcns_journal WHERE zone = ?1)
WHERE d.name = ?2`

// zoneHead is what headQuery read.
type zoneHead struct {
	version ZoneVersion // ID 0: no zone
	// journalTo is the zone version after the newest journal entry;
	// valid only when the journal has one (Tx.journalSeq != 0).
	journalTo int64
}

// readHead reads the zone's head and keeps in t what later statements of
// the write would otherwise read again: the zone's id, its SOA, the
// number of its newest journal entry and its oldest one (for trimming).
func (t *Tx) readHead() (zoneHead, error) {
	var (
		h                   zoneHead
		soaID, ttl          sql.NullInt64
		soaName, soaContent sql.NullString
		newSeq, newTo       sql.NullInt64
		oldSeq, oldAt       sql.NullInt64
	)
	err := t.queryRow(headQuery, t.zone, dbName(t.zone)).Scan(&h.version.ID, &h.version.Changes,
		&soaID, &soaName, &soaContent, &ttl, &newSeq, &newTo, &oldSeq, &oldAt)
	if errors.Is(err, sql.ErrNoRows) {
		return zoneHead{}, nil
	}
	if err != nil {
		return zoneHead{}, fmt.Errorf("zone %s: %w", t.zone, err)
	}
	t.zoneID = h.version.ID
	if soaID.Valid {
		if err := t.keepStoredSOA(soaID.Int64, soaName.String, soaContent.String, ttl.Int64); err != nil {
			return zoneHead{}, err
		}
	}
	if newSeq.Valid {
		t.journalSeq, h.journalTo = newSeq.Int64, newTo.Int64
	}
	if oldSeq.Valid {
		t.oldest = &journalEntry{seq: oldSeq.Int64, createdAt: oldAt.Int64}
	}
	return h, nil
}

// keepStoredSOA parses the zone's SOA row id and keeps it as t's SOA.
func (t *Tx) keepStoredSOA(id int64, name, content string, ttl int64) error {
	rr, err := parseRow(name, "SOA", content, ttl, 0)
	if err != nil {
		return fmt.Errorf("zone %s: stored SOA: %w", t.zone, err)
	}
	soa, ok := rr.(*dns.SOA)
	if !ok {
		return fmt.Errorf("zone %s: stored SOA: not an SOA record", t.zone)
	}
	t.soaRowID, t.soa = id, soa
	return nil
}
