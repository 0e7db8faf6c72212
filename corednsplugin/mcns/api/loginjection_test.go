package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
)

// failingStore fails every record it is asked to add with an error that
// quotes the value sent, as a driver's error may.
type failingStore struct{ *fakeStore }

func (s failingStore) AddRecord(ctx context.Context, zone string, r store.RecordSpec) (store.Record, error) {
	return store.Record{}, fmt.Errorf("cannot store %s", r.Value)
}

// TestClientInputCannotForgeLogLines: newlines the client sends, in the
// path (%0a), the remote address or a value that ends up in an error, are
// logged escaped, so none starts a log line of the client's making.
func TestClientInputCannotForgeLogLines(t *testing.T) {
	h := newHarness(t, failingStore{newFakeStore()}, nil)
	if r := h.do("POST", "/v1/zones", adminToken, `{"name":"example.com","primary_ns":"ns.example.com."}`); r.status != 201 {
		t.Fatalf("create zone: %d %s", r.status, r.body)
	}
	const forged = "ERROR api: forged"
	injected := "/v1/zones/ex%0a" + url.PathEscape(forged) + "/records"
	value, _ := json.Marshal("192.0.2.1\n" + forged)
	cases := []struct {
		name, remote, method, path, token, body string
		status                                  int
	}{
		{"bad token", "", "GET", injected, "bad", "", 401},
		{"missing role", "", "POST", injected, readerToken, "", 403},
		{"remote address", "192.0.2.1:1\n" + forged, "GET", "/v1/zones", "bad", "", 401},
		{"error quoting the body", "", "POST", "/v1/zones/example.com/records", adminToken,
			`{"name":"www","type":"A","value":` + string(value) + `}`, 500},
	}
	for _, c := range cases {
		if r := h.doFrom(c.remote, c.method, c.path, c.token, c.body); r.status != c.status {
			t.Errorf("%s: %d %s, want %d", c.name, r.status, r.body, c.status)
		}
	}
	h.log.mu.Lock()
	entries := append([]string(nil), h.log.lines...)
	h.log.mu.Unlock()
	logged := 0
	for _, e := range entries {
		if strings.ContainsAny(e, "\r\n") {
			t.Errorf("log entry holds a raw line break: %q", e)
		}
		if strings.Contains(e, "forged") {
			logged++
		}
	}
	if logged != len(cases) {
		t.Errorf("%d of %d requests logged with what they sent:\n%s", logged, len(cases), h.log)
	}
	for _, line := range strings.Split(h.log.String(), "\n") {
		if strings.HasPrefix(line, forged) {
			t.Errorf("forged log line: %q", line)
		}
	}
}
