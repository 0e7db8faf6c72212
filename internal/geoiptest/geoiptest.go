// Package geoiptest writes small MaxMind-format databases for tests and
// local runs, in the layouts the real producers use.
package geoiptest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

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

// Write writes a database of the given type (e.g. "GeoLite2-Country")
// mapping each CIDR to its record. It writes a temporary file and renames it
// into place, as geoipupdate does, so a reader never sees half a file.
// Reserved networks (loopback, documentation ranges) are allowed, since
// tests use them.
func Write(path, dbType string, nets map[string]mmdbtype.Map) error {
	w, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            dbType,
		Description:             map[string]string{"en": "edge test data"},
		IncludeReservedNetworks: true,
		IPVersion:               6,
		RecordSize:              24,
	})
	if err != nil {
		return err
	}
	for cidr, rec := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			return err
		}
		if err := w.Insert(n, rec); err != nil {
			return fmt.Errorf("insert %s: %w", cidr, err)
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
