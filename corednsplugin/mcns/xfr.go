package mcns

import (
	"context"
	"errors"
	"time"

	"github.com/coredns/coredns/plugin/transfer"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// errNotLoaded makes the transfer plugin answer SERVFAIL before the first
// snapshot is loaded.
var errNotLoaded = errors.New(pluginName + ": zones not loaded yet")

// Transfer implements transfer.Transferer, so the transfer plugin serves
// AXFR and IXFR of mcns zones with its own access control and the tsig
// plugin's signing.
//
// AXFR (serial 0) streams one snapshot of the zone: its SOA opens and closes
// the transfer, so the copy is consistent even while the zone changes. For
// IXFR (serial set), a client that is up to date (or ahead) gets the SOA
// alone; otherwise the journal's chain from the client's serial to the
// snapshot's is sent in RFC 1995's condensed form, and when the journal
// does not reach back that far, the whole zone (AXFR-style) is sent.
func (m *MCNS) Transfer(zone string, serial uint32) (<-chan []dns.RR, error) {
	zone = canonicalZone(zone)
	if !m.serves(zone) {
		return nil, transfer.ErrNotAuthoritative
	}
	for snap := m.snap.Load(); snap != nil; snap = m.snap.Load() {
		sz := snap.zones[zone]
		if !sz.served() {
			return nil, transfer.ErrNotAuthoritative
		}
		if ch, ok := m.transferFrom(zone, sz, serial); ok {
			return ch, nil
		}
		// The generation's copy was reused for a newer one: start over.
	}
	return nil, errNotLoaded
}

// transferFrom answers the transfer from one generation: the SOA alone
// for an up-to-date client, the journal's chain when it leads from the
// client's serial to this one, else every record (AXFR, or IXFR falling
// back to it). false: the generation is gone.
func (m *MCNS) transferFrom(zone string, sz *servedZone, serial uint32) (<-chan []dns.RR, bool) {
	soa := sz.soa
	if serial != 0 && (serial == soa.Serial || store.SerialAfter(serial, soa.Serial)) {
		return sendAll([][]dns.RR{{soa}}), true
	}
	if serial != 0 {
		if entries, ok := m.journal(zone, serial, soa.Serial, sz.version.Changes); ok {
			msgs := [][]dns.RR{{soa}}
			for _, e := range entries {
				msgs = append(msgs, append([]dns.RR{e.OldSOA}, e.Removed...), append([]dns.RR{e.NewSOA}, e.Added...))
			}
			return sendAll(append(msgs, []dns.RR{soa})), true
		}
	}
	recs, ok := sz.transferRecords()
	if !ok {
		return nil, false
	}
	return sendAll(append(recs, []dns.RR{soa})), true
}

// sendAll streams msgs on a new channel. The transfer plugin reads it to
// the end even when the client goes away.
func sendAll(msgs [][]dns.RR) <-chan []dns.RR {
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		for _, rrs := range msgs {
			ch <- rrs
		}
	}()
	return ch
}

// journal returns the journal chain from serial from to to, the serial of
// the served generation at zone version changes, or false when there is
// none (then a full transfer is sent).
func (m *MCNS) journal(zone string, from, to uint32, changes int64) ([]store.JournalEntry, bool) {
	m.mu.Lock()
	st := m.st
	m.mu.Unlock()
	if st == nil {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, ok, err := st.Journal(ctx, zone, from, to, changes)
	if err != nil {
		log.Warningf("Zone %s: reading the IXFR journal, sending a full transfer: %v", zone, err)
		return nil, false
	}
	if !ok {
		log.Infof("Zone %s: the journal does not lead from serial %d to the served data, sending a full transfer", zone, from)
	}
	return entries, ok
}
