// Package store keeps DNS zones in a SQLite database laid out like PowerDNS's
// gsqlite3 backend. Every write (API, seeding, DNS UPDATE) goes through it, in
// one transaction, under one set of rules.
//
// Rows follow PowerDNS's conventions, so pdns_server can serve the same file
// and pdnsutil can edit it: names are stored lower case without the trailing
// dot, content is presentation format with names lacking the trailing dot,
// MX and SRV keep their priority in the prio column, disabled rows and rows
// with a NULL type (empty non-terminals written by pdnsutil rectify-zone) are
// not served.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver
)

// Errors the store returns, wrapped with a reason. Callers map them to
// status codes (404, 409, 400).
var (
	ErrNotFound = errors.New("not found")
	ErrConflict = errors.New("conflict")
	ErrInvalid  = errors.New("invalid")
	// ErrForbidden: the zone is outside the store's allowed zones.
	ErrForbidden = errors.New("forbidden")
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
type Store struct {
	path string
	db   *sql.DB // pool for reads and writes; writes begin IMMEDIATE
	// stmts are the writes' prepared statements (stmts.go).
	stmts statements

	// wmu serialises this process's writes (each group commit holds it),
	// so they queue here instead of spinning on SQLite's busy timeout
	// against each other.
	wmu sync.Mutex
	// queue holds the Update calls waiting for the next group commit
	// (group.go); leading is true while some writer leads or is about to.
	// Both guarded by gmu.
	gmu     sync.Mutex
	queue   []*write
	leading bool
	// commits counts the transactions group commits issued, for tests
	// and benchmarks of how many writes share one.
	commits atomic.Int64
	// observeGroup is told of each group commit's timing (ObserveGroups).
	observeGroup func(writes int, statements, commit time.Duration)

	// pollConn is a dedicated connection for PRAGMA data_version, whose
	// value is only meaningful when asked on the same connection each time.
	pmu      sync.Mutex
	pollConn *sql.Conn

	now func() time.Time // clock for serials; replaced in tests

	// allowZones limits the zones writes may touch; nil: any (see
	// SetAllowedZones).
	allowZones []string

	// onCommit is told of every committed change (see OnCommit); dmu
	// keeps deliveries in commit order once wmu is released.
	onCommit []func([]Change)
	dmu      sync.Mutex
	// pending are committed changes not yet delivered, in commit order,
	// guarded by qmu.
	pending []Change
	qmu     sync.Mutex
	// committed is the zone version (domains.id -> change counter) each
	// zone's last write through this store left, guarded by wmu. It tells
	// the store's own changes, whose commit callbacks may still be
	// running, from other programs' (ZoneStates).
	committed map[int64]int64

	// Journal limits per zone, guarded by wmu.
	journalEntries int
	journalAge     time.Duration
}

// Open opens (creating if needed) the database at path and applies migrations.
// A directory that cannot be written is an error naming it: SQLite in WAL
// mode needs to create the -wal and -shm files next to the database.
func Open(path string) (*Store, error) {
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		// The driver reads everything after '?' as DSN parameters.
		return nil, fmt.Errorf("store: database path %q must not contain '?' or '#'", path)
	}
	if err := checkWritableDir(filepath.Dir(path)); err != nil {
		return nil, err
	}
	dsn := path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_txlock=immediate"
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &Store{path: path, db: db, now: time.Now, committed: map[int64]int64{}, journalEntries: DefaultJournalEntries, journalAge: DefaultJournalAge}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: %s: %w", path, err)
	}
	s.pollConn = conn
	return s, nil
}

// checkWritableDir proves dir accepts new files by creating and removing one;
// permission bits alone say nothing when running as root or on read-only
// mounts.
func checkWritableDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("store: database directory %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("store: database directory %s is not a directory", dir)
	}
	f, err := os.CreateTemp(dir, ".mcns-probe-*")
	if err != nil {
		return fmt.Errorf("store: database directory %s is not writable: %w", dir, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}

// Path is the database file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error {
	s.pmu.Lock()
	var err error
	if s.pollConn != nil {
		err = s.pollConn.Close()
		s.pollConn = nil
	}
	s.pmu.Unlock()
	s.stmts.close()
	return errors.Join(err, s.db.Close())
}

// DataVersion returns SQLite's PRAGMA data_version as seen by a dedicated
// connection: it changes whenever any other connection, in this process or
// another (pdnsutil, the sqlite3 shell), commits a change.
func (s *Store) DataVersion(ctx context.Context) (int64, error) {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.pollConn == nil {
		return 0, errors.New("store: closed")
	}
	var v int64
	err := s.pollConn.QueryRowContext(ctx, "PRAGMA data_version").Scan(&v)
	return v, err
}

// DB exposes the underlying pool. Only tests use it, in this package and in
// mcns and its API: they edit rows directly to stand in for other programs
// (pdnsutil, the sqlite3 shell) and write rows no Tx would, such as
// disabled ones. Writes through it bypass the store's rules and journal.
func (s *Store) DB() *sql.DB { return s.db }
