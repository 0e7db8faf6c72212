package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSeedFiles writes n one-record zone files z-I.test and returns their
// paths; bad >= 0 makes that one break a rule (a CNAME beside other data).
func writeSeedFiles(t *testing.T, n, bad int) []string {
	t.Helper()
	dir := t.TempDir()
	var files []string
	for i := range n {
		origin := fmt.Sprintf("z-%d.test.", i)
		body := fmt.Sprintf("$ORIGIN %s\n@ 3600 IN SOA ns hostmaster 1 7200 3600 1209600 300\n@ 3600 IN NS ns\nns 3600 IN A 192.0.2.1\n", origin)
		if i == bad {
			body += "ns 3600 IN CNAME elsewhere.test.\n"
		}
		path := filepath.Join(dir, fmt.Sprintf("z-%d.zone", i))
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, path)
	}
	return files
}

// TestSeedSharesCommits: seeding many zones takes one commit per group of
// seedGroup files, and every zone is imported as from its own file.
func TestSeedSharesCommits(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	n := seedGroup + 44
	before := s.commits.Load()
	got, err := s.Seed(ctx, writeSeedFiles(t, n, -1))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Fatalf("%d zones imported, want %d", len(got), n)
	}
	if c := s.commits.Load() - before; c != 2 {
		t.Errorf("%d commits for %d zones, want 2", c, n)
	}
	for _, i := range []int{0, seedGroup - 1, seedGroup, n - 1} {
		name := fmt.Sprintf("z-%d.test.", i)
		if rs, err := s.Records(ctx, name, Filter{}); err != nil || len(rs) != 3 {
			t.Errorf("%s: %d records, %v; want SOA, NS and A", name, len(rs), err)
		}
	}
}

// TestSeedFailureNamesTheFile: a file breaking a rule fails seeding with
// its name; the zones before it are imported, the bad one is not, and a
// second start after the file is fixed imports the rest.
func TestSeedFailureNamesTheFile(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	files := writeSeedFiles(t, seedGroup+10, seedGroup+3)
	got, err := s.Seed(ctx, files)
	if err == nil || !strings.Contains(err.Error(), files[seedGroup+3]) {
		t.Fatalf("err %v, want one naming %s", err, files[seedGroup+3])
	}
	if len(got) < seedGroup+3 {
		t.Fatalf("%d zones reported imported, want at least the %d before the bad file", len(got), seedGroup+3)
	}
	if _, err := s.Zone(ctx, fmt.Sprintf("z-%d.test.", seedGroup+3)); err == nil {
		t.Fatal("the bad zone was imported")
	}
	good := writeSeedFiles(t, seedGroup+10, -1)
	got, err = s.Seed(ctx, good)
	if err != nil || len(got) != 1 || got[0] != fmt.Sprintf("z-%d.test.", seedGroup+3) {
		t.Fatalf("second seeding imported %v, %v; want only the zone that failed", got, err)
	}
}
