package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Default journal limits, per zone: enough for a secondary that was away
// for a week or missed a thousand changes to catch up incrementally.
const (
	DefaultJournalEntries = 1000
	DefaultJournalAge     = 7 * 24 * time.Hour
)

// JournalEntry is one serial change of a zone: the SOA before and after and
// the records removed and added in between (RFC 1995's difference
// sequence).
type JournalEntry struct {
	From, To uint32
	OldSOA   *dns.SOA
	NewSOA   *dns.SOA
	Removed  []dns.RR
	Added    []dns.RR
}

// SetJournalLimits sets how many journal entries per zone are kept and for
// how long; entries = 0 turns the journal off (and clears it on the next
// write of each zone), age = 0 keeps entries regardless of age.
func (s *Store) SetJournalLimits(entries int, age time.Duration) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.journalEntries, s.journalAge = max(entries, 0), max(age, 0)
}

// writeJournal records the transaction's change, inside it, and trims the
// zone's journal. old is the SOA before the transaction; without one (a
// zone that had no SOA) the change cannot be expressed and the journal of
// the zone is cleared, which makes incremental transfers fall back to full
// ones.
func (t *Tx) writeJournal(s *Store, old *dns.SOA) error {
	if s.journalEntries == 0 || old == nil {
		return t.clearJournal()
	}
	cur, err := t.SOA()
	if err != nil {
		return err
	}
	if cur.Serial == old.Serial {
		// A change that kept the serial (only seeding does) cannot be
		// told apart by serial: break the chain.
		return t.clearJournal()
	}
	after, err := t.versionAfter()
	if err != nil {
		return err
	}
	seq := t.journalSeq + 1
	_, err = t.exec(`INSERT INTO mcns_journal(zone, from_serial, to_serial, old_soa, new_soa, removed, added, to_changes, created_at, seq)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.zone, old.Serial, cur.Serial, old.String(), cur.String(),
		rrLines(t.diff.removedRRs()), rrLines(t.diff.addedRRs()), after.Changes, t.now.Unix(), seq)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	t.journalSeq = seq
	if err := t.trimJournal(s); err != nil {
		return fmt.Errorf("journal trim: %w", err)
	}
	return nil
}

// trimJournal keeps at most journalEntries entries of the zone and drops
// those older than journalAge. Deleting an entry dirties pages of the
// table and of its index that no other part of a write touches, so when
// the zone is over its count the oldest are dropped in a batch, a
// sixteenth of the count, down to what keeps it under the count until the
// next batch: a write knows the oldest entry from its head (head.go) and
// deletes only every so often. Entries are written in time order (one
// written under a clock set back goes when the older ones before it have).
func (t *Tx) trimJournal(s *Store) error {
	if t.oldest == nil {
		// The entry just written is the only one.
		return nil
	}
	if t.journalSeq-t.oldest.seq+1 > int64(s.journalEntries) {
		keep := int64(s.journalEntries - s.journalEntries/journalTrimBatch)
		if _, err := t.exec("DELETE FROM mcns_journal WHERE zone = ? AND seq <= ?", t.zone, t.journalSeq-keep); err != nil {
			return err
		}
	}
	if s.journalAge <= 0 {
		return nil
	}
	if cutoff := t.now.Add(-s.journalAge).Unix(); t.oldest.createdAt < cutoff {
		if _, err := t.exec("DELETE FROM mcns_journal WHERE zone = ? AND created_at < ?", t.zone, cutoff); err != nil {
			return err
		}
	}
	return nil
}

// journalEntry is where a journal entry stands in its zone's journal.
type journalEntry struct{ seq, createdAt int64 }

// journalTrimBatch: a zone over its journal count drops the oldest
// count/journalTrimBatch entries at once (all over the count when that is
// fewer than one).
const journalTrimBatch = 16

// journalBehind reports whether the zone's journal ends at another version
// than head's, the one this transaction starts from: another program
// changed the zone after the last journaled change, which the journal
// cannot describe. An empty journal has nothing to be behind.
func (t *Tx) journalBehind(head zoneHead) bool {
	return t.journalSeq != 0 && head.journalTo != head.version.Changes
}

func (t *Tx) clearJournal() error {
	if _, err := t.exec("DELETE FROM mcns_journal WHERE zone = ?", t.zone); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	t.journalSeq, t.oldest = 0, nil
	return nil
}

// ClearJournal drops a zone's journal: incremental transfers from any
// earlier serial fall back to full ones until new entries accumulate.
func (s *Store) ClearJournal(ctx context.Context, zone string) error {
	zone, err := zoneName(zone)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_, err = s.db.ExecContext(ctx, "DELETE FROM mcns_journal WHERE zone = ?", zone)
	return err
}

// Journal returns the chain of entries leading a zone from serial from to
// serial to, whose data is the zone's version changes (ZoneVersion), oldest
// first. ok is false when the journal does not connect the two serials
// (trimmed, reset, never recorded) or does not account for every change up
// to that version (another program edited the zone, maybe keeping the
// serial), in which case a full transfer is needed.
func (s *Store) Journal(ctx context.Context, zone string, from, to uint32, changes int64) (entries []JournalEntry, ok bool, err error) {
	zone, err = zoneName(zone)
	if err != nil {
		return nil, false, err
	}
	links, ok, err := s.journalChain(ctx, zone, from, to, changes)
	if err != nil || !ok || len(links) == 0 {
		return nil, ok, err
	}
	// The chain is a run of consecutive entries of the zone.
	rows, err := s.query(ctx, `SELECT old_soa, new_soa, removed, added FROM mcns_journal
		WHERE zone = ? AND seq BETWEEN ? AND ? ORDER BY seq`, zone, links[0].seq, links[len(links)-1].seq)
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	for i := 0; rows.Next(); i++ {
		var oldText, newText, removed, added string
		if err := rows.Scan(&oldText, &newText, &removed, &added); err != nil {
			return nil, false, err
		}
		if i >= len(links) {
			return nil, false, fmt.Errorf("journal of %s changed while read", zone)
		}
		l := links[i]
		e := JournalEntry{From: l.from, To: l.to}
		old, err1 := dns.NewRR(oldText)
		cur, err2 := dns.NewRR(newText)
		oldSOA, ok1 := old.(*dns.SOA)
		newSOA, ok2 := cur.(*dns.SOA)
		if err1 != nil || err2 != nil || !ok1 || !ok2 {
			return nil, false, fmt.Errorf("journal of %s: bad SOA in entry %d -> %d", zone, l.from, l.to)
		}
		e.OldSOA, e.NewSOA = oldSOA, newSOA
		if e.Removed, err = parseLines(removed); err != nil {
			return nil, false, fmt.Errorf("journal of %s: %w", zone, err)
		}
		if e.Added, err = parseLines(added); err != nil {
			return nil, false, fmt.Errorf("journal of %s: %w", zone, err)
		}
		entries = append(entries, e)
	}
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	if len(entries) != len(links) {
		return nil, false, fmt.Errorf("journal of %s changed while read", zone)
	}
	return entries, true, nil
}

// link is one journal entry without its records.
type link struct {
	seq       int64
	from, to  uint32
	toChanges int64
}

// journalChain finds the entries leading zone from serial from to serial
// to at zone version changes, reading only their serials and versions.
func (s *Store) journalChain(ctx context.Context, zone string, from, to uint32, changes int64) ([]link, bool, error) {
	if from == to {
		return nil, true, nil
	}
	rows, err := s.query(ctx, "SELECT seq, from_serial, to_serial, to_changes FROM mcns_journal WHERE zone = ? ORDER BY seq", zone)
	if err != nil {
		return nil, false, err
	}
	var links []link
	for rows.Next() {
		var l link
		var f, t int64
		if err := rows.Scan(&l.seq, &f, &t, &l.toChanges); err != nil {
			rows.Close()
			return nil, false, err
		}
		l.from, l.to = uint32(f), uint32(t)
		links = append(links, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, false, err
	}
	// Walk back from the newest entry reaching to: writes committed after
	// the snapshot being served may follow it.
	end := -1
	for i := len(links) - 1; i >= 0; i-- {
		if links[i].to == to {
			end = i
			break
		}
	}
	if end < 0 || links[end].toChanges != changes {
		// Not there, or the data moved on without an entry.
		return nil, false, nil
	}
	for i := end; i >= 0; i-- {
		if i < end && links[i].to != links[i+1].from {
			return nil, false, nil
		}
		if links[i].from == from {
			return links[i : end+1], true, nil
		}
	}
	return nil, false, nil
}

// rrLines is records in presentation format, one per line, owner names in
// the canonical form they are stored in; String escapes control
// characters, so a record never spans lines.
func rrLines(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		if h := rr.Header(); h.Name != canonical(h.Name) {
			rr = dns.Copy(rr)
			rr.Header().Name = canonical(h.Name)
		}
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func parseLines(s string) ([]dns.RR, error) {
	var out []dns.RR
	for line := range strings.Lines(s) {
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil {
			return nil, err
		}
		out = append(out, rr)
	}
	return out, nil
}
