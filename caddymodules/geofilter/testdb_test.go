package geofilter

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"

	"github.com/metacircular/edge/internal/geoiptest"
	"github.com/metacircular/edge/internal/testutil"
)

// maxmindRegistered is a MaxMind record with only the registered country,
// as for networks whose users' location is unknown.
func maxmindRegistered(cc string) mmdbtype.Map {
	return mmdbtype.Map{
		"registered_country": mmdbtype.Map{"iso_code": mmdbtype.String(cc)},
	}
}

func asnRecord(n uint32) mmdbtype.Map { return geoiptest.ASN(n, "Example AS") }

func cityRecord(cc string) mmdbtype.Map { return geoiptest.City(cc, "Somewhere") }

// writeDB writes an mmdb to path, atomically. ip-location-db databases are
// written without a description, as that producer does.
func writeDB(t testing.TB, path, dbType string, nets map[string]mmdbtype.Map) {
	t.Helper()
	opts := geoiptest.Options(dbType)
	if dbType == "ip-location-db" {
		opts.Description = nil
	}
	if err := geoiptest.WriteWith(path, opts, nets); err != nil {
		t.Fatal(err)
	}
}

// buildDB returns an mmdb holding nets, for tests that write it many times.
func buildDB(t testing.TB, dbType string, nets map[string]mmdbtype.Map) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "build.mmdb")
	writeDB(t, path, dbType, nets)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
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
	writeDB(t, dbs.country, "GeoLite2-Country", geo(geoiptest.Country))
	writeDB(t, dbs.city, "GeoIP2-City", geo(cityRecord))
	flat := geo(geoiptest.FlatCountry)
	flat["3.0.0.0/8"] = geoiptest.FlatCountry("DE")
	writeDB(t, dbs.flat, "ip-location-db", flat)
	asns := map[string]mmdbtype.Map{
		"1.0.0.0/8":       asnRecord(64496),
		"2.0.0.0/8":       asnRecord(64497),
		"2001:db8:1::/48": asnRecord(64496),
		"127.0.0.0/8":     asnRecord(64496),
	}
	writeDB(t, dbs.asn, "GeoLite2-ASN", asns)
	writeDB(t, dbs.dbipCountry, "DBIP-Country-Lite", geo(geoiptest.Country))
	writeDB(t, dbs.dbipASN, "DBIP-ASN-Lite (compat=GeoLite2-ASN)", asns)
	// No hint in the type: detected from the records.
	writeDB(t, dbs.untypedASN, "ip-location-db", asns)
	return dbs
}

// sharedData returns a path under ../shared/data/geoip, skipping the test
// when the data is not on this machine.
func sharedData(t testing.TB, elem ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{testutil.RepoRoot(t), "..", "shared", "data", "geoip"}, elem...)...)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("test data %s not present: %v", p, err)
	}
	return p
}
