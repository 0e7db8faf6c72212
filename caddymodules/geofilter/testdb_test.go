package geofilter

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Record layouts as the real databases write them.

func maxmindCountry(cc string) mmdbtype.Map {
	return mmdbtype.Map{
		"continent": mmdbtype.Map{"code": mmdbtype.String("XX")},
		"country": mmdbtype.Map{
			"iso_code":   mmdbtype.String(cc),
			"geoname_id": mmdbtype.Uint32(1),
			"names":      mmdbtype.Map{"en": mmdbtype.String("Somewhere")},
		},
	}
}

func maxmindRegistered(cc string) mmdbtype.Map {
	return mmdbtype.Map{
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)},
	}
}

func flatCountry(cc string) mmdbtype.Map {
	return mmdbtype.Map{"country_code": mmdbtype.String(cc)}
}

func asnRecord(n uint32) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(n),
		"autonomous_system_organization": mmdbtype.String("Example AS"),
	}
}

// buildDB returns an mmdb holding nets.
func buildDB(t testing.TB, dbType string, nets map[string]mmdbtype.Map) []byte {
	t.Helper()
	desc := map[string]string{"en": "geofilter test data"}
	if dbType == "ip-location-db" {
		desc = nil // that producer writes none
	}
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             desc,
		IncludeReservedNetworks: true,
		IPVersion:               6,
		RecordSize:              24,
	})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, rec); err != nil {
			t.Fatalf("insert %s: %v", cidr, err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// writeDB writes an mmdb to path.
func writeDB(t testing.TB, path, dbType string, nets map[string]mmdbtype.Map) {
	t.Helper()
	replaceFile(t, path, buildDB(t, dbType, nets))
}

// replaceFile replaces path atomically (temp file + rename), as
// geoipupdate does.
func replaceFile(t testing.TB, path string, data []byte) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mmdb-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// Test networks: documentation ranges stand in for real clients, and
// loopback is mapped too so connections over 127.0.0.1 have a country.
const (
	ipCN         = "1.2.3.4"       // CN, AS64496
	ipUS         = "2.2.3.4"       // US, AS64497
	ipRegDE      = "3.3.3.3"       // only a registered country: DE
	ipUnknown    = "9.9.9.9"       // not in any database
	ipCN6        = "2001:db8:1::5" // CN
	ipBlocked    = "203.0.113.7"
	ipBlocked6   = "2001:db8::1"
	cidrBlocked  = "198.51.100.0/24"
	ipInBlocked  = "198.51.100.5"
	ipOutBlocked = "198.51.101.5"
)

type testDBs struct {
	country, city, flat, asn         string
	dbipCountry, dbipASN, untypedASN string
}

// makeTestDBs writes one database per supported layout into a temp dir.
func makeTestDBs(t testing.TB) testDBs {
	t.Helper()
	dir := t.TempDir()
	dbs := testDBs{
		country: filepath.Join(dir, "GeoLite2-Country.mmdb"),
		city:    filepath.Join(dir, "GeoIP2-City.mmdb"),
		flat:    filepath.Join(dir, "ip-location-db-country.mmdb"),
		asn:     filepath.Join(dir, "GeoLite2-ASN.mmdb"),

		dbipCountry: filepath.Join(dir, "dbip-country-lite.mmdb"),
		dbipASN:     filepath.Join(dir, "dbip-asn-lite.mmdb"),
		untypedASN:  filepath.Join(dir, "ip-location-db-asn.mmdb"),
	}
	geo := func(rec func(string) mmdbtype.Map) map[string]mmdbtype.Map {
		return map[string]mmdbtype.Map{
			"1.0.0.0/8":        rec("CN"),
			"2.0.0.0/8":        rec("US"),
			"3.0.0.0/8":        maxmindRegistered("DE"),
			"2001:db8:1::/48":  rec("CN"),
			"127.0.0.0/8":      rec("CN"),
			"::1/128":          rec("CN"),
			"198.51.100.0/24":  rec("FR"),
			"2001:db8:2::/48":  rec("US"),
			"203.0.113.0/24":   rec("US"),
			"192.0.2.0/24":     rec("GB"),
			"2001:db8:5::/48":  rec("US"),
			"2001:db8:ff::/48": rec("JP"),
		}
	}
	writeDB(t, dbs.country, "GeoLite2-Country", geo(maxmindCountry))
	writeDB(t, dbs.city, "GeoIP2-City", geo(maxmindCountry))
	flat := geo(flatCountry)
	flat["3.0.0.0/8"] = flatCountry("DE")
	writeDB(t, dbs.flat, "ip-location-db", flat)
	asns := map[string]mmdbtype.Map{
		"1.0.0.0/8":       asnRecord(64496),
		"2.0.0.0/8":       asnRecord(64497),
		"2001:db8:1::/48": asnRecord(64496),
		"127.0.0.0/8":     asnRecord(64496),
	}
	writeDB(t, dbs.asn, "GeoLite2-ASN", asns)
	writeDB(t, dbs.dbipCountry, "DBIP-Country-Lite", geo(maxmindCountry))
	writeDB(t, dbs.dbipASN, "DBIP-ASN-Lite (compat=GeoLite2-ASN)", asns)
	// No hint in the type: detected from the records.
	writeDB(t, dbs.untypedASN, "ip-location-db", asns)
	return dbs
}

// repoRoot is the module root, found from this file's location.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// sharedData returns a path under ../shared/data/geoip, skipping the test
// when the data is not on this machine.
func sharedData(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{repoRoot(), "..", "shared", "data", "geoip"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s not present: %v", p, err)
	}
	return p
}
