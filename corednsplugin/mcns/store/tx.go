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

// Tx is one write transaction on one zone. Every change to zone data is made
// through a Tx inside Store.Update, which validates each record against the
// zone's rules and bumps the SOA serial once at the end.
type Tx struct {
	tx *sql.Tx
	// ctx is the writer's context, checked before each statement; run is
	// ctx without its cancellation, the one the statements get (sqlCtx).
	ctx, run context.Context
	db       *sql.DB     // the pool tx came from, for preparing statements
	stmts    *statements // the store's prepared statements
	zoneID   int64       // 0 until the zone exists
	zone     string
	created  bool // the zone was created in this transaction
	deleted  bool // the zone was deleted in this transaction
	changed  bool // some row changed
	keepSOA  bool // the caller set the serial itself (seeding)
	// resetJournal: the change cannot be expressed as an IXFR step (a
	// serial raised over a restored database), so the journal ends here.
	resetJournal bool
	// journalSeq is the number of the zone's newest journal entry, 0
	// for none; oldest is its oldest entry, nil for none (journal.go).
	journalSeq int64
	oldest     *journalEntry
	now        time.Time
	soaRowID   int64
	// soa is the zone's SOA as last read or written here, nil until
	// then: a write reads it several times (before, bumped, journaled).
	soa *dns.SOA
	// after is the zone's version once every row is written, read once
	// for the journal entry and the Change.
	after *ZoneVersion

	// diff is the transaction's net change for the journal: a row added
	// and then deleted here, or a record removed and then added back
	// unchanged, leaves no trace.
	diff diff

	// index holds the rows of a zone created in this transaction, so
	// importing a large zone checks its rules in memory instead of with a
	// query per record.
	index   map[string][]row
	insStmt *sql.Stmt
}

// Update runs fn on zone in an IMMEDIATE transaction and commits it only
// if fn and the zone's rules succeed; the SOA serial is bumped once when
// anything changed. It is the only way zone data is written.
//
// Writers that queue up behind one another share a transaction and its
// one commit (group.go): each fn runs in its own savepoint, so an error
// undoes and reports only that writer's part, and each writer still gets
// its own serial, journal entry and Change. Update returns after the
// commit is durable and the change was delivered to OnCommit's functions.
// fn may run on another writer's goroutine, after zone was validated here.
func (s *Store) Update(ctx context.Context, zone string, fn func(*Tx) error) error {
	zone, err := zoneName(zone)
	if err != nil {
		return err
	}
	if err := s.checkAllowed(zone); err != nil {
		return err
	}
	w := s.queueWrite(ctx, zone, fn)
	if w.panicked {
		panic(w.panicVal) // fn's, raised on the goroutine that called Update
	}
	if w.err != nil || w.change == nil {
		return w.err
	}
	s.deliver(w.hooks)
	return nil
}

// updateTogether is Update of fns[i] on zones[i], all queued at once, so
// they share one group: one transaction and one commit. It returns each
// one's error.
func (s *Store) updateTogether(ctx context.Context, zones []string, fns []func(*Tx) error) []error {
	errs := make([]error, len(zones))
	var ws []*write
	var of []int // ws[j] is zones[of[j]]'s
	for i, z := range zones {
		zone, err := zoneName(z)
		if err == nil {
			err = s.checkAllowed(zone)
		}
		if err != nil {
			errs[i] = err
			continue
		}
		ws = append(ws, newWrite(ctx, zone, fns[i]))
		of = append(of, i)
	}
	if len(ws) == 0 {
		return errs
	}
	s.queueWrites(ws)
	var hooks []func([]Change)
	for j, w := range ws {
		if w.panicked {
			panic(w.panicVal)
		}
		errs[of[j]] = w.err
		if w.err == nil && w.change != nil {
			hooks = w.hooks
		}
	}
	if hooks != nil {
		s.deliver(hooks)
	}
	return errs
}

// deliver runs hooks on every committed change not yet delivered. The next
// group may commit meanwhile. Changes queue in commit order; whoever
// delivers takes every change queued so far, so a burst of writes reaches
// readers as one batch, and each writer returns only after its own change
// was delivered (by itself or by the writer holding dmu before it).
func (s *Store) deliver(hooks []func([]Change)) {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.qmu.Lock()
	batch := s.pending
	s.pending = nil
	s.qmu.Unlock()
	if len(batch) > 0 {
		for _, f := range hooks {
			f(batch)
		}
	}
}

// update runs one writer's part of a group's transaction sqlTx, under wmu
// and inside the writer's savepoint; it returns the change, nil if nothing
// changed. ctx ends the writer's part between statements, never inside
// one; run is ctx without its cancellation (Tx.sqlCtx).
func (s *Store) update(ctx, run context.Context, sqlTx *sql.Tx, zone string, fn func(*Tx) error) (*Change, error) {
	t := &Tx{tx: sqlTx, ctx: ctx, run: run, db: s.db, stmts: &s.stmts, zone: zone, now: s.now()}
	defer t.closeStmts()
	head, err := t.readHead()
	if err != nil {
		return nil, err
	}
	before := head.version
	// The SOA before the change heads the change's journal entry.
	var oldSOA *dns.SOA
	if t.soa != nil {
		oldSOA = dns.Copy(t.soa).(*dns.SOA)
	}
	// Another program changed the zone since the last journaled change:
	// the journal cannot describe that, so it starts over.
	t.resetJournal = t.journalBehind(head)
	if err := fn(t); err != nil {
		return nil, err
	}
	if t.changed && !t.deleted {
		if err := t.checkApex(); err != nil {
			return nil, err
		}
		if !t.keepSOA {
			if err := t.bumpSerial(); err != nil {
				return nil, err
			}
		}
	}
	// The journal is written in the same transaction as the change, so it
	// can never disagree with the data.
	switch {
	case t.deleted || t.created || t.resetJournal:
		// A zone's journal ends with it; a new zone starts without one.
		if err := t.clearJournal(); err != nil {
			return nil, err
		}
	case t.changed:
		if err := t.writeJournal(s, oldSOA); err != nil {
			return nil, err
		}
	}
	return t.change(oldSOA, before)
}

// closeStmts closes the statements t prepared: a group's transaction
// outlives each writer's Tx.
func (t *Tx) closeStmts() {
	if t.insStmt != nil {
		t.insStmt.Close()
		t.insStmt = nil
	}
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
	res, err := t.exec("INSERT INTO domains(name, type) VALUES (?, 'NATIVE')", dbName(t.zone))
	if err != nil {
		return err
	}
	t.zoneID, err = res.LastInsertId()
	t.created, t.changed, t.soa, t.after = true, true, nil, nil
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
		if _, err := t.exec(`INSERT INTO mcns_deleted_zones(zone, last_serial, deleted_at) VALUES (?, ?, ?)
			ON CONFLICT(zone) DO UPDATE SET last_serial = excluded.last_serial, deleted_at = excluded.deleted_at`,
			t.zone, soa.Serial, t.now.Unix()); err != nil {
			return err
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	if _, err := t.exec("DELETE FROM records WHERE domain_id = ?", t.zoneID); err != nil {
		return err
	}
	if _, err := t.exec("DELETE FROM domains WHERE id = ?", t.zoneID); err != nil {
		return err
	}
	t.deleted, t.changed, t.soa, t.after = true, true, nil, nil
	return nil
}

// row is a served records row.
type row struct {
	id int64
	rr dns.RR
}

// servedRowsAt selects the served rows of a zone (?) at a name (?), in
// scanRows's columns.
const servedRowsAt = "SELECT id, name, type, content, ttl, prio FROM records WHERE domain_id = ? AND name = ? AND disabled = 0 AND type IS NOT NULL AND type != ''"

// rowsAt returns the served rows at owner (any type when typ is 0).
func (t *Tx) rowsAt(owner string, typ uint16) ([]row, error) {
	q := servedRowsAt
	args := []any{t.zoneID, dbName(owner)}
	if typ != 0 {
		q += " AND type = ?"
		args = append(args, dns.TypeToString[typ])
	}
	return t.scanRows(q, args...)
}

// rowsAround returns the served rows at owner and the DNAME rows at its
// ancestors in the zone (dnameRules), which the rules for a new record at
// owner need both, in one statement. The second half is a query of its
// own, not an OR in the first: SQLite answers either through the (domain_id,
// name, type) index, but their OR through a scan of the zone.
func (t *Tx) rowsAround(owner string) (at, dnamesAbove []row, err error) {
	ancestors := t.ancestors(owner)
	if len(ancestors) == 0 {
		at, err = t.rowsAt(owner, 0)
		return at, nil, err
	}
	q := servedRowsAt + " UNION ALL SELECT id, name, type, content, ttl, prio FROM records WHERE domain_id = ? AND name IN (?" + strings.Repeat(", ?", len(ancestors)-1) + ") AND type = 'DNAME' AND disabled = 0"
	args := []any{t.zoneID, dbName(owner), t.zoneID}
	for _, a := range ancestors {
		args = append(args, dbName(a))
	}
	rows, err := t.scanRows(q, args...)
	for _, r := range rows {
		if canonical(r.rr.Header().Name) == owner {
			at = append(at, r)
		} else {
			dnamesAbove = append(dnamesAbove, r)
		}
	}
	return at, dnamesAbove, err
}

// scanRows runs query, which selects id, name, type, content, ttl and prio
// of records rows, and returns them parsed.
func (t *Tx) scanRows(query string, args ...any) ([]row, error) {
	rows, err := t.query(query, args...)
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
	var existing, dnamesAbove []row
	var err error
	if t.index != nil {
		existing = t.index[owner]
	} else if existing, dnamesAbove, err = t.rowsAround(owner); err != nil {
		return 0, err
	}
	if err := conflicts(owner, rr, existing); err != nil {
		return 0, err
	}
	if err := t.dnameRules(owner, h.Rrtype, dnamesAbove); err != nil {
		return 0, err
	}
	content, prio := contentOf(rr)
	if t.insStmt == nil {
		t.insStmt, err = t.stmt("INSERT INTO records(id, domain_id, name, type, content, ttl, prio, disabled, auth) VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?)")
		if err != nil {
			return 0, err
		}
	}
	var idArg any // NULL lets SQLite pick the next id
	if id != 0 {
		idArg = id
	}
	res, err := t.insStmt.ExecContext(t.sqlCtx(), idArg, t.zoneID, dbName(owner), dns.TypeToString[h.Rrtype], content, h.Ttl, prio, t.authFor(owner, h.Rrtype))
	if err != nil {
		return 0, err
	}
	if id == 0 {
		if id, err = res.LastInsertId(); err != nil {
			return 0, err
		}
	}
	if t.index != nil {
		t.index[owner] = append(t.index[owner], row{id: id, rr: rr})
	}
	t.changed, t.after = true, nil
	if h.Rrtype == dns.TypeSOA {
		t.soa = nil
	} else if !t.created {
		t.diff.add(id, rr)
	}
	return id, nil
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
	err := t.queryRow("SELECT name, type, content, ttl, prio FROM records WHERE id = ? AND domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != ''", id, t.zoneID).
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
	if _, err := t.exec("DELETE FROM records WHERE id = ?", id); err != nil {
		return nil, err
	}
	t.changed, t.after = true, nil
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
