// Package store keeps DNS zones in a SQLite database laid out like PowerDNS's
// gsqlite3 backend. Every write (API, seeding, DNS UPDATE) goes through it, in
// one transaction, under one set of rules.
package store

import (
	"context"
	"errors"
)

// Errors the store returns, wrapped with a reason. Callers map them to
// status codes (404, 409, 400).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
)

// Zone is one row of the domains table with its SOA fields.
type Zone struct {
	ID         int64  `json:"id"`
	Name       string `json:"name"` // FQDN, lower case, trailing dot
	PrimaryNS  string `json:"primary_ns"`
	AdminEmail string `json:"admin_email"`
	Serial     uint32 `json:"serial"`
	Refresh    uint32 `json:"refresh"`
	Retry      uint32 `json:"retry"`
	Expire     uint32 `json:"expire"`
	Minimum    uint32 `json:"minimum"`
	TTL        uint32 `json:"ttl"`
}

// Record is one row of the records table.
type Record struct {
	ID      int64  `json:"id"`
	Zone    string `json:"zone"`
	Name    string `json:"fqdn"` // FQDN, lower case, trailing dot
	Type    string `json:"type"`
	TTL     uint32 `json:"ttl"`
	Content string `json:"value"` // presentation-format RDATA (MX/SRV without the priority, as PowerDNS stores it)
	Prio    int    `json:"prio,omitempty"`
}

// RecordSpec is a record as a writer asks for it. Name may be relative to the
// zone ("@" for the apex) or fully qualified inside it; Value is
// presentation-format RDATA including any MX/SRV priority.
type RecordSpec struct {
	Name  string
	Type  string
	Value string
	TTL   uint32
}

// Filter narrows Records.
type Filter struct {
	Name string
	Type string
}

// Store is an open database.
type Store struct{}

// Open opens (creating if needed) the database at path and applies migrations.
func Open(path string) (*Store, error) { return nil, errors.New("store: not implemented") }

// Close closes the database.
func (s *Store) Close() error { return nil }

// Zones lists all zones.
func (s *Store) Zones(ctx context.Context) ([]Zone, error) { return nil, errors.New("not implemented") }

// Zone returns one zone.
func (s *Store) Zone(ctx context.Context, name string) (Zone, error) {
	return Zone{}, errors.New("not implemented")
}

// CreateZone adds a zone with its SOA (and NS for PrimaryNS).
func (s *Store) CreateZone(ctx context.Context, z Zone) (Zone, error) {
	return Zone{}, errors.New("not implemented")
}

// UpdateZone changes a zone's SOA fields and bumps its serial.
func (s *Store) UpdateZone(ctx context.Context, name string, z Zone) (Zone, error) {
	return Zone{}, errors.New("not implemented")
}

// DeleteZone removes a zone and its records.
func (s *Store) DeleteZone(ctx context.Context, name string) error {
	return errors.New("not implemented")
}

// Records lists a zone's records.
func (s *Store) Records(ctx context.Context, zone string, f Filter) ([]Record, error) {
	return nil, errors.New("not implemented")
}

// Record returns one record of a zone.
func (s *Store) Record(ctx context.Context, zone string, id int64) (Record, error) {
	return Record{}, errors.New("not implemented")
}

// AddRecord validates and inserts a record, bumping the zone's serial.
func (s *Store) AddRecord(ctx context.Context, zone string, r RecordSpec) (Record, error) {
	return Record{}, errors.New("not implemented")
}

// UpdateRecord replaces a record, bumping the zone's serial.
func (s *Store) UpdateRecord(ctx context.Context, zone string, id int64, r RecordSpec) (Record, error) {
	return Record{}, errors.New("not implemented")
}

// DeleteRecord removes a record, bumping the zone's serial.
func (s *Store) DeleteRecord(ctx context.Context, zone string, id int64) error {
	return errors.New("not implemented")
}

// Snapshot writes a consistent online copy of the database into dir, keeping
// the newest keep copies, and returns its path.
func (s *Store) Snapshot(ctx context.Context, dir string, keep int) (string, error) {
	return "", errors.New("not implemented")
}
