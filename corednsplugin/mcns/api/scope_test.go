package api

import (
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestScopeMatches(t *testing.T) {
	cases := []struct {
		scope, zone, name string
		rrtype            uint16
		want              bool
	}{
		{"example.net:_acme-challenge:TXT", "example.net.", "_acme-challenge.example.net.", dns.TypeTXT, true},
		{"example.net:_acme-challenge:TXT", "EXAMPLE.net.", "_ACME-Challenge.Example.NET.", dns.TypeTXT, true},
		{"example.net:_acme-challenge:TXT", "example.net.", "_acme-challenge.example.net.", dns.TypeA, false},
		{"example.net:_acme-challenge:TXT", "example.net.", "x._acme-challenge.example.net.", dns.TypeTXT, false},
		{"example.net:_acme-challenge:TXT", "other.net.", "_acme-challenge.example.net.", dns.TypeTXT, false},
		{"example.net:*._acme-challenge:TXT", "example.net.", "www._acme-challenge.example.net.", dns.TypeTXT, true},
		{"example.net:*._acme-challenge:TXT", "example.net.", "a.b._acme-challenge.example.net.", dns.TypeTXT, true},
		{"example.net:*._acme-challenge:TXT", "example.net.", "_acme-challenge.example.net.", dns.TypeTXT, false},
		{"example.net:*._acme-challenge:TXT", "example.net.", "x_acme-challenge.example.net.", dns.TypeTXT, false},
		{"example.net:*.example.net.:*", "example.net.", "www.example.net.", dns.TypeMX, true},
		{"example.net:*.example.net.:*", "example.net.", "example.net.", dns.TypeMX, false},
		{"example.net:@:*", "example.net.", "example.net.", dns.TypeMX, true},
		{"example.net:@:ANY", "example.net.", "example.net.", dns.TypeSOA, false},
		{"example.net:@:A,aaaa", "example.net.", "example.net.", dns.TypeAAAA, true},
		{"example.net:@:A,aaaa", "example.net.", "example.net.", dns.TypeTXT, false},
		{"example.net.:www.example.net.:A", "example.net.", "www.example.net.", dns.TypeA, true},
		// LABELS.*: LABELS at the apex or above any host of the zone.
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "_acme-challenge.svc.example.net.", dns.TypeTXT, true},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "_acme-challenge.www.svc.example.net.", dns.TypeTXT, true},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "_ACME-challenge.a.b.SVC.example.net.", dns.TypeTXT, true},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "_acme-challenge.www.svc.example.net.", dns.TypeA, false},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "www.svc.example.net.", dns.TypeTXT, false},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "x._acme-challenge.svc.example.net.", dns.TypeTXT, false},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "x_acme-challenge.svc.example.net.", dns.TypeTXT, false},
		{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net.", "_acme-challenge.example.net.", dns.TypeTXT, false},
		{"svc.example.net:_acme-challenge.*:TXT", "example.net.", "_acme-challenge.svc.example.net.", dns.TypeTXT, false},
		{"svc.example.net:_acme-challenge.*:*", "svc.example.net.", "_acme-challenge.svc.example.net.", dns.TypeSOA, false},
		{"example.net:a.b.*:A", "example.net.", "a.b.www.example.net.", dns.TypeA, true},
		{"example.net:a.b.*:A", "example.net.", "b.www.example.net.", dns.TypeA, false},
	}
	for _, c := range cases {
		sc, err := ParseScope(c.scope)
		if err != nil {
			t.Fatalf("%q: %v", c.scope, err)
		}
		if got := sc.Matches(c.zone, c.name, c.rrtype); got != c.want {
			t.Errorf("%q matches %s %s in %s: %v, want %v", c.scope, c.name, dns.TypeToString[c.rrtype], c.zone, got, c.want)
		}
		again, err := ParseScope(sc.String())
		if err != nil || again.String() != sc.String() {
			t.Errorf("%q: String %q does not parse back the same (%v)", c.scope, sc.String(), err)
		}
	}
}

func TestParseScopeRejects(t *testing.T) {
	for in, want := range map[string]string{
		"example.net":                      "want ZONE:PATTERN:TYPES",
		"example.net:@":                    "want ZONE:PATTERN:TYPES",
		"example.net:@:TXT:x":              "want ZONE:PATTERN:TYPES",
		":@:TXT":                           "must all be given",
		"example.net::TXT":                 "must all be given",
		"example.net:@:":                   "must all be given",
		"*.example.net:@:TXT":              "not a zone name",
		"example.net:*.a.*:TXT":            "not a name",
		"example.net:.*:TXT":               "not a LABELS.* pattern",
		"example.net:@.*:TXT":              "not a LABELS.* pattern",
		"example.net:a.example.net..*:TXT": "not a LABELS.* pattern",
		"example.net:a*.*:TXT":             "not a LABELS.* pattern",
		"example.net:**.a:TXT":             "not a name",
		"example.net:www.other.org.:TXT":   "not in zone",
		"example.net:@:TXT,BOGUS":          "not a record type",
		"example.net:@:TXT,":               "not a record type",
		"example.net:a..b:TXT":             "not a name",
	} {
		if _, err := ParseScope(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}

func TestPrincipalScopes(t *testing.T) {
	unscoped := &Principal{Name: "ops"}
	if !unscoped.MaySee("any.org.") || !unscoped.MayChange("any.org.", "any.org.", dns.TypeSOA) || !unscoped.MayManageZones() {
		t.Error("an unscoped principal is limited")
	}
	a, _ := ParseScope("a.org:_acme-challenge:TXT")
	b, _ := ParseScope("b.org:*.b.org.:A")
	p := &Principal{Name: "acme", Scopes: []Scope{a, b}}
	if !p.MaySee("a.org.") || !p.MaySee("B.ORG.") || p.MaySee("c.org.") {
		t.Error("MaySee does not follow the scopes' zones")
	}
	if !p.MayChange("a.org.", "_acme-challenge.a.org.", dns.TypeTXT) || !p.MayChange("b.org.", "x.b.org.", dns.TypeA) {
		t.Error("MayChange refuses what a scope covers")
	}
	if p.MayChange("a.org.", "x.b.org.", dns.TypeA) || p.MayChange("b.org.", "_acme-challenge.a.org.", dns.TypeTXT) {
		t.Error("MayChange mixes one scope's zone with another's names")
	}
	if p.MayManageZones() {
		t.Error("a scoped principal may manage zones")
	}
}

func TestParseTokensScopes(t *testing.T) {
	sc, _ := ParseScope("example.com:_acme-challenge:TXT")
	data := "# tokens\n" + TokenLine("t1", "ops", []string{"admin"}) + "\n" + TokenLine("t2", "acme", []string{"admin"}, sc) + "\n"
	m, err := parseTokens("f", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if p := m[hashToken("t1")]; len(p.Scopes) != 0 {
		t.Errorf("unscoped line gained scopes: %+v", p)
	}
	p := m[hashToken("t2")]
	if len(p.Scopes) != 1 || p.Scopes[0].String() != sc.String() {
		t.Errorf("scoped line: %+v", p)
	}
	base := TokenLine("t3", "x", []string{"admin"})
	for in, want := range map[string]string{
		data + base + " scope=example.com:@":         "f:4: scope \"example.com:@\": want",
		data + base + " scope=example.com:@:NOPE":    "f:4: scope",
		data + base + " zone=example.com:@:TXT":      "f:4: want only scope=",
		base + " scope=example.com:www.other.net.:A": "f:1: scope",
	} {
		if _, err := parseTokens("f", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
