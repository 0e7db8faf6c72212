package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// RaiseSerials makes every zone's serial greater than floors[zone], the
// highest serial served before (kept outside the database, see mcns's
// serialfloor.go). A database restored from an older copy has serials that
// went back; secondaries that followed later changes would ignore the
// restored data, or fetch a wrong IXFR for a reused serial. A zone whose
// serial is behind its floor gets the serial after it and loses its IXFR
// journal, so every secondary takes one full transfer of the restored
// data. A zone missing from the database has its floor recorded as its
// last serial (mcns_deleted_zones), so a zone created again continues
// above it. It returns the zones whose serial it raised.
func (s *Store) RaiseSerials(ctx context.Context, floors map[string]uint32) ([]string, error) {
	var raised []string
	for zone, floor := range floors {
		if s.checkAllowed(canonical(zone)) != nil {
			continue // not ours to change; ZonesOutsideAllowed warns
		}
		didRaise := false
		err := s.Update(ctx, zone, func(t *Tx) error {
			if t.zoneID == 0 {
				return t.raiseDeletedSerial(floor)
			}
			soa, err := t.SOA()
			if errors.Is(err, ErrNotFound) {
				return nil // not served: nothing a secondary holds
			}
			if err != nil || !SerialAfter(floor, soa.Serial) {
				return err
			}
			soa.Serial = NextSerial(floor, t.now)
			t.keepSOA, t.resetJournal, didRaise = true, true, true
			return t.setSOA(soa)
		})
		if err != nil {
			return raised, fmt.Errorf("zone %s: raising the serial above %d: %w", zone, floor, err)
		}
		if didRaise {
			raised = append(raised, canonical(zone))
		}
	}
	return raised, nil
}

// raiseDeletedSerial records floor as the last serial of the absent zone
// unless a later one is recorded already.
func (t *Tx) raiseDeletedSerial(floor uint32) error {
	var last int64
	err := t.queryRow("SELECT last_serial FROM mcns_deleted_zones WHERE zone = ?", t.zone).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case !SerialAfter(floor, uint32(last)):
		return nil
	}
	_, err = t.exec(`INSERT INTO mcns_deleted_zones(zone, last_serial, deleted_at) VALUES (?, ?, ?)
		ON CONFLICT(zone) DO UPDATE SET last_serial = excluded.last_serial`, t.zone, floor, t.now.Unix())
	return err
}
