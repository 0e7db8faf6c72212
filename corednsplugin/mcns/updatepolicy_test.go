package mcns

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

// parsePolicy reads one "update ZONE KEY... { grant ... }" line.
func parsePolicy(t *testing.T, text string) (updatePolicy, error) {
	t.Helper()
	c := caddy.NewTestController("dns", text)
	c.Next()
	args := c.RemainingArgs()
	var p updatePolicy
	err := p.parseGrants(c, plugin.Name(args[0]).Normalize(), normalizeKeys(args[1:]))
	return p, err
}

func TestUpdatePolicyParse(t *testing.T) {
	p, err := parsePolicy(t, "update example.org update-key {\n grant _acme-challenge TXT\n grant *.dyn A,AAAA\n}")
	if err != nil {
		t.Fatal(err)
	}
	if got := len(p.grants[policyKey("example.org.", updateKey)]); got != 2 {
		t.Fatalf("%d grants, want 2: %+v", got, p)
	}
	if p, err := parsePolicy(t, "update example.org update-key"); err != nil || !p.full[policyKey("example.org.", updateKey)] {
		t.Errorf("a line without a block: %+v %v", p, err)
	}
	for in, want := range map[string]string{
		"update example.org k {\n grant _acme-challenge\n}":     "Testfile:2 - Error during parsing: update example.org.: want \"grant PATTERN TYPES\"",
		"update example.org k {\n grant x TXT\n allow y TXT\n}": "Testfile:3",
		"update example.org k {\n grant www.other.net. TXT\n}":  "not in zone",
		"update example.org k {\n\n\n grant www BOGUS\n}":       "Testfile:4",
		"update example.org k {\n grant a.*.b TXT\n}":           "not a name",
	} {
		if _, err := parsePolicy(t, in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

// grantedChain is updateChain with updateKey limited to TXT records at
// _acme-challenge.example.org and A records below dyn.example.org.
func grantedChain(t *testing.T) (plugin.Handler, *MCNS) {
	t.Helper()
	c := caddy.NewTestController("dns", "tsig . {\n secret "+updateKey+" c2VjcmV0c2VjcmV0c2VjcmV0\n}")
	setupTsig, err := caddy.DirectiveAction("dns", "tsig")
	if err != nil {
		t.Fatal(err)
	}
	if err := setupTsig(c); err != nil {
		t.Fatal(err)
	}
	policy, err := parsePolicy(t, "update example.org update-key {\n grant _acme-challenge TXT\n grant *.dyn A\n}")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{
		dbPath:       filepath.Join(t.TempDir(), "mcns.db"),
		seeds:        writeZones(t, exampleOrg),
		refresh:      time.Second,
		updates:      map[string]map[string]bool{"example.org.": {updateKey: true}},
		updatePolicy: policy,
	}
	m := startWith(t, cfg, []string{"."})
	return dnsserver.GetConfig(c).Plugin[0](m), m
}

func TestUpdatePolicyEnforced(t *testing.T) {
	h, m := grantedChain(t)
	update := func(rrs ...dns.RR) int {
		u := new(dns.Msg)
		u.SetUpdate("example.org.")
		u.Insert(rrs)
		return sendUpdate(t, h, u, updateKey).Rcode
	}
	serial := zoneSerial(t, m, "example.org.")
	for _, refused := range [][]dns.RR{
		{rr(t, "www.example.org. 300 IN A 192.0.2.99")},
		{rr(t, "_acme-challenge.example.org. 300 IN A 192.0.2.99")},
		{rr(t, "dyn.example.org. 300 IN A 192.0.2.99")},
		{rr(t, "example.org. 300 IN SOA ns1.example.org. h.example.org. 1 1 1 1 1")},
		// One record in the grants does not carry another outside them.
		{rr(t, `_acme-challenge.example.org. 300 IN TXT "ok"`), rr(t, "www.example.org. 300 IN A 192.0.2.99")},
	} {
		if rcode := update(refused...); rcode != dns.RcodeRefused {
			t.Errorf("%v: %s, want REFUSED", refused, dns.RcodeToString[rcode])
		}
	}
	if got := zoneSerial(t, m, "example.org."); got != serial {
		t.Fatalf("refused UPDATEs moved the serial %d -> %d", serial, got)
	}
	if rcode := update(rr(t, `_acme-challenge.example.org. 300 IN TXT "tok"`), rr(t, "h1.dyn.example.org. 300 IN A 192.0.2.50")); rcode != dns.RcodeSuccess {
		t.Fatalf("granted UPDATE: %s", dns.RcodeToString[rcode])
	}
	if got := zoneSerial(t, m, "example.org."); got == serial {
		t.Error("the granted UPDATE did not change the zone")
	}
}

// TestUpdatePolicyCorefile parses grants inside a whole mcns block, so the
// nested block ends where it should and later lines still apply.
func TestUpdatePolicyCorefile(t *testing.T) {
	in := "mcns z.db {\n update example.org k1 k2 {\n  grant _acme-challenge TXT\n }\n update example.org k3\n journal 50 24h\n}"
	c := caddy.NewTestController("dns", in)
	dnsserver.GetConfig(c).TsigSecret = map[string]string{"k1.": "a2V5", "k2.": "a2V5", "k3.": "a2V5"}
	cfg, err := parse(c)
	if err != nil {
		t.Fatal(err)
	}
	txt := []dns.RR{rr(t, `_acme-challenge.example.org. 300 IN TXT "x"`)}
	a := []dns.RR{rr(t, "www.example.org. 300 IN A 192.0.2.1")}
	p := cfg.updatePolicy
	if !p.permits("example.org.", "k1.", txt) || p.permits("example.org.", "k1.", a) || p.permits("example.org.", "k2.", a) {
		t.Error("k1/k2 grants not enforced")
	}
	if !p.permits("example.org.", "k3.", a) || !cfg.updateAllowed("example.org.", "k3.") {
		t.Error("k3, without a block, lost its full access")
	}
	if e, _ := cfg.journalLimits(); e != 50 {
		t.Errorf("the line after the grants block was lost: journal %d", e)
	}
	bad := "mcns z.db {\n update example.org k1 {\n  grant www NOPE\n }\n}"
	c = caddy.NewTestController("dns", bad)
	dnsserver.GetConfig(c).TsigSecret = map[string]string{"k1.": "a2V5"}
	if _, err := parse(c); err == nil || !strings.Contains(err.Error(), "Testfile:3") {
		t.Errorf("%q: %v, want Testfile:3", bad, err)
	}
}
