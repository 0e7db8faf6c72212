package mcnsdns

import (
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// UnmarshalCaddyfile sets up the provider from Caddyfile tokens, as the
// tls directive's `dns` subdirective and the `acme_dns` and `dns` global
// options pass them. Syntax:
//
//	mcns [<endpoint>] {
//	    endpoint <url>
//	    token    <token>
//	    ca_cert  <file>
//	}
func (p *Provider) UnmarshalCaddyfile(d *caddyfile.Dispenser) error {
	d.Next() // provider name
	if d.NextArg() {
		p.Endpoint = d.Val()
	}
	if d.NextArg() {
		return d.Errf("mcns: unexpected argument %q (only the endpoint may follow the provider name)", d.Val())
	}
	for d.NextBlock(0) {
		var field *string
		switch d.Val() {
		case "endpoint":
			field = &p.Endpoint
		case "token":
			field = &p.Token
		case "ca_cert":
			field = &p.CACert
		default:
			return d.Errf("mcns: unrecognized subdirective %q", d.Val())
		}
		name := d.Val()
		if *field != "" {
			return d.Errf("mcns: %s given twice", name)
		}
		if !d.NextArg() {
			return d.Errf("mcns: %s needs one argument", name)
		}
		*field = d.Val()
		if d.NextArg() {
			return d.Errf("mcns: %s takes one argument, got %q too", name, d.Val())
		}
	}
	if p.Endpoint == "" {
		return d.Err("mcns: endpoint is required")
	}
	if p.Token == "" {
		return d.Err("mcns: token is required (e.g. token {env.MCNS_TOKEN})")
	}
	return nil
}

var _ caddyfile.Unmarshaler = (*Provider)(nil)
