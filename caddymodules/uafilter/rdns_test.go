package uafilter

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/zap"

	"github.com/metacircular/edge/internal/testutil"
)

// Crawler User-Agents as their operators document them.
const (
	uaGooglebotDoc = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
	uaGPTBotDoc    = "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko); compatible; GPTBot/1.1; +https://openai.com/gptbot"
	uaBingbotDoc   = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"
)

// startCoreDNS runs bin/coredns from EDGE_BIN_DIR on a free loopback port,
// serving the given zones (origin -> records, SOA and NS added) with the
// file plugin. It returns the server's address, or skips the test when
// the binaries are not available.
func startCoreDNS(t *testing.T, zones map[string][]string) string {
	t.Helper()
	bin := os.Getenv("EDGE_BIN_DIR")
	if bin == "" {
		t.Skip("EDGE_BIN_DIR is not set: reverse-DNS tests need bin/coredns (run make test, or set EDGE_BIN_DIR=/path/to/bin)")
	}
	coredns := filepath.Join(bin, "coredns")
	if _, err := os.Stat(coredns); err != nil {
		t.Skipf("no CoreDNS binary: %v (run make build)", err)
	}
	dir := t.TempDir()
	port := testutil.FreePort(t)
	var corefile strings.Builder
	fmt.Fprintf(&corefile, ".:%d {\n\tbind 127.0.0.1\n", port)
	i := 0
	for origin, records := range zones {
		i++
		zf := filepath.Join(dir, fmt.Sprintf("zone%d", i))
		content := fmt.Sprintf("$ORIGIN %s.\n$TTL 60\n@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 60\n@ IN NS ns.%s.\n%s\n",
			origin, origin, origin, origin, strings.Join(records, "\n"))
		writeFile(t, zf, content)
		fmt.Fprintf(&corefile, "\tfile %s %s\n", zf, origin)
	}
	corefile.WriteString("}\n")
	cf := filepath.Join(dir, "Corefile")
	writeFile(t, cf, corefile.String())
	cmd := exec.Command(coredns, "-conf", cf)
	cmd.Dir = dir
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	deadline := time.Now().Add(10 * time.Second)
	for {
		m := new(dns.Msg)
		for origin := range zones {
			m.SetQuestion(origin+".", dns.TypeSOA)
			break
		}
		if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("CoreDNS did not answer on %s:\n%s", addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// wantList checks the list that selects a request with ua from ip ("" for
// none).
func wantList(t *testing.T, e *engine, ua, ip, want string) {
	t.Helper()
	if l, _, _ := selectsCategory(e, ua, ip); l != want {
		t.Errorf("%q from %s: list %q, want %q", ua, ip, l, want)
	}
}

// ptr returns a PTR record line for ip.
func ptr(t *testing.T, ip, name string) string {
	t.Helper()
	rev, err := dns.ReverseAddr(ip)
	if err != nil {
		t.Fatal(err)
	}
	return rev + " IN PTR " + name + "."
}

// testZones are the reverse and forward zones of the reverse-DNS tests.
func testZones(t *testing.T) map[string][]string {
	return map[string][]string{
		"2.0.192.in-addr.arpa": {
			ptr(t, "192.0.2.10", "crawl-192-0-2-10.googlebot.com"), // genuine
			ptr(t, "192.0.2.11", "host-11.example.net"),            // someone else's
			ptr(t, "192.0.2.12", "crawl-fake.googlebot.com"),       // forward does not match
			ptr(t, "192.0.2.14", "unrelated.example.org"),          // several names,
			ptr(t, "192.0.2.14", "crawl-192-0-2-14.googlebot.com"), // one genuine
			// 192.0.2.13 has no PTR record at all.
		},
		"8.b.d.0.1.0.0.2.ip6.arpa": {
			ptr(t, "2001:db8::10", "crawl-v6.googlebot.com"),
		},
		"googlebot.com": {
			"crawl-192-0-2-10 IN A 192.0.2.10",
			"crawl-192-0-2-14 IN A 192.0.2.14",
			"crawl-fake IN A 192.0.2.99",
			"crawl-v6 IN AAAA 2001:db8::10",
		},
		"example.net": {
			"host-11 IN A 192.0.2.11",
		},
	}
}

// rdnsEngine provisions rules with verification metrics of its own.
func rdnsEngine(t *testing.T, rules Rules) (*engine, *verifyMetrics) {
	t.Helper()
	ctx, cancel := testContext()
	t.Cleanup(cancel)
	vm := unregisteredVerifyMetrics()
	e, err := newEngineWith(ctx, rules, zap.NewNop(), nil, nil, vm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.close)
	return e, vm
}

func lookupCount(t *testing.T, vm *verifyMetrics, result string) float64 {
	t.Helper()
	return counterValue(t, vm.lookups.WithLabelValues(result))
}

// TestReverseDNSAgainstCoreDNS verifies Googlebot claims by
// forward-confirmed reverse DNS against a real DNS server.
func TestReverseDNSAgainstCoreDNS(t *testing.T) {
	addr := startCoreDNS(t, testZones(t))
	e, vm := rdnsEngine(t, Rules{Preset: []string{"scanners"}, VerifyBots: &VerifyBots{Resolver: addr, Timeout: caddy.Duration(2 * time.Second)}})
	for _, tc := range []struct {
		ip, list string
	}{
		{"192.0.2.10", ""},                    // PTR under googlebot.com, A matches
		{"192.0.2.14", ""},                    // one of two PTR names is genuine
		{"2001:db8::10", ""},                  // IPv6, AAAA matches
		{"192.0.2.11", "spoofed:googlebot"},   // PTR elsewhere
		{"192.0.2.12", "spoofed:googlebot"},   // PTR under googlebot.com, A elsewhere
		{"192.0.2.13", "spoofed:googlebot"},   // no PTR
		{"198.51.100.7", "spoofed:googlebot"}, // no reverse zone at all
	} {
		l, p, cat := selectsCategory(e, uaGooglebotDoc, tc.ip)
		if l != tc.list {
			t.Errorf("Googlebot from %s: list %q, want %q", tc.ip, l, tc.list)
		}
		if l != "" && (p != "Googlebot" || cat != "search") {
			t.Errorf("Googlebot from %s: pattern %q category %q", tc.ip, p, cat)
		}
	}
	if n := lookupCount(t, vm, "confirmed"); n != 3 {
		t.Errorf("%v confirmed lookups, want 3", n)
	}
	var h dto.Metric
	if err := vm.latency.(prometheus.Histogram).Write(&h); err != nil {
		t.Fatal(err)
	}
	if n := h.GetHistogram().GetSampleCount(); n != 7 || h.GetHistogram().GetSampleSum() <= 0 {
		t.Errorf("latency histogram: %d samples, sum %v; want 7 lookups", n, h.GetHistogram().GetSampleSum())
	}
	// Verdicts are cached: asking again costs no lookup.
	before := lookupCount(t, vm, "confirmed") + lookupCount(t, vm, "unconfirmed")
	for range 3 {
		selectsCategory(e, uaGooglebotDoc, "192.0.2.10")
		selectsCategory(e, uaGooglebotDoc, "192.0.2.12")
	}
	if after := lookupCount(t, vm, "confirmed") + lookupCount(t, vm, "unconfirmed"); after != before {
		t.Errorf("cached verdicts looked up again: %v lookups, then %v", before, after)
	}
	if n := counterValue(t, e.claimCounters[crawlerIndex("googlebot")].verified); n < 3 {
		t.Errorf("verified counter %v", n)
	}
	if n := counterValue(t, e.claimCounters[crawlerIndex("googlebot")].spoofed); n < 4 {
		t.Errorf("spoofed counter %v", n)
	}
	// A browser, and a scanner, from a spoofing address are judged as
	// usual.
	wantList(t, e, uaFirefox, "192.0.2.12", "")
	wantList(t, e, uaSqlmap, "192.0.2.12", "preset:scanners")
}

// TestReverseDNSSuffixOverride replaces a crawler's suffixes.
func TestReverseDNSSuffixOverride(t *testing.T) {
	addr := startCoreDNS(t, testZones(t))
	e, _ := rdnsEngine(t, Rules{VerifyBots: &VerifyBots{Resolver: addr, RDNS: map[string][]string{"googlebot": {"example.net"}}}})
	wantList(t, e, uaGooglebotDoc, "192.0.2.11", "")
	wantList(t, e, uaGooglebotDoc, "192.0.2.10", "spoofed:googlebot")
}

// TestReverseDNSSingleflight sends many concurrent claims from one new
// address: one lookup answers them all.
func TestReverseDNSSingleflight(t *testing.T) {
	addr := startCoreDNS(t, testZones(t))
	e, vm := rdnsEngine(t, Rules{VerifyBots: &VerifyBots{Resolver: addr}})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			wantList(t, e, uaGooglebotDoc, "192.0.2.10", "")
		})
	}
	wg.Wait()
	if n := lookupCount(t, vm, "confirmed"); n != 1 {
		t.Errorf("%v lookups for one address, want 1", n)
	}
}

// blackHole is a UDP DNS "server" that reads queries and never answers.
func blackHole(t *testing.T) (string, func() int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	var mu sync.Mutex
	n := 0
	go func() {
		buf := make([]byte, 1500)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			mu.Lock()
			n++
			mu.Unlock()
		}
	}()
	return pc.LocalAddr().String(), func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestReverseDNSFailure: a resolver that does not answer leaves the claim
// unverified within the timeout. With spoofed block that refuses it; with
// spoofed allow it passes. The failure is cached briefly.
func TestReverseDNSFailure(t *testing.T) {
	addr, _ := blackHole(t)
	const timeout = 300 * time.Millisecond
	for _, policy := range []string{"", spoofedAllow} {
		e, vm := rdnsEngine(t, Rules{VerifyBots: &VerifyBots{Resolver: addr, Timeout: caddy.Duration(timeout), Spoofed: policy}})
		start := time.Now()
		l, _, _ := selectsCategory(e, uaGooglebotDoc, "192.0.2.10")
		took := time.Since(start)
		want := "spoofed:googlebot"
		if policy == spoofedAllow {
			want = ""
		}
		if l != want {
			t.Errorf("spoofed %q: list %q, want %q", policy, l, want)
		}
		if took < timeout-50*time.Millisecond || took > timeout+time.Second {
			t.Errorf("lookup took %v with a %v budget", took, timeout)
		}
		if n := lookupCount(t, vm, "error"); n != 1 {
			t.Errorf("%v failed lookups", n)
		}
		start = time.Now()
		selectsCategory(e, uaGooglebotDoc, "192.0.2.10")
		if took := time.Since(start); took > timeout/2 {
			t.Errorf("failure not cached: second request took %v", took)
		}
	}
	// A closed port fails at once.
	e, vm := rdnsEngine(t, Rules{VerifyBots: &VerifyBots{Resolver: fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))}})
	wantList(t, e, uaGooglebotDoc, "192.0.2.10", "spoofed:googlebot")
	if n := lookupCount(t, vm, "error"); n != 1 {
		t.Errorf("%v failed lookups", n)
	}
}

// TestReverseDNSInFlightCap: when every lookup slot is busy, a new address
// is undecided at once, without a lookup and without caching, and its
// request is judged like any other User-Agent: not refused as spoofed, or
// whoever keeps the slots busy would get the real crawlers refused.
func TestReverseDNSInFlightCap(t *testing.T) {
	addr, _ := blackHole(t)
	e, vm := rdnsEngine(t, Rules{VerifyBots: &VerifyBots{Resolver: addr, Timeout: caddy.Duration(time.Second)}})
	e.rdns.sem = make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		selectsCategory(e, uaGooglebotDoc, "192.0.2.10") // occupies the slot
	}()
	testutil.WaitFor(t, 5*time.Second, "the first lookup", func() error {
		if n := len(e.rdns.sem); n != 1 {
			return fmt.Errorf("%d lookups running", n)
		}
		return nil
	})
	start := time.Now()
	wantList(t, e, uaGooglebotDoc, "192.0.2.20", "")
	if took := time.Since(start); took > 200*time.Millisecond {
		t.Errorf("limited lookup waited %v", took)
	}
	if n := lookupCount(t, vm, "limited"); n != 1 {
		t.Errorf("%v limited lookups", n)
	}
	if _, ok := e.rdns.cache.get(mustAddr("192.0.2.20"), time.Now().UnixNano()); ok {
		t.Error("a limited lookup was cached")
	}
	<-done
}

func TestVerdictCacheCap(t *testing.T) {
	c := verdictCache{max: 16}
	now := time.Now().UnixNano()
	for i := range 100 {
		c.put(mustAddr(fmt.Sprintf("192.0.2.%d", i)), verdict{expires: now + int64(time.Hour)}, now)
		if c.len() > 16 {
			t.Fatalf("%d verdicts cached, cap 16", c.len())
		}
	}
	if _, ok := c.get(mustAddr("192.0.2.99"), now); !ok {
		t.Error("newest verdict evicted")
	}
	c.put(mustAddr("198.51.100.1"), verdict{expires: now + 1}, now)
	if _, ok := c.get(mustAddr("198.51.100.1"), now+2); ok {
		t.Error("expired verdict returned")
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
