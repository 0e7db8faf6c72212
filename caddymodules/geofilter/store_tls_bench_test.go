package geofilter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

// BenchmarkStoreTLSLatency compares the handler with its rate limit (and
// a ban) kept in one redis-server on loopback, reached over plain TCP and
// over TLS (private CA, TLS 1.3): per-request latency percentiles of
// each, and what TLS adds at the median and the 99th percentile. Skipped
// without redis-server.
func BenchmarkStoreTLSLatency(b *testing.B) {
	ca := newTestPKI(b, "bench")
	r, tlsPort := startTLSRedis(b, ca, "no", "127.0.0.1")
	limit := &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "tls-bench"}
	ban := &Ban{Strikes: 3, Duration: caddy.Duration(time.Hour)}
	provision := func(s *Store) *Handler {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		b.Cleanup(cancel)
		h := &Handler{Filter: Filter{RateLimit: limit, Ban: ban}, noVars: true, Store: s}
		if err := h.Provision(ctx); err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = h.Cleanup() })
		return h
	}
	// A loaded machine can stall a request past the default timeout; the
	// store would then count as down and be skipped, so a generous
	// timeout, and on_error block to fail the benchmark if it happens.
	const timeout = caddy.Duration(2 * time.Second)
	plain := provision(&Store{Type: "redis", URL: r.url(), Prefix: "bench:", Timeout: timeout, OnError: "block"})
	tlsURL := fmt.Sprintf("rediss://127.0.0.1:%d/0", tlsPort)
	overTLS := provision(&Store{Type: "redis", URL: tlsURL, Prefix: "bench:", Timeout: timeout, OnError: "block",
		TLS: &StoreTLS{CACert: ca.CAFile}})

	req := httptest.NewRequest("GET", "/", nil)
	vars := map[string]any{caddyhttp.ClientIPVarKey: "192.0.2.1"}
	req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
	w := &nopWriter{h: http.Header{}}
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	serve := func(h *Handler) time.Duration {
		start := time.Now()
		if err := h.ServeHTTP(w, req, next); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	// The first request of each dials (and handshakes): not counted.
	serve(plain)
	serve(overTLS)
	var plainNS, tlsNS []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		plainNS = append(plainNS, serve(plain))
		tlsNS = append(tlsNS, serve(overTLS))
	}
	pct := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(q*float64(len(d))))])
	}
	pp50, pp99 := pct(plainNS, 0.50), pct(plainNS, 0.99)
	tp50, tp99 := pct(tlsNS, 0.50), pct(tlsNS, 0.99)
	b.ReportMetric(pp50, "plain-p50-ns")
	b.ReportMetric(pp99, "plain-p99-ns")
	b.ReportMetric(tp50, "tls-p50-ns")
	b.ReportMetric(tp99, "tls-p99-ns")
	b.ReportMetric(tp50-pp50, "added-p50-ns")
	b.ReportMetric(tp99-pp99, "added-p99-ns")
}
