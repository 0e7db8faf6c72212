package api

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const acmeToken = "acme-token-0123456789abcdefghijklmnopqrstuvw"

// scopedHarness is storeHarness with a third token limited to TXT records
// under _acme-challenge.example.com, and a second zone it may not see.
func scopedHarness(t *testing.T) (*harness, string) {
	t.Helper()
	sc, err := ParseScope("example.com:_acme-challenge:TXT")
	if err != nil {
		t.Fatal(err)
	}
	tokens := filepath.Join(t.TempDir(), "tokens")
	data := TokenLine(adminToken, "ops", []string{"admin"}) + "\n" +
		TokenLine(readerToken, "viewer", []string{"read"}) + "\n" +
		TokenLine(acmeToken, "acme", []string{"admin"}, sc) + "\n"
	if err := os.WriteFile(tokens, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	h, _, path := storeHarness(t, &Config{TokensFile: tokens})
	h.mustDo(201, "POST", "/v1/zones", adminToken, `{"name":"other.com","primary_ns":"ns.other.com.","admin_email":"hostmaster@other.com"}`)
	h.mustDo(201, "POST", "/v1/zones/other.com/records", adminToken, `{"name":"_acme-challenge","type":"TXT","value":"\"x\""}`)
	return h, path
}

func TestScopedTokenReads(t *testing.T) {
	h, _ := scopedHarness(t)
	body := string(h.mustDo(200, "GET", "/v1/zones", acmeToken, "").body)
	if !strings.Contains(body, "example.com.") || strings.Contains(body, "other.com") {
		t.Errorf("scoped zone list: %s", body)
	}
	if body := string(h.mustDo(200, "GET", "/v1/zones", adminToken, "").body); !strings.Contains(body, "other.com.") {
		t.Errorf("unscoped zone list lacks other.com: %s", body)
	}
	h.mustDo(200, "GET", "/v1/zones/example.com", acmeToken, "")
	h.mustDo(200, "GET", "/v1/zones/example.com/records", acmeToken, "")
	for _, p := range []string{"/v1/zones/other.com", "/v1/zones/other.com/records", "/v1/zones/other.com/records/1"} {
		if r := h.do("GET", p, acmeToken, ""); r.status != 404 || r.code() != "not_found" {
			t.Errorf("GET %s: %d %s, want 404 not_found", p, r.status, r.body)
		}
	}
}

func TestScopedTokenWrites(t *testing.T) {
	h, path := scopedHarness(t)
	own := h.mustDo(201, "POST", "/v1/zones/example.com/records", acmeToken, `{"name":"_acme-challenge","type":"TXT","value":"\"token1\""}`)
	ownID := int64(own.json(t)["id"].(float64))
	www := h.mustDo(200, "GET", "/v1/zones/example.com/records?name=www", adminToken, "").json(t)["records"].([]any)[0].(map[string]any)
	wwwID := int64(www["id"].(float64))

	before := dump(t, path)
	changes := h.changeCount()
	refused := []struct{ method, path, body string }{
		{"POST", "/v1/zones/example.com/records", `{"name":"www","type":"TXT","value":"\"x\""}`},
		{"POST", "/v1/zones/example.com/records", `{"name":"_acme-challenge","type":"A","value":"192.0.2.9"}`},
		{"POST", "/v1/zones/example.com/records", `{"name":"x._acme-challenge","type":"TXT","value":"\"x\""}`},
		{"PUT", fmt.Sprintf("/v1/zones/example.com/records/%d", wwwID), `{"value":"192.0.2.9"}`},
		{"PUT", fmt.Sprintf("/v1/zones/example.com/records/%d", ownID), `{"name":"www"}`},
		{"DELETE", fmt.Sprintf("/v1/zones/example.com/records/%d", wwwID), ""},
		{"POST", "/v1/zones", `{"name":"new.com","primary_ns":"ns.new.com.","admin_email":"h@new.com"}`},
		{"PUT", "/v1/zones/example.com", `{"ttl":60}`},
		{"DELETE", "/v1/zones/example.com", ""},
		{"POST", "/v1/admin/snapshot", ""},
	}
	for _, c := range refused {
		if r := h.do(c.method, c.path, acmeToken, c.body); r.status != 403 || r.code() != "forbidden" {
			t.Errorf("%s %s %s: %d %s, want 403 forbidden", c.method, c.path, c.body, r.status, r.body)
		}
	}
	if r := h.do("POST", "/v1/zones/other.com/records", acmeToken, `{"name":"_acme-challenge","type":"TXT","value":"\"x\""}`); r.status != 404 {
		t.Errorf("write to an unseen zone: %d %s, want 404", r.status, r.body)
	}
	if after := dump(t, path); after != before || h.changeCount() != changes {
		t.Errorf("refused requests changed the database:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	h.mustDo(200, "PUT", fmt.Sprintf("/v1/zones/example.com/records/%d", ownID), acmeToken, `{"value":"\"token2\""}`)
	h.mustDo(204, "DELETE", fmt.Sprintf("/v1/zones/example.com/records/%d", ownID), acmeToken, "")
}
