package mcns

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// TestReadyShowsABrokenTokensFile: while the API's tokens file does not
// parse it grants nothing, and the ready endpoint says so.
func TestReadyShowsABrokenTokensFile(t *testing.T) {
	tokens := writeTokenFile(t)
	good, err := os.ReadFile(tokens)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: writeZones(t, exampleOrg), refresh: time.Second,
		api: &api.Config{Addr: "127.0.0.1:0", InsecurePlaintext: true, TokensFile: tokens, Log: quietLog{}},
	}
	m := startWith(t, cfg, []string{"."})
	if !m.Ready() {
		t.Fatal("not ready with a good tokens file")
	}
	if err := os.WriteFile(tokens, append(good, []byte("sha256:nothex admin-typo admin\n")...), 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "not ready with a broken tokens file", func() bool { return !m.Ready() })
	if err := os.WriteFile(tokens, good, 0o600); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 5*time.Second, "ready again once the file is fixed", m.Ready)
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
