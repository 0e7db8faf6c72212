package mcns

import (
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin/pkg/dnstest"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/internal/netlist"
)

func TestParseRecursionAllow(t *testing.T) {
	for _, tc := range []struct {
		input   string
		want    string // the parsed networks, space-separated
		wantErr string
	}{
		// One placeholder carrying the whole list arrives as one token.
		{input: "mcns z.db {\n recursion_allow \"127.0.0.0/8 ::1/128 100.64.0.0/10  192.168.88.0/24\"\n}",
			want: "127.0.0.0/8 ::1/128 100.64.0.0/10 192.168.88.0/24"},
		{input: "mcns z.db {\n recursion_allow 192.0.2.7 2001:db8::1 10.1.2.3/8\n}", want: "192.0.2.7/32 2001:db8::1/128 10.0.0.0/8"},
		{input: "mcns z.db", want: ""},
		{input: "mcns z.db {\n recursion_allow \"\"\n}", wantErr: "Testfile:2 - Error during parsing: recursion_allow: no networks given (is its placeholder empty?)"},
		{input: "mcns z.db {\n recursion_allow 10.0.0.0/33\n}", wantErr: "Testfile:2"},
		{input: "mcns z.db {\n recursion_allow everyone\n}", wantErr: `recursion_allow: "everyone" is not a network`},
		{input: "mcns z.db {\n recursion_allow 10.0.0.0/8\n recursion_allow ::1\n}", wantErr: "Testfile:3 - Error during parsing: recursion_allow given twice"},
	} {
		cfg, err := parse(caddy.NewTestController("dns", tc.input))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		var got []string
		for _, p := range cfg.recursion {
			got = append(got, p.String())
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%q: networks %v, want %s", tc.input, got, tc.want)
		}
	}
}

// TestRecursionOnlyForAllowedClients is the open-resolver check: a client
// outside recursion_allow gets REFUSED for names outside our zones and
// still gets authoritative answers for ours; a client inside it is passed
// on (to cache and forward in the shipped Corefile).
func TestRecursionOnlyForAllowedClients(t *testing.T) {
	cfg := config{
		dbPath:    filepath.Join(t.TempDir(), "mcns.db"),
		seeds:     writeZones(t, exampleOrg),
		refresh:   time.Second,
		recursion: netlist.List{netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("2001:db8:100::/48")},
	}
	m := startWith(t, cfg, []string{"."})
	askFrom := func(ip, name string) *dns.Msg {
		t.Helper()
		r := new(dns.Msg)
		r.SetQuestion(name, dns.TypeA)
		rec := dnstest.NewRecorder(&test.ResponseWriter{RemoteIP: ip})
		if _, err := m.ServeDNS(context.Background(), rec, r); err != nil {
			t.Fatal(err)
		}
		if rec.Msg == nil {
			t.Fatalf("%s from %s: nothing written", name, ip)
		}
		return rec.Msg
	}
	before := counterValue(recursionRefused)
	for _, public := range []string{"203.0.113.9", "2001:db8:ffff::1", "100.128.0.1", "::ffff:198.51.100.1"} {
		if got := askFrom(public, "www.example.com."); got.Rcode != dns.RcodeRefused || len(got.Answer) != 0 {
			t.Errorf("public %s, www.example.com: %s %v, want REFUSED", public, dns.RcodeToString[got.Rcode], got.Answer)
		}
		got := askFrom(public, "www.example.org.")
		if got.Rcode != dns.RcodeSuccess || !got.Authoritative || len(got.Answer) != 1 {
			t.Errorf("public %s, www.example.org: %s AA=%v %v, want an authoritative answer", public, dns.RcodeToString[got.Rcode], got.Authoritative, got.Answer)
		}
	}
	if n := counterValue(recursionRefused) - before; n != 4 {
		t.Errorf("recursion_refused_total rose by %v, want 4", n)
	}
	for _, vpn := range []string{"100.64.0.1", "100.127.255.254", "2001:db8:100::53", "::ffff:100.64.7.7"} {
		if got := askFrom(vpn, "www.example.com."); got.Rcode != nextMarker {
			t.Errorf("VPN client %s: %s, want the query passed on", vpn, dns.RcodeToString[got.Rcode])
		}
	}
}

// TestRecursionDefaultIsLoopback: without recursion_allow only the host
// itself may recurse.
func TestRecursionDefaultIsLoopback(t *testing.T) {
	m := New(config{}, []string{"."})
	for ip, want := range map[string]bool{"127.0.0.1": true, "127.9.9.9": true, "::1": true, "10.0.0.1": false, "192.0.2.1": false, "2001:db8::1": false} {
		addr := (&test.ResponseWriter{RemoteIP: ip}).RemoteAddr()
		if got := m.config.mayRecurse(addr); got != want {
			t.Errorf("%s: allowed %v, want %v", ip, got, want)
		}
	}
}
