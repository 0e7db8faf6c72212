package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestBadRequestsLeaveDatabaseUnchanged sends requests that must all be
// refused and checks each answer's status and that the database, compared
// as a full dump, is exactly as before.
func TestBadRequestsLeaveDatabaseUnchanged(t *testing.T) {
	h, _, path := storeHarness(t, &Config{SnapshotDir: t.TempDir(), SnapshotKeep: 1})
	www := h.mustDo(200, "GET", "/v1/zones/example.com/records?name=www", readerToken, "").json(t)["records"].([]any)[0].(map[string]any)
	wwwID := fmt.Sprint(www["id"])
	alias := h.mustDo(200, "GET", "/v1/zones/example.com/records?name=alias", readerToken, "").json(t)["records"].([]any)[0].(map[string]any)
	aliasID := fmt.Sprint(alias["id"])
	soa := h.mustDo(200, "GET", "/v1/zones/example.com/records?type=SOA", readerToken, "").json(t)["records"].([]any)[0].(map[string]any)
	soaID := fmt.Sprint(soa["id"])

	const (
		recs = "/v1/zones/example.com/records"
		A    = "admin"
		R    = "reader"
	)
	rec := func(name, typ, value string) string {
		return fmt.Sprintf(`{"name":%q,"type":%q,"value":%q,"ttl":300}`, name, typ, value)
	}
	huge := `{"name":"big","type":"TXT","value":"` + strings.Repeat("x", 70_000) + `"}`
	cases := []struct {
		name, who, method, path, body string
		status                        int
	}{
		// Malformed JSON and wrong types.
		{"truncated JSON", A, "POST", recs, `{"name":"x","type":"A"`, 400},
		{"not JSON", A, "POST", recs, `name=x&type=A`, 400},
		{"JSON array", A, "POST", recs, `[{"name":"x","type":"A","value":"192.0.2.1"}]`, 400},
		{"JSON string", A, "POST", recs, `"x"`, 400},
		{"empty body", A, "POST", recs, ``, 400},
		{"two objects", A, "POST", recs, rec("x", "A", "192.0.2.1") + rec("y", "A", "192.0.2.2"), 400},
		{"unknown field", A, "POST", recs, `{"name":"x","type":"A","value":"192.0.2.1","disabled":false}`, 400},
		{"ttl as string", A, "POST", recs, `{"name":"x","type":"A","value":"192.0.2.1","ttl":"300"}`, 400},
		{"ttl negative", A, "POST", recs, `{"name":"x","type":"A","value":"192.0.2.1","ttl":-1}`, 400},
		{"ttl above 2^31-1", A, "POST", recs, `{"name":"x","type":"A","value":"192.0.2.1","ttl":2147483648}`, 400},
		{"ttl float", A, "POST", recs, `{"name":"x","type":"A","value":"192.0.2.1","ttl":30.5}`, 400},
		{"name as number", A, "POST", recs, `{"name":5,"type":"A","value":"192.0.2.1"}`, 400},
		{"value as array", A, "POST", recs, `{"name":"x","type":"A","value":["192.0.2.1"]}`, 400},
		{"value null", A, "POST", recs, `{"name":"x","type":"A","value":null}`, 400},
		{"oversized body", A, "POST", recs, huge, 413},
		{"form content type", A, "POST", recs, "", 415}, // body set below

		// Values DNS does not accept.
		{"unknown type", A, "POST", recs, rec("x", "BOGUS", "1"), 400},
		{"A with IPv6", A, "POST", recs, rec("x", "A", "2001:db8::1"), 400},
		{"AAAA with IPv4", A, "POST", recs, rec("x", "AAAA", "192.0.2.1"), 400},
		{"A out of range", A, "POST", recs, rec("x", "A", "999.0.2.1"), 400},
		{"A empty", A, "POST", recs, rec("x", "A", ""), 400},
		{"A with trailing junk", A, "POST", recs, rec("x", "A", "192.0.2.1 192.0.2.2"), 400},
		{"MX without priority", A, "POST", recs, rec("x", "MX", "mail.example.com."), 400},
		{"SRV missing fields", A, "POST", recs, rec("_x._tcp", "SRV", "10 5 sip.example.com."), 400},
		{"CAA garbage", A, "POST", recs, rec("x", "CAA", "banana"), 400},
		{"TXT unterminated quote", A, "POST", recs, rec("x", "TXT", `"abc`), 400},
		{"value with a second record", A, "POST", recs, rec("x", "A", "192.0.2.1\nevil 300 IN A 192.0.2.2"), 400},
		{"SOA through records", A, "POST", recs, rec("@", "SOA", "ns.example.com. h.example.com. 1 2 3 4 5"), 400},
		{"label over 63", A, "POST", recs, rec(strings.Repeat("a", 64), "A", "192.0.2.1"), 400},
		{"name over 255", A, "POST", recs, rec(strings.Repeat("a.", 130), "A", "192.0.2.1"), 400},

		// Injection strings.
		{"SQL in name", A, "POST", recs, rec("x'; DROP TABLE records; --", "A", "192.0.2.1"), 400},
		{"SQL in value", A, "POST", recs, rec("x", "A", "192.0.2.1'); DELETE FROM records; --"), 400},
		{"quote in name", A, "POST", recs, rec(`x" OR "1"="1`, "A", "192.0.2.1"), 400},
		{"zone-file directive", A, "POST", recs, rec("x", "A", "$INCLUDE /etc/passwd"), 400},
		{"NUL in name", A, "POST", recs, rec("x\x00y", "A", "192.0.2.1"), 400},
		{"SQL in zone path", A, "POST", "/v1/zones/example.com'%20OR%20'1'='1/records", rec("x", "A", "192.0.2.1"), 400},
		{"SQL in zone create", A, "POST", "/v1/zones", `{"name":"x'); DROP TABLE domains; --","primary_ns":"ns.example.com."}`, 400},
		{"SQL in primary_ns", A, "POST", "/v1/zones", `{"name":"new.example","primary_ns":"ns; DROP TABLE domains"}`, 400},

		// Names outside the zone, zones that are not there.
		{"foreign FQDN", A, "POST", recs, rec("www.other.org.", "A", "192.0.2.1"), 400},
		{"suffix trick", A, "POST", recs, rec("example.com.evil.org.", "A", "192.0.2.1"), 400},
		{"parent of zone", A, "POST", recs, rec("com.", "A", "192.0.2.1"), 400},
		{"foreign zone", A, "POST", "/v1/zones/other.org/records", rec("x", "A", "192.0.2.1"), 404},
		{"record of another zone by id", A, "DELETE", "/v1/zones/other.org/records/" + wwwID, "", 404},

		// DNS's rules: CNAME exclusivity and duplicates.
		{"CNAME beside A", A, "POST", recs, rec("www", "CNAME", "elsewhere.example.net."), 409},
		{"A beside CNAME", A, "POST", recs, rec("alias", "A", "192.0.2.7"), 409},
		{"second CNAME", A, "POST", recs, rec("alias", "CNAME", "other.example.net."), 409},
		{"exact duplicate", A, "POST", recs, rec("www", "A", "192.0.2.1"), 409},
		{"duplicate by FQDN", A, "POST", recs, rec("www.example.com.", "A", "192.0.2.1"), 409},
		{"PUT into CNAME conflict", A, "PUT", recs + "/" + aliasID, `{"name":"www"}`, 409},
		{"PUT with IPv6 in A", A, "PUT", recs + "/" + wwwID, `{"value":"2001:db8::7"}`, 400},
		{"PUT SOA row into A", A, "PUT", recs + "/" + soaID, `{"type":"A","value":"192.0.2.1"}`, 400},

		// Ids and paths.
		{"PUT unknown id", A, "PUT", recs + "/987654", `{"ttl":5}`, 404},
		{"DELETE unknown id", A, "DELETE", recs + "/987654", "", 404},
		{"non-numeric id", A, "DELETE", recs + "/1%3B%20DROP", "", 400},
		{"negative id", A, "DELETE", recs + "/-1", "", 400},
		{"wrong method", A, "PATCH", recs + "/" + wwwID, `{"ttl":5}`, 405},

		// Zones.
		{"duplicate zone", A, "POST", "/v1/zones", `{"name":"example.com","primary_ns":"ns.example.com."}`, 409},
		{"zone without primary_ns", A, "POST", "/v1/zones", `{"name":"new.example"}`, 400},
		{"zone name with space", A, "POST", "/v1/zones", `{"name":"new example","primary_ns":"ns.example.com."}`, 400},
		{"zone ttl 0", A, "POST", "/v1/zones", `{"name":"new.example","primary_ns":"ns.new.example.","ttl":0}`, 400},
		{"root zone", A, "POST", "/v1/zones", `{"name":".","primary_ns":"a.root-servers.net."}`, 400},
		{"zone rename", A, "PUT", "/v1/zones/example.com", `{"name":"example.org"}`, 400},
		{"zone refresh negative", A, "PUT", "/v1/zones/example.com", `{"refresh":-5}`, 400},
		{"zone bad admin email", A, "PUT", "/v1/zones/example.com", `{"admin_email":"a b@c"}`, 400},
		{"zone unknown field", A, "PUT", "/v1/zones/example.com", `{"serial":1}`, 400},
		{"PUT unknown zone", A, "PUT", "/v1/zones/nope.example", `{"ttl":60}`, 404},
		{"DELETE unknown zone", A, "DELETE", "/v1/zones/nope.example", "", 404},

		// Authentication and roles.
		{"no token", "", "POST", recs, rec("x", "A", "192.0.2.1"), 401},
		{"wrong token", "forged", "POST", recs, rec("x", "A", "192.0.2.1"), 401},
		{"token's hash as token", "sha256-of-admin", "POST", recs, rec("x", "A", "192.0.2.1"), 401},
		{"reader adds record", R, "POST", recs, rec("x", "A", "192.0.2.1"), 403},
		{"reader updates record", R, "PUT", recs + "/" + wwwID, `{"ttl":5}`, 403},
		{"reader deletes record", R, "DELETE", recs + "/" + wwwID, "", 403},
		{"reader creates zone", R, "POST", "/v1/zones", `{"name":"new.example","primary_ns":"ns.new.example."}`, 403},
		{"reader updates zone", R, "PUT", "/v1/zones/example.com", `{"ttl":60}`, 403},
		{"reader deletes zone", R, "DELETE", "/v1/zones/example.com", "", 403},
		{"reader snapshots", R, "POST", "/v1/admin/snapshot", "", 403},
		{"no token deletes zone", "", "DELETE", "/v1/zones/example.com", "", 401},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	adminHash := strings.Fields(TokenLine(adminToken, "x", []string{"y"}))[0]
	before := dump(t, path)
	changes := h.changeCount()
	for i, c := range cases {
		token := map[string]string{A: adminToken, R: readerToken, "sha256-of-admin": adminHash}[c.who]
		if token == "" {
			token = c.who
		}
		// Each case comes from its own address, so failed authentication
		// here does not trip the limiter for the next.
		req := newRequest(c.method, c.path, c.body)
		req.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", i+1)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set("Content-Type", "application/json")
		if c.status == http.StatusUnsupportedMediaType {
			req = newRequest(c.method, c.path, "name=x&type=A&value=192.0.2.1")
			req.RemoteAddr = fmt.Sprintf("198.51.100.%d:40000", i+1)
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		w := newRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		r := reply{status: w.Code, header: w.Result().Header, body: w.Body.Bytes()}
		if r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
			continue
		}
		if m := r.json(t); m["error"] == "" || m["code"] == "" {
			t.Errorf("%s: error body %s", c.name, r.body)
		}
		if after := dump(t, path); after != before {
			t.Fatalf("%s changed the database:\nbefore:\n%s\nafter:\n%s", c.name, before, after)
		}
	}
	if h.changeCount() != changes {
		t.Errorf("rejected requests announced %d changes", h.changeCount()-changes)
	}
	if strings.Contains(h.log.String(), "forged") {
		t.Errorf("a presented token reached the log")
	}
	// The dump does see changes: one good write alters it.
	if !strings.Contains(before, "192.0.2.1") {
		t.Fatalf("dump lacks the records:\n%s", before)
	}
	h.mustDo(201, "POST", recs, adminToken, rec("x", "A", "192.0.2.1"))
	if dump(t, path) == before {
		t.Fatal("a good write left the dump unchanged")
	}
	t.Logf("%d bad requests refused, database unchanged", len(cases))
}
