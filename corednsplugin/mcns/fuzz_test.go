package mcns

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzServeDNS feeds arbitrary packets through ServeDNS: whatever unpacks
// must be answered (or passed on) without a panic, and every reply must
// pack.
func FuzzServeDNS(f *testing.F) {
	m := startMCNS(f, []string{"."}, writeZones(f, exampleOrg, reverseZone)...)
	seed := func(name string, qt uint16, edns bool) {
		q := new(dns.Msg).SetQuestion(name, qt)
		if edns {
			q.SetEdns0(4096, true)
		}
		b, err := q.Pack()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, c := range serveCases {
		seed(c.Qname, c.Qtype, false)
		seed(c.Qname, c.Qtype, true)
	}
	seed("example.com.", dns.TypeA, false)
	seed("example.org.", dns.TypeANY, true)
	seed("example.org.", dns.TypeAXFR, false)
	f.Add([]byte{})
	f.Add([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(data); err != nil {
			return
		}
		resp := ask(t, m, r)
		if _, err := resp.Pack(); err != nil {
			// Packing can fail only for input we echoed back (the
			// question); the server then answers SERVFAIL. Anything
			// else would be a bug in the reply we built.
			if len(resp.Answer)+len(resp.Ns)+len(resp.Extra) > 0 {
				t.Fatalf("reply does not pack: %v\n%v", err, resp)
			}
		}
	})
}
