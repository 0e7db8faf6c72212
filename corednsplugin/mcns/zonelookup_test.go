package mcns

import (
	"fmt"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

// lookupSnapshot is a snapshot serving names (data is never read by
// zoneOf) plus unserved, kept in the map without an SOA.
func lookupSnapshot(names, unserved []string) *snapshot {
	s := &snapshot{zones: map[string]*servedZone{}}
	for _, n := range names {
		s.zones[n] = &servedZone{data: &zoneCopy{}}
		s.names = append(s.names, n)
	}
	for _, n := range unserved {
		s.zones[n] = &servedZone{}
	}
	return s
}

// TestZoneOfMatchesLongestSuffix checks zoneOf against plugin.Zones.Matches
// (what it replaced) over nested zones, an unserved zone between served
// ones, escaped dots, the root zone and 2,000 siblings, and that it does
// not allocate.
func TestZoneOfMatchesLongestSuffix(t *testing.T) {
	names := []string{"example.org.", "sub.example.org.", "deep.a.sub.example.org.", `dot\.ted.example.org.`, "net."}
	for i := 0; i < 2000; i++ {
		names = append(names, fmt.Sprintf("z-%d.test.", i))
	}
	unserved := []string{"b.sub.example.org.", "test."}
	queries := []string{
		"example.org.", "www.example.org.", "sub.example.org.", "x.sub.example.org.",
		"a.sub.example.org.", "deep.a.sub.example.org.", "x.deep.a.sub.example.org.",
		"b.sub.example.org.", "x.b.sub.example.org.", `dot\.ted.example.org.`, `x.dot\.ted.example.org.`,
		"ted.example.org.", "org.", "example.com.", "net.", "a.b.c.net.", "test.", "z-1999.test.",
		"www.z-17.test.", "z-2000.test.", "z-17.test.example.org.", ".",
	}
	for _, withRoot := range []bool{false, true} {
		ns := names
		if withRoot {
			ns = append(ns[:len(ns):len(ns)], ".")
		}
		snap := lookupSnapshot(ns, unserved)
		for _, q := range queries {
			want := plugin.Zones(snap.names).Matches(q)
			if got := snap.zoneOf(q); got != want {
				t.Errorf("root zone %v: zoneOf(%q) = %q, Matches gives %q", withRoot, q, got, want)
			}
		}
		if allocs := testing.AllocsPerRun(100, func() { snap.zoneOf("x.deep.a.sub.example.org.") }); allocs != 0 {
			t.Errorf("zoneOf allocates %v times per lookup", allocs)
		}
	}
}

// TestOnlyThisZoneWithNestedZones checks the answer cache's test of where
// records come from: a CNAME into a nested zone, an owner in another
// case, and one outside every zone.
func TestOnlyThisZoneWithNestedZones(t *testing.T) {
	snap := lookupSnapshot([]string{"example.org.", "sub.example.org."}, nil)
	rr := func(s string) dns.RR {
		r, err := dns.NewRR(s)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, tc := range []struct {
		rr   string
		want bool
	}{
		{"www.example.org. 300 IN A 192.0.2.1", true},
		{"WWW.Example.ORG. 300 IN A 192.0.2.1", true},
		{"www.example.org. 300 IN CNAME host.example.org.", true},
		{"www.example.org. 300 IN CNAME host.sub.example.org.", false},
		{"www.example.org. 300 IN CNAME host.SUB.example.org.", false},
		{"www.example.org. 300 IN CNAME host.example.com.", false},
		{"host.sub.example.org. 300 IN A 192.0.2.1", false},
	} {
		if got := onlyThisZone([]dns.RR{rr(tc.rr)}, "example.org.", snap); got != tc.want {
			t.Errorf("%s: onlyThisZone = %v, want %v", tc.rr, got, tc.want)
		}
	}
}
