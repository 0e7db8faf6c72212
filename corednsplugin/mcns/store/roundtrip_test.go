package store

import (
	"context"
	"testing"
)

// TestContentRoundTrip stores values of many types and reads them back the
// way serving does: the RR must come back identical.
func TestContentRoundTrip(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	mustZone(t, s, "example.org")
	specs := []RecordSpec{
		{"t1", "TXT", `"with \"quotes\" and \\ backslash"`, 300},
		{"t2", "TXT", `"semi;colon" "tab\009here" "\255\000binary"`, 300},
		{"t3", "TXT", `"` + string(make([]byte, 0)) + `"`, 300},
		{"t4", "TXT", `unquoted words`, 300},
		{"mx", "MX", "0 .", 300},
		{"srv", "SRV", "0 0 0 .", 300},
		{"caa", "CAA", `0 issuewild ";"`, 300},
		{"naptr", "NAPTR", `100 10 "S" "SIP+D2U" "!^.*$!sip:info@example.org!" .`, 300},
		{"loc", "LOC", "52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m", 300},
		{"https", "HTTPS", `1 . alpn="h2,h3" ipv4hint=192.0.2.1`, 300},
		{"svcb", "SVCB", "1 svc.example.net. port=8443", 300},
		{"tlsa", "TLSA", "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 300},
		{"ds", "DS", "12345 13 2 0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF", 300},
		{"hinfo", "HINFO", `"PC" "Linux"`, 300},
		{"uri", "URI", `10 1 "https://example.org/"`, 300},
		{"esc\\.dot", "A", "192.0.2.1", 300},
		{"*", "A", "192.0.2.2", 300},
		{"ptr", "PTR", "host.example.net.", 300},
		{"cname", "CNAME", "target.example.net.", 300},
		{"dname", "DNAME", "example.net.", 300},
		{"aaaa", "AAAA", "::ffff:192.0.2.1", 300},
	}
	want := map[string]string{}
	for _, sp := range specs {
		rr, err := ParseSpec("example.org", sp)
		if err != nil {
			t.Fatalf("%+v: %v", sp, err)
		}
		if _, err := s.AddRecord(ctx, "example.org", sp); err != nil {
			t.Fatalf("%+v: %v", sp, err)
		}
		want[rr.String()] = sp.Value
	}
	zd, err := s.LoadZone(ctx, "example.org")
	if err != nil {
		t.Fatal(err)
	}
	if zd.Skipped != 0 {
		t.Fatalf("skipped rows: %v", zd.BadRow)
	}
	got := map[string]bool{}
	for _, rr := range zd.Records {
		got[rr.String()] = true
	}
	for w, v := range want {
		if !got[w] {
			t.Errorf("value %s did not round-trip: want %q", v, w)
		}
	}
}
