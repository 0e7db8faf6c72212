package integration

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// soaLine matches a dig/kdig answer line of the example.test SOA.
func isSOALine(l string, serial uint32) bool {
	f := strings.Fields(l)
	return len(f) >= 7 && f[0] == xfrZone && f[3] == "SOA" && f[6] == strconv.FormatUint(uint64(serial), 10)
}

// checkAXFR checks lines are a full transfer at serial with n records
// between the two SOAs, including www's A.
func checkAXFR(t *testing.T, what string, lines []string, serial uint32, n int) {
	t.Helper()
	if len(lines) != n+2 || !isSOALine(lines[0], serial) || !isSOALine(lines[len(lines)-1], serial) {
		t.Fatalf("%s: want %d records framed by SOA %d, got:\n%s", what, n, serial, strings.Join(lines, "\n"))
	}
	found := false
	for _, l := range lines[1 : len(lines)-1] {
		if strings.Fields(l)[3] == "SOA" {
			t.Fatalf("%s: SOA inside the transfer:\n%s", what, strings.Join(lines, "\n"))
		}
		found = found || l == "www.example.test. 300 IN A 192.0.2.10"
	}
	if !found {
		t.Fatalf("%s: www's A missing:\n%s", what, strings.Join(lines, "\n"))
	}
}

func TestXfrAXFR(t *testing.T) {
	bin := binDir(t)
	needTool(t, "dig")
	p := startPrimary(t, bin)

	// Unsigned, from an address the transfer plugin's `to` allows.
	checkAXFR(t, "AXFR", answerLines(p.dig(t, "+noall", "+answer", "AXFR", xfrZone)), xfrSerial, 6)

	// Signed with a key the tsig plugin knows: dig verifies every message's
	// signature and would print a failure otherwise.
	out := p.dig(t, "-y", "hmac-sha256:"+xfrKeyName+":"+xfrKeySecret, "AXFR", xfrZone)
	if strings.Contains(out, "failed") || strings.Contains(out, "verify failure") {
		t.Fatalf("TSIG AXFR:\n%s", out)
	}
	var data []string
	for _, l := range answerLines(out) {
		if strings.Fields(l)[3] != "TSIG" {
			data = append(data, l)
		} else if !strings.HasPrefix(l, xfrKeyName+" 0 ANY TSIG hmac-sha256.") || !strings.Contains(l, "NOERROR") {
			t.Fatalf("TSIG AXFR: unexpected signature %q", l)
		}
	}
	checkAXFR(t, "TSIG AXFR", data, xfrSerial, 6)
	if !strings.Contains(out, "TSIG") {
		t.Fatalf("TSIG AXFR answer is not signed:\n%s", out)
	}

	// A wrong secret: the tsig plugin answers NOTAUTH/BADSIG, no data.
	out = p.dig(t, "-y", "hmac-sha256:"+xfrKeyName+":"+badKeySecret, "AXFR", xfrZone)
	if !strings.Contains(out, "BADSIG") || strings.Contains(out, "192.0.2.10") {
		t.Fatalf("AXFR with a wrong secret:\n%s", out)
	}

	// other.test may only be transferred to ::1: REFUSED here, with no data.
	m := new(dns.Msg)
	m.SetAxfr(otherZone)
	c := &dns.Client{Net: "tcp", Timeout: 5 * time.Second}
	r, _, err := c.Exchange(m, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused || len(r.Answer) != 0 {
		t.Fatalf("AXFR outside the ACL: %s, %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if out := p.dig(t, "AXFR", otherZone); !strings.Contains(out, "Transfer failed") {
		t.Fatalf("dig AXFR outside the ACL:\n%s", out)
	}
	// Over UDP, transfers are refused outright.
	m.SetAxfr(xfrZone)
	r, _, err = (&dns.Client{Net: "udp", Timeout: 5 * time.Second}).Exchange(m, p.addr)
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeRefused {
		t.Fatalf("AXFR over UDP: %s", dns.RcodeToString[r.Rcode])
	}
}

func TestXfrIXFR(t *testing.T) {
	bin := binDir(t)
	kdig := needTool(t, "kdig")
	p := startPrimary(t, bin)
	ixfr := func(serial uint32, extra ...string) []string {
		t.Helper()
		args := append([]string{"@127.0.0.1", "-p", strconv.Itoa(p.port), "+noall", "+answer", "+timeout=5",
			xfrZone, fmt.Sprintf("IXFR=%d", serial)}, extra...)
		out, err := run(t, nil, kdig, args...)
		if err != nil || strings.Contains(out, "ERROR") {
			t.Fatalf("kdig IXFR=%d: %v\n%s", serial, err, out)
		}
		var lines []string
		for _, l := range answerLines(out) {
			if strings.Fields(l)[3] != "TSIG" {
				lines = append(lines, l)
			}
		}
		return lines
	}

	// Two API changes, each a journal entry.
	s0 := uint32(xfrSerial)
	p.apiAddRecord(t, xfrZone, "api1", "A", "192.0.2.101")
	s1, err := soaSerialAt(p.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	p.apiAddRecord(t, xfrZone, "api2", "TXT", `"second change"`)
	s2, err := soaSerialAt(p.addr, xfrZone)
	if err != nil {
		t.Fatal(err)
	}
	if s1 == s0 || s2 == s1 {
		t.Fatalf("serials did not move: %d %d %d", s0, s1, s2)
	}

	// From s0: both differences, RFC 1995 style.
	got := ixfr(s0)
	want := []string{
		fmt.Sprint("SOA ", s2), fmt.Sprint("SOA ", s0), fmt.Sprint("SOA ", s1), "api1.example.test. 60 IN A 192.0.2.101",
		fmt.Sprint("SOA ", s1), fmt.Sprint("SOA ", s2), `api2.example.test. 60 IN TXT "second change"`, fmt.Sprint("SOA ", s2),
	}
	check := func(what string, got, want []string) {
		t.Helper()
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			if serial, isSOA := strings.CutPrefix(want[i], "SOA "); isSOA {
				n, _ := strconv.ParseUint(serial, 10, 32)
				ok = isSOALine(got[i], uint32(n))
			} else {
				ok = got[i] == want[i]
			}
		}
		if !ok {
			t.Fatalf("%s: got\n%s\nwant\n%s", what, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	check(fmt.Sprint("IXFR=", s0), got, want)
	// From s1: the second only; TSIG-signed too.
	check(fmt.Sprint("IXFR=", s1), ixfr(s1, "-y", "hmac-sha256:"+xfrKeyName+":"+xfrKeySecret), append([]string{want[0]}, want[4:]...))
	// Up to date: the SOA alone.
	check(fmt.Sprint("IXFR=", s2), ixfr(s2), want[:1])
	// Older than the journal reaches: a full transfer.
	checkAXFR(t, "IXFR=2000000000", ixfr(2000000000), s2, 8)
}
