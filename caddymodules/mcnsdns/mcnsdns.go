// Package mcnsdns is the Caddy DNS provider module dns.providers.mcns: it
// writes ACME DNS-01 challenge records (and any other records a libdns
// consumer asks for) into the platform's own DNS through the mcns
// management API, so Caddy can obtain certificates for internal names and
// wildcards that are not reachable over HTTP.
package mcnsdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/caddyserver/caddy/v2"
	"github.com/libdns/libdns"
	"go.uber.org/zap"
)

func init() {
	caddy.RegisterModule(&Provider{})
}

// Provider is a libdns provider backed by the mcns management API. Its
// fields may hold Caddy placeholders such as {env.MCNS_TOKEN}; they are
// expanded when the module is provisioned.
type Provider struct {
	// Endpoint is the API's base URL, e.g. https://127.0.0.1:8444. It
	// must be https, except to a loopback address.
	Endpoint string `json:"endpoint,omitempty"`
	// Token is the bearer token (admin role); use a placeholder such as
	// {env.MCNS_TOKEN} rather than the token itself.
	Token string `json:"token,omitempty"`
	// CACert is a PEM file of the CA that issued the API's certificate.
	// Only this CA is trusted when set; otherwise the system roots are.
	CACert string `json:"ca_cert,omitempty"`

	client *client
	logger *zap.Logger
}

// CaddyModule returns the module's information.
func (*Provider) CaddyModule() caddy.ModuleInfo {
	return caddy.ModuleInfo{
		ID:  "dns.providers.mcns",
		New: func() caddy.Module { return new(Provider) },
	}
}

// Provision expands placeholders and builds the API client.
func (p *Provider) Provision(ctx caddy.Context) error {
	p.logger = ctx.Logger()
	return p.setup(caddy.NewReplacer())
}

// setup validates the configuration and builds the client; repl expands
// placeholders (nil leaves the fields as they are).
func (p *Provider) setup(repl *caddy.Replacer) error {
	expand := func(field, v string) (string, error) {
		if repl == nil {
			return v, nil
		}
		out, err := repl.ReplaceOrErr(v, true, true)
		if err != nil {
			return "", fmt.Errorf("mcns: %s: %w", field, err)
		}
		return out, nil
	}
	endpoint, err := expand("endpoint", p.Endpoint)
	if err != nil {
		return err
	}
	token, err := expand("token", p.Token)
	if err != nil {
		// The error names the placeholder, never its value.
		return err
	}
	caFile, err := expand("ca_cert", p.CACert)
	if err != nil {
		return err
	}
	base, err := parseEndpoint(endpoint)
	if err != nil {
		return err
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return errors.New("mcns: token is empty (is the environment variable in its placeholder set?)")
	}
	c, err := newClient(base, token, caFile)
	if err != nil {
		return err
	}
	p.client = c
	if p.logger == nil {
		p.logger = zap.NewNop()
	}
	return nil
}

// parseEndpoint checks the API's base URL: https, or http to loopback only
// (as the API itself serves plain HTTP only there); no query or fragment.
func parseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("mcns: endpoint is required, e.g. https://127.0.0.1:8444")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("mcns: endpoint %q: %w", s, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mcns: endpoint %q: want https://HOST[:PORT][/PATH]", s)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("mcns: endpoint %q: plain http is allowed only to a loopback address; the token would cross the network in the clear", s)
		}
	default:
		return nil, fmt.Errorf("mcns: endpoint %q: scheme must be https", s)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (p *Provider) ready() error {
	if p.client == nil {
		return errors.New("mcns: provider is not provisioned")
	}
	return nil
}

// wants checks that the provider is ready and turns recs into what the
// API takes.
func (p *Provider) wants(recs []libdns.Record, zone string) ([]*want, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	out := make([]*want, 0, len(recs))
	for _, rec := range recs {
		w, err := toWant(rec, zone)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// logRecord logs a record the provider changed (never a token).
func (p *Provider) logRecord(msg, zone string, r apiRecord) {
	p.logger.Info(msg, zap.String("zone", zone), zap.String("name", r.FQDN), zap.String("type", r.Type), zap.Int64("id", r.ID))
}

// GetRecords returns every record of the zone, SOA and NS included.
func (p *Provider) GetRecords(ctx context.Context, zone string) ([]libdns.Record, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	recs, err := p.client.records(ctx, zone, "", "")
	if err != nil {
		return nil, err
	}
	out := make([]libdns.Record, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.libdns())
	}
	return out, nil
}

// AppendRecords adds recs to the zone and leaves every existing record
// alone, so two challenges at the same name (a name and its wildcard, two
// certificates at once) both stay. A record that already exists with the
// same value is an error (the API answers 409).
func (p *Provider) AppendRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	wants, err := p.wants(recs, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	for _, w := range wants {
		got, err := p.client.create(ctx, zone, w)
		if err != nil {
			return out, err
		}
		p.logRecord("added record", zone, got)
		out = append(out, got.libdns())
	}
	return out, nil
}

// DeleteRecords removes the zone's records that match recs by name, type
// and value (and TTL when given); an empty type or value matches any. Each
// match is deleted by its id, so records added by others at the same name
// stay. Records that do not exist are skipped; the deleted ones are
// returned.
func (p *Provider) DeleteRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	wants, err := p.wants(recs, zone)
	if err != nil {
		return nil, err
	}
	var out []libdns.Record
	deleted := map[int64]bool{}
	for _, w := range wants {
		existing, err := p.client.records(ctx, zone, w.fqdn, w.typ)
		if err != nil {
			return out, err
		}
		for _, r := range existing {
			if deleted[r.ID] || !w.matches(r, zone) {
				continue
			}
			gone, err := p.client.remove(ctx, zone, r.ID)
			if err != nil {
				return out, err
			}
			deleted[r.ID] = true
			if gone {
				p.logRecord("deleted record", zone, r)
				out = append(out, r.libdns())
			}
		}
	}
	return out, nil
}

// SetRecords makes the records given the only ones of their name and type:
// existing records with a value given stay (their TTL is changed if it
// differs), missing ones are added, the others at that name and type are
// deleted, in that order, so the name never goes without a value. It is not
// atomic: on an error the zone may hold part of the change.
func (p *Provider) SetRecords(ctx context.Context, zone string, recs []libdns.Record) ([]libdns.Record, error) {
	wants, err := p.wants(recs, zone)
	if err != nil {
		return nil, err
	}
	type rrset struct {
		fqdn, typ string
		wants     []*want
	}
	var sets []*rrset
	index := map[string]*rrset{}
	for _, w := range wants {
		if w.typ == "" || w.value == "" {
			return nil, fmt.Errorf("mcns: set %s: type and value are required", w.fqdn)
		}
		key := w.fqdn + " " + w.typ
		s := index[key]
		if s == nil {
			s = &rrset{fqdn: w.fqdn, typ: w.typ}
			index[key] = s
			sets = append(sets, s)
		}
		s.wants = append(s.wants, w)
	}
	var out []libdns.Record
	for _, s := range sets {
		existing, err := p.client.records(ctx, zone, s.fqdn, s.typ)
		if err != nil {
			return out, err
		}
		kept := map[int64]bool{}
		for _, w := range s.wants {
			var match *apiRecord
			for i := range existing {
				if !kept[existing[i].ID] && w.sameData(existing[i], zone) {
					match = &existing[i]
					break
				}
			}
			var got apiRecord
			switch {
			case match == nil:
				got, err = p.client.create(ctx, zone, w)
			case w.ttl != nil && uint32(*w.ttl) != match.TTL:
				kept[match.ID] = true
				got, err = p.client.setTTL(ctx, zone, match.ID, *w.ttl)
			default:
				kept[match.ID] = true
				got = *match
			}
			if err != nil {
				return out, err
			}
			kept[got.ID] = true
			out = append(out, got.libdns())
		}
		for _, r := range existing {
			if kept[r.ID] {
				continue
			}
			if _, err := p.client.remove(ctx, zone, r.ID); err != nil {
				return out, err
			}
		}
		p.logger.Info("set records", zap.String("zone", zone), zap.String("name", s.fqdn), zap.String("type", s.typ), zap.Int("count", len(s.wants)))
	}
	return out, nil
}

// ListZones lists the zones mcns serves.
func (p *Provider) ListZones(ctx context.Context) ([]libdns.Zone, error) {
	if err := p.ready(); err != nil {
		return nil, err
	}
	return p.client.zones(ctx)
}

// Interface guards.
var (
	_ caddy.Module          = (*Provider)(nil)
	_ caddy.Provisioner     = (*Provider)(nil)
	_ libdns.RecordGetter   = (*Provider)(nil)
	_ libdns.RecordAppender = (*Provider)(nil)
	_ libdns.RecordSetter   = (*Provider)(nil)
	_ libdns.RecordDeleter  = (*Provider)(nil)
	_ libdns.ZoneLister     = (*Provider)(nil)
)
