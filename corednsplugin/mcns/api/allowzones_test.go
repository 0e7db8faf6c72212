package api

import (
	"context"
	"strings"
	"testing"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// TestCreateZoneNeedsAllowZones: without allow_zones neither /v1 nor the
// PowerDNS API creates a zone (the store alone would accept "com."); the
// refusal is a 403 naming the setting and leaves the database as it was.
func TestCreateZoneNeedsAllowZones(t *testing.T) {
	st, path := openStore(t)
	h := newHarness(t, st, &Config{AllowZones: []string{}})
	before := dump(t, path)
	for _, name := range []string{"com", "example.com"} {
		if r := h.do("POST", "/v1/zones", adminToken, `{"name":"`+name+`","primary_ns":"ns.example.com."}`); r.status != 403 || !strings.Contains(string(r.body), "allow_zones") {
			t.Errorf("/v1 create %s without allow_zones: %d %s, want 403 naming allow_zones", name, r.status, r.body)
		}
		if r := h.pdnsDo("POST", pz, adminToken, `{"name":"`+name+`.","kind":"Native","nameservers":["ns.example.com."]}`); r.status != 403 || !strings.Contains(string(r.body), "allow_zones") {
			t.Errorf("PowerDNS create %s. without allow_zones: %d %s, want 403 naming allow_zones", name, r.status, r.body)
		}
	}
	if after := dump(t, path); after != before {
		t.Errorf("refused creations changed the database")
	}
}

// TestAllowZonesBothAPIs: with allow_zones set, zones outside it are
// neither created nor changed nor deleted through either API.
func TestAllowZonesBothAPIs(t *testing.T) {
	st, path := openStore(t)
	// other.org. predates allow_zones: it is served but may not change.
	if _, err := st.CreateZone(context.Background(), store.Zone{Name: "other.org.", PrimaryNS: "ns.other.org."}); err != nil {
		t.Fatal(err)
	}
	st.SetAllowedZones([]string{"example.com."})
	h := newHarness(t, st, &Config{AllowZones: []string{"example.com."}})
	h.mustDo(201, "POST", "/v1/zones", adminToken, `{"name":"example.com","primary_ns":"ns.example.com."}`)
	h.pdnsMust(201, "POST", pz, adminToken, `{"name":"sub.example.com.","kind":"Native","nameservers":["ns.example.com."]}`)

	before := dump(t, path)
	refused := []struct {
		pdns               bool
		method, path, body string
	}{
		{false, "POST", "/v1/zones", `{"name":"example.net","primary_ns":"ns.example.com."}`},
		{false, "POST", "/v1/zones", `{"name":"com","primary_ns":"ns.example.com."}`},
		{false, "POST", "/v1/zones/other.org/records", `{"name":"www","type":"A","value":"192.0.2.1"}`},
		{false, "DELETE", "/v1/zones/other.org", ""},
		{true, "POST", pz, `{"name":"example.net.","kind":"Native","nameservers":["ns.example.com."]}`},
		{true, "POST", pz, `{"name":"com.","kind":"Native","nameservers":["ns.example.com."]}`},
		{true, "PATCH", pz + "/other.org.", `{"rrsets":[{"name":"www.other.org.","type":"A","ttl":60,"changetype":"REPLACE","records":[{"content":"192.0.2.1","disabled":false}]}]}`},
		{true, "DELETE", pz + "/other.org.", ""},
	}
	for _, c := range refused {
		var r reply
		if c.pdns {
			r = h.pdnsDo(c.method, c.path, adminToken, c.body)
		} else {
			r = h.do(c.method, c.path, adminToken, c.body)
		}
		if r.status != 403 || !strings.Contains(string(r.body), "allow_zones") {
			t.Errorf("%s %s %s: %d %s, want 403 naming allow_zones", c.method, c.path, c.body, r.status, r.body)
		}
	}
	if after := dump(t, path); after != before {
		t.Errorf("refused requests changed the database")
	}
}
