package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupScript runs deploy/mcns-backup.sh as the timer does, on a live
// database: each run leaves a checked copy with the same rows, and only the
// newest MCNS_BACKUP_KEEP copies stay.
func TestBackupScript(t *testing.T) {
	if _, err := exec.LookPath("sqlite3"); err != nil {
		t.Skip("sqlite3 is not installed")
	}
	root := repoRoot(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "mcns.db")
	if out, err := run(t, nil, "sqlite3", db,
		"PRAGMA journal_mode=WAL; CREATE TABLE records(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO records(name) VALUES ('a'),('b'),('c');"); err != nil {
		t.Fatalf("sqlite3: %v\n%s", err, out)
	}
	backups := filepath.Join(dir, "backups")
	env := []string{"MCNS_DB=" + db, "MCNS_BACKUP_DIR=" + backups, "MCNS_BACKUP_KEEP=2"}
	for i := range 3 {
		out, err := run(t, env, filepath.Join(root, "deploy", "mcns-backup.sh"))
		if err != nil || !strings.Contains(out, "mcns-backup: wrote ") {
			t.Fatalf("run %d: %v\n%s", i, err, out)
		}
	}
	copies, err := filepath.Glob(filepath.Join(backups, "mcns-*.db"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != 2 {
		t.Fatalf("%d copies kept, want 2: %v", len(copies), copies)
	}
	for _, c := range copies {
		out, err := run(t, nil, "sqlite3", c, "SELECT group_concat(name) FROM records")
		if err != nil || strings.TrimSpace(out) != "a,b,c" {
			t.Errorf("%s: %v %q", c, err, out)
		}
	}
	// A database that cannot be read is an error, not an empty backup.
	env[0] = "MCNS_DB=" + filepath.Join(dir, "missing", "mcns.db")
	if out, err := run(t, env, filepath.Join(root, "deploy", "mcns-backup.sh")); err == nil {
		t.Errorf("backup of a missing database succeeded:\n%s", out)
	}
}

// TestInstallDryRun checks that the install script knows every file it
// installs and what it would do, without touching the system.
func TestInstallDryRun(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	// The script installs from the checkout's bin/.
	if filepath.Clean(bin) != filepath.Join(root, "bin") {
		t.Skipf("EDGE_BIN_DIR=%s is not the checkout's bin/", bin)
	}
	out, err := run(t, nil, filepath.Join(root, "deploy", "install.sh"), "--dry-run")
	if err != nil {
		t.Fatalf("install.sh --dry-run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"install -m 0755 bin/caddy /usr/local/bin/caddy",
		"install -m 0755 bin/coredns /usr/local/bin/coredns",
		"/etc/systemd/system/coredns.service",
		"/etc/systemd/system/mcns-backup.timer",
		"systemctl enable coredns.service caddy.service mcns-backup.timer",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"caddy.service", "coredns.service", "mcns-backup.service", "mcns-backup.timer"} {
		if _, err := os.Stat(filepath.Join(root, "deploy", f)); err != nil {
			t.Error(err)
		}
	}
}

// TestUnitsVerify has systemd check the units where it is installed.
func TestUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed")
	}
	root := repoRoot(t)
	for _, u := range []string{"caddy.service", "coredns.service", "mcns-backup.service", "mcns-backup.timer"} {
		out, _ := run(t, nil, "systemd-analyze", "verify", "--man=no", filepath.Join(root, "deploy", u))
		// Only the not yet installed programs under /usr/local may be
		// reported on a build host.
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			if line != "" && !(strings.Contains(line, "/usr/local/") && strings.Contains(line, "is not executable")) {
				t.Errorf("%s: %s", u, line)
			}
		}
	}
}
