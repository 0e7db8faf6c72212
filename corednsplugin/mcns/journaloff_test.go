package mcns

import (
	"context"
	stdlog "log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
	"github.com/metacircular/edge/internal/syncbuf"
)

// TestJournalOffLogsNoOutsideChange: with `journal 0` a write through mcns
// has no journal entry by design; it must not be logged as a change made
// outside mcns.
func TestJournalOffLogsNoOutsideChange(t *testing.T) {
	var out syncbuf.Buffer
	stdlog.SetOutput(&out)
	defer stdlog.SetOutput(os.Stderr)
	cfg := config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg), refresh: 20 * time.Millisecond, journalEntries: -1}
	m := startWith(t, cfg, []string{"."})
	for _, name := range []string{"a", "b"} {
		if _, err := m.st.AddRecord(context.Background(), "example.org.", store.RecordSpec{Name: name, Type: "A", Value: "192.0.2.9"}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(100 * time.Millisecond) // a few polls
	if strings.Contains(out.String(), "outside mcns") {
		t.Errorf("journal 0: writes logged as outside changes:\n%s", out.String())
	}
}
