package geoiptest

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"
)

// TestWriteNestedNetworks: a network inside a wider one keeps its own
// record whatever the map's iteration order.
func TestWriteNestedNetworks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "geo.mmdb")
	for range 20 {
		if err := Write(path, "GeoLite2-Country", map[string]mmdbtype.Map{
			"203.0.113.0/24":  Country("US"),
			"203.0.113.66/32": Country("KP"),
			"203.0.113.64/30": Country("CA"),
		}); err != nil {
			t.Fatal(err)
		}
		db, err := maxminddb.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		for ip, want := range map[string]string{"203.0.113.66": "KP", "203.0.113.65": "CA", "203.0.113.10": "US"} {
			var rec struct {
				Country struct {
					ISOCode string `maxminddb:"iso_code"`
				} `maxminddb:"country"`
			}
			if err := db.Lookup(netip.MustParseAddr(ip)).Decode(&rec); err != nil {
				t.Fatal(err)
			}
			if rec.Country.ISOCode != want {
				t.Fatalf("%s: %q, want %q", ip, rec.Country.ISOCode, want)
			}
		}
		db.Close()
	}
}
