package mcns

import (
	"github.com/coredns/caddy"
	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"

	"github.com/metacircular/edge/corednsplugin/mcns/api"
)

// updatePolicy narrows what a TSIG key may UPDATE in a zone, like BIND's
// update-policy. An `update ZONE KEY...` line with a block grants the keys
// only what the block's lines name:
//
//	update example.net acme-key. {
//	    grant _acme-challenge TXT
//	    grant *.dyn A,AAAA
//	}
//
// Each grant is PATTERN TYPES with the tokens file's scope grammar: @, a
// name (relative to ZONE unless it ends in a dot) or *.NAME for the names
// strictly below NAME; TYPES comma-separated or * for every type but SOA.
// A key named on any update line without a block may change anything in
// the zone, as before.
type updatePolicy struct {
	grants map[string][]api.Scope // zone+" "+key: what the key may change
	full   map[string]bool        // zone+" "+key: the key may change anything
}

func policyKey(zone, key string) string { return zone + " " + key }

// parseGrants reads the optional block after an update line's keys and
// records what it grants each key. Errors name the Corefile line.
func (p *updatePolicy) parseGrants(c *caddy.Controller, zone string, keys []string) error {
	var grants []api.Scope
	// The block is nested in mcns's own, where the Dispenser's NextBlock
	// would run on into the outer block's lines: walk it token by token.
	if !c.NextArg() {
		return p.record(zone, keys, nil)
	}
	if c.Val() != "{" {
		return c.Errf("update %s: unexpected %q after the keys, want a { grant ... } block", zone, c.Val())
	}
	for {
		if !c.Next() {
			return c.Errf("update %s: grants block is not closed", zone)
		}
		if c.Val() == "}" {
			break
		}
		if c.Val() != "grant" {
			return c.Errf("update %s: unknown %q, want \"grant PATTERN TYPES\"", zone, c.Val())
		}
		args := c.RemainingArgs()
		if len(args) != 2 {
			return c.Errf("update %s: want \"grant PATTERN TYPES\"", zone)
		}
		sc, err := api.ParseScope(zone + ":" + args[0] + ":" + args[1])
		if err != nil {
			return c.Errf("update %s: grant: %v", zone, err)
		}
		grants = append(grants, sc)
	}
	if len(grants) == 0 {
		return c.Errf("update %s: empty grants block", zone)
	}
	return p.record(zone, keys, grants)
}

// record notes what keys may change in zone: grants, or anything if none.
func (p *updatePolicy) record(zone string, keys []string, grants []api.Scope) error {
	if p.grants == nil {
		p.grants, p.full = map[string][]api.Scope{}, map[string]bool{}
	}
	for _, k := range keys {
		if len(grants) == 0 {
			p.full[policyKey(zone, k)] = true
			continue
		}
		p.grants[policyKey(zone, k)] = append(p.grants[policyKey(zone, k)], grants...)
	}
	return nil
}

// permits reports whether key may make every change of an UPDATE's update
// section in zone. One record outside the grants refuses the whole UPDATE.
func (p updatePolicy) permits(zone, key string, updates []dns.RR) bool {
	k := policyKey(zone, key)
	grants, scoped := p.grants[k]
	if !scoped || p.full[k] {
		return true
	}
	who := api.Principal{Name: key, Scopes: grants}
	for _, rr := range updates {
		h := rr.Header()
		if !who.MayChange(zone, h.Name, h.Rrtype) {
			return false
		}
	}
	return true
}

// normalizeKeys gives TSIG key names in the tsig plugin's form.
func normalizeKeys(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = plugin.Name(k).Normalize()
	}
	return out
}
