package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestXfrNsupdate changes records with nsupdate as an operator or an ACME
// DNS-01 client would, and checks every refusal leaves the zone as it was.
func TestXfrNsupdate(t *testing.T) {
	bin := binDir(t)
	nsupdate := needTool(t, "nsupdate")
	p := startPrimary(t, bin)
	dir := t.TempDir()
	updKey := "hmac-sha256:" + updKeyName + ":" + updKeySecret

	// send runs one nsupdate script against the primary.
	send := func(zone, body string, args ...string) (string, error) {
		t.Helper()
		script := fmt.Sprintf("server 127.0.0.1 %d\nzone %s\n%s\nsend\n", p.port, zone, strings.TrimSpace(body))
		path := filepath.Join(dir, "update.txt")
		if err := os.WriteFile(path, []byte(script), 0o600); err != nil {
			t.Fatal(err)
		}
		return run(t, nil, nsupdate, append(args, path)...)
	}
	ok := func(zone, body string) {
		t.Helper()
		if out, err := send(zone, body, "-y", updKey); err != nil {
			t.Fatalf("nsupdate:\n%s\n%v\n%s", body, err, out)
		}
	}
	// want checks the answer right after nsupdate returned: no waiting.
	want := func(name string, qtype uint16, rdata ...string) {
		t.Helper()
		got, rcode, err := answerAt(p.addr, name, qtype)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		slices.Sort(rdata)
		if !slices.Equal(got, rdata) || (len(rdata) == 0) != (rcode == dns.RcodeNameError || rcode == dns.RcodeSuccess && len(got) == 0) {
			t.Fatalf("%s %s: %s %v, want %v", name, dns.TypeToString[qtype], dns.RcodeToString[rcode], got, rdata)
		}
	}
	serial := func() uint32 {
		t.Helper()
		s, err := soaSerialAt(p.addr, xfrZone)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// Add an A and an ACME challenge; the reply is signed (nsupdate checks
	// the server's TSIG and fails without it; -d shows it).
	s0 := serial()
	out, err := send(xfrZone, `
update add host.example.test. 60 A 192.0.2.50
update add _acme-challenge.example.test. 60 TXT "token-one"`, "-d", "-y", updKey)
	if err != nil || !strings.Contains(out, "opcode: UPDATE, status: NOERROR") || strings.Count(out, "TSIG PSEUDOSECTION") < 2 {
		t.Fatalf("nsupdate add: %v\n%s", err, out)
	}
	want("host.example.test.", dns.TypeA, "192.0.2.50")
	want("_acme-challenge.example.test.", dns.TypeTXT, `"token-one"`)
	if s := serial(); s == s0 {
		t.Fatal("serial did not move")
	}

	// A second challenge beside the first (a wildcard and its base name).
	ok(xfrZone, `update add _acme-challenge.example.test. 60 TXT "token-two"`)
	want("_acme-challenge.example.test.", dns.TypeTXT, `"token-one"`, `"token-two"`)

	// Replace: delete the RRset and add, in one UPDATE.
	ok(xfrZone, `
update delete host.example.test. A
update add host.example.test. 60 A 192.0.2.51`)
	want("host.example.test.", dns.TypeA, "192.0.2.51")
	ok(xfrZone, `
update delete _acme-challenge.example.test. TXT "token-one"
update add _acme-challenge.example.test. 60 TXT "token-three"`)
	want("_acme-challenge.example.test.", dns.TypeTXT, `"token-two"`, `"token-three"`)

	// Prerequisites: the A exists, so "nxdomain" fails and nothing happens.
	before := serial()
	out, err = send(xfrZone, `
prereq nxdomain host.example.test.
update add prereq.example.test. 60 A 192.0.2.60`, "-y", updKey)
	if err == nil || !strings.Contains(out, "YXDOMAIN") {
		t.Fatalf("failed prerequisite: %v\n%s", err, out)
	}
	want("prereq.example.test.", dns.TypeA)
	ok(xfrZone, `
prereq yxrrset host.example.test. A
update add prereq.example.test. 60 A 192.0.2.60`)
	want("prereq.example.test.", dns.TypeA, "192.0.2.60")
	if serial() == before {
		t.Fatal("serial did not move")
	}

	// Refusals: each leaves the zone as it was.
	before = serial()
	for _, tc := range []struct {
		what, zone, rcode string
		args              []string
	}{
		{"no key", xfrZone, "REFUSED", nil},
		{"wrong secret", xfrZone, "NOTAUTH", []string{"-y", "hmac-sha256:" + updKeyName + ":" + badKeySecret}},
		{"unknown key", xfrZone, "NOTAUTH", []string{"-y", "hmac-sha256:stranger.:" + updKeySecret}},
		{"key not allowed for the zone", xfrZone, "REFUSED", []string{"-y", "hmac-sha256:" + othKeyName + ":" + othKeySecret}},
		{"zone the key is not allowed for", otherZone, "REFUSED", []string{"-y", updKey}},
	} {
		name := "refused." + tc.zone
		out, err := send(tc.zone, "update add "+name+" 60 A 192.0.2.66", tc.args...)
		if err == nil || !strings.Contains(out, tc.rcode) {
			t.Errorf("%s: want %s, got %v\n%s", tc.what, tc.rcode, err, out)
		}
		want(name, dns.TypeA)
	}
	if serial() != before {
		t.Fatal("a refused UPDATE changed the serial")
	}

	// CNAME exclusivity (RFC 1034 §3.6.2): refused, and the whole UPDATE
	// with it, including its valid part.
	out, err = send(xfrZone, `
update add fine.example.test. 60 A 192.0.2.70
update add www.example.test. 60 CNAME host.example.test.`, "-y", updKey)
	if err == nil || !strings.Contains(out, "REFUSED") {
		t.Fatalf("CNAME beside an A: %v\n%s", err, out)
	}
	out, err = send(xfrZone, `update add host.example.test. 60 CNAME www.example.test.`, "-y", updKey)
	if err == nil || !strings.Contains(out, "REFUSED") {
		t.Fatalf("CNAME beside an A: %v\n%s", err, out)
	}
	want("www.example.test.", dns.TypeA, "192.0.2.10")
	want("www.example.test.", dns.TypeCNAME)
	want("fine.example.test.", dns.TypeA)
	if serial() != before {
		t.Fatal("a refused UPDATE changed the serial")
	}

	// Delete: one record, then RRsets; the challenge is gone at once.
	ok(xfrZone, `update delete _acme-challenge.example.test. TXT "token-two"`)
	want("_acme-challenge.example.test.", dns.TypeTXT, `"token-three"`)
	ok(xfrZone, `
update delete _acme-challenge.example.test. TXT
update delete host.example.test. A`)
	want("_acme-challenge.example.test.", dns.TypeTXT)
	want("host.example.test.", dns.TypeA)

	// The other zone, with its own key.
	out, err = send(otherZone, "update add x.other.test. 60 A 192.0.2.80", "-y", "hmac-sha256:"+othKeyName+":"+othKeySecret)
	if err != nil {
		t.Fatalf("other zone with its key: %v\n%s", err, out)
	}
	want("x.other.test.", dns.TypeA, "192.0.2.80")
}
