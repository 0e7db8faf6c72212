package mcns

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// Start opens the database, seeds it, loads the first snapshot and starts
// the change poller and the API. It runs once per instance; later calls
// return the first result (the cache plugin may trigger it early).
func (m *MCNS) Start() error {
	m.startOnce.Do(func() { m.startErr = m.start() })
	return m.startErr
}

func (m *MCNS) start() error {
	st, err := store.Open(m.config.dbPath)
	if err != nil {
		return fmt.Errorf("%s: %w", pluginName, err)
	}
	st.SetJournalLimits(m.config.journalLimits())
	// Writes before the first load (seeding, raised serials) are ignored
	// by commit; the load reads them.
	st.OnCommits(m.commit)
	st.ObserveGroups(observeGroup)
	st.SetAllowedZones(m.config.allowZones)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if len(m.config.seeds) > 0 {
		imported, err := st.Seed(ctx, m.config.seeds)
		if err != nil {
			st.Close()
			return fmt.Errorf("%s: %w", pluginName, err)
		}
		if len(imported) > 0 {
			log.Infof("Seeded %s into %s", zoneList(imported), m.config.dbPath)
		}
	}
	floor, err := m.raiseSerials(ctx, st)
	if err != nil {
		st.Close()
		return fmt.Errorf("%s: %w", pluginName, err)
	}
	if outside, err := st.ZonesOutsideAllowed(ctx); err == nil && len(outside) > 0 {
		log.Warningf("Zones outside allow_zones are served but cannot be changed through mcns: %s", strings.Join(outside, ", "))
	}
	m.mu.Lock()
	m.st, m.floor = st, floor
	m.mu.Unlock()
	if err := m.refresh(ctx); err != nil {
		m.mu.Lock()
		m.st = nil
		m.releaseFloorLocked()
		m.mu.Unlock()
		st.Close()
		return fmt.Errorf("%s: initial load: %w", pluginName, err)
	}
	m.ready.Store(true)
	m.stopCh, m.done = make(chan struct{}), make(chan struct{})
	go m.poll(m.config.refresh)
	if m.config.api != nil {
		a := api.New(m.config.api, st, nil) // writes reach the zones through st.OnCommit
		if err := a.Start(); err != nil {
			m.shutdown()
			return fmt.Errorf("%s: api: %w", pluginName, err)
		}
		m.api.Store(a)
	}
	return nil
}

// raiseSerials reads the serials served before and raises every zone of
// the database above them, so the first answer after a restore from an
// older copy already carries a serial secondaries take for newer.
func (m *MCNS) raiseSerials(ctx context.Context, st *store.Store) (*serialFloor, error) {
	floor, err := acquireSerialFloor(floorPath(m.config.dbPath))
	if err != nil {
		return nil, err
	}
	bounds := floor.floors()
	raised, err := st.RaiseSerials(ctx, bounds)
	if err != nil {
		floor.release()
		return nil, err
	}
	for _, z := range raised {
		log.Warningf("Zone %s: the database's serial is behind serial %d that may have been served (restored from an older copy, or a crash since the serial was reserved); serving a higher one, secondaries get a full transfer", z, bounds[z])
	}
	return floor, nil
}

// poll checks the database for changes every interval until Stop.
func (m *MCNS) poll(interval time.Duration) {
	defer close(m.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-m.stopCh:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			m.refresh(ctx) // errors are logged once per state change
			cancel()
		}
	}
}

// Stop stops the API (finishing requests in flight), the poller, and closes
// the database. Safe to call more than once and without Start.
func (m *MCNS) Stop() error {
	var err error
	m.stopOnce.Do(func() {
		// Make a later Start (e.g. from CacheBypassZones) a no-op.
		m.startOnce.Do(func() { m.startErr = errors.New(pluginName + ": stopped") })
		err = m.shutdown()
	})
	return err
}

func (m *MCNS) shutdown() error {
	m.notifier.stop()
	var errs []error
	if a := m.api.Swap(nil); a != nil {
		errs = append(errs, a.Stop())
	}
	if m.stopCh != nil {
		close(m.stopCh)
		<-m.done
		m.stopCh = nil
	}
	m.mu.Lock()
	if m.st != nil {
		errs = append(errs, m.st.Close())
		m.st = nil
	}
	// After the store is closed: nothing is served with a new serial
	// any more.
	errs = append(errs, m.releaseFloorLocked())
	if m.failing {
		databaseFailing.Dec()
		m.failing = false
	}
	zonesGauge.Sub(m.gaugeZone)
	recordsGauge.Sub(m.gaugeRecs)
	m.gaugeZone, m.gaugeRecs = 0, 0
	m.mu.Unlock()
	m.ready.Store(false)
	return errors.Join(errs...)
}

// releaseFloorLocked lets go of the serial floor, which writes the serials
// served when no other instance uses it. The caller holds mu.
func (m *MCNS) releaseFloorLocked() error {
	if m.floor == nil {
		return nil
	}
	err := m.floor.release()
	m.floor = nil
	return err
}

func canonicalZone(s string) string { return dns.CanonicalName(s) }

// maxLoggedZones is how many zone names a log line lists; a start seeding
// thousands of zones names the first ones and counts the rest.
const maxLoggedZones = 10

// zoneList is zones for a log line.
func zoneList(zones []string) string {
	if len(zones) <= maxLoggedZones {
		return strings.Join(zones, ", ")
	}
	return fmt.Sprintf("%s and %d more zones", strings.Join(zones[:maxLoggedZones], ", "), len(zones)-maxLoggedZones)
}

// observeGroup records a group commit's phases (store.ObserveGroups).
func observeGroup(_ int, statements, commit time.Duration) {
	writePhaseSeconds.WithLabelValues("statements").Observe(statements.Seconds())
	writePhaseSeconds.WithLabelValues("commit").Observe(commit.Seconds())
}
