package mcns

import (
	"context"
	"errors"
	"time"

	"github.com/coredns/coredns/plugin/tsig"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// rcodeError aborts an UPDATE's transaction with an RFC 2136 rcode.
type rcodeError int

func (e rcodeError) Error() string { return dns.RcodeToString[int(e)] }

// serveUpdate handles an RFC 2136 UPDATE. Only requests signed with a TSIG
// key that the tsig plugin validated, and that the Corefile allows for the
// zone, are processed; the prerequisites are checked and the update section
// applied in one store transaction, under the same rules, serial bump and
// journal as every other write, so either all of it happens or none.
func (m *MCNS) serveUpdate(ctx context.Context, w dns.ResponseWriter, r *dns.Msg, snap *snapshot) (int, error) {
	reply := func(rcode int) (int, error) {
		updates.WithLabelValues(dns.RcodeToString[rcode]).Inc()
		msg := new(dns.Msg)
		msg.SetRcode(r, rcode)
		w.WriteMsg(msg)
		return dns.RcodeSuccess, nil
	}
	// RFC 2136 §3.1.1: the zone section holds one SOA-typed entry.
	if len(r.Question) != 1 || r.Question[0].Qtype != dns.TypeSOA || r.Question[0].Qclass != dns.ClassINET {
		return reply(dns.RcodeFormatError)
	}
	zone := canonicalZone(r.Question[0].Name)
	if !snap.zones[zone].served() || !m.serves(zone) {
		return reply(dns.RcodeNotAuth)
	}
	key, ok := tsig.ValidatedKeyName(ctx)
	if !ok {
		log.Infof("UPDATE for %s refused: not signed with a TSIG key (from %s)", zone, w.RemoteAddr())
		return reply(dns.RcodeRefused)
	}
	if !m.config.updateAllowed(zone, key) {
		log.Infof("UPDATE for %s refused: key %s is not allowed for it (from %s)", zone, key, w.RemoteAddr())
		return reply(dns.RcodeRefused)
	}
	if !m.config.updatePolicy.permits(zone, key, r.Ns) {
		log.Infof("UPDATE for %s refused: key %s changes records outside its grants (from %s)", zone, key, w.RemoteAddr())
		return reply(dns.RcodeRefused)
	}
	if n := len(r.Answer) + len(r.Ns); n > m.config.updateRecordLimit() {
		log.Infof("UPDATE for %s refused: %d records, more than max_update_records %d (from %s)", zone, n, m.config.updateRecordLimit(), w.RemoteAddr())
		return reply(dns.RcodeRefused)
	}
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return reply(dns.RcodeServerFailure)
	}
	rcode, changed := applyUpdate(ctx, st, zone, r.Answer, r.Ns)
	if changed {
		// The store's commit callback has served the change already
		// (zones.go): answers change before the client hears back.
		log.Infof("UPDATE for %s by key %s applied", zone, key)
	}
	return reply(rcode)
}

// applyUpdate runs prerequisites (RFC 2136 §3.2), the prescan (§3.4.1) and
// the update section (§3.4.2) in one transaction and returns the rcode and
// whether the zone changed. Any failure rolls everything back.
func applyUpdate(ctx context.Context, st *store.Store, zone string, prereqs, updates []dns.RR) (int, bool) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	changed := false
	err := st.Update(ctx, zone, func(tx *store.Tx) error {
		if rc := checkPrereqs(tx, zone, prereqs); rc != dns.RcodeSuccess {
			return rcodeError(rc)
		}
		if rc := prescan(zone, updates); rc != dns.RcodeSuccess {
			return rcodeError(rc)
		}
		for _, rr := range updates {
			c, err := applyOne(tx, zone, rr)
			if err != nil {
				return err
			}
			changed = changed || c
		}
		return nil
	})
	var rc rcodeError
	switch {
	case err == nil:
		return dns.RcodeSuccess, changed
	case errors.As(err, &rc):
		return int(rc), false
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalid), errors.Is(err, store.ErrForbidden):
		// The zone's rules (CNAME exclusivity, DNAME, values, apex NS):
		// refuse the whole UPDATE rather than apply part of it.
		log.Infof("UPDATE for %s refused: %v", zone, err)
		return dns.RcodeRefused, false
	case errors.Is(err, store.ErrNotFound):
		return dns.RcodeNotAuth, false
	default:
		log.Errorf("UPDATE for %s failed: %v", zone, err)
		return dns.RcodeServerFailure, false
	}
}

// checkPrereqs evaluates the prerequisite section (RFC 2136 §3.2) against
// the zone inside the update's transaction.
func checkPrereqs(tx *store.Tx, zone string, prereqs []dns.RR) int {
	type rrset struct {
		name string
		typ  uint16
	}
	valueDependent := map[rrset][]dns.RR{}
	var order []rrset
	for _, rr := range prereqs {
		h := rr.Header()
		if h.Ttl != 0 {
			return dns.RcodeFormatError
		}
		name := canonicalZone(h.Name)
		if !dns.IsSubDomain(zone, name) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassANY, dns.ClassNONE:
			if h.Rdlength != 0 || (metaType(h.Rrtype) && h.Rrtype != dns.TypeANY) {
				return dns.RcodeFormatError
			}
			typ := h.Rrtype
			if typ == dns.TypeANY {
				typ = 0
			}
			_, rrs, err := tx.RRset(name, typ)
			if err != nil {
				return dns.RcodeServerFailure
			}
			exists := len(rrs) > 0
			switch {
			case h.Class == dns.ClassANY && typ == 0 && !exists:
				return dns.RcodeNameError // §2.4.4 name is in use
			case h.Class == dns.ClassANY && !exists:
				return dns.RcodeNXRrset // §2.4.1 RRset exists
			case h.Class == dns.ClassNONE && typ == 0 && exists:
				return dns.RcodeYXDomain // §2.4.5 name is not in use
			case h.Class == dns.ClassNONE && exists:
				return dns.RcodeYXRrset // §2.4.3 RRset does not exist
			}
		case dns.ClassINET:
			if metaType(h.Rrtype) {
				return dns.RcodeFormatError
			}
			k := rrset{name, h.Rrtype}
			if _, seen := valueDependent[k]; !seen {
				order = append(order, k)
			}
			valueDependent[k] = append(valueDependent[k], rr)
		default:
			return dns.RcodeFormatError
		}
	}
	// §2.4.2: the RRset must exist with exactly these RDATA.
	for _, k := range order {
		_, have, err := tx.RRset(k.name, k.typ)
		if err != nil {
			return dns.RcodeServerFailure
		}
		if !sameSet(have, valueDependent[k]) {
			return dns.RcodeNXRrset
		}
	}
	return dns.RcodeSuccess
}

// sameSet compares two RRsets by RDATA, ignoring TTLs and duplicates.
func sameSet(a, b []dns.RR) bool {
	contains := func(set []dns.RR, rr dns.RR) bool {
		for _, x := range set {
			if store.SameRecord(x, rr) {
				return true
			}
		}
		return false
	}
	for _, rr := range a {
		if !contains(b, rr) {
			return false
		}
	}
	for _, rr := range b {
		if !contains(a, rr) {
			return false
		}
	}
	return true
}

// prescan is RFC 2136 §3.4.1.3: the whole update section is checked
// before anything is applied.
func prescan(zone string, updates []dns.RR) int {
	for _, rr := range updates {
		h := rr.Header()
		name := canonicalZone(h.Name)
		if !dns.IsSubDomain(zone, name) {
			return dns.RcodeNotZone
		}
		switch h.Class {
		case dns.ClassINET:
			if metaType(h.Rrtype) {
				return dns.RcodeFormatError
			}
			if soa, ok := rr.(*dns.SOA); h.Rrtype == dns.TypeSOA && (!ok || name != zone || soa.Serial == 0) {
				return dns.RcodeFormatError
			}
		case dns.ClassANY:
			if h.Ttl != 0 || h.Rdlength != 0 || (metaType(h.Rrtype) && h.Rrtype != dns.TypeANY) {
				return dns.RcodeFormatError
			}
		case dns.ClassNONE:
			if h.Ttl != 0 || metaType(h.Rrtype) {
				return dns.RcodeFormatError
			}
		default:
			return dns.RcodeFormatError
		}
	}
	return dns.RcodeSuccess
}

// metaType reports the types that are never zone data (RFC 6895 §3.1).
func metaType(t uint16) bool {
	switch t {
	case dns.TypeANY, dns.TypeAXFR, dns.TypeIXFR, dns.TypeMAILA, dns.TypeMAILB,
		dns.TypeOPT, dns.TypeTSIG, dns.TypeTKEY, dns.TypeNone:
		return true
	}
	_, known := dns.TypeToString[t]
	return !known
}

// applyOne applies one update RR (RFC 2136 §3.4.2) through the store.
func applyOne(tx *store.Tx, zone string, rr dns.RR) (bool, error) {
	name := canonicalZone(rr.Header().Name)
	switch rr.Header().Class {
	case dns.ClassINET:
		return addRR(tx, name, rr)
	case dns.ClassANY:
		return deleteRRsets(tx, name, name == zone, rr.Header().Rrtype)
	case dns.ClassNONE:
		return deleteRR(tx, name, name == zone, rr)
	}
	return false, nil
}

// addRR is RFC 2136 §3.4.2.2: add rr to its RRset. A record already there
// with another TTL is replaced, a CNAME replaces the name's CNAME, and an
// SOA applies only when its serial is newer.
func addRR(tx *store.Tx, name string, rr dns.RR) (bool, error) {
	h := rr.Header()
	if soa, ok := rr.(*dns.SOA); ok {
		cur, err := tx.SOA()
		if err != nil {
			return false, err
		}
		if !store.SerialAfter(soa.Serial, cur.Serial) {
			return false, nil
		}
		return true, tx.SetSOA(soa)
	}
	ids, have, err := tx.RRset(name, h.Rrtype)
	if err != nil {
		return false, err
	}
	for i, x := range have {
		if !store.SameRecord(x, rr) {
			continue
		}
		if x.Header().Ttl == h.Ttl {
			return false, nil // already there
		}
		// Same data with a new TTL replaces the record.
		if _, err := tx.Delete(ids[i]); err != nil {
			return false, err
		}
		_, err := tx.Add(rr)
		return true, err
	}
	if h.Rrtype == dns.TypeCNAME {
		for _, id := range ids {
			if _, err := tx.Delete(id); err != nil {
				return false, err
			}
		}
	}
	_, err = tx.Add(rr)
	return true, err
}

// deleteRRsets is RFC 2136 §3.4.2.3: delete the RRset of type typ at name,
// or every RRset there for ANY; the apex SOA and NS are never deleted this
// way.
func deleteRRsets(tx *store.Tx, name string, apex bool, typ uint16) (bool, error) {
	if typ == dns.TypeANY {
		typ = 0
	}
	if apex && (typ == dns.TypeSOA || typ == dns.TypeNS) {
		return false, nil
	}
	ids, have, err := tx.RRset(name, typ)
	if err != nil {
		return false, err
	}
	changed := false
	for i, x := range have {
		if t := x.Header().Rrtype; apex && (t == dns.TypeSOA || t == dns.TypeNS) {
			continue
		}
		if _, err := tx.Delete(ids[i]); err != nil {
			return false, err
		}
		changed = true
	}
	return changed, nil
}

// deleteRR is RFC 2136 §3.4.2.4: delete the one record rr; never the SOA
// or the apex's last NS.
func deleteRR(tx *store.Tx, name string, apex bool, rr dns.RR) (bool, error) {
	typ := rr.Header().Rrtype
	if apex && typ == dns.TypeSOA {
		return false, nil
	}
	ids, have, err := tx.RRset(name, typ)
	if err != nil {
		return false, err
	}
	if apex && typ == dns.TypeNS && len(have) <= 1 {
		return false, nil
	}
	for i, x := range have {
		if store.SameRecord(x, rr) {
			_, err := tx.Delete(ids[i])
			return true, err
		}
	}
	return false, nil
}
