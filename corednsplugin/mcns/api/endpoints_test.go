package api

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestEndpoints walks every endpoint over a real SQLite store, checking
// answers, serials and change notifications.
func TestEndpoints(t *testing.T) {
	snapDir := filepath.Join(t.TempDir(), "snapshots")
	h, _, _ := storeHarness(t, &Config{SnapshotDir: snapDir, SnapshotKeep: 2})
	z := "/v1/zones/example.com"
	serial := h.serial("example.com")
	changes := h.changeCount()
	// wrote checks that a write bumped the serial and was announced.
	wrote := func(what string) {
		t.Helper()
		s := h.serial("example.com")
		if s <= serial {
			t.Errorf("%s: serial %d not above %d", what, s, serial)
		}
		serial = s
		changes++
		if h.changeCount() != changes {
			t.Errorf("%s: %d change notifications, want %d", what, h.changeCount(), changes)
		}
	}

	// Health and zones.
	h.mustDo(200, "GET", "/v1/health", "", "")
	m := h.mustDo(200, "GET", "/v1/zones", readerToken, "").json(t)
	zones := m["zones"].([]any)
	if len(zones) != 1 || zones[0].(map[string]any)["name"] != "example.com." {
		t.Fatalf("zones: %v", m)
	}
	zm := h.mustDo(200, "GET", z, readerToken, "").json(t)
	if zm["primary_ns"] != "ns.example.com." || zm["admin_email"] != "hostmaster@example.com" || zm["ttl"] != 3600.0 || zm["minimum"] != 300.0 {
		t.Errorf("zone: %v", zm)
	}
	h.mustDo(404, "GET", "/v1/zones/nope.example", readerToken, "")
	h.mustDo(409, "POST", "/v1/zones", adminToken, `{"name":"EXAMPLE.com.","primary_ns":"ns.example.com."}`)
	zm = h.mustDo(200, "PUT", z, adminToken, `{"minimum":60,"admin_email":"dns@example.com"}`).json(t)
	if zm["minimum"] != 60.0 || zm["admin_email"] != "dns@example.com" || zm["refresh"] != 10800.0 || zm["primary_ns"] != "ns.example.com." {
		t.Errorf("updated zone: %v", zm)
	}
	wrote("PUT zone")
	h.mustDo(404, "PUT", "/v1/zones/nope.example", adminToken, `{"minimum":60}`)

	// The deployment's call, on its own zone.
	r := h.mustDo(201, "POST", "/v1/zones", adminToken, `{"name":"mcp.metacircular.net","primary_ns":"ns.mcp.metacircular.net.","ttl":300}`)
	if r.header.Get("Location") != "/v1/zones/mcp.metacircular.net" {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	changes++
	r = h.mustDo(201, "POST", "/v1/zones/mcp.metacircular.net/records", adminToken, `{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}`)
	changes++
	if m := r.json(t); m["name"] != "ns" || m["fqdn"] != "ns.mcp.metacircular.net." || m["type"] != "A" || m["value"] != "203.0.113.7" || m["ttl"] != 300.0 {
		t.Errorf("exact call's answer: %s", r.body)
	}

	// Records of every common type; the answer's value is what a request
	// would send back.
	adds := []struct{ body, name, fqdn, value string }{
		{`{"name":"v6","type":"AAAA","value":"2001:db8::1"}`, "v6", "v6.example.com.", "2001:db8::1"},
		{`{"name":"@","type":"TXT","value":"\"v=spf1 -all\""}`, "@", "example.com.", `"v=spf1 -all"`},
		{`{"name":"_sip._tcp.example.com","type":"SRV","value":"10 5 5060 sip.example.com."}`, "_sip._tcp", "_sip._tcp.example.com.", "10 5 5060 sip.example.com."},
		{`{"name":"@","type":"CAA","value":"0 issue \"letsencrypt.org\""}`, "@", "example.com.", `0 issue "letsencrypt.org"`},
		{`{"name":"sub","type":"NS","value":"ns1.sub"}`, "sub", "sub.example.com.", "ns1.sub.example.com."},
		{`{"name":"1","type":"PTR","value":"host.example.com."}`, "1", "1.example.com.", "host.example.com."},
		{`{"name":"*.wild","type":"A","value":"192.0.2.9","ttl":0}`, "*.wild", "*.wild.example.com.", "192.0.2.9"},
	}
	ids := map[string]string{}
	for _, a := range adds {
		m := h.mustDo(201, "POST", z+"/records", adminToken, a.body).json(t)
		if m["name"] != a.name || m["fqdn"] != a.fqdn || m["value"] != a.value {
			t.Errorf("POST %s: %v", a.body, m)
		}
		ids[a.fqdn+m["type"].(string)] = strconv.Itoa(int(m["id"].(float64)))
		wrote("POST " + a.body)
	}
	if m := h.mustDo(200, "GET", z+"/records/"+ids["*.wild.example.com.A"], readerToken, "").json(t); m["ttl"] != 0.0 {
		t.Errorf("TTL 0: %v", m)
	}

	// Listing and filters.
	list := func(query string) []map[string]any {
		t.Helper()
		m := h.mustDo(200, "GET", z+"/records"+query, readerToken, "").json(t)
		var out []map[string]any
		for _, r := range m["records"].([]any) {
			out = append(out, r.(map[string]any))
		}
		return out
	}
	if all := list(""); len(all) < 12 {
		t.Errorf("all records: %d", len(all))
	}
	for q, want := range map[string]int{
		"?name=www": 1, "?name=www.example.com.": 1, "?name=www.example.com": 1, "?name=@&type=NS": 1,
		"?type=a": 3, "?type=MX": 1, "?name=none": 0, "?name=@": 5, "?name=@&type=SOA": 1,
	} {
		if got := list(q); len(got) != want {
			t.Errorf("records%s: %d, want %d: %v", q, len(got), want, got)
		}
	}
	h.mustDo(400, "GET", z+"/records?type=BOGUS", readerToken, "")
	h.mustDo(400, "GET", z+"/records?name=a%20b", readerToken, "")
	h.mustDo(400, "GET", z+"/records?name=other.org.", readerToken, "")
	h.mustDo(404, "GET", "/v1/zones/nope.example/records", readerToken, "")
	mx := list("?type=MX")[0]
	if mx["name"] != "@" || mx["value"] != "10 mail.example.com." {
		t.Errorf("MX: %v", mx)
	}

	// One record: get, update (fields left out keep their value), delete.
	mxID := strconv.Itoa(int(mx["id"].(float64)))
	h.mustDo(200, "GET", z+"/records/"+mxID, readerToken, "")
	h.mustDo(404, "GET", "/v1/zones/mcp.metacircular.net/records/"+mxID, readerToken, "")
	m = h.mustDo(200, "PUT", z+"/records/"+mxID, adminToken, `{"ttl":120}`).json(t)
	if m["value"] != "10 mail.example.com." || m["ttl"] != 120.0 || m["id"] != mx["id"] {
		t.Errorf("PUT ttl: %v", m)
	}
	wrote("PUT record ttl")
	m = h.mustDo(200, "PUT", z+"/records/"+mxID, adminToken, `{"value":"20 mx2.example.net."}`).json(t)
	if m["value"] != "20 mx2.example.net." || m["ttl"] != 120.0 {
		t.Errorf("PUT value: %v", m)
	}
	wrote("PUT record value")
	h.mustDo(404, "PUT", z+"/records/999999", adminToken, `{"ttl":1}`)
	h.mustDo(204, "DELETE", z+"/records/"+mxID, adminToken, "")
	wrote("DELETE record")
	h.mustDo(404, "GET", z+"/records/"+mxID, readerToken, "")
	h.mustDo(404, "DELETE", z+"/records/"+mxID, adminToken, "")

	// Snapshots: a new file each time, the newest two kept.
	var paths []string
	for i := 0; i < 3; i++ {
		m := h.mustDo(201, "POST", "/v1/admin/snapshot", adminToken, "").json(t)
		paths = append(paths, m["path"].(string))
	}
	entries, _ := os.ReadDir(snapDir)
	if len(entries) != 2 {
		t.Errorf("snapshots kept: %d", len(entries))
	}
	if _, err := os.Stat(paths[2]); err != nil {
		t.Errorf("newest snapshot: %v", err)
	}

	// Zone deletion takes its records.
	h.mustDo(204, "DELETE", "/v1/zones/mcp.metacircular.net", adminToken, "")
	changes++
	h.mustDo(404, "GET", "/v1/zones/mcp.metacircular.net", readerToken, "")
	h.mustDo(404, "GET", "/v1/zones/mcp.metacircular.net/records", readerToken, "")
	h.mustDo(404, "DELETE", "/v1/zones/mcp.metacircular.net", adminToken, "")
	if h.changeCount() != changes {
		t.Errorf("%d change notifications, want %d", h.changeCount(), changes)
	}
}
