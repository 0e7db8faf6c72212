package api

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// fakeStore is an in-memory backend for testing the HTTP layer (auth,
// limits, routing, JSON) apart from the store; the store's own rules are
// proven over SQLite in store_test.go.
type fakeStore struct {
	mu       sync.Mutex
	zones    map[string]*store.Zone
	records  []store.Record
	nextID   int64
	snapshot []string // dirs asked for
}

func newFakeStore() *fakeStore { return &fakeStore{zones: map[string]*store.Zone{}, nextID: 1} }

func (f *fakeStore) zone(name string) (*store.Zone, error) {
	z := f.zones[name]
	if z == nil {
		return nil, fmt.Errorf("%w: zone %s", store.ErrNotFound, name)
	}
	return z, nil
}

func (f *fakeStore) Zones(ctx context.Context) ([]store.Zone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []store.Zone
	for _, z := range f.zones {
		out = append(out, *z)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (f *fakeStore) Zone(ctx context.Context, name string) (store.Zone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	z, err := f.zone(name)
	if err != nil {
		return store.Zone{}, err
	}
	return *z, nil
}

func (f *fakeStore) CreateZone(ctx context.Context, z store.Zone) (store.Zone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.zones[z.Name] != nil {
		return store.Zone{}, fmt.Errorf("%w: zone %s exists", store.ErrConflict, z.Name)
	}
	if z.PrimaryNS == "" {
		return store.Zone{}, fmt.Errorf("%w: primary_ns is required", store.ErrInvalid)
	}
	z.ID, z.Serial = int64(len(f.zones)+1), 2026010100
	if z.TTL == 0 {
		z.TTL = 3600
	}
	f.zones[z.Name] = &z
	return z, nil
}

func (f *fakeStore) UpdateZone(ctx context.Context, name string, z store.Zone) (store.Zone, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cur, err := f.zone(name)
	if err != nil {
		return store.Zone{}, err
	}
	if z.TTL != 0 {
		cur.TTL = z.TTL
	}
	if z.PrimaryNS != "" {
		cur.PrimaryNS = z.PrimaryNS
	}
	cur.Serial++
	return *cur, nil
}

func (f *fakeStore) DeleteZone(ctx context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.zone(name); err != nil {
		return err
	}
	delete(f.zones, name)
	return nil
}

func (f *fakeStore) Records(ctx context.Context, zone string, fl store.Filter) ([]store.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.zone(zone); err != nil {
		return nil, err
	}
	var out []store.Record
	for _, r := range f.records {
		if r.Zone == zone && (fl.Name == "" || fl.Name == r.Name) && (fl.Type == "" || fl.Type == r.Type) {
			out = append(out, r)
		}
	}
	return out, nil
}

func (f *fakeStore) Record(ctx context.Context, zone string, id int64) (store.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.records {
		if r.Zone == zone && r.ID == id {
			return r, nil
		}
	}
	return store.Record{}, fmt.Errorf("%w: record %d", store.ErrNotFound, id)
}

func (f *fakeStore) check(zone string, s store.RecordSpec) (store.Record, error) {
	z, err := f.zone(zone)
	if err != nil {
		return store.Record{}, err
	}
	if s.Name != z.Name && !strings.HasSuffix(s.Name, "."+z.Name) {
		return store.Record{}, fmt.Errorf("%w: %s is not inside %s", store.ErrInvalid, s.Name, z.Name)
	}
	if s.Type == "A" {
		if ip := net.ParseIP(s.Value); ip == nil || ip.To4() == nil {
			return store.Record{}, fmt.Errorf("%w: not an IPv4 address", store.ErrInvalid)
		}
	}
	for _, r := range f.records {
		if r.Name == s.Name && r.Type == s.Type && r.Content == s.Value {
			return store.Record{}, fmt.Errorf("%w: duplicate", store.ErrConflict)
		}
	}
	return store.Record{Zone: zone, Name: strings.ToLower(s.Name), Type: s.Type, TTL: s.TTL, Content: s.Value}, nil
}

func (f *fakeStore) AddRecord(ctx context.Context, zone string, s store.RecordSpec) (store.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, err := f.check(zone, s)
	if err != nil {
		return r, err
	}
	r.ID = f.nextID
	f.nextID++
	f.records = append(f.records, r)
	f.zones[zone].Serial++
	return r, nil
}

func (f *fakeStore) UpdateRecord(ctx context.Context, zone string, id int64, s store.RecordSpec) (store.Record, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, old := range f.records {
		if old.Zone == zone && old.ID == id {
			f.records[i] = store.Record{}
			r, err := f.check(zone, s)
			if err != nil {
				f.records[i] = old
				return r, err
			}
			r.ID = id
			f.records[i] = r
			return r, nil
		}
	}
	return store.Record{}, fmt.Errorf("%w: record %d", store.ErrNotFound, id)
}

func (f *fakeStore) DeleteRecord(ctx context.Context, zone string, id int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, r := range f.records {
		if r.Zone == zone && r.ID == id {
			f.records = append(f.records[:i], f.records[i+1:]...)
			return nil
		}
	}
	return fmt.Errorf("%w: record %d", store.ErrNotFound, id)
}

func (f *fakeStore) Snapshot(ctx context.Context, dir string, keep int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snapshot = append(f.snapshot, dir)
	return dir + "/snap.db", nil
}
