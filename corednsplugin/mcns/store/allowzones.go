package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/coredns/coredns/plugin"
)

// SetAllowedZones limits every write, and so every zone creation, to zones
// at or below one of suffixes (canonical FQDNs; "." allows any zone). nil
// lifts the limit. It guards against an API admin or a signed UPDATE
// creating, say, "com." and having it answered authoritatively to everyone.
// Call it before the store is shared.
func (s *Store) SetAllowedZones(suffixes []string) {
	s.allowZones = nil
	for _, z := range suffixes {
		s.allowZones = append(s.allowZones, canonical(z))
	}
}

// checkAllowed refuses a write to zone outside the allowed suffixes.
func (s *Store) checkAllowed(zone string) error {
	if s.allowZones == nil || plugin.Zones(s.allowZones).Matches(zone) != "" {
		return nil
	}
	return fmt.Errorf("%w: zone %s is outside allow_zones (%s)", ErrForbidden, zone, strings.Join(s.allowZones, " "))
}

// ZonesOutsideAllowed lists the database's zones outside the allowed
// suffixes (from before allow_zones was set, or written by another
// program): they are still served, but mcns will not change them.
func (s *Store) ZonesOutsideAllowed(ctx context.Context) ([]string, error) {
	if s.allowZones == nil {
		return nil, nil
	}
	zones, err := s.Zones(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, z := range zones {
		if s.checkAllowed(canonical(z.Name)) != nil {
			out = append(out, z.Name)
		}
	}
	return out, nil
}
