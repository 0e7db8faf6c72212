package mcns

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// parseAllowZones reads allow_zones's suffixes: the zones the API, UPDATE
// and seeding may create or change are these and the zones below them.
// Like recursion_allow, an argument may hold several space-separated
// names, so one placeholder can carry the list.
func parseAllowZones(args []string) ([]string, error) {
	var zones []string
	for _, arg := range args {
		for _, f := range strings.Fields(arg) {
			z := canonicalZone(f)
			if _, ok := dns.IsDomainName(z); !ok {
				return nil, fmt.Errorf("allow_zones: bad zone name %q", f)
			}
			zones = append(zones, z)
		}
	}
	if len(zones) == 0 {
		return nil, fmt.Errorf("allow_zones needs at least one zone (is its placeholder empty?)")
	}
	return zones, nil
}
