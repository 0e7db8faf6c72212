package api

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseTokens(t *testing.T) {
	good := TokenLine("t1", "ops", []string{"admin", "read"}) + "\n# comment\n\n   " + TokenLine("t2", "ci", []string{"read"}) + "  \n"
	m, err := parseTokens("f", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	p := m[hashToken("t1")]
	if p.Name != "ops" || !p.Has("admin") || !p.Has("read") || p.Source != "tokens" {
		t.Errorf("t1: %+v", p)
	}
	if p := m[hashToken("t2")]; p.Name != "ci" || p.Has("admin") {
		t.Errorf("t2: %+v", p)
	}
	bad := map[string]string{
		"t1 ops admin":          "never in plaintext",
		"sha256:abcd ops admin": "64 hex digits",
		"sha256:" + strings.Repeat("g", 64) + " ops admin":                                       "64 hex digits",
		TokenLine("t1", "ops", nil):                                                              "want",
		TokenLine("t1", "ops", []string{"a", ""}):                                                "empty role",
		TokenLine("t1", "ops", []string{"admin"}) + " extra":                                     "want",
		TokenLine("t1", "a", []string{"admin"}) + "\n" + TokenLine("t1", "b", []string{"admin"}): "f:2: the same token",
	}
	for in, want := range bad {
		if _, err := parseTokens("f", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestTokenFileReloads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens")
	write := func(content string, mtime time.Time) {
		t.Helper()
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().Add(-time.Hour)
	write(TokenLine("one", "a", []string{"admin"})+"\n", base)
	log := &testLog{}
	f := newTokenFile(path, log)
	now := time.Unix(1_800_000_000, 0)
	f.now = func() time.Time { return now }
	has := func(tok string) bool { _, ok := f.lookup(hashToken(tok)); return ok }
	if !has("one") || has("two") {
		t.Fatal("initial load")
	}
	write(TokenLine("two", "b", []string{"admin"})+"\n", base.Add(time.Second))
	if !has("one") {
		t.Error("re-read within a second of the last check")
	}
	now = now.Add(time.Second)
	if has("one") || !has("two") {
		t.Error("not reloaded after the file changed")
	}
	// A broken file grants nothing, not even the tokens it held before,
	// and is logged once.
	write("garbage\n", base.Add(2*time.Second))
	for i := 0; i < 3; i++ {
		now = now.Add(time.Second)
		if has("two") {
			t.Error("broken file still grants the previous tokens")
		}
	}
	if n := strings.Count(log.String(), "tokens:1"); n != 1 {
		t.Errorf("broken file logged %d times:\n%s", n, log)
	}
	// A removed file grants nothing.
	os.Remove(path)
	now = now.Add(time.Second)
	if has("two") {
		t.Error("removed file still grants")
	}
	write(TokenLine("three", "c", []string{"read"})+"\n", base.Add(3*time.Second))
	now = now.Add(time.Second)
	if !has("three") {
		t.Error("recreated file not read")
	}
}
