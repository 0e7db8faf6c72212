package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metricValue is the value of a gauge or a counter.
func metricValue(m prometheus.Metric) float64 {
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		panic(err)
	}
	return d.GetGauge().GetValue() + d.GetCounter().GetValue()
}

// TestTokensFileFailsClosed: a tokens file saved with a revocation and a
// typo grants nothing (not the revoked token, not the others) until it is
// fixed, while MCIAS tokens keep working. The failure is logged once,
// reported by Healthy and counted in the metrics, until the file is fixed
// or the server stops.
func TestTokensFileFailsClosed(t *testing.T) {
	f := newFakeMCIAS(t)
	path := filepath.Join(t.TempDir(), "tokens")
	const revoked = "revoked-token-0123456789abcdefghijklmnopqrs"
	admin := TokenLine(adminToken, "ops", []string{"admin"})
	save := func(lines ...string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	save(admin, TokenLine(revoked, "leaver", []string{"admin"}))
	h := newHarness(t, newFakeStore(), &Config{
		Addr:              "127.0.0.1:0",
		InsecurePlaintext: true,
		TokensFile:        path,
		MCIAS:             &MCIASConfig{URL: f.srv.URL, CACert: f.caFile, ValidatePath: defaultValidatePath},
	})
	now := time.Unix(1_800_000_000, 0)
	h.srv.auth.tokens.now = func() time.Time { return now }
	failing0, failures0 := metricValue(tokensFileFailing), metricValue(tokensFileFailures)
	metrics := func() (failing, failures float64) {
		return metricValue(tokensFileFailing) - failing0, metricValue(tokensFileFailures) - failures0
	}
	expect := func(when string, want map[string]int) {
		t.Helper()
		for tok, status := range want {
			if r := h.do("GET", "/v1/zones", tok, ""); r.status != status {
				t.Errorf("%s: token %.12s…: %d, want %d", when, tok, r.status, status)
			}
		}
	}
	expect("initially", map[string]int{adminToken: 200, revoked: 200})
	if err := h.srv.Healthy(); err != nil {
		t.Errorf("initially unhealthy: %v", err)
	}

	// The revocation is saved together with a typo.
	save(admin, "sha256:0123 viewer read")
	for range 3 {
		now = now.Add(time.Second)
		expect("broken file", map[string]int{revoked: 401, adminToken: 401, "bob-token": 200})
	}
	err := h.srv.Healthy()
	if err == nil || !strings.Contains(err.Error(), path+":2:") || !strings.Contains(err.Error(), "64 hex digits") {
		t.Errorf("Healthy with a broken file: %v", err)
	}
	if failing, failures := metrics(); failing != 1 || failures != 1 {
		t.Errorf("broken file: failing %v, failures %v; want 1 and 1", failing, failures)
	}
	if n := strings.Count(h.log.String(), "ERROR api: tokens file"); n != 1 {
		t.Errorf("broken file logged %d times:\n%s", n, h.log)
	}

	// Fixed: its tokens count again, the revoked one no longer.
	save(admin)
	now = now.Add(time.Second)
	expect("fixed file", map[string]int{adminToken: 200, revoked: 401})
	if err := h.srv.Healthy(); err != nil {
		t.Errorf("Healthy after the fix: %v", err)
	}
	if failing, failures := metrics(); failing != 0 || failures != 1 {
		t.Errorf("fixed file: failing %v, failures %v; want 0 and 1", failing, failures)
	}

	// Removed: nothing is granted, and the server's share of the gauge is
	// withdrawn when it stops.
	if err := h.srv.Start(); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	now = now.Add(time.Second)
	expect("removed file", map[string]int{adminToken: 401, "bob-token": 200})
	if err := h.srv.Healthy(); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Healthy with the file removed: %v", err)
	}
	if failing, failures := metrics(); failing != 1 || failures != 2 {
		t.Errorf("removed file: failing %v, failures %v; want 1 and 2", failing, failures)
	}
	if err := h.srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if failing, _ := metrics(); failing != 0 {
		t.Errorf("after Stop: failing %v, want 0", failing)
	}
}

// TestTokenFileSeesRenameReplace: a new version renamed over the tokens
// file is read even when its size and modification time equal the old
// one's.
func TestTokenFileSeesRenameReplace(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	mtime := time.Now().Add(-time.Hour).Truncate(time.Second)
	replace := func(tok string) os.FileInfo {
		t.Helper()
		tmp := filepath.Join(dir, "tokens.new")
		if err := os.WriteFile(tmp, []byte(TokenLine(tok, "ops", []string{"admin"})+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(tmp, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi
	}
	v1 := replace("old-token")
	f := newTokenFile(path, &testLog{})
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	if _, ok := f.lookup(hashToken("old-token")); !ok {
		t.Fatal("initial load")
	}
	v2 := replace("new-token")
	if v1.Size() != v2.Size() || !v1.ModTime().Equal(v2.ModTime()) {
		t.Fatalf("versions differ in size or time: %d %v, %d %v", v1.Size(), v1.ModTime(), v2.Size(), v2.ModTime())
	}
	now = now.Add(time.Second)
	if _, ok := f.lookup(hashToken("old-token")); ok {
		t.Error("the replaced version still grants")
	}
	if _, ok := f.lookup(hashToken("new-token")); !ok {
		t.Error("the new version was not read")
	}
}
