package geofilter

import "fmt"

// A country is an ISO 3166-1 alpha-2 code packed into 0..675, so that sets of
// countries are fixed-size bitmaps and lookups never allocate.
type country uint16

// noCountry marks an address the databases have no country for.
const noCountry country = 0xFFFF

// parseCountry accepts a two-letter ISO 3166-1 alpha-2 code in either case.
func parseCountry(s string) (country, error) {
	if len(s) != 2 {
		return noCountry, fmt.Errorf("invalid country code %q: want a two-letter ISO 3166-1 alpha-2 code", s)
	}
	a, b := upper(s[0]), upper(s[1])
	if a < 'A' || a > 'Z' || b < 'A' || b > 'Z' {
		return noCountry, fmt.Errorf("invalid country code %q: want a two-letter ISO 3166-1 alpha-2 code", s)
	}
	return country(a-'A')*26 + country(b-'A'), nil
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// String returns the upper-case code, or "" for noCountry.
func (c country) String() string {
	if c >= 26*26 {
		return ""
	}
	return string([]byte{'A' + byte(c/26), 'A' + byte(c%26)})
}

// countrySet is a bitmap over all 676 possible codes.
type countrySet [(26*26 + 63) / 64]uint64

func (s *countrySet) add(c country) { s[c/64] |= 1 << (c % 64) }

func (s *countrySet) has(c country) bool {
	return c < 26*26 && s[c/64]&(1<<(c%64)) != 0
}

// normalizeCountries validates codes and returns them upper-cased, so the
// JSON written by the Caddyfile adapter is canonical.
func normalizeCountries(codes []string) ([]string, error) {
	out := make([]string, 0, len(codes))
	for _, code := range codes {
		c, err := parseCountry(code)
		if err != nil {
			return nil, err
		}
		out = append(out, c.String())
	}
	return out, nil
}
