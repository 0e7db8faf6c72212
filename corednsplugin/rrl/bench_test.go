package rrl

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coredns/coredns/plugin"
	"github.com/coredns/coredns/plugin/test"
	"github.com/miekg/dns"
)

// benchClients is the number of client networks (distinct /24s) the
// benchmarks keep in the table.
const benchClients = 100000

// benchSetup returns a plugin whose table already tracks benchClients
// networks for www.example.org A, a writer per network and the query.
// rate is the responses-per-second: high to measure allowed answers, 1
// to measure drops.
func benchSetup(b *testing.B, rate int) (*RRL, []*udpWriter, *dns.Msg) {
	cfg := testConfig()
	cfg.rates[catResponse] = rate
	cfg.slip = 0
	cfg.maxTableSize = 2 * benchClients // room for every network: the hot path finds its account
	r := New(cfg, []string{"."})
	reply := new(dns.Msg)
	reply.Answer = []dns.RR{test.A("www.example.org. 300 IN A 192.0.2.1")}
	r.Next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
		return dns.RcodeSuccess, w.WriteMsg(reply)
	})
	ws := make([]*udpWriter, benchClients)
	for i := range ws {
		ws[i] = &udpWriter{addr: &net.UDPAddr{IP: net.IPv4(byte(11+i>>16), byte(i>>8), byte(i), 1), Port: 5353}}
	}
	req := new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
	for _, w := range ws {
		r.ServeDNS(serverCtx, w, req)
	}
	if n := r.table.len(); n != benchClients {
		b.Fatalf("table holds %d accounts, want %d", n, benchClients)
	}
	return r, ws, req
}

// BenchmarkRRLServeDNS is the per-query cost of the plugin with 100,000
// client networks tracked, against a plugin that only passes the query on.
// The queries come from 1,000 of the networks (hot: their accounts stay in
// the CPU caches, as a busy server's active clients do) or from all of them
// in turn (spread: every query misses the caches).
func BenchmarkRRLServeDNS(b *testing.B) {
	for _, bc := range []struct {
		name    string
		rate    int
		clients int
	}{
		{"passthrough/hot", 0, 1000}, {"allowed/hot", maxRate, 1000}, {"dropped/hot", 1, 1000},
		{"passthrough/spread", 0, benchClients}, {"allowed/spread", maxRate, benchClients}, {"dropped/spread", 1, benchClients},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r, ws, req := benchSetup(b, max(bc.rate, 1))
			ws = ws[:bc.clients]
			var h plugin.Handler = r
			if bc.rate == 0 {
				h = plugin.HandlerFunc(func(ctx context.Context, w dns.ResponseWriter, req *dns.Msg) (int, error) {
					return plugin.NextOrFailure("pass", r.Next, ctx, w, req)
				})
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				h.ServeDNS(serverCtx, ws[i], req)
				if i++; i == len(ws) {
					i = 0
				}
			}
		})
	}
}

// BenchmarkRRLServeDNSParallel is BenchmarkRRLServeDNS's allowed case
// from every core at once.
func BenchmarkRRLServeDNSParallel(b *testing.B) {
	r, ws, req := benchSetup(b, maxRate)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := int(next.Add(7919)) % len(ws)
		for pb.Next() {
			r.ServeDNS(serverCtx, ws[i], req)
			if i++; i == len(ws) {
				i = 0
			}
		}
	})
}

// BenchmarkRRLTable is the table lookup and debit alone, with 100,000
// accounts.
func BenchmarkRRLTable(b *testing.B) {
	tb := newTable(2 * benchClients)
	lim := newLimits(maxRate, 15*time.Second)
	keys := make([]uint64, benchClients)
	for i := range keys {
		keys[i] = uint64(i+1) * 0x9e3779b97f4a7c15
		tb.check(keys[i], lim, 2, 0)
	}
	b.ReportAllocs()
	i, now := 0, int64(0)
	for b.Loop() {
		tb.check(keys[i], lim, 2, now)
		now += 100
		if i++; i == len(keys) {
			i = 0
		}
	}
}
