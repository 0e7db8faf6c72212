// Package caddytestutil sets up the in-process Caddy that the Caddy
// modules' tests drive through caddytest.
package caddytestutil

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/caddyconfig"
	_ "github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile" // the caddyfile adapter
	"github.com/caddyserver/caddy/v2/caddytest"

	"github.com/metacircular/edge/internal/caddyadmin"
	"github.com/metacircular/edge/internal/testutil"
)

// Ports are the admin, HTTP and HTTPS ports of one test binary's
// in-process Caddy.
type Ports struct {
	Admin, HTTP, HTTPS int
}

// NewPorts picks free ports. Caddy listens with SO_REUSEPORT, so two
// processes given the same fixed port silently share its connections and
// answer each other's requests; free ports keep each test binary apart
// from other packages' caddytest suites and from concurrent runs.
func NewPorts() Ports {
	return Ports{Admin: testutil.MustFreePort(), HTTP: testutil.MustFreePort(), HTTPS: testutil.MustFreePort()}
}

// NewTester returns a caddytest.Tester talking to the admin port.
func (p Ports) NewTester(t *testing.T) *caddytest.Tester {
	return caddytest.NewTester(t).WithDefaultOverrides(caddytest.Config{AdminPort: p.Admin})
}

// GlobalOptions returns a Caddyfile global options block for the ports;
// extra (whole lines) is added inside it.
func (p Ports) GlobalOptions(extra string) string {
	return fmt.Sprintf(`{
	admin localhost:%d
	http_port %d
	https_port %d
	skip_install_trust
%s}
`, p.Admin, p.HTTP, p.HTTPS, extra)
}

// LoadConfig posts a config of the given content type to the admin API
// and returns the response status and body; it is used for configs that
// must be refused.
func (p Ports) LoadConfig(t testing.TB, config, contentType string) (int, string) {
	t.Helper()
	var err error
	for range loadAttempts {
		var status int
		var body string
		status, body, err = caddyadmin.Load(fmt.Sprintf("localhost:%d", p.Admin), config, contentType)
		if err == nil {
			return status, body
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal(err)
	return 0, ""
}

// loadAttempts is how often a load is posted before giving up. Every load
// replaces Caddy's admin server, and both listen with SO_REUSEPORT for a
// moment: a new connection can reach the old one as it shuts down and end
// in EOF. Posting the same config again is harmless: a refused config
// changes nothing and Caddy skips an unchanged one.
const loadAttempts = 3

// Adapt runs the Caddyfile adapter on input, named "Caddyfile" in errors,
// and returns the JSON config, or the adapter's error. Output that is not
// JSON fails the test.
func Adapt(t testing.TB, input string) (string, error) {
	t.Helper()
	out, _, err := caddyconfig.GetAdapter("caddyfile").Adapt([]byte(input), map[string]any{"filename": "Caddyfile"})
	if err != nil {
		return "", err
	}
	if !json.Valid(out) {
		t.Fatalf("adapted config is not JSON:\n%s", out)
	}
	return string(out), nil
}
