package rrl

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coredns/caddy"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		input   string
		keys    []string // server block keys
		wantErr string   // substring; empty means success
		check   func(config, []string) bool
	}{
		{input: "rrl", keys: []string{"."}, check: func(c config, z []string) bool {
			return c.rates == [numCategories]int{10, 10, 10, 10, 10} && c.window == 15*time.Second && c.slip == 2 &&
				c.ipv4Bits == 24 && c.ipv6Bits == 56 && c.maxTableSize == 100000 && !c.reportOnly &&
				slices.Equal(z, []string{"."})
		}},
		{input: "rrl example.org Example.NET. {\n responses-per-second 20\n nxdomains-per-second 5\n errors-per-second 0\n}",
			check: func(c config, z []string) bool {
				return c.rates == [numCategories]int{catResponse: 20, catNodata: 20, catNXDomain: 5, catReferral: 20, catError: 0} &&
					slices.Equal(z, []string{"example.org.", "example.net."})
			}},
		{input: "rrl {\n nodata-per-second 3\n referrals-per-second 4\n window 5\n slip 0\n ipv4-prefix-length 32\n ipv6-prefix-length 64\n max-table-size 500\n report-only\n}",
			check: func(c config, _ []string) bool {
				return c.rates == [numCategories]int{10, 3, 10, 4, 10} && c.window == 5*time.Second && c.slip == 0 &&
					c.ipv4Bits == 32 && c.ipv6Bits == 64 && c.maxTableSize == 500 && c.reportOnly
			}},
		{input: "rrl {\n window 90s\n slip-ratio 3\n}", check: func(c config, _ []string) bool {
			return c.window == 90*time.Second && c.slip == 3
		}},
		{input: "rrl {\n exempt 10.0.0.0/8 192.0.2.1\n exempt 2001:db8::/32\n}", check: func(c config, _ []string) bool {
			return slices.Equal(c.exempt, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"),
				netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::/32")})
		}},
		// A placeholder from the environment is one token holding several networks.
		{input: "rrl {\n exempt \"127.0.0.0/8 ::1/128  100.64.0.0/10\"\n}", check: func(c config, _ []string) bool {
			return slices.Equal(c.exempt, []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"),
				netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("100.64.0.0/10")})
		}},
		{input: "rrl {\n exempt \"\"\n}", wantErr: "Testfile:2 - Error during parsing: exempt: no networks given"},
		{input: "rrl {\n bogus\n}", wantErr: `Testfile:2 - Error during parsing: unknown property "bogus"`},
		{input: "rrl {\n bogus 1\n}", wantErr: `Testfile:2 - Error during parsing: unknown property "bogus"`},
		{input: "rrl {\n responses-per-second\n}", wantErr: "Testfile:2 - Error during parsing: Wrong argument count"},
		{input: "rrl {\n responses-per-second 1 2\n}", wantErr: "Testfile:2 - Error during parsing: Wrong argument count"},
		{input: "rrl {\n\n responses-per-second ten\n}", wantErr: `Testfile:3 - Error during parsing: responses-per-second: "ten" is not a number`},
		{input: "rrl {\n errors-per-second -1\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n window 0\n}", wantErr: `Testfile:2 - Error during parsing: window: "0"`},
		{input: "rrl {\n window 2h\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n window soon\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n slip 11\n}", wantErr: `slip: "11" is not a number from 0 to 10`},
		{input: "rrl {\n ipv4-prefix-length 33\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n ipv6-prefix-length 129\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n max-table-size 0\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n exempt\n}", wantErr: "Testfile:2 - Error during parsing: exempt: no networks given"},
		{input: "rrl {\n exempt 10.0.0.0/33\n}", wantErr: `Testfile:2 - Error during parsing: exempt: "10.0.0.0/33"`},
		{input: "rrl {\n exempt example.org\n}", wantErr: "Testfile:2"},
		{input: "rrl {\n report-only yes\n}", wantErr: "Testfile:2 - Error during parsing: Wrong argument count"},
		{input: "rrl {\n slip 1\n slip-ratio 2\n}", wantErr: "Testfile:3 - Error during parsing: slip given twice"},
		{input: "rrl {\n window 1\n window 2\n}", wantErr: "Testfile:3"},
		{input: "rrl\nrrl", wantErr: "only be used once"},
	} {
		c := caddy.NewTestController("dns", tc.input)
		c.ServerBlockKeys = tc.keys
		cfg, zones, err := parse(c)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err %v, want %q", tc.input, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.input, err)
			continue
		}
		if !tc.check(cfg, zones) {
			t.Errorf("%q: config %+v, zones %v", tc.input, cfg, zones)
		}
	}
}

func TestSetup(t *testing.T) {
	c := caddy.NewTestController("dns", "rrl {\n responses-per-second 5\n}")
	if err := setup(c); err != nil {
		t.Fatal(err)
	}
	c = caddy.NewTestController("dns", "rrl {\n slip many\n}")
	err := setup(c)
	if err == nil || !strings.Contains(err.Error(), "plugin/rrl: Testfile:2") {
		t.Fatalf("bad Corefile: err %v, want one naming the plugin and line", err)
	}
}
