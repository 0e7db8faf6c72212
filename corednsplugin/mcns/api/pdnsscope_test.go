package api

import (
	"encoding/json"
	"testing"
)

// TestPDNSScopedToken: a token scoped to example.com:_acme-challenge:TXT
// on the PowerDNS API. Zones outside its scopes answer 404, as on /v1, so a
// scope does not reveal which other zones are served; writes outside its
// scopes, and zone creation and deletion, answer 403 and change nothing.
func TestPDNSScopedToken(t *testing.T) {
	h, path := scopedHarness(t)
	var list []zoneJSON
	if err := json.Unmarshal(h.pdnsMust(200, "GET", pz, acmeToken, "").body, &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].ID != "example.com." {
		t.Errorf("scoped zone list: %+v", list)
	}
	json.Unmarshal(h.pdnsMust(200, "GET", pz+"?zone=other.com.", acmeToken, "").body, &list)
	if len(list) != 0 {
		t.Errorf("?zone=other.com. shows a hidden zone: %+v", list)
	}
	h.pdnsMust(200, "GET", pz+"/example.com.", acmeToken, "")
	for _, p := range []string{pz + "/other.com.", pz + "/other.com./export"} {
		h.pdnsMust(404, "GET", p, acmeToken, "")
	}

	txt := func(name, value string) string {
		return `{"name":"` + name + `","type":"TXT","ttl":60,"changetype":"REPLACE","records":[{"content":"\"` + value + `\"","disabled":false}]}`
	}
	before := dump(t, path)
	changes := h.changeCount()
	refused := []struct {
		method, path, body string
		status             int
	}{
		{"PATCH", pz + "/example.com.", `{"rrsets":[` + txt("www.example.com.", "x") + `]}`, 403},
		{"PATCH", pz + "/example.com.", `{"rrsets":[{"name":"_acme-challenge.example.com.","type":"A","ttl":60,"changetype":"REPLACE","records":[{"content":"192.0.2.9","disabled":false}]}]}`, 403},
		{"PATCH", pz + "/example.com.", `{"rrsets":[{"name":"www.example.com.","type":"A","changetype":"DELETE"}]}`, 403},
		// One RRset out of scope refuses the in-scope one beside it.
		{"PATCH", pz + "/example.com.", `{"rrsets":[` + txt("_acme-challenge.example.com.", "ok") + `,` + txt("x._acme-challenge.example.com.", "x") + `]}`, 403},
		{"PATCH", pz + "/other.com.", `{"rrsets":[` + txt("_acme-challenge.other.com.", "x") + `]}`, 404},
		{"POST", pz, `{"name":"new.com.","kind":"Native","nameservers":["ns.new.com."]}`, 403},
		{"DELETE", pz + "/example.com.", "", 403},
		{"DELETE", pz + "/other.com.", "", 404},
	}
	for _, c := range refused {
		r := h.pdnsDo(c.method, c.path, acmeToken, c.body)
		if r.status != c.status || r.json(t)["error"] == nil {
			t.Errorf("%s %s %s: %d %s, want %d", c.method, c.path, c.body, r.status, r.body, c.status)
		}
	}
	if after := dump(t, path); after != before || h.changeCount() != changes {
		t.Errorf("refused requests changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	h.pdnsMust(204, "PATCH", pz+"/example.com.", acmeToken, `{"rrsets":[`+txt("_acme-challenge.example.com.", "ok")+`]}`)
	if got := rrsetOf(getZone(h, "example.com."), "_acme-challenge.example.com.", "TXT"); len(got) != 1 || got[0] != `"ok"` {
		t.Errorf("in-scope PATCH: %v", got)
	}
}
