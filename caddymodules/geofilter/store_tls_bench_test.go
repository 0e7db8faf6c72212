package geofilter

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
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

	compareLatency(b, latencySide{"plain", plain}, latencySide{"tls", overTLS}, true)
}
