package store

import (
	"github.com/miekg/dns"
)

// Change is one committed write to one zone, as its readers need it to
// apply the write without reading the zone again: the net records removed
// and added (SOA changes excluded; the new SOA is NewSOA).
type Change struct {
	Zone string
	// OldSOA is nil for a zone created by the write; NewSOA is nil for a
	// zone deleted by it.
	OldSOA, NewSOA *dns.SOA
	Removed, Added []dns.RR
	// Created and Deleted: the whole zone appeared or went away. A created
	// zone's records are not listed (an import can be large): load it.
	Created, Deleted bool
	// Reset: the change is not expressible as a difference (the serial was
	// raised over a restored database); readers load the zone again.
	Reset bool
	// Before and After are the zone's versions the write started from and
	// left. A reader serving Before may apply the difference; one serving
	// anything else missed another program's edit and loads the zone.
	Before, After ZoneVersion
}

// CommitFunc receives every committed change, in commit order, after the
// commit and outside the store's write lock, so it may read the store. It
// must not write to the store. Update returns only after every CommitFunc
// returned: a reader that applies the change inside it serves the change
// before the writer hears of its success.
type CommitFunc func(Change)

// OnCommit adds f to the functions told of every committed change. Set it
// before the first write.
func (s *Store) OnCommit(f CommitFunc) {
	s.OnCommits(func(cs []Change) {
		for _, c := range cs {
			f(c)
		}
	})
}

// BatchFunc receives committed changes as OnCommit's functions do, several
// at a time when writes commit faster than they are delivered: the changes
// of a burst, oldest first, so a reader can apply them together.
type BatchFunc func([]Change)

// OnCommits adds f to the functions told of every committed change, in
// batches. Set it before the first write.
func (s *Store) OnCommits(f BatchFunc) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.onCommit = append(s.onCommit, f)
}

// change is the Change this transaction committed, or nil if it changed
// nothing.
func (t *Tx) change(oldSOA *dns.SOA, before ZoneVersion) (*Change, error) {
	if !t.changed && !t.deleted && !t.created {
		return nil, nil
	}
	after, err := t.versionAfter()
	if err != nil {
		return nil, err
	}
	c := &Change{Zone: t.zone, OldSOA: oldSOA, Created: t.created, Deleted: t.deleted, Reset: t.resetJournal,
		Before: before, After: after}
	if t.created {
		c.OldSOA = nil
	}
	if !t.deleted {
		soa, err := t.SOA()
		if err != nil {
			return nil, err
		}
		c.NewSOA = soa
	}
	if !t.created && !t.deleted {
		c.Removed, c.Added = t.diff.removedRRs(), t.diff.addedRRs()
	}
	return c, nil
}

// versionAfter is the zone's version once the transaction wrote every
// row: the journal entry and the Change read it after the last write, so
// it is read once.
func (t *Tx) versionAfter() (ZoneVersion, error) {
	if t.after == nil {
		v, err := zoneVersion(t.queryRow, t.zoneID)
		if err != nil {
			return v, err
		}
		t.after = &v
	}
	return *t.after, nil
}
