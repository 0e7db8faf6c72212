package main

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// TestGen checks that the zone parses with n names of every kind, that
// CNAME and MX targets exist with an A record, and that the query file
// mixes answers, NXDOMAIN and NODATA as documented.
func TestGen(t *testing.T) {
	const n, nq = 1000, 5000
	dir := t.TempDir()
	zf, qf := filepath.Join(dir, "z"), filepath.Join(dir, "q")
	if err := genCmd([]string{"-n", "1000", "-nq", "5000", "-zonefile", zf, "-queries", qf}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(zf)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	types := map[string]map[uint16]bool{}
	zp := dns.NewZoneParser(f, "", zf)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		name := rr.Header().Name
		if types[name] == nil {
			types[name] = map[uint16]bool{}
		}
		types[name][rr.Header().Rrtype] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if len(types) != n+2 { // the apex and ns1 besides the hosts
		t.Fatalf("%d names, want %d", len(types), n+2)
	}
	perType := map[uint16]int{}
	for _, ts := range types {
		for typ := range ts {
			perType[typ]++
		}
	}
	for _, typ := range []uint16{dns.TypeA, dns.TypeAAAA, dns.TypeCNAME, dns.TypeMX, dns.TypeTXT} {
		if perType[typ] < n/20 {
			t.Errorf("%d names with %s", perType[typ], dns.TypeToString[typ])
		}
	}
	for i := 0; i < n; i++ {
		if k := kindOf(i); k == kindCNAME || k == kindMX {
			if !types[aTarget(i)+".bench.test."][dns.TypeA] {
				t.Fatalf("target of %s has no A record", hostName(i))
			}
		}
	}

	q, err := os.Open(qf)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	var lines, nx, nodata, data int
	sc := bufio.NewScanner(q)
	for sc.Scan() {
		lines++
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("line %q", sc.Text())
		}
		qt := dns.StringToType[fields[1]]
		ts, exists := types[fields[0]]
		switch {
		case !exists:
			nx++
		case ts[qt] || ts[dns.TypeCNAME]:
			data++
		default:
			nodata++
		}
	}
	if lines != nq {
		t.Fatalf("%d query lines, want %d", lines, nq)
	}
	// 15% each for NXDOMAIN and NODATA (NODATA through an alias counts
	// as data here), the rest answers.
	if nx < nq/10 || nx > nq/5 || nodata < nq/10 || data < nq/2 {
		t.Fatalf("mix: %d answers, %d NODATA, %d NXDOMAIN", data, nodata, nx)
	}
}

func TestGenRejectsBadFlags(t *testing.T) {
	if err := genCmd([]string{"-n", "5", "-zonefile", "z", "-queries", "q"}); err == nil {
		t.Fatal("-n 5 accepted")
	}
	if err := genCmd([]string{"-n", "100"}); err == nil {
		t.Fatal("missing output files accepted")
	}
}
