package geofilter

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/gaissmai/bart"
	"go.uber.org/zap"
)

// Filter holds the options shared by the HTTP handler and the listener
// wrapper: which clients are refused and how often a client may come.
type Filter struct {
	// MaxMind DB files (.mmdb) to look clients up in. Several may be given,
	// e.g. a country and an ASN database. The files are opened when the
	// config is loaded (not when a Caddyfile is adapted); each is watched
	// and reloaded when it is replaced.
	DB []string `json:"db,omitempty"`
	// Clients located in these countries (ISO 3166-1 alpha-2) are blocked.
	BlockCountries []string `json:"block_countries,omitempty"`
	// Only clients located in these countries are allowed. Mutually
	// exclusive with BlockCountries.
	AllowCountries []string `json:"allow_countries,omitempty"`
	// Clients in these autonomous systems are blocked; needs a database
	// with ASN data.
	BlockASN []uint32 `json:"block_asn,omitempty"`
	// Client addresses that are blocked.
	BlockIPs []string `json:"block_ips,omitempty"`
	// Client networks that are blocked.
	BlockCIDRs []string `json:"block_cidrs,omitempty"`
	// Client networks that are never blocked and never rate limited.
	AllowCIDRs []string `json:"allow_cidrs,omitempty"`
	// What to do with clients the databases have no country for when
	// block_countries or allow_countries is set: "allow" (default) or
	// "block".
	UnknownCountry string `json:"unknown_country,omitempty"`
	// Per-client rate limit.
	RateLimit *RateLimit `json:"rate_limit,omitempty"`
	// Bans clients that the rate limit refuses again and again. Needs
	// RateLimit.
	Ban *Ban `json:"ban,omitempty"`
}

// Block reasons, used in logs and as the metric label.
const (
	reasonIP             = "ip"
	reasonCIDR           = "cidr"
	reasonCountry        = "country"
	reasonUnknownCountry = "unknown_country"
	reasonASN            = "asn"
	reasonRateLimit      = "rate_limit"
	reasonBadAddress     = "bad_address"
)

// verdict is the outcome for one client.
type verdict struct {
	reason     string // "" when allowed
	country    country
	asn        uint32
	retryAfter time.Duration
	// Set by locate: the country and AS are known (for placeholders).
	located bool
	as      *asnInfo
	// Set by a shared store's rate limit: requests left and the time
	// until the current window ends (for the RateLimit headers).
	stored bool
	quota  int64
	reset  time.Duration
}

// policy is a provisioned Filter.
type policy struct {
	logger *zap.Logger

	allow *bart.Lite
	ips   *bart.Lite
	cidrs *bart.Lite

	countryDBs []*database
	asnDBs     []*database
	dbKeys     []string

	countries    countrySet
	allowMode    bool // countries lists the allowed ones
	useCountry   bool
	unknownBlock bool
	asns         map[uint32]struct{}

	limiter    *limiter
	limiterKey string
	// The response decides whether a request counts (rate_limit_status):
	// check only asks whether one more would fit.
	countLater bool

	ban          *banPolicy
	store        *storeLimit // shared counters; nil without a store
	blocks       *blockList  // runtime blocks and bans; nil until joinBlockList
	joinedBlocks bool        // blocks is acquired and must be released
}

// validate checks what can be checked without touching the file system.
func (f *Filter) validate() error {
	if len(f.BlockCountries) > 0 && len(f.AllowCountries) > 0 {
		return fmt.Errorf("block_countries and allow_countries are mutually exclusive")
	}
	if _, err := normalizeCountries(f.BlockCountries); err != nil {
		return fmt.Errorf("block_countries: %w", err)
	}
	if _, err := normalizeCountries(f.AllowCountries); err != nil {
		return fmt.Errorf("allow_countries: %w", err)
	}
	if (len(f.BlockCountries) > 0 || len(f.AllowCountries) > 0 || len(f.BlockASN) > 0) && len(f.DB) == 0 {
		return fmt.Errorf("block_countries, allow_countries and block_asn need a db")
	}
	for _, a := range f.BlockASN {
		if a == 0 {
			return fmt.Errorf("block_asn: 0 is not an AS number")
		}
	}
	switch f.UnknownCountry {
	case "", "allow", "block":
	default:
		return fmt.Errorf("unknown_country: want allow or block, got %q", f.UnknownCountry)
	}
	for _, s := range f.BlockIPs {
		if _, err := parseIP(s); err != nil {
			return fmt.Errorf("block_ips: %w", err)
		}
	}
	for _, s := range f.BlockCIDRs {
		if _, err := parseCIDR(s); err != nil {
			return fmt.Errorf("block_cidrs: %w", err)
		}
	}
	for _, s := range f.AllowCIDRs {
		if _, err := parseCIDR(s); err != nil {
			return fmt.Errorf("allow_cidrs: %w", err)
		}
	}
	if f.RateLimit != nil {
		rl := *f.RateLimit
		rl.setDefaults()
		if err := rl.validate(); err != nil {
			return err
		}
	}
	if f.Ban != nil {
		if err := f.Ban.validate(f.RateLimit); err != nil {
			return err
		}
	}
	return nil
}

func parseIP(s string) (netip.Addr, error) {
	ip, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q", s)
	}
	if ip.Zone() != "" {
		return netip.Addr{}, fmt.Errorf("invalid IP address %q: zones are not supported", s)
	}
	return ip.Unmap(), nil
}

// parseCIDR accepts a network in CIDR notation or a single address, as
// Caddy's own IP ranges do; IPv4-mapped IPv6 networks are folded to IPv4
// so that they match the unmapped client addresses.
func parseCIDR(s string) (netip.Prefix, error) {
	p, err := caddyhttp.CIDRExpressionToPrefix(s)
	if err != nil {
		if !strings.Contains(s, "/") {
			return netip.Prefix{}, fmt.Errorf("invalid IP address %q", s)
		}
		return netip.Prefix{}, fmt.Errorf("invalid CIDR %q", s)
	}
	if p.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("invalid IP address %q: zones are not supported", s)
	}
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p.Masked(), nil
}

func prefixTable(addrs []string, parse func(string) (netip.Prefix, error)) (*bart.Lite, error) {
	if len(addrs) == 0 {
		return nil, nil
	}
	t := new(bart.Lite)
	for _, s := range addrs {
		p, err := parse(s)
		if err != nil {
			return nil, err
		}
		t.Insert(p)
	}
	return t, nil
}

// optionNames are the config names of the options that need a database, for
// error messages: the handler's, or the geo matcher's.
type optionNames struct {
	db, blockCountries, allowCountries, blockASN string
}

var filterNames = optionNames{"db", "block_countries", "allow_countries", "block_asn"}

// describeDBs says what each database is, for errors about missing data.
func describeDBs(dbs []*database) string {
	parts := make([]string, len(dbs))
	for i, db := range dbs {
		v := db.cur.Load()
		typ := v.dbType
		if typ == "" {
			typ = "of no named type"
		}
		parts[i] = fmt.Sprintf("db %s is %s with %s data", db.path, typ, v.kind)
	}
	return strings.Join(parts, ", ")
}

// provision compiles f, opening its database files. scope separates limiter
// state of handlers from that of listener wrappers; names are used in
// errors. On error, everything acquired is released.
func (f *Filter) provision(logger *zap.Logger, scope string, names optionNames) (p *policy, err error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	p = &policy{logger: logger}
	defer func() {
		if err != nil {
			p.cleanup()
			p = nil
		}
	}()
	if p.allow, err = prefixTable(f.AllowCIDRs, parseCIDR); err != nil {
		return p, err
	}
	if p.ips, err = prefixTable(f.BlockIPs, parseCIDR); err != nil {
		return p, err
	}
	if p.cidrs, err = prefixTable(f.BlockCIDRs, parseCIDR); err != nil {
		return p, err
	}

	codes := f.BlockCountries
	if len(f.AllowCountries) > 0 {
		codes, p.allowMode = f.AllowCountries, true
	}
	for _, code := range codes {
		c, _ := parseCountry(code)
		p.countries.add(c)
	}
	p.useCountry = len(codes) > 0
	p.unknownBlock = f.UnknownCountry == "block"
	if len(f.BlockASN) > 0 {
		p.asns = make(map[uint32]struct{}, len(f.BlockASN))
		for _, a := range f.BlockASN {
			p.asns[a] = struct{}{}
		}
	}

	var kinds dbKind
	dbs := make([]*database, 0, len(f.DB))
	for _, path := range f.DB {
		db, key, err := acquireDatabase(path)
		if err != nil {
			return p, fmt.Errorf("%s %s: %w", names.db, path, err)
		}
		p.dbKeys = append(p.dbKeys, key)
		dbs = append(dbs, db)
		kind := db.cur.Load().kind
		kinds |= kind
		if kind&kindCountry != 0 {
			p.countryDBs = append(p.countryDBs, db)
		}
		if kind&kindASN != 0 {
			p.asnDBs = append(p.asnDBs, db)
		}
	}
	countryOpt := names.blockCountries
	if p.allowMode {
		countryOpt = names.allowCountries
	}
	if p.useCountry && kinds&kindCountry == 0 {
		return p, fmt.Errorf("%s: no configured db has country data (%s)", countryOpt, describeDBs(dbs))
	}
	if len(f.BlockASN) > 0 && kinds&kindASN == 0 {
		return p, fmt.Errorf("%s: no configured db has ASN data (%s)", names.blockASN, describeDBs(dbs))
	}

	if f.RateLimit != nil {
		rl := *f.RateLimit
		rl.setDefaults()
		if p.limiter, p.limiterKey, err = acquireLimiter(rl, scope); err != nil {
			return p, err
		}
		if err = p.provisionBan(f.Ban, rl, scope); err != nil {
			return p, err
		}
	}
	return p, nil
}

func (p *policy) cleanup() {
	for _, k := range p.dbKeys {
		releaseDatabase(k)
	}
	p.dbKeys = nil
	if p.limiterKey != "" {
		releaseLimiter(p.limiterKey)
		p.limiterKey = ""
	}
	if p.ban != nil && p.ban.strikesKey != "" {
		releaseLimiter(p.ban.strikesKey)
		p.ban.strikesKey = ""
	}
	// p.blocks stays: a listener shared with the next config may still
	// judge connections with this policy.
	if p.joinedBlocks {
		releaseBlockList()
		p.joinedBlocks = false
	}
}

// check decides about one client. Allowed requests do not allocate.
func (p *policy) check(ip netip.Addr) verdict {
	v := verdict{country: noCountry}
	p.judge(ip, &v)
	return v
}

// judge decides about one client, filling in v (from check or locate).
func (p *policy) judge(ip netip.Addr, v *verdict) {
	if p.allow != nil && p.allow.Contains(ip) {
		return
	}
	if p.blocks != nil {
		if reason, wait := p.blocks.check(ip); reason != "" {
			v.reason, v.retryAfter = reason, wait
			return
		}
	}
	if p.ips != nil && p.ips.Contains(ip) {
		v.reason = reasonIP
		return
	}
	if p.cidrs != nil && p.cidrs.Contains(ip) {
		v.reason = reasonCIDR
		return
	}
	if p.useCountry {
		if !v.located {
			v.country = p.country(ip)
		}
		switch {
		case v.country == noCountry:
			if p.unknownBlock {
				v.reason = reasonUnknownCountry
				return
			}
		case p.countries.has(v.country) != p.allowMode:
			v.reason = reasonCountry
			return
		}
	}
	if p.asns != nil {
		if !v.located {
			v.asn = p.asn(ip)
		}
		if _, ok := p.asns[v.asn]; ok {
			v.reason = reasonASN
			return
		}
	}
	if p.limiter != nil {
		if p.store != nil && p.store.judge(ip, v) {
			return
		}
		var ok bool
		var wait time.Duration
		if p.countLater {
			ok, wait = p.limiter.peek(ip)
		} else {
			ok, wait = p.limiter.allow(ip)
		}
		if !ok {
			v.reason, v.retryAfter = reasonRateLimit, wait
			p.strike(ip, v)
		}
	}
}

// country returns the first country any database knows for ip.
func (p *policy) country(ip netip.Addr) country {
	for _, db := range p.countryDBs {
		c, err := db.cur.Load().country(ip)
		if err != nil {
			p.logger.Warn("database lookup failed", zap.String("db", db.path), zap.Stringer("client", ip), zap.Error(err))
			continue
		}
		if c != noCountry {
			return c
		}
	}
	return noCountry
}

// asn returns the first AS number any database knows for ip, or 0.
func (p *policy) asn(ip netip.Addr) uint32 {
	for _, db := range p.asnDBs {
		a, err := db.cur.Load().asn(ip)
		if err != nil {
			p.logger.Warn("database lookup failed", zap.String("db", db.path), zap.Stringer("client", ip), zap.Error(err))
			continue
		}
		if a != 0 {
			return a
		}
	}
	return 0
}
