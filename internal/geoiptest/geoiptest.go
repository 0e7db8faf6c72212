// Package geoiptest writes small MaxMind-format databases for tests and
// local runs, in the layouts the real producers use.
package geoiptest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// Country is a record in the GeoLite2/GeoIP2 Country layout.
func Country(isoCode string) mmdbtype.Map {
	return mmdbtype.Map{
		"country": mmdbtype.Map{
			"iso_code":   mmdbtype.String(isoCode),
			"geoname_id": mmdbtype.Uint32(1),
			"names":      mmdbtype.Map{"en": mmdbtype.String(isoCode)},
		},
	}
}

// ASN is a record in the GeoLite2/GeoIP2 ASN layout (DB-IP's ASN lite
// database uses the same).
func ASN(number uint32, org string) mmdbtype.Map {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(number),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// City is a record in the GeoLite2/GeoIP2 City layout: the Country record
// plus the city's name.
func City(isoCode, city string) mmdbtype.Map {
	rec := Country(isoCode)
	rec["city"] = mmdbtype.Map{
		"geoname_id": mmdbtype.Uint32(2),
		"names":      mmdbtype.Map{"en": mmdbtype.String(city)},
	}
	return rec
}

// FlatCountry is a record in the flat layout of ip-location-db's country
// databases.
func FlatCountry(isoCode string) mmdbtype.Map {
	return mmdbtype.Map{"country_code": mmdbtype.String(isoCode)}
}

// Options returns the writer options Write uses for a database of the given
// type. Reserved networks (loopback, documentation ranges) are allowed,
// since tests use them.
func Options(dbType string) mmdbwriter.Options {
	return mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "edge test data"},
		IncludeReservedNetworks: true,
		IPVersion:               6,
		RecordSize:              24,
	}
}

// Write writes a database of the given type (e.g. "GeoLite2-Country")
// mapping each CIDR to its record. It writes a temporary file and renames it
// into place, as geoipupdate does, so a reader never sees half a file.
// The writer options are those of Options.
func Write(path, dbType string, nets map[string]mmdbtype.Map) error {
	return WriteWith(path, Options(dbType), nets)
}

// WriteWith is Write with the given writer options, e.g. without a
// description, as some producers write.
func WriteWith(path string, opts mmdbwriter.Options, nets map[string]mmdbtype.Map) error {
	w, err := mmdbwriter.New(opts)
	if err != nil {
		return err
	}
	// Wider networks first: an insert replaces whatever it covers, so a
	// more specific network must come after the one it sits in.
	type entry struct {
		cidr string
		n    *net.IPNet
	}
	entries := make([]entry, 0, len(nets))
	for cidr := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return err
		}
		entries = append(entries, entry{cidr, n})
	}
	sort.Slice(entries, func(i, j int) bool {
		oi, _ := entries[i].n.Mask.Size()
		oj, _ := entries[j].n.Mask.Size()
		if oi != oj {
			return oi < oj
		}
		return entries[i].cidr < entries[j].cidr
	})
	for _, e := range entries {
		if err := w.Insert(e.n, nets[e.cidr]); err != nil {
			return fmt.Errorf("insert %s: %w", e.cidr, err)
		}
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mmdb-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := w.WriteTo(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
