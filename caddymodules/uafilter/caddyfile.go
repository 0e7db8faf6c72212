package uafilter

import (
	"strconv"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/caddyserver/caddy/v2/caddyconfig/httpcaddyfile"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

func init() {
	httpcaddyfile.RegisterHandlerDirective("uafilter", parseCaddyfile)
	httpcaddyfile.RegisterDirectiveOrder("uafilter", httpcaddyfile.Before, "basic_auth")
}

func parseCaddyfile(h httpcaddyfile.Helper) (caddyhttp.MiddlewareHandler, error) {
	var u Handler
	err := u.UnmarshalCaddyfile(h.Dispenser)
	return &u, err
}

// UnmarshalCaddyfile sets up the handler from Caddyfile tokens. Syntax:
//
//	uafilter [<matcher>] [<patterns...>] {
//	    block        <patterns...>
//	    block_regexp <regexps...>
//	    preset       <categories...>
//	    list_file    <paths...>
//	    allow        <patterns...>
//	    allow_regexp <regexps...>
//	    block_empty
//	    reload_interval <duration>
//	    status       <code>
//	    verify_bots {
//	        ranges   <crawler> <files...>
//	        rdns     <crawler> [<suffixes...>]
//	        resolver <host:port>
//	        timeout  <duration>
//	        spoofed  block|allow|log
//	    }
//	}
//
// Arguments on the directive line are block patterns.
func (h *Handler) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // directive name
	if err := h.Rules.unmarshalArgs(d); err != nil {
		return err
	}
	for d.NextBlock(0) {
		if d.Val() == "status" {
			if !d.NextArg() {
				return d.ArgErr()
			}
			n, err := strconv.Atoi(d.Val())
			if err != nil || n < 400 || n > 599 {
				return d.Errf("status: %q is not an HTTP error status (400-599)", d.Val())
			}
			h.Status = n
			if d.NextArg() {
				return d.ArgErr()
			}
			continue
		}
		if err := h.Rules.unmarshalSubdirective(d, "uafilter"); err != nil {
			return err
		}
	}
	if d.Next() {
		return d.Errf("unexpected token %q", d.Val())
	}
	return h.Rules.checkNotEmpty(d, "uafilter")
}

// UnmarshalCaddyfile sets up the matcher from Caddyfile tokens. Syntax:
//
//	user_agent [<patterns...>] {
//	    block        <patterns...>
//	    block_regexp <regexps...>
//	    preset       <categories...>
//	    list_file    <paths...>
//	    allow        <patterns...>
//	    allow_regexp <regexps...>
//	    block_empty
//	    reload_interval <duration>
//	    verify_bots { ... }
//	}
//
// Arguments are block patterns. Several user_agent matchers in one named
// matcher are merged into one.
func (m *MatchUserAgent) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	for d.Next() {
		if err := m.Rules.unmarshalArgs(d); err != nil {
			return err
		}
		for d.NextBlock(0) {
			if err := m.Rules.unmarshalSubdirective(d, "user_agent"); err != nil {
				return err
			}
		}
	}
	return m.Rules.checkNotEmpty(d, "user_agent")
}

// checkNotEmpty rejects rules that select nothing.
func (r *Rules) checkNotEmpty(d *caddyfile.Dispenser, directive string) error {
	if r.empty() {
		return d.Errf("%s: nothing to match: configure block, block_regexp, preset, list_file, block_empty or verify_bots", directive)
	}
	return nil
}

// unmarshalArgs takes the remaining arguments on the line as block
// patterns.
func (r *Rules) unmarshalArgs(d *caddyfile.Dispenser) error {
	for d.NextArg() {
		if err := validatePattern(d.Val()); err != nil {
			return d.Errf("block: %v", err)
		}
		r.Block = append(r.Block, d.Val())
	}
	return nil
}

// unmarshalSubdirective parses the subdirective at the cursor.
func (r *Rules) unmarshalSubdirective(d *caddyfile.Dispenser, directive string) error {
	sub := d.Val()
	args := d.RemainingArgs()
	needArgs := func() error {
		if len(args) == 0 {
			return d.Errf("%s: expected at least one argument", sub)
		}
		return nil
	}
	switch sub {
	case "block", "allow":
		if err := needArgs(); err != nil {
			return err
		}
		for _, a := range args {
			if err := validatePattern(a); err != nil {
				return d.Errf("%s: %v", sub, err)
			}
		}
		if sub == "block" {
			r.Block = append(r.Block, args...)
		} else {
			r.Allow = append(r.Allow, args...)
		}
	case "block_regexp", "allow_regexp":
		if err := needArgs(); err != nil {
			return err
		}
		for _, a := range args {
			if _, err := compileRegexp(a); err != nil {
				return d.Errf("%s: %v", sub, err)
			}
		}
		if sub == "block_regexp" {
			r.BlockRegexp = append(r.BlockRegexp, args...)
		} else {
			r.AllowRegexp = append(r.AllowRegexp, args...)
		}
	case "preset":
		if err := needArgs(); err != nil {
			return err
		}
		for _, a := range args {
			if _, ok := presetCategories(a); !ok {
				return d.Errf("preset: unknown preset %q (known: %v)", a, presetNames())
			}
		}
		r.Preset = append(r.Preset, args...)
	case "list_file":
		if err := needArgs(); err != nil {
			return err
		}
		r.ListFile = append(r.ListFile, args...)
	case "block_empty":
		if len(args) != 0 {
			return d.Errf("block_empty: takes no arguments")
		}
		r.BlockEmpty = true
	case "verify_bots":
		if len(args) != 0 {
			return d.Errf("verify_bots: takes no arguments, only a block")
		}
		return r.unmarshalVerifyBots(d)
	case "reload_interval":
		return parseDuration(d, sub, args, &r.ReloadInterval)
	default:
		return d.Errf("%s: unrecognized subdirective %q", directive, sub)
	}
	return nil
}

// parseDuration sets *dst from the one positive duration in args.
func parseDuration(d *caddyfile.Dispenser, what string, args []string, dst *caddy.Duration) error {
	if len(args) != 1 {
		return d.Errf("%s: expected one duration", what)
	}
	dur, err := caddy.ParseDuration(args[0])
	if err != nil || dur <= 0 {
		return d.Errf("%s: invalid duration %q", what, args[0])
	}
	*dst = caddy.Duration(dur)
	return nil
}

// unmarshalVerifyBots parses the block of verify_bots:
//
//	verify_bots {
//	    ranges   <crawler> <files...>
//	    rdns     <crawler> [<suffixes...>]
//	    resolver <host:port>
//	    timeout  <duration>
//	    spoofed  block|allow|log
//	}
func (r *Rules) unmarshalVerifyBots(d *caddyfile.Dispenser) error {
	if r.VerifyBots == nil {
		r.VerifyBots = new(VerifyBots)
	}
	v := r.VerifyBots
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		sub := d.Val()
		args := d.RemainingArgs()
		switch sub {
		case "ranges", "rdns":
			if len(args) < 1 || sub == "ranges" && len(args) < 2 {
				return d.Errf("verify_bots: %s: expected a crawler name and files or suffixes", sub)
			}
			if crawlerIndex(args[0]) < 0 {
				return d.Errf("verify_bots: %s: unknown crawler %q (known: %v)", sub, args[0], crawlerNames())
			}
			m := &v.Ranges
			if sub == "rdns" {
				m = &v.RDNS
				for _, s := range args[1:] {
					if err := validateSuffix(s); err != nil {
						return d.Errf("verify_bots: rdns: %v", err)
					}
				}
			}
			if *m == nil {
				*m = make(map[string][]string)
			}
			// rdns with no suffix turns reverse DNS off for the crawler.
			(*m)[args[0]] = append((*m)[args[0]], args[1:]...)
		case "resolver":
			if len(args) != 1 {
				return d.Errf("verify_bots: resolver: expected one host:port")
			}
			if _, err := resolverAddr(args[0]); err != nil {
				return d.Errf("verify_bots: resolver: %v", err)
			}
			v.Resolver = args[0]
		case "timeout":
			if err := parseDuration(d, "verify_bots: timeout", args, &v.Timeout); err != nil {
				return err
			}
		case "spoofed":
			if len(args) != 1 || args[0] != spoofedBlock && args[0] != spoofedAllow && args[0] != spoofedLog {
				return d.Errf("verify_bots: spoofed: expected block, allow or log")
			}
			v.Spoofed = args[0]
		default:
			return d.Errf("verify_bots: unrecognized subdirective %q", sub)
		}
	}
	return nil
}

// Interface guards
var (
	_ caddyfile.Unmarshaler = (*Handler)(nil)
	_ caddyfile.Unmarshaler = (*MatchUserAgent)(nil)
)
