package uafilter

import (
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
	if id, _ := a.scan(benchUA); id != -1 {
		b.Fatalf("benchmark UA matches pattern %d", id)
	}
	b.SetBytes(int64(len(benchUA)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if id, _ := a.scan(benchUA); id != -1 {
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
			a.scanSerial(benchUA)
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
