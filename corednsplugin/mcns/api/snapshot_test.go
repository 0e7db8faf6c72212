package api

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestSnapshotRestore takes a snapshot over the API, changes the zone,
// restores the snapshot the way the README says (copy it over the database
// file while stopped, removing -wal and -shm) and finds the same answers.
func TestSnapshotRestore(t *testing.T) {
	snapDir := t.TempDir()
	h, st, path := storeHarness(t, &Config{SnapshotDir: snapDir, SnapshotKeep: 3})
	snap := h.mustDo(201, "POST", "/v1/admin/snapshot", adminToken, "").json(t)["path"].(string)
	zonesBefore := string(h.mustDo(200, "GET", "/v1/zones", readerToken, "").body)
	recordsBefore := string(h.mustDo(200, "GET", "/v1/zones/example.com/records", readerToken, "").body)

	h.mustDo(201, "POST", "/v1/zones/example.com/records", adminToken, `{"name":"later","type":"A","value":"192.0.2.99"}`)
	h.mustDo(201, "POST", "/v1/zones", adminToken, `{"name":"later.example","primary_ns":"ns.later.example."}`)
	if string(h.mustDo(200, "GET", "/v1/zones/example.com/records", readerToken, "").body) == recordsBefore {
		t.Fatal("the change did not show")
	}

	// Restore: stop, copy the snapshot over the database, start.
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	os.Remove(path + "-wal")
	os.Remove(path + "-shm")
	copyFile(t, snap, path)
	restored, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer restored.Close()
	h2 := newHarness(t, restored, &Config{TokensFile: writeTokens(t, t.TempDir())})
	if got := string(h2.mustDo(200, "GET", "/v1/zones", readerToken, "").body); got != zonesBefore {
		t.Errorf("zones after restore:\n%s\nwant\n%s", got, zonesBefore)
	}
	if got := string(h2.mustDo(200, "GET", "/v1/zones/example.com/records", readerToken, "").body); got != recordsBefore {
		t.Errorf("records after restore:\n%s\nwant\n%s", got, recordsBefore)
	}
	// The restored database takes writes again.
	h2.mustDo(201, "POST", "/v1/zones/example.com/records", adminToken, `{"name":"after","type":"A","value":"192.0.2.98"}`)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(filepath.Clean(to))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
