package store

import (
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/miekg/dns"
)

// The zone's SOA and its serial: reading and replacing it, the serial of a
// new zone, the bump after every change and RFC 1982 comparison.

// firstSerial is the serial of a zone created now: today's YYYYMMDD00, or,
// for a zone deleted before, the serial after the one it had then, so
// secondaries still holding the old zone see the new one as newer.
func (t *Tx) firstSerial() (uint32, error) {
	var last int64
	err := t.queryRow("SELECT last_serial FROM mcns_deleted_zones WHERE zone = ?", t.zone).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return NextSerial(0, t.now), nil
	case err != nil:
		return 0, err
	}
	return NextSerial(uint32(last), t.now), nil
}

// SOA returns the zone's SOA record. Asking by the apex name lets SQLite use
// the (domain_id, name, type) index instead of scanning the zone's rows.
func (t *Tx) SOA() (*dns.SOA, error) {
	if err := t.requireZone(); err != nil {
		return nil, err
	}
	if t.soa != nil {
		return dns.Copy(t.soa).(*dns.SOA), nil
	}
	var (
		id      int64
		name    string
		content string
		ttl     sql.NullInt64
	)
	err := t.queryRow("SELECT id, name, content, ttl FROM records WHERE domain_id = ? AND name = ? AND type = 'SOA' AND disabled = 0 ORDER BY id LIMIT 1", t.zoneID, dbName(t.zone)).
		Scan(&id, &name, &content, &ttl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: zone %s has no SOA record", ErrNotFound, t.zone)
	}
	if err != nil {
		return nil, err
	}
	if err := t.keepStoredSOA(id, name, content, ttl.Int64); err != nil {
		return nil, err
	}
	return dns.Copy(t.soa).(*dns.SOA), nil
}

// SetSOA replaces the zone's SOA with soa, whose serial must be greater
// (RFC 1982) than the current one; that serial is kept instead of the
// automatic bump, as RFC 2136 §3.4.2.2 has it for an UPDATE carrying an SOA.
func (t *Tx) SetSOA(soa *dns.SOA) error {
	cur, err := t.SOA()
	if err != nil {
		return err
	}
	if !SerialAfter(soa.Serial, cur.Serial) {
		return fmt.Errorf("%w: SOA serial %d is not greater than %d", ErrInvalid, soa.Serial, cur.Serial)
	}
	soa = dns.Copy(soa).(*dns.SOA)
	soa.Hdr.Class = dns.ClassINET
	t.keepSOA = true
	return t.setSOA(soa)
}

// setSOA writes soa over the zone's SOA row, or inserts it.
func (t *Tx) setSOA(soa *dns.SOA) error {
	soa.Hdr.Name = t.zone
	if err := t.check(soa); err != nil {
		return err
	}
	if t.soaRowID == 0 {
		if _, err := t.SOA(); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	content, _ := contentOf(soa)
	if t.soaRowID == 0 {
		_, err := t.add(soa, 0)
		return err
	}
	if _, err := t.exec("UPDATE records SET content = ?, ttl = ? WHERE id = ?", content, soa.Hdr.Ttl, t.soaRowID); err != nil {
		return err
	}
	t.changed, t.soa, t.after = true, dns.Copy(soa).(*dns.SOA), nil
	return nil
}

// bumpSerial moves the SOA serial forward once: to today's date as
// YYYYMMDD00 when that is greater (RFC 1982), else by one, the way BIND's
// "serial-update-method date" does; zero is skipped (RFC 2136 §7.11).
func (t *Tx) bumpSerial() error {
	soa, err := t.SOA()
	if err != nil {
		return err
	}
	soa.Serial = NextSerial(soa.Serial, t.now)
	return t.setSOA(soa)
}

// NextSerial is the serial after old at time now, in YYYYMMDDNN form.
func NextSerial(old uint32, now time.Time) uint32 {
	y, m, d := now.UTC().Date()
	date := uint32(y*1000000 + int(m)*10000 + d*100)
	if SerialAfter(date, old) {
		return date
	}
	next := old + 1
	if next == 0 {
		next = 1
	}
	return next
}

// SerialAfter is RFC 1982 serial number comparison: a is after b.
func SerialAfter(a, b uint32) bool {
	return a != b && a-b < 1<<31
}
