package geofilter

import (
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
)

type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

// randomCIDRs returns n networks in 100.64.0.0/10 and fc00::/7, which the
// benchmark client is not in.
func randomCIDRs(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([]string, 0, n)
	for i := range n {
		if i%2 == 0 {
			var a [4]byte
			binary.BigEndian.PutUint32(a[:], 0x64400000|r.Uint32()&0x003FFFFF)
			out = append(out, netip.PrefixFrom(netip.AddrFrom4(a), 16+r.IntN(17)).Masked().String())
		} else {
			var a [16]byte
			binary.BigEndian.PutUint64(a[:], 0xFC00000000000000|r.Uint64()&0x01FFFFFFFFFFFFFF)
			out = append(out, netip.PrefixFrom(netip.AddrFrom16(a), 32+r.IntN(33)).Masked().String())
		}
	}
	return out
}

// benchFilter is the benchmarks' handler configuration: a real-size
// database, countries, addresses and the given blocked networks.
func benchFilter(db string, cidrs []string, limit *RateLimit) Filter {
	return Filter{
		DB:             []string{db},
		BlockCountries: []string{"CN", "RU", "KP", "IR"},
		BlockIPs:       []string{"203.0.113.7", "2001:db8::1"},
		BlockCIDRs:     cidrs,
		AllowCIDRs:     []string{"10.0.0.0/8"},
		RateLimit:      limit,
	}
}

// fillBlockList puts n runtime blocks and n bans (none of them covering
// the benchmark clients) on the process's block list, in memory only,
// until tb is done.
func fillBlockList(tb testing.TB, bl *blockList, n int) {
	until := wallNow() + int64(time.Hour)
	var added []netip.Prefix
	bl.mu.Lock()
	for i, s := range randomCIDRs(n) {
		p := netip.MustParsePrefix(s)
		bl.blocks[p] = runtimeBlock{reason: "bench", created: wallNow(), until: until + int64(i)}
		bl.publishLocked(p)
		added = append(added, p)
	}
	bl.mu.Unlock()
	for i := range n {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{100, 127, byte(i >> 8), byte(i)}), 32)
		bl.ban(p, until)
		added = append(added, p)
	}
	tb.Cleanup(func() {
		bl.mu.Lock()
		defer bl.mu.Unlock()
		for _, p := range added {
			delete(bl.blocks, p)
			delete(bl.bans, p)
			bl.publishLocked(p)
		}
	})
}

// BenchmarkServeHTTPAllowed measures the full handler path for an allowed
// request, with a real-size database and 10,000 blocked networks. The
// "+active" variants add what the handler does on top of its checks: the
// geo placeholders, a ban option and a shared block list holding 1,000
// runtime blocks and 1,000 bans. The others leave the placeholders unset
// and the block list empty, as the handler was without them.
func BenchmarkServeHTTPAllowed(b *testing.B) {
	db := sharedData(b, "ip-location-db", "geo-whois-asn-country.mmdb")
	cidrs := randomCIDRs(10000)
	// Hold the database across the sub-benchmarks, so it is loaded once.
	if _, key, err := acquireDatabase(db); err != nil {
		b.Fatal(err)
	} else {
		defer releaseDatabase(key)
	}
	limit := &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "bench"}
	for _, bc := range []struct {
		name, client string
		limit        *RateLimit
		active       bool
	}{
		{"ipv4", "8.8.8.8", nil, false},
		{"ipv4+active", "8.8.8.8", nil, true},
		{"ipv6", "2001:4860:4860::8888", nil, false},
		{"ipv6+active", "2001:4860:4860::8888", nil, true},
		{"ipv4+rate_limit", "8.8.8.8", limit, false},
		{"ipv4+rate_limit+active", "8.8.8.8", limit, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			h := &Handler{Filter: benchFilter(db, cidrs, bc.limit), noVars: !bc.active}
			if bc.active && bc.limit != nil {
				h.Ban = &Ban{Strikes: 3, Duration: caddy.Duration(time.Hour)}
			}
			if err := h.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			defer h.Cleanup()
			if bc.active {
				fillBlockList(b, h.policy.blocks, 1000)
			}
			if h.policy.cidrs == nil || len(h.policy.countryDBs) != 1 {
				b.Fatal("policy not built")
			}
			req := httptest.NewRequest("GET", "/", nil)
			vars := map[string]any{caddyhttp.ClientIPVarKey: bc.client}
			req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
			w := &nopWriter{h: http.Header{}}
			served := 0
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error {
				served++
				return nil
			})
			b.ReportAllocs()
			for b.Loop() {
				if err := h.ServeHTTP(w, req, next); err != nil {
					b.Fatal(err)
				}
			}
			if served == 0 {
				b.Fatal("request not passed on")
			}
			if bc.active && vars[varCountry] != "US" {
				b.Fatalf("geo.country = %v", vars[varCountry])
			}
		})
	}
}

// TestServeHTTPAllocs pins the allocation-free allowed path, also with
// placeholders, bans, a filled block list and response-aware counting.
func TestServeHTTPAllocs(t *testing.T) {
	dbs := makeTestDBs(t)
	for _, active := range []bool{false, true} {
		ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
		defer cancel()
		h := &Handler{Filter: Filter{
			DB:             []string{dbs.country, dbs.asn},
			BlockCountries: []string{"CN"},
			BlockASN:       []uint32{64496},
			BlockCIDRs:     randomCIDRs(100),
			RateLimit:      &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "allocs"},
		}, noVars: !active}
		if active {
			h.Ban = &Ban{Strikes: 2, Duration: caddy.Duration(time.Hour)}
			h.RateLimitStatus = []int{401}
		}
		if err := h.Provision(ctx); err != nil {
			t.Fatal(err)
		}
		defer h.Cleanup()
		if active {
			fillBlockList(t, h.policy.blocks, 100)
		}
		vars := map[string]any{caddyhttp.ClientIPVarKey: ipUS}
		req := httptest.NewRequest("GET", "/", nil)
		req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
		next := caddyhttp.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) error {
			w.WriteHeader(http.StatusOK)
			return nil
		})
		w := &nopWriter{h: http.Header{}}
		_ = h.ServeHTTP(w, req, next) // warm the caches and the limiter entry
		if n := testing.AllocsPerRun(1000, func() {
			if err := h.ServeHTTP(w, req, next); err != nil {
				t.Fatal(err)
			}
		}); n != 0 {
			t.Fatalf("allowed request (active %v) allocates %v times", active, n)
		}
		if active && (vars[varCountry] != "US" || vars[varASN] != "64497" || vars[varASNOrg] != "Example AS") {
			t.Errorf("placeholders: %v", vars)
		}
	}
}

// BenchmarkActiveOverhead compares, in one run, an allowed request through
// the handler as it was before the geo placeholders, bans and runtime block
// list (baseline: placeholders off, no block list lookup) with the same
// request with all of them on (1,000 runtime blocks and 1,000 bans listed).
// The two alternate in batches and the fastest batch of each is kept, which
// holds up on a busy machine; "ratio" is active/baseline.
func BenchmarkActiveOverhead(b *testing.B) {
	db := sharedData(b, "ip-location-db", "geo-whois-asn-country.mmdb")
	cidrs := randomCIDRs(10000)
	for _, bc := range []struct {
		name, client string
		limit        bool
	}{
		{"ipv4", "8.8.8.8", false},
		{"ipv6", "2001:4860:4860::8888", false},
		{"ipv4+rate_limit", "8.8.8.8", true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			newHandler := func(active bool) (*Handler, *http.Request) {
				h := &Handler{Filter: benchFilter(db, cidrs, nil), noVars: !active}
				if bc.limit {
					h.RateLimit = &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "overhead"}
					if active {
						h.Ban = &Ban{Strikes: 3, Duration: caddy.Duration(time.Hour)}
					}
				}
				if err := h.Provision(ctx); err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { _ = h.Cleanup() })
				req := httptest.NewRequest("GET", "/", nil)
				vars := map[string]any{caddyhttp.ClientIPVarKey: bc.client}
				return h, req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, vars))
			}
			base, baseReq := newHandler(false)
			active, activeReq := newHandler(true)
			base.policy.blocks = nil // no block list lookup, as before it existed
			fillBlockList(b, active.policy.blocks, 1000)
			w := &nopWriter{h: http.Header{}}
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			const batch = 1000
			run := func(h *Handler, r *http.Request) time.Duration {
				start := time.Now()
				for range batch {
					if err := h.ServeHTTP(w, r, next); err != nil {
						b.Fatal(err)
					}
				}
				return time.Since(start)
			}
			bestBase, bestActive := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
			b.ReportAllocs()
			for b.Loop() {
				bestBase = min(bestBase, run(base, baseReq))
				bestActive = min(bestActive, run(active, activeReq))
			}
			b.ReportMetric(float64(bestBase)/batch, "base-ns/req")
			b.ReportMetric(float64(bestActive)/batch, "active-ns/req")
			b.ReportMetric(float64(bestActive)/float64(bestBase), "ratio")
		})
	}
}

// BenchmarkStoreLatency compares the handler with its rate limit (and a
// ban) kept in a redis-server on loopback with the same handler counting
// in process: per-request latency percentiles of each, and what the store
// adds at the median and the 99th percentile. Skipped without
// redis-server.
func BenchmarkStoreLatency(b *testing.B) {
	r := startRedis(b)
	limit := &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "store-bench"}
	ban := &Ban{Strikes: 3, Duration: caddy.Duration(time.Hour)}
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	local := &Handler{Filter: Filter{RateLimit: limit, Ban: ban}, noVars: true}
	if err := local.Provision(ctx); err != nil {
		b.Fatal(err)
	}
	defer local.Cleanup()
	shared := storeHandler(b, r.url(), 50*time.Millisecond, "", limit, ban)
	compareLatency(b, latencySide{"local", local}, latencySide{"store", shared}, false)
}

// A latencySide is one handler of compareLatency, named for its metrics.
type latencySide struct {
	name string
	h    *Handler
}

// compareLatency serves one request from 192.0.2.1 by each handler in turn
// per iteration and reports both sides' p50 and p99 and what the second
// adds to the first. warm serves one uncounted request each first (a
// store's first request dials and, over TLS, handshakes).
func compareLatency(b *testing.B, base, other latencySide, warm bool) {
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
	if warm {
		serve(base.h)
		serve(other.h)
	}
	var baseNS, otherNS []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		baseNS = append(baseNS, serve(base.h))
		otherNS = append(otherNS, serve(other.h))
	}
	pct := func(d []time.Duration, q float64) float64 {
		slices.Sort(d)
		return float64(d[min(len(d)-1, int(q*float64(len(d))))])
	}
	bp50, bp99 := pct(baseNS, 0.50), pct(baseNS, 0.99)
	op50, op99 := pct(otherNS, 0.50), pct(otherNS, 0.99)
	b.ReportMetric(bp50, base.name+"-p50-ns")
	b.ReportMetric(bp99, base.name+"-p99-ns")
	b.ReportMetric(op50, other.name+"-p50-ns")
	b.ReportMetric(op99, other.name+"-p99-ns")
	b.ReportMetric(op50-bp50, "added-p50-ns")
	b.ReportMetric(op99-bp99, "added-p99-ns")
}
