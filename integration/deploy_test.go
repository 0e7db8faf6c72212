package integration

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
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
		"install -m 0755 deploy/caddy-bot-ranges.sh /usr/local/lib/edge/caddy-bot-ranges.sh",
		"/etc/systemd/system/caddy-bot-ranges.timer",
		"systemctl enable coredns.service caddy.service mcns-backup.timer caddy-bot-ranges.timer",
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
	for _, u := range []string{"caddy.service", "coredns.service", "mcns-backup.service", "mcns-backup.timer", "caddy-bot-ranges.service", "caddy-bot-ranges.timer"} {
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

// unitValues returns every value of key in a systemd unit file, each
// space-separated word on its own, in order.
func unitValues(t *testing.T, unit, key string) []string {
	t.Helper()
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	var vals []string
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if ok && !strings.HasPrefix(k, "#") && strings.TrimSpace(k) == key {
			vals = append(vals, strings.Fields(v)...)
		}
	}
	return vals
}

// envFile reads deploy/coredns.env's KEY=VALUE lines.
func envFile(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "coredns.env"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			env[k] = v
		}
	}
	return env
}

// TestUnitsWritablePaths checks that every path a unit's service writes,
// as named in coredns.env, is in the unit's ReadWritePaths: under
// ProtectSystem=strict anything else is read-only, and a write there (an
// API snapshot, a backup) fails only when it is first needed.
func TestUnitsWritablePaths(t *testing.T) {
	env := envFile(t)
	for unit, writes := range map[string]map[string]string{
		"coredns.service":     {"MCNS_DB's directory": filepath.Dir(env["MCNS_DB"]), "API_SNAPSHOTS": env["API_SNAPSHOTS"]},
		"mcns-backup.service": {"MCNS_DB's directory": filepath.Dir(env["MCNS_DB"]), "MCNS_BACKUP_DIR": env["MCNS_BACKUP_DIR"]},
	} {
		rw := unitValues(t, filepath.Join(repoRoot(t), "deploy", unit), "ReadWritePaths")
		for what, p := range writes {
			if p == "" || p == "." {
				t.Errorf("coredns.env names no %s", what)
				continue
			}
			writable := false
			for _, w := range rw {
				w = strings.TrimLeft(w, "-+")
				writable = writable || p == w || strings.HasPrefix(p, w+"/")
			}
			if !writable {
				t.Errorf("%s: %s %s is not in ReadWritePaths %v", unit, what, p, rw)
			}
		}
	}
}

// secretPaths are the files holding secrets: coredns.env itself and the
// keys and tokens it names.
func secretPaths(t *testing.T, env map[string]string) []string {
	t.Helper()
	paths := []string{"/etc/coredns/coredns.env"}
	for _, k := range []string{"API_KEY", "API_TOKENS", "TSIG_KEYS"} {
		if env[k] == "" {
			t.Fatalf("coredns.env has no %s", k)
		}
		paths = append(paths, env[k])
	}
	return paths
}

var (
	// Programs whose output is a secret, and that output leaving for a
	// pipe or a file.
	secretMaker = regexp.MustCompile(`\b(tsig-keygen|dnssec-keygen|mcns-token|openssl (genpkey|genrsa|ecparam|req\b.*-newkey))\b`)
	secretOut   = regexp.MustCompile(`[>|]|-(key)?out\b`)
	umask077    = regexp.MustCompile(`\bumask 0?077\b`)
	installCmd  = regexp.MustCompile(`\binstall\b`)
	// How the command in front of a path treats it.
	chmodded = regexp.MustCompile(`\b(chmod|chown|chgrp)\b`)
	appended = regexp.MustCompile(`(>>|\btee -a)\s*$`)
	written  = regexp.MustCompile(`(>|\btee|-(key)?out)\s*$|\b(cp|mv|ln|dd)\b`)
)

// installsSecret tells whether a command is install(1) creating a file with
// a secret's mode and group.
func installsSecret(cmd string) bool {
	return installCmd.MatchString(cmd) && strings.Contains(cmd, " -m 0640 ") && strings.Contains(cmd, " -g coredns ")
}

// checkSecretWrites reports shell commands that could leave a secret
// readable by others, however briefly: a secret written other than by
// `install -m 0640 -g coredns` or by an append under umask 077, a secret
// maker's output sent on outside umask 077, and a chmod, chown or chgrp of
// a secret (so it was written with some other mode or group first).
func checkSecretWrites(t *testing.T, where string, cmds []string, secrets []string) {
	t.Helper()
	for _, cmd := range cmds {
		if m := secretMaker.FindStringIndex(cmd); m != nil && secretOut.MatchString(cmd[m[1]:]) && !umask077.MatchString(cmd[:m[0]]) {
			t.Errorf("%s: secret made outside umask 077: %s", where, cmd)
		}
		for _, s := range secrets {
			for off := 0; ; {
				i := strings.Index(cmd[off:], s)
				if i < 0 {
					break
				}
				before := cmd[:off+i]
				off += i + len(s)
				// The simple command that names the path.
				stmt := before[strings.LastIndexAny(before, ";&|\n")+1:]
				switch {
				case chmodded.MatchString(stmt):
					t.Errorf("%s: mode or owner of %s changed after it was written: %s", where, s, cmd)
				case installCmd.MatchString(stmt) && !strings.Contains(stmt, " -d "):
					if !installsSecret(stmt) {
						t.Errorf("%s: %s installed without -m 0640 -g coredns: %s", where, s, cmd)
					}
				case appended.MatchString(before):
					if !umask077.MatchString(before) {
						t.Errorf("%s: %s appended to outside umask 077: %s", where, s, cmd)
					}
				case written.MatchString(stmt):
					t.Errorf("%s: %s written other than by install -m 0640 -g coredns: %s", where, s, cmd)
				}
			}
		}
	}
}

// shellCommands splits a code block into commands: continued lines
// (trailing \, |, && or an open single quote) belong to the line before.
func shellCommands(block []string) []string {
	var cmds []string
	cur := ""
	for _, line := range block {
		if cur != "" {
			cur += "\n"
		}
		cur += line
		l := strings.TrimSpace(line)
		if strings.Count(cur, "'")%2 == 1 || strings.HasSuffix(l, `\`) || strings.HasSuffix(l, "|") || strings.HasSuffix(l, "&&") {
			continue
		}
		cmds = append(cmds, cur)
		cur = ""
	}
	if cur != "" {
		cmds = append(cmds, cur)
	}
	return cmds
}

// markdownCommands returns the commands in a Markdown file's code blocks
// (indented or fenced) and inline code spans.
func markdownCommands(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cmds, block []string
	span := regexp.MustCompile("`([^`]+)`")
	flush := func() { cmds, block = append(cmds, shellCommands(block)...), nil }
	prose, fenced := "", false
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			flush()
			fenced = !fenced
			continue
		}
		if fenced {
			block = append(block, line)
			continue
		}
		if code, ok := strings.CutPrefix(line, "    "); ok && (len(block) > 0 || prose == "") {
			block = append(block, code)
			continue
		}
		if len(block) > 0 && strings.TrimSpace(line) == "" {
			block = append(block, "")
			continue
		}
		flush()
		prose = strings.TrimSpace(line)
		for _, m := range span.FindAllStringSubmatch(line, -1) {
			cmds = append(cmds, m[1])
		}
	}
	flush()
	return cmds
}

// TestSecretsCreatedWithTheirMode checks that install.sh and the runbook
// create every secret with mode 0640 and group coredns from its first byte
// (install -m 0640 -g coredns, umask 077 around whatever else writes one),
// never readable by others even briefly.
func TestSecretsCreatedWithTheirMode(t *testing.T) {
	root := repoRoot(t)
	env := envFile(t)
	secrets := secretPaths(t, env)

	script, err := os.ReadFile(filepath.Join(root, "deploy", "install.sh"))
	if err != nil {
		t.Fatal(err)
	}
	// The umask is set before the script's first command that changes
	// anything ($run ...).
	first := strings.Index(string(script), "$run ")
	if m := umask077.FindIndex(script); m == nil || first < 0 || m[0] > first {
		t.Error("install.sh does not set umask 077 before its first command")
	}
	checkSecretWrites(t, "install.sh", shellCommands(strings.Split(string(script), "\n")), secrets)
	if bin := os.Getenv("EDGE_BIN_DIR"); bin != "" && filepath.Clean(bin) == filepath.Join(root, "bin") {
		out, err := run(t, nil, filepath.Join(root, "deploy", "install.sh"), "--dry-run")
		if err != nil {
			t.Fatalf("install.sh --dry-run: %v\n%s", err, out)
		}
		checkSecretWrites(t, "install.sh --dry-run", strings.Split(out, "\n"), secrets)
	}

	runbook := markdownCommands(t, filepath.Join(root, "docs", "RUNBOOK.md"))
	checkSecretWrites(t, "RUNBOOK.md", runbook, secrets)
	// The runbook says how to make each secret install.sh does not.
	for _, s := range []string{env["API_KEY"], env["TSIG_KEYS"]} {
		found := false
		for _, c := range runbook {
			found = found || (installsSecret(c) && strings.Contains(c, s))
		}
		if !found {
			t.Errorf("RUNBOOK.md has no `install -m 0640 -g coredns ... %s`", s)
		}
	}
}

// TestCaddyAdminSocket checks that production Caddy's admin endpoint (the
// config API, which controls Caddy) is a unix socket no other local user
// may use, in caddy.service's RuntimeDirectory, and that the unit reloads
// through it.
func TestCaddyAdminSocket(t *testing.T) {
	bin := binDir(t)
	root := repoRoot(t)
	// Caddyfile.example's defaults are the production values.
	out, err := run(t, nil, filepath.Join(bin, "caddy"), "adapt", "--config", filepath.Join(root, "Caddyfile.example"))
	if err != nil {
		t.Fatalf("caddy adapt Caddyfile.example: %v\n%s", err, out)
	}
	var listen string
	for _, line := range strings.Split(out, "\n") {
		var cfg struct {
			Admin struct{ Listen string } `json:"admin"`
			Apps  json.RawMessage         `json:"apps"`
		}
		if json.Unmarshal([]byte(line), &cfg) == nil && cfg.Apps != nil {
			listen = cfg.Admin.Listen
		}
	}
	addr, bits, _ := strings.Cut(listen, "|")
	sock, ok := strings.CutPrefix(addr, "unix/")
	if !ok || !filepath.IsAbs(sock) {
		t.Fatalf("admin listens on %q, want a unix socket", listen)
	}
	if mode, err := strconv.ParseUint(bits, 8, 32); err != nil || mode&0o007 != 0 {
		t.Errorf("admin socket %q: mode %q, want one without access for others", listen, bits)
	}
	unit := filepath.Join(root, "deploy", "caddy.service")
	if dirs := unitValues(t, unit, "RuntimeDirectory"); len(dirs) == 0 || filepath.Dir(sock) != filepath.Join("/run", dirs[0]) {
		t.Errorf("admin socket %s is not in caddy.service's RuntimeDirectory %v", sock, dirs)
	}
	if reload := strings.Join(unitValues(t, unit, "ExecReload"), " "); !strings.Contains(reload, " reload ") || !strings.Contains(reload, " --address "+addr+" ") && !strings.HasSuffix(reload, " --address "+addr) {
		t.Errorf("caddy.service's ExecReload %q does not use --address %s", reload, addr)
	}
}

// TestUnitsKeepTheEnvironmentOutOfTheJournal: caddy's environment file holds
// the mcns API token for DNS-01; `caddy run --environ` would print it into
// the journal at every start.
func TestUnitsKeepTheEnvironmentOutOfTheJournal(t *testing.T) {
	for _, unit := range []string{"caddy.service", "coredns.service"} {
		for _, word := range unitValues(t, filepath.Join(repoRoot(t), "deploy", unit), "ExecStart") {
			if word == "--environ" {
				t.Errorf("%s: ExecStart has --environ, which prints the environment (secrets included) into the journal", unit)
			}
		}
	}
}
