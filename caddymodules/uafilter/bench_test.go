package uafilter

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// benchUA is a real-world shaped User-Agent of exactly 200 bytes (Chrome
// WebView inside the Facebook app on a Samsung phone) that none of the
// benchmark patterns match, so every benchmark scans all 200 bytes.
const benchUA = "Mozilla/5.0 (Linux; Android 15; SM-S928U1 Build/AP3A.240905.015.A2; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.135 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/491.0.0.58.108;]"

// benchPatterns returns n distinct bot-name-like patterns (6-16
// characters, mixed case, some with a bot/spider/crawler suffix) that do
// not occur in benchUA.
func benchPatterns(n int) []acPattern {
	rng := rand.New(rand.NewSource(42))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
	suffixes := []string{"", "", "bot", "Bot/", "spider", "-crawler", "Scanner/"}
	fb := foldString(benchUA)
	seen := make(map[string]bool, n)
	out := make([]acPattern, 0, n)
	for len(out) < n {
		l := 4 + rng.Intn(9)
		b := make([]byte, l)
		for i := range b {
			b[i] = letters[rng.Intn(len(letters))]
		}
		p := string(b) + suffixes[rng.Intn(len(suffixes))]
		f := foldString(p)
		if seen[f] || containsFold(fb, f) {
			continue
		}
		seen[f] = true
		out = append(out, acPattern{text: p, id: int32(len(out))})
	}
	return out
}

func containsFold(foldedHaystack, foldedNeedle string) bool {
	return strings.Contains(foldedHaystack, foldedNeedle)
}

// fragmentPatterns returns n patterns built from pieces of benchUA with
// the last byte changed, so the automaton walks deep states all along the
// User-Agent without ever matching: a worst case for cache locality.
func fragmentPatterns(n int) []acPattern {
	rng := rand.New(rand.NewSource(7))
	fb := foldString(benchUA)
	seen := make(map[string]bool, n)
	out := make([]acPattern, 0, n)
	for len(out) < n {
		l := 4 + rng.Intn(14)
		i := rng.Intn(len(benchUA) - l)
		b := []byte(benchUA[i : i+l])
		b[l-1] = "qjz~^"[rng.Intn(5)]
		f := foldString(string(b))
		if seen[f] || containsFold(fb, f) {
			continue
		}
		seen[f] = true
		out = append(out, acPattern{text: string(b), id: int32(len(out))})
	}
	return out
}

func benchmarkScan(b *testing.B, pats []acPattern) {
	if len(benchUA) != 200 {
		b.Fatalf("benchUA is %d bytes", len(benchUA))
	}
	a, err := buildAutomaton(pats)
	if err != nil {
		b.Fatal(err)
	}
	if id := a.scan(benchUA).block; id != -1 {
		b.Fatalf("benchmark UA matches pattern %d", id)
	}
	b.SetBytes(int64(len(benchUA)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if id := a.scan(benchUA).block; id != -1 {
			b.Fatal("matched")
		}
	}
	b.ReportMetric(float64(a.states), "states")
	b.ReportMetric(float64(a.tableBytes())/(1<<20), "table-MiB")
}

// The goal: 10,000 substring patterns on a 200-byte
// User-Agent in at most 500 ns/op with 0 allocs/op.
func BenchmarkScan10000Patterns(b *testing.B) { benchmarkScan(b, benchPatterns(10000)) }

// The same with 10 patterns, for comparison: the cost per byte does not
// depend on the number of patterns.
func BenchmarkScan10Patterns(b *testing.B) { benchmarkScan(b, benchPatterns(10)) }

// 10,000 patterns made of User-Agent fragments: the automaton is deep
// inside its table on most bytes.
func BenchmarkScan10000FragmentPatterns(b *testing.B) { benchmarkScan(b, fragmentPatterns(10000)) }

// BenchmarkServeHTTP measures the handler on a request that passes, with
// both presets, 10,000 list patterns and an allow pattern configured.
func BenchmarkServeHTTP(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("%dPatterns", n), func(b *testing.B) {
			var block []string
			for _, p := range benchPatterns(n) {
				block = append(block, p.text)
			}
			h := &Handler{Rules: Rules{Block: block, Preset: []string{"ai_crawlers", "scanners"}, Allow: []string{"Googlebot/"}}}
			ctx, cancel := testContext()
			defer cancel()
			if err := h.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			defer h.Cleanup()
			req := httptest.NewRequest(http.MethodGet, "/", nil)
			req.Header.Set("User-Agent", benchUA)
			w := httptest.NewRecorder()
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := h.ServeHTTP(w, req, next); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkScanStrategies compares the serial walk with the interleaved
// walks on 10,000 patterns.
func BenchmarkScanStrategies(b *testing.B) {
	a, err := buildAutomaton(benchPatterns(10000))
	if err != nil {
		b.Fatal(err)
	}
	m := a.maxLen - 1
	n := len(benchUA)
	b.Run("serial", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			a.scanSerial(benchUA, 0, 0, false)
		}
	})
	b.Run("2windows", func(b *testing.B) {
		l := (n + m + 1) / 2
		for i := 0; i < b.N; i++ {
			a.scan2(benchUA, l)
		}
	})
	b.Run("3windows", func(b *testing.B) {
		l := (n + 2*m + 2) / 3
		for i := 0; i < b.N; i++ {
			a.scan3(benchUA, l)
		}
	})
}

// serveBench provisions a handler with rules for a benchmark.
func serveBench(b *testing.B, rules Rules) *Handler {
	b.Helper()
	h := &Handler{Rules: rules}
	ctx, cancel := testContext()
	b.Cleanup(cancel)
	if err := h.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Cleanup() })
	return h
}

// benchRequest is a request with a User-Agent and Caddy's client_ip.
func benchRequest(ua, ip string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.Header.Set("User-Agent", ua)
	return withClientIP(req, ip)
}

var nextOK = caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })

// browserRules are BenchmarkServeHTTP/10000Patterns' rules.
func browserRules(b *testing.B) Rules {
	var block []string
	for _, p := range benchPatterns(10000) {
		block = append(block, p.text)
	}
	return Rules{Block: block, Preset: []string{"ai_crawlers", "scanners"}, Allow: []string{"Googlebot/"}}
}

// fastestPerOp serves req with the handlers in turn, in chunks of 2,000
// requests, until b.N requests have been served, and returns each
// handler's fastest chunk in nanoseconds per request. Alternating lets all
// handlers see the same machine load, and the fastest chunk is the one
// least disturbed by it: a busy machine only ever adds time.
func fastestPerOp(b *testing.B, req *http.Request, hs ...*Handler) []float64 {
	const chunk = 2000
	w := httptest.NewRecorder()
	best := make([]time.Duration, len(hs))
	for k := range best {
		best[k] = time.Hour
	}
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += len(hs) * chunk {
		for k, h := range hs {
			start := time.Now()
			for i := 0; i < chunk; i++ {
				if err := h.ServeHTTP(w, req, nextOK); err != nil {
					b.Fatal(err)
				}
			}
			best[k] = min(best[k], time.Since(start))
		}
	}
	out := make([]float64, len(hs))
	for k, d := range best {
		out[k] = float64(d.Nanoseconds()) / chunk
	}
	return out
}

// BenchmarkServeHTTPBrowserVerifyBots measures the handler on a browser
// User-Agent (no crawler claim) without and with verify_bots, as
// BenchmarkServeHTTP/10000Patterns configures it, and reports their ratio
// (goal: at most 1.05).
func BenchmarkServeHTTPBrowserVerifyBots(b *testing.B) {
	rules := browserRules(b)
	plain := serveBench(b, rules)
	rules.VerifyBots = &VerifyBots{Ranges: map[string][]string{"gptbot": {writeBenchRanges(b)}}}
	verify := serveBench(b, rules)
	ns := fastestPerOp(b, benchRequest(benchUA, "192.0.2.1"), plain, verify)
	b.ReportMetric(ns[0], "plain-ns/op")
	b.ReportMetric(ns[1], "verify-ns/op")
	b.ReportMetric(ns[1]/ns[0], "ratio")
}

func writeBenchRanges(b *testing.B) string {
	path := filepath.Join(b.TempDir(), "ranges.json")
	if err := os.WriteFile(path, []byte(rangeFile("192.0.2.0/24", "2001:db8::/32")), 0o644); err != nil {
		b.Fatal(err)
	}
	return path
}

// BenchmarkServeHTTPVerifiedCrawler measures the handler on a verified
// crawler that passes: GPTBot from its published ranges, and Googlebot
// whose reverse-DNS verdict is cached (goal: at most 300 ns, 0 allocs),
// with BenchmarkServeHTTP/10000Patterns' lists otherwise.
func BenchmarkServeHTTPVerifiedCrawler(b *testing.B) {
	rules := browserRules(b)
	rules.Preset = []string{"scanners", "ai_user", "seo"} // not their categories
	rules.VerifyBots = &VerifyBots{Ranges: map[string][]string{"gptbot": {writeBenchRanges(b)}}}
	h := serveBench(b, rules)
	ip := netip.MustParseAddr("192.0.2.10")
	h.eng.rdns.cache.put(ip, verdict{names: []string{"crawl-192-0-2-10.googlebot.com"}, expires: time.Now().Add(time.Hour).UnixNano()}, time.Now().UnixNano())
	for _, bc := range []struct{ name, ua string }{
		{"ranges", uaGPTBotDoc},
		{"rdns-cached", uaGooglebotDoc},
	} {
		b.Run(bc.name, func(b *testing.B) {
			req := benchRequest(bc.ua, ip.String())
			if _, hit := h.eng.matchRequest(req); hit.list >= 0 {
				b.Fatalf("verified crawler selected: %+v", hit)
			}
			b.ReportMetric(fastestPerOp(b, req, h)[0], "best-ns/op")
		})
	}
}
