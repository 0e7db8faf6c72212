package store

import "github.com/miekg/dns"

// diff is a transaction's change to a zone as the journal records it: the
// net difference between the zone before and after, which is what RFC 1995
// secondaries apply (deletions, then additions). Merely logging each step
// would not do: a record added and then deleted in one UPDATE would be in
// both lists, and a secondary applying them in that order would keep it.
type diff struct {
	added   []addedRow       // entries with a nil rr were cancelled
	addedAt map[int64]int    // row id -> index in added
	removed []dns.RR         // nil entries were cancelled
	remAt   map[string][]int // recordKey -> indexes in removed
}

type addedRow struct {
	id int64
	rr dns.RR
}

// add notes that row id now holds rr. A record removed earlier in the
// transaction and now added back with the same data and TTL is no change:
// the removal is cancelled instead.
func (d *diff) add(id int64, rr dns.RR) {
	k := recordKey(rr)
	if idx := d.remAt[k]; len(idx) > 0 {
		// Record sets are sets: however many copies were removed, the
		// record is there again.
		for _, i := range idx {
			d.removed[i] = nil
		}
		delete(d.remAt, k)
		return
	}
	if d.addedAt == nil {
		d.addedAt = map[int64]int{}
	}
	d.addedAt[id] = len(d.added)
	d.added = append(d.added, addedRow{id: id, rr: rr})
}

// remove notes that row id, holding rr, was deleted. A row added in this
// transaction simply disappears from the additions.
func (d *diff) remove(id int64, rr dns.RR) {
	if i, ok := d.addedAt[id]; ok {
		d.added[i].rr = nil
		delete(d.addedAt, id)
		return
	}
	if d.remAt == nil {
		d.remAt = map[string][]int{}
	}
	k := recordKey(rr)
	d.remAt[k] = append(d.remAt[k], len(d.removed))
	d.removed = append(d.removed, rr)
}

// removes reports whether the net change removes a record of type typ
// at owner (canonical).
func (d *diff) removes(owner string, typ uint16) bool {
	for _, rr := range d.removed {
		if rr != nil && rr.Header().Rrtype == typ && canonical(rr.Header().Name) == owner {
			return true
		}
	}
	return false
}

func (d *diff) addedRRs() []dns.RR {
	var out []dns.RR
	for _, a := range d.added {
		if a.rr != nil {
			out = append(out, a.rr)
		}
	}
	return out
}

func (d *diff) removedRRs() []dns.RR {
	var out []dns.RR
	for _, rr := range d.removed {
		if rr != nil {
			out = append(out, rr)
		}
	}
	return out
}

// recordKey identifies a record by owner, class, type, TTL and data, with
// the owner in canonical form. Data is compared as presented, so two
// spellings of the same data (name case inside RDATA) count as different;
// the journal then lists a removal and an addition, which is still correct.
func recordKey(rr dns.RR) string {
	if h := rr.Header(); h.Name != canonical(h.Name) {
		rr = dns.Copy(rr)
		rr.Header().Name = canonical(h.Name)
	}
	return rr.String()
}
