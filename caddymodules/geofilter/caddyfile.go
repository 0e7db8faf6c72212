package geofilter

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("geofilter", parseCaddyfile)
	// Early, so refused clients cost nothing and no `order` line is needed.
	httpcaddyfile.RegisterDirectiveOrder("geofilter", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var g Handler
	err := g.UnmarshalCaddyfile(h.Dispenser)
	return &g, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	geofilter {
//		db <path>
//		block_countries <codes...>
//		allow_countries <codes...>
//		block_asn <numbers...>
//		block_ips <addresses...>
//		block_cidrs <networks...>
//		allow_cidrs <networks...>
//		unknown_country allow|block
//		rate_limit <requests> <window>
//		rate_limit_ipv6_prefix <bits>
//		rate_limit_max_clients <n>
//		rate_limit_zone <name>
//		rate_limit_status <codes...>
//		rate_limit_headers
//		ban <strikes> <duration>
//		store redis <url> {
//			prefix <string>
//			timeout <duration>
//			on_error allow|block|local
//			tls_ca_cert <file>
//			tls_client_auth <cert_file> <key_file>
//			tls_server_name <name>
//		}
//		status <code>
//	}
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if d.NextArg() {
		return d.ArgErr()
	}
	var st filterParse
	for d.NextBlock(0) {
		switch d.Val() {
		case "rate_limit_status":
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				n, err := strconv.Atoi(a)
				if err != nil || n < 100 || n > 599 {
					return d.Errf("rate_limit_status: want HTTP status codes, got %q", a)
				}
				h.RateLimitStatus = append(h.RateLimitStatus, n)
			}
			st.rateOptAt = position(d)
			continue
		case "rate_limit_headers":
			if d.NextArg() {
				return d.ArgErr()
			}
			h.RateLimitHeaders = true
			st.rateOptAt = position(d)
			continue
		}
		if d.Val() == "store" {
			if err := h.unmarshalStore(d); err != nil {
				return err
			}
			continue
		}
		if d.Val() == "status" {
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 400 || n > 599 {
				return d.Errf("status: want a 4xx or 5xx code, got %q", d.Val())
			}
			h.Status = n
			if d.NextArg() {
				return d.ArgErr()
			}
			continue
		}
		if err := h.Filter.unmarshalOption(d, &st); err != nil {
			return err
		}
	}
	return h.Filter.finishCaddyfile(d, &st)
}

// UnmarshalCaddyfile sets up the listener wrapper from Caddyfile tokens. It
// takes the handler's options except status:
//
//	geofilter {
//		db <path>
//		block_countries <codes...>
//		...
//	}
func (lw *ListenerWrapper) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // wrapper name
	if d.NextArg() {
		return d.ArgErr()
	}
	var st filterParse
	for d.NextBlock(0) {
		if err := lw.Filter.unmarshalOption(d, &st); err != nil {
			return err
		}
	}
	return lw.Filter.finishCaddyfile(d, &st)
}

// filterParse remembers what cross-option checks need at the end of a
// block: the "file:line" of the last option of each kind.
type filterParse struct {
	dbOptAt     string // an option that needs a db
	rateOptAt   string // a rate_limit_* option, which needs rate_limit
	rateLimitAt string // rate_limit itself
	banAt       string // ban, which needs rate_limit
}

func position(d *caddyfile.Dispenser) string {
	return fmt.Sprintf("%s:%d", d.File(), d.Line())
}

// unmarshalOption parses the Filter option at the current token.
func (f *Filter) unmarshalOption(d *caddyfile.Dispenser, st *filterParse) error {
	opt := d.Val()
	args := d.RemainingArgs()
	parse, ok := filterOptions[opt]
	if !ok {
		return d.Errf("unrecognized subdirective %q", opt)
	}
	if len(args) == 0 {
		return d.ArgErr()
	}
	return parse(f, d, st, opt, args)
}

// filterOption parses the arguments (at least one) of the Filter
// subdirective opt into f, noting in st what finishCaddyfile must check.
type filterOption func(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error

// filterOptions are the subdirectives the handler and the listener wrapper
// share, keyed by name.
var filterOptions = map[string]filterOption{
	"db":                     parseDB,
	"block_countries":        parseCountries,
	"allow_countries":        parseCountries,
	"block_asn":              parseBlockASN,
	"block_ips":              parseBlockIPs,
	"block_cidrs":            parseCIDRs,
	"allow_cidrs":            parseCIDRs,
	"unknown_country":        parseUnknownCountry,
	"rate_limit":             parseRateLimit,
	"rate_limit_ipv6_prefix": parseRateLimitIPv6Prefix,
	"rate_limit_max_clients": parseRateLimitMaxClients,
	"rate_limit_zone":        parseRateLimitZone,
	"ban":                    parseBan,
}

// oneArg returns the single argument of an option that takes one.
func oneArg(d *caddyfile.Dispenser, args []string) (string, error) {
	if len(args) != 1 {
		return "", d.ArgErr()
	}
	return args[0], nil
}

// intArg returns the single argument of opt as a number from lo to hi;
// want describes them in the error.
func intArg(d *caddyfile.Dispenser, opt string, args []string, lo, hi int, want string) (int, error) {
	v, err := oneArg(d, args)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, d.Errf("%s: want %s, got %q", opt, want, v)
	}
	return n, nil
}

func parseDB(f *Filter, _ *caddyfile.Dispenser, _ *filterParse, _ string, args []string) error {
	// The files are opened when the config is loaded (Provision), not
	// here: adapting a Caddyfile must work where they do not exist yet.
	f.DB = append(f.DB, args...)
	return nil
}

func parseCountries(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error {
	codes, err := normalizeCountries(args)
	if err != nil {
		return d.Errf("%s: %v", opt, err)
	}
	list, other := &f.BlockCountries, f.AllowCountries
	if opt == "allow_countries" {
		list, other = &f.AllowCountries, f.BlockCountries
	}
	if len(other) > 0 {
		return d.Err("block_countries and allow_countries are mutually exclusive")
	}
	*list = append(*list, codes...)
	st.dbOptAt = position(d)
	return nil
}

func parseBlockASN(f *Filter, d *caddyfile.Dispenser, st *filterParse, _ string, args []string) error {
	for _, a := range args {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(a), "AS"), 10, 32)
		if err != nil || n == 0 {
			return d.Errf("block_asn: invalid AS number %q", a)
		}
		f.BlockASN = append(f.BlockASN, uint32(n))
	}
	st.dbOptAt = position(d)
	return nil
}

func parseBlockIPs(f *Filter, d *caddyfile.Dispenser, _ *filterParse, _ string, args []string) error {
	for _, a := range args {
		if _, err := parseIP(a); err != nil {
			return d.Errf("block_ips: %v", err)
		}
	}
	f.BlockIPs = append(f.BlockIPs, args...)
	return nil
}

func parseCIDRs(f *Filter, d *caddyfile.Dispenser, _ *filterParse, opt string, args []string) error {
	for _, a := range args {
		if _, err := parseCIDR(a); err != nil {
			return d.Errf("%s: %v", opt, err)
		}
	}
	if opt == "block_cidrs" {
		f.BlockCIDRs = append(f.BlockCIDRs, args...)
	} else {
		f.AllowCIDRs = append(f.AllowCIDRs, args...)
	}
	return nil
}

func parseUnknownCountry(f *Filter, d *caddyfile.Dispenser, _ *filterParse, _ string, args []string) error {
	v, err := oneArg(d, args)
	if err != nil {
		return err
	}
	if v != "allow" && v != "block" {
		return d.Errf("unknown_country: want allow or block, got %q", v)
	}
	f.UnknownCountry = v
	return nil
}

func parseRateLimit(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error {
	n, w, err := countPer(d, opt, args, "request count", "window")
	if err != nil {
		return err
	}
	if w/time.Duration(n) <= 0 {
		return d.Errf("rate_limit: %d requests per %s is too fine-grained", n, w)
	}
	f.rateLimit().Requests = n
	f.rateLimit().Window = caddy.Duration(w)
	st.rateLimitAt = position(d)
	return nil
}

func parseRateLimitIPv6Prefix(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error {
	n, err := intArg(d, opt, args, 1, 128, "1..128")
	if err != nil {
		return err
	}
	f.rateLimit().IPv6Prefix = n
	st.rateOptAt = position(d)
	return nil
}

func parseRateLimitMaxClients(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error {
	n, err := intArg(d, opt, args, 1, math.MaxInt, "a positive number")
	if err != nil {
		return err
	}
	f.rateLimit().MaxClients = n
	st.rateOptAt = position(d)
	return nil
}

func parseRateLimitZone(f *Filter, d *caddyfile.Dispenser, st *filterParse, _ string, args []string) error {
	v, err := oneArg(d, args)
	if err != nil {
		return err
	}
	f.rateLimit().Zone = v
	st.rateOptAt = position(d)
	return nil
}

func parseBan(f *Filter, d *caddyfile.Dispenser, st *filterParse, opt string, args []string) error {
	n, dur, err := countPer(d, opt, args, "strike count", "duration")
	if err != nil {
		return err
	}
	f.Ban = &Ban{Strikes: n, Duration: caddy.Duration(dur)}
	st.banAt = position(d)
	return nil
}

// countPer parses the "<count> <duration>" arguments of rate_limit and
// ban, both positive.
func countPer(d *caddyfile.Dispenser, opt string, args []string, count, dur string) (int, time.Duration, error) {
	if len(args) != 2 {
		return 0, 0, d.ArgErr()
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n <= 0 {
		return 0, 0, d.Errf("%s: invalid %s %q", opt, count, args[0])
	}
	w, err := caddy.ParseDuration(args[1])
	if err != nil || w <= 0 {
		return 0, 0, d.Errf("%s: invalid %s %q", opt, dur, args[1])
	}
	return n, w, nil
}

func (f *Filter) rateLimit() *RateLimit {
	if f.RateLimit == nil {
		f.RateLimit = new(RateLimit)
	}
	return f.RateLimit
}

// finishCaddyfile runs the checks that span options, naming the line of
// the option that cannot be satisfied. Whether the db files hold the data
// the options need is checked when the config is loaded.
func (f *Filter) finishCaddyfile(d *caddyfile.Dispenser, st *filterParse) error {
	if st.dbOptAt != "" && len(f.DB) == 0 {
		return fmt.Errorf("block_countries, allow_countries and block_asn need a db, at %s", st.dbOptAt)
	}
	if st.rateOptAt != "" && st.rateLimitAt == "" {
		return fmt.Errorf("rate_limit_* options need rate_limit, at %s", st.rateOptAt)
	}
	if st.banAt != "" && st.rateLimitAt == "" {
		return fmt.Errorf("ban needs rate_limit, at %s", st.banAt)
	}
	if err := f.validate(); err != nil {
		return d.Errf("%v", err)
	}
	return nil
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens. Syntax:
//
//	geo [db <path>] [country <codes...>] [asn <numbers...>] [cidr <networks...>] [blocked]
//
// or, with one keyword per line:
//
//	geo {
//		db <path>
//		country <codes...>
//		asn <numbers...>
//		cidr <networks...>
//		blocked
//	}
func (m *MatchGeo) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() {
		kw := ""
		for d.NextArg() {
			if d.Val() == "blocked" {
				m.Blocked, kw = true, ""
				continue
			}
			if isGeoKeyword(d.Val()) {
				kw = d.Val()
				continue
			}
			if kw == "" {
				return d.Errf("geo: expected db, country, asn, cidr or blocked, got %q", d.Val())
			}
			if err := m.addValue(d, kw, d.Val()); err != nil {
				return err
			}
		}
		for nesting := d.Nesting(); d.NextBlock(nesting); {
			kw := d.Val()
			if kw == "blocked" {
				if d.NextArg() {
					return d.ArgErr()
				}
				m.Blocked = true
				continue
			}
			if !isGeoKeyword(kw) {
				return d.Errf("geo: unrecognized subdirective %q", kw)
			}
			args := d.RemainingArgs()
			if len(args) == 0 {
				return d.ArgErr()
			}
			for _, a := range args {
				if err := m.addValue(d, kw, a); err != nil {
					return err
				}
			}
		}
	}
	if err := m.Validate(); err != nil {
		return d.Err(err.Error())
	}
	return nil
}

func isGeoKeyword(s string) bool {
	switch s {
	case "db", "country", "asn", "cidr":
		return true
	}
	return false
}

func (m *MatchGeo) addValue(d *caddyfile.Dispenser, kw, val string) error {
	switch kw {
	case "db":
		m.DB = append(m.DB, val) // opened at load time, like the handler's

	case "country":
		c, err := parseCountry(val)
		if err != nil {
			return d.Errf("geo: %v", err)
		}
		m.Countries = append(m.Countries, c.String())
	case "asn":
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.ToUpper(val), "AS"), 10, 32)
		if err != nil || n == 0 {
			return d.Errf("geo: invalid AS number %q", val)
		}
		m.ASN = append(m.ASN, uint32(n))
	case "cidr":
		if _, err := parseCIDR(val); err != nil {
			return d.Errf("geo: %v", err)
		}
		m.CIDRs = append(m.CIDRs, val)
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*ListenerWrapper)(nil)
	_ caddyfile.Unmarshaler = (*MatchGeo)(nil)
)

// unmarshalStore parses the store option at the current token.
func (h *Handler) unmarshalStore(d *caddyfile.Dispenser) error {
	args := d.RemainingArgs()
	if len(args) != 2 {
		return d.ArgErr()
	}
	s := &Store{Type: args[0], URL: args[1]}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		opt := d.Val()
		if ok, err := unmarshalStoreTLS(d, s); ok || err != nil {
			if err != nil {
				return err
			}
			continue
		}
		if !d.NextArg() {
			return d.ArgErr()
		}
		val := d.Val()
		if d.NextArg() {
			return d.ArgErr()
		}
		switch opt {
		case "prefix":
			s.Prefix = val
		case "timeout":
			t, err := caddy.ParseDuration(val)
			if err != nil || t <= 0 {
				return d.Errf("store: timeout: want a positive duration, got %q", val)
			}
			s.Timeout = caddy.Duration(t)
		case "on_error":
			s.OnError = val
		default:
			return d.Errf("store: unknown option %q", opt)
		}
	}
	if err := s.validate(); err != nil {
		return d.Errf("%v", err)
	}
	h.Store = s
	return nil
}
