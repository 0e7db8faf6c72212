package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

const pz = "/api/v1/servers/localhost/zones"

// pdnsDo sends a request as a PowerDNS client does, the token in X-API-Key.
func (h *harness) pdnsDo(method, path, key, body string) reply {
	h.t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if key != "" {
		req.Header.Set("X-API-Key", key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.srv.Handler().ServeHTTP(w, req)
	return reply{status: w.Code, header: w.Result().Header, body: w.Body.Bytes()}
}

func (h *harness) pdnsMust(status int, method, path, key, body string) reply {
	h.t.Helper()
	r := h.pdnsDo(method, path, key, body)
	if r.status != status {
		h.t.Fatalf("%s %s %s: %d %s, want %d", method, path, body, r.status, r.body, status)
	}
	return r
}

// pdnsZoneHarness is a real store with zone example.org. created through
// the PowerDNS API.
func pdnsZoneHarness(t *testing.T) (*harness, string) {
	st, path := openStore(t)
	h := newHarness(t, st, nil)
	h.pdnsMust(201, "POST", pz, adminToken, `{"name":"example.org.","kind":"Native","nameservers":["ns1.example.org."],
		"rrsets":[{"name":"ns1.example.org.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.53","disabled":false}]},
		{"name":"www.example.org.","type":"A","ttl":300,"changetype":"REPLACE","records":[{"content":"192.0.2.1","disabled":false}],"comments":[{"content":"web","account":"ops"}]}]}`)
	return h, path
}

type zoneJSON struct {
	ID     string      `json:"id"`
	Name   string      `json:"name"`
	Kind   string      `json:"kind"`
	Serial uint32      `json:"serial"`
	RRsets []pdnsRRset `json:"rrsets"`
}

func getZone(h *harness, id string) zoneJSON {
	h.t.Helper()
	var z zoneJSON
	if err := json.Unmarshal(h.pdnsMust(200, "GET", pz+"/"+id, readerToken, "").body, &z); err != nil {
		h.t.Fatal(err)
	}
	return z
}

func rrsetOf(z zoneJSON, name, typ string) []string {
	for _, s := range z.RRsets {
		if s.Name == name && s.Type == typ {
			var out []string
			for _, r := range s.Records {
				out = append(out, r.Content)
			}
			return out
		}
	}
	return nil
}

func TestPDNSReadEndpoints(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	if got := string(h.pdnsMust(200, "GET", "/api", readerToken, "").body); !strings.Contains(got, `"version":1`) {
		t.Errorf("GET /api: %s", got)
	}
	h.pdnsMust(200, "GET", "/api/v1/servers", readerToken, "")
	if m := h.pdnsMust(200, "GET", "/api/v1/servers/localhost", readerToken, "").json(t); m["id"] != "localhost" || m["daemon_type"] != "authoritative" {
		t.Errorf("server: %v", m)
	}
	h.pdnsMust(404, "GET", "/api/v1/servers/other", readerToken, "")
	h.pdnsMust(401, "GET", "/api/v1/servers", "wrong-key", "")
	h.pdnsMust(401, "GET", "/api/v1/servers", "", "")

	var list []zoneJSON
	json.Unmarshal(h.pdnsMust(200, "GET", pz, readerToken, "").body, &list)
	if len(list) != 1 || list[0].ID != "example.org." || list[0].Kind != "Native" || list[0].RRsets != nil {
		t.Errorf("zones: %+v", list)
	}
	json.Unmarshal(h.pdnsMust(200, "GET", pz+"?zone=example.net.", readerToken, "").body, &list)
	if len(list) != 0 {
		t.Errorf("?zone=example.net.: %+v", list)
	}
	json.Unmarshal(h.pdnsMust(200, "GET", pz+"?zone=example.org.", readerToken, "").body, &list)
	if len(list) != 1 {
		t.Errorf("?zone=example.org.: %+v", list)
	}

	z := getZone(h, "example.org.")
	if got := rrsetOf(z, "www.example.org.", "A"); len(got) != 1 || got[0] != "192.0.2.1" {
		t.Errorf("www A: %v in %+v", got, z.RRsets)
	}
	if got := rrsetOf(z, "example.org.", "NS"); len(got) != 1 || got[0] != "ns1.example.org." {
		t.Errorf("NS: %v", got)
	}
	for _, s := range z.RRsets {
		if s.Name == "www.example.org." && (len(s.Comments) != 1 || s.Comments[0].Content != "web" || s.Comments[0].Account != "ops" || s.Comments[0].ModifiedAt == 0) {
			t.Errorf("comments: %+v", s.Comments)
		}
	}
	if m := h.pdnsMust(200, "GET", pz+"/example.org.?rrsets=false", readerToken, "").json(t); m["rrsets"] != nil {
		t.Errorf("rrsets=false still lists rrsets")
	}
	h.pdnsMust(404, "GET", pz+"/example.net.", readerToken, "")
	var only zoneJSON
	json.Unmarshal(h.pdnsMust(200, "GET", pz+"/example.org.?rrset_name=WWW.example.org&rrset_type=A", readerToken, "").body, &only)
	if len(only.RRsets) != 1 || only.RRsets[0].Name != "www.example.org." {
		t.Errorf("rrset_name/rrset_type filter: %+v", only.RRsets)
	}

	exp := h.pdnsMust(200, "GET", pz+"/example.org./export", readerToken, "")
	text := string(exp.body)
	if !strings.HasPrefix(text, "example.org.\t") || !strings.Contains(strings.SplitN(text, "\n", 2)[0], "SOA") || !strings.Contains(text, "www.example.org.\t300\tIN\tA\t192.0.2.1") {
		t.Errorf("export:\n%s", text)
	}
	if ct := exp.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("export Content-Type %q", ct)
	}
	if m := h.pdnsMust(200, "PUT", pz+"/example.org./notify", adminToken, "").json(t); m["result"] == nil {
		t.Errorf("notify: %v", m)
	}
	// Bearer tokens work on /api too; a read-only token cannot write.
	h.mustDo(200, "GET", pz, readerToken, "")
	h.pdnsMust(403, "PATCH", pz+"/example.org.", readerToken, `{"rrsets":[{"name":"x.example.org.","type":"A","changetype":"DELETE"}]}`)
}

func TestPDNSPatchChangeTypes(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	serial := getZone(h, "example.org.").Serial
	patch := func(sets string) { h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, `{"rrsets":[`+sets+`]}`) }
	patch(`{"name":"mail.example.org.","type":"MX","ttl":600,"changetype":"REPLACE","records":[{"content":"10 mx1.example.org.","disabled":false},{"content":"20 mx2.example.org.","disabled":false}]}`)
	z := getZone(h, "example.org.")
	if got := rrsetOf(z, "mail.example.org.", "MX"); len(got) != 2 || got[0] != "10 mx1.example.org." {
		t.Errorf("REPLACE MX: %v", got)
	}
	if z.Serial == serial {
		t.Errorf("serial not bumped")
	}
	patch(`{"name":"mail.example.org.","type":"MX","ttl":600,"changetype":"PRUNE","records":[{"content":"10 mx1.example.org.","disabled":false}]}`)
	if got := rrsetOf(getZone(h, "example.org."), "mail.example.org.", "MX"); len(got) != 1 || got[0] != "20 mx2.example.org." {
		t.Errorf("PRUNE: %v", got)
	}
	patch(`{"name":"mail.example.org.","type":"MX","ttl":600,"changetype":"EXTEND","records":[{"content":"20 mx2.example.org.","disabled":false},{"content":"30 mx3.example.org.","disabled":false}]}`)
	if got := rrsetOf(getZone(h, "example.org."), "mail.example.org.", "MX"); len(got) != 2 {
		t.Errorf("EXTEND: %v", got)
	}
	patch(`{"name":"mail.example.org.","type":"MX","changetype":"DELETE"}`)
	if got := rrsetOf(getZone(h, "example.org."), "mail.example.org.", "MX"); got != nil {
		t.Errorf("DELETE: %v", got)
	}
	// Changetype, type and name are matched without regard to case.
	patch(`{"name":"Mixed.Example.ORG.","type":"txt","ttl":60,"changetype":"replace","records":[{"content":"\"v\"","disabled":false}]}`)
	if got := rrsetOf(getZone(h, "example.org."), "mixed.example.org.", "TXT"); len(got) != 1 || got[0] != `"v"` {
		t.Errorf("mixed case: %v", got)
	}
	// REPLACE with no records deletes the RRset.
	patch(`{"name":"www.example.org.","type":"A","ttl":300,"changetype":"REPLACE","records":[]}`)
	if got := rrsetOf(getZone(h, "example.org."), "www.example.org.", "A"); got != nil {
		t.Errorf("empty REPLACE: %v", got)
	}
	if n := h.changeCount(); n < 5 {
		t.Errorf("%d change notifications, want every write announced", n)
	}
}

// TestPDNSPatchAtomic: one bad RRset leaves the zone as it was, even after
// good RRsets earlier in the same body.
func TestPDNSPatchAtomic(t *testing.T) {
	h, path := pdnsZoneHarness(t)
	before := dump(t, path)
	r := h.pdnsDo("PATCH", pz+"/example.org.", adminToken, `{"rrsets":[
		{"name":"a.example.org.","type":"A","ttl":60,"changetype":"REPLACE","records":[{"content":"192.0.2.7","disabled":false}]},
		{"name":"www.example.org.","type":"CNAME","ttl":60,"changetype":"REPLACE","records":[{"content":"a.example.org.","disabled":false}]}]}`)
	if r.status != 422 || r.json(t)["error"] == nil {
		t.Fatalf("CNAME beside A: %d %s", r.status, r.body)
	}
	if after := dump(t, path); after != before {
		t.Errorf("database changed by a refused PATCH")
	}
}

func TestPDNSCreateDeleteZone(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	r := h.pdnsDo("POST", pz, adminToken, `{"name":"example.org.","kind":"Native","nameservers":["ns1.example.org."]}`)
	if r.status != 409 || r.json(t)["error"] == nil {
		t.Errorf("existing zone: %d %s", r.status, r.body)
	}
	m := h.pdnsMust(201, "POST", pz, adminToken, `{"name":"Example.NET.","kind":"Master","nameservers":["ns1.example.org.","ns2.example.org."]}`).json(t)
	if m["id"] != "example.net." {
		t.Errorf("created: %v", m)
	}
	if got := rrsetOf(getZone(h, "example.net."), "example.net.", "NS"); len(got) != 2 {
		t.Errorf("NS of new zone: %v", got)
	}
	h.pdnsMust(204, "DELETE", pz+"/example.net.", adminToken, "")
	h.pdnsMust(404, "GET", pz+"/example.net.", readerToken, "")
	h.pdnsMust(404, "DELETE", pz+"/example.net.", adminToken, "")
}

// legoPresent is what lego's pdns provider sends to add a token: the
// RRset it read plus its value, as one REPLACE (with its pre-v1 members).
func legoPresent(seen []string, value string) string {
	var recs []string
	for _, v := range append(append([]string{}, seen...), fmt.Sprintf("%q", value)) {
		recs = append(recs, fmt.Sprintf(`{"content":%q,"disabled":false,"name":"_acme-challenge.example.org.","type":"TXT","ttl":120}`, v))
	}
	return `{"rrsets":[{"name":"_acme-challenge.example.org.","type":"TXT","kind":"Master","changetype":"REPLACE","ttl":120,"records":[` + strings.Join(recs, ",") + `]}]}`
}

// TestPDNSConcurrentACME: clients that each read the empty RRset and then
// REPLACE it with their own token all end up present; cleaning up removes
// only the cleaner's token.
func TestPDNSConcurrentACME(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, legoPresent(nil, fmt.Sprintf("token-%d", i)))
		}()
	}
	wg.Wait()
	got := rrsetOf(getZone(h, "example.org."), "_acme-challenge.example.org.", "TXT")
	if len(got) != n {
		t.Fatalf("after %d concurrent presents: %v", n, got)
	}
	// Cleanup of token-0 as lego does it: REPLACE with the others.
	var rest []string
	for _, v := range got {
		if v != `"token-0"` {
			rest = append(rest, fmt.Sprintf(`{"content":%q,"disabled":false}`, v))
		}
	}
	h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, `{"rrsets":[{"name":"_acme-challenge.example.org.","type":"TXT","changetype":"REPLACE","ttl":120,"records":[`+strings.Join(rest, ",")+`]}]}`)
	got = rrsetOf(getZone(h, "example.org."), "_acme-challenge.example.org.", "TXT")
	if len(got) != n-1 || strings.Contains(strings.Join(got, " "), `"token-0"`) {
		t.Errorf("after cleanup of token-0: %v", got)
	}
	// Outside _acme-challenge names REPLACE is exact.
	h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, `{"rrsets":[{"name":"txt.example.org.","type":"TXT","changetype":"REPLACE","ttl":60,"records":[{"content":"\"a\"","disabled":false}]}]}`)
	h.pdnsMust(204, "PATCH", pz+"/example.org.", adminToken, `{"rrsets":[{"name":"txt.example.org.","type":"TXT","changetype":"REPLACE","ttl":60,"records":[{"content":"\"b\"","disabled":false}]}]}`)
	if got := rrsetOf(getZone(h, "example.org."), "txt.example.org.", "TXT"); len(got) != 1 || got[0] != `"b"` {
		t.Errorf("plain REPLACE: %v", got)
	}
	_ = http.StatusOK
}
