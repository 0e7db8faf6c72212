package mcns

import (
	"fmt"
	"strings"
	"testing"

	"github.com/coredns/caddy"
	"github.com/miekg/dns"
)

// txtUpdate is an UPDATE adding n TXT records, at bulk0.example.org. and
// on.
func txtUpdate(t *testing.T, n int) *dns.Msg {
	u := new(dns.Msg).SetUpdate("example.org.")
	rrs := make([]dns.RR, n)
	for i := range rrs {
		rrs[i] = rr(t, fmt.Sprintf(`bulk%d.example.org. 60 TXT "r"`, i))
	}
	u.Insert(rrs)
	return u
}

// bulkTXT counts the names bulk0.example.org. to bulk{n-1} that answer.
func bulkTXT(t *testing.T, m *MCNS, n int) int {
	found := 0
	for i := range n {
		if len(ask(t, m, new(dns.Msg).SetQuestion(fmt.Sprintf("bulk%d.example.org.", i), dns.TypeTXT)).Answer) == 1 {
			found++
		}
	}
	return found
}

func TestUpdateRecordLimit(t *testing.T) {
	h, m := updateChainTB(t)
	serial := zoneSerial(t, m, "example.org.")
	// The default bound: one record too many is refused, nothing changes.
	if got := sendUpdate(t, h, txtUpdate(t, defaultMaxUpdateRecords+1), updateKey); got.Rcode != dns.RcodeRefused {
		t.Fatalf("%d records: %s, want REFUSED", defaultMaxUpdateRecords+1, dns.RcodeToString[got.Rcode])
	}
	if n := bulkTXT(t, m, defaultMaxUpdateRecords+1); n != 0 || zoneSerial(t, m, "example.org.") != serial {
		t.Fatalf("refused UPDATE changed the zone: %d records, serial %d -> %d", n, serial, zoneSerial(t, m, "example.org."))
	}
	if got := sendUpdate(t, h, txtUpdate(t, defaultMaxUpdateRecords), updateKey); got.Rcode != dns.RcodeSuccess {
		t.Fatalf("%d records: %s", defaultMaxUpdateRecords, dns.RcodeToString[got.Rcode])
	}
	if n := bulkTXT(t, m, defaultMaxUpdateRecords+1); n != defaultMaxUpdateRecords {
		t.Fatalf("%d records served, want %d", n, defaultMaxUpdateRecords)
	}

	// A configured bound counts prerequisites too.
	m.config.maxUpdateRecords = 3
	u := txtUpdate(t, 2)
	u.Used([]dns.RR{rr(t, "www.example.org. 0 IN A 192.0.2.10")})
	u.Used([]dns.RR{rr(t, "mail.example.org. 0 IN A 192.0.2.20")})
	if got := sendUpdate(t, h, u, updateKey); got.Rcode != dns.RcodeRefused {
		t.Fatalf("2 prerequisites + 2 updates over a bound of 3: %s", dns.RcodeToString[got.Rcode])
	}
	if got := sendUpdate(t, h, txtUpdate(t, 3), updateKey); got.Rcode != dns.RcodeSuccess {
		t.Fatalf("3 records at a bound of 3: %s", dns.RcodeToString[got.Rcode])
	}
}

func TestParseMaxUpdateRecords(t *testing.T) {
	for input, want := range map[string]string{
		"mcns z.db {\n max_update_records 50\n}":  "",
		"mcns z.db {\n max_update_records 0\n}":   "Testfile:2",
		"mcns z.db {\n max_update_records -1\n}":  "must be a positive integer",
		"mcns z.db {\n max_update_records\n}":     "Wrong argument count",
		"mcns z.db {\n max_update_records 1 2\n}": "Wrong argument count",
	} {
		cfg, err := parse(caddy.NewTestController("dns", input))
		switch {
		case want == "" && (err != nil || cfg.updateRecordLimit() != 50):
			t.Errorf("%q: %v, limit %d", input, err, cfg.updateRecordLimit())
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%q: error %v, want %q", input, err, want)
		}
	}
	if got := (config{}).updateRecordLimit(); got != defaultMaxUpdateRecords {
		t.Errorf("default limit %d", got)
	}
}
