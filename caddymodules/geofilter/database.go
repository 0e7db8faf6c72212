package geofilter

import (
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/oschwald/maxminddb-golang/v2"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/filewatch"
)

// dbKind says which kinds of data a database holds.
type dbKind uint8

const (
	kindCountry dbKind = 1 << iota
	kindASN
)

func (k dbKind) String() string {
	var parts []string
	if k&kindCountry != 0 {
		parts = append(parts, "country")
	}
	if k&kindASN != 0 {
		parts = append(parts, "asn")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// geoRecord holds the only fields geofilter reads. Field tags cover the
// MaxMind GeoIP2/GeoLite2 Country, City and ASN layouts, DB-IP lite (same
// names as MaxMind) and the flat ip-location-db layout; the decoder skips
// every other field without decoding it.
type geoRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
	RegisteredCountry struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"registered_country"`
	CountryCode string `maxminddb:"country_code"`
	ASN         uint32 `maxminddb:"autonomous_system_number"`
}

func (r *geoRecord) country() country {
	for _, s := range [...]string{r.Country.ISOCode, r.RegisteredCountry.ISOCode, r.CountryCode} {
		if s == "" {
			continue
		}
		if c, err := parseCountry(s); err == nil {
			return c
		}
	}
	return noCountry
}

// Decoding through an interface makes the destination escape; pooling the
// records keeps cache misses allocation-free too.
var recordPool = sync.Pool{New: func() any { return new(geoRecord) }}

// dbVersion is one immutable, fully loaded revision of a database file.
//
// The reader is built from a heap copy of the file (OpenBytes), never from a
// memory map, and is never closed: after a swap, requests still holding the
// old version keep using valid memory and the garbage collector frees it
// once the last one is done. This is what makes hot swaps safe without
// reference counting on the request path.
type dbVersion struct {
	reader *maxminddb.Reader
	kind   dbKind
	dbType string
	// The database holds IPv4 networks only. maxminddb reports looking up
	// an IPv6 address in it as an error; for geofilter such a client is
	// simply not in the database.
	v4only bool
	// Per-record decode caches, indexed by the record's data offset. Country
	// databases hold a few hundred distinct records, ASN databases some
	// tens of thousands, so a small direct-mapped cache absorbs most decodes.
	countries, asns *offsetCache
	// AS numbers and names as placeholder values, by record offset.
	asnInfos *asnInfoCache
}

const cacheBits = 12

// offsetCache maps a record offset to a decoded 32-bit value. Each entry is
// one atomic word (offset+1 in the high half, value in the low half), so
// concurrent readers and writers never see a torn entry.
type offsetCache [1 << cacheBits]atomic.Uint64

func (c *offsetCache) get(off uintptr) (uint32, bool) {
	if uint64(off) >= 1<<32-1 {
		return 0, false
	}
	e := c[slot(off)].Load()
	if e>>32 != uint64(off)+1 {
		return 0, false
	}
	return uint32(e), true
}

func (c *offsetCache) put(off uintptr, v uint32) {
	if uint64(off) >= 1<<32-1 {
		return
	}
	c[slot(off)].Store((uint64(off)+1)<<32 | uint64(v))
}

func slot(off uintptr) uint64 {
	return (uint64(off) * 0x9E3779B97F4A7C15) >> (64 - cacheBits)
}

// decode reads the record at res, using the pool to avoid allocation.
func decode(res maxminddb.Result) (country, uint32, error) {
	rec := recordPool.Get().(*geoRecord)
	*rec = geoRecord{}
	err := res.Decode(rec)
	c, asn := rec.country(), rec.ASN
	recordPool.Put(rec)
	return c, asn, err
}

// lookup walks v's tree for ip once; found is false when v holds nothing
// for ip, or cannot (an IPv4-only database asked for an IPv6 address).
func (v *dbVersion) lookup(ip netip.Addr) (res maxminddb.Result, found bool, err error) {
	if v.v4only {
		if ip = ip.Unmap(); !ip.Is4() {
			return res, false, nil
		}
	}
	res = v.reader.Lookup(ip)
	if err := res.Err(); err != nil {
		return res, false, err
	}
	return res, res.Found(), nil
}

// country returns the country of ip, or noCountry if the database has none.
func (v *dbVersion) country(ip netip.Addr) (country, error) {
	if v.countries == nil {
		return noCountry, nil
	}
	res, found, err := v.lookup(ip)
	if !found {
		return noCountry, err
	}
	return v.countryAt(res)
}

// countryAt is the country of the record lookup found.
func (v *dbVersion) countryAt(res maxminddb.Result) (country, error) {
	off := res.Offset()
	if c, ok := v.countries.get(off); ok {
		return country(c), nil
	}
	c, _, err := decode(res)
	if err != nil {
		return noCountry, err
	}
	v.countries.put(off, uint32(c))
	return c, nil
}

// asn returns the autonomous system number of ip, or 0 if unknown.
func (v *dbVersion) asn(ip netip.Addr) (uint32, error) {
	if v.asns == nil {
		return 0, nil
	}
	res, found, err := v.lookup(ip)
	if !found {
		return 0, err
	}
	off := res.Offset()
	if a, ok := v.asns.get(off); ok {
		return a, nil
	}
	_, a, err := decode(res)
	if err != nil {
		return 0, err
	}
	v.asns.put(off, a)
	return a, nil
}

// sampleRecords bounds the content scan used to detect layouts whose
// database_type says nothing.
const sampleRecords = 2000

// openVersion reads, verifies and classifies the database at path. The
// returned FileInfo describes the file that was actually read.
func openVersion(path string) (*dbVersion, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		// The callers name the file; keep only what went wrong.
		if pe, ok := err.(*os.PathError); ok {
			return nil, nil, fmt.Errorf("cannot open: %w", pe.Err)
		}
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("not a regular file")
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, nil, err
	}
	v, err := parseVersion(data)
	if err != nil {
		return nil, nil, err
	}
	return v, fi, nil
}

func parseVersion(data []byte) (*dbVersion, error) {
	r, err := maxminddb.OpenBytes(data)
	if err != nil {
		return nil, fmt.Errorf("invalid MaxMind DB: %w", err)
	}
	// Verify walks the whole search tree and data section, so a truncated or
	// corrupt file is refused here instead of misjudging requests later.
	// Some producers (ip-location-db) write no description, which Verify
	// insists on although readers never need it.
	if len(r.Metadata.Description) == 0 {
		r.Metadata.Description = map[string]string{"en": r.Metadata.DatabaseType}
	}
	if err := r.Verify(); err != nil {
		return nil, fmt.Errorf("corrupt MaxMind DB: %w", err)
	}
	kind, err := classify(r)
	if err != nil {
		return nil, err
	}
	v := &dbVersion{reader: r, kind: kind, dbType: r.Metadata.DatabaseType, v4only: r.Metadata.IPVersion == 4}
	if kind&kindCountry != 0 {
		v.countries = new(offsetCache)
	}
	if kind&kindASN != 0 {
		v.asns = new(offsetCache)
		v.asnInfos = new(asnInfoCache)
	}
	return v, nil
}

// classify detects the database layout from its metadata type and content.
func classify(r *maxminddb.Reader) (dbKind, error) {
	var kind dbKind
	t := strings.ToLower(r.Metadata.DatabaseType)
	for _, s := range []string{"country", "city", "enterprise"} {
		if strings.Contains(t, s) {
			kind |= kindCountry
		}
	}
	for _, s := range []string{"asn", "isp"} {
		if strings.Contains(t, s) {
			kind |= kindASN
		}
	}
	n := 0
	for res := range r.Networks() {
		if n++; n > sampleRecords {
			break
		}
		var rec geoRecord
		if err := res.Decode(&rec); err != nil {
			return 0, fmt.Errorf("unsupported record layout (database_type %q): %w", r.Metadata.DatabaseType, err)
		}
		if rec.country() != noCountry {
			kind |= kindCountry
		}
		if rec.ASN != 0 {
			kind |= kindASN
		}
	}
	if kind == 0 {
		return 0, fmt.Errorf("no country or ASN data found (database_type %q)", r.Metadata.DatabaseType)
	}
	return kind, nil
}

// checkInterval is how often database files are polled for replacement
// (5s; atomic so tests can shorten it).
var checkInterval = func() *atomic.Int64 {
	var v atomic.Int64
	v.Store(int64(5 * time.Second))
	return &v
}()

// database is a database file kept current: the file is polled and a
// changed file is loaded in full and swapped in atomically. A database is
// shared, through dbPool, by every handler, matcher and listener wrapper
// naming the same file, and survives config reloads.
type database struct {
	path string
	cur  atomic.Pointer[dbVersion]

	mu   sync.Mutex // serialises checks; guards file and errs
	file filewatch.Watcher
	errs filewatch.ErrorState // logged once per state
	stop chan struct{}
	done chan struct{}
}

// dbPool holds the loaded databases keyed by absolute path.
var dbPool = caddy.NewUsagePool()

func dbKey(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	return "geofilter.db:" + abs, nil
}

// acquireDatabase loads path, or shares the copy already loaded. Release it
// with releaseDatabase.
func acquireDatabase(path string) (*database, string, error) {
	key, err := dbKey(path)
	if err != nil {
		return nil, "", err
	}
	val, _, err := dbPool.LoadOrNew(key, func() (caddy.Destructor, error) {
		v, fi, err := openVersion(path)
		if err != nil {
			return nil, err
		}
		d := &database{
			path: path,
			file: filewatch.Watcher{Path: path, SettlePolls: settlePolls},
			stop: make(chan struct{}),
			done: make(chan struct{}),
		}
		d.file.Accept(filewatch.StampOf(fi))
		d.cur.Store(v)
		go d.watch()
		d.log().Info("database loaded", zap.String("type", v.dbType), zap.Stringer("data", v.kind))
		return d, nil
	})
	if err != nil {
		return nil, "", err
	}
	return val.(*database), key, nil
}

func releaseDatabase(key string) {
	_, _ = dbPool.Delete(key)
}

// log returns Caddy's current default logger: a database outlives the
// config (and the config's log writers) that first loaded it.
func (d *database) log() *zap.Logger {
	return caddy.Log().Named("geofilter").With(zap.String("db", d.path))
}

// Destruct stops the file watcher; it runs when the last user is cleaned up.
func (d *database) Destruct() error {
	close(d.stop)
	<-d.done
	return nil
}

func (d *database) watch() {
	defer close(d.done)
	t := time.NewTicker(time.Duration(checkInterval.Load()))
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.check()
		}
	}
}

// settlePolls is how many polls must find a changed database file
// unchanged before it is read, so that a file being copied into place is
// not read (and rejected as corrupt) half-way: filewatch's default.
const settlePolls = filewatch.DefaultSettlePolls

// check reloads the file once a replaced or modified version has settled.
// On any error the current version keeps serving.
func (d *database) check() {
	d.mu.Lock()
	defer d.mu.Unlock()
	stamp, ready, err := d.file.Poll()
	if err != nil {
		if d.errs.Report(err) {
			d.log().Error("database file unavailable; keeping the loaded version", zap.Error(err))
		}
		return
	}
	if !ready {
		return
	}
	v, fi, err := openVersion(d.path)
	var read filewatch.Stamp
	if fi != nil {
		read = filewatch.StampOf(fi)
	}
	if !d.file.Unchanged(stamp, read) {
		return // written to while being read: wait for it to settle again
	}
	if err != nil {
		// Remember the broken file so it is not re-read on every poll; the
		// next replacement changes the file identity again.
		d.file.Accept(stamp)
		if d.errs.Report(err) {
			d.log().Error("database reload failed; keeping the loaded version", zap.Error(err))
		}
		return
	}
	d.file.Accept(read)
	if old := d.cur.Load(); v.kind&old.kind != old.kind {
		err := fmt.Errorf("replacement has %s data, loaded version has %s", v.kind, old.kind)
		if d.errs.Report(err) {
			d.log().Error("database reload refused: replacement lacks data the loaded version has; keeping the loaded version",
				zap.Stringer("loaded", old.kind), zap.Stringer("replacement", v.kind))
		}
		return
	}
	d.errs.Clear()
	d.cur.Store(v)
	d.log().Info("database reloaded", zap.String("type", v.dbType), zap.Stringer("data", v.kind))
}
