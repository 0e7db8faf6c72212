package mcns

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/file"
	"github.com/coredns/coredns/plugin/pkg/upstream"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// snapshot is an immutable view of every zone. A query loads one pointer
// and sees either the old or the new generation of a zone, never a mix.
type snapshot struct {
	names []string // zones that can be served (they have an SOA)
	zones map[string]*servedZone
}

// servedZone is one zone's data with the fingerprint it was built from.
// A zone without an SOA is kept with z == nil, so it is not reloaded on
// every poll, but it is not served.
type servedZone struct {
	z       *file.Zone
	fp      store.Fingerprint
	records int
	answers *answerCache // replies built from this generation; nil: off
}

// with returns a copy of s with the given zones replaced (nil removes).
func (s *snapshot) with(changes map[string]*servedZone) *snapshot {
	n := &snapshot{zones: make(map[string]*servedZone, len(s.zones)+len(changes))}
	for k, v := range s.zones {
		n.zones[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(n.zones, k)
		} else {
			n.zones[k] = v
		}
	}
	for k, v := range n.zones {
		if v.z != nil {
			n.names = append(n.names, k)
		}
	}
	sort.Strings(n.names)
	return n
}

// buildZone loads zone from the store into a file.Zone, as CoreDNS's
// dynupdate plugin builds its views, so file's lookup logic serves it.
func buildZone(ctx context.Context, st *store.Store, zone string, cacheSetting int) (*servedZone, error) {
	start := time.Now()
	zd, err := st.LoadZone(ctx, zone)
	if err != nil {
		return nil, err
	}
	z := file.NewZone(zd.Name, "")
	// Out-of-zone CNAME targets are resolved through the server itself,
	// as the file plugin does.
	z.Upstream = upstream.New()
	skipped, firstBad, inserted := zd.Skipped, zd.BadRow, 0
	for _, rr := range zd.Records {
		if err := z.Insert(rr); err != nil {
			if skipped == 0 {
				firstBad = fmt.Errorf("zone %s: %w", zd.Name, err)
			}
			skipped++
			continue
		}
		inserted++
	}
	if skipped > 0 {
		log.Warningf("Zone %s: %d rows not served; first: %v", zd.Name, skipped, firstBad)
	}
	sz := &servedZone{z: z, fp: zd.Fingerprint, records: inserted, answers: newAnswerCache(answerCacheSize(cacheSetting, inserted))}
	if z.SOA == nil {
		log.Warningf("Zone %s has no SOA record; not serving it", zd.Name)
		sz.z = nil
	}
	rebuilds.Inc()
	rebuildSeconds.Observe(time.Since(start).Seconds())
	return sz, nil
}

// refresh brings the snapshot up to date with the database when its
// data_version moved: zones whose fingerprint changed are rebuilt, new ones
// added, vanished ones dropped, all swapped in at once.
func (m *MCNS) refresh(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := m.refreshLocked(ctx)
	m.noteHealth(err)
	return err
}

func (m *MCNS) refreshLocked(ctx context.Context) error {
	v, err := m.st.DataVersion(ctx)
	if err != nil {
		return fmt.Errorf("database %s: %w", m.st.Path(), err)
	}
	if m.haveVer && v == m.version {
		m.clearJournalGaps(ctx)
		return nil
	}
	fps, err := m.st.Fingerprints(ctx)
	if err != nil {
		return fmt.Errorf("database %s: %w", m.st.Path(), err)
	}
	cur := m.snap.Load()
	if cur == nil {
		cur = &snapshot{}
	}
	changes := map[string]*servedZone{}
	for name, fp := range fps {
		if old, ok := cur.zones[name]; ok && old.fp == fp {
			continue
		}
		sz, err := buildZone(ctx, m.st, name, m.config.answerCache)
		if errors.Is(err, store.ErrNotFound) {
			changes[name] = nil // deleted between the two reads
			continue
		}
		if err != nil {
			return fmt.Errorf("database %s: zone %s: %w", m.st.Path(), name, err)
		}
		changes[name] = sz
	}
	for name := range cur.zones {
		if _, ok := fps[name]; !ok {
			changes[name] = nil
		}
	}
	if m.haveVer {
		for name, sz := range changes {
			m.checkJournal(ctx, name, cur.zones[name], sz)
		}
	}
	m.clearJournalGaps(ctx)
	m.install(cur, changes)
	m.version, m.haveVer = v, true
	lastLoad.SetToCurrentTime()
	return nil
}

// checkJournal compares a zone's old and new generation with its journal:
// a change the journal does not account for exactly (in serials and in
// fingerprint) was made by another writer (pdnsutil, the sqlite3 shell, an
// edit that kept the serial) and has no journal entry, so the zone's
// journal is dropped and IXFR falls back to AXFR instead of sending an
// incomplete difference. A zone new to this instance has no generation to
// compare with and is treated the same way. The caller holds m.mu.
func (m *MCNS) checkJournal(ctx context.Context, name string, old, cur *servedZone) {
	if cur == nil {
		return // deleted: nothing is served, nothing is transferred
	}
	if entries, _ := m.config.journalLimits(); entries == 0 {
		return // no journal: every IXFR is a full transfer already
	}
	if old != nil && old.z != nil && cur.z != nil {
		ok, err := m.st.JournalExplains(ctx, name, old.z.SOA.Serial, cur.z.SOA.Serial, old.fp, cur.fp)
		if err != nil {
			log.Warningf("Zone %s: reading the IXFR journal: %v", name, err)
		}
		if ok {
			return
		}
	}
	if _, ok := m.journalGap[name]; !ok {
		log.Infof("Zone %s changed outside mcns; IXFR sends full transfers until new changes are journaled", name)
		m.journalGap[name] = false
	}
}

// clearJournalGaps drops the journals of zones changed by other writers.
// Until that succeeds (the database may be locked or read-only for a
// while), Transfer treats those journals as broken; serving the new data
// does not wait for it. The caller holds m.mu.
func (m *MCNS) clearJournalGaps(ctx context.Context) {
	for name, warned := range m.journalGap {
		if err := m.st.ClearJournal(ctx, name); err != nil {
			if !warned {
				log.Warningf("Zone %s: cannot drop the IXFR journal after an outside change, will retry: %v", name, err)
				m.journalGap[name] = true
			}
			continue
		}
		delete(m.journalGap, name)
	}
}

// rebuildZone reloads one zone right away; the API calls it after each
// committed write so the change is answered before the API replies.
func (m *MCNS) rebuildZone(zone string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.st == nil {
		return
	}
	name := canonicalZone(zone)
	cur := m.snap.Load()
	if cur == nil {
		cur = &snapshot{}
	}
	sz, err := buildZone(ctx, m.st, name, m.config.answerCache)
	switch {
	case errors.Is(err, store.ErrNotFound):
		sz = nil
	case err != nil:
		// The poller retries: the fingerprint still differs.
		log.Errorf("Zone %s: reload after change: %v", name, err)
		return
	}
	old, ok := cur.zones[name]
	if ok && sz != nil && old.fp == sz.fp {
		// The poller got here first: this generation is already served
		// (and its NOTIFY already scheduled).
		return
	}
	if ok {
		// An outside edit may have slipped in since the last generation.
		m.checkJournal(ctx, name, old, sz)
		m.clearJournalGaps(ctx)
	}
	m.install(cur, map[string]*servedZone{name: sz})
	lastLoad.SetToCurrentTime()
}

// install swaps in cur with changes and updates the size gauges. The new
// serials are recorded as served before anyone can see them. The caller
// holds m.mu.
func (m *MCNS) install(cur *snapshot, changes map[string]*servedZone) {
	served := make(map[string]uint32, len(changes))
	for name, sz := range changes {
		if sz != nil && sz.z != nil {
			served[name] = sz.z.SOA.Serial
		}
	}
	if m.floor != nil && len(served) > 0 {
		m.floor.served(served)
	}
	next := cur
	if len(changes) > 0 {
		next = cur.with(changes)
	}
	m.snap.Store(next)
	var recs float64
	for _, name := range next.names {
		recs += float64(next.zones[name].records)
	}
	zonesGauge.Add(float64(len(next.names)) - m.gaugeZone)
	recordsGauge.Add(recs - m.gaugeRecs)
	m.gaugeZone, m.gaugeRecs = float64(len(next.names)), recs
	for name := range served {
		if m.serves(name) {
			m.notifier.changed(name)
		}
	}
}

// serves reports whether zone is inside this instance's server block.
func (m *MCNS) serves(zone string) bool {
	return m.rootBlock || plugin.Zones(m.blockZones).Matches(zone) != ""
}

// noteHealth logs a failing database once when it starts failing and once
// when it recovers; the last good snapshot keeps being served meanwhile.
func (m *MCNS) noteHealth(err error) {
	switch {
	case err != nil && !m.failing:
		m.failing = true
		databaseFailing.Inc()
		log.Errorf("Cannot read zones, serving the last loaded data: %v", err)
	case err == nil && m.failing:
		m.failing = false
		databaseFailing.Dec()
		log.Infof("Database %s readable again", m.st.Path())
	}
}
