package geofilter

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gaissmai/bart"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/clientaddr"
)

func init() {
	caddy.RegisterModule(MatchGeo{})
}

// MatchGeo matches requests by where the client IP is: its country, its
// autonomous system or its network. A request matches when any one of the
// given conditions holds. Clients the databases do not know match no
// country or AS number. Databases are shared with (and reloaded like)
// those of the geofilter handler.
type MatchGeo struct {
	// MaxMind DB files to look clients up in; needed for countries and asn.
	DB []string `json:"db,omitempty"`
	// ISO 3166-1 alpha-2 country codes.
	Countries []string `json:"country,omitempty"`
	// Autonomous system numbers.
	ASN []uint32 `json:"asn,omitempty"`
	// Networks in CIDR notation, or single addresses.
	CIDRs []string `json:"cidr,omitempty"`
	// Match clients on the runtime block list or banned by a geofilter
	// handler's ban option.
	Blocked bool `json:"blocked,omitempty"`

	// match is the conditions compiled (see conditions): a client matches
	// when match would block it.
	match *policy
}

// CaddyModule returns the Caddy module information.
func (MatchGeo) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "http.matchers.geo",
		New: func() caddy.Module { return new(MatchGeo) },
	}
}

// Validate checks the configuration.
func (m *MatchGeo) Validate() error {
	if len(m.Countries) == 0 && len(m.ASN) == 0 && len(m.CIDRs) == 0 && !m.Blocked {
		return errors.New("geo: needs at least one of country, asn, cidr or blocked")
	}
	if (len(m.Countries) > 0 || len(m.ASN) > 0) && len(m.DB) == 0 {
		return errors.New("geo: country and asn need a db")
	}
	if _, err := normalizeCountries(m.Countries); err != nil {
		return fmt.Errorf("geo: %w", err)
	}
	for _, a := range m.ASN {
		if a == 0 {
			return errors.New("geo: 0 is not an AS number")
		}
	}
	for _, s := range m.CIDRs {
		if _, err := parseCIDR(s); err != nil {
			return fmt.Errorf("geo: %w", err)
		}
	}
	return nil
}

// Provision loads the databases.
func (m *MatchGeo) Provision(ctx caddy.Context) error {
	if err := m.Validate(); err != nil {
		return err
	}
	logger := ctx.Logger()
	warnLaxTrustedProxies(ctx, logger)
	conds := m.conditions()
	p, err := conds.provision(logger, "", matchNames)
	if err != nil {
		return fmt.Errorf("geo: %w", err)
	}
	if p.cidrs == nil {
		p.cidrs = new(bart.Lite)
	}
	m.match = p
	if m.Blocked {
		return p.joinBlockList(ctx)
	}
	return nil
}

// conditions returns the matcher's conditions in the terms of the
// handler's filter, which are those of blocking: the Filter that blocks
// exactly the clients in the matcher's countries, autonomous systems and
// networks. Compiled, it opens and shares the databases as the handler's
// do, and MatchWithError asks its sets rather than its verdict.
func (m *MatchGeo) conditions() Filter {
	return Filter{DB: m.DB, BlockCountries: m.Countries, BlockASN: m.ASN, BlockCIDRs: m.CIDRs}
}

// matchNames name the matcher's options in errors about its conditions.
var matchNames = optionNames{db: "db", blockCountries: "country", allowCountries: "country", blockASN: "asn"}

// Cleanup releases the databases.
func (m *MatchGeo) Cleanup() error {
	if m.match != nil {
		m.match.cleanup()
	}
	return nil
}

// MatchWithError returns true if the client is in one of the countries,
// autonomous systems or networks.
func (m *MatchGeo) MatchWithError(r *http.Request) (bool, error) {
	if r.TLS != nil && !r.TLS.HandshakeComplete {
		return false, caddyhttp.Error(http.StatusTooEarly, errors.New("geo: TLS handshake not complete, client address cannot be verified"))
	}
	ip, ok := clientaddr.Of(r)
	if !ok {
		m.match.logger.Error("no valid client address", zap.String("remote_addr", r.RemoteAddr))
		return false, nil
	}
	if m.match.cidrs.Contains(ip) {
		return true, nil
	}
	if m.match.blocks != nil {
		if reason, _ := m.match.blocks.check(ip); reason != "" {
			return true, nil
		}
	}
	if m.match.useCountry && m.match.countries.has(m.match.country(ip)) {
		return true, nil
	}
	if m.match.asns != nil {
		if _, ok := m.match.asns[m.match.asn(ip)]; ok {
			return true, nil
		}
	}
	return false, nil
}

// Match implements the older caddyhttp.RequestMatcher interface.
func (m *MatchGeo) Match(r *http.Request) bool {
	ok, err := m.MatchWithError(r)
	if err != nil {
		caddyhttp.SetVar(r.Context(), caddyhttp.MatcherErrorVarKey, err)
	}
	return ok
}

// Interface guards
var (
	_ caddy.Provisioner                 = (*MatchGeo)(nil)
	_ caddy.Validator                   = (*MatchGeo)(nil)
	_ caddy.CleanerUpper                = (*MatchGeo)(nil)
	_ caddyhttp.RequestMatcherWithError = (*MatchGeo)(nil)
)
