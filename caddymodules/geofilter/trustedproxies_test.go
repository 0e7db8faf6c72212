package geofilter

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/metacircular/edge/internal/testutil"
)

// TestLaxTrustedProxiesWarning loads configs into a real Caddy: a server
// that trusts proxies without trusted_proxies_strict is named in one warning
// when geofilter handlers or geo matchers in it are provisioned; in strict
// mode, or without trusted proxies, nothing is logged.
func TestLaxTrustedProxiesWarning(t *testing.T) {
	const (
		lax    = "trusted_proxies static 127.0.0.1/32"
		strict = lax + "\n\t\ttrusted_proxies_strict"
		// Two handlers in one server: still one warning.
		handlers = "\tgeofilter {\n\t\tblock_ips 203.0.113.7\n\t}\n\tgeofilter {\n\t\tblock_ips 203.0.113.8\n\t}"
		matcher  = "\t@far geo {\n\t\tcidr 203.0.113.0/24\n\t}\n\trespond @far 403"
	)
	dir := t.TempDir()
	tc := newTester(t)
	for i, c := range []struct {
		name, servers, site string
		warn                bool
	}{
		{"handler, lax", lax, handlers, true},
		{"handler, strict", strict, handlers, false},
		{"handler, no trusted proxies", "", handlers, false},
		{"matcher, lax", lax, matcher, true},
		{"matcher, strict", strict, matcher, false},
	} {
		// A log file per config: Caddy keeps a file it logs to open.
		logFile := filepath.Join(dir, fmt.Sprintf("%d.log", i))
		global := fmt.Sprintf("\tlog warnings {\n\t\toutput file %s\n\t\tinclude http.handlers.geofilter http.matchers.geo\n\t\tlevel WARN\n\t}", logFile)
		tc.InitServer(serversSite(global, c.servers, c.site), "caddyfile")
		want := []string{}
		if c.warn {
			want = []string{"srv0"}
		}
		checkLaxWarnings(t, c.name, logFile, want)
	}

	// Only the servers holding geofilter are named: srv1 trusts proxies
	// too but has no geofilter, srv2 has one in strict mode.
	logFile := filepath.Join(dir, "servers.log")
	server := func(port int, trust, handler string) string {
		return fmt.Sprintf(`{"listen": [":%d"], "trusted_proxies": {"source": "static", "ranges": ["127.0.0.1/32"]}%s,
			"routes": [{"handle": [%s{"handler": "static_response", "body": "ok"}]}]}`, port, trust, handler)
	}
	geofilter := `{"handler": "geofilter", "block_ips": ["203.0.113.7"]}, `
	tc.InitServer(fmt.Sprintf(`{
	"admin": {"listen": "localhost:%d"},
	"logging": {"logs": {"warnings": {"writer": {"output": "file", "filename": %q}, "level": "WARN", "include": ["http.handlers.geofilter"]}}},
	"apps": {
		"http": {"http_port": %d, "https_port": %d, "servers": {"srv0": %s, "srv1": %s, "srv2": %s}},
		"pki": {"certificate_authorities": {"local": {"install_trust": false}}}
	}
}`, adminPort, logFile, httpPort, httpsPort,
		server(httpPort, "", geofilter), server(testutil.FreePort(t), "", ""), server(testutil.FreePort(t), `, "trusted_proxies_strict": 1`, geofilter)), "json")
	checkLaxWarnings(t, "three servers", logFile, []string{"srv0"})
}

// checkLaxWarnings checks that a log file holds one trusted_proxies_strict
// warning for each of servers and no other.
func checkLaxWarnings(t *testing.T, name, logFile string, servers []string) {
	t.Helper()
	data, err := os.ReadFile(logFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var named []string
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.Contains(line, "trusted_proxies_strict") {
			continue
		}
		var entry struct{ Server string }
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Fatalf("%s: %v: %s", name, err, line)
		}
		named = append(named, entry.Server)
	}
	if !slices.Equal(named, servers) {
		t.Errorf("%s: warnings name servers %q, want %q:\n%s", name, named, servers, data)
	}
}
