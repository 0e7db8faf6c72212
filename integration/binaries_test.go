package integration

import (
	"bufio"
	"debug/buildinfo"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/mod/modfile"

	"github.com/metacircular/edge/internal/goproxy"
)

func TestBinariesListOurModules(t *testing.T) {
	bin := binDir(t)
	out, err := run(t, nil, filepath.Join(bin, "caddy"), "list-modules")
	if err != nil {
		t.Fatalf("caddy list-modules: %v\n%s", err, out)
	}
	for _, m := range []string{"http.handlers.geofilter", "http.handlers.uafilter", "dns.providers.mcns"} {
		if !hasLine(out, m) {
			t.Errorf("caddy list-modules lacks %s", m)
		}
	}
	out, err = run(t, nil, filepath.Join(bin, "coredns"), "-plugins")
	if err != nil {
		t.Fatalf("coredns -plugins: %v\n%s", err, out)
	}
	if !hasLine(out, "dns.mcns") && !hasLine(out, "mcns") {
		t.Errorf("coredns -plugins lacks mcns:\n%s", out)
	}
}

// TestCaddyfileExampleAdapts checks the example with its production
// defaults (no environment overrides) through the real binary's adapter.
func TestCaddyfileExampleAdapts(t *testing.T) {
	bin := binDir(t)
	out, err := run(t, nil, filepath.Join(bin, "caddy"), "adapt", "--config", filepath.Join(repoRoot(t), "Caddyfile.example"))
	if err != nil {
		t.Fatalf("caddy adapt Caddyfile.example: %v\n%s", err, out)
	}
	for _, want := range []string{`"handler":"geofilter"`, `"handler":"uafilter"`, `"metacrypt.metacircular.net"`, `"100.95.252.120:18080"`} {
		if !strings.Contains(out, want) {
			t.Errorf("adapted config lacks %s:\n%s", want, out)
		}
	}
}

// TestReadmeXcaddyLine runs the README's xcaddy one-liner, as a user
// would, with this working tree standing in for the published module.
func TestReadmeXcaddyLine(t *testing.T) {
	binDir(t)
	root := repoRoot(t)
	line := readmeXcaddyLine(t, filepath.Join(root, "README.md"))
	args := strings.Fields(line)[1:] // drop "xcaddy"
	out := filepath.Join(t.TempDir(), "caddy")
	args = append(args, "--replace", "github.com/metacircular/edge="+root, "--output", out)
	env := []string{"GOPROXY=" + goproxy.WithNotFoundFallback(os.Getenv("GOPROXY"), t.TempDir()), "CGO_ENABLED=0"}
	if o, err := run(t, env, "go", append([]string{"tool", "xcaddy"}, args...)...); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, o)
	}
	o, err := run(t, nil, out, "list-modules")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"http.handlers.geofilter", "http.handlers.uafilter", "dns.providers.mcns"} {
		if !hasLine(o, m) {
			t.Errorf("caddy built by %q lacks %s", line, m)
		}
	}
}

var xcaddyLine = regexp.MustCompile(`^\s*(xcaddy build( --with \S+)+)\s*$`)

func readmeXcaddyLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := xcaddyLine.FindStringSubmatch(sc.Text()); m != nil {
			return m[1]
		}
	}
	t.Fatalf("%s has no `xcaddy build --with ...` line", path)
	return ""
}

func hasLine(out, s string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.TrimSpace(l) == s {
			return true
		}
	}
	return false
}

// TestBinariesPinnedToGoMod wants every module that go.mod requires and
// that is built into bin/caddy or bin/coredns at exactly go.mod's version,
// and none replaced: the drivers resolve the builds in modules of their own
// (xcaddy's, corednsbuild's), which must not drift from the repository's.
func TestBinariesPinnedToGoMod(t *testing.T) {
	bin := binDir(t)
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mf, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatal(err)
	}
	pinned := map[string]string{}
	for _, r := range mf.Require {
		pinned[r.Mod.Path] = r.Mod.Version
	}
	for _, name := range []string{"caddy", "coredns"} {
		checked, extra := 0, 0
		bi, err := buildinfo.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, dep := range bi.Deps {
			if dep.Path == mf.Module.Mod.Path {
				continue // this working tree, through the drivers' replace
			}
			if dep.Replace != nil {
				t.Errorf("%s: %s %s replaced by %s %s", name, dep.Path, dep.Version, dep.Replace.Path, dep.Replace.Version)
			}
			want, ok := pinned[dep.Path]
			if !ok {
				// Only CoreDNS's own plugins use it: go.mod cannot pin it
				// without tidy dropping it again.
				extra++
				continue
			}
			checked++
			if dep.Version != want {
				t.Errorf("%s: built with %s %s, go.mod requires %s", name, dep.Path, dep.Version, want)
			}
		}
		t.Logf("%s: %d modules at go.mod's versions, %d that go.mod does not list", name, checked, extra)
	}
}

// TestBinariesReportVersion wants both binaries stamped with the same
// version of this project: `caddy version` starts with "edge-VERSION",
// `coredns -version` says "CoreDNS-X.Y.Z+edge.VERSION" and the commit.
func TestBinariesReportVersion(t *testing.T) {
	bin := binDir(t)
	cv, err := run(t, nil, filepath.Join(bin, "caddy"), "version")
	if err != nil {
		t.Fatalf("caddy version: %v\n%s", err, cv)
	}
	dv, err := run(t, nil, filepath.Join(bin, "coredns"), "-version")
	if err != nil {
		t.Fatalf("coredns -version: %v\n%s", err, dv)
	}
	version, commit := stampOf(t, bin)
	if !strings.HasPrefix(cv, "edge-"+version+" ") {
		t.Errorf("caddy version = %q, want it to start with edge-%s", cv, version)
	}
	if !strings.Contains(dv, "+edge."+version+"\n") || !strings.Contains(dv, ", "+commit+"\n") {
		t.Errorf("coredns -version = %q, want +edge.%s and commit %s", dv, version, commit)
	}
}

// stampOf returns the version and commit stamped into bin/coredns (from
// its `-version` output), checking their form: "devel"/"unknown" outside
// a checkout, else git describe's output and a 12-digit commit.
func stampOf(t *testing.T, bin string) (version, commit string) {
	t.Helper()
	out, err := run(t, nil, filepath.Join(bin, "coredns"), "-version")
	if err != nil {
		t.Fatalf("coredns -version: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`\+edge\.(\S+)\n.*, (\S+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("coredns -version = %q: no edge version", out)
	}
	version, commit = m[1], m[2]
	if (version == "devel") != (commit == "unknown") || (commit != "unknown" && !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(commit)) {
		t.Errorf("stamp version %q, commit %q: want both from git or both unstamped", version, commit)
	}
	return version, commit
}
