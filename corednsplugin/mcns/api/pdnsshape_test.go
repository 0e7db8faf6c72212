package api

import (
	"encoding/json"
	"os"
	"sort"
	"testing"
)

// TestPDNSShapesMatchPowerDNS compares the members of our answers with
// answers a PowerDNS 4.7.3 server (gsqlite3 backend) gave to the same
// requests (testdata/pdns-4.7.3-*.json): every member PowerDNS sends, at
// every level a client reads, must be in ours.
func TestPDNSShapesMatchPowerDNS(t *testing.T) {
	h, _ := pdnsZoneHarness(t)
	// Endpoints mcns does not serve are not advertised.
	notServed := map[string]bool{"autoprimaries_url": true}
	for _, c := range []struct{ ref, path string }{
		{"testdata/pdns-4.7.3-server.json", "/api/v1/servers/localhost"},
		{"testdata/pdns-4.7.3-zones.json", pz},
		{"testdata/pdns-4.7.3-zone.json", pz + "/example.org."},
	} {
		raw, err := os.ReadFile(c.ref)
		if err != nil {
			t.Fatal(err)
		}
		var ref, ours any
		if err := json.Unmarshal(raw, &ref); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(h.pdnsMust(200, "GET", c.path, readerToken, "").body, &ours); err != nil {
			t.Fatal(err)
		}
		for _, k := range missingKeys(ref, ours, c.path) {
			if !notServed[k] {
				t.Errorf("%s: PowerDNS sends %s, we do not", c.path, k)
			}
		}
	}
}

// missingKeys lists the object members in ref absent from ours, descending
// into the first element of arrays.
func missingKeys(ref, ours any, at string) []string {
	var out []string
	switch r := ref.(type) {
	case map[string]any:
		o, ok := ours.(map[string]any)
		if !ok {
			return []string{at + " (not an object)"}
		}
		for k, v := range r {
			ov, ok := o[k]
			if !ok {
				out = append(out, k)
				continue
			}
			out = append(out, missingKeys(v, ov, at+"."+k)...)
		}
	case []any:
		o, ok := ours.([]any)
		if len(r) > 0 && ok && len(o) > 0 {
			out = append(out, missingKeys(r[0], o[0], at+"[0]")...)
		}
	}
	sort.Strings(out)
	return out
}
