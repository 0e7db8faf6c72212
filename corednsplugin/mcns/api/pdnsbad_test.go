package api

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestPDNSBadRequestsLeaveDatabaseUnchanged sends malformed requests to the
// PowerDNS API; each must be answered 4xx with a JSON {"error": ...} and
// leave the database, compared as a full dump, exactly as it was.
func TestPDNSBadRequestsLeaveDatabaseUnchanged(t *testing.T) {
	h, path := pdnsZoneHarness(t)
	z := pz + "/example.org."
	set := func(name, typ, ct, ttl, recs string) string {
		return fmt.Sprintf(`{"rrsets":[{"name":%q,"type":%q,"changetype":%q%s,"records":[%s]}]}`, name, typ, ct, ttl, recs)
	}
	rec := func(content string) string { return fmt.Sprintf(`{"content":%q,"disabled":false}`, content) }
	a := func(name, content string) string { return set(name, "A", "REPLACE", `,"ttl":60`, rec(content)) }
	txt := func(content string) string { return set("t.example.org.", "TXT", "REPLACE", `,"ttl":60`, rec(content)) }
	huge := txt(`"` + strings.Repeat("x", 70_000) + `"`)
	good := a("ok.example.org.", "192.0.2.9")

	cases := []struct {
		name, method, path, key, body string
		status                        int
	}{
		// JSON that does not parse or has the wrong shape.
		{"truncated JSON", "PATCH", z, adminToken, `{"rrsets":[`, 400},
		{"not JSON", "PATCH", z, adminToken, `rrsets=1`, 400},
		{"empty body", "PATCH", z, adminToken, ``, 400},
		{"two objects", "PATCH", z, adminToken, good + good, 400},
		{"rrsets missing", "PATCH", z, adminToken, `{}`, 422},
		{"rrsets as object", "PATCH", z, adminToken, `{"rrsets":{}}`, 422},
		{"rrsets as string", "PATCH", z, adminToken, `{"rrsets":"x"}`, 422},
		{"body is array", "PATCH", z, adminToken, `[` + good + `]`, 400},
		{"ttl as string", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":"60"`, rec("192.0.2.1")), 422},
		{"ttl negative", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":-1`, rec("192.0.2.1")), 422},
		{"ttl float", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":1.5`, rec("192.0.2.1")), 422},
		{"ttl above 2^31-1", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":2147483648`, rec("192.0.2.1")), 422},
		{"ttl missing on REPLACE", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", ``, rec("192.0.2.1")), 422},
		{"name as number", "PATCH", z, adminToken, `{"rrsets":[{"name":5,"type":"A","changetype":"REPLACE","ttl":60,"records":[]}]}`, 422},
		{"records as object", "PATCH", z, adminToken, `{"rrsets":[{"name":"a.example.org.","type":"A","changetype":"REPLACE","ttl":60,"records":{}}]}`, 422},
		{"content as number", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":60`, `{"content":1}`), 422},
		{"disabled as string", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":60`, `{"content":"192.0.2.1","disabled":"no"}`), 422},
		{"oversized body", "PATCH", z, adminToken, huge, 413},

		// Names.
		{"name without trailing dot", "PATCH", z, adminToken, a("a.example.org", "192.0.2.1"), 422},
		{"name outside zone", "PATCH", z, adminToken, a("a.example.net.", "192.0.2.1"), 422},
		{"name is parent of zone", "PATCH", z, adminToken, a("org.", "192.0.2.1"), 422},
		{"name with space", "PATCH", z, adminToken, a("a b.example.org.", "192.0.2.1"), 422},
		{"name empty", "PATCH", z, adminToken, a("", "192.0.2.1"), 422},
		{"name label too long", "PATCH", z, adminToken, a(strings.Repeat("a", 64)+".example.org.", "192.0.2.1"), 422},
		{"name with quote", "PATCH", z, adminToken, a(`a".example.org.`, "192.0.2.1"), 422},

		// Types, changetypes.
		{"unknown changetype", "PATCH", z, adminToken, set("a.example.org.", "A", "UPSERT", `,"ttl":60`, rec("192.0.2.1")), 422},
		{"changetype as number", "PATCH", z, adminToken, `{"rrsets":[{"name":"a.example.org.","type":"A","changetype":1,"ttl":60,"records":[]}]}`, 422},
		{"changetype missing", "PATCH", z, adminToken, `{"rrsets":[{"name":"a.example.org.","type":"A","ttl":60,"records":[]}]}`, 422},
		{"unknown type", "PATCH", z, adminToken, set("a.example.org.", "BOGUS", "REPLACE", `,"ttl":60`, rec("1")), 422},
		{"type with space", "PATCH", z, adminToken, set("a.example.org.", "A ", "REPLACE", `,"ttl":60`, rec("192.0.2.1")), 422},
		{"mixed-case name outside zone", "PATCH", z, adminToken, a("A.Example.NET.", "192.0.2.1"), 422},
		{"rrsets empty", "PATCH", z, adminToken, `{"rrsets":[]}`, 422},
		{"type empty", "PATCH", z, adminToken, set("a.example.org.", "", "REPLACE", `,"ttl":60`, rec("192.0.2.1")), 422},
		{"SOA replace", "PATCH", z, adminToken, set("example.org.", "SOA", "REPLACE", `,"ttl":60`, rec("ns1.example.org. h.example.org. 1 2 3 4 5")), 422},
		{"SOA delete", "PATCH", z, adminToken, set("example.org.", "SOA", "DELETE", ``, ``), 422},

		// Content.
		{"A with IPv6", "PATCH", z, adminToken, a("a.example.org.", "2001:db8::1"), 422},
		{"A out of range", "PATCH", z, adminToken, a("a.example.org.", "999.0.2.1"), 422},
		{"A empty", "PATCH", z, adminToken, a("a.example.org.", ""), 422},
		{"A two addresses", "PATCH", z, adminToken, a("a.example.org.", "192.0.2.1 192.0.2.2"), 422},
		{"MX without priority", "PATCH", z, adminToken, set("a.example.org.", "MX", "REPLACE", `,"ttl":60`, rec("mx.example.org.")), 422},
		{"MX relative target", "PATCH", z, adminToken, set("a.example.org.", "MX", "REPLACE", `,"ttl":60`, rec("10 mx")), 422},
		{"CNAME relative target", "PATCH", z, adminToken, set("c.example.org.", "CNAME", "REPLACE", `,"ttl":60`, rec("www")), 422},
		{"content with newline", "PATCH", z, adminToken, txt("\"a\"\n\"b\""), 422},
		{"disabled record", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":60`, `{"content":"192.0.2.1","disabled":true}`), 422},
		{"duplicate records", "PATCH", z, adminToken, set("a.example.org.", "A", "REPLACE", `,"ttl":60`, rec("192.0.2.1")+","+rec("192.0.2.1")), 422},
		{"duplicate RRset", "PATCH", z, adminToken, `{"rrsets":[` + good[11:len(good)-2] + `,` + good[11:len(good)-2] + `]}`, 422},
		{"CNAME beside A", "PATCH", z, adminToken, set("www.example.org.", "CNAME", "REPLACE", `,"ttl":60`, rec("ok.example.org.")), 422},
		{"good then bad RRset", "PATCH", z, adminToken, `{"rrsets":[` + good[11:len(good)-2] + `,` + a("x.example.net.", "192.0.2.1")[11:len(a("x.example.net.", "192.0.2.1"))-2] + `]}`, 422},
		{"comment account too long", "PATCH", z, adminToken, `{"rrsets":[{"name":"a.example.org.","type":"A","changetype":"REPLACE","ttl":60,"records":[],"comments":[{"content":"c","account":"` + strings.Repeat("a", 41) + `"}]}]}`, 422},

		// Zones, servers, auth.
		{"unknown zone", "PATCH", pz + "/example.net.", adminToken, good, 404},
		{"zone id without dot", "PATCH", pz + "/example.org", adminToken, good, 404},
		{"unknown server", "PATCH", "/api/v1/servers/other/zones/example.org.", adminToken, good, 404},
		{"read-only key", "PATCH", z, readerToken, good, 403},
		{"wrong key", "PATCH", z, "not-a-token", good, 401},
		{"no key", "PATCH", z, "", good, 401},
		{"PUT zone", "PUT", z, adminToken, good, 405},
		{"create existing zone", "POST", pz, adminToken, `{"name":"example.org.","kind":"Native","nameservers":["ns1.example.org."]}`, 409},
		{"create without dot", "POST", pz, adminToken, `{"name":"example.com","kind":"Native","nameservers":["ns1.example.org."]}`, 422},
		{"create without nameservers", "POST", pz, adminToken, `{"name":"example.com.","kind":"Native"}`, 422},
		{"create relative nameserver", "POST", pz, adminToken, `{"name":"example.com.","kind":"Native","nameservers":["ns1"]}`, 422},
		{"create Slave kind", "POST", pz, adminToken, `{"name":"example.com.","kind":"Slave","masters":["192.0.2.1"],"nameservers":["ns1.example.org."]}`, 422},
		{"create with bad rrset", "POST", pz, adminToken, `{"name":"example.com.","kind":"Native","nameservers":["ns1.example.org."],"rrsets":[{"name":"a.example.org.","type":"A","changetype":"REPLACE","ttl":60,"records":[]}]}`, 422},
		{"create nameservers as string", "POST", pz, adminToken, `{"name":"example.com.","kind":"Native","nameservers":"ns1.example.org."}`, 422},
		{"create by read-only key", "POST", pz, readerToken, `{"name":"example.com.","kind":"Native","nameservers":["ns1.example.org."]}`, 403},
		{"delete unknown zone", "DELETE", pz + "/example.net.", adminToken, "", 404},
		{"notify unknown zone", "PUT", pz + "/example.net./notify", adminToken, "", 404},
		{"export unknown zone", "GET", pz + "/example.net./export", readerToken, "", 404},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	before := dump(t, path)
	for _, c := range cases {
		r := h.pdnsDo(c.method, c.path, c.key, c.body)
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		var e map[string]any
		if err := json.Unmarshal(r.body, &e); err != nil || e["error"] == nil || e["error"] == "" {
			t.Errorf("%s: answer is not a JSON error: %s", c.name, r.body)
		}
		if after := dump(t, path); after != before {
			t.Fatalf("%s changed the database", c.name)
		}
	}
	// The good RRset the bad bodies carried is accepted on its own.
	h.pdnsMust(204, "PATCH", z, adminToken, good)
}
