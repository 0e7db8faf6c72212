package geofilter

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/netip"
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

// BenchmarkServeHTTPAllowed measures the full handler path for an allowed
// request, with a real-size database and 10,000 blocked networks.
func BenchmarkServeHTTPAllowed(b *testing.B) {
	db := sharedData(b, "ip-location-db", "geo-whois-asn-country.mmdb")
	cidrs := randomCIDRs(10000)
	// Hold the database across the sub-benchmarks, so it is loaded once.
	if _, key, err := acquireDatabase(db); err != nil {
		b.Fatal(err)
	} else {
		defer releaseDatabase(key)
	}
	for _, bc := range []struct {
		name, client string
		limit        *RateLimit
	}{
		{"ipv4", "8.8.8.8", nil},
		{"ipv6", "2001:4860:4860::8888", nil},
		{"ipv4+rate_limit", "8.8.8.8", &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "bench"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
			defer cancel()
			h := &Handler{Filter: Filter{
				DB:             []string{db},
				BlockCountries: []string{"CN", "RU", "KP", "IR"},
				BlockIPs:       []string{"203.0.113.7", "2001:db8::1"},
				BlockCIDRs:     cidrs,
				AllowCIDRs:     []string{"10.0.0.0/8"},
				RateLimit:      bc.limit,
			}}
			if err := h.Provision(ctx); err != nil {
				b.Fatal(err)
			}
			defer h.Cleanup()
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
		})
	}
}

// TestServeHTTPAllocs pins the allocation-free allowed path.
func TestServeHTTPAllocs(t *testing.T) {
	dbs := makeTestDBs(t)
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	defer cancel()
	h := &Handler{Filter: Filter{
		DB:             []string{dbs.country, dbs.asn},
		BlockCountries: []string{"CN"},
		BlockASN:       []uint32{64496},
		BlockCIDRs:     randomCIDRs(100),
		RateLimit:      &RateLimit{Requests: 1e9, Window: caddy.Duration(time.Hour), Zone: "allocs"},
	}}
	if err := h.Provision(ctx); err != nil {
		t.Fatal(err)
	}
	defer h.Cleanup()
	req := httptest.NewRequest("GET", "/", nil)
	req = req.WithContext(context.WithValue(req.Context(), caddyhttp.VarsCtxKey, map[string]any{caddyhttp.ClientIPVarKey: ipUS}))
	next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
	w := &nopWriter{h: http.Header{}}
	_ = h.ServeHTTP(w, req, next) // warm the caches and the limiter entry
	if n := testing.AllocsPerRun(1000, func() {
		if err := h.ServeHTTP(w, req, next); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("allowed request allocates %v times", n)
	}
}
