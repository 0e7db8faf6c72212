package integration

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/goproxy"
)

func TestBinariesListOurModules(t *testing.T) {
	bin := binDir(t)
	out, err := run(t, nil, filepath.Join(bin, "caddy"), "list-modules")
	if err != nil {
		t.Fatalf("caddy list-modules: %v\n%s", err, out)
	}
	for _, m := range []string{"http.handlers.geofilter", "http.handlers.uafilter"} {
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
	for _, m := range []string{"http.handlers.geofilter", "http.handlers.uafilter"} {
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
