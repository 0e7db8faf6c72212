package mcns

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// maxAPIToDNS is the API's promised bound between an API write's 2xx and DNS
// answering with the change.
const maxAPIToDNS = 100 * time.Millisecond

// TestAPIWriteAnsweredByDNSAtOnce runs a real CoreDNS server whose mcns
// block carries the API (so the API is wired by the plugin's own
// lifecycle), makes the deployment plan's exact call and more over HTTP,
// and asks over UDP. The snapshot is rebuilt before the 2xx, so the first
// query after the answer must already see the change; the time from the
// answer to that first correct reply is measured and bounded.
func TestAPIWriteAnsweredByDNSAtOnce(t *testing.T) {
	root := repoRoot(t)
	seeds := []string{
		filepath.Join(root, "examples", "zones", "mcp.metacircular.net.zone"),
		filepath.Join(root, "examples", "zones", "svc.mcp.metacircular.net.zone"),
	}
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	// refresh 1s: the poller cannot be what makes a change visible within
	// the first query after the API's answer.
	inst, dnsAddr := startServer(t, fmt.Sprintf(`.:0 {
	bind 127.0.0.1
	mcns %s {
		seed %s %s
		refresh 1s
		allow_zones mcp.metacircular.net example.net
		api %s {
			insecure_plaintext
			tokens %s
		}
	}
}`, filepath.Join(t.TempDir(), "mcns.db"), seeds[0], seeds[1], apiAddr, writeTokenFile(t)))
	defer inst.Stop()
	c := newAPIClient(apiAddr)
	dc := &dns.Client{Timeout: time.Second}

	// measure runs write, then queries name/qtype in a tight loop until ok
	// holds; the first reply must already hold.
	var latencies []time.Duration
	measure := func(what, name string, qtype uint16, write func() error, ok func(*dns.Msg) bool) {
		t.Helper()
		if err := write(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		answered := time.Now()
		for attempt := 1; ; attempt++ {
			resp, _, err := dc.Exchange(new(dns.Msg).SetQuestion(name, qtype), dnsAddr)
			if err == nil && ok(resp) {
				elapsed := time.Since(answered)
				latencies = append(latencies, elapsed)
				if attempt != 1 {
					t.Errorf("%s: seen only by query %d, not the first after the 2xx", what, attempt)
				}
				if elapsed > maxAPIToDNS {
					t.Errorf("%s: answered %s after the 2xx, bound %s", what, elapsed, maxAPIToDNS)
				}
				t.Logf("%s: first correct DNS answer %s after the 2xx (query %d)", what, elapsed, attempt)
				return
			}
			if time.Since(answered) > 2*time.Second {
				t.Fatalf("%s: not answered by DNS 2s after the 2xx; last reply %v, err %v", what, resp, err)
			}
		}
	}
	aSet := func(resp *dns.Msg) []string {
		var out []string
		for _, rr := range resp.Answer {
			if a, ok := rr.(*dns.A); ok {
				out = append(out, a.A.String())
			}
		}
		slices.Sort(out)
		return out
	}
	const ns = "ns.mcp.metacircular.net."
	lanVPN := []string{"100.95.252.120", "192.168.88.181"}
	if got := aSet(exchange(t, dnsAddr, ns, dns.TypeA)); !slices.Equal(got, lanVPN) {
		t.Fatalf("seeded %s: %v", ns, got)
	}

	// The deployment plan's call.
	var rec apiRecord
	measure("POST ns A 203.0.113.7", ns, dns.TypeA, func() error {
		_, err := c.do("POST", "/v1/zones/mcp.metacircular.net/records",
			map[string]any{"name": "ns", "type": "A", "value": "203.0.113.7", "ttl": 300}, &rec)
		return err
	}, func(m *dns.Msg) bool {
		return m.Rcode == dns.RcodeSuccess && slices.Equal(aSet(m), []string{"100.95.252.120", "192.168.88.181", "203.0.113.7"})
	})
	measure("PUT value 203.0.113.8", ns, dns.TypeA, func() error {
		_, err := c.do("PUT", fmt.Sprintf("/v1/zones/mcp.metacircular.net/records/%d", rec.ID),
			map[string]any{"value": "203.0.113.8"}, nil)
		return err
	}, func(m *dns.Msg) bool {
		return slices.Equal(aSet(m), []string{"100.95.252.120", "192.168.88.181", "203.0.113.8"})
	})
	measure("DELETE", ns, dns.TypeA, func() error {
		_, err := c.do("DELETE", fmt.Sprintf("/v1/zones/mcp.metacircular.net/records/%d", rec.ID), nil, nil)
		return err
	}, func(m *dns.Msg) bool { return slices.Equal(aSet(m), lanVPN) })
	// A name that did not exist: NXDOMAIN turns into an answer.
	const fresh = "fresh.svc.mcp.metacircular.net."
	if resp := exchange(t, dnsAddr, fresh, dns.TypeTXT); resp.Rcode != dns.RcodeNameError {
		t.Fatalf("%s before: %v", fresh, resp)
	}
	measure("POST new name TXT", fresh, dns.TypeTXT, func() error {
		_, err := c.do("POST", "/v1/zones/svc.mcp.metacircular.net/records",
			map[string]any{"name": "fresh", "type": "TXT", "value": `"v=1"`}, nil)
		return err
	}, func(m *dns.Msg) bool {
		return m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1 && m.Answer[0].(*dns.TXT).Txt[0] == "v=1"
	})
	// A zone created over the API is served at once too.
	measure("POST zone", "example.net.", dns.TypeSOA, func() error {
		_, err := c.do("POST", "/v1/zones", map[string]any{"name": "example.net", "primary_ns": "ns.mcp.metacircular.net."}, nil)
		return err
	}, func(m *dns.Msg) bool { return m.Rcode == dns.RcodeSuccess && len(m.Answer) == 1 && m.Authoritative })
	slices.Sort(latencies)
	t.Logf("API 2xx to first correct DNS answer over %d writes: min %s, max %s", len(latencies), latencies[0], latencies[len(latencies)-1])
}
