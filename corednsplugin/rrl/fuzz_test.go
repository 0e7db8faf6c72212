package rrl

import (
	"context"
	"testing"

	"github.com/coredns/coredns/plugin"
	"github.com/miekg/dns"
)

// FuzzServeDNS runs arbitrary packets through the plugin, both as the
// query and as the reply the next plugin writes (packed, through Write,
// and unpacked, through WriteMsg), at a rate of 1 so that the limiting
// paths (drop, slip) are taken too. Nothing may panic, and every reply
// the plugin builds itself must be a bare truncated one that packs.
func FuzzServeDNS(f *testing.F) {
	seed := func(m *dns.Msg) {
		b, err := m.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	q := new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
	seed(q)
	q.SetEdns0(1232, true)
	seed(q)
	nx := new(dns.Msg).SetQuestion("nx.a.example.org.", dns.TypeA)
	nx.Rcode, nx.Ns = dns.RcodeNameError, []dns.RR{testSOA}
	seed(nx)
	seed(new(dns.Msg).SetRcode(q, dns.RcodeRefused))
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c})

	cfg := testConfig()
	for c := range numCategories {
		cfg.rates[c] = 1
	}
	cfg.slip = 2
	f.Fuzz(func(t *testing.T, data []byte) {
		req := new(dns.Msg)
		if req.Unpack(data) != nil || len(req.Question) == 0 {
			req = new(dns.Msg).SetQuestion("www.example.org.", dns.TypeA)
		}
		parsed := new(dns.Msg)
		parsedOK := parsed.Unpack(data) == nil
		for _, packed := range []bool{true, false} {
			if !packed && !parsedOK {
				continue
			}
			r, _ := newTestRRL(cfg)
			r.Next = plugin.HandlerFunc(func(_ context.Context, w dns.ResponseWriter, _ *dns.Msg) (int, error) {
				if packed {
					_, err := w.Write(data)
					return dns.RcodeSuccess, err
				}
				return dns.RcodeSuccess, w.WriteMsg(parsed)
			})
			w := newWriter("192.0.2.1", false)
			for range 4 {
				r.ServeDNS(serverCtx, w, req)
			}
			for _, m := range w.msgs {
				if m == parsed || w.raw[m] {
					continue // the reply itself, passed on
				}
				if !m.Truncated || len(m.Answer)+len(m.Ns) > 0 || len(m.Extra) > 1 {
					t.Fatalf("slipped reply is not a bare truncated one:\n%v", m)
				}
				if _, err := m.Pack(); err != nil {
					t.Fatalf("slipped reply does not pack: %v\n%v", err, m)
				}
			}
		}
	})
}
