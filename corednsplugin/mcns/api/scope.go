package api

import (
	"fmt"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// A Scope limits a principal to some names and types of one zone. Its text
// form, used in the tokens file, by mcns-token and by update_policy grants,
// is ZONE:PATTERN:TYPES:
//
//	ZONE     the zone, with or without the trailing dot
//	PATTERN  one of
//	         @          the zone apex
//	         NAME       exactly that name; relative to ZONE unless it ends
//	                    in a dot
//	         *.NAME     every name strictly below NAME (one or more labels,
//	                    like BIND's update-policy "subdomain" without NAME
//	                    itself); NAME as above
//	         LABELS.*   every name whose leftmost labels are LABELS, at the
//	                    apex or above any name of the zone: LABELS.ZONE and
//	                    LABELS.H.ZONE for any H. LABELS is relative, one or
//	                    more labels without '*'. The ACME form:
//	                    _acme-challenge.* covers the DNS-01 challenge name
//	                    of the zone and of every host in it, and nothing
//	                    else (not _acme-challenge's own subdomains, not
//	                    x._acme-challenge)
//	TYPES    comma-separated record types, or * (or ANY) for every type
//	         but SOA, which only an unscoped principal may change
//
// Matching is case-insensitive. A principal with scopes may read only the
// zones its scopes name, and write only matching names and types. /v1,
// the PowerDNS API and UPDATE grants all decide through Matches.
type Scope struct {
	Zone     string          // canonical, lower case, trailing dot
	Name     string          // canonical owner name, the parent for a wildcard, LABELS.ZONE for a prefix
	Wildcard bool            // Name's strict subdomains match, Name does not
	Prefix   string          // LABELS with its trailing dot for LABELS.*; "" otherwise
	Types    map[uint16]bool // nil: every type but SOA
}

// ParseScope reads the ZONE:PATTERN:TYPES form.
func ParseScope(s string) (Scope, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Scope{}, fmt.Errorf("scope %q: want ZONE:PATTERN:TYPES", s)
	}
	zone, pattern, types := parts[0], parts[1], parts[2]
	if zone == "" || pattern == "" || types == "" {
		return Scope{}, fmt.Errorf("scope %q: zone, pattern and types must all be given", s)
	}
	zone = strings.ToLower(dns.Fqdn(zone))
	if _, ok := dns.IsDomainName(zone); !ok || strings.Contains(zone, "*") {
		return Scope{}, fmt.Errorf("scope %q: %q is not a zone name", s, parts[0])
	}
	sc := Scope{Zone: zone}
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		sc.Wildcard, pattern = true, rest
	} else if labels, ok := strings.CutSuffix(pattern, ".*"); ok {
		// Relative only: an absolute LABELS would name one zone's hosts
		// and so mean nothing different from NAME.
		if labels == "" || labels == "@" || strings.HasSuffix(labels, ".") || strings.ContainsAny(labels, "*\\") {
			return Scope{}, fmt.Errorf("scope %q: %q is not a LABELS.* pattern (LABELS: relative labels without '*')", s, parts[1])
		}
		sc.Prefix, pattern = strings.ToLower(labels)+".", labels
	}
	name, err := scopeName(pattern, zone)
	if err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", s, err)
	}
	sc.Name = name
	if sc.Types, err = scopeTypes(types); err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", s, err)
	}
	return sc, nil
}

// scopeName makes a pattern's name absolute and checks it lies in zone.
func scopeName(pattern, zone string) (string, error) {
	var name string
	switch {
	case pattern == "@":
		name = zone
	case strings.HasSuffix(pattern, "."):
		name = strings.ToLower(pattern)
	default:
		name = strings.ToLower(pattern) + "." + zone
		if zone == "." {
			name = strings.ToLower(pattern) + "."
		}
	}
	if _, ok := dns.IsDomainName(name); !ok || strings.Contains(name, "*") {
		return "", fmt.Errorf("%q is not a name or *.name pattern", pattern)
	}
	if !dns.IsSubDomain(zone, name) {
		return "", fmt.Errorf("%q is not in zone %s", pattern, zone)
	}
	return name, nil
}

// scopeTypes reads "*", "ANY" or a comma-separated list of type mnemonics.
func scopeTypes(s string) (map[uint16]bool, error) {
	if s == "*" || strings.EqualFold(s, "ANY") {
		return nil, nil
	}
	out := make(map[uint16]bool)
	for _, t := range strings.Split(s, ",") {
		code, ok := dns.StringToType[strings.ToUpper(t)]
		if !ok || code == dns.TypeANY {
			return nil, fmt.Errorf("%q is not a record type", t)
		}
		out[code] = true
	}
	return out, nil
}

// String gives the scope back in its text form.
func (sc Scope) String() string {
	pattern := sc.Name
	if sc.Name == sc.Zone {
		pattern = "@"
	}
	if sc.Prefix != "" {
		pattern = sc.Prefix + "*"
	}
	if sc.Wildcard {
		pattern = "*." + pattern
	}
	types := "*"
	if sc.Types != nil {
		var ts []string
		for t := range sc.Types {
			ts = append(ts, dns.TypeToString[t])
		}
		slices.Sort(ts)
		types = strings.Join(ts, ",")
	}
	return sc.Zone + ":" + pattern + ":" + types
}

// Matches reports whether the scope covers records of rrtype owned by name
// in zone. SOA is never covered: the zone's settings are not a scope's.
func (sc Scope) Matches(zone, name string, rrtype uint16) bool {
	if rrtype == dns.TypeSOA || !strings.EqualFold(dns.Fqdn(zone), sc.Zone) {
		return false
	}
	if sc.Types != nil && !sc.Types[rrtype] {
		return false
	}
	name = strings.ToLower(dns.Fqdn(name))
	if sc.Wildcard {
		return name != sc.Name && dns.IsSubDomain(sc.Name, name)
	}
	if sc.Prefix != "" && name != sc.Name {
		// The labels after LABELS must be the zone or a name in it;
		// CutPrefix on the dotted LABELS keeps to label boundaries.
		rest, ok := strings.CutPrefix(name, sc.Prefix)
		return ok && rest != "" && dns.IsSubDomain(sc.Zone, rest)
	}
	return name == sc.Name
}

// MaySee reports whether p may read zone (a canonical zone name with its
// trailing dot).
func (p *Principal) MaySee(zone string) bool {
	if len(p.Scopes) == 0 {
		return true
	}
	for _, sc := range p.Scopes {
		if strings.EqualFold(dns.Fqdn(zone), sc.Zone) {
			return true
		}
	}
	return false
}

// MayChange reports whether p may add, change or delete records of type
// rrtype owned by name (fully qualified, trailing dot) in zone.
func (p *Principal) MayChange(zone, name string, rrtype uint16) bool {
	if len(p.Scopes) == 0 {
		return true
	}
	for _, sc := range p.Scopes {
		if sc.Matches(zone, name, rrtype) {
			return true
		}
	}
	return false
}

// MayManageZones reports whether p may create or delete whole zones and
// change their settings; a scoped principal may not.
func (p *Principal) MayManageZones() bool { return len(p.Scopes) == 0 }
