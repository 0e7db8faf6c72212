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
	snap := m.snap.Load()
	if snap == nil {
		return nil, errNotLoaded
	}
	sz, ok := snap.zones[zone]
	if !ok || sz.z == nil {
		return nil, transfer.ErrNotAuthoritative
	}
	// The served zone is immutable once built: its own Transfer walks one
	// consistent generation.
	soa := sz.z.SOA
	if serial == 0 {
		return sz.z.Transfer(0)
	}
	if serial == soa.Serial || store.SerialAfter(serial, soa.Serial) {
		ch := make(chan []dns.RR, 1)
		ch <- []dns.RR{soa}
		close(ch)
		return ch, nil
	}
	entries, ok := m.journal(zone, serial, soa.Serial)
	if !ok {
		return sz.z.Transfer(0)
	}
	ch := make(chan []dns.RR)
	go func() {
		defer close(ch)
		ch <- []dns.RR{soa}
		for _, e := range entries {
			ch <- append([]dns.RR{e.OldSOA}, e.Removed...)
			ch <- append([]dns.RR{e.NewSOA}, e.Added...)
		}
		ch <- []dns.RR{soa}
	}()
	return ch, nil
}

// journal returns the journal chain from serial from to to, or false when
// there is none (then a full transfer is sent).
func (m *MCNS) journal(zone string, from, to uint32) ([]store.JournalEntry, bool) {
	m.mu.Lock()
	_, gap := m.journalGap[zone]
	st := m.st
	m.mu.Unlock()
	if st == nil || gap {
		return nil, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	entries, ok, err := st.Journal(ctx, zone, from, to)
	if err != nil {
		log.Warningf("Zone %s: reading the IXFR journal, sending a full transfer: %v", zone, err)
		return nil, false
	}
	if !ok {
		log.Infof("Zone %s: journal does not reach serial %d, sending a full transfer", zone, from)
	}
	return entries, ok
}
