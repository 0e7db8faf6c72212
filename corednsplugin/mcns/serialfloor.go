package mcns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// serialHeadroom is how far above a served serial the floor file reserves.
// Serials up to the reservation are served without touching the file, so a
// zone's file write comes once per serialHeadroom/2 of its writes; after a
// crash the zones written since the last clean stop continue above their
// reservation, at most this far ahead of what was served.
const serialHeadroom = 1000

// serialFloor bounds the SOA serials served per zone, kept in a small file
// beside the database (DBPATH.serials) and not in it: restoring an older
// copy of the database must not take it back. On start the store raises
// every serial above the file's (store.RaiseSerials), so secondaries that
// followed later changes see the restored data as newer.
//
// While serving, the file holds reservations: for each zone a serial no
// served one is above. A serial within its zone's reservation is served
// without writing the file; one above it waits for the file to reserve
// serialHeadroom more (for every zone short of half of that, so one write
// covers the first writes to many zones). When the last instance using the
// file stops, it writes the serials actually served, so a plain restart
// keeps every serial and IXFR journal; after a crash the start continues
// above the reservations, which is safe and costs one full transfer per
// zone written since.
//
// Instances of one process serving the same database share one
// serialFloor (acquireSerialFloor): a reload starts the new instance
// while the old one still serves, and the new one must start from what
// was served, not from the reservations, or every reload would raise
// serials.
type serialFloor struct {
	path string
	refs int // instances using it, guarded by floors.mu

	mu sync.Mutex
	// served is the highest serial served per zone by this process, or
	// read from the file for zones not served since.
	served map[string]uint32
	// reserved is what the file holds: no serial served is above it.
	reserved map[string]uint32
	// active are the zones this process served, the ones a save
	// reserves ahead for (not zones only named in the file, such as
	// deleted ones, whose bound would otherwise grow with every crash).
	active  map[string]bool
	failing bool // the last save failed; logged once per change
	saves   int  // files written, for tests
}

// floors holds the serial floors in use, by path.
var floors = struct {
	mu sync.Mutex
	m  map[string]*serialFloor
}{m: map[string]*serialFloor{}}

func floorPath(dbPath string) string { return dbPath + ".serials" }

// acquireSerialFloor returns the floor kept at path, shared with the
// other instances of this process using it, or loaded from the file. Each
// call is paired with one release.
func acquireSerialFloor(path string) (*serialFloor, error) {
	path = filepath.Clean(path)
	floors.mu.Lock()
	defer floors.mu.Unlock()
	if f := floors.m[path]; f != nil {
		f.refs++
		return f, nil
	}
	f, err := loadSerialFloor(path)
	if err != nil {
		return nil, err
	}
	f.refs = 1
	floors.m[path] = f
	return f, nil
}

// release ends one acquireSerialFloor. The last one writes the serials
// actually served, so the next start finds no reservation above them.
// The caller serves nothing more with f.
func (f *serialFloor) release() error {
	floors.mu.Lock()
	defer floors.mu.Unlock()
	if f.refs--; f.refs > 0 {
		return nil
	}
	delete(floors.m, f.path)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.save(f.served); err != nil {
		return fmt.Errorf("serial floor %s: %w", f.path, err)
	}
	return nil
}

// loadSerialFloor reads path; a missing file is an empty floor (a first
// start, or a database from before the file existed).
func loadSerialFloor(path string) (*serialFloor, error) {
	f := &serialFloor{path: path, served: map[string]uint32{}, active: map[string]bool{}}
	defer func() { f.reserved = maps.Clone(f.served) }()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("serial floor: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 2 {
			return nil, fmt.Errorf("serial floor %s:%d: want \"ZONE SERIAL\"", path, n)
		}
		serial, err := strconv.ParseUint(fields[1], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("serial floor %s:%d: %w", path, n, err)
		}
		f.served[canonicalZone(fields[0])] = uint32(serial)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("serial floor %s: %w", path, err)
	}
	return f, nil
}

// floors returns the serial each zone must be served above or at: what
// was served, or the file's bound for zones not served since it was read.
func (f *serialFloor) floors() map[string]uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return maps.Clone(f.served)
}

// serve records that zones are about to be served with these serials.
// Within their reservations that is all; a serial above its zone's
// reservation is served only after the file reserves more. A save that
// fails is logged once per change of state and retried with the next
// change, and the serials are served anyway: answering with them is
// better than not answering, and only a crash followed by a restore
// before a save succeeds could reuse one.
func (f *serialFloor) serve(changes map[string]uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	short := false
	for zone, serial := range changes {
		f.active[zone] = true
		if old, ok := f.served[zone]; !ok || store.SerialAfter(serial, old) {
			f.served[zone] = serial
		}
		if r, ok := f.reserved[zone]; !ok || store.SerialAfter(serial, r) {
			short = true
		}
	}
	if !short && !f.failing {
		return
	}
	next := maps.Clone(f.reserved)
	now := time.Now()
	for zone := range f.active {
		// Reserved from the zone's next serial, which is YYYYMMDD00 on
		// its first change of a day: a zone seeded with serial 1 jumps
		// to the date at its first write, and that jump must not cost
		// a file write per zone.
		s := store.NextSerial(f.served[zone], now)
		if r, ok := next[zone]; !ok || !store.SerialAfter(r, s+serialHeadroom/2) {
			next[zone] = s + serialHeadroom
		}
	}
	err := f.save(next)
	if err == nil {
		f.reserved = next
	}
	switch {
	case err != nil && !f.failing:
		f.failing = true
		log.Errorf("Cannot save the serial reservations to %s (a restored database could reuse serials): %v", f.path, err)
	case err == nil && f.failing:
		f.failing = false
		log.Infof("Saved the serial reservations to %s again", f.path)
	}
}

// save writes serials as the file, whole and durably: a temporary file,
// fsynced, then renamed over the old one and the directory fsynced, so a
// crash leaves the old or the new floor, never a torn one.
func (f *serialFloor) save(serials map[string]uint32) error {
	f.saves++
	var b strings.Builder
	b.WriteString("# No SOA serial mcns served per zone is above these. A database restored from\n# an older copy continues above them. Do not restore this file.\n")
	for _, z := range slices.Sorted(maps.Keys(serials)) {
		fmt.Fprintf(&b, "%s %d\n", z, serials[z])
	}
	dir := filepath.Dir(f.path)
	tmp, err := os.CreateTemp(dir, filepath.Base(f.path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), f.path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
