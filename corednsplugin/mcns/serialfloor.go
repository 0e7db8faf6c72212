package mcns

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// serialFloor is the highest SOA serial served per zone, kept in a small
// file beside the database (DBPATH.serials) and not in it: restoring an
// older copy of the database must not take it back. On start the store
// raises every serial above it (store.RaiseSerials), so secondaries that
// followed later changes see the restored data as newer. Only the
// maintainer of the snapshot (under MCNS.mu) touches it.
type serialFloor struct {
	path    string
	serials map[string]uint32
	failing bool // the last save failed; logged once per change
}

func floorPath(dbPath string) string { return dbPath + ".serials" }

// loadSerialFloor reads path; a missing file is an empty floor (a first
// start, or a database from before the file existed).
func loadSerialFloor(path string) (*serialFloor, error) {
	f := &serialFloor{path: path, serials: map[string]uint32{}}
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
			return nil, fmt.Errorf("serial floor %s:%d: %v", path, n, err)
		}
		f.serials[canonicalZone(fields[0])] = uint32(serial)
	}
	return f, nil
}

// served records that zone is now served with serial and saves the file
// when that raised the floor. A save that fails is logged once per change
// of state and retried with the next change; serving does not wait on it.
func (f *serialFloor) served(changes map[string]uint32) {
	raised := false
	for zone, serial := range changes {
		if old, ok := f.serials[zone]; !ok || store.SerialAfter(serial, old) {
			f.serials[zone] = serial
			raised = true
		}
	}
	if !raised && !f.failing {
		return
	}
	err := f.save()
	switch {
	case err != nil && !f.failing:
		f.failing = true
		log.Errorf("Cannot save the served serials (a restored database could reuse them): %v", err)
	case err == nil && f.failing:
		f.failing = false
		log.Infof("Saved the served serials to %s again", f.path)
	}
}

// save writes the file whole and durably: a temporary file, fsynced, then
// renamed over the old one and the directory fsynced, so a crash leaves the
// old or the new floor, never a torn one.
func (f *serialFloor) save() error {
	var b strings.Builder
	b.WriteString("# The highest SOA serial mcns served per zone. A database restored from an\n# older copy continues above these serials. Do not restore this file.\n")
	zones := make([]string, 0, len(f.serials))
	for z := range f.serials {
		zones = append(zones, z)
	}
	slices.Sort(zones)
	for _, z := range zones {
		fmt.Fprintf(&b, "%s %d\n", z, f.serials[z])
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
