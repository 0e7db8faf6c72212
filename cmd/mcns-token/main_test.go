package main

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestMint(t *testing.T) {
	var a, b strings.Builder
	if err := run(&a, "ops", "admin,read"); err != nil {
		t.Fatal(err)
	}
	if err := run(&b, "ops", "admin,read"); err != nil {
		t.Fatal(err)
	}
	if a.String() == b.String() {
		t.Fatal("two runs minted the same token")
	}
	lines := strings.Split(strings.TrimSpace(a.String()), "\n")
	tok, ok1 := strings.CutPrefix(lines[0], "token: ")
	line, ok2 := strings.CutPrefix(lines[1], "tokens file line: ")
	if !ok1 || !ok2 || len(tok) < 43 {
		t.Fatalf("output: %q", a.String())
	}
	sum := sha256.Sum256([]byte(tok))
	if want := "sha256:" + hex.EncodeToString(sum[:]) + " ops admin,read"; line != want {
		t.Errorf("line %q, want %q", line, want)
	}
	if strings.Contains(line, tok) {
		t.Error("the line holds the token itself")
	}
	for _, bad := range [][2]string{{"", "admin"}, {"a b", "admin"}, {"ops", ""}, {"ops", "admin,,read"}, {"#x", "admin"}} {
		if err := run(&a, bad[0], bad[1]); err == nil {
			t.Errorf("run(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestMintScoped(t *testing.T) {
	var f scopeFlags
	// The ACME form from mcns-token's documentation, and a wildcard.
	for _, s := range []string{"svc.example.net:_acme-challenge.*:TXT", "svc.example.net:*._acme-challenge:TXT"} {
		if err := f.Set(s); err != nil {
			t.Errorf("-scope %q: %v", s, err)
		}
	}
	if len(f) != 2 {
		t.Fatalf("%d scopes kept, want 2", len(f))
	}
	if !f[0].Matches("svc.example.net.", "_acme-challenge.www.svc.example.net.", dns.TypeTXT) || f[0].Matches("svc.example.net.", "www.svc.example.net.", dns.TypeTXT) {
		t.Errorf("_acme-challenge.* does not match as documented")
	}
	if err := f.Set("svc.example.net:@:A,AAAA"); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := run(&out, "acme", "admin", f...); err != nil {
		t.Fatal(err)
	}
	want := " acme admin scope=svc.example.net.:_acme-challenge.*:TXT scope=svc.example.net.:*._acme-challenge.svc.example.net.:TXT scope=svc.example.net.:@:A,AAAA\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Errorf("output %q does not end in %q", out.String(), want)
	}
	for _, bad := range []string{"", "svc.example.net", "svc.example.net:@", "svc.example.net:@:NOPE", "svc.example.net:other.org.:TXT", ":@:TXT", "svc.example.net:*.x.*:TXT", "svc.example.net:x.svc.example.net..*:TXT"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("-scope %q accepted", bad)
		}
	}
}
