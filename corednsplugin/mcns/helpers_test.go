package mcns

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/internal/netlist"
	"github.com/metacircular/edge/internal/testutil"
)

// repoRoot is the module root, for the shipped example zones.
func repoRoot(t testing.TB) string { return testutil.RepoRoot(t) }

// nextMarker is the rcode the test's next plugin answers with, so passing a
// query on is visible.
const nextMarker = dns.RcodeNotZone

func nextHandler() plugin.Handler {
	return test.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, r *dns.Msg) (int, error) {
		m := new(dns.Msg)
		m.SetRcode(r, nextMarker)
		w.WriteMsg(m)
		return nextMarker, nil
	})
}

// writeZones writes zone files into a temp dir and returns their paths.
func writeZones(t testing.TB, zones ...string) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for i, z := range zones {
		p := filepath.Join(dir, "zone"+string(rune('a'+i)))
		if err := os.WriteFile(p, []byte(z), 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	return paths
}

// startMCNS starts an instance over a new database in a temp dir, seeded
// with files, serving blockZones.
func startMCNS(t testing.TB, blockZones []string, seeds ...string) *MCNS {
	t.Helper()
	cfg := config{dbPath: filepath.Join(t.TempDir(), "mcns.db"), seeds: seeds, refresh: 20 * time.Millisecond}
	return startWith(t, cfg, blockZones)
}

// anyClient lets every client recurse, so tests of passing names on are
// not refused for test.ResponseWriter's non-loopback address.
var anyClient = netlist.List{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

func startWith(t testing.TB, cfg config, blockZones []string) *MCNS {
	t.Helper()
	if cfg.recursion == nil {
		cfg.recursion = anyClient
	}
	m := New(cfg, blockZones)
	m.Next = nextHandler()
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Stop() })
	return m
}

// ask sends one query through h and returns the written reply, or a reply
// carrying the returned rcode when h wrote nothing (as CoreDNS's server does).
func ask(t testing.TB, h plugin.Handler, r *dns.Msg) *dns.Msg {
	t.Helper()
	rec := dnstest.NewRecorder(&test.ResponseWriter{})
	rcode, err := h.ServeDNS(context.Background(), rec, r)
	if rec.Msg != nil {
		return rec.Msg
	}
	if err != nil && rcode == 0 {
		rcode = dns.RcodeServerFailure
	}
	m := new(dns.Msg)
	m.SetRcode(r, rcode)
	return m
}
