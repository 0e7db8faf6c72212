package store

import (
	"fmt"
	"strings"
	"sync"

	"github.com/miekg/dns"
)

// The zone's rules for records, checked inside the write transaction:
// per-record validity, CNAME and DNAME exclusivity, the apex NS.

// maxTTL is the largest TTL RFC 2181 §8 allows.
const maxTTL = 1<<31 - 1

// dnameRules enforces RFC 6672 §2.3: no data below a DNAME's owner, in
// either order of insertion. dnamesAbove are the DNAME rows at owner's
// ancestors (rowsAround), unless the zone was created in t (t.index).
func (t *Tx) dnameRules(owner string, typ uint16, dnamesAbove []row) error {
	for _, anc := range t.ancestors(owner) {
		has := false
		if t.index != nil {
			for _, r := range t.index[anc] {
				has = has || r.rr.Header().Rrtype == dns.TypeDNAME
			}
		} else {
			for _, r := range dnamesAbove {
				has = has || canonical(r.rr.Header().Name) == anc
			}
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
		err := t.queryRow("SELECT count(*) FROM records WHERE domain_id = ? AND disabled = 0 AND type IS NOT NULL AND type != '' AND substr(name, -?) = ?",
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

// ancestors are the names above owner in the zone, nearest first, up to
// and including the apex.
func (t *Tx) ancestors(owner string) []string {
	labels := dns.Split(owner)
	if len(labels) < 2 {
		return nil
	}
	var out []string
	for _, off := range labels[1:] {
		anc := owner[off:]
		if anc != t.zone && !dns.IsSubDomain(t.zone, anc) {
			break
		}
		out = append(out, anc)
	}
	return out
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

// conflicts applies the rules between rr and the rows already at its
// owner: one CNAME and nothing else but DNSSEC records beside it (RFC 1034
// §3.6.2, RFC 4035 §2.5), one DNAME (RFC 6672 §2.4), no duplicate record.
func conflicts(owner string, rr dns.RR, existing []row) error {
	typ := rr.Header().Rrtype
	for _, e := range existing {
		et := e.rr.Header().Rrtype
		switch {
		case typ == dns.TypeCNAME && et == dns.TypeCNAME:
			return fmt.Errorf("%w: %s already has a CNAME", ErrConflict, owner)
		case typ == dns.TypeCNAME && !cnameCompanion(et):
			return fmt.Errorf("%w: %s has other data (%s); a CNAME cannot share its name (RFC 1034 §3.6.2)", ErrConflict, owner, dns.TypeToString[et])
		case et == dns.TypeCNAME && !cnameCompanion(typ):
			return fmt.Errorf("%w: %s is a CNAME; it cannot have other data (RFC 1034 §3.6.2)", ErrConflict, owner)
		case typ == dns.TypeDNAME && et == dns.TypeDNAME:
			return fmt.Errorf("%w: %s already has a DNAME (RFC 6672 §2.4)", ErrConflict, owner)
		case et == typ && SameRecord(e.rr, rr):
			return fmt.Errorf("%w: %s %s %s already exists", ErrConflict, owner, dns.TypeToString[typ], Rdata(rr))
		}
	}
	return nil
}

// cnameCompanion lists the types RFC 4035 §2.5 allows beside a CNAME.
func cnameCompanion(t uint16) bool {
	return t == dns.TypeRRSIG || t == dns.TypeNSEC
}

// SameRecord reports whether a and b are the same record of a zone: owner
// (in any case), type and RDATA, not TTL or class, since an UPDATE's
// prerequisites and deletions carry class ANY or NONE and TTL 0. The store's
// duplicate rule and mcns's UPDATE use it alike, so both agree on what is
// already there.
func SameRecord(a, b dns.RR) bool {
	a, b = dns.Copy(a), dns.Copy(b)
	a.Header().Name, b.Header().Name = canonical(a.Header().Name), canonical(b.Header().Name)
	a.Header().Class, b.Header().Class = dns.ClassINET, dns.ClassINET
	return dns.IsDuplicate(a, b)
}

// Rdata is rr's RDATA in presentation format, as a zone file and
// PowerDNS's API write it.
func Rdata(rr dns.RR) string {
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
	if err := packs(rr); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrInvalid, owner, err)
	}
	return nil
}

// packBuffers hold one largest message each, for packs: a buffer per
// write would cost a 64 KiB allocation and its clearing every time.
var packBuffers = sync.Pool{New: func() any { b := make([]byte, dns.MaxMsgSize); return &b }}

// packs reports whether rr packs into wire format (within a message's
// size), which some RDATA that parses does not.
func packs(rr dns.RR) error {
	b := packBuffers.Get().(*[]byte)
	defer packBuffers.Put(b)
	_, err := dns.PackRR(rr, *b, 0, nil, false)
	return err
}

// checkApex keeps the zone servable: it must keep an apex NS record.
// Only a zone created here, or a change removing an apex NS record, can
// leave it without one: other changes skip the query.
func (t *Tx) checkApex() error {
	if !t.created && !t.diff.removes(t.zone, dns.TypeNS) {
		return nil
	}
	var n int
	if err := t.queryRow("SELECT count(*) FROM records WHERE domain_id = ? AND name = ? AND type = 'NS' AND disabled = 0", t.zoneID, dbName(t.zone)).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("%w: zone %s would be left without an apex NS record", ErrConflict, t.zone)
	}
	return nil
}
