package geofilter

import (
	"net/netip"
	"path/filepath"
	"testing"

	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/metacircular/edge/internal/geoiptest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// TestIPv4OnlyDatabase checks that IPv6 clients are quietly "not in the
// database" when the database holds IPv4 networks only.
func TestIPv4OnlyDatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "v4-country.mmdb")
	opts := geoiptest.Options("GeoLite2-Country")
	opts.IPVersion = 4
	err := geoiptest.WriteWith(path, opts, map[string]mmdbtype.Map{
		"1.0.0.0/8": geoiptest.Country("CN"),
		"2.0.0.0/8": geoiptest.Country("US"),
	})
	if err != nil {
		t.Fatal(err)
	}
	asnPath := filepath.Join(t.TempDir(), "v4-asn.mmdb")
	opts = geoiptest.Options("GeoLite2-ASN")
	opts.IPVersion = 4
	if err := geoiptest.WriteWith(asnPath, opts, map[string]mmdbtype.Map{"1.0.0.0/8": asnRecord(64496)}); err != nil {
		t.Fatal(err)
	}

	core, logs := observer.New(zapcore.DebugLevel)
	f := Filter{DB: []string{path, asnPath}, AllowCountries: []string{"US"}, BlockASN: []uint32{64497}, UnknownCountry: "block"}
	p, err := f.provision(zap.New(core), "test", filterNames)
	if err != nil {
		t.Fatal(err)
	}
	defer p.cleanup()

	for _, c := range []struct {
		ip, reason string
		asn        uint32
	}{
		{ipUS, "", 0},
		{ipCN, reasonCountry, 0},
		{ipCN6, reasonUnknownCountry, 0},
		{"::ffff:" + ipUS, "", 0},
	} {
		v := p.check(netip.MustParseAddr(c.ip))
		if v.reason != c.reason {
			t.Errorf("%s: reason %q, want %q", c.ip, v.reason, c.reason)
		}
	}
	if a := p.asn(netip.MustParseAddr(ipCN6)); a != 0 {
		t.Errorf("IPv6 client has AS%d in an IPv4 database", a)
	}
	if a := p.asn(netip.MustParseAddr(ipCN)); a != 64496 {
		t.Errorf("IPv4 client: AS%d, want 64496", a)
	}
	for _, e := range logs.All() {
		t.Errorf("logged %q %v", e.Message, e.ContextMap())
	}
}
