package api

import (
	"fmt"
	"strings"

	"github.com/metacircular/edge/corednsplugin/mcns/store"
	"github.com/miekg/dns"
)

// rrsetChange is one validated RRset of a PATCH or POST body.
type rrsetChange struct {
	owner      string
	typ        uint16
	changeType string
	rrs        []dns.RR
	comments   []store.Comment
	setComment bool // the body had a "comments" member
}

// parseRRset validates set against zone: the owner a canonical name (with
// trailing dot) inside zone, a known type, and each record's content in
// presentation format with fully qualified names, none twice.
func parseRRset(zone string, set pdnsRRset) (rrsetChange, error) {
	// Changetype and type are matched without regard to case, as
	// PowerDNS matches them.
	set.ChangeType, set.Type = strings.ToUpper(set.ChangeType), strings.ToUpper(set.Type)
	c := rrsetChange{changeType: set.ChangeType, setComment: set.Comments != nil}
	switch c.changeType {
	case "REPLACE", "DELETE", "EXTEND", "PRUNE":
	default:
		return c, unprocessable("changetype %q not understood; want REPLACE, DELETE, EXTEND or PRUNE", set.ChangeType)
	}
	if !dns.IsFqdn(set.Name) {
		return c, unprocessable("name %q is not canonical: it must end with a dot", set.Name)
	}
	if _, ok := dns.IsDomainName(set.Name); !ok || strings.ContainsAny(set.Name, " \t\r\n\x00;\"()$") {
		return c, unprocessable("name %q is not a valid domain name", set.Name)
	}
	c.owner = dns.CanonicalName(set.Name)
	if !dns.IsSubDomain(zone, c.owner) {
		return c, unprocessable("RRset %s is out of zone %s", c.owner, zone)
	}
	var ok bool
	if c.typ, ok = dns.StringToType[set.Type]; !ok || set.Type == "" {
		return c, unprocessable("unknown record type %q", set.Type)
	}
	if c.typ == dns.TypeSOA {
		return c, unprocessable("the SOA record is maintained by mcns and cannot be changed here")
	}
	if c.changeType == "DELETE" {
		return c, nil
	}
	if set.TTL == nil && len(set.Records) > 0 && (c.changeType == "REPLACE" || c.changeType == "EXTEND") {
		return c, unprocessable("RRset %s %s: ttl is required", c.owner, set.Type)
	}
	for _, rec := range set.Records {
		rr, err := parseContent(zone, c.owner, set, rec)
		if err != nil {
			return c, err
		}
		for _, prev := range c.rrs {
			if dns.IsDuplicate(prev, rr) {
				return c, unprocessable("duplicate record in RRset %s %s: %q", c.owner, set.Type, rec.Content)
			}
		}
		c.rrs = append(c.rrs, rr)
	}
	for _, cm := range set.Comments {
		if len(cm.Content) > 65535 || len(cm.Account) > 40 {
			return c, unprocessable("comment on %s %s is too long", c.owner, set.Type)
		}
		c.comments = append(c.comments, store.Comment{Name: c.owner, Type: set.Type, Content: cm.Content, Account: cm.Account, ModifiedAt: cm.ModifiedAt})
	}
	return c, nil
}

// parseContent parses one record. Content is read twice, relative to the
// zone and to the root: if the two differ the content used a relative
// name, which PowerDNS's API does not accept either.
func parseContent(zone, owner string, set pdnsRRset, rec pdnsRecord) (dns.RR, error) {
	if rec.Disabled {
		return nil, unprocessable("disabled records are not supported: %s %s %q", owner, set.Type, rec.Content)
	}
	var ttl uint32
	if set.TTL != nil {
		ttl = *set.TTL
	}
	spec := store.RecordSpec{Name: owner, Type: set.Type, Value: rec.Content, TTL: ttl}
	rr, err := store.ParseSpec(zone, spec)
	if err != nil {
		return nil, unprocessable("record %s/%s %q: %v", owner, set.Type, rec.Content, err)
	}
	abs, err := store.ParseSpec(".", spec)
	if err != nil || !dns.IsDuplicate(rr, abs) {
		return nil, unprocessable("record %s/%s %q: names in content must be fully qualified (end with a dot)", owner, set.Type, rec.Content)
	}
	return rr, nil
}

func (c rrsetChange) String() string {
	return fmt.Sprintf("%s %s %s", c.changeType, c.owner, dns.TypeToString[c.typ])
}
