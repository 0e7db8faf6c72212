package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

const snapshotPrefix = "mcns-"

// Snapshot writes a consistent online copy of the database into dir, keeping
// the newest keep copies, and returns its path. VACUUM INTO reads one
// transaction's view, so writers are never blocked for long and the copy is
// a complete database that pdns_server or mcns can open as it is.
func (s *Store) Snapshot(ctx context.Context, dir string, keep int) (string, error) {
	if keep < 1 {
		keep = 1
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("snapshot directory %s: %w", dir, err)
	}
	name := filepath.Join(dir, snapshotPrefix+s.now().UTC().Format("20060102T150405.000000000Z")+".sqlite3")
	if _, err := s.db.ExecContext(ctx, "VACUUM INTO ?", name); err != nil {
		os.Remove(name)
		return "", fmt.Errorf("snapshot into %s: %w", name, err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return name, err
	}
	var snaps []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasPrefix(e.Name(), snapshotPrefix) && strings.HasSuffix(e.Name(), ".sqlite3") {
			snaps = append(snaps, e.Name())
		}
	}
	// Names sort by time: the timestamp is fixed-width UTC.
	sort.Strings(snaps)
	for len(snaps) > keep {
		if err := os.Remove(filepath.Join(dir, snaps[0])); err != nil {
			return name, err
		}
		snaps = snaps[1:]
	}
	return name, nil
}
