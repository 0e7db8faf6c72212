package geofilter

import (
	"github.com/metacircular/edge/internal/geoiptest"
	"go.uber.org/zap"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter/mmdbtype"
)

func TestDatabaseLayouts(t *testing.T) {
	dbs := makeTestDBs(t)
	for _, tc := range []struct {
		path string
		kind dbKind
	}{
		{dbs.country, kindCountry},
		{dbs.city, kindCountry},
		{dbs.flat, kindCountry},
		{dbs.asn, kindASN},
		{dbs.dbipCountry, kindCountry},
		{dbs.dbipASN, kindASN},
		{dbs.untypedASN, kindASN},
	} {
		t.Run(filepath.Base(tc.path), func(t *testing.T) {
			v, _, err := openVersion(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if v.kind != tc.kind {
				t.Fatalf("kind = %s, want %s", v.kind, tc.kind)
			}
			if tc.kind == kindASN {
				for ip, want := range map[string]uint32{ipCN: 64496, ipUS: 64497, ipUnknown: 0, ipCN6: 64496} {
					got, err := v.asn(netip.MustParseAddr(ip))
					if err != nil || got != want {
						t.Errorf("asn(%s) = %d, %v; want %d", ip, got, err, want)
					}
				}
				return
			}
			for ip, want := range map[string]string{ipCN: "CN", ipUS: "US", ipRegDE: "DE", ipUnknown: "", ipCN6: "CN", "127.0.0.1": "CN", "::1": "CN"} {
				// twice: the second answer comes from the cache
				for range 2 {
					got, err := v.country(netip.MustParseAddr(ip))
					if err != nil || got.String() != want {
						t.Errorf("country(%s) = %q, %v; want %q", ip, got, err, want)
					}
				}
			}
		})
	}
}

func TestMaxMindTestDatabases(t *testing.T) {
	dir := sharedData(t, "maxmind-test")
	for _, tc := range []struct {
		file    string
		kind    dbKind
		ip      string
		country string
		asn     uint32
	}{
		{"GeoIP2-Country-Test.mmdb", kindCountry, "81.2.69.160", "GB", 0},
		{"GeoLite2-Country-Test.mmdb", kindCountry, "81.2.69.160", "GB", 0},
		{"GeoIP2-City-Test.mmdb", kindCountry, "81.2.69.160", "GB", 0},
		{"GeoLite2-City-Test.mmdb", kindCountry, "81.2.69.160", "GB", 0},
		{"GeoLite2-ASN-Test.mmdb", kindASN, "1.128.0.0", "", 1221},
	} {
		t.Run(tc.file, func(t *testing.T) {
			v, _, err := openVersion(filepath.Join(dir, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if v.kind != tc.kind {
				t.Fatalf("kind = %s, want %s", v.kind, tc.kind)
			}
			ip := netip.MustParseAddr(tc.ip)
			if tc.kind == kindASN {
				if a, err := v.asn(ip); err != nil || a != tc.asn {
					t.Fatalf("asn(%s) = %d, %v; want %d", ip, a, err, tc.asn)
				}
				return
			}
			if c, err := v.country(ip); err != nil || c.String() != tc.country {
				t.Fatalf("country(%s) = %q, %v; want %q", ip, c, err, tc.country)
			}
		})
	}
}

func TestBrokenDatabases(t *testing.T) {
	dir := sharedData(t, "maxmind-test")
	for _, file := range []string{
		"GeoIP2-City-Test-Broken-Double-Format.mmdb",
		"GeoIP2-City-Test-Invalid-Node-Count.mmdb",
		"MaxMind-DB-test-broken-pointers-24.mmdb",
		"MaxMind-DB-test-broken-search-tree-24.mmdb",
	} {
		t.Run(file, func(t *testing.T) {
			p := filepath.Join(dir, file)
			err := loadError(p)
			if err == nil {
				t.Fatal("broken database accepted")
			}
			if !strings.Contains(err.Error(), "db "+p+": ") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestUnusableDatabases(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.mmdb")
	if err := os.WriteFile(garbage, []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	nodata := filepath.Join(dir, "nodata.mmdb")
	writeDB(t, nodata, "Something-Else", nil)
	for _, p := range []string{garbage, empty, nodata, filepath.Join(dir, "missing.mmdb"), dir} {
		if err := loadError(p); err == nil {
			t.Errorf("%s accepted", p)
		} else if !strings.Contains(err.Error(), "db "+p+": ") {
			t.Errorf("error does not name the file: %v", err)
		}
	}
}

// loadError provisions a filter using the database at path.
func loadError(path string) error {
	f := Filter{DB: []string{path}}
	p, err := f.provision(zap.NewNop(), "", filterNames)
	if err == nil {
		p.cleanup()
	}
	return err
}

func TestCountryCodes(t *testing.T) {
	for _, s := range []string{"US", "us", "Cn", "ZZ", "AA"} {
		c, err := parseCountry(s)
		if err != nil || c.String() != strings.ToUpper(s) {
			t.Errorf("parseCountry(%q) = %q, %v", s, c, err)
		}
	}
	for _, s := range []string{"", "U", "USA", "U1", "ü", "--"} {
		if _, err := parseCountry(s); err == nil {
			t.Errorf("parseCountry(%q) accepted", s)
		}
	}
	var set countrySet
	us, _ := parseCountry("US")
	set.add(us)
	if !set.has(us) || set.has(noCountry) {
		t.Fatal("countrySet")
	}
	if noCountry.String() != "" {
		t.Fatal("noCountry has a name")
	}
}

// TestDatabaseWatch checks that a replaced file is picked up by the poller
// alone, and that releasing the last user stops it.
func TestDatabaseWatch(t *testing.T) {
	old := checkInterval.Swap(int64(20 * time.Millisecond))
	defer checkInterval.Store(old)
	path := filepath.Join(t.TempDir(), "watched.mmdb")
	writeDB(t, path, "GeoLite2-Country", map[string]mmdbtype.Map{"1.0.0.0/8": geoiptest.Country("CN")})
	db, key, err := acquireDatabase(path)
	if err != nil {
		t.Fatal(err)
	}
	// A second user shares the loaded database.
	db2, key2, err := acquireDatabase(path)
	if err != nil || db2 != db {
		t.Fatalf("not shared: %v", err)
	}
	releaseDatabase(key2)
	ip := netip.MustParseAddr(ipCN)
	writeDB(t, path, "GeoLite2-Country", map[string]mmdbtype.Map{"1.0.0.0/8": geoiptest.Country("JP")})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, _ := db.cur.Load().country(ip); c.String() == "JP" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replacement not picked up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	releaseDatabase(key)
	select {
	case <-db.done:
	case <-time.After(5 * time.Second):
		t.Fatal("watcher still running after release")
	}
}
