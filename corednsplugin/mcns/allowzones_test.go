package mcns

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

func TestParseAllowZones(t *testing.T) {
	for _, tc := range []struct{ input, want, wantErr string }{
		{input: "mcns z.db {\n allow_zones \"MCP.metacircular.net  example.org.\"\n}", want: "mcp.metacircular.net. example.org."},
		{input: "mcns z.db {\n allow_zones example.org example.net\n}", want: "example.org. example.net."},
		{input: "mcns z.db", want: ""},
		{input: "mcns z.db {\n allow_zones \"\"\n}", wantErr: "Testfile:2 - Error during parsing: allow_zones needs at least one zone"},
		{input: "mcns z.db {\n allow_zones a..b\n}", wantErr: `Testfile:2 - Error during parsing: allow_zones: bad zone name "a..b"`},
		{input: "mcns z.db {\n allow_zones a.org\n allow_zones b.org\n}", wantErr: "Testfile:3 - Error during parsing: allow_zones given twice"},
	} {
		cfg, err := parse(caddy.NewTestController("dns", tc.input))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(cfg.allowZones, " ") != tc.want {
			t.Errorf("%q: %v %v, want %s", tc.input, cfg.allowZones, err, tc.want)
		}
	}
}

// TestAPIZoneCreationNeedsAllowZones: without allow_zones the API creates
// no zone at all; with it, only zones at or below its suffixes. Refusals are
// 403 with a reason naming the setting and leave the zone list as it was.
func TestAPIZoneCreationNeedsAllowZones(t *testing.T) {
	for _, tc := range []struct {
		allow   string
		create  string
		status  int
		message string
	}{
		{allow: "", create: "example.net", status: 403, message: "zone creation through the API is off: set allow_zones"},
		{allow: "allow_zones example.org", create: "com", status: 403, message: "zone com. is outside allow_zones (example.org.)"},
		{allow: "allow_zones example.org", create: "google.com", status: 403, message: "outside allow_zones"},
		{allow: "allow_zones example.org", create: "badexample.org", status: 403, message: "outside allow_zones"},
		{allow: "allow_zones example.org", create: "sub.example.org", status: 201},
		{allow: "allow_zones .", create: "example.net", status: 201},
	} {
		t.Run(fmt.Sprintf("%s/%s", tc.allow, tc.create), func(t *testing.T) {
			apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			inst, dnsAddr := startServer(t, fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	mcns %s {
		seed %s
		%s
		api %s {
			insecure_plaintext
			tokens %s
		}
	}
}`, filepath.Join(t.TempDir(), "mcns.db"), writeZones(t, exampleOrg)[0], tc.allow, apiAddr, writeTokenFile(t)))
			defer inst.Stop()
			c := newAPIClient(apiAddr)
			var before, after struct{ Zones []store.Zone }
			if _, err := c.do("GET", "/v1/zones", nil, &before); err != nil {
				t.Fatal(err)
			}
			// A refusal comes back as an error carrying the answer's body.
			status, err := c.do("POST", "/v1/zones", map[string]any{"name": tc.create, "primary_ns": "ns1.example.org."}, nil)
			if status == 0 {
				t.Fatal(err)
			}
			if status != tc.status || tc.message != "" && !strings.Contains(fmt.Sprint(err), tc.message) {
				t.Fatalf("create %s: %d %v, want %d %q", tc.create, status, err, tc.status, tc.message)
			}
			if _, err := c.do("GET", "/v1/zones", nil, &after); err != nil {
				t.Fatal(err)
			}
			created := len(after.Zones) - len(before.Zones)
			if want := map[bool]int{true: 1, false: 0}[tc.status == http.StatusCreated]; created != want {
				t.Fatalf("%d zones created, want %d", created, want)
			}
			if tc.status == http.StatusCreated {
				if resp := exchange(t, dnsAddr, dns.Fqdn(tc.create), dns.TypeSOA); !resp.Authoritative || len(resp.Answer) != 1 {
					t.Fatalf("created zone not served: %v", resp)
				}
			}
		})
	}
}

// TestAllowZonesLimitsUpdateAndSeeding: a signed UPDATE to a zone outside
// allow_zones is REFUSED with nothing changed, and a seed file for such a
// zone stops startup naming the setting.
func TestAllowZonesLimitsUpdateAndSeeding(t *testing.T) {
	db := filepath.Join(t.TempDir(), "mcns.db")
	seeds := writeZones(t, exampleOrg, reverseZone)
	st, err := store.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if _, err := st.Seed(ctx, seeds); err != nil {
		t.Fatal(err)
	}
	st.SetAllowedZones([]string{"example.org"})
	before, _ := st.Records(ctx, "2.0.192.in-addr.arpa.", store.Filter{})
	add := []dns.RR{rr(t, "1.2.0.192.in-addr.arpa. 300 IN PTR host.example.org.")}
	if rc, _ := applyUpdate(ctx, st, "2.0.192.in-addr.arpa.", nil, add); rc != dns.RcodeRefused {
		t.Errorf("UPDATE outside allow_zones: %s, want REFUSED", dns.RcodeToString[rc])
	}
	if after, _ := st.Records(ctx, "2.0.192.in-addr.arpa.", store.Filter{}); len(after) != len(before) {
		t.Errorf("records %d -> %d after a refused UPDATE", len(before), len(after))
	}
	if rc, _ := applyUpdate(ctx, st, "example.org.", nil, []dns.RR{rr(t, "new.example.org. 300 IN A 192.0.2.99")}); rc != dns.RcodeSuccess {
		t.Errorf("UPDATE inside allow_zones: %s", dns.RcodeToString[rc])
	}

	m := New(config{dbPath: filepath.Join(t.TempDir(), "other.db"), seeds: seeds, refresh: time.Second, allowZones: []string{"example.org."}}, []string{"."})
	err = m.Start()
	defer m.Stop()
	if err == nil || !strings.Contains(err.Error(), "2.0.192.in-addr.arpa. is outside allow_zones") {
		t.Fatalf("seeding outside allow_zones: %v", err)
	}
}
