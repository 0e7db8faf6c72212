package mcns

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// zoneMaintainer owns what is served: the snapshot queries load, the
// generations behind it, and everything that follows a change of a zone
// (serial floor, NOTIFY). Changes reach it two ways:
// every write through the store (API, UPDATE, seeding) is delivered by
// store.OnCommit and applied as a difference, without reading SQL; edits
// by other programs (pdnsutil, the sqlite3 shell) are found by the poller,
// which reloads the zones they touched. The IXFR journal needs no help
// here: the store reads it only up to the version a generation serves
// (store.Journal), so edits without journal entries make IXFR fall back to
// full transfers by themselves.
//
// The store runs the commit callback before Update returns, so a writer
// (the API, an UPDATE) answers its client only after the new generation
// is served.
type zoneMaintainer struct {
	snap atomic.Pointer[snapshot] // what queries read; written under mu

	// mu serialises every change of the snapshot and guards the fields
	// below. Queries never take it.
	mu  sync.Mutex
	st  *store.Store
	gen uint64 // the last generation number handed out
	// standby holds the unserved copy of each zone written since it was
	// loaded (zonecopy.go).
	standby map[string]*standby

	version   int64 // data_version of the last full refresh
	haveVer   bool
	failing   bool // the last refresh failed; logged once per change
	gaugeZone float64
	gaugeRecs float64
	// floor bounds the serials served per zone outside the database
	// (serialfloor.go); shared with other instances on the same database.
	floor *serialFloor

	notifier    *notifier
	answerCache int // answer_cache setting
	// inBlock reports whether a zone is inside the server block (only
	// those are announced with NOTIFY).
	inBlock func(zone string) bool
}

func newZoneMaintainer(cfg config, inBlock func(string) bool, notify func(string)) *zoneMaintainer {
	return &zoneMaintainer{
		standby:     map[string]*standby{},
		notifier:    newNotifier(notifyDelay, notify),
		answerCache: cfg.answerCache,
		inBlock:     inBlock,
	}
}

// current returns the served snapshot, an empty one before the first load.
// The caller holds mu.
func (zm *zoneMaintainer) current() *snapshot {
	if s := zm.snap.Load(); s != nil {
		return s
	}
	return &snapshot{}
}

func (zm *zoneMaintainer) nextGen() uint64 {
	zm.gen++
	return zm.gen
}

// commit is the store's commit callback: each run of changes to one zone
// becomes the zone's next generation. Differences apply to the served data
// when that is the version the run started from, all of them at once (a
// burst of writes costs one generation); anything else (a zone created,
// deleted or reset, or another program's edit slipped in before the write)
// reloads that one zone from the database.
func (zm *zoneMaintainer) commit(cs []store.Change) {
	start := time.Now()
	zm.mu.Lock()
	defer zm.mu.Unlock()
	defer func() { writePhaseSeconds.WithLabelValues("apply").Observe(time.Since(start).Seconds()) }()
	if zm.st == nil {
		return // before the first load, which reads everything anyway
	}
	for i := 0; i < len(cs); {
		j := i + 1
		for j < len(cs) && cs[j].Zone == cs[i].Zone {
			j++
		}
		zm.commitZone(cs[i:j])
		i = j
	}
	lastLoad.SetToCurrentTime()
}

// commitZone applies a run of changes to one zone, oldest first. The
// caller holds mu.
func (zm *zoneMaintainer) commitZone(run []store.Change) {
	cur := zm.current()
	zone, last := run[0].Zone, run[len(run)-1]
	sz := cur.zones[zone]
	switch {
	case sz.served() && sz.version == last.After && !last.Deleted:
		// The poller loaded this generation already.
	case differences(run) && sz.served() && sz.version == run[0].Before:
		zm.applyLocked(cur, sz, run)
	case last.Deleted:
		delete(zm.standby, zone)
		zm.install(cur, map[string]*servedZone{zone: nil})
	default:
		// Created, reset, without an SOA, or another program changed
		// the zone first: the differences do not apply to what is served.
		zm.reloadLocked(zone)
	}
}

// differences reports whether run is a chain of plain differences, each
// starting from the version the previous one left.
func differences(run []store.Change) bool {
	for i, c := range run {
		if c.Created || c.Deleted || c.Reset || c.OldSOA == nil || c.NewSOA == nil {
			return false
		}
		if i > 0 && c.Before != run[i-1].After {
			return false
		}
	}
	return true
}

// applyLocked publishes sz with run applied as the zone's next generation,
// on the zone's standby copy (zonecopy.go). The caller holds mu.
func (zm *zoneMaintainer) applyLocked(cur *snapshot, sz *servedZone, run []store.Change) {
	zone := run[0].Zone
	sb := zm.standby[zone]
	if sb == nil || sb.of != sz {
		// The first write since the zone was loaded: make its second copy
		// from the served one (readers keep going meanwhile).
		sz.data.mu.RLock()
		z := cloneZone(zone, sz.data.z)
		sz.data.mu.RUnlock()
		sb = &standby{copy: &zoneCopy{z: z}}
	}
	gen := zm.nextGen()
	d := sb.copy
	// Waits for queries still reading the generation before sz.
	d.mu.Lock()
	for i := range sb.lag {
		applyChange(d.z, &sb.lag[i])
	}
	records := sz.records
	for i := range run {
		skipped, firstErr := applyChange(d.z, &run[i])
		if skipped > 0 {
			log.Warningf("Zone %s: %d records not served; first: %v", zone, skipped, firstErr)
		}
		records += len(run[i].Added) - skipped - len(run[i].Removed)
	}
	d.gen = gen
	soa := d.z.SOA
	d.mu.Unlock()
	records = max(records, 0)
	next := &servedZone{
		gen:     gen,
		data:    d,
		soa:     soa,
		version: run[len(run)-1].After,
		records: records,
	}
	next.answers = zm.answersAfter(sz, gen, soa, run, records)
	zm.standby[zone] = &standby{copy: sz.data, lag: slices.Clone(run), of: next}
	zm.install(cur, map[string]*servedZone{zone: next})
	applied.Add(float64(len(run)))
}

// reloadLocked loads zone from the database as its next generation. The
// caller holds mu.
func (zm *zoneMaintainer) reloadLocked(zone string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cur := zm.current()
	sz, err := buildZone(ctx, zm.st, zone, zm.nextGen(), zm.answerCache)
	switch {
	case errors.Is(err, store.ErrNotFound):
		sz = nil
	case err != nil:
		// The poller retries: the zone's change counter still differs
		// from the version served.
		log.Errorf("Zone %s: reload after change: %v", zone, err)
		return
	}
	old, ok := cur.zones[zone]
	if ok && sz != nil && old.version == sz.version {
		return // this generation is served already
	}
	delete(zm.standby, zone)
	zm.install(cur, map[string]*servedZone{zone: sz})
}

// refresh brings the snapshot up to date with the database when its
// data_version moved: zones another program changed (their version moved
// past what this store's own writes left) are reloaded, new ones added,
// vanished ones dropped, all swapped in at once. Reading the versions is
// one row per zone; the store's own writes arrive through commit.
//
// The database is read without mu, which a writer's commit callback needs
// while the writer holds the store's locks; the result is applied under
// mu. Versions only grow, so a zone served at or past the version read
// needs nothing.
func (zm *zoneMaintainer) refresh(ctx context.Context) error {
	zm.mu.Lock()
	st := zm.st
	zm.mu.Unlock()
	if st == nil {
		return errors.New("database closed")
	}
	v, err := st.DataVersion(ctx)
	var states map[string]store.ZoneState
	if err == nil && zm.moved(v) {
		states, err = st.ZoneStates(ctx)
	}
	zm.mu.Lock()
	if err != nil {
		err = fmt.Errorf("database %s: %w", st.Path(), err)
	} else if states != nil {
		err = zm.refreshLocked(ctx, v, states)
	}
	zm.noteHealth(err)
	zm.mu.Unlock()
	return err
}

// moved reports whether data_version v differs from the last refresh's.
func (zm *zoneMaintainer) moved(v int64) bool {
	zm.mu.Lock()
	defer zm.mu.Unlock()
	return !zm.haveVer || v != zm.version
}

func (zm *zoneMaintainer) refreshLocked(ctx context.Context, v int64, states map[string]store.ZoneState) error {
	if zm.st == nil {
		return errors.New("database closed")
	}
	cur := zm.current()
	changes := map[string]*servedZone{}
	for name, state := range states {
		old, ok := cur.zones[name]
		if ok && (state.Ours || old.version.ID == state.Version.ID && old.version.Changes >= state.Version.Changes) {
			// Served, or the store's own write, which its commit
			// callback serves.
			continue
		}
		sz, err := buildZone(ctx, zm.st, name, zm.nextGen(), zm.answerCache)
		if errors.Is(err, store.ErrNotFound) {
			changes[name] = nil // deleted between the two reads
			continue
		}
		if err != nil {
			return fmt.Errorf("database %s: zone %s: %w", zm.st.Path(), name, err)
		}
		changes[name] = sz
	}
	for name := range cur.zones {
		if _, ok := states[name]; ok {
			continue
		}
		// Gone, unless created by a write committed after states was read.
		if _, err := zm.st.Zone(ctx, name); errors.Is(err, store.ErrNotFound) {
			changes[name] = nil
		}
	}
	for name := range changes {
		delete(zm.standby, name)
	}
	zm.install(cur, changes)
	zm.version, zm.haveVer = v, true
	lastLoad.SetToCurrentTime()
	return nil
}

// install swaps in cur with changes, updates the size gauges and schedules
// NOTIFY. The new serials are recorded as served, and reserved in the
// floor file when above its reservations, before anyone can see them. The
// caller holds mu.
func (zm *zoneMaintainer) install(cur *snapshot, changes map[string]*servedZone) {
	if len(changes) == 0 {
		zm.snap.Store(cur)
		return
	}
	served := make(map[string]uint32, len(changes))
	for name, sz := range changes {
		if sz.served() {
			served[name] = sz.soa.Serial
		}
	}
	if zm.floor != nil && len(served) > 0 {
		// Within the zones' reservations this writes nothing.
		zm.floor.serve(served)
	}
	next := cur.with(changes)
	zm.snap.Store(next)
	// The gauges sum over instances: each adds its own difference.
	var recs float64
	for name, sz := range changes {
		if old := cur.zones[name]; old.served() {
			recs -= float64(old.records)
		}
		if sz.served() {
			recs += float64(sz.records)
		}
	}
	zonesGauge.Add(float64(len(next.names)) - zm.gaugeZone)
	recordsGauge.Add(recs)
	zm.gaugeZone, zm.gaugeRecs = float64(len(next.names)), zm.gaugeRecs+recs
	for name := range served {
		if zm.inBlock(name) {
			zm.notifier.changed(name)
		}
	}
}

// noteHealth logs a failing database once when it starts failing and once
// when it recovers; the last good snapshot keeps being served meanwhile.
// The caller holds mu.
func (zm *zoneMaintainer) noteHealth(err error) {
	switch {
	case err != nil && !zm.failing:
		zm.failing = true
		databaseFailing.Inc()
		log.Errorf("Cannot read zones, serving the last loaded data: %v", err)
	case err == nil && zm.failing:
		zm.failing = false
		databaseFailing.Dec()
		log.Infof("Database %s readable again", zm.st.Path())
	}
}
