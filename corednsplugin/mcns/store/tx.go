package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// maxTTL is the largest TTL RFC 2181 §8 allows.
const maxTTL = 1<<31 - 1

// Tx is one write transaction on one zone. Every change to zone data is made
// through a Tx inside Store.Update, which validates each record against the
// zone's rules and bumps the SOA serial once at the end.
type Tx struct {
	tx      *sql.Tx
	ctx     context.Context
	zoneID  int64 // 0 until the zone exists
	zone    string
	created bool // the zone was created in this transaction
	deleted bool // the zone was deleted in this transaction
	changed bool // some row changed
	keepSOA bool // the caller set the serial itself (seeding)
	// resetJournal: the change cannot be expressed as an IXFR step (a
	// serial raised over a restored database), so the journal ends here.
	resetJournal bool
	now          time.Time
	soaRowID     int64

	// diff is the transaction's net change for the journal: a row added
	// and then deleted here, or a record removed and then added back
	// unchanged, leaves no trace.
	diff diff

	// fpRows and fpSum are the change of the zone's Fingerprint made by
	// this transaction, kept in its journal entry so a reader can tell
	// whether the journal explains a change it sees (see JournalExplains).
	fpRows, fpSum int64

	// index holds the rows of a zone created in this transaction, so
	// importing a large zone checks its rules in memory instead of with a
	// query per record.
	index   map[string][]row
	insStmt *sql.Stmt
	packBuf []byte
}

// Zone is the zone this transaction changes, as a lower-case FQDN.
func (t *Tx) Zone() string { return t.zone }

// Added lists the records this transaction added so far (SOA changes
// excluded), e.g. for a change journal. The list is the net change: a record added and deleted again in the same
// transaction is in neither list. A zone created in this transaction starts
// without a journal, so its (possibly large) import is not listed.
func (t *Tx) Added() []dns.RR { return t.diff.addedRRs() }

// Removed lists the records this transaction removed so far, net of records
// added back unchanged.
func (t *Tx) Removed() []dns.RR { return t.diff.removedRRs() }

// Update runs fn in one IMMEDIATE transaction on zone and commits it only if
// fn and the zone's rules succeed; the SOA serial is bumped once when
// anything changed. It is the only way zone data is written.
func (s *Store) Update(ctx context.Context, zone string, fn func(*Tx) error) error {
	zone, err := zoneName(zone)
	if err != nil {
		return err
	}
	if err := s.checkAllowed(zone); err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer sqlTx.Rollback()
	t := &Tx{tx: sqlTx, ctx: ctx, zone: zone, now: s.now()}
	err = sqlTx.QueryRowContext(ctx, "SELECT id FROM domains WHERE name = ?", dbName(zone)).Scan(&t.zoneID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	// The SOA before the change heads the change's journal entry.
	var oldSOA *dns.SOA
	if t.zoneID != 0 {
		if oldSOA, err = t.SOA(); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := fn(t); err != nil {
		return err
	}
	if t.changed && !t.deleted {
		if err := t.checkApex(); err != nil {
			return err
		}
		if !t.keepSOA {
			if err := t.bumpSerial(); err != nil {
				return err
			}
		}
	}
	// The journal is written in the same transaction as the change, so it
	// can never disagree with the data.
	switch {
	case t.deleted || t.created || t.resetJournal:
		// A zone's journal ends with it; a new zone starts without one.
		if err := t.clearJournal(); err != nil {
			return err
		}
	case t.changed:
		if err := t.writeJournal(s, oldSOA); err != nil {
			return err
		}
	}
	return sqlTx.Commit()
}

// zoneName validates and canonicalises a zone name.
func zoneName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: empty zone name", ErrInvalid)
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.ContainsAny(name, " \t\n\r\x00") {
		return "", fmt.Errorf("%w: bad zone name %q", ErrInvalid, name)
	}
	return canonical(name), nil
}

func (t *Tx) requireZone() error {
	if t.zoneID == 0 || t.deleted {
		return fmt.Errorf("%w: zone %s", ErrNotFound, t.zone)
	}
	return nil
}

// createZone inserts the domains row (NATIVE, as pdnsutil create-zone does).
func (t *Tx) createZone() error {
	if t.zoneID != 0 {
		return fmt.Errorf("%w: zone %s already exists", ErrConflict, t.zone)
	}
	res, err := t.tx.ExecContext(t.ctx, "INSERT INTO domains(name, type) VALUES (?, 'NATIVE')", dbName(t.zone))
	if err != nil {
		return err
	}
	t.zoneID, err = res.LastInsertId()
	t.created, t.changed = true, true
	t.index = map[string][]row{}
	return err
}

// deleteZone removes the zone; its records, comments, metadata and keys go
// with it through PowerDNS's ON DELETE CASCADE foreign keys.
func (t *Tx) deleteZone() error {
	if err := t.requireZone(); err != nil {
		return err
	}
	// Remember the serial, so the zone, if created again, continues after
	// it (see firstSerial).
	soa, err := t.SOA()
	switch {
	case err == nil:
		if _, err := t.tx.ExecContext(t.ctx, `INSERT INTO mcns_deleted_zones(zone, last_serial, deleted_at) VALUES (?, ?, ?)
			ON CONFLICT(zone) DO UPDATE SET last_serial = excluded.last_serial, deleted_at = excluded.deleted_at`,
			t.zone, soa.Serial, t.now.Unix()); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM records WHERE domain_id = ?", t.zoneID); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM domains WHERE id = ?", t.zoneID); err != nil {
		return err
	}
	t.deleted, t.changed = true, true
	return nil
}

// firstSerial is the serial of a zone created now: today's YYYYMMDD00, or,
// for a zone deleted before, the serial after the one it had then, so
// secondaries still holding the old zone see the new one as newer.
func (t *Tx) firstSerial() (uint32, error) {
	var last int64
	err := t.tx.QueryRowContext(t.ctx, "SELECT last_serial FROM mcns_deleted_zones WHERE zone = ?", t.zone).Scan(&last)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return NextSerial(0, t.now), nil
	case err != nil:
		return 0, err
	}
	return NextSerial(uint32(last), t.now), nil
}

// row is a served records row.
type row struct {
	id int64
	rr dns.RR
}

// rowsAt returns the served rows at owner (any type when typ is 0).
func (t *Tx) rowsAt(owner string, typ uint16) ([]row, error) {
	q := "SELECT id, name, type, content, ttl, prio FROM records WHERE domain_id = ? AND name = ? AND disabled = 0 AND type IS NOT NULL AND type != ''"
	args := []any{t.zoneID, dbName(owner)}
	if typ != 0 {
		q += " AND type = ?"
		args = append(args, dns.TypeToString[typ])
	}
	rows, err := t.tx.QueryContext(t.ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []row
	for rows.Next() {
		var (
			id                int64
			name, rtype, cont string
			ttl, prio         sql.NullInt64
		)
		if err := rows.Scan(&id, &name, &rtype, &cont, &ttl, &prio); err != nil {
			return nil, err
		}
		rr, err := parseRow(name, strings.ToUpper(rtype), cont, ttl.Int64, prio.Int64)
		if err != nil {
			// A row some other tool wrote that we cannot parse still
			// occupies its name; keep its type for the CNAME rules.
			rr = &dns.RFC3597{Hdr: dns.RR_Header{Name: fqdnOf(name), Rrtype: dns.StringToType[strings.ToUpper(rtype)], Class: dns.ClassINET}}
		}
		out = append(out, row{id: id, rr: rr})
	}
	return out, rows.Err()
}

// Add validates rr against the zone's rules and inserts it.
func (t *Tx) Add(rr dns.RR) (int64, error) {
	return t.add(rr, 0)
}

func (t *Tx) add(rr dns.RR, id int64) (int64, error) {
	if err := t.requireZone(); err != nil {
		return 0, err
	}
	if err := t.check(rr); err != nil {
		return 0, err
	}
	h := rr.Header()
	owner := canonical(h.Name)
	var existing []row
	var err error
	if t.index != nil {
		existing = t.index[owner]
	} else if existing, err = t.rowsAt(owner, 0); err != nil {
		return 0, err
	}
	for _, e := range existing {
		et := e.rr.Header().Rrtype
		switch {
		case h.Rrtype == dns.TypeCNAME && et == dns.TypeCNAME:
			return 0, fmt.Errorf("%w: %s already has a CNAME", ErrConflict, owner)
		case h.Rrtype == dns.TypeCNAME && !cnameCompanion(et):
			return 0, fmt.Errorf("%w: %s has other data (%s); a CNAME cannot share its name (RFC 1034 §3.6.2)", ErrConflict, owner, dns.TypeToString[et])
		case et == dns.TypeCNAME && !cnameCompanion(h.Rrtype):
			return 0, fmt.Errorf("%w: %s is a CNAME; it cannot have other data (RFC 1034 §3.6.2)", ErrConflict, owner)
		case h.Rrtype == dns.TypeDNAME && et == dns.TypeDNAME:
			return 0, fmt.Errorf("%w: %s already has a DNAME (RFC 6672 §2.4)", ErrConflict, owner)
		case et == h.Rrtype && sameRdata(e.rr, rr):
			return 0, fmt.Errorf("%w: %s %s %s already exists", ErrConflict, owner, dns.TypeToString[h.Rrtype], rdataString(rr))
		}
	}
	if err := t.dnameRules(owner, h.Rrtype); err != nil {
		return 0, err
	}
	content, prio := contentOf(rr)
	if t.insStmt == nil {
		t.insStmt, err = t.tx.PrepareContext(t.ctx, "INSERT INTO records(id, domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)")
		if err != nil {
			return 0, err
		}
	}
	var idArg any // NULL lets SQLite pick the next id
	if id != 0 {
		idArg = id
	}
	res, err := t.insStmt.ExecContext(t.ctx, idArg, t.zoneID, dbName(owner), dns.TypeToString[h.Rrtype], content, h.Ttl, prio, t.authFor(owner, h.Rrtype))
	if err != nil {
		return 0, err
	}
	if id == 0 {
		if id, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	}
	if err := t.fingerprintRow(id, 1); err != nil {
		return 0, err
	}
	if t.index != nil {
		t.index[owner] = append(t.index[owner], row{id: id, rr: rr})
	}
	t.changed = true
	if h.Rrtype != dns.TypeSOA && !t.created {
		t.diff.add(id, rr)
	}
	return id, nil
}

// dnameRules enforces RFC 6672 §2.3: no data below a DNAME's owner, in
// either order of insertion.
func (t *Tx) dnameRules(owner string, typ uint16) error {
	labels := dns.Split(owner)
	for _, off := range labels[1:] {
		anc := owner[off:]
		if anc != t.zone && !dns.IsSubDomain(t.zone, anc) {
			break
		}
		has := false
		if t.index != nil {
			for _, r := range t.index[anc] {
				has = has || r.rr.Header().Rrtype == dns.TypeDNAME
			}
		} else {
			rows, err := t.rowsAt(anc, dns.TypeDNAME)
			if err != nil {
				return err
			}
			has = len(rows) > 0
		}
		if has {
			return fmt.Errorf("%w: %s is below the DNAME at %s; no data may exist there (RFC 6672 §2.3)", ErrConflict, owner, anc)
		}
	}
	if typ != dns.TypeDNAME {
		return nil
	}
	below := 0
	if t.index != nil {
		for name := range t.index {
			if name != owner && dns.IsSubDomain(owner, name) {
				below++
			}
		}
	} else {
		suffix := "." + dbName(owner)
		err := t.tx.QueryRowContext(t.ctx, "SELECT count(*) FROM records WHERE domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != '' AND substr(name, -?) = ?",
			t.zoneID, len(suffix), suffix).Scan(&below)
		if err != nil {
			return err
		}
	}
	if below > 0 {
		return fmt.Errorf("%w: %s has names below it; a DNAME there would hide them (RFC 6672 §2.3)", ErrConflict, owner)
	}
	return nil
}

// authFor is PowerDNS's auth flag for a new row: delegation NS sets are not
// authoritative data. Glue below a delegation is fixed up by pdnsutil
// rectify-zone; serving does not depend on the flag.
func (t *Tx) authFor(owner string, typ uint16) int {
	if typ == dns.TypeNS && owner != t.zone {
		return 0
	}
	return 1
}

// cnameCompanion lists the types RFC 4035 §2.5 allows beside a CNAME.
func cnameCompanion(t uint16) bool {
	return t == dns.TypeRRSIG || t == dns.TypeNSEC
}

// sameRdata compares RDATA ignoring TTL and owner case.
func sameRdata(a, b dns.RR) bool {
	a, b = dns.Copy(a), dns.Copy(b)
	a.Header().Name, b.Header().Name = canonical(a.Header().Name), canonical(b.Header().Name)
	return dns.IsDuplicate(a, b)
}

func rdataString(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}

// check applies the per-record rules that do not depend on other records.
func (t *Tx) check(rr dns.RR) error {
	h := rr.Header()
	owner := canonical(h.Name)
	if h.Class != dns.ClassINET {
		return fmt.Errorf("%w: class %s: only IN is served", ErrInvalid, dns.ClassToString[h.Class])
	}
	if h.Ttl > maxTTL {
		return fmt.Errorf("%w: TTL %d is above 2147483647", ErrInvalid, h.Ttl)
	}
	if owner != t.zone && !dns.IsSubDomain(t.zone, owner) {
		return fmt.Errorf("%w: %s is not inside zone %s", ErrInvalid, owner, t.zone)
	}
	switch h.Rrtype {
	case dns.TypeSOA:
		if owner != t.zone {
			return fmt.Errorf("%w: SOA only at the zone apex", ErrInvalid)
		}
	case dns.TypeCNAME:
		if owner == t.zone {
			return fmt.Errorf("%w: no CNAME at the zone apex (RFC 1034 §3.6.2)", ErrInvalid)
		}
	case dns.TypeNSEC3, dns.TypeNSEC3PARAM:
		return fmt.Errorf("%w: %s records are not served", ErrInvalid, dns.TypeToString[h.Rrtype])
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeMAILA, dns.TypeMAILB, dns.TypeNone:
		return fmt.Errorf("%w: %s is not a record type for zone data", ErrInvalid, dns.TypeToString[h.Rrtype])
	}
	if _, ok := dns.TypeToString[h.Rrtype]; !ok {
		return fmt.Errorf("%w: unknown type %d", ErrInvalid, h.Rrtype)
	}
	if err := checkRdata(rr); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrInvalid, owner, dns.TypeToString[h.Rrtype], err)
	}
	if t.packBuf == nil {
		t.packBuf = make([]byte, dns.MaxMsgSize)
	}
	if _, err := dns.PackRR(rr, t.packBuf, 0, nil, false); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, owner, err)
	}
	return nil
}

// Delete removes the served record with id from the zone, returning it. A
// disabled row is not served, so it is not found here, as in Record.
func (t *Tx) Delete(id int64) (dns.RR, error) {
	if err := t.requireZone(); err != nil {
		return nil, err
	}
	var (
		name, typ, content string
		ttl, prio          sql.NullInt64
	)
	err := t.tx.QueryRowContext(t.ctx, "SELECT name, type, content, ttl, prio FROM records WHERE id = ? AND domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != ''", id, t.zoneID).
		Scan(&name, &typ, &content, &ttl, &prio)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: record %d in zone %s", ErrNotFound, id, t.zone)
	}
	if err != nil {
		return nil, err
	}
	typ = strings.ToUpper(typ)
	if typ == "SOA" {
		return nil, fmt.Errorf("%w: the SOA record is changed through the zone, not deleted", ErrInvalid)
	}
	rr, _ := parseRow(name, typ, content, ttl.Int64, prio.Int64)
	t.index = nil // from here on, rules are checked against the table
	if err := t.fingerprintRow(id, -1); err != nil {
		return nil, err
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM records WHERE id = ?", id); err != nil {
		return nil, err
	}
	t.changed = true
	if rr != nil && !t.created {
		t.diff.remove(id, rr)
	}
	return rr, nil
}

// RRset returns the served records at owner of type typ (all types when typ
// is 0) with their row ids.
func (t *Tx) RRset(owner string, typ uint16) (ids []int64, rrs []dns.RR, err error) {
	if err := t.requireZone(); err != nil {
		return nil, nil, err
	}
	rows, err := t.rowsAt(canonical(owner), typ)
	for _, r := range rows {
		ids = append(ids, r.id)
		rrs = append(rrs, r.rr)
	}
	return ids, rrs, err
}

// SOA returns the zone's SOA record. Asking by the apex name lets SQLite use
// the (domain_id, name, type) index instead of scanning the zone's rows.
func (t *Tx) SOA() (*dns.SOA, error) {
	if err := t.requireZone(); err != nil {
		return nil, err
	}
	var (
		id      int64
		name    string
		content string
		ttl     sql.NullInt64
	)
	err := t.tx.QueryRowContext(t.ctx, "SELECT id, name, content, ttl FROM records WHERE domain_id = ? AND name = ? AND type = 'SOA' AND disabled = 0 ORDER BY id LIMIT 1", t.zoneID, dbName(t.zone)).
		Scan(&id, &name, &content, &ttl)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: zone %s has no SOA record", ErrNotFound, t.zone)
	}
	if err != nil {
		return nil, err
	}
	rr, err := parseRow(name, "SOA", content, ttl.Int64, 0)
	if err != nil {
		return nil, fmt.Errorf("zone %s: stored SOA: %w", t.zone, err)
	}
	t.soaRowID = id
	return rr.(*dns.SOA), nil
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
	if err := t.fingerprintRow(t.soaRowID, -1); err != nil {
		return err
	}
	if _, err := t.tx.ExecContext(t.ctx, "UPDATE records SET content = ?, ttl = ? WHERE id = ?", content, soa.Hdr.Ttl, t.soaRowID); err != nil {
		return err
	}
	t.changed = true
	return t.fingerprintRow(t.soaRowID, 1)
}

// fingerprintRow adds (sign 1) or subtracts (sign -1) row id's hash to the
// transaction's fingerprint change, computed by SQLite exactly as
// Fingerprints computes it. A zone created in this transaction has no
// journal, so its (possibly large) import skips the work.
func (t *Tx) fingerprintRow(id int64, sign int64) error {
	if t.created {
		return nil
	}
	var h int64
	if err := t.tx.QueryRowContext(t.ctx, "SELECT "+rowHashSQL+" FROM records r WHERE r.id = ?", id).Scan(&h); err != nil {
		return fmt.Errorf("fingerprint of row %d: %w", id, err)
	}
	t.fpRows += sign
	t.fpSum += sign * h
	return nil
}

// checkApex keeps the zone servable: it must keep an apex NS record.
func (t *Tx) checkApex() error {
	var n int
	if err := t.tx.QueryRowContext(t.ctx, "SELECT count(*) FROM records WHERE domain_id = ? AND name = ? AND type = 'NS' AND disabled = 0", t.zoneID, dbName(t.zone)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: zone %s would be left without an apex NS record", ErrConflict, t.zone)
	}
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
