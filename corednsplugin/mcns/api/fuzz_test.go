package api

import (
	"net/http"
	"testing"
)

// FuzzRecordRequests throws arbitrary bodies and paths at the record
// endpoints over a real store: never a panic, never a 5xx, a JSON answer
// unless ServeMux redirects.
func FuzzRecordRequests(f *testing.F) {
	for _, s := range []string{
		`{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}`,
		`{"name":"@","type":"MX","value":"10 mail"}`,
		`{"name":"x","type":"TXT","value":"\"a\" \"b\""}`,
		`{"name":"x","type":"CAA","value":"0 issue \"ca.example\""}`,
		`{"name":"\u0000","type":"A","value":"1.2.3.4"}`,
		`{"ttl":1e400}`, `[`, `null`, `{"name":{}}`,
	} {
		f.Add("POST", "", s)
		f.Add("PUT", "/1", s)
	}
	h, _, _ := storeHarness(f, nil)
	f.Fuzz(func(t *testing.T, method, suffix, body string) {
		switch method {
		case "GET", "POST", "PUT", "DELETE":
		default:
			method = "POST"
		}
		req := newRequest(method, "/v1/zones/example.com/records", body)
		if u, err := req.URL.Parse("/v1/zones/example.com/records" + suffix); err == nil {
			req.URL = u
		}
		req.Header.Set("Authorization", "Bearer "+adminToken)
		w := newRecorder()
		h.srv.Handler().ServeHTTP(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %s %q: %d %s", method, suffix, body, w.Code, w.Body)
		}
		// ServeMux itself redirects unclean paths ("//", "/./") to their
		// clean form.
		redirect := w.Code == http.StatusMovedPermanently || w.Code == http.StatusTemporaryRedirect
		if w.Code != http.StatusNoContent && !redirect && w.Header().Get("Content-Type") != "application/json" {
			t.Fatalf("%s %s %q: %d without JSON", method, suffix, body, w.Code)
		}
	})
}
